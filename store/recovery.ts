import { randomInt } from 'node:crypto';
import type { Db } from './db';

/** What a self-service sign-in recovery is for. */
export type RecoveryFlow = 'password' | 'mfa' | 'unlock';
export const RECOVERY_FLOWS: readonly RecoveryFlow[] = ['password', 'mfa', 'unlock'];

/**
 * `verifying`: proving who the user is; `verified`: every check done, waiting for the user to
 * go on; `completing`: the change is being made (a one-time claim); the rest are final.
 */
export type RecoveryState = 'verifying' | 'verified' | 'completing' | 'completed' | 'refused' | 'failed' | 'expired' | 'cancelled';
export const ACTIVE_STATES: readonly RecoveryState[] = ['verifying', 'verified'];

/** How identity is verified: the user's authenticator code, a fresh MFA sign-in, or a person. */
export type VerificationMethod = 'code' | 'sign-in' | 'manager' | 'technician';
export const VERIFICATION_METHODS: readonly VerificationMethod[] = ['code', 'sign-in', 'manager', 'technician'];

export type VerificationState = 'pending' | 'confirmed' | 'declined' | 'expired' | 'cancelled';

/**
 * What must be proven, snapshotted when the recovery starts: each slot is satisfied by one
 * confirmed method of its list, and no method counts for two slots.
 */
export interface Requirement {
  slots: VerificationMethod[][];
}

/** A method the user said they lost (MFA recovery): what it was, never a secret. */
export interface LostMethod {
  id: string;
  kind: string;
  hint: string | null;
  isDefault: boolean;
}

export interface RecoverySession {
  /** `SR-` and eight characters; the correlation id of every audit event of the recovery. */
  id: string;
  userId: string;
  userName: string;
  flow: RecoveryFlow;
  state: RecoveryState;
  privileged: boolean;
  requirement: Requirement;
  lostMethods: LostMethod[];
  createdAt: string;
  updatedAt: string;
  /** The recovery ends by itself at this time unless a step extends it. */
  expiresAt: string;
  verifiedAt: string | null;
  completedAt: string | null;
  /** Why it ended, for refusals and failures (a short code). */
  outcome: string | null;
  /** The message that shows the secret: its id only, so it can be hidden. Never the secret. */
  secretActivityId: string | null;
  secretShownAt: string | null;
  secretHiddenAt: string | null;
  /** When the secret stops working (a Temporary Access Pass), for the hidden card's text. */
  secretExpiresAt: string | null;
}

export interface Verification {
  sessionId: string;
  method: VerificationMethod;
  state: VerificationState;
  /** For a manager: who was asked; once decided: who decided. */
  verifierId: string | null;
  verifierName: string | null;
  requestedAt: string;
  /** A code prompt is answerable until then. */
  challengeExpiresAt: string | null;
  decidedAt: string | null;
}

export type RecoveryEventKind = 'completed' | 'verification-failed';

const SESSION_COLUMNS =
  'id, user_id, user_name, flow, state, privileged, requirement, lost_methods, created_at, updated_at, expires_at, verified_at, completed_at, outcome, ' +
  'secret_activity_id, secret_shown_at, secret_hidden_at, secret_expires_at';
const VERIFICATION_COLUMNS = 'session_id, method, state, verifier_id, verifier_name, requested_at, challenge_expires_at, decided_at';
/** No 0/O, 1/I: ids are read aloud to technicians. */
const ID_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** True for a well-formed recovery id (card data is checked with this before any lookup). */
export function isRecoveryId(value: unknown): value is string {
  return typeof value === 'string' && /^SR-[A-HJ-NP-Z2-9]{8}$/.test(value);
}

/**
 * Sign-in recoveries, their verifications, and the throttling memory. Synchronous, so every
 * change can share a transaction with its audit event. Every state change is a guarded
 * UPDATE: a claim that changes no row lost a race (or came from a stale card).
 */
export class RecoveryStore {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO recovery_sessions (${SESSION_COLUMNS})
         VALUES (@id, @userId, @userName, @flow, 'verifying', @privileged, @requirement, '[]', @now, @now, @expiresAt, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
      ),
      get: db.prepare(`SELECT ${SESSION_COLUMNS} FROM recovery_sessions WHERE id = ?`),
      active: db.prepare(`SELECT ${SESSION_COLUMNS} FROM recovery_sessions WHERE user_id = ? AND state IN ('verifying', 'verified') ORDER BY created_at`),
      latest: db.prepare(`SELECT ${SESSION_COLUMNS} FROM recovery_sessions WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`),
      completing: db.prepare(`SELECT ${SESSION_COLUMNS} FROM recovery_sessions WHERE state = 'completing' ORDER BY created_at, id`),
      transition: db.prepare(
        `UPDATE recovery_sessions SET state = @to, updated_at = @now, outcome = coalesce(@outcome, outcome),
           verified_at = CASE WHEN @to = 'verified' AND @from <> 'completing' THEN @now ELSE verified_at END,
           completed_at = CASE WHEN @to = 'completed' THEN @now ELSE completed_at END,
           expires_at = coalesce(@expiresAt, expires_at)
         WHERE id = @id AND state = @from`,
      ),
      extend: db.prepare(`UPDATE recovery_sessions SET expires_at = @expiresAt, updated_at = @now WHERE id = @id AND state IN ('verifying', 'verified')`),
      setLost: db.prepare(`UPDATE recovery_sessions SET lost_methods = @lost, updated_at = @now WHERE id = @id AND state = 'verifying'`),
      shown: db.prepare(
        `UPDATE recovery_sessions SET secret_activity_id = @activityId, secret_shown_at = @now, secret_expires_at = @expiresAt, updated_at = @now
         WHERE id = @id AND secret_activity_id IS NULL`,
      ),
      hidden: db.prepare(
        `UPDATE recovery_sessions SET secret_hidden_at = @now, updated_at = @now WHERE id = @id AND secret_activity_id IS NOT NULL AND secret_hidden_at IS NULL`,
      ),
      addVerification: db.prepare(
        `INSERT INTO recovery_verifications (${VERIFICATION_COLUMNS})
         VALUES (@sessionId, @method, 'pending', @verifierId, @verifierName, @now, @challengeExpiresAt, NULL)
         ON CONFLICT (session_id, method) DO NOTHING`,
      ),
      verifications: db.prepare(`SELECT ${VERIFICATION_COLUMNS} FROM recovery_verifications WHERE session_id = ? ORDER BY requested_at, method`),
      verification: db.prepare(`SELECT ${VERIFICATION_COLUMNS} FROM recovery_verifications WHERE session_id = ? AND method = ?`),
      decide: db.prepare(
        `UPDATE recovery_verifications SET state = @to, verifier_id = @verifierId, verifier_name = @verifierName, decided_at = @now
         WHERE session_id = @sessionId AND method = @method AND state = 'pending'`,
      ),
      challenge: db.prepare(
        `UPDATE recovery_verifications SET challenge_expires_at = @challengeExpiresAt WHERE session_id = @sessionId AND method = @method AND state = 'pending'`,
      ),
      closePending: db.prepare(`UPDATE recovery_verifications SET state = @to, decided_at = @now WHERE session_id = @sessionId AND state = 'pending'`),
      event: db.prepare('INSERT INTO recovery_events (user_id, kind, flow, at) VALUES (?, ?, ?, ?)'),
      countEvents: db.prepare('SELECT count(*) FROM recovery_events WHERE user_id = ? AND kind = ? AND at > ?').pluck(),
      lock: db.prepare('INSERT OR IGNORE INTO recovery_lockouts (user_id, locked_at, until) VALUES (?, ?, ?)'),
      lockedUntil: db.prepare('SELECT max(until) FROM recovery_lockouts WHERE user_id = ? AND until > ?').pluck(),
      lastStep: db.prepare('SELECT last_step FROM totp_steps WHERE user_id = ? AND method_id = ?').pluck(),
      useStep: db.prepare(
        `INSERT INTO totp_steps (user_id, method_id, last_step) VALUES (@userId, @methodId, @step)
         ON CONFLICT (user_id, method_id) DO UPDATE SET last_step = excluded.last_step WHERE totp_steps.last_step < excluded.last_step`,
      ),
    };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Starts a recovery in `verifying`; returns it with its new id. */
  create(r: { userId: string; userName: string; flow: RecoveryFlow; privileged: boolean; requirement: Requirement; expiresAt: Date }): RecoverySession {
    for (let attempt = 0; ; attempt++) {
      const id = `SR-${Array.from({ length: 8 }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join('')}`;
      try {
        this.s.insert.run({
          id,
          userId: r.userId,
          userName: r.userName,
          flow: r.flow,
          privileged: r.privileged ? 1 : 0,
          requirement: JSON.stringify(r.requirement),
          now: this.now(),
          expiresAt: r.expiresAt.toISOString(),
        });
        return this.get(id)!;
      } catch (err) {
        // Forty random bits: a collision is a freak, so one more try is plenty.
        if (attempt < 3 && (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') continue;
        throw err;
      }
    }
  }

  get(id: string): RecoverySession | null {
    return toSession(this.s.get.get(id));
  }

  /** The user's recoveries still in progress (verifying or verified), oldest first. */
  activeFor(userId: string): RecoverySession[] {
    return this.s.active.all(userId).map((r) => toSession(r)!);
  }

  /** Recoveries whose change was being made (`completing`), oldest first. */
  completing(): RecoverySession[] {
    return this.s.completing.all().map((r) => toSession(r)!);
  }

  /** The user's most recent recovery, in any state. */
  latestFor(userId: string): RecoverySession | null {
    return toSession(this.s.latest.get(userId));
  }

  /**
   * Moves a recovery from `from` to `to` (a one-time claim): false when it was not in `from`
   * any more. `outcome` records why it ended; `expiresAt` gives it a new deadline.
   */
  transition(id: string, from: RecoveryState, to: RecoveryState, patch: { outcome?: string; expiresAt?: Date } = {}): boolean {
    return (
      this.s.transition.run({ id, from, to, now: this.now(), outcome: patch.outcome ?? null, expiresAt: patch.expiresAt?.toISOString() ?? null }).changes === 1
    );
  }

  /** A new deadline for a recovery in progress. */
  extend(id: string, expiresAt: Date): void {
    this.s.extend.run({ id, expiresAt: expiresAt.toISOString(), now: this.now() });
  }

  /** The methods the user lost (MFA recovery), while it is still being verified. */
  setLostMethods(id: string, lost: readonly LostMethod[]): boolean {
    return this.s.setLost.run({ id, lost: JSON.stringify(lost), now: this.now() }).changes === 1;
  }

  /** Records the message that shows the secret (its id only); false if one was recorded already. */
  secretShown(id: string, activityId: string, expiresAt: Date | null): boolean {
    return this.s.shown.run({ id, activityId, expiresAt: expiresAt?.toISOString() ?? null, now: this.now() }).changes === 1;
  }

  /** Claims the hiding of the secret's message: true once, false when it was hidden already. */
  claimSecretHidden(id: string): boolean {
    return this.s.hidden.run({ id, now: this.now() }).changes === 1;
  }

  /** Asks for one verification (no-op when it was asked already). */
  addVerification(v: { sessionId: string; method: VerificationMethod; verifierId?: string | null; verifierName?: string | null; challengeExpiresAt?: Date | null }): boolean {
    return (
      this.s.addVerification.run({
        sessionId: v.sessionId,
        method: v.method,
        verifierId: v.verifierId ?? null,
        verifierName: v.verifierName ?? null,
        challengeExpiresAt: v.challengeExpiresAt?.toISOString() ?? null,
        now: this.now(),
      }).changes === 1
    );
  }

  verifications(sessionId: string): Verification[] {
    return this.s.verifications.all(sessionId).map((r) => toVerification(r)!);
  }

  verification(sessionId: string, method: VerificationMethod): Verification | null {
    return toVerification(this.s.verification.get(sessionId, method));
  }

  /** Decides a pending verification (a one-time claim): false when it was not pending any more. */
  decideVerification(sessionId: string, method: VerificationMethod, to: 'confirmed' | 'declined', by: { id: string | null; name: string | null }): boolean {
    return this.s.decide.run({ sessionId, method, to, verifierId: by.id, verifierName: by.name, now: this.now() }).changes === 1;
  }

  /** A new answer window for a pending code prompt. */
  renewChallenge(sessionId: string, method: VerificationMethod, challengeExpiresAt: Date): void {
    this.s.challenge.run({ sessionId, method, challengeExpiresAt: challengeExpiresAt.toISOString() });
  }

  /** Ends every verification still pending (the recovery expired or ended). */
  closePendingVerifications(sessionId: string, to: 'expired' | 'cancelled'): number {
    return this.s.closePending.run({ sessionId, to, now: this.now() }).changes;
  }

  recordEvent(userId: string, kind: RecoveryEventKind, flow: RecoveryFlow): void {
    this.s.event.run(userId, kind, flow, this.now());
  }

  /** How many events of `kind` the user had after `since`. */
  countEvents(userId: string, kind: RecoveryEventKind, since: Date): number {
    return this.s.countEvents.get(userId, kind, since.toISOString()) as number;
  }

  /** Locks self-service for the user until `until`. */
  lockOut(userId: string, until: Date): void {
    this.s.lock.run(userId, this.now(), until.toISOString());
  }

  /** The end of the user's current self-service lockout, or null. */
  lockedUntil(userId: string, now: Date = this.clock()): string | null {
    return (this.s.lockedUntil.get(userId, now.toISOString()) as string | null) ?? null;
  }

  /** The last accepted time step of an authenticator, or null. */
  lastTotpStep(userId: string, methodId: string): number | null {
    return (this.s.lastStep.get(userId, methodId) as number | undefined) ?? null;
  }

  /** Records a time step as used: false when it (or a later one) was used already (a replay). */
  useTotpStep(userId: string, methodId: string, step: number): boolean {
    return this.s.useStep.run({ userId, methodId, step }).changes === 1;
  }
}

function toSession(row: unknown): RecoverySession | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as string,
    userId: r.user_id as string,
    userName: r.user_name as string,
    flow: r.flow as RecoveryFlow,
    state: r.state as RecoveryState,
    privileged: r.privileged === 1,
    requirement: JSON.parse(r.requirement as string),
    lostMethods: JSON.parse(r.lost_methods as string),
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    expiresAt: r.expires_at as string,
    verifiedAt: (r.verified_at as string | null) ?? null,
    completedAt: (r.completed_at as string | null) ?? null,
    outcome: (r.outcome as string | null) ?? null,
    secretActivityId: (r.secret_activity_id as string | null) ?? null,
    secretShownAt: (r.secret_shown_at as string | null) ?? null,
    secretHiddenAt: (r.secret_hidden_at as string | null) ?? null,
    secretExpiresAt: (r.secret_expires_at as string | null) ?? null,
  };
}

function toVerification(row: unknown): Verification | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    sessionId: r.session_id as string,
    method: r.method as VerificationMethod,
    state: r.state as VerificationState,
    verifierId: (r.verifier_id as string | null) ?? null,
    verifierName: (r.verifier_name as string | null) ?? null,
    requestedAt: r.requested_at as string,
    challengeExpiresAt: (r.challenge_expires_at as string | null) ?? null,
    decidedAt: (r.decided_at as string | null) ?? null,
  };
}
