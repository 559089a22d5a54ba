import type { RecoveryFlow, Requirement, VerificationMethod } from '../../store/recovery';

/**
 * Who must prove what before a recovery may change anything. Methods come in two kinds:
 * the user's own authenticator (a code from the app, or a fresh MFA sign-in: the same phone,
 * so they count once) and a person who knows the user (their manager, or an identity
 * technician) confirming it in person or by a call.
 *
 * - Password reset and unlock: `required` distinct kinds (1, or 2 for members of privileged
 *   groups: the authenticator and a person).
 * - MFA recovery: only people, never the factor that was lost; 1 person, or 2 (the manager
 *   and a technician) for members of privileged groups.
 */
export interface VerificationPolicy {
  password: { methods: readonly VerificationMethod[]; required: 1 | 2; requiredPrivileged: 1 | 2 };
  mfa: { methods: readonly PersonMethod[]; required: 1 | 2; requiredPrivileged: 1 | 2 };
}

export type PersonMethod = 'manager' | 'technician';
export const AUTHENTICATOR_METHODS: readonly VerificationMethod[] = ['code', 'sign-in'];
export const PERSON_METHODS: readonly PersonMethod[] = ['manager', 'technician'];

/** The defaults: one method for a password reset, two for privileged accounts; a person for MFA. */
export const DEFAULT_POLICY: VerificationPolicy = {
  password: { methods: ['code', 'sign-in', 'manager', 'technician'], required: 1, requiredPrivileged: 2 },
  mfa: { methods: ['manager', 'technician'], required: 1, requiredPrivileged: 2 },
};

/** Which methods can verify this user now (a registered authenticator, a manager, reachable technicians). */
export type Availability = Record<VerificationMethod, boolean>;

export type Plan =
  | { ok: true; requirement: Requirement; required: number }
  | {
      ok: false;
      /** `no-method`: nothing can verify the user; `second-method-missing`: one of the two kinds required is not available. */
      reason: 'no-method' | 'second-method-missing';
      required: number;
      /** What is missing, in words: "an authenticator app", "a manager", ... */
      missing: string;
    };

/** What `flow` needs from this user, given what is available. Pure: the tests pin the policy here. */
export function planVerification(policy: VerificationPolicy, flow: RecoveryFlow, privileged: boolean, available: Availability): Plan {
  if (flow === 'mfa') {
    // Never the lost factor: only people, whatever the configuration says.
    const persons = policy.mfa.methods.filter((m) => PERSON_METHODS.includes(m) && available[m]);
    const required = privileged ? policy.mfa.requiredPrivileged : policy.mfa.required;
    if (required === 1) {
      return persons.length ? { ok: true, required, requirement: { slots: [persons] } } : { ok: false, reason: 'no-method', required, missing: 'a manager or an identity technician' };
    }
    if (persons.includes('manager') && persons.includes('technician')) return { ok: true, required, requirement: { slots: [['manager'], ['technician']] } };
    return { ok: false, reason: 'second-method-missing', required, missing: persons.includes('manager') ? 'an identity technician' : 'a manager' };
  }
  const allowed = policy.password.methods.filter((m) => available[m]);
  const own = allowed.filter((m) => AUTHENTICATOR_METHODS.includes(m));
  const persons = allowed.filter((m) => (PERSON_METHODS as readonly string[]).includes(m));
  const required = privileged ? policy.password.requiredPrivileged : policy.password.required;
  if (required === 1) {
    const any = [...own, ...persons];
    return any.length ? { ok: true, required, requirement: { slots: [any] } } : { ok: false, reason: 'no-method', required, missing: 'an authenticator app, a manager or an identity technician' };
  }
  if (own.length && persons.length) return { ok: true, required, requirement: { slots: [own, persons] } };
  return { ok: false, reason: 'second-method-missing', required, missing: own.length ? 'a manager or an identity technician' : 'a registered authenticator app' };
}

/**
 * Assigns confirmed methods to slots (each method fills at most one slot): the slots left
 * open. A tiny backtracking search; there are at most a few slots.
 */
export function openSlots(requirement: Requirement, confirmed: readonly VerificationMethod[]): VerificationMethod[][] {
  const slots = requirement.slots;
  let best: boolean[] = slots.map(() => false);
  let bestCount = -1;
  const filled: boolean[] = slots.map(() => false);
  const used = new Set<VerificationMethod>();
  const search = (i: number, count: number) => {
    if (i === slots.length) {
      if (count > bestCount) {
        bestCount = count;
        best = [...filled];
      }
      return;
    }
    for (const m of slots[i]!) {
      if (!confirmed.includes(m) || used.has(m)) continue;
      used.add(m);
      filled[i] = true;
      search(i + 1, count + 1);
      filled[i] = false;
      used.delete(m);
    }
    search(i + 1, count);
  };
  search(0, 0);
  return slots.filter((_, i) => !best[i]);
}

/** True when every slot is filled by a distinct confirmed method. */
export function isSatisfied(requirement: Requirement, confirmed: readonly VerificationMethod[]): boolean {
  return openSlots(requirement, confirmed).length === 0;
}

/** The methods that would still help: those of the open slots, not yet confirmed. */
export function usefulMethods(requirement: Requirement, confirmed: readonly VerificationMethod[]): VerificationMethod[] {
  const out = new Set<VerificationMethod>();
  for (const slot of openSlots(requirement, confirmed)) for (const m of slot) if (!confirmed.includes(m)) out.add(m);
  return [...out];
}

/** "your authenticator code or your manager", "your authenticator and a person", for cards. */
export function describeRequirement(requirement: Requirement): string {
  const name = (m: VerificationMethod) => METHOD_NAMES[m];
  const slot = (s: VerificationMethod[]) => (s.length === 1 ? name(s[0]!) : `${s.slice(0, -1).map(name).join(', ')} or ${name(s[s.length - 1]!)}`);
  return requirement.slots.length === 1 ? slot(requirement.slots[0]!) : requirement.slots.map((s) => slot(s)).join(', and ');
}

export const METHOD_NAMES: Record<VerificationMethod, string> = {
  code: 'a code from your authenticator app',
  'sign-in': 'a fresh sign-in with MFA',
  manager: 'your manager',
  technician: 'an identity technician',
};
