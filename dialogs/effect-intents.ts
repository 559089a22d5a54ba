import type { AuditActor, AuditEvent, AuditTrail } from '../store/audit-trail';

/**
 * The intent events written before a directory change, in the transaction that claims the
 * step: a process that dies between the directory call and its outcome leaves the intent on
 * record, and the next start re-reads the directory to say what happened
 * (`...-reconciled`). Outcome events name their intent in `details.attempt` (or `attempts`).
 */
export const INTENT_ACTIONS = {
  passwordReset: 'signin.password-reset-attempted',
  tap: 'signin.tap-attempted',
  methodsRemoval: 'signin.methods-removal-attempted',
  sessionsRevoke: 'signin.sessions-revoke-attempted',
  unlock: 'signin.unlock-attempted',
  technicianStep: 'technician.step-attempted',
  /** An approved request's membership being added (`access.provision`). */
  grant: 'access.grant-attempted',
  /** A membership being removed: time-bound access ending, or a review's or drift's removal. */
  membershipRemoval: 'access.membership-removal-attempted',
} as const;

export type IntentAction = (typeof INTENT_ACTIONS)[keyof typeof INTENT_ACTIONS];

/** What the directory says happened to an intent whose outcome was never recorded. */
export type ReconciledOutcome = 'done' | 'not-done' | 'unknown';

/** Outcome events of intents and their reconciliation. */
export const OUTCOME_ACTIONS = {
  /** The directory refused or did not answer: the change was not confirmed (its error follows). */
  effectError: 'signin.effect-error',
  effectReconciled: 'signin.effect-reconciled',
  recoveryReconciled: 'signin.recovery-reconciled',
  stepReconciled: 'technician.step-reconciled',
  /** What the group membership showed of a grant whose job gave up or was quarantined. */
  grantReconciled: 'access.grant-reconciled',
  /** What the group membership showed of a removal whose job gave up or was quarantined. */
  removalReconciled: 'access.removal-reconciled',
} as const;

/** Appends an intent (inside the caller's transaction when there is one); returns its `seq`, which its outcome names. */
export function recordIntent(audit: AuditTrail, actor: AuditActor, action: IntentAction, target: string | null, correlationId: string, at: Date, details: Record<string, unknown> = {}): number {
  return audit.append({ actor, action, target, outcome: 'success', correlationId, details: { ...details, at: at.toISOString() } }).seq;
}

/** The intents of `correlationId` that no later event names as its attempt: cut short between the directory call and the outcome. */
export function openIntents(audit: AuditTrail, correlationId: string): AuditEvent[] {
  const events = audit.query({ correlationId }, { limit: 10_000 });
  const named = new Set<number>();
  for (const e of events) {
    const d = parse(e.details);
    if (typeof d.attempt === 'number') named.add(d.attempt);
    if (Array.isArray(d.attempts)) for (const a of d.attempts) if (typeof a === 'number') named.add(a);
  }
  return events.filter((e) => e.action.endsWith('-attempted') && !named.has(e.seq)).sort((a, b) => a.seq - b.seq);
}

/** An intent's details (its `at` and what it was about). */
export function intentDetails(e: AuditEvent): Record<string, unknown> & { at: string } {
  return parse(e.details) as Record<string, unknown> & { at: string };
}

function parse(details: string): Record<string, unknown> {
  try {
    const d = JSON.parse(details) as unknown;
    return d && typeof d === 'object' ? (d as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
