import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HR_COLUMNS } from '../../dialogs/hr-feed/records';
import { signHrPayload } from '../../dialogs/hr-feed/signature';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { person, sarah, say } from '../technician/support';

/**
 * The bot's HTTP surface under hostile input, over real HTTP: `/api/messages` (compressed,
 * malformed and oversized bodies), the HR webhook (a replayed signed request, identical
 * deliveries at once, bodies it must not read before the signature, slow and abandoned
 * bodies, other spellings of its path) and `/healthz`.
 */

const SECRET = 'hr-webhook-test-secret-0123456789abcdef';
const HEADER = HR_COLUMNS.join(',');
const MAX_BYTES = 4096;
let h: Harness;
let clock: TestClock;

const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);

async function post(path: string, body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(`${h.bot.url}${path}`, { method: 'POST', headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text, headers: res.headers };
}

const signed = (body: string | Buffer, t = nowSeconds()) => ({ 'content-type': 'text/csv', 'x-hr-signature': signHrPayload(SECRET, body, t) });

function batches(): number {
  return (h.bot.store.db.prepare('SELECT count(*) AS n FROM hr_batches').get() as { n: number }).n;
}

function refusals(): Array<{ reason: string; bytes: number | null; batch?: string }> {
  return h.bot.store.audit.query({ action: 'hr.webhook-refused' }).map((e) => JSON.parse(e.details));
}

/** A raw HTTP request whose body is sent by the test, piece by piece; the answer when it comes. */
function rawRequest(path: string, headers: Record<string, string | number>) {
  const url = new URL(h.bot.url);
  let answer: Promise<{ status: number; body: string }>;
  const req = http.request({ host: url.hostname, port: url.port, path, method: 'POST', headers });
  answer = new Promise((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined);
  return { req, answer: () => answer };
}

beforeAll(async () => {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({ HR_WEBHOOK_SECRET: SECRET, HR_FEED_MAX_BYTES: String(MAX_BYTES), HR_WEBHOOK_TOLERANCE_SECONDS: '300' }, { clock: clock.now });
  await say(h, sarah(h), 'pending');
});

afterAll(async () => {
  await h?.stop();
});

describe('/api/messages under hostile input', () => {
  it('refuses a compressed body before inflating it (a small gzip request must not become a large one in memory)', async () => {
    const inflated = Buffer.from(`{"type":"message","text":"${' '.repeat(8 * 1024 * 1024)}"}`);
    const bomb = zlib.gzipSync(inflated);
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await post('/api/messages', bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(415);
    expect(res.json.error).toMatch(/uncompressed/);
    for (const encoding of ['deflate', 'br', 'GZIP', 'gzip, identity']) {
      expect((await post('/api/messages', bomb, { 'content-type': 'application/json', 'content-encoding': encoding })).status, encoding).toBe(415);
    }
    // Uncompressed (or explicitly identity) activities still work.
    const emily = h.user('employee');
    const ok = await h.client.message(emily, 'help', { where: 'personal' });
    expect(ok.status).toBe(200);
  });

  it('answers malformed, wrongly typed and oversized bodies with a 4xx and keeps serving', async () => {
    expect((await post('/api/messages', '{"type":', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await post('/api/messages', '[1,2]', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await post('/api/messages', 'hello', { 'content-type': 'text/plain' })).status).toBe(415);
    const huge = `{"type":"message","text":"${'x'.repeat(1024 * 1024 + 10)}"}`;
    expect((await post('/api/messages', huge, { 'content-type': 'application/json' })).status).toBe(413);
    const health = await fetch(`${h.bot.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', mode: 'local' });
  });

  it('takes application/json only: 415 before reading multipart, form, text or untyped bodies, and no file is left behind', async () => {
    const emily = h.user('employee');
    const activity = { ...h.client.base(emily), type: 'message', text: 'help' };
    // Uploads would be written where the process keeps temporary files: a folder of this test's own.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-tmpdir-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    h.connector.clear();
    try {
      expect(os.tmpdir()).toBe(tmp);
      const form = new FormData();
      form.append('activity', JSON.stringify(activity));
      form.append('upload', new Blob([Buffer.alloc(256 * 1024, 65)]), 'big.bin');
      const multipart = await fetch(`${h.bot.url}/api/messages`, { method: 'POST', body: form });
      expect(multipart.status).toBe(415);
      // What a web page can send the local bot without a CORS preflight: a form whose fields make an activity.
      const fields = new URLSearchParams({
        type: 'message',
        text: 'help',
        channelId: 'msteams',
        serviceUrl: h.connector.url,
        'from[id]': `29:${emily.id}`,
        'from[aadObjectId]': emily.id,
        'recipient[id]': '28:helpdesk-bot',
        'conversation[id]': `a:personal-${emily.id}`,
        'conversation[tenantId]': h.tenant.tenantId,
        'channelData[tenant][id]': h.tenant.tenantId,
      });
      expect((await post('/api/messages', fields.toString(), { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
      expect((await post('/api/messages', JSON.stringify(activity), { 'content-type': 'text/plain;charset=UTF-8' })).status).toBe(415);
      const untyped = await fetch(`${h.bot.url}/api/messages`, { method: 'POST', body: Buffer.from(JSON.stringify(activity)) });
      expect(untyped.status).toBe(415);
      for (const type of ['application/json-seq', 'application/activity+json', 'multipart/mixed; boundary=x']) {
        expect((await post('/api/messages', JSON.stringify(activity), { 'content-type': type })).status, type).toBe(415);
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(fs.readdirSync(tmp)).toEqual([]);
      expect(h.connector.calls).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    // JSON with parameters is Teams' own format.
    const ok = await post('/api/messages', JSON.stringify(activity), { 'content-type': 'application/json; charset=utf-8' });
    expect(ok.status).toBe(200);
  });

  it('caps the Authorization header (431) and the headers as a whole', async () => {
    const emily = h.user('employee');
    const body = JSON.stringify({ ...h.client.base(emily), type: 'message', text: 'help' });
    const huge = await post('/api/messages', body, { 'content-type': 'application/json', authorization: `Bearer ${'a'.repeat(9 * 1024)}` });
    expect(huge.status).toBe(431);
    const many = await post('/api/messages', body, { 'content-type': 'application/json', 'x-padding': 'p'.repeat(20 * 1024) });
    expect(many.status).toBe(431);
    expect((await fetch(`${h.bot.url}/healthz`)).status).toBe(200);
  });

  it('local mode answers requests for this machine only: a rebound host name or a web page elsewhere gets 403', async () => {
    const emily = h.user('employee');
    const body = JSON.stringify({ ...h.client.base(emily), type: 'message', text: 'help' });
    const url = new URL(h.bot.url);
    const send = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: url.hostname, port: url.port, path: '/api/messages', method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });
    h.connector.clear();
    expect(await send({ host: `attacker.example:${url.port}` })).toBe(403);
    expect(await send({ origin: 'http://attacker.example' })).toBe(403);
    expect(await send({ origin: 'null' })).toBe(403);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.connector.calls).toEqual([]);
    expect(await send({ host: `localhost:${url.port}`, origin: 'http://localhost:56150' })).toBe(200);
  });

  it('listens on the loopback address only in local mode', () => {
    expect(new URL(h.bot.url).hostname).toBe('127.0.0.1');
    expect(h.bot.config.host).toBe('127.0.0.1');
  });
});

describe('/api/messages is Microsoft Teams in the demo tenant only', () => {
  const refusals = () => h.bot.store.audit.query({ action: 'helpdesk.activity-refused' }).map((e) => JSON.parse(e.details));

  it('refuses another channel or tenant with 403 and no turn, audited once a minute per source, not per request', async () => {
    const emily = h.user('employee');
    h.connector.clear();
    const before = refusals().length;
    const refusedBefore = h.bot.store.audit.query({ action: 'helpdesk.access-refused' }).length;
    const other = '11111111-2222-4333-8444-555555555555';
    const cases: Array<[string, Record<string, unknown>]> = [
      ['not-teams', { channelId: 'webchat' }],
      ['not-teams', { channelId: 'directline' }],
      ['other-tenant', { channelData: { tenant: { id: other } } }],
      ['other-tenant', { conversation: { id: `a:personal-${emily.id}`, conversationType: 'personal', tenantId: other } }],
      ['no-tenant', { channelData: {}, conversation: { id: `a:personal-${emily.id}`, conversationType: 'personal' } }],
      // Local mode: replies go to this machine only, never to a serviceUrl of the sender's choosing.
      ['service-url-not-local', { serviceUrl: 'https://collector.example/_connector' }],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [reason, change] of cases) {
        const res = await h.client.post({ ...h.client.base(emily), type: 'message', text: 'help', ...change });
        expect(res.status, reason).toBe(403);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(h.connector.calls).toEqual([]);
    // No turn: the door's own refusal (a directory lookup) never ran.
    expect(h.bot.store.audit.query({ action: 'helpdesk.access-refused' }).length).toBe(refusedBefore);
    const added = refusals().slice(before);
    expect(added.map((r) => r.reason).sort()).toEqual(['no-tenant', 'not-teams', 'other-tenant', 'service-url-not-local']);
    expect(added[0]).toMatchObject({ remoteAddress: '127.0.0.1', serviceUrlHost: new URL(h.connector.url).host });
    // The demo tenant in its other spelling (upper case) is the same tenant.
    expect((await h.client.post({ ...h.client.base(emily), type: 'message', text: 'help', channelData: { tenant: { id: h.tenant.tenantId.toUpperCase() } } })).status).toBe(200);
  });
});

describe('HR webhook under hostile input', () => {
  it('refuses the same signed request a second time, so a captured call cannot undo a later correction', async () => {
    const chloe = person(h, 'Chloe Martin');
    // HR says Chloe leaves at the end of the year, then corrects it: she stays.
    const leaving = `${HEADER}\nE-1018,chloe.martin@northwind.example,Sales,Sales Development Representative,lukas.novak@northwind.example,2022-02-07,2026-12-31,active\n`;
    const staying = `${HEADER}\nE-1018,chloe.martin@northwind.example,Sales,Sales Development Representative,lukas.novak@northwind.example,2022-02-07,,active\n`;
    const captured = signed(leaving, nowSeconds() - 10);
    const first = await post('/api/hr-feed', leaving, captured);
    expect(first.status).toBe(200);
    expect(first.json.lines[0].actions.map((a: any) => a.kind)).toContain('leaver');
    const correction = await post('/api/hr-feed', staying, signed(staying));
    expect(correction.status).toBe(200);
    expect(correction.json.changed).toBe(1);
    await h.bot.scheduler.runDue();
    const open = () => h.bot.hrFeed.store.openActionsOf('E-1018').filter((a) => a.kind === 'leaver');
    expect(open()).toEqual([]);

    // The captured first call, sent again inside the window: refused, audited, nothing scheduled.
    const before = batches();
    const replay = await post('/api/hr-feed', leaving, captured);
    expect(replay.status).toBe(409);
    expect(replay.json).toMatchObject({ batch: first.json.batch, error: expect.stringContaining('already received') });
    expect(batches()).toBe(before);
    expect(open()).toEqual([]);
    expect(refusals().pop()).toMatchObject({ reason: 'replayed', batch: first.json.batch });
    // Spelling the same signature differently (upper-case hex, other order, spaces) is the same request.
    const [t, v1] = captured['x-hr-signature'].split(',');
    for (const variant of [`${t},${v1!.toUpperCase().replace('V1=', 'v1=')}`, `${v1},${t}`, `${t}, ${v1}`]) {
      expect((await post('/api/hr-feed', leaving, { 'content-type': 'text/csv', 'x-hr-signature': variant })).status, variant).toBe(409);
    }
    expect(batches()).toBe(before);
    expect((await h.bot.directory.getUser(chloe.id))!.accountEnabled).toBe(true);

    // Signed again by the sender (a new time), the same body is a new request: unchanged records.
    clock.advance(1000);
    const resent = await post('/api/hr-feed', staying, signed(staying));
    expect(resent.status).toBe(200);
    expect(resent.json).toMatchObject({ changed: 0, unchanged: 1 });
  });

  it('processes identical deliveries arriving together exactly once', async () => {
    const body = `${HEADER}\nE-1021,mei.tanaka@northwind.example,Finance,Financial Analyst,thomas.berg@northwind.example,2021-09-13,,active\n`;
    const headers = signed(body);
    const before = batches();
    const results = await Promise.all([1, 2, 3, 4].map(() => post('/api/hr-feed', body, headers)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
    expect(batches()).toBe(before + 1);
    const ok = results.find((r) => r.status === 200)!;
    expect(ok.json).toMatchObject({ changed: 1 });
    expect(h.bot.hrFeed.store.actionsOfBatch(ok.json.batch)).toHaveLength(1);
  });

  it('refuses an unsigned or stale call without reading its body, and closes the connection', async () => {
    const { req, answer } = rawRequest('/api/hr-feed', { 'content-type': 'text/csv', 'content-length': MAX_BYTES });
    // Only the headers and a few bytes: an unauthenticated caller cannot make the bot wait for (or hold) a body.
    req.write('employee_id');
    const res = await answer();
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthorized', reason: expect.stringContaining('no x-hr-signature header') });
    req.destroy();
    expect(refusals().pop()).toMatchObject({ reason: 'missing', bytes: null });

    const stale = rawRequest('/api/hr-feed', { ...signed('x', nowSeconds() - 301), 'content-length': MAX_BYTES });
    stale.req.write('x');
    expect((await stale.answer()).status).toBe(401);
    stale.req.destroy();
    expect(refusals().pop()).toMatchObject({ reason: 'outside-window' });
  });

  it('a body abandoned half way changes nothing and the bot keeps serving', async () => {
    const before = batches();
    const body = `${HEADER}\nE-1016,oliver.bennett@northwind.example,Sales,Account Executive,lukas.novak@northwind.example,2020-01-06,,terminated\n`;
    const { req, answer } = rawRequest('/api/hr-feed', { ...signed(body), 'content-length': Buffer.byteLength(body) });
    req.write(body.slice(0, 40));
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    await answer().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(batches()).toBe(before);
    // The complete request, signed at the same moment, is taken afterwards (the half one was not "received").
    const whole = await post('/api/hr-feed', body, signed(body));
    expect(whole.status).toBe(200);
    expect(batches()).toBe(before + 1);
  });

  it('reads the signed bytes under any spelling of its path that reaches the route, and nothing elsewhere', async () => {
    const body = `${HEADER}\n`;
    for (const path of ['/api/hr-feed?source=hr', '/api/hr%2Dfeed', '/api/hr%2dfeed?x=1']) {
      clock.advance(1000);
      const res = await post(path, body, signed(body));
      expect(res.status, path).toBe(200);
      expect(res.json, path).toMatchObject({ state: 'processed', records: 0 });
    }
    for (const path of ['/api/hr-feed/x', '/api/hr-feed2', '/api/other']) expect((await post(path, body, signed(body))).status, path).toBe(404);
  });

  it('too large: refused with 413 by its declared length or while streaming, nothing applied', async () => {
    const before = batches();
    const big = `${HEADER}\n${'E-1,a@b.example,Sales,,,2020-01-01,,active\n'.repeat(200)}`;
    expect((await post('/api/hr-feed', big, signed(big))).status).toBe(413);
    // Chunked, without a declared length.
    const { req, answer } = rawRequest('/api/hr-feed', { ...signed(big), 'transfer-encoding': 'chunked' });
    for (let i = 0; i < 10; i++) req.write(big.slice(i * 1000, (i + 1) * 1000));
    const res = await answer();
    expect(res.status).toBe(413);
    req.destroy();
    expect(batches()).toBe(before);
  });
});
