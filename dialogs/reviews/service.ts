import { plainText } from '../../adaptive-cards/plain-text';
import { renderNoticeCard } from '../../adaptive-cards/notice';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import { renderReviewerCard, renderReviewStatusCard, type Fact, type ReviewLine, type Tone } from '../../adaptive-cards/reviews';
import { renderReviewWaitingCard } from '../../adaptive-cards/review-waiting';
import type { AppConfig } from '../../bot/config';
import { APP_NAME } from '../../bot/deps';
import type { Logger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import { DIRECTORY_LANE, PermanentJobError, type Scheduler, type TechnicianNotice, type TechnicianNotices } from '../../bot/scheduler';
import { findResourceById, type Catalog, type CatalogResource } from '../../directory/catalog';
import { BASELINE_CAPABILITIES, isGuest, isGuid, NotFoundError, type Directory, type DirectoryUser } from '../../directory/directory';
import { isOccurrence, nextOccurrence, previousOccurrence, type ReviewSchedule, type ReviewSchedules } from '../../directory/review-schedules';
import type { AuditActor } from '../../store/audit-trail';
import type { Job } from '../../store/jobs';
import {
  isCampaignId,
  type AutoApply,
  type Campaign,
  type CampaignReviewer,
  type CampaignScope,
  type CloseReason,
  type ItemHelpers,
  type ReviewerSource,
  type ReviewItem,
  type ReviewStore,
} from '../../store/reviews';
import { rate, reviewerNames, reviewerText, reviewEvidenceCsv, scopeText } from '../../store/review-evidence';
import type { Store } from '../../store/store';
import type { AccessService } from '../access-service';
import { messageWith } from '../access-service';
import { formatTime } from '../access-duration';
import { canApprove, nextEnabledManager } from '../access-policy';
import { describePrivileged, type PrivilegedResolver } from '../privileged';

/**
 * Access review campaigns (certification), end to end: starting one (from a technician's
 * command, another capability, or a schedule in data), resolving the reviewers of every item
 * (the member's manager, the owners of the group, the members of a named group, a named
 * person; never the member themself, who is routed to the fallback reviewers), the reviewers'
 * cards with one-time decisions checked at click time, reminders before the due date, the
 * close (undecided items follow the campaign's auto-apply setting; removals go through the
 * durable removal path of access requests, with retries and a ticket on failure), and the
 * evidence for auditors (a card, CSV, and the audit trail with the campaign id as correlation
 * id). Nothing here knows Teams: cards go out through the {@link Notifier}, clicks come in as
 * verbs with ids.
 */

export type ReviewScopeInput =
  | { kind: 'group'; groupId: string }
  | { kind: 'resource'; resourceId: string }
  | { kind: 'department'; department: string }
  | { kind: 'user-access'; userId: string; groupIds: string[] };

export type ReviewerChoice = { kind: 'manager' } | { kind: 'owner' } | { kind: 'group'; groupId: string } | { kind: 'user'; userId: string };

export interface StartReviewInput {
  scope: ReviewScopeInput;
  reviewer?: ReviewerChoice;
  dueInDays?: number;
  autoApply?: AutoApply;
  inactiveDays?: number;
  startedBy: { id: string; name: string };
  reason?: string;
  correlationId: string;
}

export type StartReviewResult = { ok: true; campaignId: string; items: number } | { ok: false; message: string };

/** What the close (or a technician) did. */
export interface ReviewActionResult {
  ok: boolean;
  message: string;
  campaign: Campaign | null;
}

export interface ReviewDeps {
  config: AppConfig;
  store: Store;
  reviews: ReviewStore;
  directory: Directory;
  logger: Logger;
  clock: () => Date;
  catalog: Catalog;
  notifier: Notifier;
  scheduler: Scheduler;
  /** Removals go through its durable removal job (retries, ticket on failure). */
  access: AccessService;
  technicians: TechnicianNotices;
  /** The fallback reviewers: members of this group (then the campaign's starter). */
  technicianGroupId: string | null;
  /** The one answer to "is this account privileged?": reviewers see why a member's account is. */
  privileged?: PrivilegedResolver | null;
  schedules: ReviewSchedules;
}

/** Durable job kinds of access reviews; payloads hold ids only. */
export const REVIEW_JOBS = {
  notify: 'review.notify-reviewer',
  remind: 'review.remind',
  close: 'review.close',
  updateCards: 'review.update-cards',
  postProgress: 'review.post-progress',
  postReport: 'review.post-report',
  schedule: 'review.schedule',
} as const;

/** Why a reviewer's card is sent: the start, a reminder, or the reviewer asked for it again. */
type NotifyReason = 'new' | 'reminder' | 'asked';

/** Items per page of a reviewer's card. */
export const PAGE_SIZE = 10;
/** Most items one campaign may have. */
export const MAX_ITEMS = 2000;
/** Most reviewers one item may have (each gets a card). */
export const MAX_ITEM_REVIEWERS = 25;
export const DUE_DAYS = { min: 1, max: 180 } as const;
export const INACTIVE_DAYS = { min: 1, max: 3650 } as const;
const MAX_REASON = 500;
const REPORT_LINES = 40;
/** The removal listener's kind (the owner of review removals in the access service). */
const REMOVAL_KIND = 'review';

/** The bot as the actor of scheduled campaigns, auto-applied decisions and jobs. */
export const REVIEW_SYSTEM: AuditActor & { id: string; name: string } = { id: 'system', name: APP_NAME };

const AUTO_APPLY_TEXT: Record<AutoApply, string> = {
  deny: 'remove what nobody decided',
  keep: 'keep what nobody decided',
  none: 'leave what nobody decided as it is',
};

interface Target {
  member: DirectoryUser;
  groupId: string;
  accessName: string;
  resourceId: string | null;
}

interface PlannedItem {
  target: Target;
  reviewers: Array<{ user: DirectoryUser; source: ReviewerSource }>;
  /** The member was one of the reviewers the choice named: routed away. */
  selfRouted: boolean;
  helpers: ItemHelpers;
}

type LastSignIns = Map<string, Date | null>;

export class ReviewService {
  constructor(private readonly d: ReviewDeps) {}

  /** Guests of the tenant review only when guests may approve (`ALLOW_GUEST_APPROVERS`). */
  private get guestsMayReview(): boolean {
    return this.d.config.guests.mayApprove;
  }

  private now(): Date {
    return this.d.clock();
  }

  private get maxAttempts(): number {
    return this.d.config.jobs.maxAttempts;
  }

  get schedules(): readonly ReviewSchedule[] {
    return this.d.schedules.schedules;
  }

  // ---- starting a campaign ----------------------------------------------------------------------

  /**
   * Starts a campaign: resolves what to review and who reviews each item now, and creates the
   * campaign, its items, its audit event and its jobs (reviewer cards, reminders, the close at
   * the due date, the progress card in the technicians' channel) in one transaction. Bad input
   * gets a message and changes nothing.
   */
  start(input: StartReviewInput): Promise<StartReviewResult> {
    return this.begin(input, { announce: true });
  }

  /**
   * {@link start}, with whether the technicians' channel gets the progress card (not when the
   * command that started it was typed there: its answer is that card) and, for a scheduled
   * campaign, the occurrence it is (recorded with it, so it never starts twice).
   */
  async begin(input: StartReviewInput, options: { announce: boolean; schedule?: { id: string; occurrence: string; name: string } }): Promise<StartReviewResult> {
    const checked = this.validate(input);
    if (typeof checked === 'string') return { ok: false, message: `${checked} No review was started.` };
    const resolved = await this.resolveScope(input.scope);
    if ('error' in resolved) return { ok: false, message: `${resolved.error} No review was started.` };
    const choice = await this.resolveChoice(input.reviewer ?? { kind: 'manager' });
    if (typeof choice === 'string') return { ok: false, message: `${choice} No review was started.` };
    let targets = resolved.targets;
    if (!targets.length) return { ok: false, message: `${resolved.empty} No review was started.` };

    const signIns = await this.lastSignIns(targets.map((t) => t.member.id));
    if (checked.inactiveDays !== null) {
      if (!signIns.map) {
        return { ok: false, message: `${signIns.problem ?? 'This directory does not report when people last signed in'}, so --inactive cannot be used. No review was started.` };
      }
      const cutoff = this.now().getTime() - checked.inactiveDays * 86_400_000;
      targets = targets.filter((t) => {
        const at = lookup(signIns.map!, t.member.id);
        // Only what the directory knows: someone it says nothing about is left out.
        return at !== undefined && (at === null || at.getTime() < cutoff);
      });
      if (!targets.length) return { ok: false, message: `Nobody in ${resolved.scope.name} has been inactive for ${checked.inactiveDays} days or more. No review was started.` };
    }
    if (targets.length > MAX_ITEMS) {
      return { ok: false, message: `${resolved.scope.name} has ${targets.length} memberships to review; one campaign takes at most ${MAX_ITEMS}. Review a smaller scope. No review was started.` };
    }

    const planned: PlannedItem[] = [];
    const cache = new Map<string, DirectoryUser[]>();
    for (const target of targets) {
      const { reviewers, selfRouted } = await this.reviewersFor(target, choice, input.startedBy, cache);
      planned.push({ target, reviewers, selfRouted, helpers: await this.helpersFor(target, signIns.map) });
    }

    const startedAt = this.now();
    const dueAt = new Date(startedAt.getTime() + checked.dueDays * 86_400_000);
    const title = options.schedule?.name ?? `Access review: ${resolved.scope.name}`;
    let count = 0;
    const unassigned: string[] = [];
    const campaign = this.d.store.transaction(() => {
      if (options.schedule && this.d.reviews.run(options.schedule.id, options.schedule.occurrence)) return null;
      const c = this.d.reviews.create({
        title,
        scope: resolved.scope,
        reviewer: choice,
        autoApply: checked.autoApply,
        inactiveDays: checked.inactiveDays,
        startedBy: input.startedBy,
        reason: checked.reason,
        scheduleId: options.schedule?.id ?? null,
        occurrence: options.schedule?.occurrence ?? null,
        dueAt,
      });
      const perReviewer = new Map<string, { name: string; items: number }>();
      const selfRouted: Array<{ member: string; to: string[] }> = [];
      for (const p of planned) {
        const itemId = this.d.reviews.addItem({
          campaignId: c.id,
          memberId: p.target.member.id,
          memberName: p.target.member.displayName,
          memberUpn: p.target.member.userPrincipalName,
          groupId: p.target.groupId,
          accessName: p.target.accessName,
          resourceId: p.target.resourceId,
          helpers: p.helpers,
        });
        if (itemId === null) continue;
        count += 1;
        for (const r of p.reviewers) {
          this.d.reviews.addReviewer({ itemId, reviewerId: r.user.id, reviewerName: r.user.displayName, source: r.source });
          const seen = perReviewer.get(r.user.id) ?? { name: r.user.displayName, items: 0 };
          seen.items += 1;
          perReviewer.set(r.user.id, seen);
        }
        if (p.selfRouted) selfRouted.push({ member: p.target.member.displayName, to: p.reviewers.map((r) => r.user.displayName) });
        if (!p.reviewers.length) unassigned.push(`${p.target.member.displayName} · ${p.target.accessName}`);
      }
      if (options.schedule) {
        this.d.reviews.recordRun({ scheduleId: options.schedule.id, occurrence: options.schedule.occurrence, outcome: 'started', campaignId: c.id, detail: null });
      }
      this.d.store.audit.append({
        actor: input.startedBy,
        action: 'review.started',
        target: c.id,
        outcome: 'success',
        correlationId: c.id,
        details: {
          title,
          scope: resolved.scope,
          reviewer: choice,
          dueAt: dueAt.toISOString(),
          autoApply: checked.autoApply,
          inactiveDays: checked.inactiveDays,
          reason: checked.reason,
          items: count,
          reviewers: [...perReviewer].map(([id, r]) => ({ id, name: r.name, items: r.items })),
          selfReviewRouted: selfRouted,
          unassigned,
          schedule: options.schedule ? { id: options.schedule.id, occurrence: options.schedule.occurrence } : null,
          turn: input.correlationId,
        },
      });
      for (const reviewerId of perReviewer.keys()) this.scheduleNotify(c.id, reviewerId, 'new', '');
      for (const days of this.d.config.reviews.reminderDays) {
        const at = new Date(dueAt.getTime() - days * 86_400_000);
        if (at > startedAt) this.schedule(REVIEW_JOBS.remind, c.id, at, { days }, `review.remind:${c.id}:${days}`);
      }
      this.schedule(REVIEW_JOBS.close, c.id, dueAt, { reason: 'due' }, `review.close:${c.id}`);
      if (options.announce) this.schedule(REVIEW_JOBS.postProgress, c.id, startedAt, {}, `review.post-progress:${c.id}`);
      return c;
    });
    if (!campaign) return { ok: false, message: `The occurrence ${options.schedule!.occurrence} of ${options.schedule!.id} was already handled. No review was started.` };
    this.d.scheduler.kick();
    this.d.logger.info({ correlationId: campaign.id, actor: input.startedBy.id, action: 'review.started', items: count }, 'access review started');
    if (unassigned.length) {
      await this.d.technicians
        .raise({
          title: `${campaign.id}: ${unassigned.length} item(s) have nobody to review them`,
          text: `Nobody could be found to review these in ${campaign.id} (no reviewer the campaign names, no fallback reviewer who can sign in). At the close they follow its setting: ${AUTO_APPLY_TEXT[campaign.autoApply]}.`,
          facts: unassigned.slice(0, 20).map((u, i) => ({ title: `Item ${i + 1}`, value: u })),
          requestId: campaign.id,
          type: 'general',
        })
        .catch((err) => this.d.logger.error({ correlationId: campaign.id, err: { message: (err as Error).message } }, 'notice failed'));
    }
    return { ok: true, campaignId: campaign.id, items: count };
  }

  /** The input's numbers and words, checked; a sentence when something is wrong. */
  private validate(input: StartReviewInput): { dueDays: number; autoApply: AutoApply; inactiveDays: number | null; reason: string | null } | string {
    if (!input || typeof input !== 'object') return 'Say what to review.';
    if (!input.startedBy || typeof input.startedBy.id !== 'string' || !input.startedBy.id || typeof input.startedBy.name !== 'string') return 'Who starts the review is missing.';
    if (typeof input.correlationId !== 'string' || !input.correlationId) return 'The correlation id is missing.';
    const dueDays = input.dueInDays ?? this.d.config.reviews.defaultDueDays;
    if (!Number.isInteger(dueDays) || dueDays < DUE_DAYS.min || dueDays > DUE_DAYS.max) return `The due date must be ${DUE_DAYS.min} to ${DUE_DAYS.max} days away (got ${String(input.dueInDays).slice(0, 20)}).`;
    const autoApply = input.autoApply ?? 'none';
    if (!['deny', 'keep', 'none'].includes(autoApply)) return 'Auto-apply is deny, keep or none.';
    const inactiveDays = input.inactiveDays ?? null;
    if (inactiveDays !== null && (!Number.isInteger(inactiveDays) || inactiveDays < INACTIVE_DAYS.min || inactiveDays > INACTIVE_DAYS.max)) {
      return `Inactive days must be a whole number from ${INACTIVE_DAYS.min} to ${INACTIVE_DAYS.max}.`;
    }
    if (input.reason !== undefined && (typeof input.reason !== 'string' || input.reason.length > MAX_REASON)) return `The reason takes at most ${MAX_REASON} characters.`;
    const s = input.scope as ReviewScopeInput | undefined;
    if (!s || typeof s !== 'object') return 'Say what to review: a group, a catalog resource, a department or a person’s access.';
    if (s.kind === 'group' && !isGuid(s.groupId)) return 'The group must be given by its id.';
    if (s.kind === 'resource' && (typeof s.resourceId !== 'string' || !s.resourceId)) return 'The resource must be given by its catalog id.';
    if (s.kind === 'department' && (typeof s.department !== 'string' || !s.department.trim() || s.department.length > 100)) return 'Name the department (at most 100 characters).';
    if (s.kind === 'user-access') {
      if (!isGuid(s.userId)) return 'The person must be given by their object id.';
      if (!Array.isArray(s.groupIds) || !s.groupIds.length || s.groupIds.length > 100 || !s.groupIds.every((g) => isGuid(g))) return 'List 1 to 100 group ids of the access to review.';
    }
    if (!['group', 'resource', 'department', 'user-access'].includes(s.kind)) return 'A review is of a group, a catalog resource, a department or a person’s access.';
    const r = input.reviewer;
    if (r !== undefined) {
      if (!r || !['manager', 'owner', 'group', 'user'].includes(r.kind)) return 'The reviewer is manager, owner, a group or a person.';
      if (r.kind === 'group' && !isGuid(r.groupId)) return 'The reviewers’ group must be given by its id.';
      if (r.kind === 'user' && !isGuid(r.userId)) return 'The reviewer must be given by their object id.';
    }
    return { dueDays, autoApply, inactiveDays, reason: input.reason?.trim() || null };
  }

  /** What the scope names, now: the members and the access of each. */
  private async resolveScope(s: ReviewScopeInput): Promise<{ scope: CampaignScope; targets: Target[]; empty: string } | { error: string }> {
    const dir = this.d.directory;
    const resourceOf = (groupId: string): CatalogResource | undefined => this.d.catalog.resources.find((r) => r.groupId.toLowerCase() === groupId.toLowerCase());
    switch (s.kind) {
      case 'group':
      case 'resource': {
        let resource: CatalogResource | undefined;
        let groupId: string;
        if (s.kind === 'resource') {
          resource = findResourceById(this.d.catalog, s.resourceId);
          if (!resource) return { error: `The catalog has no resource "${s.resourceId.slice(0, 40)}".` };
          groupId = resource.groupId;
        } else groupId = s.groupId;
        const group = await dir.getGroup(groupId);
        if (!group) return { error: s.kind === 'resource' ? `The group of ${resource!.name} (${groupId}) is not in the directory.` : `There is no group ${groupId} in the directory.` };
        resource ??= resourceOf(group.id);
        const accessName = resource?.name ?? group.displayName;
        const members = await dir.listGroupMembers(group.id);
        const scope: CampaignScope =
          s.kind === 'resource' ? { kind: 'resource', resourceId: resource!.id, groupId: group.id, name: resource!.name } : { kind: 'group', groupId: group.id, name: group.displayName };
        return {
          scope,
          targets: members.map((member) => ({ member, groupId: group.id, accessName, resourceId: resource?.id ?? null })),
          empty: `${scope.name} has no members to review.`,
        };
      }
      case 'department': {
        const department = s.department.trim();
        const targets: Target[] = [];
        const seen = new Set<string>();
        for (const resource of this.d.catalog.resources) {
          if (seen.has(resource.groupId.toLowerCase())) continue;
          seen.add(resource.groupId.toLowerCase());
          for (const member of await dir.listGroupMembers(resource.groupId)) {
            if (member.department?.trim().toLowerCase() === department.toLowerCase()) targets.push({ member, groupId: resource.groupId, accessName: resource.name, resourceId: resource.id });
          }
        }
        return { scope: { kind: 'department', department, name: `the ${department} department` }, targets, empty: `Nobody in the ${department} department holds access from the catalog.` };
      }
      case 'user-access': {
        const user = await dir.getUser(s.userId);
        if (!user) return { error: `There is no user ${s.userId} in the directory.` };
        const wanted = [...new Set(s.groupIds.map((g) => g.toLowerCase()))];
        const held: string[] = [];
        for (let i = 0; i < wanted.length; i += 20) held.push(...(await dir.checkMemberGroups(user.id, wanted.slice(i, i + 20))));
        const targets: Target[] = [];
        for (const groupId of held) {
          const group = await dir.getGroup(groupId);
          if (!group) continue;
          const resource = resourceOf(group.id);
          targets.push({ member: user, groupId: group.id, accessName: resource?.name ?? group.displayName, resourceId: resource?.id ?? null });
        }
        return {
          scope: { kind: 'user-access', userId: user.id, groupIds: targets.map((t) => t.groupId), name: `the access of ${user.displayName}` },
          targets,
          empty: `${user.displayName} holds none of that access any more.`,
        };
      }
    }
  }

  private async resolveChoice(r: ReviewerChoice): Promise<CampaignReviewer | string> {
    if (r.kind === 'manager' || r.kind === 'owner') return { kind: r.kind };
    if (r.kind === 'group') {
      const g = await this.d.directory.getGroup(r.groupId);
      return g ? { kind: 'group', groupId: g.id, name: g.displayName } : `There is no reviewers' group ${r.groupId} in the directory.`;
    }
    const u = await this.d.directory.getUser(r.userId);
    if (!u) return `There is no reviewer ${r.userId} in the directory.`;
    if (!u.accountEnabled) return `${u.displayName} cannot sign in (the account is disabled), so they cannot review.`;
    return { kind: 'user', userId: u.id, name: u.displayName };
  }

  /**
   * Who reviews one item: what the campaign names, without the member and anyone who cannot
   * sign in; when that leaves nobody, the fallback reviewers (the technicians group, then the
   * person who started the campaign), never the member.
   */
  private async reviewersFor(
    t: Target,
    choice: CampaignReviewer,
    starter: { id: string; name: string },
    cache: Map<string, DirectoryUser[]>,
  ): Promise<{ reviewers: Array<{ user: DirectoryUser; source: ReviewerSource }>; selfRouted: boolean }> {
    const dir = this.d.directory;
    const cached = async (key: string, load: () => Promise<DirectoryUser[]>) => {
      let v = cache.get(key);
      if (!v) cache.set(key, (v = await load()));
      return v;
    };
    const memberId = t.member.id.toLowerCase();
    let named: DirectoryUser[] = [];
    let source: ReviewerSource = 'manager';
    if (choice.kind === 'manager') {
      // The first manager up who can sign in; never the member (a loop in the data).
      const m = await nextEnabledManager(dir, t.member, t.member.id, undefined, this.guestsMayReview);
      named = m ? [m] : [];
    } else if (choice.kind === 'owner') {
      source = 'owner';
      named = await cached(`owners:${t.groupId}`, () => dir.listGroupOwners(t.groupId));
    } else if (choice.kind === 'group') {
      source = 'group';
      named = await cached(`members:${choice.groupId}`, () => dir.listGroupMembers(choice.groupId));
    } else {
      source = 'user';
      const u = await dir.getUser(choice.userId);
      named = u ? [u] : [];
    }
    const selfRouted = named.some((u) => u.id.toLowerCase() === memberId);
    // A guest of the tenant is no reviewer unless guests may approve (ALLOW_GUEST_APPROVERS).
    const eligible = named.filter((u) => canApprove(u, this.guestsMayReview) && u.id.toLowerCase() !== memberId);
    if (eligible.length) return { reviewers: byName(eligible).slice(0, MAX_ITEM_REVIEWERS).map((user) => ({ user, source })), selfRouted };

    const fallback = this.d.technicianGroupId
      ? (await cached(`members:${this.d.technicianGroupId}`, () => dir.listGroupMembers(this.d.technicianGroupId!))).filter((u) => canApprove(u, this.guestsMayReview) && u.id.toLowerCase() !== memberId)
      : [];
    if (fallback.length) return { reviewers: byName(fallback).slice(0, MAX_ITEM_REVIEWERS).map((user) => ({ user, source: 'fallback' })), selfRouted };
    // The starter, when a person (a capability starting a review names itself, not a directory id).
    if (isGuid(starter.id) && starter.id.toLowerCase() !== memberId) {
      const u = await dir.getUser(starter.id);
      if (u && canApprove(u, this.guestsMayReview)) return { reviewers: [{ user: u, source: 'fallback' }], selfRouted };
    }
    return { reviewers: [], selfRouted };
  }

  /** The decision helpers of one item, as the reviewers will see them. */
  private async helpersFor(t: Target, signIns: LastSignIns | null): Promise<ItemHelpers> {
    const manager = await this.d.directory.getManager(t.member.id);
    let grant: ItemHelpers['grant'] = null;
    for (const resource of this.d.catalog.resources.filter((r) => r.groupId.toLowerCase() === t.groupId.toLowerCase())) {
      const g = this.d.store.requests.grantedFor(t.member.id, resource.id)[0];
      if (!g) continue;
      const approvers = [...new Set(this.d.store.requests.decisions(g.id).filter((d) => d.decision === 'approved').map((d) => d.decidedByName))];
      grant = { requestId: g.id, approvers, grantedAt: g.grantedAt, expiresAt: g.expiresAt };
      break;
    }
    const helpers: ItemHelpers = {
      department: t.member.department,
      jobTitle: t.member.jobTitle,
      managerName: manager?.displayName ?? null,
      accountEnabled: t.member.accountEnabled,
      grant,
    };
    if (signIns) {
      const at = lookup(signIns, t.member.id);
      if (at !== undefined) helpers.lastSignIn = at ? at.toISOString() : null;
    }
    const why = await this.privilegedWhy(t.member.id);
    if (why) helpers.privileged = why;
    return helpers;
  }

  /**
   * Why the member's account is privileged, for the reviewer (a Keep of an admin's access
   * deserves a second look); null when it is not. Without a configured list every account
   * counts as privileged, which tells a reviewer nothing: then only real reasons are shown.
   */
  private async privilegedWhy(memberId: string): Promise<string | null> {
    const r = this.d.privileged;
    if (!r) return null;
    let status;
    try {
      status = await r.status(memberId);
    } catch (err) {
      // Shown to help a reviewer, never deciding anything: a failed lookup does not stop the campaign.
      return err instanceof NotFoundError ? null : 'could not be checked (the directory did not answer)';
    }
    const shown = { privileged: status.privileged, reasons: status.reasons.filter((x) => x.kind !== 'unknown-list') };
    return shown.reasons.length ? describePrivileged(shown) : null;
  }

  /** When each member last signed in, when the directory knows; null map (and why) when it does not. */
  private async lastSignIns(ids: string[]): Promise<{ map: LastSignIns | null; problem?: string }> {
    const dir = this.d.directory as Directory & { getLastSignIns?: (userIds: readonly string[]) => Promise<Map<string, Date | null>> };
    const caps = (dir.capabilities ?? BASELINE_CAPABILITIES) as { signInActivity?: boolean };
    if (typeof dir.getLastSignIns !== 'function' || caps.signInActivity !== true) return { map: null };
    const out: LastSignIns = new Map();
    try {
      const unique = [...new Set(ids)];
      for (let i = 0; i < unique.length; i += 100) {
        for (const [id, at] of await dir.getLastSignIns(unique.slice(i, i + 100))) out.set(id.toLowerCase(), at);
      }
      return { map: out };
    } catch (err) {
      this.d.logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'last sign-ins not available');
      return { map: null, problem: `The directory did not say when people last signed in (${(err as Error).message.slice(0, 120)})` };
    }
  }

  // ---- reviewer cards and decisions -------------------------------------------------------------

  /**
   * Whether `userId` may decide `item` now: never the member; listed as its reviewer; and
   * where the campaign named a role, still that role in the directory (still the member's
   * manager, still an owner of the group, still in the reviewers' group); a person the
   * campaign named, or a fallback reviewer, can still sign in, and a fallback reviewer is
   * still an identity technician. Null when they may.
   */
  private async refusalOf(c: Campaign, item: ReviewItem, userId: string): Promise<string | null> {
    if (userId.toLowerCase() === item.memberId.toLowerCase()) return 'self-review';
    const row = this.d.reviews.reviewer(item.id, userId);
    if (!row) return 'not-a-reviewer';
    const dir = this.d.directory;
    const reviewer = await dir.getUser(userId);
    if (reviewer && isGuest(reviewer) && !this.guestsMayReview) return 'guest';
    switch (row.source) {
      case 'manager': {
        const member = await dir.getUser(item.memberId);
        if (!member) return null;
        return (await nextEnabledManager(dir, member, member.id))?.id === userId ? null : 'no-longer-manager';
      }
      case 'owner':
        return (await dir.listGroupOwners(item.groupId)).some((o) => o.id === userId) ? null : 'no-longer-owner';
      case 'group':
        return c.reviewer.kind === 'group' && (await dir.checkMemberGroups(userId, [c.reviewer.groupId])).length > 0 ? null : 'no-longer-in-group';
      case 'user':
        return (await dir.getUser(userId))?.accountEnabled ? null : 'no-longer-enabled';
      case 'fallback': {
        if (!(await dir.getUser(userId))?.accountEnabled) return 'no-longer-enabled';
        // The technicians group when there is one; else the campaign's starter was the fallback (and is listed).
        const g = this.d.technicianGroupId;
        return g === null || (await dir.checkMemberGroups(userId, [g])).length > 0 ? null : 'no-longer-technician';
      }
      default:
        return null;
    }
  }

  private refused(actor: DirectoryUser, c: Campaign, item: ReviewItem | null, verb: string, reason: string, turn: string): void {
    this.d.store.audit.append({
      actor: { id: actor.id, name: actor.displayName },
      action: 'review.decision-refused',
      target: c.id,
      outcome: 'refused',
      correlationId: c.id,
      details: { verb, reason, item: item?.id ?? null, member: item ? { id: item.memberId, name: item.memberName } : null, turn },
    });
    this.d.logger.warn({ correlationId: c.id, actor: actor.id, action: 'review.decision-refused', reason }, 'review decision refused');
  }

  /**
   * Keep or Remove on one line of a reviewer's card. Checked now: the campaign is open, the
   * item is undecided, the clicker is its reviewer (never the member), the reason is there
   * where one is required. The decision is one guarded UPDATE: of two reviewers clicking at
   * once exactly one wins. Returns the card that replaces the clicked one.
   */
  async decide(actor: DirectoryUser, data: Record<string, unknown>, decision: 'keep' | 'remove', turn: string): Promise<AdaptiveCardJson> {
    const found = this.clicked(data);
    if ('card' in found) return found.card;
    const { campaign: c, page } = found;
    const itemId = toInt(data.item);
    const item = itemId === null ? null : this.d.reviews.item(itemId);
    const reasons = typedReasons(data);
    // Someone with no line of their own in this campaign learns nothing of it (whose access it
    // reviews, its state, what was decided) by clicking with forged card data.
    const outsider = () => notice('Nothing for you here', `You have nothing to review in ${c.id}. Nothing was changed.`, 'warning');
    const hasLines = this.d.reviews.itemsFor(c.id, actor.id).length > 0;
    if (!item || item.campaignId !== c.id) {
      if (!hasLines) return outsider();
      return this.cardFor(c, actor.id, { page, banner: { text: 'That line is not part of this review. Nothing was changed.', tone: 'attention' } });
    }
    // Who may decide comes first: a forged click on someone else's line (or one's own) is
    // refused and audited, and learns nothing of the campaign's state or another's decision.
    const refusal = await this.refusalOf(c, item, actor.id);
    if (refusal) {
      this.refused(actor, c, item, `review.${decision}`, refusal, turn);
      if (refusal === 'not-a-reviewer' && !hasLines) return outsider();
      const text =
        refusal === 'self-review'
          ? 'You cannot review your own access: it goes to another reviewer. Nothing was changed.'
          : `You are not a reviewer of ${item.memberName}’s ${item.accessName}${refusal.startsWith('no-longer') ? ' any more' : ''}, so nothing was changed.`;
      return this.cardFor(c, actor.id, { page, reasons, banner: { text, tone: 'attention' } });
    }
    if (c.state !== 'active') return this.cardFor(c, actor.id, { page, banner: { text: `${c.id} is ${c.state === 'closed' ? 'closed' : 'cancelled'}: nothing can be decided any more.`, tone: 'warning' } });
    if (item.decision) return this.cardFor(c, actor.id, { page, reasons, banner: { text: `${item.memberName}’s ${item.accessName} was already decided: ${decisionText(item).toLowerCase()}.`, tone: 'warning' } });
    const reason = cleanReason(reasons[String(item.id)]);
    if (!reason && decision === 'remove') return this.cardFor(c, actor.id, { page, reasons, banner: { text: `Add a reason to remove ${item.memberName}’s ${item.accessName}: it goes into the evidence report.`, tone: 'attention' } });
    if (!reason && decision === 'keep' && !item.helpers.grant) {
      return this.cardFor(c, actor.id, { page, reasons, banner: { text: `Add a reason to keep ${item.memberName}’s ${item.accessName}: there is no record of how it was granted.`, tone: 'attention' } });
    }
    const by = { id: actor.id, name: actor.displayName };
    const won = this.d.store.transaction(() => {
      if (!this.d.reviews.decide({ itemId: item.id, campaignId: c.id, decision, reason, by })) return false;
      this.auditDecision(c, item, by, decision, reason, turn, false);
      this.afterDecisions(c, [item.id], actor.id);
      return true;
    });
    this.d.scheduler.kick();
    const after = this.d.reviews.item(item.id)!;
    const now = this.d.reviews.get(c.id)!;
    if (!won) return this.cardFor(now, actor.id, { page, banner: { text: after.decision ? `Already decided: ${decisionText(after).toLowerCase()}.` : `${c.id} closed before your decision. Nothing was changed.`, tone: 'warning' } });
    delete reasons[String(item.id)];
    return this.cardFor(now, actor.id, {
      page,
      reasons,
      banner: { text: `You ${decision === 'keep' ? 'kept' : 'removed'} ${item.memberName}’s ${item.accessName}${decision === 'remove' ? '. It is removed when the review closes' : ''}.`, tone: decision === 'keep' ? 'good' : 'accent' },
    });
  }

  private auditDecision(c: Campaign, item: ReviewItem, by: { id: string; name: string }, decision: 'keep' | 'remove', reason: string | null, turn: string, bulk: boolean): void {
    const reviewer = this.d.reviews.reviewer(item.id, by.id);
    this.d.store.audit.append({
      actor: by,
      action: 'review.decided',
      target: c.id,
      outcome: 'success',
      correlationId: c.id,
      details: {
        item: item.id,
        member: { id: item.memberId, name: item.memberName, upn: item.memberUpn },
        groupId: item.groupId,
        access: item.accessName,
        decision,
        reason,
        reviewerSource: reviewer?.source ?? null,
        grantRecord: item.helpers.grant?.requestId ?? null,
        ...(bulk ? { bulk: true } : {}),
        turn,
      },
    });
  }

  /** Inside the decision's transaction: the other cards to update, and the close when nothing is left. */
  private afterDecisions(c: Campaign, itemIds: number[], deciderId: string): void {
    const others = new Set<string>();
    for (const id of itemIds) for (const r of this.d.reviews.reviewersOf(id)) if (r.reviewerId !== deciderId) others.add(r.reviewerId);
    this.schedule(REVIEW_JOBS.updateCards, c.id, this.now(), { userIds: [...others], progress: true });
    if (this.d.reviews.counts(c.id).undecided === 0) this.schedule(REVIEW_JOBS.close, c.id, this.now(), { reason: 'all-decided' }, `review.close:${c.id}:all-decided`);
  }

  /** "Keep all remaining": the confirmation first, with how many and whether a reason is required. */
  async keepAllAsk(actor: DirectoryUser, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const found = this.clicked(data);
    if ('card' in found) return found.card;
    const { campaign: c, page } = found;
    if (!this.d.reviews.itemsFor(c.id, actor.id).length) return notice('Nothing for you here', `You have nothing to review in ${c.id}.`, 'warning');
    if (c.state !== 'active') return this.cardFor(c, actor.id, { page, banner: { text: `${c.id} is ${c.state}: nothing can be decided any more.`, tone: 'warning' } });
    const remaining = this.d.reviews.itemsFor(c.id, actor.id).filter((i) => !i.decision);
    if (!remaining.length) return this.cardFor(c, actor.id, { page, banner: { text: 'Nothing is left for you to decide here.', tone: 'good' } });
    return this.cardFor(c, actor.id, { page, confirm: true });
  }

  /**
   * "Yes, keep N": keeps every item still undecided on this reviewer's card that they may
   * decide now, each one a guarded decision with its audit event. When the count changed since
   * the confirmation was shown, it asks again.
   */
  async keepAllConfirm(actor: DirectoryUser, data: Record<string, unknown>, turn: string): Promise<AdaptiveCardJson> {
    const found = this.clicked(data);
    if ('card' in found) return found.card;
    const { campaign: c, page } = found;
    if (!this.d.reviews.itemsFor(c.id, actor.id).length) return notice('Nothing for you here', `You have nothing to review in ${c.id}.`, 'warning');
    if (c.state !== 'active') return this.cardFor(c, actor.id, { page, banner: { text: `${c.id} is ${c.state}: nothing can be decided any more.`, tone: 'warning' } });
    const remaining = this.d.reviews.itemsFor(c.id, actor.id).filter((i) => !i.decision);
    if (!remaining.length) return this.cardFor(c, actor.id, { page, banner: { text: 'Nothing is left for you to decide here.', tone: 'good' } });
    if (toInt(data.count) !== remaining.length) {
      return this.cardFor(c, actor.id, { page, confirm: true, banner: { text: `The list changed: ${remaining.length} item(s) remain now. Confirm again.`, tone: 'warning' } });
    }
    const reason = cleanReason(data.keepAllReason);
    if (!reason && remaining.some((i) => !i.helpers.grant)) {
      return this.cardFor(c, actor.id, { page, confirm: true, banner: { text: 'Some of these have no record of how they were granted: add a reason to keep them.', tone: 'attention' } });
    }
    const allowed: ReviewItem[] = [];
    let refusedCount = 0;
    for (const item of remaining) {
      const refusal = await this.refusalOf(c, item, actor.id);
      if (refusal) {
        refusedCount += 1;
        this.refused(actor, c, item, 'review.keep-all', refusal, turn);
      } else allowed.push(item);
    }
    const by = { id: actor.id, name: actor.displayName };
    const kept = this.d.store.transaction(() => {
      const done: number[] = [];
      for (const item of allowed) {
        if (!this.d.reviews.decide({ itemId: item.id, campaignId: c.id, decision: 'keep', reason, by })) continue;
        this.auditDecision(c, item, by, 'keep', reason, turn, true);
        done.push(item.id);
      }
      if (done.length) this.afterDecisions(c, done, actor.id);
      return done.length;
    });
    this.d.scheduler.kick();
    const now = this.d.reviews.get(c.id)!;
    return this.cardFor(now, actor.id, {
      page,
      banner: {
        text: `You kept ${kept} item(s).${refusedCount ? ` ${refusedCount} could not be decided by you any more and stay open.` : ''}${kept < allowed.length ? ' Some were decided by someone else first.' : ''}`,
        tone: refusedCount ? 'warning' : 'good',
      },
    });
  }

  /** Previous / Next / Back on a reviewer's card: their own items only, whoever clicks. */
  async showPage(actor: DirectoryUser, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const found = this.clicked(data);
    if ('card' in found) return found.card;
    const { campaign: c, page } = found;
    if (!this.d.reviews.itemsFor(c.id, actor.id).length) return notice('Nothing for you here', `You have nothing to review in ${c.id}.`, 'warning');
    this.d.reviews.setPage(c.id, actor.id, page);
    return this.cardFor(c, actor.id, { page });
  }

  // ---- getting one's card back ------------------------------------------------------------------

  /**
   * The open campaigns where `userId` still has lines to decide, earliest due first, with how
   * many: what "what's waiting for me" lists besides access requests.
   */
  waitingFor(userId: string): Array<{ campaign: Campaign; open: number; total: number }> {
    const out: Array<{ campaign: Campaign; open: number; total: number }> = [];
    for (const c of this.d.reviews.active()) {
      const items = this.d.reviews.itemsFor(c.id, userId);
      const open = items.filter((i) => !i.decision).length;
      if (open) out.push({ campaign: c, open, total: items.length });
    }
    return out;
  }

  /**
   * The access reviews waiting for `userId`, each with **Show my review card**; null when none
   * does (or, with a banner, a card that says so). Built from the store each time: a reviewer
   * whose chat lost the card (a new device, the local chat restarted) gets it back here.
   */
  waitingCard(userId: string, banner?: { text: string; tone: Tone }): AdaptiveCardJson | null {
    const waiting = this.waitingFor(userId);
    if (!waiting.length && !banner) return null;
    return renderReviewWaitingCard({
      title: waiting.length ? `Access reviews waiting for you: ${waiting.length}` : 'Access reviews waiting for you: none',
      intro: waiting.length
        ? 'Does each person still need their access? Your review card has a line for each; the button sends it to this chat again.'
        : 'Nothing is left for you to decide in an open access review.',
      banner: banner?.text ?? null,
      bannerTone: banner?.tone,
      campaigns: waiting.map(({ campaign: c, open, total }) => ({
        id: c.id,
        heading: `${c.id} · ${c.title}`,
        facts: [
          { title: 'To decide', value: `${open} of your ${total} line(s)` },
          { title: 'Due', value: formatTime(c.dueAt) },
          { title: 'Started by', value: c.startedBy.name },
        ],
        button: 'Show my review card',
      })),
    });
  }

  /**
   * **Show my review card**: sends the clicker's card of that campaign again to their 1:1 chat
   * (a durable job, like the first card; later decisions update it like the others). Who may is
   * decided now, from the store: someone with lines in the campaign. Anyone else learns nothing
   * of it (not even whether it exists), nothing is sent, and the refusal is audited. `personal`:
   * the click came from the clicker's 1:1 chat, where the answer may list their reviews.
   */
  resend(actor: DirectoryUser, data: Record<string, unknown>, turn: string, personal: boolean): AdaptiveCardJson {
    const id = data.campaign;
    const c = isCampaignId(id) ? this.d.reviews.get(id) : null;
    const nothing = () => notice('Nothing for you here', 'You have no access review to decide under that reference. Nothing was sent.', 'warning');
    if (!c) return nothing();
    const items = this.d.reviews.itemsFor(c.id, actor.id);
    if (!items.length) {
      this.refused(actor, c, null, 'review.resend', 'not-a-reviewer', turn);
      return nothing();
    }
    const answer = (text: string, tone: 'good' | 'warning') => (personal ? (this.waitingCard(actor.id, { text, tone }) ?? notice('Access reviews', text, tone)) : notice('Access reviews', text, tone));
    if (c.state !== 'active') return answer(`${c.id} is ${c.state === 'closed' ? 'closed' : 'cancelled'}: nothing can be decided there any more, so no card was sent.`, 'warning');
    this.d.store.transaction(() => {
      this.d.store.audit.append({
        actor: { id: actor.id, name: actor.displayName },
        action: 'review.card-requested',
        target: c.id,
        outcome: 'success',
        correlationId: c.id,
        details: { reviewer: actor.id, items: items.length, open: items.filter((i) => !i.decision).length, turn },
      });
      // One job per click: the key names the turn, so a second click sends the card once more.
      this.scheduleNotify(c.id, actor.id, 'asked', turn);
    });
    this.d.scheduler.kick();
    return answer(`Your review card for ${c.id} is on its way: it is the next message in your chat with me.`, 'good');
  }

  /** The campaign and page a click names, or the card to answer with. */
  private clicked(data: Record<string, unknown>): { campaign: Campaign; page: number } | { card: AdaptiveCardJson } {
    const id = data.campaign;
    const c = isCampaignId(id) ? this.d.reviews.get(id) : null;
    if (!c) return { card: notice('This review card is no longer active', 'There is no such access review.', 'warning') };
    return { campaign: c, page: toInt(data.page) ?? 1 };
  }

  /** A reviewer's card: their items (a page of them), each with its helpers and, while open, Keep / Remove. */
  cardFor(
    c: Campaign,
    viewerId: string,
    o: { page?: number; banner?: { text: string; tone: Tone } | null; confirm?: boolean; reasons?: Record<string, string> } = {},
  ): AdaptiveCardJson {
    const items = this.d.reviews.itemsFor(c.id, viewerId);
    const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
    const page = Math.min(Math.max(1, o.page ?? 1), pages);
    const active = c.state === 'active';
    const undecided = items.filter((i) => !i.decision);
    const lines: ReviewLine[] = items.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE).map((i) => ({
      id: i.id,
      heading: `${i.memberName} · ${i.accessName}`,
      facts: this.helperFacts(i),
      decided: i.decision ? decisionText(i) : active ? '' : 'Not decided: the review ended without a decision; nothing was changed.',
      decidedTone: i.decision === 'keep' ? 'good' : i.decision === 'remove' ? 'attention' : 'default',
      canDecide: active && !i.decision,
      reasonLabel: i.helpers.grant ? 'Reason (required to remove)' : 'Reason (required: no record of how this was granted)',
      reason: o.reasons?.[String(i.id)],
    }));
    const status = active
      ? `${items.length - undecided.length} of ${items.length} decided · page ${page} of ${pages}`
      : c.state === 'closed'
        ? `Closed ${formatTime(c.closedAt!)}: ${items.length - undecided.length} of ${items.length} decided`
        : `Cancelled by ${c.closedBy.name ?? 'a technician'} ${formatTime(c.closedAt!)}`;
    const noRecord = undecided.filter((i) => !i.helpers.grant).length;
    return renderReviewerCard({
      campaignId: c.id,
      title: `${c.id} · ${c.title}`,
      subtitle: `Due ${formatTime(c.dueAt)} · started by ${c.startedBy.name}${c.reason ? ` · ${plainText(c.reason)}` : ''}`,
      status,
      tone: !active ? (c.state === 'closed' ? 'good' : 'default') : undecided.length ? 'warning' : 'good',
      banner: o.banner?.text ?? null,
      bannerTone: o.banner?.tone,
      intro: active
        ? `Does each person still need this access? Keep or Remove each line; Remove needs a reason, and so does Keep where there is no record of how the access was granted. Decisions are final. At the close on ${formatTime(c.dueAt)} the review will ${AUTO_APPLY_TEXT[c.autoApply]}.`
        : '',
      lines,
      page,
      pages,
      showKeepAll: active && undecided.length > 0,
      confirm:
        o.confirm && active && undecided.length
          ? {
              count: undecided.length,
              text: `Keep all ${undecided.length} item(s) you have not decided yet (on every page)?${noRecord ? ` ${noRecord} of them have no record of how the access was granted: a reason is required.` : ''}`,
              reasonLabel: noRecord ? 'Reason (required)' : 'Reason (optional)',
            }
          : null,
      footer: `Reference ${c.id}. Every decision is recorded in the audit trail.`,
    });
  }

  private helperFacts(i: ReviewItem): Fact[] {
    const h = i.helpers;
    const facts: Fact[] = [
      { title: 'Sign-in name', value: i.memberUpn },
      { title: 'Department', value: `${h.department ?? 'not set'}${h.jobTitle ? ` · ${h.jobTitle}` : ''}` },
      { title: 'Manager', value: h.managerName ?? 'none' },
      {
        title: 'Granted',
        value: h.grant
          ? `${h.grant.requestId}, approved by ${h.grant.approvers.length ? h.grant.approvers.join(', ') : 'nobody on record'}${h.grant.grantedAt ? `, ${formatTime(h.grant.grantedAt)}` : ''}`
          : 'No record: added outside the bot',
      },
      { title: 'Expires', value: h.grant ? (h.grant.expiresAt ? formatTime(h.grant.expiresAt) : 'no end date') : 'unknown (no record)' },
      { title: 'Last sign-in', value: lastSignInText(h.lastSignIn, this.now()) },
    ];
    if (!h.accountEnabled) facts.push({ title: 'Account', value: 'DISABLED' });
    if (h.privileged) facts.push({ title: 'Privileged', value: h.privileged });
    return facts;
  }

  // ---- the technicians' side ---------------------------------------------------------------------

  get(id: string): Campaign | null {
    return this.d.reviews.get(id);
  }

  list(limit = 20): Campaign[] {
    return this.d.reviews.list(limit);
  }

  /** Remembers where a progress card was posted, so it is updated as decisions come in. */
  rememberProgressCard(campaignId: string, activityId: string, reference: Parameters<ReviewStore['addCard']>[0]['reference']): void {
    this.d.reviews.addCard({ campaignId, purpose: 'progress', userId: null, activityId, reference });
  }

  /**
   * Closes a campaign now (the due date came, everything was decided, or a technician closed
   * it): items nobody decided follow the auto-apply setting, and every removal is handed to
   * the durable removal path, all in one transaction with the audit events.
   */
  close(campaignId: string, by: { id: string; name: string }, reason: CloseReason, turn: string): ReviewActionResult {
    const c = this.d.reviews.get(campaignId);
    if (!c) return { ok: false, message: `There is no review ${campaignId}. Type \`review list\` for the campaigns.`, campaign: null };
    if (c.state !== 'active') return { ok: false, message: `${c.id} is already ${c.state} (${formatTime(c.closedAt!)}).`, campaign: c };
    const why = reason === 'due' ? `no decision by the due date, ${formatTime(c.dueAt)}` : reason === 'technician' ? `no decision before ${by.name} closed the review` : 'no decision';
    const closed = this.d.store.transaction(() => {
      if (!this.d.reviews.end(c.id, 'closed', by, reason)) return false;
      const applied: number[] = [];
      if (c.autoApply !== 'none') {
        const decision = c.autoApply === 'deny' ? 'remove' : 'keep';
        for (const item of this.d.reviews.items(c.id).filter((i) => !i.decision)) {
          if (!this.d.reviews.autoDecide({ itemId: item.id, campaignId: c.id, decision, reason: `Auto-applied at the close: ${why}`, byName: 'auto-apply' })) continue;
          applied.push(item.id);
          this.d.store.audit.append({
            actor: REVIEW_SYSTEM,
            action: 'review.auto-applied',
            target: c.id,
            outcome: 'success',
            correlationId: c.id,
            details: { item: item.id, member: { id: item.memberId, name: item.memberName, upn: item.memberUpn }, groupId: item.groupId, access: item.accessName, decision, autoApply: c.autoApply },
          });
        }
      }
      const removals: number[] = [];
      for (const item of this.d.reviews.items(c.id).filter((i) => i.decision === 'remove')) {
        if (!this.d.reviews.requestRemoval(item.id)) continue;
        this.d.access.scheduleRemoval({
          groupId: item.groupId,
          groupName: item.accessName,
          userId: item.memberId,
          userName: item.memberName,
          userPrincipalName: item.memberUpn,
          reason: `Access review ${c.id}`,
          correlationId: c.id,
          owner: { kind: REMOVAL_KIND, ref: String(item.id) },
        });
        removals.push(item.id);
      }
      for (const kind of [REVIEW_JOBS.remind, REVIEW_JOBS.notify, REVIEW_JOBS.close]) this.d.store.jobs.cancelForRequest(c.id, kind);
      const counts = this.d.reviews.counts(c.id);
      this.d.store.audit.append({
        actor: by,
        action: 'review.closed',
        target: c.id,
        outcome: 'success',
        correlationId: c.id,
        details: { reason, autoApply: c.autoApply, counts, completionRate: rate(counts.reviewed, counts.total), autoApplied: applied, removalsRequested: removals, turn },
      });
      this.schedule(REVIEW_JOBS.updateCards, c.id, this.now(), { userIds: null, progress: true });
      this.schedule(REVIEW_JOBS.postReport, c.id, this.now(), {}, `review.post-report:${c.id}`);
      return true;
    });
    this.d.scheduler.kick();
    const after = this.d.reviews.get(c.id)!;
    if (!closed) return { ok: false, message: `${c.id} was closed by something else first.`, campaign: after };
    const counts = this.d.reviews.counts(c.id);
    this.d.logger.info({ correlationId: c.id, actor: by.id, action: 'review.closed', reason }, 'access review closed');
    return {
      ok: true,
      message: `${c.id} is closed: ${counts.kept} kept, ${counts.removed} removed (${counts.autoApplied} auto-applied), ${counts.undecided} not decided. ${counts.removalsRequested ? `${counts.removalsRequested} removal(s) are being applied.` : 'Nothing to remove.'}`,
      campaign: after,
    };
  }

  /** Ends a campaign without applying anything. */
  cancel(campaignId: string, by: { id: string; name: string }, reason: string, turn: string): ReviewActionResult {
    const c = this.d.reviews.get(campaignId);
    if (!c) return { ok: false, message: `There is no review ${campaignId}. Type \`review list\` for the campaigns.`, campaign: null };
    if (c.state !== 'active') return { ok: false, message: `${c.id} is already ${c.state} (${formatTime(c.closedAt!)}).`, campaign: c };
    const done = this.d.store.transaction(() => {
      if (!this.d.reviews.end(c.id, 'cancelled', by, reason)) return false;
      this.d.store.jobs.cancelForRequest(c.id);
      this.d.store.audit.append({ actor: by, action: 'review.cancelled', target: c.id, outcome: 'success', correlationId: c.id, details: { reason, counts: this.d.reviews.counts(c.id), turn } });
      this.schedule(REVIEW_JOBS.updateCards, c.id, this.now(), { userIds: null, progress: true });
      return true;
    });
    this.d.scheduler.kick();
    const after = this.d.reviews.get(c.id)!;
    return done
      ? { ok: true, message: `${c.id} is cancelled: nothing was applied, and the reviewers’ cards say so.`, campaign: after }
      : { ok: false, message: `${c.id} was closed before it could be cancelled.`, campaign: after };
  }

  /** The technicians' progress card: decided out of total, per reviewer, and what the close will do. */
  statusCard(c: Campaign): AdaptiveCardJson {
    const counts = this.d.reviews.counts(c.id);
    const progress = this.d.reviews.progress(c.id);
    const state = this.stateLine(c, counts);
    return renderReviewStatusCard({
      title: `${c.id} · ${c.title}`,
      subtitle: `Started by ${c.startedBy.name}, ${formatTime(c.createdAt)} · due ${formatTime(c.dueAt)}`,
      status: state.text,
      tone: state.tone,
      facts: this.summaryFacts(c, counts),
      sections: [
        {
          key: 'reviewers',
          title: `Reviewers (${progress.length})`,
          facts: progress.slice(0, 30).map((p) => ({ title: p.reviewerName, value: `${p.decided} of ${p.total} decided${p.decided === p.total ? ' ✓' : ''}` })),
          text: progress.length ? (progress.length > 30 ? `and ${progress.length - 30} more` : '') : 'nobody',
        },
      ],
      footer: `review report ${c.id} [--csv] · ${c.state === 'active' ? `review close ${c.id} · review cancel ${c.id} --reason ‹why› · ` : ''}audit ${c.id}`,
      actions: [{ id: 'review-report', title: 'Evidence report', verb: 'review.report', data: { campaign: c.id } }],
    });
  }

  private stateLine(c: Campaign, counts: ReturnType<ReviewStore['counts']>): { text: string; tone: Tone } {
    if (c.state === 'active') return { text: `In progress: ${counts.decided} of ${counts.total} decided (${rate(counts.decided, counts.total)})`, tone: 'accent' };
    if (c.state === 'cancelled') return { text: `Cancelled by ${c.closedBy.name ?? 'a technician'}, ${formatTime(c.closedAt!)}: ${c.closeReason ?? ''}`, tone: 'default' };
    const how = c.closeReason === 'due' ? 'at the due date' : c.closeReason === 'all-decided' ? 'everything decided' : `by ${c.closedBy.name ?? 'a technician'}`;
    const pending = counts.removalsRequested - counts.removalsDone - counts.removalsFailed;
    return {
      text: `Closed ${formatTime(c.closedAt!)} (${how})${pending ? `: ${pending} removal(s) pending` : counts.removalsFailed ? `: ${counts.removalsFailed} removal(s) FAILED` : ''}`,
      tone: counts.removalsFailed ? 'attention' : pending ? 'warning' : 'good',
    };
  }

  private summaryFacts(c: Campaign, counts: ReturnType<ReviewStore['counts']>): Fact[] {
    return [
      { title: 'Scope', value: scopeText(c.scope) },
      { title: 'Reviewers', value: reviewerText(c.reviewer) },
      ...(c.inactiveDays ? [{ title: 'Only inactive', value: `no sign-in for ${c.inactiveDays} days or more` }] : []),
      { title: 'Auto-apply', value: `${c.autoApply}: ${AUTO_APPLY_TEXT[c.autoApply]}` },
      { title: 'Items', value: String(counts.total) },
      { title: 'Decided by reviewers', value: `${counts.reviewed} (${rate(counts.reviewed, counts.total)})` },
      { title: 'Kept / removed', value: `${counts.kept} kept, ${counts.removed} removed` },
      { title: 'Auto-applied', value: String(counts.autoApplied) },
      { title: 'Not decided', value: String(counts.undecided) },
      ...(counts.removalsRequested
        ? [{ title: 'Removals', value: `${counts.removalsDone} done, ${counts.removalsRequested - counts.removalsDone - counts.removalsFailed} pending, ${counts.removalsFailed} failed` }]
        : []),
    ];
  }

  /**
   * The evidence for auditors: who reviewed what and when, each decision and reason, what was
   * removed and when it took effect, what was auto-applied, the completion rate, and the audit
   * trail's verification.
   */
  reportCard(c: Campaign): AdaptiveCardJson {
    const counts = this.d.reviews.counts(c.id);
    const items = this.d.reviews.items(c.id);
    const chain = this.chainLine(c);
    const state = this.stateLine(c, counts);
    return renderReviewStatusCard({
      title: `${c.id} · Evidence report: ${c.title.replace(/^Access review: /, '')}`,
      subtitle: `Started by ${c.startedBy.name}, ${formatTime(c.createdAt)} · due ${formatTime(c.dueAt)}${c.closedAt ? ` · ended ${formatTime(c.closedAt)}` : ''}`,
      status: state.text,
      tone: state.tone,
      text: `Completion: ${counts.reviewed} of ${counts.total} item(s) decided by reviewers (${rate(counts.reviewed, counts.total)}).`,
      facts: [...this.summaryFacts(c, counts), { title: 'Audit trail', value: chain }],
      sections: [
        {
          key: 'decisions',
          title: `Decisions (${items.length})`,
          facts: items.slice(0, REPORT_LINES).map((i) => ({ title: `${i.memberName} · ${i.accessName}`, value: evidenceText(i, this.reviewerNames(i)) })),
          text: items.length > REPORT_LINES ? `and ${items.length - REPORT_LINES} more: the CSV (review report ${c.id} --csv) has every line.` : items.length ? '' : 'no items',
        },
      ],
      footer: `CSV for auditors: review report ${c.id} --csv · every event: audit ${c.id}`,
    });
  }

  private reviewerNames(i: ReviewItem): string[] {
    return reviewerNames(this.d.reviews, i);
  }

  /** "14 events with correlation id REV-1001 · chain intact (head 120:ab12…)" */
  private chainLine(c: Campaign): string {
    const events = this.d.store.audit.query({ correlationId: c.id }, { limit: 10_000 }).length;
    const v = this.d.store.audit.verify();
    return `${events} event(s) with correlation id ${c.id} · ${v.ok ? `chain intact, ${v.count} events, head ${v.headSeq}:${v.headHash.slice(0, 16)}…` : `CHAIN BROKEN at event ${v.firstBadSeq}: ${v.reason}`}`;
  }

  /** The evidence as CSV (see {@link reviewEvidenceCsv}). */
  reportCsv(c: Campaign): string {
    return reviewEvidenceCsv(this.d.store.audit, this.d.reviews, c);
  }

  /** The campaigns, open ones first. */
  listCard(): AdaptiveCardJson {
    const list = this.d.reviews.list(20);
    return renderReviewStatusCard({
      title: `Access reviews: ${list.length}${list.length === 20 ? ' (latest 20)' : ''}`,
      status: `${list.filter((c) => c.state === 'active').length} open`,
      tone: 'default',
      text: list.length ? '' : 'No access review was started yet. Start one: review start ‹group|resource|department› [--reviewer manager|owner|‹group›] [--due 14d] [--auto-apply deny|keep|none]',
      facts: list.map((c) => {
        const n = this.d.reviews.counts(c.id);
        return {
          title: `${c.id} · ${c.title}`,
          value: `${c.state}${c.state === 'active' ? `, due ${formatTime(c.dueAt)}` : c.closedAt ? ` ${formatTime(c.closedAt)}` : ''} · ${n.decided} of ${n.total} decided`,
        };
      }),
      footer: 'review status REV-… · review report REV-… [--csv]',
    });
  }

  // ---- jobs ---------------------------------------------------------------------------------------

  /** Registers the review jobs and the listener told how removals end; syncs the schedules. */
  registerJobs(scheduler: Scheduler): void {
    scheduler.register(REVIEW_JOBS.notify, { run: (job) => this.runNotify(job), onGiveUp: (job, err) => this.notifyGaveUp(job, err) });
    scheduler.register(REVIEW_JOBS.remind, { run: (job) => this.runRemind(job) });
    scheduler.register(REVIEW_JOBS.close, { lane: DIRECTORY_LANE, run: (job) => this.runClose(job) });
    scheduler.register(REVIEW_JOBS.updateCards, { run: (job) => this.runUpdateCards(job) });
    scheduler.register(REVIEW_JOBS.postProgress, { run: (job) => this.runPost(job, 'progress') });
    scheduler.register(REVIEW_JOBS.postReport, { run: (job) => this.runPost(job, 'report') });
    scheduler.register(REVIEW_JOBS.schedule, { lane: DIRECTORY_LANE, run: (job) => this.runSchedule(job) });
    this.d.access.onRemoval(REMOVAL_KIND, {
      removed: (ref, at, result) => this.removalEnded(ref, () => this.d.reviews.markRemoved(Number(ref), at, result)),
      failed: (ref, _at, error) => this.removalEnded(ref, () => this.d.reviews.markRemovalFailed(Number(ref), error)),
    });
  }

  /** Inside the removal's transaction: the item records it, its cards follow. */
  private removalEnded(ref: string, mark: () => boolean): void {
    const item = this.d.reviews.item(Number(ref));
    if (!item || !mark()) return;
    this.schedule(REVIEW_JOBS.updateCards, item.campaignId, this.now(), { userIds: this.d.reviews.reviewersOf(item.id).map((r) => r.reviewerId), progress: true });
  }

  private schedule(kind: string, campaignId: string | null, runAt: Date, payload: Record<string, unknown> = {}, dedupeKey: string | null = null): void {
    this.d.store.jobs.schedule({ kind, requestId: campaignId, runAt, payload, dedupeKey, maxAttempts: this.maxAttempts });
  }

  private scheduleNotify(campaignId: string, userId: string, reason: NotifyReason, key: string): void {
    this.schedule(REVIEW_JOBS.notify, campaignId, this.now(), { userId, reason }, `review.notify:${campaignId}:${userId}:${reason}${key ? `:${key}` : ''}`);
  }

  private campaignOf(job: Job): Campaign {
    const c = job.requestId ? this.d.reviews.get(job.requestId) : null;
    if (!c) throw new PermanentJobError(`review ${job.requestId} not found`);
    return c;
  }

  private async runNotify(job: Job): Promise<void> {
    const c = this.campaignOf(job);
    const { userId, reason } = job.payload as { userId: string; reason: NotifyReason };
    if (c.state !== 'active') return;
    const items = this.d.reviews.itemsFor(c.id, userId);
    const open = items.filter((i) => !i.decision).length;
    if (!items.length || (reason === 'reminder' && !open)) return;
    const banner =
      reason === 'reminder'
        ? { text: `Reminder: ${open} of your ${items.length} item(s) still need your decision by ${formatTime(c.dueAt)}.`, tone: 'warning' as Tone }
        : reason === 'asked'
          ? { text: `Your review card, as you asked: ${open} of your ${items.length} item(s) still need your decision by ${formatTime(c.dueAt)}.`, tone: 'accent' as Tone }
          : { text: `${c.startedBy.name} asks you to review this access by ${formatTime(c.dueAt)}: ${items.length} item(s).`, tone: 'accent' as Tone };
    const card = this.cardFor(c, userId, { page: 1, banner });
    const delivered = await this.d.notifier.sendToUser(userId, messageWith(card, `${c.id}: access review, ${open} item(s) to decide`));
    this.d.store.transaction(() => {
      this.d.reviews.addCard({ campaignId: c.id, purpose: 'reviewer', userId, page: 1, activityId: delivered.activityId, reference: delivered.reference });
      if (reason === 'new') {
        this.d.store.audit.append({ actor: REVIEW_SYSTEM, action: 'review.card-sent', target: c.id, outcome: 'success', correlationId: c.id, details: { reviewer: userId, items: items.length } });
      }
    });
  }

  private async notifyGaveUp(job: Job, err: Error): Promise<TechnicianNotice | void> {
    const c = job.requestId ? this.d.reviews.get(job.requestId) : null;
    const { userId } = job.payload as { userId: string };
    const user = await this.d.directory.getUser(userId).catch(() => null);
    if (!c) return;
    return {
      title: `${c.id}: review card not delivered to ${user?.displayName ?? userId}`,
      text: `The review card for ${user?.displayName ?? userId} could not be sent (${err.message}). Ask them to open their chat with ${APP_NAME}, or decide their items another way before ${formatTime(c.dueAt)}.`,
      facts: [
        { title: 'Review', value: `${c.id} · ${c.title}` },
        ...(user ? [{ title: 'User', value: `${user.displayName} (${user.userPrincipalName})` }] : []),
      ],
      requestId: c.id,
      type: 'general',
      subject: user ? { id: user.id, name: user.displayName } : null,
    };
  }

  private async runRemind(job: Job): Promise<void> {
    const c = this.campaignOf(job);
    if (c.state !== 'active') return;
    const { days } = job.payload as { days: number };
    const waiting = this.d.reviews.progress(c.id).filter((p) => p.decided < p.total);
    this.d.store.transaction(() => {
      this.d.store.audit.append({
        actor: REVIEW_SYSTEM,
        action: 'review.reminded',
        target: c.id,
        outcome: 'success',
        correlationId: c.id,
        details: { daysBefore: days, reviewers: waiting.map((p) => ({ id: p.reviewerId, name: p.reviewerName, open: p.total - p.decided })) },
      });
      for (const p of waiting) this.scheduleNotify(c.id, p.reviewerId, 'reminder', String(days));
    });
    this.d.scheduler.kick();
  }

  private async runClose(job: Job): Promise<void> {
    const c = this.campaignOf(job);
    if (c.state !== 'active') return;
    const { reason } = job.payload as { reason: CloseReason };
    this.close(c.id, REVIEW_SYSTEM, reason, `job:${job.id}`);
  }

  private async runUpdateCards(job: Job): Promise<void> {
    const c = this.campaignOf(job);
    const { userIds, progress } = job.payload as { userIds: string[] | null; progress: boolean };
    const failures: string[] = [];
    const update = async (ref: { reference: Parameters<Notifier['update']>[0]; activityId: string; conversationId: string }, card: AdaptiveCardJson) => {
      try {
        await this.d.notifier.update(ref.reference, ref.activityId, messageWith(card));
      } catch (err) {
        // A message someone deleted cannot be updated; the others still are.
        if ((err as { statusCode?: number }).statusCode === 404) return;
        failures.push(`${ref.conversationId}: ${(err as Error).message}`);
      }
    };
    for (const ref of this.d.reviews.cards(c.id, 'reviewer')) {
      if (userIds && !userIds.includes(ref.userId!)) continue;
      await update(ref, this.cardFor(c, ref.userId!, { page: ref.page }));
    }
    if (progress) {
      for (const ref of this.d.reviews.cards(c.id, 'progress')) await update(ref, this.statusCard(c));
      // The evidence posted at the close follows the removals until they took effect.
      for (const ref of this.d.reviews.cards(c.id, 'report')) await update(ref, this.reportCard(c));
    }
    if (failures.length) throw new Error(`${failures.length} card update(s) failed: ${failures[0]}`);
  }

  /** The progress card (at the start) or the evidence report (at the close) in the technicians' channel. */
  private async runPost(job: Job, what: 'progress' | 'report'): Promise<void> {
    const c = this.campaignOf(job);
    const card = what === 'progress' ? this.statusCard(c) : this.reportCard(c);
    const delivered = await this.d.notifier.sendToTechnicians(messageWith(card, `${c.id}: ${what === 'progress' ? 'access review started' : 'access review closed'}`));
    if (!delivered) {
      this.d.logger.warn({ correlationId: c.id }, `no technicians' channel known for the review ${what} card`);
      return;
    }
    this.d.reviews.addCard({ campaignId: c.id, purpose: what, userId: null, activityId: delivered.activityId, reference: delivered.reference });
  }

  // ---- schedules ----------------------------------------------------------------------------------

  /**
   * Schedules the next occurrence of every enabled schedule as a job (at most once: the job's
   * key names the occurrence). An occurrence missed while the bot was down, after it first saw
   * the schedule, runs now; one before that never does (a new schedule starts at its next).
   */
  syncSchedules(): void {
    const now = this.now();
    for (const s of this.d.schedules.schedules) {
      if (!s.enabled) continue;
      const firstSeen = new Date(this.d.reviews.firstSeen(s.id));
      const missed = previousOccurrence(s, now);
      if (missed && missed.getTime() >= firstSeen.getTime() && !this.d.reviews.run(s.id, missed.toISOString())) this.scheduleOccurrence(s, missed, now);
      const next = nextOccurrence(s, now);
      if (next) this.scheduleOccurrence(s, next, next);
    }
  }

  private scheduleOccurrence(s: ReviewSchedule, occurrence: Date, runAt: Date): void {
    const iso = occurrence.toISOString();
    this.schedule(REVIEW_JOBS.schedule, null, runAt, { scheduleId: s.id, occurrence: iso }, `review.schedule:${s.id}:${iso}`);
  }

  private async runSchedule(job: Job): Promise<void> {
    const { scheduleId, occurrence } = job.payload as { scheduleId: string; occurrence: string };
    const s = this.d.schedules.schedules.find((x) => x.id === scheduleId);
    // The file changed since this was scheduled: only what it says now runs.
    if (!s || !s.enabled || !isOccurrence(s, new Date(occurrence))) {
      this.d.logger.info({ scheduleId, occurrence }, 'scheduled review no longer in the schedules; skipped');
      return;
    }
    // Down for longer than a period: only the latest missed occurrence starts, not each one in turn.
    const latest = previousOccurrence(s, new Date(this.now().getTime() + 1));
    const superseded = latest !== null && latest.getTime() > Date.parse(occurrence);
    if (superseded) {
      this.d.store.transaction(() => {
        if (!this.d.reviews.recordRun({ scheduleId: s.id, occurrence, outcome: 'skipped', campaignId: null, detail: `superseded by ${latest.toISOString()}` })) return;
        this.d.store.audit.append({
          actor: REVIEW_SYSTEM,
          action: 'review.schedule-skipped',
          target: s.id,
          outcome: 'success',
          correlationId: `schedule:${s.id}:${occurrence}`,
          details: { schedule: s.id, occurrence, supersededBy: latest.toISOString() },
        });
      });
      if (!this.d.reviews.run(s.id, latest.toISOString())) this.scheduleOccurrence(s, latest, this.now());
    } else if (!this.d.reviews.run(s.id, occurrence)) {
      const result = await this.begin(
        {
          scope: s.scope,
          reviewer: s.reviewer,
          dueInDays: s.dueInDays,
          autoApply: s.autoApply,
          inactiveDays: s.inactiveDays ?? undefined,
          startedBy: REVIEW_SYSTEM,
          reason: `Scheduled (${s.recurrence})`,
          correlationId: `schedule:${s.id}:${occurrence}`,
        },
        { announce: true, schedule: { id: s.id, occurrence, name: s.name } },
      );
      if (!result.ok) {
        const recorded = this.d.store.transaction(() => {
          if (!this.d.reviews.recordRun({ scheduleId: s.id, occurrence, outcome: 'skipped', campaignId: null, detail: result.message })) return false;
          this.d.store.audit.append({
            actor: REVIEW_SYSTEM,
            action: 'review.schedule-skipped',
            target: s.id,
            outcome: 'failure',
            correlationId: `schedule:${s.id}:${occurrence}`,
            details: { schedule: s.id, occurrence, message: result.message },
          });
          return true;
        });
        if (recorded) {
          await this.d.technicians.raise({
            title: `Scheduled access review did not start: ${s.name}`,
            text: `The ${s.recurrence} review "${s.name}" due to start ${formatTime(occurrence)} did not start: ${result.message}`,
            facts: [{ title: 'Schedule', value: s.id }],
            type: 'general',
          });
        }
      }
    }
    const next = nextOccurrence(s, new Date(Math.max(Date.parse(occurrence), this.now().getTime()) + 1));
    if (next) this.scheduleOccurrence(s, next, next);
    this.d.scheduler.kick();
  }
}

// ---- helpers ----------------------------------------------------------------------------------------

function lookup(map: LastSignIns, id: string): Date | null | undefined {
  return map.has(id.toLowerCase()) ? map.get(id.toLowerCase())! : undefined;
}

function byName(users: DirectoryUser[]): DirectoryUser[] {
  return [...users].sort((a, b) => a.displayName.localeCompare(b.displayName));
}

function toInt(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** The reason boxes of a card's submitted inputs (`reason-<item>`), by item id. */
function typedReasons(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    const m = /^reason-(\d{1,9})$/.exec(k);
    if (m && typeof v === 'string') out[m[1]!] = v.slice(0, MAX_REASON);
  }
  return out;
}

/** A reason as typed: trimmed, one line, without control characters; null when empty. */
function cleanReason(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_REASON);
  return s || null;
}

function lastSignInText(at: string | null | undefined, now: Date): string {
  if (at === undefined) return 'not known to this directory';
  if (at === null) return 'never';
  const days = Math.floor((now.getTime() - Date.parse(at)) / 86_400_000);
  return `${formatTime(at)}${days >= 1 ? ` (${days} day${days === 1 ? '' : 's'} ago)` : ''}`;
}

/** "Kept by Thomas Berg, Tue 3 Mar 2026, 10:00 UTC: \"reason\"", with the removal's progress. */
export function decisionText(i: ReviewItem): string {
  if (!i.decision) return 'Not decided';
  const verb = i.decision === 'keep' ? 'Kept' : 'Removed';
  const who = i.autoApplied ? `${verb} automatically at the close` : `${verb} by ${i.decidedBy.name ?? 'a reviewer'}`;
  const why = i.reason && !i.autoApplied ? `: "${plainText(i.reason)}"` : '';
  return `${who}, ${formatTime(i.decidedAt!)}${why}${removalText(i)}`;
}

function removalText(i: ReviewItem): string {
  switch (i.removalState) {
    case 'requested':
      return ' · removal in progress';
    case 'removed':
      return i.removalResult === 'not-member' ? ` · was already gone (${formatTime(i.removalEffectiveAt!)})` : ` · removed ${formatTime(i.removalEffectiveAt!)}`;
    case 'failed':
      return ' · removal FAILED: the technicians have a ticket';
    default:
      return i.decision === 'remove' ? ' · removed at the close' : '';
  }
}

function evidenceText(i: ReviewItem, reviewers: string[]): string {
  if (!i.decision) return `not decided (reviewers: ${reviewers.join(', ') || 'nobody'})`;
  return decisionText(i);
}

function notice(title: string, text: string, tone: 'good' | 'warning' | 'attention' | 'default'): AdaptiveCardJson {
  return renderNoticeCard({ title, text, tone });
}
