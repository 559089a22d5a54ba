import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HR_COLUMNS } from '../../dialogs/hr-feed/records';
import { signHrPayload } from '../../dialogs/hr-feed/signature';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { sarah, say } from '../technician/support';

/**
 * The HR webhook and the HTTP server, hardened over real HTTP: the replay memory survives a
 * restart, refused calls cannot grow the audit trail without bound, a body that is not an
 * activity is a 400 on `/api/messages`, and employee ids are the same whatever their case.
 */

const SECRET = 'hr-webhook-test-secret-0123456789abcdef';
const HEADER = HR_COLUMNS.join(',');
const TOLERANCE = 300;
let h: Harness;
let clock: TestClock;

const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);
const csv = (...lines: string[]) => `${[HEADER, ...lines].join('\n')}\n`;
const signed = (body: string, t = nowSeconds()) => ({ 'content-type': 'text/csv', 'x-hr-signature': signHrPayload(SECRET, body, t) });

async function post(path: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${h.bot.url}${path}`, { method: 'POST', headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

function batches(): number {
  return (h.bot.store.db.prepare('SELECT count(*) AS n FROM hr_batches').get() as { n: number }).n;
}

function refusals(...reasons: string[]): Array<Record<string, any>> {
  return h.bot.store.audit
    .query({ action: 'hr.webhook-refused' })
    .map((e) => JSON.parse(e.details))
    .filter((d) => reasons.length === 0 || reasons.includes(d.reason));
}

beforeAll(async () => {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({ HR_WEBHOOK_SECRET: SECRET, HR_FEED_MAX_BYTES: '4096', HR_WEBHOOK_TOLERANCE_SECONDS: String(TOLERANCE) }, { clock: clock.now });
  await say(h, sarah(h), 'pending');
});

afterAll(async () => {
  await h?.stop();
});

describe('HR webhook: the replay memory is kept in the database', () => {
  const body = csv('E-2101,hannah.kowalski@northwind.example,Finance,Financial Analyst,olivia.hart@northwind.example,2020-01-01,,active');

  it('refuses a captured request again after a restart inside the window', async () => {
    const captured = signed(body, nowSeconds() - 10);
    const first = await post('/api/hr-feed', body, captured);
    expect(first.status).toBe(200);
    const before = batches();

    await h.restart();
    const replay = await post('/api/hr-feed', body, captured);
    expect(replay.status).toBe(409);
    expect(replay.json).toMatchObject({ batch: first.json.batch, error: expect.stringContaining('already received') });
    expect(batches()).toBe(before);
    expect(refusals().pop()).toMatchObject({ reason: 'replayed', batch: first.json.batch });
  });

  it('drops the entry when the batch could not be processed, so the sender can send the same request again', async () => {
    clock.advance(1000);
    const request = signed(body);
    const directory = h.bot.directory as unknown as { findUserByUpn: (upn: string) => Promise<unknown> };
    const original = directory.findUserByUpn;
    directory.findUserByUpn = async () => {
      throw new Error('the directory did not answer');
    };
    try {
      expect((await post('/api/hr-feed', body, request)).status).toBe(503);
    } finally {
      directory.findUserByUpn = original;
    }
    const again = await post('/api/hr-feed', body, request);
    expect(again.status).toBe(200);
    expect((await post('/api/hr-feed', body, request)).status).toBe(409);
    // A second replay in the same minute from the same address is answered alike, and only counted.
    expect(refusals('replayed')).toHaveLength(1);
  });

  it('forgets the signatures whose time has left the window', async () => {
    const stored = () => (h.bot.store.db.prepare('SELECT count(*) AS n FROM hr_webhook_signatures').get() as { n: number }).n;
    expect(stored()).toBeGreaterThan(0);
    clock.advance((TOLERANCE + 60) * 1000);
    expect((await post('/api/hr-feed', body, signed(body))).status).toBe(200);
    expect(stored()).toBe(1);
  });
});

describe('HR webhook: refused calls are audited without unbounded growth', () => {
  it('writes the first refusal per reason and address each minute, and a summary of the rest', async () => {
    clock.set('2026-03-02T11:00:05.000Z');
    const start = refusals('missing', 'mismatch').length;
    const body = csv();
    const unsigned = () => post('/api/hr-feed', body, { 'content-type': 'text/csv' });
    const forged = () => post('/api/hr-feed', body, { 'content-type': 'text/csv', 'x-hr-signature': signHrPayload('another-secret-0123456789abcdefghijk', body, nowSeconds()) });

    // The answers themselves do not change.
    for (let i = 0; i < 5; i++) {
      const res = await unsigned();
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error: 'unauthorized', reason: expect.stringContaining('no x-hr-signature header') });
    }
    for (let i = 0; i < 3; i++) expect((await forged()).status).toBe(401);
    expect(refusals('missing', 'mismatch').slice(start).map((r) => [r.reason, r.suppressed])).toEqual([
      ['missing', undefined],
      ['mismatch', undefined],
    ]);

    // The next minute's first refusal writes the summaries of the one before, then itself.
    clock.advance(60_000);
    expect((await unsigned()).status).toBe(401);
    const after = refusals('missing', 'mismatch').slice(start + 2);
    expect(after.map((r) => [r.reason, r.suppressed])).toEqual([
      ['missing', 4],
      ['mismatch', 2],
      ['missing', undefined],
    ]);
    expect(after[0]).toMatchObject({ remoteAddress: expect.stringContaining('127.0.0.1'), from: '2026-03-02T11:00:00.000Z', until: '2026-03-02T11:01:00.000Z' });

    // What is still counted when the bot stops is written on the way out.
    for (let i = 0; i < 2; i++) expect((await unsigned()).status).toBe(401);
    await h.restart();
    expect(refusals('missing', 'mismatch').slice(start + 5).map((r) => [r.reason, r.suppressed])).toEqual([['missing', 2]]);
  });
});

describe('/api/messages: a body that is not an activity', () => {
  it('answers 400 with a short JSON error, logs it at warn, and does not reach the adapter', async () => {
    const logged = h.logs.length;
    for (const body of ['{}', '[]', '[{"type":"message"}]', '"hello"', '42', 'null', '{"type":5}', '{"type":""}', '{"text":"hi"}']) {
      const res = await post('/api/messages', body, { 'content-type': 'application/json' });
      expect(res.status, body).toBe(400);
      expect(res.json, body).toMatchObject({ error: expect.stringMatching(/activity/) });
    }
    const logs = h.logs.slice(logged);
    expect(logs.filter((l) => l.level === 40 && l.msg === 'request on /api/messages is not an activity')).toHaveLength(9);
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
    // An activity still works.
    expect((await h.client.message(h.user('employee'), 'help', { where: 'personal' })).status).toBe(200);
  });
});

describe('HR feed: employee ids are the same whatever their case', () => {
  const yuki = (id: string, rest = 'Engineering,QA Engineer,ethan.park@northwind.example,2020-01-06') => `${id},yuki.sato@northwind.example,${rest}`;

  it('matches a stored employee id in another case, for the account, the replacement of actions and the store', async () => {
    clock.advance(1000);
    const first = csv(yuki('NW-7001', undefined) + ',2026-12-31,active');
    const a = await post('/api/hr-feed', first, signed(first));
    expect(a.status).toBe(200);
    expect(a.json.lines[0]).toMatchObject({ outcome: 'changed', actions: expect.arrayContaining([expect.objectContaining({ kind: 'leaver' })]) });

    // The same record with the id in lower case is the same employee: unchanged, not "already employee NW-7001".
    const same = csv(yuki('nw-7001') + ',2026-12-31,active');
    const b = await post('/api/hr-feed', same, signed(same));
    expect(b.json.lines[0]).toMatchObject({ employeeId: 'nw-7001', outcome: 'unchanged' });

    // Another account under the id in another case is refused.
    const other = csv('nw-7001,ravi.shah@northwind.example,Engineering,Software Engineer,ethan.park@northwind.example,2020-01-06,,active');
    const c = await post('/api/hr-feed', other, signed(other));
    expect(c.json.lines[0]).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining('employee_id nw-7001 belongs to yuki.sato@northwind.example') });

    // A change under another spelling replaces the actions still waiting, and is one employee.
    const stays = csv(yuki('Nw-7001') + ',,active');
    const d = await post('/api/hr-feed', stays, signed(stays));
    expect(d.json.lines[0]).toMatchObject({ outcome: 'changed' });
    expect(h.bot.hrFeed.store.openActionsOf('NW-7001').filter((x) => x.kind === 'leaver')).toEqual([]);
    expect(h.bot.hrFeed.store.employee('NW-7001')).toMatchObject({ employeeId: 'Nw-7001', batchId: d.json.batch });
    expect(h.bot.hrFeed.store.employee('nw-7001')?.batchId).toBe(d.json.batch);
    expect((h.bot.store.db.prepare(`SELECT count(*) AS n FROM hr_employees WHERE lower(employee_id) = 'nw-7001'`).get() as { n: number }).n).toBe(1);
  });
});
