import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSchema, loadConfig } from '../../bot/config';

describe('sign-in recovery configuration', () => {
  it('has the documented defaults', () => {
    const r = loadConfig({}).recovery;
    expect(r.policy).toEqual({
      password: { methods: ['code', 'sign-in', 'manager', 'technician'], required: 1, requiredPrivileged: 2 },
      mfa: { methods: ['manager', 'technician'], required: 1, requiredPrivileged: 2 },
    });
    expect(r).toMatchObject({
      privilegedGroupIds: null,
      verificationMinutes: 15,
      codeMinutes: 5,
      secretVisibleMinutes: 10,
      tap: { lifetimeMinutes: 60, oneTime: true },
      passwordLength: 16,
      maxPerDay: 3,
      maxFailedVerifications: 5,
      lockoutHours: 24,
      stepUp: { connectionName: null, maxAgeMinutes: 10, acrs: [] },
    });
  });

  it('reads overrides', () => {
    const r = loadConfig({
      RECOVERY_PASSWORD_METHODS: 'code, technician',
      RECOVERY_PASSWORD_REQUIRED: '2',
      RECOVERY_MFA_METHODS: 'technician',
      RECOVERY_PRIVILEGED_GROUP_IDS: 'B1A9926B-E1C0-4B72-AED0-6EC2CC9E8A1A,73d32ec8-68a1-432c-93bc-626fad345206',
      RECOVERY_TAP_MINUTES: '480',
      RECOVERY_TAP_ONE_TIME: 'false',
      RECOVERY_MAX_PER_DAY: '5',
      STEP_UP_CONNECTION_NAME: 'stepup',
      STEP_UP_ACRS: 'c1,c2',
    }).recovery;
    expect(r.policy.password).toEqual({ methods: ['code', 'technician'], required: 2, requiredPrivileged: 2 });
    expect(r.policy.mfa.methods).toEqual(['technician']);
    expect(r.privilegedGroupIds).toEqual(['b1a9926b-e1c0-4b72-aed0-6ec2cc9e8a1a', '73d32ec8-68a1-432c-93bc-626fad345206']);
    expect(r).toMatchObject({ tap: { lifetimeMinutes: 480, oneTime: false }, maxPerDay: 5, stepUp: { connectionName: 'stepup', acrs: ['c1', 'c2'] } });
  });

  it.each([
    [{ RECOVERY_MFA_METHODS: 'code' }, /RECOVERY_MFA_METHODS must be a comma-separated list of manager, technician .*never verifies its own recovery.*not code/],
    [{ RECOVERY_MFA_METHODS: 'manager,sign-in' }, /RECOVERY_MFA_METHODS .*not sign-in/],
    [{ RECOVERY_PASSWORD_METHODS: 'sms' }, /RECOVERY_PASSWORD_METHODS .*not sms/],
    [{ RECOVERY_PASSWORD_REQUIRED: '3' }, /RECOVERY_PASSWORD_REQUIRED must be 1 or 2/],
    [{ RECOVERY_TAP_MINUTES: '5' }, /RECOVERY_TAP_MINUTES must be between 10 and 43200/],
    [{ RECOVERY_TAP_MINUTES: '50000' }, /RECOVERY_TAP_MINUTES must be between 10 and 43200/],
    [{ RECOVERY_PASSWORD_LENGTH: '12' }, /RECOVERY_PASSWORD_LENGTH must be between 16 and 64/],
    [{ RECOVERY_PRIVILEGED_GROUP_IDS: 'admins' }, /RECOVERY_PRIVILEGED_GROUP_IDS must be a comma-separated list of group ids/],
    [{ STEP_UP_ACRS: 'mfa' }, /STEP_UP_ACRS must be a comma-separated list of authentication context ids/],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('documentation of these variables', () => {
  const mine = Object.keys(envSchema.shape).filter((k) => /^(RECOVERY_|STEP_UP_)/.test(k));
  const envExample = fs.readFileSync(path.resolve(__dirname, '../../.env.example'), 'utf8');
  const docs = fs.readFileSync(path.resolve(__dirname, '../../docs/configuration.md'), 'utf8');

  it('lists every one in .env.example and docs/configuration.md', () => {
    expect(mine.length).toBe(22);
    for (const k of mine) {
      expect(envExample, k).toMatch(new RegExp(`^${k}=`, 'm'));
      expect(docs, k).toContain(`\`${k}\``);
    }
  });
});
