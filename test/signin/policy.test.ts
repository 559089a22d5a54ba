import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, describeRequirement, isSatisfied, openSlots, planVerification, usefulMethods, type Availability, type VerificationPolicy } from '../../dialogs/signin/policy';

const all: Availability = { code: true, 'sign-in': false, manager: true, technician: true };
const only = (...m: Array<keyof Availability>): Availability => ({ code: m.includes('code'), 'sign-in': m.includes('sign-in'), manager: m.includes('manager'), technician: m.includes('technician') });

describe('verification policy: password reset and unlock', () => {
  it('needs one method by default: any of the available ones', () => {
    const plan = planVerification(DEFAULT_POLICY, 'password', false, all);
    expect(plan).toEqual({ ok: true, required: 1, requirement: { slots: [['code', 'manager', 'technician']] } });
    expect(planVerification(DEFAULT_POLICY, 'unlock', false, only('technician'))).toMatchObject({ ok: true, requirement: { slots: [['technician']] } });
  });

  it('needs two for privileged accounts: the authenticator and a person', () => {
    const plan = planVerification(DEFAULT_POLICY, 'password', true, { ...all, 'sign-in': true });
    expect(plan).toEqual({ ok: true, required: 2, requirement: { slots: [['code', 'sign-in'], ['manager', 'technician']] } });
    if (!plan.ok) throw new Error('unreachable');
    // Two people do not make two methods, and code plus sign-in is the same phone twice.
    expect(isSatisfied(plan.requirement, ['manager', 'technician'])).toBe(false);
    expect(isSatisfied(plan.requirement, ['code', 'sign-in'])).toBe(false);
    expect(isSatisfied(plan.requirement, ['code', 'technician'])).toBe(true);
    expect(usefulMethods(plan.requirement, ['code'])).toEqual(['manager', 'technician']);
  });

  it('refuses a privileged account without the second method, naming what is missing', () => {
    expect(planVerification(DEFAULT_POLICY, 'password', true, only('manager', 'technician'))).toMatchObject({ ok: false, reason: 'second-method-missing', missing: 'a registered authenticator app' });
    expect(planVerification(DEFAULT_POLICY, 'password', true, only('code'))).toMatchObject({ ok: false, reason: 'second-method-missing', missing: 'a manager or an identity technician' });
    expect(planVerification(DEFAULT_POLICY, 'password', false, only())).toMatchObject({ ok: false, reason: 'no-method' });
  });

  it('follows the configured methods and counts', () => {
    const policy: VerificationPolicy = { ...DEFAULT_POLICY, password: { methods: ['code'], required: 1, requiredPrivileged: 1 } };
    expect(planVerification(policy, 'password', true, all)).toEqual({ ok: true, required: 1, requirement: { slots: [['code']] } });
    expect(planVerification(policy, 'password', false, only('manager'))).toMatchObject({ ok: false, reason: 'no-method' });
    const strict: VerificationPolicy = { ...DEFAULT_POLICY, password: { methods: DEFAULT_POLICY.password.methods, required: 2, requiredPrivileged: 2 } };
    expect(planVerification(strict, 'password', false, all)).toMatchObject({ ok: true, required: 2 });
  });
});

describe('verification policy: MFA recovery', () => {
  it('needs a person, never the lost factor, even if configured otherwise', () => {
    expect(planVerification(DEFAULT_POLICY, 'mfa', false, all)).toEqual({ ok: true, required: 1, requirement: { slots: [['manager', 'technician']] } });
    const misconfigured = { ...DEFAULT_POLICY, mfa: { ...DEFAULT_POLICY.mfa, methods: ['code', 'sign-in', 'manager'] as never } };
    const plan = planVerification(misconfigured, 'mfa', false, { ...all, 'sign-in': true });
    expect(plan).toEqual({ ok: true, required: 1, requirement: { slots: [['manager']] } });
    expect(planVerification(misconfigured, 'mfa', false, only('code', 'sign-in'))).toMatchObject({ ok: false, reason: 'no-method' });
  });

  it('needs the manager and a technician for privileged accounts', () => {
    const plan = planVerification(DEFAULT_POLICY, 'mfa', true, all);
    expect(plan).toEqual({ ok: true, required: 2, requirement: { slots: [['manager'], ['technician']] } });
    if (!plan.ok) throw new Error('unreachable');
    expect(openSlots(plan.requirement, ['technician'])).toEqual([['manager']]);
    expect(isSatisfied(plan.requirement, ['manager', 'technician'])).toBe(true);
    expect(planVerification(DEFAULT_POLICY, 'mfa', true, only('technician', 'code'))).toMatchObject({ ok: false, reason: 'second-method-missing', missing: 'a manager' });
  });

  it('describes what is needed in words', () => {
    expect(describeRequirement({ slots: [['code', 'manager']] })).toBe('a code from your authenticator app or your manager');
    expect(describeRequirement({ slots: [['manager'], ['technician']] })).toBe('your manager, and an identity technician');
  });
});
