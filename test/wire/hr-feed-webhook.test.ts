import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HR_COLUMNS } from '../../dialogs/hr-feed/records';
import { signHrPayload } from '../../dialogs/hr-feed/signature';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { groupsOf, person, sarah, say } from '../technician/support';

/**
 * The HR feed's webhook over real HTTP: a call without valid authentication is refused with
 * 401, audited, and changes nothing; a signed call is processed like a file.
 */

const SECRET = 'hr-webhook-test-secret-0123456789abcdef';
const HEADER = HR_COLUMNS.join(',');
let h: Harness;
let clock: TestClock;

const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);

async function post(body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(`${h.bot.url}/api/hr-feed`, { method: 'POST', headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, headers: res.headers };
}

function batches(): number {
  return (h.bot.store.db.prepare('SELECT count(*) AS n FROM hr_batches').get() as { n: number }).n;
}

beforeAll(async () => {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({ HR_WEBHOOK_SECRET: SECRET, HR_FEED_MAX_BYTES: '4096', HR_WEBHOOK_TOLERANCE_SECONDS: '300' }, { clock: clock.now });
  await say(h, sarah(h), 'pending');
});

afterAll(async () => {
  await h?.stop();
});

describe('HR feed: webhook', () => {
  const diegoLine = 'E-1031,diego.torres@northwind.example,Sales,Account Executive,jessica.ramirez@northwind.example,2021-01-11,,terminated';
  const body = `${HEADER}\n${diegoLine}\n`;

  it('refuses a call without a valid signature with 401, audits it, and changes nothing', async () => {
    const diego = person(h, 'Diego Torres');
    const cases: Array<[string, Record<string, string>, string]> = [
      ['no signature', {}, 'missing'],
      ['a bearer token instead', { authorization: `Bearer ${SECRET}` }, 'missing'],
      ['a malformed header', { 'x-hr-signature': `sha256=${'0'.repeat(64)}` }, 'malformed'],
      ['a wrong signature', { 'x-hr-signature': signHrPayload('another-secret-0123456789abcdefghijk', body, nowSeconds()) }, 'mismatch'],
      ['the signature of another body', { 'x-hr-signature': signHrPayload(SECRET, `${HEADER}\n`, nowSeconds()) }, 'mismatch'],
      ['a signature from before the replay window', { 'x-hr-signature': signHrPayload(SECRET, body, nowSeconds() - 301) }, 'outside-window'],
      ['a signature from the future', { 'x-hr-signature': signHrPayload(SECRET, body, nowSeconds() + 301) }, 'outside-window'],
    ];
    for (const [what, headers, reason] of cases) {
      const res = await post(body, { 'content-type': 'text/csv', ...headers });
      expect(res.status, what).toBe(401);
      expect(res.json.error, what).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('HMAC-SHA256 header="X-HR-Signature"');
      const last = h.bot.store.audit.query({ action: 'hr.webhook-refused' }).pop()!;
      expect([last.outcome, JSON.parse(last.details).reason], what).toEqual(['refused', reason]);
    }
    // One event per reason and caller's address in a minute; the repeats are counted in a summary.
    expect(h.bot.store.audit.query({ action: 'hr.webhook-refused' })).toHaveLength(new Set(cases.map(([, , reason]) => reason)).size);
    await h.bot.scheduler.runDue();
    expect(batches()).toBe(0);
    expect((await h.bot.directory.getUser(diego.id))!.accountEnabled).toBe(true);
    expect(await groupsOf(h, diego.id)).toHaveLength(4);
  });

  it('processes a signed CSV: the report comes back and the leaver is offboarded', async () => {
    const diego = person(h, 'Diego Torres');
    const res = await post(body, { 'content-type': 'text/csv; charset=utf-8', 'x-hr-signature': signHrPayload(SECRET, body, nowSeconds() - 200) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ batch: expect.stringMatching(/^HRB-\d+$/), state: 'processed', records: 1, changed: 1, rejected: 0 });
    expect(res.json.lines).toEqual([
      { line: 2, employeeId: 'E-1031', upn: 'diego.torres@northwind.example', outcome: 'changed', reason: expect.stringMatching(/^leaver now \(HRA-\d+\)$/), actions: [{ id: expect.any(String), kind: 'leaver', dueAt: clock.now().toISOString() }] },
    ]);
    await h.bot.scheduler.runDue();
    expect((await h.bot.directory.getUser(diego.id))!.accountEnabled).toBe(false);
    expect(await groupsOf(h, diego.id)).toEqual([]);
    const batch = h.bot.store.audit.query({ correlationId: res.json.batch });
    expect(batch[0]).toMatchObject({ action: 'hr.record-accepted', actorName: 'HR feed' });
    expect(JSON.parse(batch.find((e) => e.action === 'hr.batch-processed')!.details)).toMatchObject({ source: 'webhook', records: 1 });

    // The same signed call again (inside the window): the same records change nothing.
    const again = await post(body, { 'content-type': 'text/csv', 'x-hr-signature': signHrPayload(SECRET, body, nowSeconds()) });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ changed: 0, unchanged: 1, sameContentAs: res.json.batch });
  });

  it('takes a signed JSON array of the same records', async () => {
    const laura = person(h, 'Laura Fischer');
    expect(await groupsOf(h, laura.id)).not.toContain('App - Expense Reporting');
    const json = JSON.stringify([
      { employee_id: 'E-1004', upn: 'laura.fischer@northwind.example', department: 'Executive', title: 'Executive Assistant', manager_upn: 'helena.brandt@northwind.example', start_date: '2026-03-02', end_date: null, status: 'active' },
      { employee_id: 'E-1005', upn: 'laura.fischer@northwind.example', department: 'Executive', title: 'Executive Assistant', manager_upn: null, start_date: '2026-03-02', end_date: null, status: 'active' },
      { employee_id: 'E-1006', upn: 'ravi.shah@northwind.example', department: 'Engineering', title: 'Software Engineer', manager_upn: 'ethan.park@northwind.example', start_date: 'yesterday', end_date: null, status: 'active' },
    ]);
    const res = await post(json, { 'content-type': 'application/json', 'x-hr-signature': signHrPayload(SECRET, json, nowSeconds()) });
    expect(res.status).toBe(200);
    expect(res.json.lines.map((l: any) => [l.line, l.outcome, l.reason])).toEqual([
      [1, 'rejected', 'upn laura.fischer@northwind.example is on lines 1, 2 under different employee ids'],
      [2, 'rejected', 'upn laura.fischer@northwind.example is on lines 1, 2 under different employee ids'],
      [3, 'rejected', 'start_date "yesterday" is not a date in the form YYYY-MM-DD'],
    ]);
    const fixed = JSON.stringify([JSON.parse(json)[0]]);
    const ok = await post(fixed, { 'content-type': 'application/json', 'x-hr-signature': signHrPayload(SECRET, fixed, nowSeconds()) });
    expect(ok.status).toBe(200);
    expect(ok.json.lines[0]).toMatchObject({ outcome: 'changed', actions: [{ kind: 'joiner', dueAt: clock.now().toISOString() }] });
    await h.bot.scheduler.runDue();
    expect(await groupsOf(h, laura.id)).toContain('App - Expense Reporting');
  });

  it('answers a signed call it cannot take with what is wrong, and applies nothing', async () => {
    const before = batches();
    const xml = '<employees/>';
    const wrongType = await post(xml, { 'content-type': 'application/xml', 'x-hr-signature': signHrPayload(SECRET, xml, nowSeconds()) });
    expect(wrongType.status).toBe(415);
    const notArray = '{"employee_id":"E-1"}';
    const rejected = await post(notArray, { 'content-type': 'application/json', 'x-hr-signature': signHrPayload(SECRET, notArray, nowSeconds()) });
    expect(rejected.status).toBe(422);
    expect(rejected.json).toMatchObject({ state: 'rejected', error: 'The JSON must be an array of records. Nothing was applied.' });
    expect(batches()).toBe(before + 1);
    const big = `${HEADER}\n${'E-1,a@b.example,Sales,,,2020-01-01,,active\n'.repeat(200)}`;
    const tooLarge = await post(big, { 'content-type': 'text/csv', 'x-hr-signature': signHrPayload(SECRET, big, nowSeconds()) });
    expect(tooLarge.status).toBe(413);
    expect(batches()).toBe(before + 1);
  });
});
