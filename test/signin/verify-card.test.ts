import { describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../../directory/directory';
import { verifyCard } from '../../dialogs/signin/cards';
import { DEFAULT_POLICY, planVerification } from '../../dialogs/signin/policy';
import type { VerifierAvailability } from '../../dialogs/signin/verifier';
import type { RecoveryFlow, RecoverySession, Verification, VerificationMethod } from '../../store/recovery';
import { cardProblems } from '../cards/validate';
import { cardText, findById } from '../support/teams-client';

/**
 * The "Verify it's you" card says whether its ways are alternatives or two checks that are
 * both needed: a privileged account needs the authenticator and a person, so the person
 * buttons under the code box are the second check, never "Or:".
 */

const manager: DirectoryUser = {
  id: 'm-1',
  userPrincipalName: 'thomas.berg@northwind.example',
  displayName: 'Thomas Berg',
  mail: null,
  givenName: 'Thomas',
  surname: 'Berg',
  department: 'Finance',
  jobTitle: 'Finance Manager',
  accountEnabled: true,
  onPremisesSyncEnabled: false,
};

function available(methods: { code?: boolean; signIn?: boolean } = {}): VerifierAvailability {
  return {
    code: methods.code ?? true,
    'sign-in': methods.signIn ?? false,
    manager: true,
    technician: true,
    managerUser: manager,
    codeMethods: methods.code === false ? [] : [{ id: 'auth-1', kind: 'microsoftAuthenticator', hint: 'iPhone 16', isDefault: true }],
  };
}

function session(flow: RecoveryFlow, privileged: boolean, a: VerifierAvailability): RecoverySession {
  const plan = planVerification(DEFAULT_POLICY, flow, privileged, a);
  if (!plan.ok) throw new Error(`no plan: ${plan.missing}`);
  return {
    id: 'SR-TESTCARD',
    userId: 'u-1',
    userName: 'Jonas Weber',
    flow,
    state: 'verifying',
    privileged,
    requirement: plan.requirement,
    lostMethods: [],
    createdAt: '2026-03-02T09:00:00.000Z',
    updatedAt: '2026-03-02T09:00:00.000Z',
    expiresAt: '2026-03-02T09:30:00.000Z',
    verifiedAt: null,
    completedAt: null,
    outcome: null,
    secretActivityId: null,
    secretShownAt: null,
    secretHiddenAt: null,
    secretExpiresAt: null,
  };
}

function confirmed(method: VerificationMethod): Verification {
  return { sessionId: 'SR-TESTCARD', method, state: 'confirmed', verifierId: null, verifierName: null, requestedAt: '2026-03-02T09:01:00.000Z', challengeExpiresAt: null, decidedAt: '2026-03-02T09:02:00.000Z' };
}

function card(flow: RecoveryFlow, privileged: boolean, a: VerifierAvailability, verifications: Verification[] = []): any {
  const c = verifyCard({ session: session(flow, privileged, a), verifications, available: a });
  expect(cardProblems(c)).toEqual([]);
  return c;
}

const actionIds = (c: any, id: string) => ((findById(c, id)?.actions ?? []) as Array<{ id: string }>).map((x) => x.id);

describe('verify card: one check or two', () => {
  it('one check: the person buttons are another way to do it, "Or:"', () => {
    const c = card('password', false, available());
    expect(findById(c, 'signin-code-label').text).toBe('Open Microsoft Authenticator (iPhone 16) and type the 6-digit code it shows for Northwind Traders.');
    expect(findById(c, 'signin-ask-label').text).toBe('Or:');
    expect(actionIds(c, 'signin-ask-actions')).toEqual(['signin-ask-manager', 'signin-ask-technician']);
  });

  it('a privileged account: the code is the first check and a person the second, both needed', () => {
    const c = card('password', true, available());
    expect(findById(c, 'signin-intro').text).toMatch(/two different checks are needed/);
    expect(findById(c, 'signin-code-label').text).toMatch(/^First check: open Microsoft Authenticator \(iPhone 16\) and type the 6-digit code/);
    expect(findById(c, 'signin-ask-label').text).toBe('Second check, needed as well: ask someone who knows you to confirm it is you.');
    expect(actionIds(c, 'signin-ask-actions')).toEqual(['signin-ask-manager', 'signin-ask-technician']);
    expect(cardText(c)).not.toMatch(/\bOr:/);
  });

  it('a privileged account with the code and a fresh sign-in: signing in again sits beside "Verify code", as the other way to do the first check', () => {
    const c = card('password', true, available({ signIn: true }));
    expect(actionIds(c, 'signin-code-actions')).toEqual(['signin-verify-code', 'signin-step-up']);
    expect(findById(c, 'signin-step-up')).toMatchObject({ type: 'Action.Execute', verb: 'signin.step-up', data: { session: 'SR-TESTCARD' } });
    expect(actionIds(c, 'signin-ask-actions')).toEqual(['signin-ask-manager', 'signin-ask-technician']);
    expect(findById(c, 'signin-ask-label').text).toMatch(/^Second check, needed as well/);
  });

  it('a privileged account without a code box (production: a fresh sign-in instead) names both checks over the buttons', () => {
    const c = card('password', true, available({ code: false, signIn: true }));
    expect(findById(c, 'code')).toBeUndefined();
    expect(actionIds(c, 'signin-ask-actions')).toEqual(['signin-ask-manager', 'signin-ask-technician', 'signin-step-up']);
    expect(findById(c, 'signin-ask-label').text).toBe('Both checks are needed: a fresh sign-in with MFA, and your manager or an identity technician.');
  });

  it('once the code is done, one check is left: the person buttons are alternatives again', () => {
    const c = card('password', true, available(), [confirmed('code')]);
    expect(findById(c, 'code')).toBeUndefined();
    expect(findById(c, 'signin-ask-label').text).toBe('Ask someone who knows you to confirm it is you:');
  });

  it('MFA recovery of a privileged account needs the manager and a technician, both', () => {
    const c = card('mfa', true, available());
    expect(findById(c, 'signin-ask-label').text).toBe('Both checks are needed: your manager, and an identity technician.');
    const one = card('mfa', false, available());
    expect(findById(one, 'signin-ask-label').text).toBe('Who can confirm it is you?');
  });
});
