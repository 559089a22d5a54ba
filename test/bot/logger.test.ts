import { describe, expect, it } from 'vitest';
import { createLogger } from '../../bot/logger';
import { channelTokenProblem, OncePerMinute } from '../../bot/edge';
import { jsonLogSink } from '../support/graph-setup';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.c2lnbmF0dXJlLXBhcnQ';

function logOnce(write: (logger: ReturnType<typeof createLogger>) => void): { line: any; text: string } {
  const logs: any[] = [];
  write(createLogger('debug', jsonLogSink(logs)));
  return { line: logs[0], text: JSON.stringify(logs) };
}

describe('log redaction', () => {
  it('redacts secrets at any depth and inside arrays, without touching the caller object', () => {
    const input = {
      a: { b: { c: { d: { e: { password: 'hunter2', temporaryAccessPass: 'TAP-123456', list: [{ client_secret: 's3cr3t' }, { apiKey: 'k-1' }, 'plain'] } } } } },
      headers: { Authorization: `Bearer ${JWT}`, Cookie: 'session=abc', 'x-api-key': 'k-2' },
      pass: 'p4ss',
      token: 'tok',
      note: `header was Bearer ${JWT}`,
      kept: 'visible',
    };
    const copy = structuredClone(input);
    const { line, text } = logOnce((l) => l.info(input, 'with secrets'));
    for (const secret of ['hunter2', 'TAP-123456', 's3cr3t', 'k-1', 'k-2', 'session=abc', 'p4ss', '"tok"', JWT]) expect(text).not.toContain(secret);
    expect(line.a.b.c.d.e.password).toBe('[redacted]');
    expect(line.a.b.c.d.e.list).toEqual([{ client_secret: '[redacted]' }, { apiKey: '[redacted]' }, 'plain']);
    expect(line.headers).toEqual({ Authorization: '[redacted]', Cookie: '[redacted]', 'x-api-key': '[redacted]' });
    expect(line.note).toBe('header was Bearer [redacted]');
    expect(line.kept).toBe('visible');
    expect(input).toEqual(copy);
  });

  it("keeps pino's error shape and redacts what an HTTP client's error carries", () => {
    const err = Object.assign(new Error(`request failed: Authorization: Bearer ${JWT}`), { statusCode: 502, request: { headers: { authorization: `Bearer ${JWT}` }, url: 'https://smba.example/v3' } });
    const { line, text } = logOnce((l) => l.error({ err }, 'delivery failed'));
    expect(text).not.toContain(JWT);
    expect(line.err).toMatchObject({ type: 'Error', message: 'request failed: Authorization: Bearer [redacted]', statusCode: 502, request: { headers: { authorization: '[redacted]' }, url: 'https://smba.example/v3' } });
    expect(line.err.stack).toMatch(/^Error: request failed/);
    const direct = logOnce((l) => l.error(err));
    expect(direct.line.err.type).toBe('Error');
    expect(direct.text).not.toContain(JWT);
  });

  it('survives cycles, deep nesting and large objects', () => {
    const cyclic: any = { name: 'loop', secret: 'x' };
    cyclic.self = cyclic;
    let deep: any = { token: 'deep-token' };
    for (let i = 0; i < 50; i++) deep = { next: deep };
    const wide = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
    const { line, text } = logOnce((l) => l.info({ cyclic, deep, wide, list: Array.from({ length: 1000 }, (_, i) => i) }, 'big'));
    expect(line.cyclic).toEqual({ name: 'loop', secret: '[redacted]', self: '[circular]' });
    expect(text).not.toContain('deep-token');
    expect(text).toContain('[too deep]');
    expect(Object.keys(line.wide).length).toBeLessThanOrEqual(201);
    expect(line.list.length).toBeLessThanOrEqual(201);
  });

  it('child loggers: a token in a binding is cut from the written line', () => {
    const { text } = logOnce((l) => l.child({ requestAuth: `Bearer ${JWT}` }).info('hello'));
    expect(text).not.toContain(JWT);
  });
});

describe('edge checks', () => {
  const now = Math.floor(Date.now() / 1000);
  const token = (claims: object) => `Bearer ${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

  it('takes only the configured cloud channel issuer', () => {
    expect(channelTokenProblem(token({ iss: 'https://api.botframework.com', exp: now + 60 }), 'https://api.botframework.com', now)).toBeNull();
    expect(channelTokenProblem(token({ iss: 'https://api.botframework.com', exp: now + 60 }), 'https://api.botframework.us', now)).toBe('not-a-channel-token');
    expect(channelTokenProblem(token({ iss: 'https://api.botframework.us', exp: now + 60 }), 'https://api.botframework.us', now)).toBeNull();
    expect(channelTokenProblem(token({ iss: 'https://login.microsoftonline.com/t/v2.0', tid: 't' }), 'https://api.botframework.com', now)).toBe('not-a-channel-token');
    expect(channelTokenProblem(token({ iss: 'https://api.botframework.com', exp: now - 301 }), 'https://api.botframework.com', now)).toBe('expired');
    expect(channelTokenProblem(undefined, 'https://api.botframework.com', now)).toBe('no-token');
    expect(channelTokenProblem('Bearer a.b', 'https://api.botframework.com', now)).toBe('not-a-bearer-jwt');
    expect(channelTokenProblem('Bearer !!!.@@@.x', 'https://api.botframework.com', now)).toBe('not-a-bearer-jwt');
    expect(channelTokenProblem('Bearer aaaa.bbbb.cccc', 'https://api.botframework.com', now)).toBe('unreadable-token');
  });

  it('says "first" once per key a minute, in bounded memory', () => {
    let t = Date.parse('2026-12-08T09:00:00Z');
    const once = new OncePerMinute(() => new Date(t), 10);
    expect(once.first('a')).toBe(true);
    expect(once.first('a')).toBe(false);
    const firsts = Array.from({ length: 10_000 }, (_, i) => once.first(`k${i}`)).filter(Boolean).length;
    // Nine new keys fill the table, then one overflow notice; the rest are not reported.
    expect(firsts).toBe(10);
    expect((once as unknown as { seen: Set<string> }).seen.size).toBe(10);
    t += 60_000;
    expect(once.first('a')).toBe(true);
  });
});

describe('log redaction of text', () => {
  it('keeps ordinary words after "Basic" or "Bearer" and cuts credentials', () => {
    const { line } = logOnce((l) => l.info({ note: 'Basic checks passed; bearer of news', header: 'basic dXNlcjpwYXNzd29yZDEyMw==' }, 'Bearer abcdefghijklmnop123 seen'));
    expect(line.note).toBe('Basic checks passed; bearer of news');
    expect(line.header).toBe('basic [redacted]');
    expect(line.msg).toBe('Bearer [redacted] seen');
  });
});
