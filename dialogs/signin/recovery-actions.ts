import { CardFactory, MessageFactory, type ConversationReference } from 'botbuilder';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import type { RecoveryConfig } from '../../bot/recovery-config';
import { APP_NAME } from '../../bot/deps';
import type { Logger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import { ConflictError, isDefiniteRefusal, NotFoundError, type AuthMethodKind, type Directory, type DirectoryUser } from '../../directory/directory';
import type { AuditActor } from '../../store/audit-trail';
import type { LostMethod, RecoverySession, VerificationMethod } from '../../store/recovery';
import type { Store } from '../../store/store';
import { recentlyEnabled, type PrivilegedResolver } from '../privileged';
import { INTENT_ACTIONS, intentDetails, OUTCOME_ACTIONS, recordIntent, type IntentAction, type ReconciledOutcome } from '../effect-intents';
import type { AuditEvent } from '../../store/audit-trail';
import { describeMethod } from './cards';
import { generateTemporaryPassword } from './password';

/** Durable jobs of sign-in recovery; their payloads hold ids only, never a secret. */
export const SIGNIN_JOBS = {
  notifyVerifier: 'signin.notify-verifier',
  updateCards: 'signin.update-cards',
  tellUser: 'signin.tell-user',
  hideSecret: 'signin.hide-secret',
  expire: 'signin.expire',
  noticeInterrupted: 'signin.notice-interrupted',
  reconcile: 'signin.reconcile',
} as const;

export const SIGNIN_SYSTEM: AuditActor = { id: 'system', name: APP_NAME };

/** Where a card with a secret landed: its message id and conversation, never the secret. */
export interface Delivered {
  activityId: string;
  reference: Partial<ConversationReference>;
}

/** Sends a card into the 1:1 chat of the person who may see its secret, and says where it landed. */
export type Deliver = (card: AdaptiveCardJson) => Promise<Delivered>;

/**
 * Who established that the subject is who they say, before a recovery action. This is the
 * one thing the employee's flow and the technicians' commands do differently; the action
 * itself (how a password is made and set, a pass issued, methods removed, an account
 * unlocked, what is audited, where the secret goes and when it is hidden) is the same.
 */
export type RecoveryVerification =
  | {
      /** The user themself, in their own recovery, verified under the recovery policy (codes, sign-in, manager, technician). */
      kind: 'self-service';
      /** The recovery, claimed for completion (`completing`). */
      session: RecoverySession;
    }
  | {
      /**
       * An identity technician verified the user (in person or by phone) and acts for them. For
       * a member of a privileged group a second, different technician must have approved
       * (four eyes); the subject is never their own technician.
       */
      kind: 'technician';
      technician: AuditActor;
      approvedBy: AuditActor | null;
      /** The technician's plan: the correlation id of every event. */
      correlationId: string;
    };

/** A secret to show once. */
export type Secret =
  | { kind: 'password'; password: string }
  | { kind: 'pass'; pass: string; expiresAt: Date; oneTime: boolean; removed: string[]; kept: string[] };

/**
 * Where a secret goes: the card that shows it to the person who may see it (the user in
 * self-service, the acting technician otherwise), their own 1:1 chat, and how the message is
 * remembered (its id only) so that it can be replaced later.
 */
export interface SecretOutlet {
  card(secret: Secret, hideAt: Date): AdaptiveCardJson;
  deliver: Deliver;
  /** Inside the transaction after delivery: keeps the message id and schedules its replacement at `hideAt`. */
  remember(delivered: Delivered, hideAt: Date, secretExpiresAt: Date | null): void;
}

/** A message that showed a secret, to be replaced by `hiddenCard`. */
export interface ShownSecret {
  correlationId: string;
  subjectId: string;
  activityId: string;
  reference: Partial<ConversationReference>;
  hiddenCard: AdaptiveCardJson;
  /** The one-time claim, in the store, that it is hidden. */
  claimHidden(): boolean;
}

/**
 * The directory did not answer a change in a way that says whether it was made (a timeout, a
 * 5xx, a connection closed after the request was sent): its intent stays open, to be
 * reconciled by re-reading the directory, never recorded as failed. `cause` is the error.
 */
export class EffectUncertainError extends Error {
  constructor(override readonly cause: unknown) {
    super(`The directory did not say whether the change was made: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'EffectUncertainError';
  }
}

/** The action was not made: the verification does not allow it (the reason is in the message). */
export class VerificationRequiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerificationRequiredError';
  }
}

export interface RecoveryActionsDeps {
  recovery: RecoveryConfig;
  maxJobAttempts: number;
  store: Store;
  directory: Directory;
  notifier: Notifier;
  logger: Logger;
  clock: () => Date;
  /** The one answer to "is this account privileged?" (groups, technicians, directory roles). */
  privileged: PrivilegedResolver;
}

export interface MethodRemoval {
  removed: LostMethod[];
  /** Methods the directory would not remove (the default while others could replace it). */
  kept: Array<{ method: LostMethod; reason: string }>;
  /** Methods that failed otherwise (throttling, permissions), with the error. */
  failures: Array<{ method: LostMethod; error: unknown }>;
}

/** Whether the secret's card reached its chat; `error` when it did not. */
export interface SecretShown {
  delivered: boolean;
  error?: unknown;
}

export interface PassIssued extends SecretShown {
  validUntil: Date;
  lifetimeMinutes: number;
  oneTime: boolean;
}

/**
 * The actions of sign-in recovery, used by the employee's self-service flow
 * (`RecoveryService`) and by the identity technicians' `reset-password`, `tap`, `unlock` and
 * `mfa-reset`: one implementation of each, with the verification as a parameter.
 *
 * - A temporary password comes from `generateTemporaryPassword` at `RECOVERY_PASSWORD_LENGTH`
 *   and is set with change at next sign-in; a Temporary Access Pass lasts
 *   `RECOVERY_TAP_MINUTES` (unless the caller names another lifetime in 10-43200) and is
 *   one-time per `RECOVERY_TAP_ONE_TIME`; lost methods are removed the default last, and
 *   sign-in sessions revoked when one was.
 * - Each action is one audit event (`signin.password-reset`, `signin.tap-issued`,
 *   `signin.methods-removed`, `signin.unlocked`) with the same details whoever acted, `verifiedBy`
 *   saying by whom; the actor is the user in self-service, the technician otherwise.
 * - Before each directory change its intent is on record (`signin.password-reset-attempted`,
 *   `signin.tap-attempted`, `signin.methods-removal-attempted`, `signin.sessions-revoke-attempted`,
 *   `signin.unlock-attempted`; in self-service in a transaction that re-checks the claim), and
 *   the outcome names it (`attempt`/`attempts`; `signin.effect-error` when the directory
 *   refused). What a stop leaves open is reconciled at the next start ({@link reconcile}).
 * - The secret exists only between the directory call and the card sent to the 1:1 chat of
 *   the person acting: never logged, audited, stored or put in a job. Of the message only its
 *   id is kept, and it is replaced after `RECOVERY_SECRET_VISIBLE_MINUTES`
 *   (`signin.secret-hidden`).
 */
export class RecoveryActions {
  constructor(private readonly d: RecoveryActionsDeps) {}

  private get cfg(): RecoveryConfig {
    return this.d.recovery;
  }

  private now(): Date {
    return this.d.clock();
  }

  /** Whether `user` is privileged (the one resolver: groups, technicians, directory roles; fail closed). */
  async isPrivileged(user: Pick<DirectoryUser, 'id'>): Promise<boolean> {
    return this.d.privileged.isPrivileged(user.id);
  }

  // ---- the actions -------------------------------------------------------------------------

  /** A temporary password, set with change at next sign-in, shown once through `outlet`. */
  async resetPassword(subject: DirectoryUser, v: RecoveryVerification, outlet: SecretOutlet): Promise<SecretShown> {
    await this.check(subject, v);
    const password = generateTemporaryPassword(this.cfg.passwordLength);
    // What the directory says before: after a stop, a different last change is this reset.
    const before = (await this.d.directory.getSignInState(subject.id)).lastPasswordChange;
    const attempt = this.intend(subject, v, INTENT_ACTIONS.passwordReset, { changedBefore: before });
    await this.effect(subject, v, attempt, () => this.d.directory.resetPassword(subject.id, password, true));
    this.record(subject, v, [{ action: 'signin.password-reset', details: { forceChangeAtNextSignIn: true, verifiedBy: this.verifiedBy(v), attempt } }]);
    return this.showSecret(v, outlet, { kind: 'password', password }, null);
  }

  /**
   * Removes the `lost` methods (none for a plain pass), issues a Temporary Access Pass and,
   * when a method was removed, revokes the user's sessions (a lost phone may still be signed
   * in). A removal that fails for another reason than order stops it before the pass, with
   * what was removed on record.
   */
  async issuePass(
    subject: DirectoryUser,
    v: RecoveryVerification,
    options: { lost?: readonly LostMethod[]; lifetimeMinutes?: number },
    outlet: SecretOutlet,
  ): Promise<PassIssued> {
    await this.check(subject, v);
    const removalAttempt = options.lost?.length ? this.intend(subject, v, INTENT_ACTIONS.methodsRemoval, { methods: options.lost.map((m) => ({ id: m.id, kind: m.kind })) }) : null;
    const removal = options.lost?.length ? await this.removeListed(subject.id, options.lost) : { removed: [], kept: [], failures: [] };
    // A removal that may have been made: its intent stays open for the directory to settle, no pass is issued.
    const uncertain = removal.failures.find((f) => !isDefiniteRefusal(f.error));
    if (uncertain) throw new EffectUncertainError(uncertain.error);
    if (removal.failures.length) {
      this.auditPartialRemoval(subject, v, removal.removed, removalAttempt);
      throw removal.failures[0]!.error;
    }
    // The passes there before: one that is new after a stop was created by this attempt.
    const existing = (await this.d.directory.listAuthMethods(subject.id)).filter((m) => m.kind === 'temporaryAccessPass').map((m) => m.id);
    const tapAttempt = this.intend(subject, v, INTENT_ACTIONS.tap, { existing });
    let tap: Awaited<ReturnType<Directory['createTemporaryAccessPass']>>;
    try {
      tap = await this.d.directory.createTemporaryAccessPass(subject.id, {
        lifetimeInMinutes: options.lifetimeMinutes ?? this.cfg.tap.lifetimeMinutes,
        isUsableOnce: this.cfg.tap.oneTime,
      });
    } catch (err) {
      // What was removed stays removed: it is on record before the failure is.
      this.auditPartialRemoval(subject, v, removal.removed, removalAttempt);
      // A pass that may exist (its answer lost) is settled by re-reading the directory, not "failed".
      if (!isDefiniteRefusal(err)) throw new EffectUncertainError(err);
      this.effectError(subject, v, tapAttempt, err);
      throw err;
    }
    const validUntil = new Date(new Date(tap.startDateTime).getTime() + tap.lifetimeInMinutes * 60_000);
    const revoked = removal.removed.length ? await this.revokeAfterRemoval(subject, v) : { revoked: false, attempt: null };
    const attempts = [removalAttempt, revoked.attempt].filter((a): a is number => a !== null);
    this.record(subject, v, [
      ...(removal.removed.length || removal.kept.length || attempts.length
        ? [{ action: 'signin.methods-removed', details: { ...this.removalDetails(removal, revoked.revoked), attempts } }]
        : []),
      {
        action: 'signin.tap-issued',
        details: { lifetimeMinutes: tap.lifetimeInMinutes, oneTime: tap.isUsableOnce, validUntil: validUntil.toISOString(), verifiedBy: this.verifiedBy(v), attempt: tapAttempt },
      },
    ]);
    const shown = await this.showSecret(
      v,
      outlet,
      {
        kind: 'pass',
        pass: tap.pass,
        expiresAt: validUntil,
        oneTime: tap.isUsableOnce,
        removed: removal.removed.map((m) => describeMethod(m)),
        kept: removal.kept.map((k) => describeMethod(k.method)),
      },
      validUntil,
    );
    return { ...shown, validUntil, lifetimeMinutes: tap.lifetimeInMinutes, oneTime: tap.isUsableOnce };
  }

  /**
   * Removes `methods` (the default last) and revokes every session when one was removed:
   * what a technician's MFA reset is. Each failure is reported, the others go on.
   */
  async removeMethods(subject: DirectoryUser, v: RecoveryVerification, methods: readonly LostMethod[]): Promise<MethodRemoval & { sessionsRevoked: boolean }> {
    await this.check(subject, v);
    const removalAttempt = methods.length ? this.intend(subject, v, INTENT_ACTIONS.methodsRemoval, { methods: methods.map((m) => ({ id: m.id, kind: m.kind })) }) : null;
    const removal = await this.removeListed(subject.id, methods);
    const revoked = removal.removed.length ? await this.revokeAfterRemoval(subject, v) : { revoked: false, attempt: null };
    const uncertain = removal.failures.find((f) => !isDefiniteRefusal(f.error));
    if (uncertain) {
      // The sessions' outcome is known and closed here; the removal's intent stays open for the directory to settle.
      if (revoked.attempt !== null) {
        this.audit(this.actorOf(subject, v), 'signin.sessions-revoked', subject.id, revoked.revoked ? 'success' : 'failure', this.correlationOf(v), { revoked: revoked.revoked, attempts: [revoked.attempt] });
      }
      throw new EffectUncertainError(uncertain.error);
    }
    const attempts = [removalAttempt, revoked.attempt].filter((a): a is number => a !== null);
    if (removal.removed.length || removal.kept.length || removal.failures.length || attempts.length) {
      this.record(subject, v, [
        {
          action: 'signin.methods-removed',
          details: { ...this.removalDetails(removal, revoked.revoked), attempts },
          outcome: removal.removed.length || !removal.failures.length ? 'success' : 'failure',
        },
      ]);
    }
    return { ...removal, sessionsRevoked: revoked.revoked };
  }

  /** Clears the lockout. */
  async unlock(subject: DirectoryUser, v: RecoveryVerification): Promise<void> {
    await this.check(subject, v);
    const attempt = this.intend(subject, v, INTENT_ACTIONS.unlock);
    await this.effect(subject, v, attempt, () => this.d.directory.unlockAccount(subject.id));
    this.record(subject, v, [{ action: 'signin.unlocked', details: { verifiedBy: this.verifiedBy(v), attempt } }]);
  }

  // ---- the secret's message ------------------------------------------------------------------

  /** The timer's turn: the message is replaced first, then the hiding recorded (once), so a failed update is tried again. */
  async hideByTimer(shown: ShownSecret): Promise<void> {
    await this.d.notifier.update(shown.reference, shown.activityId, MessageFactory.attachment(CardFactory.adaptiveCard(shown.hiddenCard)));
    this.d.store.transaction(() => {
      if (shown.claimHidden()) this.audit(SIGNIN_SYSTEM, 'signin.secret-hidden', shown.subjectId, 'success', shown.correlationId, { by: 'timer' });
    });
  }

  /** "I have it": the person who saw it hides it now (the click's answer replaces the message). */
  hideNow(shown: Pick<ShownSecret, 'correlationId' | 'subjectId' | 'claimHidden'>, actor: AuditActor, by: 'user' | 'technician'): void {
    this.d.store.transaction(() => {
      if (shown.claimHidden()) this.audit(actor, 'signin.secret-hidden', shown.subjectId, 'success', shown.correlationId, { by });
    });
  }

  // ---- inside --------------------------------------------------------------------------------

  /** The verification must allow the action on this subject now; else nothing is done. */
  private async check(subject: DirectoryUser, v: RecoveryVerification): Promise<void> {
    if (v.kind === 'self-service') {
      if (v.session.userId !== subject.id || v.session.state !== 'completing') {
        throw new VerificationRequiredError(`Recovery ${v.session.id} is not a verified recovery of ${subject.displayName}.`);
      }
      return;
    }
    if (!v.technician.id || v.technician.id === subject.id) throw new VerificationRequiredError('A technician cannot verify their own identity: another technician must act.');
    const second = v.approvedBy;
    if (second?.id && second.id !== v.technician.id && second.id !== subject.id) return;
    // Checked again here, whatever the plan said: a privileged account, or one enabled in the
    // last 24 hours (enable then a new credential is a takeover), never by one technician alone.
    if (await this.isPrivileged(subject)) {
      throw new VerificationRequiredError(`${subject.displayName} is a privileged account: a second, different identity technician must approve this first (four eyes).`);
    }
    if (recentlyEnabled(this.d.store, subject.id, this.now())) {
      throw new VerificationRequiredError(`${subject.displayName} was enabled in the last 24 hours: a second, different identity technician must approve this first (four eyes).`);
    }
  }

  private actorOf(subject: DirectoryUser, v: RecoveryVerification): AuditActor {
    return v.kind === 'self-service' ? { id: subject.id, name: subject.displayName } : v.technician;
  }

  private correlationOf(v: RecoveryVerification): string {
    return v.kind === 'self-service' ? v.session.id : v.correlationId;
  }

  /** Who verified: the recovery's confirmed checks, or the technician (and the second one). */
  private verifiedBy(v: RecoveryVerification): Array<{ method: VerificationMethod; by: string | null }> {
    if (v.kind === 'technician') {
      return [v.technician, ...(v.approvedBy ? [v.approvedBy] : [])].map((t) => ({ method: 'technician' as const, by: t.name }));
    }
    return this.d.store.recovery
      .verifications(v.session.id)
      .filter((x) => x.state === 'confirmed')
      .map((x) => ({ method: x.method, by: x.method === 'manager' || x.method === 'technician' ? x.verifierName : null }));
  }

  /**
   * The action's audit events, in one transaction; in self-service with the recovery's
   * completion (counted for the daily limit) and the update of its cards.
   */
  private record(subject: DirectoryUser, v: RecoveryVerification, events: Array<{ action: string; details: Record<string, unknown>; outcome?: 'success' | 'failure' }>): void {
    const actor = this.actorOf(subject, v);
    const correlationId = this.correlationOf(v);
    this.d.store.transaction(() => {
      for (const e of events) this.audit(actor, e.action, subject.id, e.outcome ?? 'success', correlationId, e.details);
      if (v.kind !== 'self-service') return;
      this.d.store.recovery.transition(v.session.id, 'completing', 'completed', { outcome: 'done' });
      this.d.store.recovery.recordEvent(subject.id, 'completed', v.session.flow);
      this.d.store.jobs.schedule({ kind: SIGNIN_JOBS.updateCards, requestId: v.session.id, runAt: this.now(), payload: {}, dedupeKey: null, maxAttempts: this.d.maxJobAttempts });
    });
  }

  private auditPartialRemoval(subject: DirectoryUser, v: RecoveryVerification, removed: LostMethod[], attempt: number | null): void {
    if (!removed.length && attempt === null) return;
    this.audit(this.actorOf(subject, v), 'signin.methods-removed', subject.id, removed.length ? 'success' : 'failure', this.correlationOf(v), {
      removed: removed.map((r) => describeMethod(r)),
      incomplete: true,
      ...(attempt !== null ? { attempt } : {}),
    });
  }

  /**
   * The intent of a directory change, before it is made: in self-service in a transaction
   * that re-checks the recovery's claim (`completing`), so no change is on its way without a
   * claim and its intent on record (synchronous=FULL: on disk before the directory is called).
   */
  private intend(subject: DirectoryUser, v: RecoveryVerification, action: IntentAction, details: Record<string, unknown> = {}): number {
    return this.d.store.transaction(() => {
      if (v.kind === 'self-service' && this.d.store.recovery.get(v.session.id)?.state !== 'completing') {
        throw new VerificationRequiredError(`Recovery ${v.session.id} is no longer being completed.`);
      }
      return recordIntent(this.d.store.audit, this.actorOf(subject, v), action, subject.id, this.correlationOf(v), this.now(), details);
    });
  }

  /**
   * Makes a change; a refusal from the directory is its attempt's outcome on record (then
   * thrown on). An error that may hide a change that was made leaves the intent open and
   * throws {@link EffectUncertainError}: the caller re-reads the directory.
   */
  private async effect<T>(subject: DirectoryUser, v: RecoveryVerification, attempt: number, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } catch (err) {
      if (!isDefiniteRefusal(err)) throw new EffectUncertainError(err);
      this.effectError(subject, v, attempt, err);
      throw err;
    }
  }

  private effectError(subject: DirectoryUser, v: RecoveryVerification, attempt: number, err: unknown): void {
    try {
      this.audit(this.actorOf(subject, v), OUTCOME_ACTIONS.effectError, subject.id, 'failure', this.correlationOf(v), { attempt, error: (err as Error)?.name ?? 'Error' });
    } catch (e) {
      this.d.logger.error({ correlationId: this.correlationOf(v), err: { message: (e as Error).message } }, 'the outcome of a directory change could not be recorded');
    }
  }

  // ---- after a stop --------------------------------------------------------------------------

  /**
   * What the directory shows of an intent whose outcome was never recorded (the process
   * stopped in between): a password changed after it, a pass that was not there before, the
   * methods gone, the lockout cleared. Sessions leave no trace: unknown. Throws when the
   * directory does not answer (try again later).
   */
  async reconcile(intent: AuditEvent, subjectId: string): Promise<{ outcome: ReconciledOutcome; details: Record<string, unknown> }> {
    const d = intentDetails(intent);
    // The directory keeps whole seconds.
    const at = Math.floor(new Date(d.at).getTime() / 1000) * 1000;
    switch (intent.action) {
      case INTENT_ACTIONS.passwordReset: {
        const state = await this.d.directory.getSignInState(subjectId);
        if (!state.lastPasswordChange) return { outcome: 'unknown', details: { reason: 'no last password change in the directory' } };
        // Against what the directory said just before the call when on record (no clock to trust), else the intent's time.
        const changed =
          typeof d.changedBefore === 'string' || d.changedBefore === null
            ? state.lastPasswordChange !== d.changedBefore && (d.changedBefore === null || new Date(state.lastPasswordChange).getTime() > new Date(d.changedBefore).getTime())
            : new Date(state.lastPasswordChange).getTime() >= at;
        return { outcome: changed ? 'done' : 'not-done', details: { directoryChangedAt: state.lastPasswordChange, changeRequired: state.passwordChangeRequired } };
      }
      case INTENT_ACTIONS.tap: {
        const before = new Set(Array.isArray(d.existing) ? (d.existing as string[]) : []);
        const passes = (await this.d.directory.listAuthMethods(subjectId)).filter((m) => m.kind === 'temporaryAccessPass');
        return { outcome: passes.some((p) => !before.has(p.id)) ? 'done' : 'not-done', details: {} };
      }
      case INTENT_ACTIONS.methodsRemoval: {
        const wanted = Array.isArray(d.methods) ? (d.methods as Array<{ id: string }>) : [];
        const current = new Set((await this.d.directory.listAuthMethods(subjectId)).map((m) => m.id));
        const gone = wanted.filter((m) => !current.has(m.id)).length;
        return { outcome: gone === 0 ? 'not-done' : 'done', details: { removed: gone, of: wanted.length } };
      }
      case INTENT_ACTIONS.unlock: {
        const state = await this.d.directory.getSignInState(subjectId);
        return { outcome: state.lockSupported && state.locked ? 'not-done' : 'done', details: {} };
      }
      default:
        return { outcome: 'unknown', details: { reason: 'the directory does not show whether it was done' } };
    }
  }

  private removalDetails(removal: MethodRemoval, sessionsRevoked: boolean): Record<string, unknown> {
    return {
      removed: removal.removed.map((r) => describeMethod(r)),
      kept: removal.kept.map((k) => ({ method: describeMethod(k.method), reason: k.reason })),
      sessionsRevoked,
      ...(removal.failures.length ? { failed: removal.failures.map((f) => describeMethod(f.method)) } : {}),
    };
  }

  /**
   * Removes the listed methods that are still registered, the default last (the directory
   * refuses it while another method could replace it). One that is refused for its order is
   * tried once more after the others; one already gone is no failure.
   */
  private async removeListed(userId: string, methods: readonly LostMethod[]): Promise<MethodRemoval> {
    const current = await this.d.directory.listAuthMethods(userId);
    let pending = methods.filter((l) => l.kind !== 'password' && current.some((c) => c.id === l.id)).sort((a, b) => Number(a.isDefault) - Number(b.isDefault));
    const out: MethodRemoval = { removed: [], kept: [], failures: [] };
    for (let round = 0; round < 2 && pending.length; round++) {
      const again: LostMethod[] = [];
      for (const m of pending) {
        try {
          await this.d.directory.deleteAuthMethod(userId, m.kind as AuthMethodKind, m.id);
          out.removed.push(m);
        } catch (err) {
          if (err instanceof NotFoundError) continue;
          if (err instanceof ConflictError) {
            if (round === 0) again.push(m);
            else out.kept.push({ method: m, reason: 'default method while others remain' });
          } else out.failures.push({ method: m, error: err });
        }
      }
      pending = again;
    }
    return out;
  }

  /** Sessions revoked after a removal; a failure is logged (the removal stands) and reported as not revoked. */
  private async revokeAfterRemoval(subject: DirectoryUser, v: RecoveryVerification): Promise<{ revoked: boolean; attempt: number }> {
    const attempt = this.intend(subject, v, INTENT_ACTIONS.sessionsRevoke);
    try {
      await this.d.directory.revokeSessions(subject.id);
      return { revoked: true, attempt };
    } catch (err) {
      this.d.logger.warn({ correlationId: this.correlationOf(v), err: { name: (err as Error).name, message: (err as Error).message } }, 'revoking sign-in sessions after removing methods failed');
      return { revoked: false, attempt };
    }
  }

  /** Sends the secret's card through `outlet`; keeps only the message id and schedules its hiding. */
  private async showSecret(v: RecoveryVerification, outlet: SecretOutlet, secret: Secret, secretExpiresAt: Date | null): Promise<SecretShown> {
    const hideAt = new Date(this.now().getTime() + this.cfg.secretVisibleMinutes * 60_000);
    let delivered: Delivered;
    try {
      delivered = await outlet.deliver(outlet.card(secret, hideAt));
    } catch (err) {
      // The change is made and audited; a new secret needs the action again.
      this.d.logger.error({ correlationId: this.correlationOf(v), err: { name: (err as Error).name, message: (err as Error).message } }, 'the card with the secret could not be delivered');
      return { delivered: false, error: err };
    }
    this.d.store.transaction(() => outlet.remember(delivered, hideAt, secretExpiresAt));
    return { delivered: true };
  }

  private audit(actor: AuditActor, action: string, target: string | null, outcome: 'success' | 'failure' | 'refused', correlationId: string | null, details: Record<string, unknown>): void {
    this.d.store.audit.append({ actor, action, target, outcome, correlationId, details });
  }
}
