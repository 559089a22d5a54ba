import { plainText } from '../adaptive-cards/plain-text';
import { CardFactory, MessageFactory } from 'botbuilder';
import { renderAccessNotice, renderRequestCard, type Fact, type Tone } from '../adaptive-cards/access';
import type { AdaptiveCardJson } from '../adaptive-cards/render';
import type { AppConfig } from '../bot/config';
import { APP_NAME } from '../bot/deps';
import type { Logger } from '../bot/logger';
import type { Notifier } from '../bot/notifier';
import { DIRECTORY_LANE, PermanentJobError, type Scheduler, type TechnicianNotice, type TechnicianNotices } from '../bot/scheduler';
import { areIncompatible, findResourceById, type Catalog, type CatalogResource } from '../directory/catalog';
import { NotFoundError, usersByUpnOrMail, type Directory, type DirectoryUser } from '../directory/directory';
import { INTENT_ACTIONS, openIntents, OUTCOME_ACTIONS, recordIntent, type ReconciledOutcome } from './effect-intents';
import type { AccessRequest, ApproverSource, RequestState } from '../store/access-requests';
import type { AuditActor } from '../store/audit-trail';
import type { Job } from '../store/jobs';
import type { Store } from '../store/store';
import type { Assurance, FreshMfa, MfaWay } from './signin/fresh-mfa';
import { addHours, formatDuration, formatTime } from './access-duration';
import {
  checkRequest,
  fallbackGroupApprovers,
  heldResources,
  MAX_STAGE_APPROVERS,
  mayDecide,
  nextEnabledManager,
  openRequestRefusal,
  resolveStageApprovers,
  snapshotPolicy,
  canApprove,
  type ApproverRules,
  type Refusal,
  type ResolvedApprover,
} from './access-policy';

/** What the access-request capability needs; `bot/` builds it. */
export interface AccessDeps {
  config: AppConfig;
  store: Store;
  directory: Directory;
  logger: Logger;
  clock: () => Date;
  catalog: Catalog;
  notifier: Notifier;
  scheduler: Scheduler;
  technicians: TechnicianNotices;
  /** Approvers of last resort. */
  fallbackGroupId: string | null;
  /** The identity technicians group (their handovers of a leaver's approvals count); none when absent. */
  technicianGroupId?: string | null;
  /** The groups whose members are privileged, lowercase (the privileged resolver's). */
  privilegedGroupIds?: () => readonly string[];
}

/** Durable job kinds of access requests. */
export const ACCESS_JOBS = {
  notifyApprover: 'access.notify-approver',
  updateCards: 'access.update-cards',
  tellRequester: 'access.tell-requester',
  provision: 'access.provision',
  remind: 'access.approval-reminder',
  escalate: 'access.approval-escalation',
  expireRequest: 'access.request-expiry',
  expiryNotice: 'access.expiry-notice',
  revoke: 'access.revoke',
  removeMembership: 'access.remove-membership',
} as const;

/**
 * A group membership to remove that is not the end of a request (an access review's
 * decision): through the same durable path as revocations, with retries and a ticket when it
 * gives up. See {@link AccessService.scheduleRemoval}.
 */
export interface MembershipRemoval {
  groupId: string;
  groupName: string;
  userId: string;
  userName: string;
  userPrincipalName: string;
  /** Why, in a few words: kept in the audit trail and on the ticket if it fails. */
  reason: string;
  /** The correlation id of its job and audit events (a campaign id). */
  correlationId: string;
  /** Whose decision it carries out: `kind` names the {@link RemovalListener} told of the outcome; `ref` is the owner's key. */
  owner: { kind: string; ref: string };
}

/** Told how a scheduled removal ended; each call runs in the transaction that records the outcome. */
export interface RemovalListener {
  removed(ref: string, at: Date, result: 'removed' | 'not-member'): void;
  failed(ref: string, at: Date, error: string): void;
}

/** The bot itself, as an audit actor (jobs, expiry). */
export const SYSTEM_ACTOR: AuditActor = { id: 'system', name: APP_NAME };

const RISK_LABEL = { low: 'Low', medium: 'Medium', high: 'High' } as const;
const RISK_ORDER = { low: 1, medium: 2, high: 3 } as const;
const REQUEST_ID = /^REQ-\d{1,9}$/;
/** Most users one card's `refresh.userIds` may name in Teams. */
const MAX_REFRESH_USERS = 60;

/** Is this a well-formed request id (`REQ-1042`)? Card data and typed text are checked with it. */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

export type SubmitResult = { ok: true; request: AccessRequest } | { ok: false; refusal: Refusal | { kind: 'no-approver'; message: string } };

export type ActionOutcome = 'done' | 'already' | 'stale' | 'refused' | 'invalid' | 'not-found' | 'mfa-required';

export interface ActionResult {
  outcome: ActionOutcome;
  /** The request after the action (null when it does not exist). */
  request: AccessRequest | null;
  /** A sentence for the person who acted. */
  message: string;
  /** `mfa-required`: how the approver can prove MFA here (their card asks for it). */
  mfa?: MfaWay;
}

type RequesterEvent = 'granted' | 'denied' | 'failed' | 'refused' | 'expired' | 'revoked' | 'escalated';

/**
 * Approved access that is not granted after all: when the grant runs, the requester's account
 * is disabled or gone, or they hold something incompatible with it (separation of duties)
 * that they did not have when they asked. Nothing is retried: people decide again.
 */
export class GrantRefusedError extends PermanentJobError {
  constructor(
    readonly reason: 'account-disabled' | 'user-gone' | 'conflict',
    message: string,
    /** The same said to the requester. */
    readonly toRequester: string = message,
  ) {
    super(message);
    this.name = 'GrantRefusedError';
  }
}

/**
 * Access requests end to end: the policy checks and creation, one-time decisions, cancel and
 * forward, the card every participant sees, and the durable jobs (notifications, card
 * updates, provisioning, reminders, escalation, expiry). Every state change is one audit
 * event with the request id as correlation id, in the same transaction as the change; the
 * jobs it makes necessary are scheduled in that transaction too.
 */
export class AccessService {
  private readonly removalListeners = new Map<string, RemovalListener>();
  private freshMfa: FreshMfa | null = null;

  constructor(private readonly d: AccessDeps) {}

  /** Proofs of fresh MFA (built with sign-in recovery's verifier, after this service). */
  useFreshMfa(freshMfa: FreshMfa): void {
    this.freshMfa = freshMfa;
  }

  /**
   * Whether approving `request` needs the approver's fresh MFA: its risk at or above the
   * configured level, where a resource whose group makes its members privileged (a configured
   * privileged group, the technicians group) is high risk whatever the catalog says.
   */
  needsFreshMfa(request: AccessRequest): boolean {
    const level = this.d.config.access.freshMfaRisk;
    if (level === null) return false;
    const privileged = this.d.privilegedGroupIds?.().includes(request.policy.groupId.toLowerCase()) ?? false;
    return RISK_ORDER[privileged ? 'high' : request.policy.risk] >= RISK_ORDER[level];
  }

  get catalog(): Catalog {
    return this.d.catalog;
  }

  private now(): Date {
    return this.d.clock();
  }

  private get maxAttempts(): number {
    return this.d.config.jobs.maxAttempts;
  }

  private get guestsMayApprove(): boolean {
    return this.d.config.guests.mayApprove;
  }

  private get approverRules(): ApproverRules {
    return { fallbackGroupId: this.d.fallbackGroupId, guestsMayApprove: this.guestsMayApprove, technicianGroupId: this.d.technicianGroupId ?? null };
  }

  // ---- creating a request --------------------------------------------------------------

  /** The policy's verdict without creating anything (for the confirmation card). */
  check(requester: DirectoryUser, resource: CatalogResource, hours: number | null, justification: string | null): Promise<Refusal | null> {
    return checkRequest({ directory: this.d.directory, store: this.d.store, catalog: this.d.catalog }, requester, resource, hours, justification);
  }

  /** Who decides each stage for this requester, as a sentence per stage (for the confirmation card). */
  async describeApproval(requester: DirectoryUser, resource: CatalogResource): Promise<string> {
    const policy = snapshotPolicy(resource, await this.groupNames(resource));
    const first = await resolveStageApprovers(this.d.directory, requester, policy.stages[0]!, policy, this.d.fallbackGroupId, undefined, this.guestsMayApprove);
    // Not "1. ...": Teams would render a Markdown list inside the fact.
    return policy.stages
      .map((s, i) => `${s.title}${i === 0 && first.length ? ` (${names(first.map((a) => a.user.displayName))})` : ''}`)
      .join(' → ');
  }

  /**
   * Checks the request against the policy again (things may have changed since the
   * confirmation card), resolves the first stage's approvers and creates the request with
   * its audit event and jobs in one transaction.
   */
  async submit(
    requester: DirectoryUser,
    input: { resource: CatalogResource; hours: number | null; justification: string | null; extendsRequestId?: string | null; endsAt?: string | null },
    turnCorrelationId: string,
  ): Promise<SubmitResult> {
    const { resource } = input;
    const justification = input.justification?.trim() || null;
    const refusal = await this.check(requester, resource, input.hours, justification);
    if (refusal) return { ok: false, refusal };

    const [manager, held, groupNames] = await Promise.all([
      this.d.directory.getManager(requester.id),
      heldResources(this.d.directory, this.d.catalog, requester.id),
      this.groupNames(resource),
    ]);
    const policy = snapshotPolicy(resource, groupNames);
    const approvers = await resolveStageApprovers(this.d.directory, requester, policy.stages[0]!, policy, this.d.fallbackGroupId, undefined, this.guestsMayApprove);
    if (!approvers.length) {
      return { ok: false, refusal: { kind: 'no-approver', message: `Nobody can approve ${resource.name} for you at the moment. Please contact the IT service desk.` } };
    }
    const extendsRequestId =
      input.extendsRequestId ?? this.d.store.requests.grantedFor(requester.id, resource.id).find((g) => g.expiresAt !== null)?.id ?? null;

    const created = this.d.store.transaction((): AccessRequest | Refusal => {
      // Checked again where it cannot race: another submission may have been created meanwhile.
      const late = openRequestRefusal({ store: this.d.store, catalog: this.d.catalog }, requester.id, resource);
      if (late) return late;
      const r = this.d.store.requests.create({
        requesterId: requester.id,
        requesterName: requester.displayName,
        resourceId: resource.id,
        groupId: resource.groupId,
        durationHours: input.hours,
        endsAt: input.endsAt ?? null,
        justification,
        policy,
        context: {
          userPrincipalName: requester.userPrincipalName,
          department: requester.department,
          jobTitle: requester.jobTitle,
          managerId: manager?.id ?? null,
          managerName: manager?.displayName ?? null,
          memberships: held.map((h) => h.name),
        },
        extendsRequestId,
      });
      this.addApprovers(r, 1, approvers, null);
      this.d.store.audit.append({
        actor: { id: requester.id, name: requester.displayName },
        action: 'access.requested',
        target: r.id,
        outcome: 'success',
        correlationId: r.id,
        details: {
          resource: resource.id,
          groupId: resource.groupId,
          risk: resource.risk,
          durationHours: input.hours,
          endsAt: input.endsAt ?? null,
          justification,
          stages: policy.stages.map((s) => s.title),
          approvers: approvers.map((a) => ({ id: a.user.id, name: a.user.displayName, source: a.source })),
          extendsRequestId,
          turn: turnCorrelationId,
        },
      });
      this.scheduleStage(r, 1, approvers, 'new');
      // Undecided requests expire; one with a fixed end also when that end comes first.
      const expiry = addHours(r.createdAt, this.d.config.access.requestExpiryDays * 24);
      const expireAt = r.endsAt && new Date(r.endsAt) < expiry ? new Date(r.endsAt) : expiry;
      this.schedule(ACCESS_JOBS.expireRequest, r.id, expireAt, {}, `expire:${r.id}`);
      return r;
    });
    if ('kind' in created) return { ok: false, refusal: created };
    this.d.scheduler.kick();
    return { ok: true, request: created };
  }

  private async groupNames(resource: CatalogResource): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const s of resource.stages) {
      if (s.approver === 'group') {
        const g = await this.d.directory.getGroup(s.groupId);
        if (g) out.set(s.groupId, g.displayName);
      }
    }
    return out;
  }

  /** Inside a transaction: the approver rows of a stage. */
  private addApprovers(r: AccessRequest, stage: number, approvers: ResolvedApprover[], addedById: string | null, source?: ApproverSource): void {
    for (const a of approvers) {
      this.d.store.requests.addApprover({ requestId: r.id, stage, approverId: a.user.id, approverName: a.user.displayName, source: source ?? a.source, addedById });
    }
  }

  /** Inside a transaction: cards to a stage's approvers, and its reminder and escalation. */
  private scheduleStage(r: AccessRequest, stage: number, approvers: ResolvedApprover[], reason: 'new'): void {
    for (const a of approvers) this.scheduleNotify(r.id, stage, a.user.id, reason);
    const startedAt = this.now();
    this.schedule(ACCESS_JOBS.remind, r.id, addHours(startedAt, this.d.config.access.remindAfterHours), { stage }, `remind:${r.id}:${stage}`);
    this.schedule(ACCESS_JOBS.escalate, r.id, addHours(startedAt, this.d.config.access.escalateAfterHours), { stage }, `escalate:${r.id}:${stage}`);
  }

  private scheduleNotify(requestId: string, stage: number, userId: string, reason: 'new' | 'reminder' | 'escalation' | 'delegate', byName?: string): void {
    this.schedule(ACCESS_JOBS.notifyApprover, requestId, this.now(), { stage, userId, reason, byName: byName ?? null }, `notify:${requestId}:${stage}:${userId}:${reason}`);
  }

  private schedule(kind: string, requestId: string, runAt: Date, payload: Record<string, unknown> = {}, dedupeKey: string | null = null): void {
    this.d.store.jobs.schedule({ kind, requestId, runAt, payload, dedupeKey, maxAttempts: this.maxAttempts });
  }

  private scheduleUpdateCards(requestId: string): void {
    this.schedule(ACCESS_JOBS.updateCards, requestId, this.now());
  }

  /** Once per request and event (and stage, for escalations). */
  private scheduleTell(requestId: string, event: RequesterEvent, stage?: number, detail?: string): void {
    this.schedule(ACCESS_JOBS.tellRequester, requestId, this.now(), detail ? { event, detail } : { event }, `tell:${requestId}:${event}${stage ? `:${stage}` : ''}`);
  }

  // ---- deciding ------------------------------------------------------------------------

  /**
   * Approve or deny the stage a card was sent for. Whether `actor` may decide is checked
   * here, now, against the store and the directory. The decision itself is one guarded
   * UPDATE: of two approvers clicking at once exactly one wins; the other is told who decided.
   */
  async decide(
    actor: DirectoryUser,
    requestId: string,
    cardStage: number,
    decision: 'approve' | 'deny',
    rawComment: unknown,
    turnCorrelationId: string,
    /** The authenticator code typed on the card, when approving needs fresh MFA. */
    mfaCode?: unknown,
  ): Promise<ActionResult> {
    const comment = typeof rawComment === 'string' ? rawComment.trim().slice(0, 500) || null : null;
    const request = this.d.store.requests.get(requestId);
    if (!request) return { outcome: 'not-found', request: null, message: `There is no request ${requestId}.` };
    const settled = this.settledMessage(request, cardStage);
    if (settled) return { outcome: 'already', request, message: settled };
    if (cardStage !== request.stage) {
      this.refuse(actor, request, decision, 'stale-card', turnCorrelationId, cardStage);
      return { outcome: 'stale', request, message: `This card was for stage ${cardStage}; the request is now at stage ${request.stage} of ${request.stageCount}.` };
    }
    if (actor.id === request.requesterId) {
      this.refuse(actor, request, decision, 'self-approval', turnCorrelationId, cardStage);
      return { outcome: 'refused', request, message: 'You cannot decide on your own request.' };
    }
    // Each stage is a separate pair of eyes: who approved an earlier stage may deny a later
    // one, never approve it.
    const earlier = this.earlierApprovers(request);
    if (decision === 'approve' && earlier.has(actor.id)) {
      const forwarded = this.earlierForwarders(request).has(actor.id) && !this.d.store.requests.decisions(request.id).some((d) => d.stage < request.stage && d.decidedById === actor.id);
      this.refuse(actor, request, decision, forwarded ? 'forwarded-earlier-stage' : 'approved-earlier-stage', turnCorrelationId, cardStage);
      return { outcome: 'refused', request, message: `You ${forwarded ? 'forwarded' : 'approved'} an earlier stage of ${request.id}; stage ${request.stage} needs another approver, so nothing was changed. You can still deny it.` };
    }

    if (!(await mayDecide(this.d.directory, this.d.store, request, actor.id, this.approverRules))) {
      this.refuse(actor, request, decision, 'not-an-approver', turnCorrelationId, cardStage);
      return { outcome: 'refused', request, message: `You are not an approver of ${request.id} at this stage, so nothing was changed.` };
    }
    if (decision === 'deny' && !comment) {
      return { outcome: 'invalid', request, message: 'Add a comment to deny: the requester will see it.' };
    }
    let assurance: Assurance | null = null;
    if (decision === 'approve' && this.needsFreshMfa(request)) {
      const proven = await this.proveFreshMfa(actor, request, cardStage, comment, mfaCode, turnCorrelationId);
      if ('outcome' in proven) return proven;
      assurance = proven;
    }
    const isFinal = decision === 'deny' || request.stage === request.stageCount;
    let next: ResolvedApprover[] = [];
    if (!isFinal) {
      const requester = await this.requesterUser(request);
      if (decision === 'approve') earlier.add(actor.id);
      next = await resolveStageApprovers(this.d.directory, requester, request.policy.stages[request.stage]!, request.policy, this.d.fallbackGroupId, earlier, this.guestsMayApprove);
    }
    const by = { id: actor.id, name: actor.displayName };
    const won = this.d.store.transaction(() => {
      const claimed = isFinal
        ? this.d.store.requests.closePending(request.id, decision === 'approve' ? 'approved' : 'denied', by, { stage: request.stage, comment })
        : this.d.store.requests.advanceStage(request.id, request.stage);
      if (!claimed) return false;
      this.d.store.requests.recordDecision({ requestId: request.id, stage: request.stage, decision: decision === 'approve' ? 'approved' : 'denied', by, comment });
      this.d.store.jobs.cancelForRequest(request.id, ACCESS_JOBS.remind);
      this.d.store.jobs.cancelForRequest(request.id, ACCESS_JOBS.escalate);
      this.d.store.audit.append({
        actor: by,
        action: decision === 'approve' ? 'access.approved' : 'access.denied',
        target: request.id,
        outcome: 'success',
        correlationId: request.id,
        details: {
          stage: request.stage,
          stages: request.stageCount,
          final: isFinal,
          comment,
          nextApprovers: isFinal ? undefined : next.map((a) => ({ id: a.user.id, name: a.user.displayName, source: a.source })),
          // How the approver proved a fresh MFA, where the policy asks for it.
          ...(assurance ? { assurance } : {}),
          turn: turnCorrelationId,
        },
      });
      if (!isFinal) {
        const advanced = this.d.store.requests.get(request.id)!;
        if (next.length) {
          this.addApprovers(advanced, advanced.stage, next, null);
          this.scheduleStage(advanced, advanced.stage, next, 'new');
        }
      } else {
        this.d.store.jobs.cancelForRequest(request.id, ACCESS_JOBS.expireRequest);
        this.d.store.jobs.cancelForRequest(request.id, ACCESS_JOBS.notifyApprover);
        if (decision === 'approve') this.schedule(ACCESS_JOBS.provision, request.id, this.now(), {}, `provision:${request.id}`);
        else this.scheduleTell(request.id, 'denied');
      }
      this.scheduleUpdateCards(request.id);
      return true;
    });
    const after = this.d.store.requests.get(request.id)!;
    if (!won) return { outcome: 'already', request: after, message: this.settledMessage(after, cardStage) ?? 'Someone else acted on this request first.' };
    if (!isFinal && !next.length) {
      await this.d.technicians.raise({
        title: `${request.id} has no approver for stage ${after.stage}`,
        text: `Stage ${after.stage} (${after.policy.stages[after.stage - 1]?.title}) of ${request.id} resolved to nobody who can sign in, and the fallback group is empty. Add an approver or decide it by hand.`,
        requestId: request.id,
      });
    }
    this.d.scheduler.kick();
    const message =
      decision === 'deny'
        ? `You denied ${request.id}. ${request.requesterName} will be told, with your comment.`
        : isFinal
          ? `You approved ${request.id}. Access is being granted; ${request.requesterName} will be told.`
          : `You approved stage ${request.stage} of ${request.id}. It now waits for stage ${after.stage}: ${after.policy.stages[after.stage - 1]?.title}.`;
    return { outcome: 'done', request: after, message };
  }

  /**
   * The approver's fresh MFA for approving `request`: a proof still fresh, or the code typed
   * on the card checked now; else the result that asks for it (nothing changes). A wrong code
   * is refused, audited and counted towards the lockout.
   */
  private async proveFreshMfa(
    actor: DirectoryUser,
    request: AccessRequest,
    cardStage: number,
    comment: string | null,
    mfaCode: unknown,
    turn: string,
  ): Promise<Assurance | ActionResult> {
    const fresh = this.freshMfa?.current(actor.id);
    if (fresh) return fresh;
    const way = this.freshMfa ? await this.freshMfa.way(actor) : null;
    const what = `Approving ${request.policy.name} (${RISK_LABEL[request.policy.risk].toLowerCase()} risk) needs proof of your MFA`;
    if (!this.freshMfa || way === null) {
      this.refuse(actor, request, 'approve', 'mfa-unavailable', turn, cardStage);
      return { outcome: 'refused', request, message: `${what}, and there is no way to prove it here. Nothing was changed; ask an identity technician or deny.` };
    }
    const typed = typeof mfaCode === 'string' && mfaCode.trim() !== '';
    if (way === 'code' && typed) {
      const proof = await this.freshMfa.proveByCode(actor, mfaCode, request.id);
      if (proof.ok) return proof.assurance;
      this.refuse(actor, request, 'approve', 'mfa-not-proven', turn, cardStage, { detail: proof.reason });
      return { outcome: 'refused', request, message: `${proof.message} Nothing was changed.`, mfa: way };
    }
    // Asked, not refused: kept so that a step-up sign-in finished in another turn resumes this approval.
    this.d.store.audit.append({
      actor: { id: actor.id, name: actor.displayName },
      action: 'access.mfa-required',
      target: request.id,
      outcome: 'success',
      correlationId: request.id,
      details: { stage: request.stage, way, comment, turn },
    });
    const how = way === 'code' ? 'type the 6-digit code your authenticator app shows and click Approve again' : 'sign in again with MFA: your approval goes on once you are signed in';
    return { outcome: 'mfa-required', request, message: `${what} (valid ${this.freshMfa.maxAgeMinutes} minutes): ${how}. Nothing was changed yet.`, mfa: way };
  }

  /**
   * After a step-up sign-in proved the actor's MFA: the approval they were asked it for
   * (within the proof's lifetime) goes on, as if clicked again.
   */
  async resumeAfterMfa(actor: DirectoryUser, turnCorrelationId: string): Promise<ActionResult | null> {
    if (!this.freshMfa?.current(actor.id)) return null;
    const since = new Date(this.now().getTime() - this.freshMfa.maxAgeMinutes * 60_000).toISOString();
    const asked = this.d.store.audit.query({ actor: actor.id, action: 'access.mfa-required', since }).filter((e) => e.actorId === actor.id).pop();
    if (!asked || !asked.correlationId) return null;
    const d = JSON.parse(asked.details) as { stage?: number; comment?: string | null };
    if (typeof d.stage !== 'number') return null;
    return this.decide(actor, asked.correlationId, d.stage, 'approve', d.comment ?? null, turnCorrelationId);
  }

  /**
   * Who approved or forwarded a stage of `request` before its current one: each stage is
   * another pair of eyes, and whoever forwarded a stage chose who decided it.
   */
  private earlierApprovers(request: AccessRequest): Set<string> {
    const ids = new Set(this.d.store.requests.decisions(request.id).filter((d) => d.stage < request.stage && d.decision === 'approved').map((d) => d.decidedById));
    for (const id of this.earlierForwarders(request)) ids.add(id);
    return ids;
  }

  /** Who forwarded a stage of `request` before its current one. */
  private earlierForwarders(request: AccessRequest): Set<string> {
    const ids = new Set<string>();
    for (let stage = 1; stage < request.stage; stage++) {
      for (const a of this.d.store.requests.approvers(request.id, stage)) if (a.source === 'delegate' && a.addedById) ids.add(a.addedById);
    }
    return ids;
  }

  /** Why a card's stage can no longer be acted on because it was decided or closed; null while it can. */
  private settledMessage(request: AccessRequest, cardStage: number): string | null {
    const decided = this.d.store.requests.decisions(request.id).find((d) => d.stage === cardStage);
    if (request.state === 'cancelled') return `${request.id} was cancelled by ${request.closedByName ?? 'the requester'} at ${formatTime(request.closedAt!)}.`;
    if (request.state === 'expired') return `${request.id} expired at ${formatTime(request.closedAt!)} without a decision.`;
    if (decided) {
      return `Already ${decided.decision} by ${decided.decidedByName} at ${formatTime(decided.decidedAt)}${decided.comment ? `: "${plainText(decided.comment)}"` : ''}.`;
    }
    return null;
  }

  private refuse(actor: DirectoryUser, request: AccessRequest, verb: string, reason: string, turn: string, cardStage: number, more: { detail?: string } = {}): void {
    this.d.store.audit.append({
      actor: { id: actor.id, name: actor.displayName },
      action: 'access.decision-refused',
      target: request.id,
      outcome: 'refused',
      correlationId: request.id,
      details: { verb, reason, ...more, cardStage, stage: request.stage, state: request.state, turn },
    });
    this.d.logger.warn({ correlationId: request.id, actor: actor.id, action: 'access.decision-refused', reason }, 'decision refused');
  }

  private async requesterUser(request: AccessRequest): Promise<DirectoryUser> {
    const u = await this.d.directory.getUser(request.requesterId);
    if (u) return u;
    // Left the directory: still resolve approvers for what is left of the request.
    return {
      id: request.requesterId,
      userPrincipalName: request.context.userPrincipalName,
      displayName: request.requesterName,
      mail: null,
      givenName: null,
      surname: null,
      department: request.context.department,
      jobTitle: request.context.jobTitle,
      accountEnabled: false,
      onPremisesSyncEnabled: false,
    };
  }

  // ---- cancel and forward ----------------------------------------------------------------

  /** The requester withdraws a pending request. */
  cancel(actor: DirectoryUser, requestId: string, turnCorrelationId: string): ActionResult {
    const request = this.d.store.requests.get(requestId);
    if (!request || request.requesterId !== actor.id) {
      if (request) {
        this.d.store.audit.append({
          actor: { id: actor.id, name: actor.displayName },
          action: 'access.cancel-refused',
          target: request.id,
          outcome: 'refused',
          correlationId: request.id,
          details: { reason: 'not-the-requester', turn: turnCorrelationId },
        });
      }
      return { outcome: request ? 'refused' : 'not-found', request: null, message: `You have no request ${requestId}. Type **my requests** to see yours.` };
    }
    const by = { id: actor.id, name: actor.displayName };
    const done = this.d.store.transaction(() => {
      if (!this.d.store.requests.closePending(request.id, 'cancelled', by, { requesterId: actor.id })) return false;
      this.d.store.jobs.cancelForRequest(request.id);
      this.d.store.audit.append({ actor: by, action: 'access.cancelled', target: request.id, outcome: 'success', correlationId: request.id, details: { stage: request.stage, turn: turnCorrelationId } });
      this.scheduleUpdateCards(request.id);
      return true;
    });
    const after = this.d.store.requests.get(request.id)!;
    if (!done) return { outcome: 'already', request: after, message: `${request.id} cannot be cancelled any more: it is ${describeState(after).toLowerCase()}.` };
    this.d.scheduler.kick();
    return { outcome: 'done', request: after, message: `${request.id} is cancelled. The approvers' cards now say so.` };
  }

  /**
   * A current approver asks a named colleague to decide instead (they stay an approver too).
   * The delegate is found in the directory by UPN, mail or name; never the requester.
   */
  async forward(actor: DirectoryUser, requestId: string, cardStage: number, query: unknown, turnCorrelationId: string): Promise<ActionResult> {
    const request = this.d.store.requests.get(requestId);
    if (!request) return { outcome: 'not-found', request: null, message: `There is no request ${requestId}.` };
    const settled = this.settledMessage(request, cardStage) ?? (request.state !== 'pending' ? `${request.id} is ${describeState(request).toLowerCase()}.` : null);
    if (settled) return { outcome: 'already', request, message: settled };
    if (cardStage !== request.stage) return { outcome: 'stale', request, message: `This card was for stage ${cardStage}; the request is now at stage ${request.stage}.` };
    if (!(await mayDecide(this.d.directory, this.d.store, request, actor.id, this.approverRules))) {
      this.refuse(actor, request, 'forward', 'not-an-approver', turnCorrelationId, cardStage);
      return { outcome: 'refused', request, message: `You are not an approver of ${request.id} at this stage, so you cannot forward it.` };
    }
    const found = await this.findDelegate(typeof query === 'string' ? query : '');
    if (typeof found === 'string') return { outcome: 'invalid', request, message: found };
    if (found.id === actor.id) return { outcome: 'invalid', request, message: 'Name someone other than yourself.' };
    // Who may not take the stage: each is refused and audited, since naming them is how one
    // person would gather two stages (or their own request) into their hands.
    const unfit = this.unfitDelegate(request, found);
    if (unfit) {
      this.d.store.audit.append({
        actor: { id: actor.id, name: actor.displayName },
        action: 'access.forward-refused',
        target: request.id,
        outcome: 'refused',
        correlationId: request.id,
        details: { stage: request.stage, to: { id: found.id, name: found.displayName }, reason: unfit.reason, turn: turnCorrelationId },
      });
      this.d.logger.warn({ correlationId: request.id, actor: actor.id, action: 'access.forward-refused', reason: unfit.reason }, 'forward refused');
      return { outcome: 'refused', request, message: unfit.message };
    }
    if (this.d.store.requests.approver(request.id, request.stage, found.id)) {
      return { outcome: 'invalid', request, message: `${found.displayName} is already an approver of this stage.` };
    }
    // Every approver gets a card and a place in its refresh.userIds (at most 60 in Teams).
    if (this.d.store.requests.approvers(request.id, request.stage).length >= MAX_STAGE_APPROVERS) {
      return { outcome: 'invalid', request, message: `Stage ${request.stage} of ${request.id} already has ${MAX_STAGE_APPROVERS} approvers, the most a stage may have, so it was not forwarded. One of them can decide.` };
    }
    const by = { id: actor.id, name: actor.displayName };
    const ok = this.d.store.transaction(() => {
      const current = this.d.store.requests.get(request.id)!;
      if (current.state !== 'pending' || current.stage !== request.stage) return false;
      this.d.store.requests.addApprover({ requestId: request.id, stage: request.stage, approverId: found.id, approverName: found.displayName, source: 'delegate', addedById: actor.id });
      this.d.store.audit.append({
        actor: by,
        action: 'access.forwarded',
        target: request.id,
        outcome: 'success',
        correlationId: request.id,
        details: { stage: request.stage, to: { id: found.id, name: found.displayName }, turn: turnCorrelationId },
      });
      this.scheduleNotify(request.id, request.stage, found.id, 'delegate', actor.displayName);
      this.scheduleUpdateCards(request.id);
      return true;
    });
    const after = this.d.store.requests.get(request.id)!;
    if (!ok) return { outcome: 'already', request: after, message: this.settledMessage(after, cardStage) ?? 'The request moved on before it could be forwarded.' };
    this.d.scheduler.kick();
    return { outcome: 'done', request: after, message: `Forwarded to ${found.displayName}: they got the card in their chat. You can still decide too.` };
  }

  /**
   * Why `to` may not be handed the current stage of `request`, or null: the requester; someone
   * who decided or forwarded an earlier stage of the same request (two stages, one person);
   * a guest of the tenant unless guests may approve.
   */
  private unfitDelegate(request: AccessRequest, to: DirectoryUser): { reason: string; message: string } | null {
    if (to.id === request.requesterId) return { reason: 'requester', message: `${to.displayName} is the requester and cannot approve their own request, so it was not forwarded.` };
    const decided = this.d.store.requests.decisions(request.id).find((d) => d.stage < request.stage && d.decidedById === to.id);
    if (decided) {
      return {
        reason: 'decided-earlier-stage',
        message: `${to.displayName} ${decided.decision} stage ${decided.stage} of ${request.id}; stage ${request.stage} needs another pair of eyes, so it was not forwarded.`,
      };
    }
    for (let stage = 1; stage < request.stage; stage++) {
      if (this.d.store.requests.approvers(request.id, stage).some((a) => a.source === 'delegate' && a.addedById === to.id)) {
        return {
          reason: 'forwarded-earlier-stage',
          message: `${to.displayName} forwarded stage ${stage} of ${request.id}; stage ${request.stage} needs another pair of eyes, so it was not forwarded.`,
        };
      }
    }
    if (!canApprove(to, this.guestsMayApprove)) {
      return { reason: 'guest', message: `${to.displayName} is a guest account, not an employee, and cannot approve requests, so it was not forwarded.` };
    }
    return null;
  }

  private async findDelegate(query: string): Promise<DirectoryUser | string> {
    const q = query.trim().slice(0, 200);
    if (!q) return 'Type the name or email of the colleague to forward to.';
    let matches: DirectoryUser[];
    if (q.includes('@')) {
      matches = await usersByUpnOrMail(this.d.directory, q);
    } else {
      matches = await this.d.directory.searchUsers(q, 10);
      const exact = matches.filter((m) => m.displayName.toLowerCase() === q.toLowerCase());
      if (exact.length) matches = exact;
    }
    matches = matches.filter((m) => m.accountEnabled);
    if (!matches.length) return `Nobody who can sign in matches "${q}". Try their full name or email.`;
    if (matches.length > 1) return `"${q}" matches ${matches.length} people (${names(matches.slice(0, 5).map((m) => m.displayName))}). Type the full name or email.`;
    return matches[0]!;
  }

  // ---- views -------------------------------------------------------------------------------

  /** Whether `userId` is listed as an approver of the request's current stage (store only; clicks are checked again). */
  isListedApprover(request: AccessRequest, userId: string): boolean {
    return request.state === 'pending' && userId !== request.requesterId && this.d.store.requests.approver(request.id, request.stage, userId) !== null;
  }

  /**
   * The request card as `viewerId` should see it: a current approver gets the buttons, the
   * requester (while pending) a cancel button, anyone else the status. `refresh.userIds`
   * names the current approvers and the requester, so in Teams each of them gets their own
   * view of any copy.
   */
  cardFor(request: AccessRequest, viewerId: string | null, banner?: { text: string; tone?: Tone }, askMfa?: MfaWay): AdaptiveCardJson {
    // Someone with no part in the request (a forged click or refresh with its id) sees its
    // status only: the justification, the requester's access and the comments are not theirs.
    if (viewerId !== null && !this.isInvolved(request, viewerId)) return this.outsiderCard(request, banner);
    const approvers = this.d.store.requests.approvers(request.id, request.stage);
    const pending = request.state === 'pending';
    const facts: Fact[] = [
      { title: 'Requested by', value: `${request.requesterName}${request.context.jobTitle ? `, ${request.context.jobTitle}` : ''}` },
      { title: 'Department', value: request.context.department ?? 'not set' },
      { title: 'Manager', value: request.context.managerName ?? 'none' },
      { title: 'Access', value: `${request.policy.name}: ${request.policy.description}` },
      { title: 'Risk', value: RISK_LABEL[request.policy.risk] },
      { title: 'Duration', value: durationText(request) },
      { title: 'Justification', value: request.justification ? plainText(request.justification) : '(none given)' },
      { title: 'Current access', value: request.context.memberships.length ? request.context.memberships.join(', ') : 'none of the requestable items' },
      { title: 'Approval', value: request.policy.stages.map((s) => s.title).join(' → ') },
    ];
    if (pending) facts.push({ title: `Stage ${request.stage} approvers`, value: names(approvers.map((a) => a.approverName + (a.source === 'policy' ? '' : ` (${a.source})`))) });
    if (request.extendsRequestId) facts.push({ title: 'Extends', value: request.extendsRequestId });
    facts.push({ title: 'Requested', value: formatTime(request.createdAt) });

    const history: Fact[] = this.d.store.requests.decisions(request.id).map((d) => ({
      title: `Stage ${d.stage} ${d.decision}`,
      value: `${d.decidedByName}, ${formatTime(d.decidedAt)}${d.comment ? `: "${plainText(d.comment)}"` : ''}`,
    }));
    if (request.state === 'cancelled') history.push({ title: 'Cancelled', value: `${request.closedByName}, ${formatTime(request.closedAt!)}` });
    if (request.state === 'expired') history.push({ title: 'Expired', value: `no decision by ${formatTime(request.closedAt!)}` });
    if (request.grantedAt) history.push({ title: 'Granted', value: formatTime(request.grantedAt) });
    if (request.state === 'failed') history.push({ title: 'Granting failed', value: `${formatTime(request.endedAt!)}; the identity technicians were told` });
    if (request.state === 'revoked') history.push({ title: 'Access removed', value: formatTime(request.endedAt!) });

    // Teams takes at most 60 user ids; the requester first, then the approvers (an escalated stage may have many).
    const refreshUserIds = pending
      ? [...new Set([request.requesterId, ...approvers.map((a) => a.approverId)])].slice(0, MAX_REFRESH_USERS).map((id) => this.d.notifier.teamsUserId(id))
      : [];
    // The copy an approver decided on keeps saying so after later updates of every copy,
    // whichever of the invoke response and the update reaches the client last.
    if (!banner && viewerId) {
      const mine = this.d.store.requests.decisions(request.id).filter((d) => d.decidedById === viewerId).pop();
      if (mine) {
        banner = {
          text: `You ${mine.decision} ${request.id}${request.stageCount > 1 ? ` (stage ${mine.stage})` : ''} at ${formatTime(mine.decidedAt)}.`,
          tone: mine.decision === 'approved' ? 'good' : 'attention',
        };
      }
    }
    return renderRequestCard({
      requestId: request.id,
      stage: request.stage,
      title: `${request.id} · ${request.policy.name} for ${request.requesterName}`,
      status: describeState(request),
      statusTone: stateTone(request.state),
      banner: banner?.text ?? null,
      bannerTone: banner?.tone ?? 'warning',
      facts,
      history,
      showDecide: viewerId !== null && this.isListedApprover(request, viewerId),
      showCancel: pending && viewerId === request.requesterId,
      askMfa: askMfa ?? null,
      refreshUserIds,
    });
  }

  /** Whether `userId` takes part in `request`: its requester, an approver of any stage, someone who decided it, or who was sent its card. */
  isInvolved(request: AccessRequest, userId: string): boolean {
    if (userId === request.requesterId) return true;
    for (let stage = 1; stage <= request.stageCount; stage++) if (this.d.store.requests.approver(request.id, stage, userId)) return true;
    if (this.d.store.requests.decisions(request.id).some((d) => d.decidedById === userId)) return true;
    return this.d.store.cards.forRequest(request.id).some((ref) => ref.userId === userId);
  }

  /** The request card for someone not involved: what and its status, nothing about the requester's reasons or access. */
  private outsiderCard(request: AccessRequest, banner?: { text: string; tone?: Tone }): AdaptiveCardJson {
    return renderRequestCard({
      requestId: request.id,
      stage: request.stage,
      title: `${request.id} · ${request.policy.name}`,
      // The state, never who decided or cancelled it.
      status: describeState(request, { names: false }),
      statusTone: stateTone(request.state),
      banner: banner ? `You are not an approver of ${request.id}, so nothing was changed.` : null,
      bannerTone: 'attention',
      facts: [
        { title: 'Access', value: request.policy.name },
        { title: 'Details', value: 'Only the requester and the approvers see the details of this request.' },
      ],
      history: [],
      showDecide: false,
      showCancel: false,
      refreshUserIds: [],
    });
  }

  // ---- jobs --------------------------------------------------------------------------------

  /** Registers the handlers of every access-request job with the scheduler. */
  registerJobs(scheduler: Scheduler): void {
    scheduler.register(ACCESS_JOBS.notifyApprover, { run: (job) => this.runNotifyApprover(job) });
    scheduler.register(ACCESS_JOBS.updateCards, { run: (job) => this.runUpdateCards(job) });
    scheduler.register(ACCESS_JOBS.tellRequester, { run: (job) => this.runTellRequester(job) });
    scheduler.register(ACCESS_JOBS.provision, { lane: DIRECTORY_LANE, run: (job) => this.runProvision(job), onGiveUp: (job, err) => this.provisionGaveUp(job, err) });
    scheduler.register(ACCESS_JOBS.remind, { run: (job) => this.runRemind(job) });
    scheduler.register(ACCESS_JOBS.escalate, { run: (job) => this.runEscalate(job) });
    scheduler.register(ACCESS_JOBS.expireRequest, { run: (job) => this.runExpireRequest(job) });
    scheduler.register(ACCESS_JOBS.expiryNotice, { run: (job) => this.runExpiryNotice(job) });
    scheduler.register(ACCESS_JOBS.revoke, { lane: DIRECTORY_LANE, run: (job) => this.runRevoke(job), onGiveUp: (job, err) => this.revokeGaveUp(job, err) });
    scheduler.register(ACCESS_JOBS.removeMembership, { lane: DIRECTORY_LANE, run: (job) => this.runRemoveMembership(job), onGiveUp: (job, err) => this.removalGaveUp(job, err) });
  }

  // ---- removals not tied to a request ---------------------------------------------------------

  /** Registers who is told how the removals of one owner kind end (an access review: `review`). */
  onRemoval(kind: string, listener: RemovalListener): void {
    if (this.removalListeners.has(kind)) throw new Error(`removal listener ${kind} registered twice`);
    this.removalListeners.set(kind, listener);
  }

  /**
   * Schedules the removal of a membership as a durable job, like the removal of time-bound
   * access: retried with backoff, a ticket for the technicians when it gives up, any grant of
   * that access the bot recorded ended with it. Call it inside the `store.transaction` that
   * records the decision it carries out; kick the scheduler after. False when this owner's
   * removal was already scheduled.
   */
  scheduleRemoval(r: MembershipRemoval): boolean {
    const id = this.d.store.jobs.schedule({
      kind: ACCESS_JOBS.removeMembership,
      requestId: r.correlationId,
      runAt: this.now(),
      payload: { ...r },
      dedupeKey: `remove:${r.owner.kind}:${r.owner.ref}`,
      maxAttempts: this.maxAttempts,
    });
    return id !== null;
  }

  private async runRemoveMembership(job: Job): Promise<void> {
    const r = job.payload as unknown as MembershipRemoval;
    let result: 'removed' | 'not-member';
    let gone: string | null = null;
    this.intend(r.correlationId, INTENT_ACTIONS.membershipRemoval, null, { groupId: r.groupId, userId: r.userId, owner: r.owner }, r.userId);
    try {
      // Idempotent: after a crash between this call and the commit below, the retry finds it gone.
      result = await this.d.directory.removeGroupMember(r.groupId, r.userId);
    } catch (err) {
      // The user or the group no longer exists: neither does the membership.
      if (!(err instanceof NotFoundError)) throw err;
      result = 'not-member';
      gone = err.message.slice(0, 200);
    }
    this.completeRemoval(r, result, gone, job.attempts);
  }

  /** A membership removal is done: every grant of that access ended, named with the open removal intents of its correlation. */
  private completeRemoval(r: MembershipRemoval, result: 'removed' | 'not-member' | 'reconciled', gone: string | null, run: number): void {
    const at = this.now();
    this.d.store.transaction(() => {
      const ended: string[] = [];
      for (const resource of this.d.catalog.resources.filter((c) => c.groupId.toLowerCase() === r.groupId.toLowerCase())) {
        for (const g of this.d.store.requests.grantedFor(r.userId, resource.id)) {
          if (!this.d.store.requests.endGrant(g.id, 'revoked')) continue;
          this.d.store.jobs.cancelForRequest(g.id);
          this.d.store.audit.append({
            actor: SYSTEM_ACTOR,
            action: 'access.revoked',
            target: g.id,
            outcome: 'success',
            correlationId: g.id,
            details: { groupId: g.groupId, userId: g.requesterId, result, reason: r.reason, by: r.correlationId },
          });
          this.scheduleUpdateCards(g.id);
          ended.push(g.id);
        }
      }
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: 'access.membership-removed',
        target: r.userId,
        outcome: 'success',
        correlationId: r.correlationId,
        details: {
          groupId: r.groupId,
          group: r.groupName,
          userId: r.userId,
          result,
          gone,
          reason: r.reason,
          owner: r.owner,
          endedRequests: ended,
          attempt: run,
          attempts: this.openSeqs(r.correlationId, INTENT_ACTIONS.membershipRemoval, (d) => d.groupId === r.groupId && d.userId === r.userId),
        },
      });
      this.removalListeners.get(r.owner.kind)?.removed(r.owner.ref, at, result === 'reconciled' ? 'removed' : result);
    });
    this.d.scheduler.kick();
  }

  private async removalGaveUp(job: Job, err: Error): Promise<TechnicianNotice | void> {
    const r = job.payload as unknown as MembershipRemoval;
    const open = this.openSeqs(r.correlationId, INTENT_ACTIONS.membershipRemoval, (d) => d.groupId === r.groupId && d.userId === r.userId);
    const outcome: ReconciledOutcome | null = open.length ? await this.membershipOutcome(r.userId, r.groupId, false) : null;
    if (outcome) this.recordReconciled(OUTCOME_ACTIONS.removalReconciled, r.correlationId, r.userId, r.groupId, open, outcome);
    if (outcome === 'done') {
      this.completeRemoval(r, 'reconciled', null, job.attempts);
      return;
    }
    this.d.store.transaction(() => {
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: outcome === 'unknown' ? 'access.membership-removal-outcome-unknown' : 'access.membership-removal-failed',
        target: r.userId,
        outcome: 'failure',
        correlationId: r.correlationId,
        details: { groupId: r.groupId, userId: r.userId, reason: r.reason, owner: r.owner, attempts: job.attempts, error: err.message.slice(0, 300) },
      });
      this.removalListeners.get(r.owner.kind)?.failed(r.owner.ref, this.now(), err.message);
    });
    this.d.scheduler.kick();
    return {
      title: `Access not removed: ${r.userName} from ${r.groupName}`,
      text: `${r.reason}: removing ${r.userName} from ${r.groupName} failed ${job.attempts} times (${err.message}). Remove the membership by hand.`,
      facts: [
        { title: 'User', value: `${r.userName} (${r.userPrincipalName})` },
        { title: 'Group', value: `${r.groupName} (${r.groupId})` },
        { title: 'Reference', value: r.correlationId },
      ],
      requestId: r.correlationId,
      type: 'provisioning',
      subject: { id: r.userId, name: r.userName },
    };
  }

  private requestOf(job: Job): AccessRequest {
    const r = job.requestId ? this.d.store.requests.get(job.requestId) : null;
    if (!r) throw new PermanentJobError(`request ${job.requestId} not found`);
    return r;
  }

  private async runNotifyApprover(job: Job): Promise<void> {
    const r = this.requestOf(job);
    const { stage, userId, reason, byName } = job.payload as { stage: number; userId: string; reason: string; byName: string | null };
    // The request moved on or closed before the card went out: nothing to ask any more.
    if (r.state !== 'pending' || r.stage !== stage || !this.isListedApprover(r, userId)) return;
    const banner =
      reason === 'reminder'
        ? { text: `Reminder: this has been waiting for a decision since ${formatTime(r.stageStartedAt)}.`, tone: 'warning' as Tone }
        : reason === 'escalation'
          ? { text: `Escalated to you: nobody decided within ${this.d.config.access.escalateAfterHours} hours. The original approvers can still decide.`, tone: 'warning' as Tone }
          : reason === 'delegate'
            ? { text: `${byName ?? 'An approver'} forwarded this request to you to decide.`, tone: 'accent' as Tone }
            : { text: `${r.requesterName} asks for ${r.policy.name}. Your decision is needed for stage ${stage} of ${r.stageCount}.`, tone: 'accent' as Tone };
    const card = this.cardFor(r, userId, banner);
    const delivered = await this.d.notifier.sendToUser(userId, messageWith(card, `${r.id}: ${r.requesterName} requests ${r.policy.name}`));
    this.d.store.cards.add({ requestId: r.id, userId, role: 'approver', stage, activityId: delivered.activityId, reference: delivered.reference });
  }

  private async runUpdateCards(job: Job): Promise<void> {
    const r = this.requestOf(job);
    const failures: string[] = [];
    for (const ref of this.d.store.cards.forRequest(r.id)) {
      const card = this.cardFor(r, ref.userId);
      try {
        await this.d.notifier.update(ref.reference, ref.activityId, messageWith(card));
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        // A message someone deleted cannot be updated; the others still are.
        if (status === 404) continue;
        failures.push(`${ref.conversationId}: ${(err as Error).message}`);
      }
    }
    if (failures.length) throw new Error(`${failures.length} card update(s) failed: ${failures[0]}`);
  }

  private async runTellRequester(job: Job): Promise<void> {
    const r = this.requestOf(job);
    const { event, detail } = job.payload as { event: RequesterEvent; detail?: string };
    const card = this.requesterMessage(r, event, detail);
    if (!card) return;
    await this.d.notifier.sendToUser(r.requesterId, messageWith(card));
  }

  private requesterMessage(r: AccessRequest, event: RequesterEvent, detail?: string): AdaptiveCardJson | null {
    const facts: Fact[] = [
      { title: 'Request', value: r.id },
      { title: 'Access', value: r.policy.name },
    ];
    switch (event) {
      case 'granted':
        return renderAccessNotice({
          title: `Access granted: ${r.policy.name}`,
          text: r.expiresAt
            ? `${r.id} was approved and you now have ${r.policy.name} until ${formatTime(r.expiresAt)}. I will remind you before it ends, so you can ask for an extension.`
            : `${r.id} was approved and you now have ${r.policy.name}, with no end date.`,
          tone: 'good',
          facts: [...facts, { title: 'Until', value: r.expiresAt ? formatTime(r.expiresAt) : 'no end date' }, { title: 'Approved by', value: r.closedByName ?? '' }],
        });
      case 'denied':
        return renderAccessNotice({
          title: `Request denied: ${r.policy.name}`,
          text: `${r.closedByName} denied ${r.id}${r.closeComment ? `: "${plainText(r.closeComment)}"` : '.'}`,
          tone: 'attention',
          facts,
        });
      case 'refused':
        return renderAccessNotice({
          title: `Access approved but not granted: ${r.policy.name}`,
          text: `${r.id} was approved, but you were not added to ${r.policy.name}: ${detail ?? 'it can no longer be granted'}. Nothing was changed; ask your manager which of the two you need, and request again if it is this one.`,
          tone: 'attention',
          facts,
        });
      case 'failed':
        return renderAccessNotice({
          title: `Access approved but not granted yet: ${r.policy.name}`,
          text: `${r.id} was approved, but adding you to ${r.policy.name} failed several times. The identity technicians have been told and will finish it; you do not need to ask again.`,
          tone: 'attention',
          facts,
        });
      case 'expired':
        return renderAccessNotice({
          title: `Request expired: ${r.policy.name}`,
          text: endedUndecided(r, r.closedAt)
            ? `Nobody decided on ${r.id} before the end you asked for (${formatTime(r.endsAt!)}), so it expired. Ask again if you still need it.`
            : `Nobody decided on ${r.id} within ${this.d.config.access.requestExpiryDays} days, so it expired. Ask again if you still need it.`,
          tone: 'warning',
          facts,
          actions: [{ id: 'access-ask-again', title: 'Ask again', verb: 'access.extend', data: { requestId: r.id } }],
        });
      case 'revoked':
        return renderAccessNotice({
          title: `Access ended: ${r.policy.name}`,
          text: `Your time-bound access to ${r.policy.name} (${r.id}) ended at ${formatTime(r.endedAt ?? r.expiresAt!)} and was removed.`,
          tone: 'default',
          facts,
          actions: [{ id: 'access-ask-again', title: 'Request it again', verb: 'access.extend', data: { requestId: r.id } }],
        });
      case 'escalated':
        return renderAccessNotice({
          title: `Your request moved up: ${r.id}`,
          text: `Nobody decided on ${r.id} within ${this.d.config.access.escalateAfterHours} hours, so more approvers were asked: ${names(
            this.d.store.requests.approvers(r.id, r.stage).filter((a) => a.source === 'escalation').map((a) => a.approverName),
          )}.`,
          tone: 'default',
          facts,
        });
    }
  }

  private async runProvision(job: Job): Promise<void> {
    const r = this.requestOf(job);
    if (r.state !== 'approved') return;
    await this.checkStillGrantable(r);
    // On record before the directory call, with the request's claim re-checked: a stop or a lost
    // answer leaves the intent open, and giving up reads the membership before saying "failed".
    if (this.intend(r.id, INTENT_ACTIONS.grant, (x) => x.state === 'approved', { groupId: r.groupId, userId: r.requesterId }) === null) return;
    let result: 'added' | 'already-member';
    try {
      // Idempotent: after a crash between this call and the commit below, the retry finds the membership.
      result = await this.d.directory.addGroupMember(r.groupId, r.requesterId);
    } catch (err) {
      if (err instanceof NotFoundError) throw new PermanentJobError(`the group or the user no longer exists: ${err.message}`);
      throw err;
    }
    this.completeGrant(r, result, job.attempts);
  }

  /** An approved request's membership is there: granted, in one transaction with its audit event (naming every open intent) and follow-ups. */
  private completeGrant(r: AccessRequest, result: 'added' | 'already-member' | 'reconciled', run: number): void {
    const grantedAt = this.now();
    // A fixed end ("until Friday") holds whenever the grant happens; otherwise the duration runs from now.
    const expiresAt = r.endsAt ? new Date(r.endsAt) : r.durationHours === null ? null : addHours(grantedAt, r.durationHours);
    this.d.store.transaction(() => {
      if (!this.d.store.requests.markGranted(r.id, grantedAt.toISOString(), expiresAt?.toISOString() ?? null)) return;
      const superseded: string[] = [];
      for (const old of this.d.store.requests.grantedFor(r.requesterId, r.resourceId)) {
        if (old.id === r.id) continue;
        if (this.d.store.requests.endGrant(old.id, 'superseded')) {
          this.d.store.jobs.cancelForRequest(old.id);
          superseded.push(old.id);
          this.d.store.audit.append({ actor: SYSTEM_ACTOR, action: 'access.superseded', target: old.id, outcome: 'success', correlationId: old.id, details: { by: r.id } });
          this.scheduleUpdateCards(old.id);
        }
      }
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: 'access.provisioned',
        target: r.id,
        outcome: 'success',
        correlationId: r.id,
        details: {
          groupId: r.groupId,
          userId: r.requesterId,
          result,
          expiresAt: expiresAt?.toISOString() ?? null,
          attempt: run,
          attempts: this.openSeqs(r.id, INTENT_ACTIONS.grant),
          supersedes: superseded,
        },
      });
      if (expiresAt) {
        const noticeAt = addHours(expiresAt, -this.d.config.access.expiryNoticeHours);
        if (noticeAt > this.now()) this.schedule(ACCESS_JOBS.expiryNotice, r.id, noticeAt, { expiresAt: expiresAt.toISOString() }, `expiry-notice:${r.id}`);
        this.schedule(ACCESS_JOBS.revoke, r.id, expiresAt, { expiresAt: expiresAt.toISOString() }, `revoke:${r.id}`);
      }
      this.scheduleUpdateCards(r.id);
      this.scheduleTell(r.id, 'granted');
    });
    this.d.scheduler.kick();
  }

  /**
   * What was true when the request was made is checked again when the access is granted:
   * the requester can still sign in, and holds nothing the resource is incompatible with
   * (someone may have added it by other means while the request waited).
   */
  private async checkStillGrantable(r: AccessRequest): Promise<void> {
    const requester = await this.d.directory.getUser(r.requesterId);
    if (!requester) throw new GrantRefusedError('user-gone', `${r.requesterName} is no longer in the directory`);
    if (!requester.accountEnabled) throw new GrantRefusedError('account-disabled', `the account of ${r.requesterName} is disabled`);
    const resource = this.resourceOf(r);
    if (!resource) return;
    const conflict = (await heldResources(this.d.directory, this.d.catalog, r.requesterId)).find((o) => o.id !== resource.id && areIncompatible(resource, o));
    if (conflict) {
      const why = `which cannot be combined with ${resource.name} (separation of duties)`;
      throw new GrantRefusedError('conflict', `${r.requesterName} now has ${conflict.name}, ${why}`, `you now have ${conflict.name}, ${why}`);
    }
  }

  /**
   * The grant did not happen: it failed for good (the technicians add the membership by hand),
   * or was refused when it ran (nothing is to be added: people decide again). Either way the
   * request ends as not granted, audited, and the technicians get a notice.
   */
  private async provisionGaveUp(job: Job, err: Error): Promise<TechnicianNotice | void> {
    const r = job.requestId ? this.d.store.requests.get(job.requestId) : null;
    if (!r || r.state !== 'approved') return;
    const refused = err instanceof GrantRefusedError ? err : null;
    // A grant on its way when it gave up (or when the process died: a quarantine) may have been
    // made: the membership says. Only "not a member" is a failure.
    const open = this.openSeqs(r.id, INTENT_ACTIONS.grant);
    const outcome: ReconciledOutcome | null = open.length ? await this.membershipOutcome(r.requesterId, r.groupId, true) : null;
    if (outcome) this.recordReconciled(OUTCOME_ACTIONS.grantReconciled, r.id, r.requesterId, r.groupId, open, outcome);
    if (outcome === 'done') {
      this.completeGrant(r, 'reconciled', job.attempts);
      return;
    }
    const unknown = outcome === 'unknown';
    const changed = this.d.store.transaction(() => {
      if (!this.d.store.requests.markFailed(r.id)) return false;
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: refused ? 'access.grant-refused' : unknown ? 'access.provisioning-outcome-unknown' : 'access.provisioning-failed',
        target: r.id,
        outcome: refused ? 'refused' : 'failure',
        correlationId: r.id,
        details: refused
          ? { groupId: r.groupId, userId: r.requesterId, reason: refused.reason, detail: refused.message.slice(0, 300) }
          : { groupId: r.groupId, userId: r.requesterId, runs: job.attempts, attempts: open, error: err.message.slice(0, 300) },
      });
      this.scheduleUpdateCards(r.id);
      // A disabled or deleted account cannot read it.
      if (!refused) this.scheduleTell(r.id, 'failed');
      else if (refused.reason === 'conflict') this.scheduleTell(r.id, 'refused', undefined, refused.toRequester);
      return true;
    });
    if (!changed) return;
    this.d.scheduler.kick();
    return {
      title: `Access approved but not granted: ${r.id}`,
      text: refused
        ? `${r.requesterName} was not added to ${r.policy.name}: ${refused.message}. Nothing was changed. If the access is still needed, the approvers decide again on a new request.`
        : unknown
          ? `Adding ${r.requesterName} to ${r.policy.name} did not finish (${err.message}) and the membership could not be read: check whether ${r.requesterName} is a member, and add them if not.`
          : `Adding ${r.requesterName} to ${r.policy.name} failed ${job.attempts} times (${err.message}). Add the membership by hand; the requester has been told.`,
      facts: [
        { title: 'Request', value: r.id },
        { title: 'User', value: `${r.requesterName} (${r.context.userPrincipalName})` },
        { title: 'Group', value: `${r.policy.name} (${r.groupId})` },
        ...(refused ? [] : [{ title: 'Duration', value: durationText(r) }]),
      ],
      requestId: r.id,
    };
  }

  private async runRemind(job: Job): Promise<void> {
    const r = this.requestOf(job);
    const { stage } = job.payload as { stage: number };
    if (r.state !== 'pending' || r.stage !== stage) return;
    const approvers = this.d.store.requests.approvers(r.id, stage);
    this.d.store.transaction(() => {
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: 'access.reminded',
        target: r.id,
        outcome: 'success',
        correlationId: r.id,
        details: { stage, kind: 'approval', approvers: approvers.map((a) => a.approverId) },
      });
      for (const a of approvers) this.scheduleNotify(r.id, stage, a.approverId, 'reminder');
    });
    this.d.scheduler.kick();
  }

  private async runEscalate(job: Job): Promise<void> {
    const r = this.requestOf(job);
    const { stage } = job.payload as { stage: number };
    if (r.state !== 'pending' || r.stage !== stage) return;
    const current = this.d.store.requests.approvers(r.id, stage);
    const known = new Set([...current.map((a) => a.approverId), r.requesterId]);
    const earlier = this.earlierApprovers(r);
    const added = new Map<string, DirectoryUser>();
    for (const a of current) {
      const approver = await this.d.directory.getUser(a.approverId);
      if (!approver) continue;
      const up = await nextEnabledManager(this.d.directory, approver, r.requesterId, earlier, this.guestsMayApprove);
      if (up && !known.has(up.id)) added.set(up.id, up);
    }
    if (!added.size) {
      for (const f of await fallbackGroupApprovers(this.d.directory, this.d.fallbackGroupId, r.requesterId, earlier, this.guestsMayApprove)) if (!known.has(f.user.id)) added.set(f.user.id, f.user);
    }
    const to = [...added.values()];
    this.d.store.transaction(() => {
      const now = this.d.store.requests.get(r.id)!;
      if (now.state !== 'pending' || now.stage !== stage) return;
      for (const u of to) this.d.store.requests.addApprover({ requestId: r.id, stage, approverId: u.id, approverName: u.displayName, source: 'escalation' });
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: 'access.escalated',
        target: r.id,
        outcome: to.length ? 'success' : 'failure',
        correlationId: r.id,
        details: { stage, afterHours: this.d.config.access.escalateAfterHours, to: to.map((u) => ({ id: u.id, name: u.displayName })) },
      });
      for (const u of to) this.scheduleNotify(r.id, stage, u.id, 'escalation');
      if (to.length) {
        this.scheduleUpdateCards(r.id);
        this.scheduleTell(r.id, 'escalated', stage);
      }
    });
    if (!to.length) {
      await this.d.technicians.raise({
        title: `${r.id} is stuck: nobody to escalate to`,
        text: `Stage ${stage} of ${r.id} (${r.policy.name} for ${r.requesterName}) has waited ${this.d.config.access.escalateAfterHours} hours and there is no manager above its approvers nor anyone in the fallback group. Find an approver.`,
        requestId: r.id,
      });
    }
    this.d.scheduler.kick();
  }

  private async runExpireRequest(job: Job): Promise<void> {
    const r = this.requestOf(job);
    if (r.state !== 'pending') return;
    const expired = this.d.store.transaction(() => {
      if (!this.d.store.requests.closePending(r.id, 'expired', SYSTEM_ACTOR)) return false;
      this.d.store.jobs.cancelForRequest(r.id);
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: 'access.expired',
        target: r.id,
        outcome: 'success',
        correlationId: r.id,
        details: endedUndecided(r, this.now()) ? { stage: r.stage, endsAt: r.endsAt } : { stage: r.stage, afterDays: this.d.config.access.requestExpiryDays },
      });
      this.scheduleUpdateCards(r.id);
      this.scheduleTell(r.id, 'expired');
      return true;
    });
    if (expired) this.d.scheduler.kick();
  }

  private async runExpiryNotice(job: Job): Promise<void> {
    const r = this.requestOf(job);
    if (r.state !== 'granted' || r.expiresAt !== (job.payload as { expiresAt: string }).expiresAt) return;
    const card = renderAccessNotice({
      title: `Your access to ${r.policy.name} ends soon`,
      text: `Your access to ${r.policy.name} (${r.id}) ends on ${formatTime(r.expiresAt)}. Need more time? Request an extension: it goes through the same approval as before.`,
      tone: 'warning',
      facts: [
        { title: 'Request', value: r.id },
        { title: 'Ends', value: formatTime(r.expiresAt) },
      ],
      actions: [{ id: 'access-extend', title: 'Request an extension', verb: 'access.extend', data: { requestId: r.id } }],
    });
    await this.d.notifier.sendToUser(r.requesterId, messageWith(card));
    this.d.store.audit.append({
      actor: SYSTEM_ACTOR,
      action: 'access.reminded',
      target: r.id,
      outcome: 'success',
      correlationId: r.id,
      details: { kind: 'expiry', expiresAt: r.expiresAt, to: r.requesterId },
    });
  }

  private async runRevoke(job: Job): Promise<void> {
    const r = this.requestOf(job);
    if (r.state !== 'granted' || r.expiresAt !== (job.payload as { expiresAt: string }).expiresAt) return;
    const expiresAt = r.expiresAt;
    if (this.intend(r.id, INTENT_ACTIONS.membershipRemoval, (x) => x.state === 'granted' && x.expiresAt === expiresAt, { groupId: r.groupId, userId: r.requesterId }) === null) return;
    this.completeRevoke(r, await this.d.directory.removeGroupMember(r.groupId, r.requesterId));
  }

  /** Time-bound access is gone from the group: revoked, naming every open removal intent. */
  private completeRevoke(r: AccessRequest, result: 'removed' | 'not-member' | 'reconciled'): void {
    const ended = this.d.store.transaction(() => {
      if (!this.d.store.requests.endGrant(r.id, 'revoked')) return false;
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: 'access.revoked',
        target: r.id,
        outcome: 'success',
        correlationId: r.id,
        details: { groupId: r.groupId, userId: r.requesterId, result, reason: 'expired', expiresAt: r.expiresAt, attempts: this.openSeqs(r.id, INTENT_ACTIONS.membershipRemoval) },
      });
      this.d.store.jobs.cancelForRequest(r.id, ACCESS_JOBS.expiryNotice);
      this.scheduleUpdateCards(r.id);
      this.scheduleTell(r.id, 'revoked');
      return true;
    });
    if (ended) this.d.scheduler.kick();
  }

  private async revokeGaveUp(job: Job, err: Error): Promise<TechnicianNotice | void> {
    const r = job.requestId ? this.d.store.requests.get(job.requestId) : null;
    if (!r) return;
    // A removal on its way may have been made: the membership says; only "still a member" is a failure.
    const open = this.openSeqs(r.id, INTENT_ACTIONS.membershipRemoval);
    const outcome: ReconciledOutcome | null = open.length ? await this.membershipOutcome(r.requesterId, r.groupId, false) : null;
    if (outcome) this.recordReconciled(OUTCOME_ACTIONS.removalReconciled, r.id, r.requesterId, r.groupId, open, outcome);
    if (outcome === 'done') {
      if (r.state === 'granted') this.completeRevoke(r, 'reconciled');
      return;
    }
    this.d.store.audit.append({
      actor: SYSTEM_ACTOR,
      action: outcome === 'unknown' ? 'access.revoke-outcome-unknown' : 'access.revoke-failed',
      target: r.id,
      outcome: 'failure',
      correlationId: r.id,
      details: { groupId: r.groupId, userId: r.requesterId, runs: job.attempts, attempts: open, error: err.message.slice(0, 300) },
    });
    return {
      title: `Time-bound access not removed: ${r.id}`,
      text: `${r.requesterName}'s access to ${r.policy.name} ended at ${formatTime(r.expiresAt!)}, but removing the membership failed ${job.attempts} times (${err.message}). Remove it by hand.`,
      facts: [
        { title: 'Request', value: r.id },
        { title: 'User', value: `${r.requesterName} (${r.context.userPrincipalName})` },
        { title: 'Group', value: `${r.policy.name} (${r.groupId})` },
      ],
      requestId: r.id,
    };
  }

  // ---- effects on record -------------------------------------------------------------------

  /**
   * The intent of a membership change, before the directory call, in a transaction that
   * re-checks the request's claim (`claim`; null when the change is not tied to a request's
   * state). Null when the claim no longer holds: nothing is to be done.
   */
  private intend(
    correlationId: string,
    action: (typeof INTENT_ACTIONS)['grant' | 'membershipRemoval'],
    claim: ((r: AccessRequest) => boolean) | null,
    details: Record<string, unknown>,
    target?: string,
  ): number | null {
    return this.d.store.transaction(() => {
      if (claim) {
        const now = this.d.store.requests.get(correlationId);
        if (!now || !claim(now)) return null;
      }
      return recordIntent(this.d.store.audit, SYSTEM_ACTOR, action, target ?? correlationId, correlationId, this.now(), details);
    });
  }

  /** The intents of `action` under `correlationId` no outcome names yet (optionally only those `match` keeps). */
  private openSeqs(correlationId: string, action: string, match?: (details: Record<string, unknown>) => boolean): number[] {
    return openIntents(this.d.store.audit, correlationId)
      .filter((e) => e.action === action && (!match || match(JSON.parse(e.details) as Record<string, unknown>)))
      .map((e) => e.seq);
  }

  /** What the group shows of a change: `wantMember` is what "done" looks like; unknown when it cannot be read. */
  private async membershipOutcome(userId: string, groupId: string, wantMember: boolean): Promise<ReconciledOutcome> {
    try {
      const member = (await this.d.directory.checkMemberGroups(userId, [groupId])).some((g) => g.toLowerCase() === groupId.toLowerCase());
      return member === wantMember ? 'done' : 'not-done';
    } catch (err) {
      this.d.logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'the membership could not be read to reconcile a change');
      return 'unknown';
    }
  }

  /** What the membership showed; the outcome event that follows (granted, revoked, failed) names the intents and closes them. */
  private recordReconciled(action: string, correlationId: string, userId: string, groupId: string, intents: number[], outcome: ReconciledOutcome): void {
    this.d.store.audit.append({
      actor: SYSTEM_ACTOR,
      action,
      target: correlationId,
      outcome: outcome === 'unknown' ? 'failure' : 'success',
      correlationId,
      details: { groupId, userId, outcome, intents },
    });
  }

  /** The catalog entry of a request (null when it was removed from the catalog since). */
  resourceOf(request: AccessRequest): CatalogResource | null {
    return findResourceById(this.d.catalog, request.resourceId) ?? null;
  }
}

/** A message activity carrying one card, with a plain-text summary for notifications. */
export function messageWith(card: AdaptiveCardJson, summary?: string) {
  const activity = MessageFactory.attachment(CardFactory.adaptiveCard(card));
  if (summary) activity.summary = summary;
  return activity;
}

/**
 * "Waiting for approval: stage 1 of 2 (The requester's manager)", "Granted until ...".
 * `names: false` leaves out who decided or cancelled (for someone with no part in the request).
 */
export function describeState(r: AccessRequest, options: { names?: boolean } = {}): string {
  const by = options.names === false ? '' : ` by ${r.closedByName}`;
  switch (r.state) {
    case 'pending':
      return `Waiting for approval: stage ${r.stage} of ${r.stageCount} (${r.policy.stages[r.stage - 1]?.title ?? 'approvers'})`;
    case 'approved':
      return `Approved${by}: access is being granted`;
    case 'granted':
      return r.expiresAt ? `Granted until ${formatTime(r.expiresAt)}` : 'Granted, no end date';
    case 'denied':
      return `Denied${by}`;
    case 'cancelled':
      return `Cancelled${by}`;
    case 'expired':
      return 'Expired without a decision';
    case 'failed':
      return 'Approved, but granting failed: the identity technicians are on it';
    case 'revoked':
      return `Ended: access removed ${formatTime(r.endedAt!)}`;
    case 'superseded':
      return 'Replaced by an extension';
  }
}

export function stateTone(state: RequestState): Tone {
  if (state === 'pending') return 'warning';
  if (state === 'approved' || state === 'granted') return 'good';
  if (state === 'denied' || state === 'failed') return 'attention';
  return 'default';
}

function durationText(r: AccessRequest): string {
  // A fixed end: the hours asked for were counted from the request, so only the end means anything.
  if (r.endsAt) return `until ${formatTime(r.expiresAt ?? r.endsAt)}`;
  const base = formatDuration(r.durationHours);
  if (r.expiresAt) return `${base}, until ${formatTime(r.expiresAt)}`;
  return r.durationHours === null ? base : `${base} from approval`;
}

/** Whether a request with a fixed end was still undecided when that end came (it expired `at`). */
function endedUndecided(r: AccessRequest, at: Date | string | null): boolean {
  return r.endsAt !== null && at !== null && new Date(r.endsAt).getTime() <= new Date(at).getTime();
}

function names(list: string[]): string {
  if (!list.length) return 'nobody';
  return list.join(', ');
}
