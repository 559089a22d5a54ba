import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepUpValidator } from '../../bot/step-up';

const TENANT = '003a62e5-a4c4-4363-814e-ede34ed4a727';
const APP = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const EMILY = '957e5a6d-0c8b-4f46-aca9-a39f53ef71e8';
const NOW = new Date('2026-03-02T09:00:00Z');
const now = Math.floor(NOW.getTime() / 1000);

interface Key {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}
function makeKey(): Key {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomBytes(12).toString('base64url'), privateKey, publicKey };
}
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A loopback stand-in for the tenant's OpenID configuration and key set. */
let server: http.Server;
let base = '';
const published = makeKey();
const foreign = makeKey();
let fetches = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    fetches += 1;
    if (req.url === `/${TENANT}/v2.0/.well-known/openid-configuration`) {
      res.end(JSON.stringify({ issuer: `${base}/{tenantid}/v2.0`, jwks_uri: `${base}/${TENANT}/discovery/v2.0/keys` }));
    } else if (req.url === `/${TENANT}/discovery/v2.0/keys`) {
      const jwk = published.publicKey.export({ format: 'jwk' });
      res.end(JSON.stringify({ keys: [{ kty: 'RSA', use: 'sig', kid: published.kid, n: jwk.n, e: jwk.e }] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function validator(acrs: string[] = []): StepUpValidator {
  return new StepUpValidator({
    tenantId: TENANT,
    audiences: [APP, `api://${APP}`],
    metadataUrl: `${base}/${TENANT}/v2.0/.well-known/openid-configuration`,
    maxAgeMinutes: 10,
    acrs,
    clock: () => NOW,
  });
}

function token(claims: Record<string, unknown> = {}, opts: { key?: Key; kid?: string; alg?: string } = {}): string {
  const key = opts.key ?? published;
  const header = { alg: opts.alg ?? 'RS256', typ: 'JWT', kid: opts.kid ?? key.kid };
  const payload = {
    iss: `${base}/${TENANT}/v2.0`,
    aud: APP,
    tid: TENANT,
    oid: EMILY,
    iat: now - 60,
    nbf: now - 60,
    exp: now + 3600,
    amr: ['pwd', 'mfa'],
    auth_time: now - 60,
    ...claims,
  };
  const input = `${b64(header)}.${b64(payload)}`;
  if (header.alg === 'none') return `${input}.`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key.privateKey).toString('base64url')}`;
}

describe('step-up sign-in token validation', () => {
  it('accepts a fresh MFA sign-in of the user, signed by the tenant', async () => {
    expect(await validator().validate(token(), EMILY)).toEqual({ ok: true, userId: EMILY, via: 'amr', authenticatedAt: new Date((now - 60) * 1000).toISOString() });
    expect(await validator().validate(token({ aud: `api://${APP}` }), EMILY.toUpperCase())).toMatchObject({ ok: true });
  });

  it.each([
    ['a foreign key', () => token({}, { key: foreign }), 'signature'],
    ['a published kid over a foreign signature', () => token({}, { key: foreign, kid: published.kid }), 'signature'],
    ['alg none', () => token({}, { alg: 'none' }), 'malformed'],
    ['HS256', () => token({}, { alg: 'HS256' }), 'malformed'],
    ['garbage', () => 'not.a.jwt', 'malformed'],
    ['another issuer', () => token({ iss: 'https://login.example/other/v2.0' }), 'issuer'],
    ['another tenant', () => token({ tid: '7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a' }), 'tenant'],
    ['another audience', () => token({ aud: 'api://someone-else' }), 'audience'],
    ['an expired token', () => token({ exp: now - 301 }), 'expired'],
    ['a token not valid yet', () => token({ nbf: now + 301 }), 'not-yet-valid'],
    ['someone else signing in', () => token({ oid: '0831bc04-da74-467e-b61b-2ae90b357bc1' }), 'other-user'],
    ['no MFA', () => token({ amr: ['pwd'] }), 'no-mfa'],
    ['MFA older than 10 minutes', () => token({ auth_time: now - 11 * 60 }), 'stale-mfa'],
    ['MFA without auth_time', () => token({ auth_time: undefined }), 'stale-mfa'],
  ])('refuses %s', async (_name, make, reason) => {
    const result = await validator().validate(make(), EMILY);
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('accepts a configured authentication context (acrs) issued within 10 minutes', async () => {
    const withAcrs = token({ amr: ['pwd'], auth_time: undefined, acrs: ['c1'], iat: now - 120 });
    expect(await validator(['c1']).validate(withAcrs, EMILY)).toMatchObject({ ok: true, via: 'acrs' });
    expect(await validator(['c2']).validate(withAcrs, EMILY)).toMatchObject({ ok: false });
    expect(await validator(['c1']).validate(token({ amr: ['pwd'], auth_time: undefined, acrs: ['c1'], iat: now - 11 * 60 }), EMILY)).toMatchObject({ ok: false, reason: 'stale-mfa' });
  });

  it('fetches the keys once and reports an unreachable key set as such', async () => {
    const v = validator();
    fetches = 0;
    await v.validate(token(), EMILY);
    await v.validate(token(), EMILY);
    expect(fetches).toBe(2);
    const offline = new StepUpValidator({ tenantId: TENANT, audiences: [APP], metadataUrl: `${base}/nowhere`, maxAgeMinutes: 10, acrs: [], clock: () => NOW });
    expect(await offline.validate(token(), EMILY)).toMatchObject({ ok: false, reason: 'keys-unavailable' });
  });
});
