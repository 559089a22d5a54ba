import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { base32Decode, hotp, matchTotp, totp, totpStep } from '../../directory/totp';
import { DemoAuthenticatorCodes } from '../../directory/demo-authenticator';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { findDemoUser, main } from '../../directory/cli/demo-otp';

/** RFC 6238 appendix B: the SHA-1 key is the ASCII string "12345678901234567890". */
const RFC_KEY = Buffer.from('12345678901234567890');
const RFC_VECTORS: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP', () => {
  it('matches the RFC 6238 test vectors', () => {
    for (const [t, code] of RFC_VECTORS) expect(hotp(RFC_KEY, totpStep(new Date(t * 1000)), 8)).toBe(code);
  });

  it('decodes base32 (RFC 4648)', () => {
    expect(base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ').toString()).toBe('12345678901234567890');
    expect(base32Decode('mzxw6===').toString()).toBe('foo');
    expect(() => base32Decode('not base 32!')).toThrow();
  });

  it('accepts one step of drift either side and says which step matched', () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    const at = new Date('2026-03-02T09:00:10Z');
    const step = totpStep(at);
    expect(matchTotp(secret, totp(secret, at), at)).toBe(step);
    expect(matchTotp(secret, totp(secret, new Date(at.getTime() - 30_000)), at)).toBe(step - 1);
    expect(matchTotp(secret, totp(secret, new Date(at.getTime() + 30_000)), at)).toBe(step + 1);
    expect(matchTotp(secret, totp(secret, new Date(at.getTime() - 90_000)), at)).toBeNull();
    expect(matchTotp(secret, '12345', at)).toBeNull();
    expect(matchTotp(secret, 'abcdef', at)).toBeNull();
  });
});

describe('the demo phones', () => {
  const tenant = loadDemoTenant();
  const emily = tenant.users.find((u) => u.id === tenant.personas.employee)!;

  it('check codes only against the authenticators given, from the tenant file', () => {
    const codes = new DemoAuthenticatorCodes(tenant);
    const ids = codes.methodIds(emily.id);
    expect(ids).toEqual([emily.authMethods.find((m) => m.kind === 'microsoftAuthenticator')!.id]);
    const at = new Date('2026-03-02T09:00:00Z');
    const code = codes.codeFor(emily.id, at)!;
    expect(codes.match(emily.id, ids, code, at)).toEqual({ methodId: ids[0], step: totpStep(at) });
    // A method no longer registered (removed after a lost phone) is not checked.
    expect(codes.match(emily.id, [], code, at)).toBeNull();
    expect(codes.methodIds(tenant.users.find((u) => u.displayName === 'Carlos Mendes')!.id)).toEqual([]);
  });

  it('npm run demo:otp prints the code of the phone', async () => {
    let out = '';
    let err = '';
    const o = new Writable({ write: (c, _e, cb) => ((out += c), cb()) });
    const e = new Writable({ write: (c, _e, cb) => ((err += c), cb()) });
    const at = new Date('2026-03-02T09:00:05Z');
    expect(await main(['emily.chen@northwind.example'], o, e, () => at)).toBe(0);
    expect(out).toContain(`${new DemoAuthenticatorCodes(tenant).codeFor(emily.id, at)}  Microsoft Authenticator (iPhone 16), valid for 25 more seconds`);
    expect(await main(['carlos'], o, e, () => at)).toBe(1);
    expect(err).toMatch(/no authenticator app/);
    expect(await main(['nobody@nowhere.example'], o, e, () => at)).toBe(1);
    expect(await main([], o, e, () => at)).toBe(2);
    expect(findDemoUser(tenant.users, 'Emily Chen')).toMatchObject({ id: emily.id });
  });
});
