import { ActivityTypes, CardFactory, MessageFactory, type Activity, type ConversationReference } from 'botbuilder';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import { renderSigninNotice, type CardAction, type Fact, type Tone } from '../../adaptive-cards/signin';
import type { Logger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import type { RecoveryConfig } from '../../bot/recovery-config';
import { DIRECTORY_LANE, PermanentJobError, type Scheduler, type TechnicianNotices } from '../../bot/scheduler';
import { openIntents, OUTCOME_ACTIONS, type ReconciledOutcome } from '../effect-intents';
import { resolveResource, type Catalog, type CatalogResource } from '../../directory/catalog';
import { DirectoryError, isDirectoryUnavailable, UnsupportedError, type AuthMethod, type Directory, type DirectoryUser } from '../../directory/directory';
import type { AuditActor } from '../../store/audit-trail';
import type { Job } from '../../store/jobs';
import { ACTIVE_STATES, isRecoveryId, type LostMethod, type RecoveryFlow, type RecoverySession, type VerificationMethod } from '../../store/recovery';
import type { Store } from '../../store/store';
import { formatTime } from '../access-duration';
import type { PrivilegedResolver } from '../privileged';
import { attestCard, attestNotice, defaultCapable, describeMethod, endedCard, FLOW_NAMES, FLOW_TITLES, FLOW_WHAT, hiddenSecretCard, passwordCard, readyCard, removableMethods, tapCard, time, verifyCard } from './cards';
import { isSatisfied, planVerification, usefulMethods, METHOD_NAMES } from './policy';
import { EffectUncertainError, RecoveryActions, SIGNIN_JOBS, SIGNIN_SYSTEM, type Deliver, type SecretOutlet } from './recovery-actions';
import type { Verifier } from './verifier';

export { SIGNIN_JOBS, SIGNIN_SYSTEM, type Deliver } from './recovery-actions';

const DAY_MS = 24 * 3_600_000;
/** Why a step-up sign-in was refused, in the user's words (the reason code follows it). */
const SIGNIN_REFUSALS: Record<string, string> = {
  malformed: 'the sign-in answer was not a token I accept',
  signature: 'it was not signed by your organisation',
  issuer: 'it was not issued by your organisation',
  tenant: 'it is from another organisation',
  audience: 'it was made for another application',
  expired: 'it has expired',
  'not-yet-valid': 'it is not valid yet',
  'other-user': 'someone else signed in, not you',
  'no-mfa': 'the sign-in did not use MFA',
  'stale-mfa': 'your MFA was not recent enough; sign in again with MFA',
};
/** A colleague's report about the same person within this time is not sent again. */
const REPORT_REPEAT_MS = 60 * 60_000;

export interface RecoveryServiceDeps {
  recovery: RecoveryConfig;
  maxJobAttempts: number;
  store: Store;
  directory: Directory;
  logger: Logger;
  clock: () => Date;
  verifier: Verifier;
  notifier: Notifier;
  scheduler: Scheduler;
  technicians: TechnicianNotices;
  /** The one answer to "is this account privileged?" (groups, technicians, directory roles). */
  privileged: PrivilegedResolver;
  catalog: Catalog;
  /** Whether a technicians' channel is known, so a notice reaches someone. */
  techniciansReachable: () => boolean;
}

/** A card for the user, and whether it belongs to a recovery (its message is then kept up to date). */
export interface Reply {
  card: AdaptiveCardJson;
  sessionId?: string;
}

/** A diagnosis finding: what is wrong (or fine) and the next steps. */
export interface Finding {
  code: 'disabled' | 'locked' | 'smart-lockout' | 'password-change-required' | 'recent-reset' | 'no-mfa' | 'synced' | 'missing-group' | 'has-group' | 'nothing-found';
  title: string;
  text: string;
  actions: CardAction[];
}

type Decision = 'confirm' | 'decline';

/**
 * Self-service sign-in recovery: password reset, MFA recovery with a Temporary Access Pass,
 * unlock, and "why can't I sign in". The rules live here; the chat module turns messages and
 * clicks into calls. Every step writes one audit event (correlation id: the recovery id) in
 * the same transaction as the change it records; the jobs it makes necessary are scheduled
 * in that transaction too.
 *
 * The change itself (password, pass, methods, unlock; its audit event; the secret's card in
 * the user's own 1:1 chat, hidden later) is made by {@link RecoveryActions}, the same
 * methods the technicians' commands call with a technician as the verifier.
 */
export class RecoveryService {
  /** The recovery actions, shared with the technicians' commands. */
  readonly actions: RecoveryActions;

  constructor(private readonly d: RecoveryServiceDeps) {
    this.actions = new RecoveryActions({
      recovery: d.recovery,
      maxJobAttempts: d.maxJobAttempts,
      store: d.store,
      directory: d.directory,
      notifier: d.notifier,
      logger: d.logger,
      clock: d.clock,
      privileged: d.privileged,
    });
  }

  private now(): Date {
    return this.d.clock();
  }

  private get cfg(): RecoveryConfig {
    return this.d.recovery;
  }

  private minutesFromNow(minutes: number): Date {
    return new Date(this.now().getTime() + minutes * 60_000);
  }

  // ---- starting ------------------------------------------------------------------------------

  /**
   * Starts a recovery for the acting user: the "verify it's you" card, or the reason it
   * cannot be done here with the next step. A recovery the user had in progress is closed.
   */
  async start(user: DirectoryUser, flow: RecoveryFlow, correlationId: string): Promise<Reply> {
    const actor = actorOf(user);
    const limit = this.limitFor(user.id);
    if (limit) {
      this.audit(actor, 'signin.recovery-refused', user.id, 'refused', correlationId, { flow, reason: limit.reason });
      return { card: limit.card };
    }
    if (!user.accountEnabled) return { card: await this.refuseDisabled(user, flow, correlationId) };
    // A synced account's password lives on-premises: only a backend that reaches it (AD, hybrid) may reset it.
    const reachesOnPremises = this.d.directory.capabilities?.onPremisesAccounts === true;
    if (flow === 'password' && user.onPremisesSyncEnabled && !reachesOnPremises) return { card: await this.refuseSynced(user, flow, correlationId, null) };
    if (flow === 'unlock') {
      const state = await this.d.directory.getSignInState(user.id);
      // An on-premises lockout (AD `lockoutTime`) does not clear in the cloud: a technician with AD access.
      if (!state.lockSupported && user.onPremisesSyncEnabled && !reachesOnPremises) return { card: await this.refuseSynced(user, flow, correlationId, null) };
      if (!state.lockSupported) {
        this.audit(actor, 'signin.recovery-refused', user.id, 'refused', correlationId, { flow, reason: 'no-lockout-in-cloud' });
        return { card: smartLockoutCard() };
      }
      if (!state.locked) {
        this.audit(actor, 'signin.recovery-refused', user.id, 'refused', correlationId, { flow, reason: 'not-locked' });
        return {
          card: renderSigninNotice({
            title: 'Your account is not locked',
            text: 'The directory shows no lockout on your account, so there is nothing to unlock.',
            tone: 'good',
            actions: [diagnoseAction(), startAction('password', 'Reset my password')],
          }),
        };
      }
    }

    const privileged = await this.actions.isPrivileged(user);
    const available = await this.d.verifier.availability(user);
    const plan = planVerification(this.cfg.policy, flow, privileged, available);
    if (!plan.ok) {
      this.audit(actor, 'signin.recovery-refused', user.id, 'refused', correlationId, { flow, reason: plan.reason, privileged, missing: plan.missing });
      return { card: this.noMethodCard(flow, plan.reason, plan.missing, privileged) };
    }

    const expiresAt = this.minutesFromNow(this.cfg.verificationMinutes);
    const session = this.d.store.transaction(() => {
      for (const old of this.d.store.recovery.activeFor(user.id)) this.close(old, 'cancelled', 'superseded', actor);
      const s = this.d.store.recovery.create({ userId: user.id, userName: user.displayName, flow, privileged, requirement: plan.requirement, expiresAt });
      if (s.requirement.slots.some((slot) => slot.includes('code'))) {
        this.d.store.recovery.addVerification({ sessionId: s.id, method: 'code', challengeExpiresAt: this.minutesFromNow(this.cfg.codeMinutes) });
      }
      this.audit(actor, 'signin.recovery-started', user.id, 'success', s.id, {
        flow,
        privileged,
        required: plan.required,
        methods: plan.requirement.slots,
        turn: correlationId,
      });
      this.scheduleExpire(s.id, expiresAt);
      return s;
    });
    this.d.scheduler.kick();
    const methods = flow === 'mfa' ? await this.d.directory.listAuthMethods(user.id) : undefined;
    return { card: verifyCard({ session, verifications: this.d.store.recovery.verifications(session.id), available, methods }), sessionId: session.id };
  }

  /** Records a card the user was sent for a recovery, so later steps can update it in place. */
  rememberCard(sessionId: string, userId: string, activityId: string, reference: Partial<ConversationReference>): void {
    this.d.store.cards.add({ requestId: sessionId, userId, role: 'requester', stage: null, activityId, reference });
  }

  // ---- the user's own checks --------------------------------------------------------------

  /** The user typed an authenticator code into their card. */
  async submitCode(user: DirectoryUser, sessionId: unknown, rawCode: unknown, deliver: Deliver): Promise<AdaptiveCardJson> {
    const s = this.ownActive(user, sessionId);
    if (!s.ok) return s.card;
    const session = s.session;
    const actor = actorOf(user);
    const verification = this.d.store.recovery.verification(session.id, 'code');
    const confirmed = this.confirmedMethods(session.id);
    if (!verification || verification.state !== 'pending' || !usefulMethods(session.requirement, confirmed).includes('code')) {
      return this.userView(session, { text: 'The authenticator code is not needed (any more) for this request.', tone: 'warning' });
    }
    const code = typeof rawCode === 'string' ? rawCode.replace(/[\s-]/g, '') : '';
    if (!/^\d{6}$/.test(code)) return this.userView(session, { text: 'Type the 6 digits your authenticator app shows, then click Verify code.', tone: 'warning' });
    if (verification.challengeExpiresAt && this.now() >= new Date(verification.challengeExpiresAt)) {
      // The prompt is old; a new one is not a failed attempt.
      this.d.store.recovery.renewChallenge(session.id, 'code', this.minutesFromNow(this.cfg.codeMinutes));
      return this.userView(session, {
        text: `This code prompt expired after ${this.cfg.codeMinutes} minutes. Type the code your app shows now.`,
        tone: 'warning',
      });
    }
    const check = await this.d.verifier.checkCode(user, code);
    // The time step is used up in the same transaction as the confirmation: a code counts once.
    const result = check.ok
      ? this.confirm(session, 'code', actor, { method: 'code', authenticator: check.hint }, () => this.d.store.recovery.useTotpStep(user.id, check.methodId, check.step))
      : 'rejected';
    if (result === 'stale') return this.userView(this.d.store.recovery.get(session.id)!, null);
    if (result === 'rejected') {
      const reason = check.ok ? 'code-reused' : check.reason;
      const failure = this.recordFailure(session, user, 'code', reason, actor);
      await this.afterFailure(user, failure);
      if (failure.locked) return endedCard(this.d.store.recovery.get(session.id)!);
      return this.userView(this.d.store.recovery.get(session.id)!, {
        text: `${reason === 'code-reused' ? 'That code was used already; wait for the next one.' : 'That code is not right.'} ${failure.left} ${failure.left === 1 ? 'attempt is' : 'attempts are'} left before self-service is locked for ${this.cfg.lockoutHours} hours.`,
        tone: 'attention',
      });
    }
    const now = this.d.store.recovery.get(session.id)!;
    if (now.state === 'verified') return this.complete(user, now.id, deliver);
    return this.userView(now, { text: 'Code accepted. One more check is needed.', tone: 'good' });
  }

  /** A step-up sign-in token arrived for the acting user: it counts for their open recovery. */
  async submitSignIn(user: DirectoryUser, token: string, deliver: Deliver): Promise<AdaptiveCardJson | null> {
    const session = this.d.store.recovery.activeFor(user.id).find((s) => s.state === 'verifying' && usefulMethods(s.requirement, this.confirmedMethods(s.id)).includes('sign-in'));
    if (!session) return null;
    const actor = actorOf(user);
    const check = await this.d.verifier.checkSignIn(user, token);
    if (!check.ok && check.unavailable) {
      // The service could not check it (the tenant's keys unreachable): not the user's failure, not counted.
      this.d.logger.warn({ correlationId: session.id, reason: check.reason }, 'a step-up sign-in could not be checked');
      this.audit(actor, 'signin.verification-unavailable', user.id, 'failure', session.id, { method: 'sign-in', reason: check.reason });
      return this.userView(this.d.store.recovery.get(session.id)!, {
        text: 'I could not check that sign-in right now, so it was not counted against you. Try again in a few minutes, or use another way to verify.',
        tone: 'warning',
      });
    }
    if (!check.ok) {
      const failure = this.recordFailure(session, user, 'sign-in', check.reason, actor);
      await this.afterFailure(user, failure);
      return failure.locked
        ? endedCard(this.d.store.recovery.get(session.id)!)
        : this.userView(this.d.store.recovery.get(session.id)!, { text: `That sign-in does not count: ${SIGNIN_REFUSALS[check.reason] ?? 'it could not be verified'} (${check.reason}).`, tone: 'attention' });
    }
    this.d.store.transaction(() => this.d.store.recovery.addVerification({ sessionId: session.id, method: 'sign-in' }));
    this.confirm(session, 'sign-in', actor, { method: 'sign-in', via: check.via, authenticatedAt: check.authenticatedAt });
    const now = this.d.store.recovery.get(session.id)!;
    return now.state === 'verified' ? this.complete(user, now.id, deliver) : this.userView(now, { text: 'Sign-in accepted. One more check is needed.', tone: 'good' });
  }

  /** The user asks their manager or the technicians to confirm who they are. */
  async ask(user: DirectoryUser, sessionId: unknown, rawMethod: unknown, rawLost: unknown): Promise<AdaptiveCardJson> {
    const s = this.ownActive(user, sessionId);
    if (!s.ok) return s.card;
    const session = s.session;
    if (rawMethod !== 'manager' && rawMethod !== 'technician') return this.userView(session, null);
    const method: 'manager' | 'technician' = rawMethod;
    const available = await this.d.verifier.availability(user);
    const useful = usefulMethods(session.requirement, this.confirmedMethods(session.id));
    if (session.state !== 'verifying' || !useful.includes(method) || !available[method]) {
      return this.userView(session, { text: `${cap(METHOD_NAMES[method])} cannot confirm this request.`, tone: 'warning' });
    }
    if (this.d.store.recovery.verification(session.id, method)) return this.userView(session, { text: 'Already asked; you will see the answer here.', tone: 'warning' });

    let lost: LostMethod[] | null = null;
    if (session.flow === 'mfa' && !this.d.store.recovery.verifications(session.id).length) {
      const methods = removableMethods(await this.d.directory.listAuthMethods(user.id));
      const ids = typeof rawLost === 'string' ? rawLost.split(',').map((x) => x.trim()).filter(Boolean) : Array.isArray(rawLost) ? rawLost.filter((x): x is string => typeof x === 'string') : [];
      const chosen = methods.filter((m) => ids.includes(m.id));
      const problem = defaultOrderProblem(methods, chosen);
      if (problem) return this.userView(session, { text: problem, tone: 'attention' });
      lost = chosen.map((m) => ({ id: m.id, kind: m.kind, hint: m.hint, isDefault: m.isDefault }));
    }
    const manager = method === 'manager' ? available.managerUser! : null;
    const actor = actorOf(user);
    const expiresAt = this.minutesFromNow(this.cfg.verificationMinutes);
    const asked = this.d.store.transaction(() => {
      // Of two clicks at once, one asks.
      if (!this.d.store.recovery.addVerification({ sessionId: session.id, method, verifierId: manager?.id ?? null, verifierName: manager?.displayName ?? null })) return false;
      if (lost) this.d.store.recovery.setLostMethods(session.id, lost);
      this.d.store.recovery.extend(session.id, expiresAt);
      this.audit(actor, 'signin.verification-requested', user.id, 'success', session.id, {
        method,
        verifier: manager ? { id: manager.id, name: manager.displayName } : 'technicians',
        ...(lost ? { lostMethods: lost.map((m) => describeMethod(m)) } : {}),
      });
      this.schedule(SIGNIN_JOBS.notifyVerifier, session.id, this.now(), { method }, `signin.notify:${session.id}:${method}`);
      this.scheduleExpire(session.id, expiresAt);
      return true;
    });
    if (!asked) return this.userView(this.d.store.recovery.get(session.id)!, { text: 'Already asked; you will see the answer here.', tone: 'warning' });
    this.d.scheduler.kick();
    return this.userView(this.d.store.recovery.get(session.id)!, {
      text: method === 'manager' ? `I asked ${manager!.displayName} to confirm it is you. Expect a call or a visit; the answer shows here.` : 'I asked the identity technicians to confirm it is you. One of them will contact you; the answer shows here.',
      tone: 'accent',
    });
  }

  async cancel(user: DirectoryUser, sessionId: unknown): Promise<AdaptiveCardJson> {
    const s = this.ownActive(user, sessionId);
    if (!s.ok) return s.card;
    this.d.store.transaction(() => this.close(s.session, 'cancelled', 'cancelled', actorOf(user)));
    this.d.scheduler.kick();
    return endedCard(this.d.store.recovery.get(s.session.id)!);
  }

  // ---- a person's confirmation ----------------------------------------------------------------

  /**
   * A manager or technician confirms or declines. Who may is decided now: the subject's
   * manager in the directory (for a manager card), a member of the technicians group (for a
   * technician card); never the subject. The decision is a one-time claim.
   */
  async decide(actor: DirectoryUser, isTechnician: boolean, sessionId: unknown, rawMethod: unknown, decision: Decision, correlationId: string): Promise<AdaptiveCardJson> {
    const session = isRecoveryId(sessionId) ? this.d.store.recovery.get(sessionId) : null;
    if (!session || (rawMethod !== 'manager' && rawMethod !== 'technician')) return attestNotice('This card is no longer active', 'There is nothing to confirm here.');
    const method: 'manager' | 'technician' = rawMethod;
    const who = actorOf(actor);
    const refuse = (reason: string, text: string) => {
      this.audit(who, 'signin.verification-refused', session.userId, 'refused', session.id, { method, reason, decision, turn: correlationId });
      return this.attestView(session, method, { text, tone: 'attention' });
    };
    if (actor.id === session.userId) return refuse('self', 'You cannot verify your own identity: someone else must confirm it.');
    if (method === 'manager') {
      const manager = await this.d.directory.getManager(session.userId);
      if (!manager || manager.id !== actor.id) return refuse('not-the-manager', `Only ${session.userName}'s manager, as the directory says now, can confirm on this card.`);
    } else if (!isTechnician) {
      return refuse('not-a-technician', 'Only identity technicians can confirm on this card.');
    }

    const verification = this.d.store.recovery.verification(session.id, method);
    if (!verification || verification.state !== 'pending' || !ACTIVE_STATES.includes(session.state)) return this.attestView(session, method, null);
    // Two checks mean two people: whoever confirmed one (say, as manager) cannot also confirm the other.
    if (this.d.store.recovery.verifications(session.id).some((v) => v.method !== method && v.state === 'confirmed' && v.verifierId === actor.id)) {
      return refuse('same-person', 'You confirmed this request already; a second person must confirm this part.');
    }
    if (this.isExpired(session)) {
      this.expireNow(session);
      return this.attestView(this.d.store.recovery.get(session.id)!, method, null);
    }
    const subject = await this.d.directory.getUser(session.userId);
    if (!subject || !subject.accountEnabled) {
      this.d.store.transaction(() => this.close(session, 'refused', 'disabled', who));
      await this.raise(
        `Disabled account asked for recovery: ${session.userName}`,
        `${session.userName} asked for ${FLOW_WHAT[session.flow]} while their account is disabled; ${actor.displayName} was asked to verify them. Nothing was changed.`,
        [{ title: 'Reference', value: session.id }],
        session.id,
      );
      this.d.scheduler.kick();
      return this.attestView(this.d.store.recovery.get(session.id)!, method, { text: `${session.userName}'s account is disabled, so nothing can be recovered here. The identity technicians were told.`, tone: 'attention' });
    }

    if (decision === 'confirm') {
      const ok = this.confirm(session, method, who, { method, by: { id: actor.id, name: actor.displayName } }) === 'ok';
      if (!ok) return this.attestView(this.d.store.recovery.get(session.id)!, method, null);
      return this.attestView(this.d.store.recovery.get(session.id)!, method, { text: `Thank you. ${session.userName} can go on now.`, tone: 'good' });
    }
    const declined = this.d.store.transaction(() => {
      if (!this.d.store.recovery.decideVerification(session.id, method, 'declined', { id: actor.id, name: actor.displayName })) return null;
      const failure = this.failureInTx(session, session.userId, session.flow, method, 'declined', who);
      const current = this.d.store.recovery.get(session.id)!;
      if (ACTIVE_STATES.includes(current.state)) this.close(current, 'refused', 'declined', who);
      return failure;
    });
    if (!declined) return this.attestView(this.d.store.recovery.get(session.id)!, method, null);
    this.schedule(SIGNIN_JOBS.tellUser, session.id, this.now(), { event: declined.locked ? 'locked' : 'declined' }, `signin.tell:${session.id}:declined`);
    this.d.scheduler.kick();
    await this.afterFailure(subject, declined);
    return this.attestView(this.d.store.recovery.get(session.id)!, method, { text: `Declined. Nothing was changed, and ${session.userName} is told to contact the identity technicians.`, tone: 'warning' });
  }

  /**
   * A confirmation card answered where its answer would show to others (a channel or a group
   * chat, other than a technician's card in the technicians' channel): nothing is decided, the
   * refusal is audited like the other refusals of verification, and the answer names nobody.
   */
  refuseElsewhere(actor: DirectoryUser, sessionId: unknown, rawMethod: unknown, decision: Decision, where: string, correlationId: string): AdaptiveCardJson {
    const session = isRecoveryId(sessionId) ? this.d.store.recovery.get(sessionId) : null;
    if (session) {
      const method = rawMethod === 'manager' || rawMethod === 'technician' ? rawMethod : 'unknown';
      this.audit(actorOf(actor), 'signin.verification-refused', session.userId, 'refused', session.id, { method, reason: 'not-personal-chat', decision, where, turn: correlationId });
    }
    return attestNotice('Only in your 1:1 chat', 'Confirming who someone is happens in your 1:1 chat with me, never here. Nothing was changed.');
  }

  // ---- making the change ----------------------------------------------------------------

  /**
   * Makes the change of a verified recovery, in the user's own 1:1 chat: resets the
   * password, removes the lost methods and issues a pass, or unlocks. The secret goes
   * straight into a card there (`deliver`); only the message id is kept.
   */
  async complete(user: DirectoryUser, sessionId: unknown, deliver: Deliver): Promise<AdaptiveCardJson> {
    const found = isRecoveryId(sessionId) ? this.d.store.recovery.get(sessionId) : null;
    if (!found || found.userId !== user.id) return staleCard();
    if (found.state !== 'verified') return this.userView(found, found.state === 'verifying' ? { text: 'You are not verified yet.', tone: 'warning' } : null);
    if (this.isExpired(found)) {
      this.expireNow(found);
      return endedCard(this.d.store.recovery.get(found.id)!);
    }
    const actor = actorOf(user);
    const limit = this.limitFor(user.id);
    if (limit) {
      this.d.store.transaction(() => this.close(found, 'refused', limit.reason, actor));
      this.d.scheduler.kick();
      return limit.card;
    }
    // The claim: of two clicks on "go on", one makes the change.
    if (!this.d.store.transaction(() => this.d.store.recovery.transition(found.id, 'verified', 'completing'))) return endedCard(this.d.store.recovery.get(found.id)!);
    const session = this.d.store.recovery.get(found.id)!;
    let fresh: DirectoryUser | null;
    try {
      fresh = await this.d.directory.getUser(user.id);
    } catch (err) {
      // Nothing was changed yet: the claim is given back, so the same card works once the directory answers.
      this.d.store.transaction(() => this.d.store.recovery.transition(session.id, 'completing', 'verified'));
      throw err;
    }
    if (!fresh?.accountEnabled) {
      this.d.store.transaction(() => this.close(session, 'refused', 'disabled', actor));
      return this.refuseDisabled(user, session.flow, session.id, true);
    }
    try {
      if (session.flow === 'password') return await this.resetPassword(fresh, session, deliver);
      if (session.flow === 'mfa') return await this.recoverMfa(fresh, session, deliver);
      return await this.unlock(fresh, session);
    } catch (err) {
      if (err instanceof UnsupportedError && session.flow !== 'mfa') return this.refuseSynced(fresh, session.flow, session.id, session);
      if (err instanceof EffectUncertainError) return this.settleUncertain(fresh, session, err);
      return this.failed(fresh, session, err);
    } finally {
      this.d.scheduler.kick();
    }
  }

  /** The user's own secret: a card in their 1:1 chat (the turn's), its message kept on the recovery and hidden later. */
  private outletFor(session: RecoverySession, user: DirectoryUser, deliver: Deliver): SecretOutlet {
    return {
      card: (secret, hideAt) => {
        const done = this.d.store.recovery.get(session.id)!;
        return secret.kind === 'password'
          ? passwordCard(done, user, secret.password, hideAt)
          : tapCard(done, user, secret.pass, secret.expiresAt, secret.oneTime, hideAt, secret.removed, secret.kept);
      },
      deliver,
      remember: (delivered, hideAt, secretExpiresAt) => {
        this.d.store.recovery.secretShown(session.id, delivered.activityId, secretExpiresAt);
        this.d.store.cards.add({ requestId: session.id, userId: user.id, role: 'requester', stage: null, activityId: delivered.activityId, reference: delivered.reference });
        this.schedule(SIGNIN_JOBS.hideSecret, session.id, hideAt, {}, `signin.hide:${session.id}`);
      },
    };
  }

  private async resetPassword(user: DirectoryUser, session: RecoverySession, deliver: Deliver): Promise<AdaptiveCardJson> {
    const shown = await this.actions.resetPassword(user, { kind: 'self-service', session }, this.outletFor(session, user, deliver));
    if (!shown.delivered) throw shown.error;
    return endedCard(this.d.store.recovery.get(session.id)!);
  }

  private async recoverMfa(user: DirectoryUser, session: RecoverySession, deliver: Deliver): Promise<AdaptiveCardJson> {
    const shown = await this.actions.issuePass(user, { kind: 'self-service', session }, { lost: session.lostMethods }, this.outletFor(session, user, deliver));
    if (!shown.delivered) throw shown.error;
    return endedCard(this.d.store.recovery.get(session.id)!);
  }

  private async unlock(user: DirectoryUser, session: RecoverySession): Promise<AdaptiveCardJson> {
    await this.actions.unlock(user, { kind: 'self-service', session });
    return renderSigninNotice({
      title: 'Your account is unlocked',
      text: 'Try signing in again now. If you do not remember your password, reset it here.',
      tone: 'good',
      facts: [{ title: 'Reference', value: session.id }],
      actions: [startAction('password', 'Reset my password')],
    });
  }

  /** "I have it": the secret's message becomes "shown and hidden". */
  hide(user: DirectoryUser, sessionId: unknown, replyToId: string | undefined): AdaptiveCardJson {
    const session = isRecoveryId(sessionId) ? this.d.store.recovery.get(sessionId) : null;
    if (!session || session.userId !== user.id || !session.secretActivityId) return staleCard();
    if (replyToId && replyToId !== session.secretActivityId) return staleCard();
    this.actions.hideNow({ correlationId: session.id, subjectId: user.id, claimHidden: () => this.d.store.recovery.claimSecretHidden(session.id) }, actorOf(user), 'user');
    return hiddenSecretCard(this.d.store.recovery.get(session.id)!);
  }

  // ---- diagnosis and reports ----------------------------------------------------------

  /** "Why can't I sign in?" for the acting user, optionally about one application. */
  async diagnose(user: DirectoryUser, appName: string | null, correlationId: string): Promise<AdaptiveCardJson> {
    const app = appName ? (resolveResource(this.d.catalog, appName) ?? null) : null;
    const findings = await this.findings(user, app, true);
    this.audit(actorOf(user), 'signin.diagnosed', user.id, 'success', correlationId, { findings: findings.map((f) => f.code), app: app?.id ?? (appName ? 'unknown' : null) });
    const actions = dedupeActions(findings.flatMap((f) => f.actions));
    if (!actions.some((a) => a.verb === 'signin.technician')) actions.push(technicianAction());
    return renderSigninNotice({
      title: 'Why you may not be able to sign in',
      text:
        (appName && !app ? `I do not know an application called "${appName.slice(0, 60)}"; here is what the directory says about your account. ` : '') +
        (findings.some((f) => f.code !== 'has-group' && f.code !== 'nothing-found') ? 'This is what I found in the directory:' : 'I found nothing wrong with your account in the directory.'),
      facts: findings.map((f) => ({ title: f.title, value: f.text })),
      actions: actions.slice(0, 5),
      footer: 'Nothing was changed. The buttons start the next step.',
    });
  }

  /** The acting user asks a technician for help; the diagnosis goes with it. */
  async askTechnician(user: DirectoryUser, correlationId: string): Promise<AdaptiveCardJson> {
    // One notice an hour per user: clicking the button again must not flood the technicians' channel.
    const since = new Date(this.now().getTime() - REPORT_REPEAT_MS).toISOString();
    const earlier = this.d.store.audit.query({ action: 'signin.technician-requested', actor: user.id, since }, { limit: 1 })[0];
    if (earlier) {
      return renderSigninNotice({
        title: 'The identity technicians have your request',
        text: `You asked at ${time(earlier.ts)}; a technician will contact you, by phone or in person, and will verify who you are before changing anything. Nothing was sent again.`,
      });
    }
    if (!this.d.techniciansReachable()) return unreachableCard();
    const findings = await this.findings(user, null, true);
    await this.raise(
      `Sign-in help requested: ${user.displayName}`,
      `${user.displayName} asked in chat for help signing in. Verify them before changing anything.`,
      [
        { title: 'User', value: `${user.displayName} (${user.userPrincipalName})` },
        ...findings.map((f) => ({ title: f.title, value: f.text })),
      ],
      correlationId,
    );
    this.audit(actorOf(user), 'signin.technician-requested', user.id, 'success', correlationId, { findings: findings.map((f) => f.code) });
    return renderSigninNotice({
      title: 'The identity technicians have your request',
      text: 'A technician will contact you, by phone or in person, and will verify who you are before changing anything.',
      tone: 'good',
    });
  }

  /**
   * A colleague or manager says someone cannot sign in: a notice to the technicians with the
   * diagnosis. Nothing is changed on a colleague's word; the reporter sees no account details.
   */
  async report(reporter: DirectoryUser, subject: DirectoryUser, correlationId: string): Promise<AdaptiveCardJson> {
    const since = new Date(this.now().getTime() - REPORT_REPEAT_MS).toISOString();
    const earlier = this.d.store.audit.query({ action: 'signin.reported', target: subject.id, since }, { limit: 1 })[0];
    if (earlier) {
      return renderSigninNotice({
        title: `Already reported: ${subject.displayName}`,
        text: `${earlier.actorName ?? 'Someone'} reported this at ${time(earlier.ts)}; the identity technicians have it. Nothing was changed.`,
      });
    }
    if (!this.d.techniciansReachable()) return unreachableCard();
    const findings = await this.findings(subject, null, false);
    const manager = await this.d.directory.getManager(subject.id);
    const relation = manager?.id === reporter.id ? 'their manager' : 'a colleague';
    await this.raise(
      `Sign-in problem reported: ${subject.displayName}`,
      `${reporter.displayName} (${relation}) reports that ${subject.displayName} cannot sign in. Nothing was changed: contact ${subject.givenName ?? subject.displayName} and verify them yourself before any reset.`,
      [
        { title: 'User', value: `${subject.displayName} (${subject.userPrincipalName})` },
        { title: 'Reported by', value: `${reporter.displayName} (${relation})` },
        ...findings.map((f) => ({ title: f.title, value: f.text })),
      ],
      correlationId,
    );
    this.audit(actorOf(reporter), 'signin.reported', subject.id, 'success', correlationId, { relation, findings: findings.map((f) => f.code) });
    return renderSigninNotice({
      title: `The identity technicians have it: ${subject.displayName}`,
      text: `I sent the technicians a ticket with what the directory says about ${subject.displayName}'s account. They will contact ${subject.givenName ?? 'them'} and verify them before changing anything. Nothing was changed on your word alone.`,
      tone: 'good',
    });
  }

  /** What the directory says about `user`'s ability to sign in. `own`: the findings are shown to the user (with buttons). */
  async findings(user: DirectoryUser, app: CatalogResource | null, own: boolean): Promise<Finding[]> {
    const out: Finding[] = [];
    const state = await this.d.directory.getSignInState(user.id);
    const methods = await this.d.directory.listAuthMethods(user.id);
    if (!user.accountEnabled) out.push({ code: 'disabled', title: 'Account', text: 'Disabled: nobody can sign in with it until a technician or HR enables it again.', actions: own ? [technicianAction()] : [] });
    if (state.lockSupported && state.locked) {
      out.push({ code: 'locked', title: 'Locked', text: 'The account is locked after too many wrong passwords.', actions: own ? [startAction('unlock', 'Unlock my account')] : [] });
    }
    if (state.passwordChangeRequired) {
      out.push({
        code: 'password-change-required',
        title: 'Password',
        text: 'A new password must be chosen at the next sign-in: sign in with the temporary password first. Without it, reset it.',
        actions: own ? [startAction('password', 'Reset my password')] : [],
      });
    }
    if (state.lastPasswordChange && this.now().getTime() - new Date(state.lastPasswordChange).getTime() < this.cfg.recentResetHours * 3_600_000) {
      out.push({
        code: 'recent-reset',
        title: 'Recent change',
        text: `The password was changed at ${formatTime(state.lastPasswordChange)}: the old one no longer works. If that was not ${own ? 'you' : 'them'}, a technician must look at it now.`,
        actions: own ? [technicianAction()] : [],
      });
    }
    if (!defaultCapable(methods)) {
      out.push({
        code: 'no-mfa',
        title: 'MFA',
        text: 'No multi-factor sign-in method (authenticator app, phone, security key) is registered. A Temporary Access Pass lets you register one.',
        actions: own ? [startAction('mfa', 'Recover my MFA')] : [],
      });
    }
    if (user.onPremisesSyncEnabled && this.d.directory.capabilities?.onPremisesAccounts !== true) {
      out.push({ code: 'synced', title: 'Managed on-premises', text: 'The account comes from the on-premises Active Directory: its password is reset there, by a technician.', actions: own ? [technicianAction()] : [] });
    }
    if (app) {
      const member = (await this.d.directory.checkMemberGroups(user.id, [app.groupId])).includes(app.groupId);
      out.push(
        member
          ? { code: 'has-group', title: app.name, text: `Access is granted (member of the group for ${app.name}).`, actions: [] }
          : {
              code: 'missing-group',
              title: app.name,
              text: `Not a member of the group that gives access to ${app.name}, so ${app.name} refuses the sign-in.`,
              actions: own ? [{ id: 'signin-request-access', title: `Request access to ${app.name}`, verb: 'signin.request-access', data: { resource: app.id } }] : [],
            },
      );
    }
    if (!state.lockSupported && !out.some((f) => f.code !== 'has-group')) {
      out.push({
        code: 'smart-lockout',
        title: 'Wrong passwords',
        text: 'After several wrong passwords, Microsoft Entra smart lockout blocks sign-in for a minute or more; it clears by itself. Reset the password if it is forgotten.',
        actions: own ? [startAction('password', 'Reset my password')] : [],
      });
    }
    if (!out.some((f) => f.code !== 'has-group')) {
      out.push({ code: 'nothing-found', title: 'Directory', text: 'Enabled, not locked, a password and MFA methods are set.', actions: own ? [technicianAction()] : [] });
    }
    return out;
  }

  // ---- jobs -------------------------------------------------------------------------------

  registerJobs(scheduler: Scheduler): void {
    scheduler.register(SIGNIN_JOBS.notifyVerifier, { run: (job) => this.runNotifyVerifier(job) });
    scheduler.register(SIGNIN_JOBS.updateCards, { run: (job) => this.runUpdateCards(job) });
    scheduler.register(SIGNIN_JOBS.tellUser, { run: (job) => this.runTellUser(job) });
    scheduler.register(SIGNIN_JOBS.hideSecret, { run: (job) => this.runHideSecret(job) });
    scheduler.register(SIGNIN_JOBS.expire, { run: (job) => this.runExpire(job) });
    scheduler.register(SIGNIN_JOBS.noticeInterrupted, { run: (job) => this.runNoticeInterrupted(job) });
    // In the directory's lane: what it reads must not interleave with another change of the account.
    scheduler.register(SIGNIN_JOBS.reconcile, {
      lane: DIRECTORY_LANE,
      run: (job) => this.runReconcile(job),
      onGiveUp: async (job) => this.endInterrupted(this.sessionOf(job), null, causeOf(job)),
    });
  }

  /**
   * At start, before any turn: a recovery left `completing` was cut short by a stop between
   * its claim and its outcome, and no turn will finish it (its secret could only be shown in
   * that turn). A durable job re-reads the directory for each of its changes on record as
   * attempted without an outcome and ends it with what actually happened
   * ({@link runReconcile}): never "failed" for a change that may have been made. Returns how many.
   */
  recoverInterrupted(): number {
    const found = this.d.store.transaction(() =>
      this.d.store.recovery
        .completing()
        .filter(
          (s) =>
            this.d.store.jobs.schedule({
              kind: SIGNIN_JOBS.reconcile,
              requestId: s.id,
              runAt: this.now(),
              payload: {},
              dedupeKey: `signin.reconcile:${s.id}`,
              maxAttempts: this.d.maxJobAttempts,
            }) !== null,
        ),
    );
    for (const s of found) this.d.logger.warn({ correlationId: s.id, flow: s.flow }, 'sign-in recovery interrupted by a stop; the directory is read again to record what happened');
    if (found.length) this.d.scheduler.kick();
    return found.length;
  }

  /**
   * A change the directory did not answer clearly (a timeout, a 5xx, a connection reset after
   * the request was sent) may have been made: never "failed". The directory is re-read right
   * away and the recovery ended with what it shows; when it does not answer either, the
   * reconcile job tries again (and, out of attempts, records the outcome as unknown).
   */
  private async settleUncertain(user: DirectoryUser, session: RecoverySession, err: EffectUncertainError): Promise<AdaptiveCardJson> {
    const cause = err.cause as Error;
    this.d.logger.warn({ correlationId: session.id, err: { name: cause?.name, message: cause?.message } }, 'the directory did not say whether a recovery change was made; reading it again');
    const s = this.d.store.recovery.get(session.id)!;
    try {
      const results = await this.reconcileOpen(s);
      if (results.length && results.every((r) => r.outcome === 'not-done')) {
        // The directory shows nothing was made: a failure, now known to be one (the user may try again).
        const closed = this.d.store.transaction(() => {
          if (this.d.store.recovery.get(s.id)?.state !== 'completing') return false;
          for (const x of results) this.audit(SIGNIN_SYSTEM, OUTCOME_ACTIONS.effectReconciled, s.userId, 'success', s.id, { attempt: x.attempt, effect: x.effect, outcome: x.outcome, cause: 'no-answer', ...x.details });
          return true;
        });
        if (closed) return await this.failed(user, s, cause, { reconciled: results.length });
      }
      this.endInterrupted(s, results, 'no-answer');
    } catch (e) {
      this.d.logger.warn({ correlationId: s.id, err: { name: (e as Error).name, message: (e as Error).message } }, 'the directory could not be read again; the reconcile job will');
      this.d.store.transaction(() =>
        this.d.store.jobs.schedule({ kind: SIGNIN_JOBS.reconcile, requestId: s.id, runAt: this.now(), payload: { cause: 'no-answer' }, dedupeKey: `signin.reconcile:${s.id}`, maxAttempts: this.d.maxJobAttempts }),
      );
    }
    const now = this.d.store.recovery.get(s.id)!;
    if (now.state !== 'completing') return endedCard(now);
    return renderSigninNotice({
      title: `${FLOW_TITLES[s.flow]}: checking`,
      text: 'The directory did not say whether the change was made. The helpdesk is checking with it and will tell you; nothing secret was shown.',
      tone: 'warning',
      facts: [{ title: 'Reference', value: s.id }],
    });
  }

  private async reconcileOpen(s: RecoverySession): Promise<Array<{ attempt: number; effect: string; outcome: ReconciledOutcome; details: Record<string, unknown> }>> {
    const results: Array<{ attempt: number; effect: string; outcome: ReconciledOutcome; details: Record<string, unknown> }> = [];
    for (const intent of openIntents(this.d.store.audit, s.id)) {
      const r = await this.actions.reconcile(intent, s.userId);
      results.push({ attempt: intent.seq, effect: intent.action.replace(/-attempted$/, ''), ...r });
    }
    return results;
  }

  /** Re-reads the directory for the interrupted recovery's open intents, then ends it. */
  private async runReconcile(job: Job): Promise<void> {
    const s = this.sessionOf(job);
    if (s.state !== 'completing') return;
    this.endInterrupted(s, await this.reconcileOpen(s), causeOf(job));
  }

  /**
   * Ends an interrupted recovery with what the directory showed (`results`; null when it
   * never answered: every open intent is unknown). Each intent gets its `signin.effect-reconciled`;
   * the recovery: `signin.recovery-failed` (`interrupted`) only when nothing was made, else
   * `signin.recovery-reconciled` - done (a secret made but never shown is not shown again:
   * the user starts again) or unknown.
   */
  private endInterrupted(
    s: RecoverySession,
    results: Array<{ attempt: number; effect: string; outcome: ReconciledOutcome; details: Record<string, unknown> }> | null,
    cause: InterruptCause = 'stop',
  ): void {
    const ended = this.d.store.transaction(() => {
      const r =
        results ?? openIntents(this.d.store.audit, s.id).map((i) => ({ attempt: i.seq, effect: i.action.replace(/-attempted$/, ''), outcome: 'unknown' as const, details: { reason: 'the directory did not answer' } }));
      const result: ReconciledOutcome = r.some((x) => x.outcome === 'unknown') ? 'unknown' : r.some((x) => x.outcome === 'done') ? 'done' : 'not-done';
      const secretFlow = s.flow !== 'unlock';
      const [to, outcome] =
        result === 'not-done'
          ? (['failed', r.length ? 'interrupted-not-done' : 'interrupted'] as const)
          : result === 'done'
            ? (['completed', secretFlow ? 'secret-not-shown' : 'done'] as const)
            : (['cancelled', 'outcome-unknown'] as const);
      if (!this.d.store.recovery.transition(s.id, 'completing', to, { outcome })) return false;
      for (const x of r) {
        this.audit(SIGNIN_SYSTEM, OUTCOME_ACTIONS.effectReconciled, s.userId, x.outcome === 'unknown' ? 'failure' : 'success', s.id, { attempt: x.attempt, effect: x.effect, outcome: x.outcome, ...x.details });
      }
      if (result === 'not-done') {
        // Nothing attempted, or the directory shows nothing was made: "failed" is then the truth.
        this.audit(SIGNIN_SYSTEM, 'signin.recovery-failed', s.userId, 'failure', s.id, { flow: s.flow, reason: cause === 'stop' ? 'interrupted' : 'not-done', ...(r.length ? { reconciled: r.length } : {}) });
      } else {
        this.audit(SIGNIN_SYSTEM, OUTCOME_ACTIONS.recoveryReconciled, s.userId, result === 'done' ? 'success' : 'failure', s.id, {
          flow: s.flow,
          outcome: result,
          cause,
          shownToUser: false,
          attempts: r.map((x) => x.attempt),
        });
      }
      this.schedule(SIGNIN_JOBS.updateCards, s.id, this.now());
      // A job, not a call: the notice survives a channel that cannot be reached now, or another stop.
      this.schedule(SIGNIN_JOBS.noticeInterrupted, s.id, this.now(), { result, cause }, `signin.interrupted:${s.id}`);
      return true;
    });
    if (ended) this.d.scheduler.kick();
  }

  /** Tells the technicians about a recovery a stop cut short; retried until the ticket exists. */
  private async runNoticeInterrupted(job: Job): Promise<void> {
    const s = this.sessionOf(job);
    const title = `Sign-in recovery interrupted: ${s.userName}`;
    // A retry after the ticket was opened (its card is posted by its own job) opens no second one.
    if (this.d.store.technician.tickets.openFromSource(s.id, title)) return;
    const result = (job.payload as { result?: ReconciledOutcome }).result ?? 'unknown';
    const what =
      result === 'done'
        ? `The directory shows the change was made${s.flow === 'unlock' ? '' : ', but the secret was never shown (it is not shown again; starting again issues a new one)'}.`
        : result === 'not-done'
          ? 'The directory shows the change was not made, and no secret was shown.'
          : 'The directory does not show whether the change was made (or did not answer), and no secret was shown.';
    await this.d.technicians.raise({
      title,
      text: `${(job.payload as { cause?: InterruptCause }).cause === 'no-answer' ? 'The directory did not answer' : 'The helpdesk stopped'} while making the ${FLOW_NAMES[s.flow]} of ${s.userName}, after they were verified. ${what} Please check the account and help them; they can also start again.`,
      facts: [{ title: 'Reference', value: s.id }],
      requestId: s.id,
    });
  }

  private sessionOf(job: Job): RecoverySession {
    const s = job.requestId ? this.d.store.recovery.get(job.requestId) : null;
    if (!s) throw new PermanentJobError(`recovery ${job.requestId} not found`);
    return s;
  }

  private async runNotifyVerifier(job: Job): Promise<void> {
    const s = this.sessionOf(job);
    const method = (job.payload as { method: 'manager' | 'technician' }).method;
    const v = this.d.store.recovery.verification(s.id, method);
    if (!v || v.state !== 'pending' || !ACTIVE_STATES.includes(s.state)) return;
    const subject = await this.d.directory.getUser(s.userId);
    const card = attestCard({ session: s, method, subject, verification: v });
    const activity = messageWith(card, `${s.userName} asks you to verify their identity (${s.id})`);
    if (method === 'manager') {
      const manager = v.verifierId ? await this.d.directory.getUser(v.verifierId) : null;
      if (!manager) throw new PermanentJobError(`manager of ${s.id} not found`);
      const sent = await this.d.verifier.askManager(manager, activity);
      this.d.store.cards.add({ requestId: s.id, userId: manager.id, role: 'approver', stage: null, activityId: sent.activityId, reference: sent.reference as Partial<ConversationReference> });
    } else {
      const sent = await this.d.verifier.askTechnicians(activity);
      if (!sent) throw new Error('no technicians channel is known yet');
      this.d.store.cards.add({ requestId: s.id, userId: 'technicians', role: 'approver', stage: null, activityId: sent.activityId, reference: sent.reference as Partial<ConversationReference> });
    }
  }

  private async runUpdateCards(job: Job): Promise<void> {
    const s = this.sessionOf(job);
    const subject = await this.d.directory.getUser(s.userId);
    const failures: string[] = [];
    for (const ref of this.d.store.cards.forRequest(s.id)) {
      if (ref.activityId === s.secretActivityId) continue;
      let card: AdaptiveCardJson;
      if (ref.role === 'approver') {
        const method = ref.userId === 'technicians' ? 'technician' : 'manager';
        card = attestCard({ session: s, method, subject, verification: this.d.store.recovery.verification(s.id, method) });
      } else {
        card = subject ? await this.userView(s, null, subject) : endedCard(s);
      }
      try {
        await this.d.notifier.update(ref.reference, ref.activityId, messageWith(card));
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) continue;
        failures.push(`${ref.conversationId}: ${(err as Error).message}`);
      }
    }
    if (failures.length) throw new Error(`${failures.length} card update(s) failed: ${failures[0]}`);
  }

  /**
   * Tells the user what happened to their recovery while they waited. When the card they were
   * waiting on is known, the update job turns it into the next step in place (the buttons live
   * there only), and this sends a short message pointing at it, so Teams notifies them: never
   * a second card with the same buttons. Without a known card, the card itself is sent.
   */
  private async runTellUser(job: Job): Promise<void> {
    const s = this.sessionOf(job);
    const event = (job.payload as { event: string }).event;
    const waitingCard = this.d.store.cards.forRequest(s.id).some((r) => r.role === 'requester' && r.activityId !== s.secretActivityId);
    if (waitingCard && ((event === 'verified' && s.state === 'verified') || (event === 'expired' && s.state === 'expired'))) {
      const by = this.d.store.recovery
        .verifications(s.id)
        .filter((v) => v.state === 'confirmed' && (v.method === 'manager' || v.method === 'technician'))
        .map((v) => v.verifierName ?? (v.method === 'manager' ? 'Your manager' : 'An identity technician'));
      const text =
        event === 'verified'
          ? `**Verified: ${FLOW_NAMES[s.flow]}.** ${by.length ? `${by.join(' and ')} confirmed it is you. ` : ''}Go on with the card above, before ${time(s.expiresAt)} (reference ${s.id}).`
          : `**${FLOW_TITLES[s.flow]}: timed out.** Nothing was changed; the card above lets you start again (reference ${s.id}).`;
      await this.d.notifier.sendToUser(s.userId, { type: ActivityTypes.Message, text, textFormat: 'markdown' });
      return;
    }
    let card: AdaptiveCardJson | null = null;
    if (event === 'verified' && s.state === 'verified') card = readyCard(s, this.d.store.recovery.verifications(s.id));
    else if (event === 'declined') {
      const by = this.d.store.recovery.verifications(s.id).find((v) => v.state === 'declined');
      card = renderSigninNotice({
        title: `Not confirmed: ${FLOW_NAMES[s.flow]}`,
        text: `${by?.verifierName ?? 'The person asked'} did not confirm it is you, so nothing was changed. If this is a mistake, talk to the identity technicians.`,
        tone: 'attention',
        facts: [{ title: 'Reference', value: s.id }],
        actions: [technicianAction()],
      });
    } else if (event === 'expired' && s.state === 'expired') card = endedCard(s);
    else if (event === 'locked') card = lockedCard(this.d.store.recovery.lockedUntil(s.userId) ?? this.now().toISOString(), this.cfg.maxFailedVerifications);
    if (!card) return;
    const delivered = await this.d.notifier.sendToUser(s.userId, messageWith(card));
    if (event === 'verified') this.rememberCard(s.id, s.userId, delivered.activityId, delivered.reference);
  }

  private async runHideSecret(job: Job): Promise<void> {
    const s = this.sessionOf(job);
    if (!s.secretActivityId || s.secretHiddenAt) return;
    const ref = this.d.store.cards.forRequest(s.id).find((r) => r.activityId === s.secretActivityId);
    if (!ref) throw new PermanentJobError(`no message of ${s.id} to hide`);
    const preview = { ...s, secretHiddenAt: this.now().toISOString() };
    await this.actions.hideByTimer({
      correlationId: s.id,
      subjectId: s.userId,
      activityId: ref.activityId,
      reference: ref.reference,
      hiddenCard: hiddenSecretCard(preview),
      claimHidden: () => this.d.store.recovery.claimSecretHidden(s.id),
    });
  }

  private async runExpire(job: Job): Promise<void> {
    const s = this.sessionOf(job);
    if (!ACTIVE_STATES.includes(s.state) || !this.isExpired(s)) return;
    this.expireNow(s);
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** The user's card for a recovery: verifying, ready, or how it ended. */
  private async userView(session: RecoverySession, banner: { text: string; tone: Tone } | null, user?: DirectoryUser): Promise<AdaptiveCardJson> {
    if (session.state === 'verified') return readyCard(session, this.d.store.recovery.verifications(session.id));
    if (session.state !== 'verifying') return endedCard(session);
    const subject = user ?? (await this.d.directory.getUser(session.userId));
    if (!subject) return endedCard(session);
    const available = await this.d.verifier.availability(subject);
    const methods = session.flow === 'mfa' ? await this.d.directory.listAuthMethods(subject.id) : undefined;
    return verifyCard({ session, verifications: this.d.store.recovery.verifications(session.id), available, methods, banner });
  }

  private async attestView(session: RecoverySession, method: 'manager' | 'technician', note: { text: string; tone: Tone } | null): Promise<AdaptiveCardJson> {
    const subject = await this.d.directory.getUser(session.userId);
    return attestCard({ session, method, subject, verification: this.d.store.recovery.verification(session.id, method), note });
  }

  /** The acting user's own recovery, still open (expiring it when its time is up). */
  private ownActive(user: DirectoryUser, sessionId: unknown): { ok: true; session: RecoverySession } | { ok: false; card: AdaptiveCardJson } {
    const session = isRecoveryId(sessionId) ? this.d.store.recovery.get(sessionId) : null;
    // Someone else's recovery looks exactly like no recovery: the subject is always the acting user.
    if (!session || session.userId !== user.id) return { ok: false, card: staleCard() };
    if (!ACTIVE_STATES.includes(session.state)) return { ok: false, card: endedCard(session) };
    if (this.isExpired(session)) {
      this.expireNow(session);
      return { ok: false, card: endedCard(this.d.store.recovery.get(session.id)!) };
    }
    return { ok: true, session };
  }

  private isExpired(s: RecoverySession): boolean {
    return this.now() >= new Date(s.expiresAt);
  }

  private expireNow(s: RecoverySession): void {
    const done = this.d.store.transaction(() => {
      if (!this.d.store.recovery.transition(s.id, s.state, 'expired', { outcome: 'expired' })) return false;
      this.d.store.recovery.closePendingVerifications(s.id, 'expired');
      this.audit(SIGNIN_SYSTEM, 'signin.recovery-expired', s.userId, 'success', s.id, { flow: s.flow, after: s.state });
      this.schedule(SIGNIN_JOBS.updateCards, s.id, this.now());
      this.schedule(SIGNIN_JOBS.tellUser, s.id, this.now(), { event: 'expired' }, `signin.tell:${s.id}:expired`);
      return true;
    });
    if (done) this.d.scheduler.kick();
  }

  /** Inside a transaction: ends an open recovery (no change was made) and updates its cards. */
  private close(s: RecoverySession, to: 'cancelled' | 'refused', outcome: string, actor: AuditActor): void {
    if (!this.d.store.recovery.transition(s.id, s.state, to, { outcome })) return;
    this.d.store.recovery.closePendingVerifications(s.id, 'cancelled');
    this.audit(actor, to === 'cancelled' ? 'signin.recovery-cancelled' : 'signin.recovery-refused', s.userId, to === 'cancelled' ? 'success' : 'refused', s.id, { flow: s.flow, reason: outcome });
    this.schedule(SIGNIN_JOBS.updateCards, s.id, this.now());
  }

  /**
   * Confirms a verification (a one-time claim) and moves the recovery on when the policy is
   * met. `guard` runs first in the same transaction; when it says no, nothing changes.
   * `stale`: the verification was not pending any more (a second click).
   */
  private confirm(session: RecoverySession, method: VerificationMethod, actor: AuditActor, details: Record<string, unknown>, guard?: () => boolean): 'ok' | 'stale' | 'rejected' {
    const ok = this.d.store.transaction((): 'ok' | 'stale' | 'rejected' => {
      if (this.d.store.recovery.verification(session.id, method)?.state !== 'pending') return 'stale';
      if (guard && !guard()) return 'rejected';
      if (!this.d.store.recovery.decideVerification(session.id, method, 'confirmed', actor)) return 'stale';
      const confirmed = this.confirmedMethods(session.id);
      const satisfied = isSatisfied(session.requirement, confirmed);
      const expiresAt = this.minutesFromNow(this.cfg.verificationMinutes);
      this.audit(actor, 'signin.verified', session.userId, 'success', session.id, { ...details, complete: satisfied });
      if (satisfied) {
        this.d.store.recovery.transition(session.id, 'verifying', 'verified', { expiresAt });
        // A person confirmed: the user is told and goes on with one click, in their own chat.
        if (method === 'manager' || method === 'technician') this.schedule(SIGNIN_JOBS.tellUser, session.id, this.now(), { event: 'verified' }, `signin.tell:${session.id}:verified`);
      } else {
        this.d.store.recovery.extend(session.id, expiresAt);
      }
      this.scheduleExpire(session.id, expiresAt);
      this.schedule(SIGNIN_JOBS.updateCards, session.id, this.now());
      return 'ok';
    });
    this.d.scheduler.kick();
    return ok;
  }

  private confirmedMethods(sessionId: string): VerificationMethod[] {
    return this.d.store.recovery
      .verifications(sessionId)
      .filter((v) => v.state === 'confirmed')
      .map((v) => v.method);
  }

  private async failed(user: DirectoryUser, session: RecoverySession, err: unknown, extra: Record<string, unknown> = {}): Promise<AdaptiveCardJson> {
    const e = err as Error;
    this.d.logger.error({ correlationId: session.id, err: { name: e?.name, message: e?.message } }, 'sign-in recovery failed in the directory');
    this.d.store.transaction(() => {
      this.d.store.recovery.transition(session.id, 'completing', 'failed', { outcome: 'failed' });
      this.audit(actorOf(user), 'signin.recovery-failed', user.id, 'failure', session.id, { flow: session.flow, error: e?.name ?? 'Error', message: e instanceof DirectoryError ? e.message.slice(0, 300) : undefined, ...extra });
      this.schedule(SIGNIN_JOBS.updateCards, session.id, this.now());
    });
    await this.raise(
      `Sign-in recovery failed: ${user.displayName}`,
      `The ${FLOW_NAMES[session.flow]} of ${user.displayName} failed in the directory after they were verified: ${e?.message ?? 'unknown error'}. Please help them.`,
      [{ title: 'Reference', value: session.id }],
      session.id,
    );
    // The directory not answering (down, throttling) is worth trying again; a refusal is not.
    const unavailable = isDirectoryUnavailable(e);
    // A method removed before the failure stays removed: the user is told, not shown "not made".
    const removed = this.d.store.audit
      .query({ correlationId: session.id, action: 'signin.methods-removed' })
      .flatMap((a) => (JSON.parse(a.details) as { removed?: string[] }).removed ?? []);
    const what = unavailable ? 'The directory did not answer' : 'The directory refused the change';
    return renderSigninNotice({
      title: `${FLOW_TITLES[session.flow]}: not done`,
      text:
        (removed.length
          ? `${what}, so no Temporary Access Pass was created. The lost methods you named were removed: ${removed.join(', ')}.`
          : `${what}, so it was not made.`) +
        (unavailable
          ? ' Please try again in a few minutes (you will be asked to verify again). The identity technicians were told.'
          : ' The identity technicians were told and will contact you.'),
      tone: 'attention',
      facts: [{ title: 'Reference', value: session.id }],
    });
  }

  /** Why self-service is not available to the user now (lockout, too many recoveries), or null. */
  private limitFor(userId: string): { reason: 'locked-out' | 'too-many'; card: AdaptiveCardJson } | null {
    const until = this.d.store.recovery.lockedUntil(userId, this.now());
    if (until) return { reason: 'locked-out', card: lockedCard(until, this.cfg.maxFailedVerifications) };
    const since = new Date(this.now().getTime() - DAY_MS);
    const done = this.d.store.recovery.countEvents(userId, 'completed', since);
    if (done >= this.cfg.maxPerDay) {
      return {
        reason: 'too-many',
        card: renderSigninNotice({
          title: 'Not again today',
          text: `You already recovered your sign-in ${done} times in the last 24 hours, the most allowed in self-service. If you still cannot sign in, an identity technician can help.`,
          tone: 'attention',
          actions: [technicianAction()],
        }),
      };
    }
    return null;
  }

  /** Inside a transaction: one failed verification; locks self-service at the limit. */
  private failureInTx(session: RecoverySession | null, userId: string, flow: RecoveryFlow, method: VerificationMethod, reason: string, actor: AuditActor): FailureResult {
    const store = this.d.store.recovery;
    store.recordEvent(userId, 'verification-failed', flow);
    this.audit(actor, 'signin.verification-failed', userId, 'failure', session?.id ?? null, { method, reason });
    const since = new Date(this.now().getTime() - DAY_MS);
    const count = store.countEvents(userId, 'verification-failed', since);
    const max = this.cfg.maxFailedVerifications;
    if (count < max || store.lockedUntil(userId, this.now())) return { locked: false, left: Math.max(0, max - count), count };
    const until = new Date(this.now().getTime() + this.cfg.lockoutHours * 3_600_000);
    store.lockOut(userId, until);
    this.audit(SIGNIN_SYSTEM, 'signin.self-service-locked', userId, 'success', session?.id ?? null, { failures: count, until: until.toISOString() });
    for (const open of store.activeFor(userId)) this.close(open, 'refused', 'locked-out', SIGNIN_SYSTEM);
    return { locked: true, left: 0, count, until: until.toISOString() };
  }

  /**
   * A failed proof of fresh MFA outside a recovery (approving high-risk access): counted with
   * the failed recovery checks, so guessing codes on approvals meets the same lockout.
   */
  async countFailedProof(user: DirectoryUser, method: 'code' | 'sign-in', reason: string): Promise<{ locked: boolean; left: number }> {
    const failure = this.d.store.transaction(() => this.failureInTx(null, user.id, 'mfa', method, reason, actorOf(user)));
    this.d.scheduler.kick();
    await this.afterFailure(user, failure);
    return { locked: failure.locked, left: failure.left };
  }

  private recordFailure(session: RecoverySession, user: DirectoryUser, method: VerificationMethod, reason: string, actor: AuditActor): FailureResult {
    const result = this.d.store.transaction(() => this.failureInTx(session, user.id, session.flow, method, reason, actor));
    this.d.scheduler.kick();
    return result;
  }

  /** After a failure's transaction: the technicians hear about a lockout. */
  private async afterFailure(user: DirectoryUser, failure: FailureResult): Promise<void> {
    if (!failure.locked) return;
    await this.raise(
      `Self-service locked: ${user.displayName}`,
      `${failure.count} identity verifications for ${user.displayName} failed within 24 hours, so self-service sign-in recovery is locked for them until ${formatTime(failure.until!)}. This can be someone trying to take over the account: contact ${user.givenName ?? user.displayName} on a known number.`,
      [{ title: 'User', value: `${user.displayName} (${user.userPrincipalName})` }],
      null,
    );
  }

  /** Refuses a disabled account and tells the technicians; `audited`: the refusal is in the audit trail already. */
  private async refuseDisabled(user: DirectoryUser, flow: RecoveryFlow, correlationId: string, audited = false): Promise<AdaptiveCardJson> {
    if (!audited) this.audit(actorOf(user), 'signin.recovery-refused', user.id, 'refused', correlationId, { flow, reason: 'disabled' });
    await this.raise(`Disabled account asked for recovery: ${user.displayName}`, `${user.displayName} asked for ${FLOW_WHAT[flow]}, but the account is disabled. Nothing was changed.`, [{ title: 'User', value: `${user.displayName} (${user.userPrincipalName})` }], correlationId);
    return renderSigninNotice({
      title: 'Your account is disabled',
      text: 'A disabled account cannot be recovered in self-service. The identity technicians were told; they or your manager will contact you.',
      tone: 'attention',
    });
  }

  private async refuseSynced(user: DirectoryUser, flow: RecoveryFlow, correlationId: string, session: RecoverySession | null): Promise<AdaptiveCardJson> {
    const actor = actorOf(user);
    if (session) {
      this.d.store.transaction(() => {
        this.d.store.recovery.transition(session.id, 'completing', 'refused', { outcome: 'synced' });
        this.audit(actor, 'signin.recovery-refused', user.id, 'refused', session.id, { flow, reason: 'synced' });
        this.schedule(SIGNIN_JOBS.updateCards, session.id, this.now());
      });
    } else {
      this.audit(actor, 'signin.recovery-refused', user.id, 'refused', correlationId, { flow, reason: 'synced' });
    }
    await this.raise(
      `Ticket: ${flow === 'unlock' ? 'unlock' : 'password reset'} for an on-premises account: ${user.displayName}`,
      `${user.displayName} asked for ${FLOW_WHAT[flow]} in chat. The account is synchronised from the on-premises Active Directory, so it must be done there. Verify them before you do it.`,
      [
        { title: 'User', value: `${user.displayName} (${user.userPrincipalName})` },
        { title: 'Reference', value: session?.id ?? correlationId },
      ],
      session?.id ?? correlationId,
    );
    return renderSigninNotice({
      title: flow === 'unlock' ? 'Your account is managed on-premises' : 'Your password is managed on-premises',
      text: `Your account comes from the company's on-premises Active Directory, so ${flow === 'unlock' ? 'it' : 'its password'} cannot be ${flow === 'unlock' ? 'unlocked' : 'reset'} from the cloud. I opened a ticket for the identity technicians: one of them will contact you, verify who you are and do it for you.`,
      tone: 'warning',
    });
  }

  private noMethodCard(flow: RecoveryFlow, reason: 'no-method' | 'second-method-missing', missing: string, privileged: boolean): AdaptiveCardJson {
    if (reason === 'second-method-missing') {
      return renderSigninNotice({
        title: `${FLOW_TITLES[flow]}: a second check is needed`,
        text:
          flow === 'mfa'
            ? `Your account is privileged (an admin role or a privileged group), so recovering its MFA needs two people: your manager and an identity technician. There is no ${missing.replace(/^an? /, '')} to ask, so this cannot be done in self-service.`
            : `Your account is privileged (an admin role or a privileged group), so ${flow === 'password' ? 'a password reset' : 'unlocking it'} needs two different checks: a code from your authenticator app and a person who knows you. You have no ${missing.replace(/^an? /, '')}.`,
        tone: 'attention',
        steps:
          missing === 'a registered authenticator app'
            ? ['Recover your MFA first: with the Temporary Access Pass you register an authenticator app, then reset your password here.', 'Or ask an identity technician to verify you and reset it for you.']
            : ['Ask an identity technician to verify you in person.'],
        actions: missing === 'a registered authenticator app' ? [startAction('mfa', 'Recover my MFA'), technicianAction()] : [technicianAction()],
      });
    }
    return renderSigninNotice({
      title: `${FLOW_TITLES[flow]}: nobody can verify you here`,
      text: `There is no way to verify you in self-service right now: it needs ${missing}${privileged ? ' (your account is privileged)' : ''}. Please call the IT service desk.`,
      tone: 'attention',
      actions: [technicianAction()],
    });
  }

  private async raise(title: string, text: string, facts: Fact[], requestId: string | null): Promise<void> {
    try {
      await this.d.technicians.raise({ title, text, facts, requestId });
    } catch (err) {
      this.d.logger.error({ correlationId: requestId ?? undefined, err: { name: (err as Error).name, message: (err as Error).message } }, 'technician notice failed');
    }
  }

  private schedule(kind: string, sessionId: string, runAt: Date, payload: Record<string, unknown> = {}, dedupeKey: string | null = null): void {
    this.d.store.jobs.schedule({ kind, requestId: sessionId, runAt, payload, dedupeKey, maxAttempts: this.d.maxJobAttempts });
  }

  private scheduleExpire(sessionId: string, at: Date): void {
    this.schedule(SIGNIN_JOBS.expire, sessionId, at, {}, `signin.expire:${sessionId}:${at.toISOString()}`);
  }

  private audit(actor: AuditActor, action: string, target: string | null, outcome: 'success' | 'failure' | 'refused', correlationId: string | null, details: Record<string, unknown>): void {
    this.d.store.audit.append({ actor, action, target, outcome, correlationId, details });
  }
}

interface FailureResult {
  locked: boolean;
  left: number;
  count: number;
  until?: string;
}

function actorOf(user: DirectoryUser): AuditActor {
  return { id: user.id, name: user.displayName };
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Why the chosen lost methods cannot be removed in this order, or null. */
export function defaultOrderProblem(methods: readonly AuthMethod[], chosen: readonly AuthMethod[]): string | null {
  const def = chosen.find((m) => m.isDefault);
  if (!def) return null;
  const staying = methods.filter((m) => !chosen.includes(m) && m !== def);
  if (!defaultCapable(staying)) return null;
  return (
    `${describeMethod({ ...def, isDefault: false })} is your default sign-in method. It can only be removed together with ` +
    `${staying.filter((m) => defaultCapable([m])).map((m) => describeMethod(m)).join(' and ')}: select ${staying.length > 1 ? 'them' : 'it'} too if lost, or keep the default and change it later at My Sign-Ins.`
  );
}

function startAction(flow: RecoveryFlow, title: string): CardAction {
  return { id: `signin-start-${flow}`, title, verb: 'signin.start', data: { flow } };
}

function diagnoseAction(): CardAction {
  return { id: 'signin-diagnose', title: "Why can't I sign in?", verb: 'signin.diagnose', data: {} };
}

function technicianAction(): CardAction {
  return { id: 'signin-technician', title: 'Talk to a technician', verb: 'signin.technician', data: {} };
}

function dedupeActions(actions: CardAction[]): CardAction[] {
  const seen = new Set<string>();
  return actions.filter((a) => (seen.has(a.id) ? false : (seen.add(a.id), true)));
}

function staleCard(): AdaptiveCardJson {
  return renderSigninNotice({ title: 'This card is no longer active', text: 'Type reset my password, recover my MFA or unlock my account to start again.', tone: 'warning' });
}

function unreachableCard(): AdaptiveCardJson {
  return renderSigninNotice({
    title: 'The technicians cannot be reached here yet',
    text: 'I could not reach the identity technicians from here. Please call the IT service desk. Nothing was changed.',
    tone: 'attention',
  });
}

function lockedCard(until: string, failures: number): AdaptiveCardJson {
  return renderSigninNotice({
    title: 'Self-service is locked for now',
    text: `${failures} identity checks failed within 24 hours, so self-service sign-in recovery is locked for your account until ${formatTime(until)}. The identity technicians were told; if you need help now, call the IT service desk.`,
    tone: 'attention',
  });
}

export function smartLockoutCard(): AdaptiveCardJson {
  return renderSigninNotice({
    title: 'Cloud accounts unlock by themselves',
    text:
      'Your account is a cloud account: Microsoft Entra smart lockout blocks sign-in for a minute or more after several wrong passwords, ' +
      'and lifts the block by itself (there is nothing to unlock). Wait a few minutes and try again with the right password. If you have forgotten it, reset it.',
    actions: [startAction('password', 'Reset my password'), diagnoseAction()],
  });
}

export function messageWith(card: AdaptiveCardJson, summary?: string): Partial<Activity> {
  const activity = MessageFactory.attachment(CardFactory.adaptiveCard(card));
  if (summary) activity.summary = summary;
  return activity;
}

/** Why a recovery's change was left without a known outcome: the process stopped, or the directory's answer was lost. */
type InterruptCause = 'stop' | 'no-answer';

function causeOf(job: Job): InterruptCause {
  return (job.payload as { cause?: InterruptCause } | null)?.cause === 'no-answer' ? 'no-answer' : 'stop';
}
