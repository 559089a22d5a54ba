import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepUpValidator } from '../../bot/step-up';

/** Forged step-up tokens an attacker can build from what the tenant publishes. */
const TENANT = '003a62e5-a4c4-4363-814e-ede34ed4a727';
const APP = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const EMILY = '957e5a6d-0c8b-4f46-aca9-a39f53ef71e8';
const NOW = new Date('2026-03-02T09:00:00Z');
const now = Math.floor(NOW.getTime() / 1000);
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = randomBytes(12).toString('base64url');
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/meta') return res.end(JSON.stringify({ issuer: `${base}/{tenantid}/v2.0`, jwks_uri: `${base}/keys` }));
    const jwk = publicKey.export({ format: 'jwk' });
    res.end(JSON.stringify({ keys: [{ kty: 'RSA', use: 'sig', kid, n: jwk.n, e: jwk.e }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const validator = (acrs: string[] = []) => new StepUpValidator({ tenantId: TENANT, audiences: [APP], metadataUrl: `${base}/meta`, maxAgeMinutes: 10, acrs, clock: () => NOW });
const claims = (extra: Record<string, unknown> = {}) => ({ iss: `${base}/${TENANT}/v2.0`, aud: APP, tid: TENANT, oid: EMILY, iat: now - 60, nbf: now - 60, exp: now + 3600, amr: ['pwd', 'mfa'], auth_time: now - 60, ...extra });
function rs256(payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid, ...header })}.${b64(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
}

describe('forged step-up tokens', () => {
  it('refuses HS256 signed with the published public key as the secret, and RS256 signed that way', async () => {
    const pem = publicKey.export({ type: 'spki', format: 'pem' });
    for (const alg of ['HS256', 'RS256']) {
      const input = `${b64({ alg, typ: 'JWT', kid })}.${b64(claims())}`;
      const forged = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      expect(await validator().validate(forged, EMILY), alg).toMatchObject({ ok: false, reason: alg === 'HS256' ? 'malformed' : 'signature' });
    }
  });

  it('refuses alg none without a signature, an unknown key id, a missing key id, and a token of five parts', async () => {
    expect(await validator().validate(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`, EMILY)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await validator().validate(rs256(claims(), { kid: 'unknown-kid' }), EMILY)).toMatchObject({ ok: false, reason: 'signature' });
    expect(await validator().validate(rs256(claims(), { kid: undefined }), EMILY)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await validator().validate(`${rs256(claims())}.x.y`, EMILY)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('refuses claims of the wrong shape: amr as a string, an audience list without this app, MFA in the future, acrs not configured', async () => {
    expect(await validator().validate(rs256(claims({ amr: 'mfa' })), EMILY)).toMatchObject({ ok: false, reason: 'no-mfa' });
    expect(await validator().validate(rs256(claims({ aud: ['api://other', 42] })), EMILY)).toMatchObject({ ok: false, reason: 'audience' });
    expect(await validator().validate(rs256(claims({ auth_time: now + 3600 })), EMILY)).toMatchObject({ ok: false, reason: 'stale-mfa' });
    expect(await validator().validate(rs256(claims({ amr: ['pwd'], auth_time: undefined, acrs: ['c1'] })), EMILY)).toMatchObject({ ok: false });
    expect(await validator(['c1']).validate(rs256(claims({ amr: ['pwd'], auth_time: undefined, acrs: ['c1'] })), EMILY)).toMatchObject({ ok: true, via: 'acrs' });
    expect(await validator().validate(rs256(claims({ exp: undefined })), EMILY)).toMatchObject({ ok: false, reason: 'expired' });
    expect(await validator().validate(rs256(claims({ oid: undefined, sub: EMILY })), EMILY)).toMatchObject({ ok: false, reason: 'other-user' });
  });
});
