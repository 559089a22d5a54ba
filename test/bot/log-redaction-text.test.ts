import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../bot/logger';
import { redactText } from '../../bot/log-redaction';

/**
 * Secrets inside text, where no key names them: an HTTP client's error keeps its request's
 * form-encoded body (a token request's client secret), its URL (a token in the query) and
 * the response body as JSON text (a directory error that echoes a new password).
 */
describe('named secrets inside logged text', () => {
  it('cuts the values of form, query, JSON (also escaped in JSON) and "name: value" secrets, and keeps the rest', () => {
    expect(redactText('grant_type=client_credentials&client_id=abc&client_secret=S3cr3tValue123&scope=x')).toBe('grant_type=client_credentials&client_id=abc&client_secret=[redacted]&scope=x');
    expect(redactText('GET https://graph.example/v1?access_token=abcdef123456&x=1 failed')).toBe('GET https://graph.example/v1?access_token=[redacted]&x=1 failed');
    expect(redactText('{"error":"x","newPassword":"Hunter2!Pass","temporaryAccessPass":"TAP-99","ok":"fine"}')).toBe('{"error":"x","newPassword":"[redacted]","temporaryAccessPass":"[redacted]","ok":"fine"}');
    expect(redactText(JSON.stringify({ body: '{"newPassword":"Hun\\"ter2","a":"b"}' }))).toBe(JSON.stringify({ body: '{"newPassword":"[redacted]","a":"b"}' }));
    expect(redactText('reset failed: password=Hunter2!Pass, try again')).toBe('reset failed: password=[redacted], try again');
    expect(redactText('pin: 483920 accepted')).toBe('pin: [redacted] accepted');
    expect(redactText('user=adele mode=production: nothing secret here')).toBe('user=adele mode=production: nothing secret here');
  });

  it('an HTTP client error logged through pino carries none of its request secrets', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
    const log = createLogger('info', sink);
    const err = Object.assign(new Error('Request failed with status code 400'), {
      config: { url: 'https://login.example/token?client_assertion=abc.def.ghi123', data: 'client_id=app&client_secret=S3cr3tValue123&grant_type=client_credentials' },
      response: { status: 400, data: '{"error":{"code":"InvalidPassword","message":"rejected","newPassword":"Hunter2!Pass"}}' },
    });
    log.error({ err }, 'password reset failed');
    log.warn(`token request failed: ${err.config.data}`);
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    for (const secret of ['S3cr3tValue123', 'Hunter2!Pass', 'abc.def.ghi123']) expect(text).not.toContain(secret);
    expect(text).toContain('client_id=app');
    expect(text).toContain('InvalidPassword');
  });
});
