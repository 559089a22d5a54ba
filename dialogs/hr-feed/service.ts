import { messageWith, type TicketService } from '../technician/tickets';
import { planCard, signatureOf, type PlanArgs, type PlanRunner, type Step, type TechPlan } from '../technician/plans';
import type { Logger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import { DIRECTORY_LANE, PermanentJobError, type Scheduler, type TechnicianNotice } from '../../bot/scheduler';
import { birthrightFor, type BirthrightRules } from '../../directory/birthright';
import type { CatalogResource } from '../../directory/catalog';
import { UnsupportedError, type Directory, type DirectoryUser, type UserProfileChanges } from '../../directory/directory';
import type { AuditOutcome } from '../../store/audit-trail';
import type { HrAction, HrActionKind, HrActionState, HrBatch, HrBatchSource, HrFeedStore, HrLineOutcome } from '../../store/hr-feed';
import type { Job } from '../../store/jobs';
import type { Store } from '../../store/store';
import { announceCard, summaryCard } from './cards';
import { endOfDay, startOfDay } from './dates';
import { contentHash, parseBatch, recordHash } from './records';
import { validateBatch, type ValidLine } from './validate';

/**
 * The HR feed: a batch of HR records (a CSV file from the drop folder or a webhook call)
 * drives the technicians' joiner, mover and leaver flows without a technician's click.
 *
 * - The batch is validated as a whole first (`validate.ts`); a bad line is rejected with the
 *   reason and changes nothing, the good lines go on, and the report lists both.
 * - A record equal to the employee id's last accepted one (same content hash) changes
 *   nothing, so a replayed file changes nothing.
 * - A changed record becomes lifecycle actions, each a durable job at its time: a **joiner**
 *   at the start of the start date (at once when that has come), a **mover** at once, a
 *   **leaver** when the end date is over (at once for `terminated` without an end date).
 *   A newer record of the same employee supersedes the actions still waiting.
 * - Actions are the technicians' own plans (`onboard`, `offboard`) with the "HR feed" as
 *   actor, run by the same PlanRunner (durable steps, progress, tickets on failure). A plan
 *   about a member of a privileged group is never applied by the feed: it waits for a
 *   technician's approval on its card, with a ticket.
 * - A mover's department, title and manager are written to the directory (HR masters them);
 *   the new department's birthright groups are added; the old access (old birthright groups
 *   and access held by request, that the new birthright does not give) is not removed but
 *   sent to the new manager for review.
 *
 * Every change writes an audit event with the HR feed as actor and the batch id as
 * correlation id (the steps of a plan carry the plan id, as for technicians).
 */

export const HR_FEED_ACTOR = { id: 'hr-feed', name: 'HR feed' } as const;

/** Durable jobs of the feed; payloads hold ids only. */
export const HR_JOBS = {
  apply: 'hr.apply',
  summary: 'hr.summary',
  announce: 'hr.announce',
} as const;

export interface HrFeedSettings {
  /** The IANA time zone the feed's dates are days in. */
  timeZone: string;
  /** How long a privileged account's plan can be approved. */
  approvalHours: number;
  maxJobAttempts: number;
}

/** What the feed uses of the technicians' commands (`TechnicianCommands`). */
export interface TechnicianLifecycle {
  readonly runner: PlanRunner;
  /** The steps a command would take on `user` now, or why there is nothing to do. */
  planSteps(command: string, user: DirectoryUser, args: PlanArgs & Record<string, unknown>, resource: CatalogResource | null): Promise<{ steps: Step[] } | { refusal: string }>;
  /** Member of a privileged group (the four-eyes rule). */
  isPrivileged(userId: string): Promise<boolean>;
}

/** The access review service (`ReviewService`), when present: a mover's old access, reviewed by the new manager. */
export interface AccessReviewStarter {
  start(input: {
    scope: { kind: 'user-access'; userId: string; groupIds: string[] };
    reviewer: { kind: 'user'; userId: string };
    startedBy: { id: string; name: string };
    correlationId: string;
  }): Promise<{ ok: true; campaignId: string } | { ok: false; message: string }>;
}

export interface HrFeedDeps {
  settings: HrFeedSettings;
  store: Store;
  feed: HrFeedStore;
  directory: Directory;
  logger: Logger;
  clock: () => Date;
  notifier: Notifier;
  scheduler: Scheduler;
  tickets: TicketService;
  technician: TechnicianLifecycle;
  birthright: BirthrightRules;
  /** Null: a mover's old access goes to the technicians as a ticket instead. */
  reviews: AccessReviewStarter | null;
}

export interface BatchInput {
  source: HrBatchSource;
  /** The file name, or `webhook`. */
  name: string;
  bytes: Buffer;
  format: 'csv' | 'json';
}

export interface ReportLine {
  line: number;
  employeeId: string | null;
  upn: string | null;
  outcome: HrLineOutcome;
  reason: string | null;
  actions: Array<{ id: string; kind: HrActionKind; dueAt: string }>;
}

/** What became of a batch, line by line: the webhook's answer and the drop folder's report file. */
export interface BatchReport {
  batch: string;
  state: 'processed' | 'rejected';
  /** Why the whole batch was refused. */
  error: string | null;
  records: number;
  changed: number;
  unchanged: number;
  rejected: number;
  /** An earlier batch with exactly these bytes. */
  sameContentAs: string | null;
  lines: ReportLine[];
}

interface PlannedAction {
  kind: HrActionKind;
  dueAt: Date;
}

interface Outcome {
  state: Exclude<HrActionState, 'scheduled' | 'running' | 'superseded' | 'failed'>;
  detail: string;
}

const DONE_STATES = new Set<HrActionState>(['done', 'partial', 'nothing-to-do']);

export class HrFeedService {
  private queue: Promise<unknown> = Promise.resolve();
  private reviews: AccessReviewStarter | null;

  constructor(private readonly d: HrFeedDeps) {
    this.reviews = d.reviews;
  }

  /** The access review service, when it is built after the feed. */
  attachReviews(reviews: AccessReviewStarter): void {
    this.reviews = reviews;
  }

  registerJobs(scheduler: Scheduler): void {
    scheduler.register(HR_JOBS.apply, { lane: DIRECTORY_LANE, run: (job) => this.runApply(job), onGiveUp: (job, error) => this.giveUp(job, error) });
    // In the directory's lane too: it runs after the batch's actions due when the batch came, and shows how they went.
    scheduler.register(HR_JOBS.summary, { lane: DIRECTORY_LANE, run: (job) => this.runSummary(job) });
    scheduler.register(HR_JOBS.announce, { run: (job) => this.runAnnounce(job) });
  }

  private now(): Date {
    return this.d.clock();
  }

  // ---- receiving a batch -------------------------------------------------------------------

  /** Validates a batch, records it and its per-line report, and schedules what it changes. One batch at a time. */
  receive(input: BatchInput): Promise<BatchReport> {
    return this.receiveSerially(() => this.process(input));
  }

  /** A batch refused without reading it (a file over the size limit): recorded and reported, nothing applied. */
  refuse(input: { source: HrBatchSource; name: string; size: number; error: string }): Promise<BatchReport> {
    return this.receiveSerially(async () => this.rejectWhole(input.source, input.name, '-', input.size, input.error));
  }

  private receiveSerially(fn: () => Promise<BatchReport>): Promise<BatchReport> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private rejectWhole(source: HrBatchSource, name: string, sha256: string, bytes: number, error: string): BatchReport {
    const { store, feed } = this.d;
    const batch = store.transaction(() => {
      const b = feed.createBatch({ source, name, sha256, bytes, state: 'rejected', error, records: 0, changed: 0, unchanged: 0, rejected: 0 });
      store.audit.append({ actor: HR_FEED_ACTOR, action: 'hr.batch-rejected', target: null, outcome: 'refused', correlationId: b.id, details: { source, name, sha256, bytes, error } });
      this.scheduleSummary(b);
      return b;
    });
    this.d.scheduler.kick();
    this.d.logger.warn({ correlationId: batch.id, source, name }, 'HR batch rejected as a whole');
    return { batch: batch.id, state: 'rejected', error, records: 0, changed: 0, unchanged: 0, rejected: 0, sameContentAs: sha256 === '-' ? null : (feed.earlierWithSameContent(batch)?.id ?? null), lines: [] };
  }

  private async process(input: BatchInput): Promise<BatchReport> {
    const { store, feed } = this.d;
    const sha256 = contentHash(input.bytes);
    const parsed = parseBatch(input.bytes, input.format);
    if (!parsed.ok) return this.rejectWhole(input.source, input.name, sha256, input.bytes.length, parsed.error);

    const { valid, rejected } = await validateBatch(parsed.lines, {
      directory: this.d.directory,
      employee: (id) => feed.employee(id),
      employeeOfUser: (id) => feed.employeeOfUser(id),
    });
    const now = this.now();
    const unchanged: ValidLine[] = [];
    const changed: Array<{ v: ValidLine; hash: string; changes: string[]; actions: PlannedAction[] }> = [];
    for (const v of valid) {
      const hash = recordHash(v.record);
      // The stored hash is of the id as spelled then: the same record with the id in another case is unchanged.
      if (v.previous && v.previous.contentHash === recordHash({ ...v.record, employeeId: v.previous.employeeId })) unchanged.push(v);
      else changed.push({ v, hash, ...(await this.classify(v, now)) });
    }

    const cancelledPlans: string[] = [];
    const report: ReportLine[] = [];
    const batch = store.transaction(() => {
      const b = feed.createBatch({
        source: input.source,
        name: input.name,
        sha256,
        bytes: input.bytes.length,
        state: 'processed',
        error: null,
        records: parsed.lines.length,
        changed: changed.length,
        unchanged: unchanged.length,
        rejected: rejected.length,
      });
      for (const r of rejected) report.push(this.recordLine(b, r.line, r.employeeId, r.upn, 'rejected', r.reason, []));
      for (const v of unchanged) {
        report.push(this.recordLine(b, v.line, v.record.employeeId, v.record.upn, 'unchanged', `the same record as ${v.previous!.batchId}: nothing to do`, []));
      }
      for (const c of changed) {
        const { v } = c;
        const superseded = this.supersedeOpen(v.record.employeeId, b.id, cancelledPlans);
        feed.saveEmployee({ employeeId: v.record.employeeId, userId: v.user.id, upn: v.record.upn, record: v.record, contentHash: c.hash, started: v.previous?.started ?? false, batchId: b.id });
        const actions = c.actions.map((p) => {
          const a = feed.createAction({ batchId: b.id, employeeId: v.record.employeeId, userId: v.user.id, userName: v.user.displayName, upn: v.user.userPrincipalName, kind: p.kind, dueAt: p.dueAt.toISOString(), record: v.record });
          store.jobs.schedule({ kind: HR_JOBS.apply, requestId: a.id, runAt: p.dueAt, dedupeKey: `hr.apply:${a.id}`, maxAttempts: this.d.settings.maxJobAttempts });
          return { id: a.id, kind: a.kind, dueAt: a.dueAt };
        });
        store.audit.append({
          actor: HR_FEED_ACTOR,
          action: 'hr.record-accepted',
          target: v.user.id,
          outcome: 'success',
          correlationId: b.id,
          details: { line: v.line, employeeId: v.record.employeeId, upn: v.record.upn, previousBatch: v.previous?.batchId ?? null, changes: c.changes, actions, superseded },
        });
        const what = actions.length ? actions.map((a) => `${a.kind} ${a.dueAt <= now.toISOString() ? 'now' : `at ${a.dueAt}`} (${a.id})`).join(', ') : 'recorded; nothing to do';
        report.push(this.recordLine(b, v.line, v.record.employeeId, v.record.upn, 'changed', what, actions));
      }
      store.audit.append({
        actor: HR_FEED_ACTOR,
        action: 'hr.batch-processed',
        target: null,
        outcome: 'success',
        correlationId: b.id,
        details: {
          source: input.source,
          name: input.name,
          sha256,
          bytes: input.bytes.length,
          records: parsed.lines.length,
          changed: changed.length,
          unchanged: unchanged.length,
          rejected: rejected.length,
          rejectedLines: rejected.slice(0, 50).map((r) => ({ line: r.line, employeeId: r.employeeId, reason: r.reason.slice(0, 300) })),
        },
      });
      this.scheduleSummary(b);
      return b;
    });
    for (const id of cancelledPlans) {
      const plan = store.technician.plans.get<Step, PlanArgs>(id);
      if (plan) await this.d.technician.runner.updateCards(plan);
    }
    this.d.scheduler.kick();
    this.d.logger.info(
      { correlationId: batch.id, source: input.source, name: input.name, records: parsed.lines.length, changed: changed.length, unchanged: unchanged.length, rejected: rejected.length },
      'HR batch processed',
    );
    report.sort((a, b) => a.line - b.line);
    return {
      batch: batch.id,
      state: 'processed',
      error: null,
      records: parsed.lines.length,
      changed: changed.length,
      unchanged: unchanged.length,
      rejected: rejected.length,
      sameContentAs: feed.earlierWithSameContent(batch)?.id ?? null,
      lines: report,
    };
  }

  private recordLine(b: HrBatch, line: number, employeeId: string | null, upn: string | null, outcome: HrLineOutcome, reason: string | null, actions: ReportLine['actions']): ReportLine {
    this.d.feed.addLine({ batchId: b.id, line, employeeId, upn, outcome, reason, actions: actions.map((a) => a.id) });
    return { line, employeeId, upn, outcome, reason, actions };
  }

  private scheduleSummary(b: HrBatch): void {
    this.d.store.jobs.schedule({ kind: HR_JOBS.summary, requestId: b.id, runAt: this.now(), dedupeKey: `hr.summary:${b.id}`, maxAttempts: this.d.settings.maxJobAttempts });
  }

  /**
   * What a changed record means now. A leaver whose end has come is only that. Otherwise an
   * employee not started yet (first seen, or rehired after leaving) is a joiner at the start
   * of the start date (now, when it has come); one already at work whose department, title
   * or manager differ from the directory's is a mover now (also when the feed sees them for
   * the first time); and an end date (or `terminated`) adds a leaver when the end date is over.
   */
  private async classify(v: ValidLine, now: Date): Promise<{ changes: string[]; actions: PlannedAction[] }> {
    const r = v.record;
    const tz = this.d.settings.timeZone;
    const changes = await this.profileDifferences(v);
    const leaverAt = r.endDate ? endOfDay(r.endDate, tz) : r.status === 'terminated' ? now : null;
    if (leaverAt && leaverAt.getTime() <= now.getTime()) return { changes, actions: [{ kind: 'leaver', dueAt: now }] };
    const actions: PlannedAction[] = [];
    const start = startOfDay(r.startDate, tz);
    if (!v.previous?.started && start.getTime() > now.getTime()) {
      actions.push({ kind: 'joiner', dueAt: start });
    } else if (!v.previous?.started && !(v.previous === null && changes.length)) {
      actions.push({ kind: 'joiner', dueAt: now });
    } else if (changes.length) {
      // Someone already at work whom the feed sees for the first time, with another department,
      // title or manager than the directory's, has moved: their old access is reviewed too.
      actions.push({ kind: 'mover', dueAt: now });
    }
    if (leaverAt) actions.push({ kind: 'leaver', dueAt: leaverAt });
    return { changes, actions };
  }

  /** How the record's department, title and manager differ from the directory's, as text. */
  private async profileDifferences(v: ValidLine): Promise<string[]> {
    const out: string[] = [];
    const u = v.user;
    if ((u.department ?? null) !== v.record.department) out.push(`department: ${u.department ?? 'none'} → ${v.record.department}`);
    if ((u.jobTitle ?? null) !== v.record.title) out.push(`title: ${u.jobTitle ?? 'none'} → ${v.record.title ?? 'none'}`);
    const current = await this.d.directory.getManager(u.id);
    if ((current?.id ?? null) !== (v.manager?.id ?? null)) out.push(`manager: ${current?.userPrincipalName ?? 'none'} → ${v.manager?.userPrincipalName ?? 'none'}`);
    return out;
  }

  /** A newer record replaces what an employee's earlier actions were still going to do. Inside the batch's transaction. */
  private supersedeOpen(employeeId: string, batchId: string, cancelledPlans: string[]): string[] {
    const out: string[] = [];
    for (const a of this.d.feed.openActionsOf(employeeId)) {
      if (a.state === 'running') continue;
      if (!this.d.feed.supersede(a.id, `replaced by a newer record (${batchId})`)) continue;
      this.d.store.jobs.cancelForRequest(a.id);
      this.d.store.audit.append({ actor: HR_FEED_ACTOR, action: 'hr.action-superseded', target: a.userId, outcome: 'success', correlationId: batchId, details: { action: a.id, kind: a.kind, dueAt: a.dueAt, by: batchId, from: a.batchId } });
      for (const planId of a.planIds) {
        const plan = this.d.store.technician.plans.get(planId);
        if (plan?.state === 'proposed' && this.d.store.technician.plans.end(planId, 'cancelled')) {
          this.d.store.audit.append({ actor: HR_FEED_ACTOR, action: 'technician.plan-cancelled', target: a.userId, outcome: 'success', correlationId: planId, details: { reason: 'superseded', hrBatch: batchId, hrAction: a.id } });
          cancelledPlans.push(planId);
        }
      }
      out.push(a.id);
    }
    return out;
  }

  // ---- carrying out an action --------------------------------------------------------------

  private async runApply(job: Job): Promise<void> {
    const { feed, store } = this.d;
    const found = job.requestId ? feed.action(job.requestId) : null;
    if (!found) throw new PermanentJobError(`HR action ${job.requestId} not found`);
    if (found.state === 'scheduled') {
      const claimed = store.transaction(() => {
        if (!feed.claim(found.id)) return false;
        store.audit.append({ actor: HR_FEED_ACTOR, action: 'hr.action-started', target: found.userId, outcome: 'success', correlationId: found.batchId, details: { action: found.id, kind: found.kind, dueAt: found.dueAt } });
        return true;
      });
      if (!claimed) return;
    } else if (found.state !== 'running') {
      return;
    }
    const a = feed.action(found.id)!;
    const outcome = await this.carryOut(a);
    const after = feed.action(a.id)!;
    store.transaction(() => {
      if (!feed.finish(a.id, outcome.state, outcome.detail)) return;
      if (a.kind !== 'leaver' && DONE_STATES.has(outcome.state)) feed.markStarted(a.employeeId);
      if (a.kind === 'leaver' && (outcome.state === 'done' || outcome.state === 'partial')) feed.markLeft(a.employeeId);
      const result: AuditOutcome = outcome.state === 'partial' ? 'failure' : 'success';
      store.audit.append({
        actor: HR_FEED_ACTOR,
        action: 'hr.action-finished',
        target: a.userId,
        outcome: result,
        correlationId: a.batchId,
        details: { action: a.id, kind: a.kind, state: outcome.state, detail: outcome.detail, plans: after.planIds, review: after.reviewId, ticket: after.ticketId },
      });
      // Told on its own when the batch's summary went out before it ran (a date to come, a retry).
      if (feed.batch(a.batchId)?.summaryPostedAt) {
        store.jobs.schedule({ kind: HR_JOBS.announce, requestId: a.id, runAt: this.now(), dedupeKey: `hr.announce:${a.id}`, maxAttempts: this.d.settings.maxJobAttempts });
      }
    });
    this.d.scheduler.kick();
  }

  private async carryOut(a: HrAction): Promise<Outcome> {
    const user = await this.d.directory.getUser(a.userId);
    if (!user) throw new PermanentJobError(`${a.userName} (${a.upn}) is no longer in the directory`);
    // A plan this action made earlier: a stop cut it short (finish it), or it finished before the action was recorded.
    for (const planId of a.planIds) {
      const plan = this.d.store.technician.plans.get<Step, PlanArgs>(planId);
      if (!plan) continue;
      if (plan.state === 'running') return this.planOutcome(a, await this.d.technician.runner.run(planId, true), []);
      if (plan.state === 'done' || plan.state === 'partial') return this.planOutcome(a, plan, []);
      if (plan.state === 'proposed') return this.waitForApproval(a, user, plan);
    }
    if (a.kind === 'leaver') return this.applyPlan(a, user, 'offboard', []);

    const notes: string[] = [];
    if (a.kind === 'mover') {
      const reviewed = await this.sendOldAccessForReview(a, user);
      if (reviewed) notes.push(reviewed);
    }
    const profile = await this.applyProfile(a, user);
    if ('blocked' in profile) return { state: 'partial', detail: [...notes, profile.blocked].join('; ') };
    notes.push(...profile.notes);
    const updated = (await this.d.directory.getUser(a.userId)) ?? user;
    return this.applyPlan(a, updated, 'onboard', notes);
  }

  /**
   * Writes HR's department, title and manager to the directory where they differ. An account
   * mastered on-premises cannot be changed from here: a ticket asks a technician to change it
   * in AD, and the access changes wait for that (they depend on the new department).
   */
  private async applyProfile(a: HrAction, user: DirectoryUser): Promise<{ notes: string[] } | { blocked: string }> {
    const r = a.record;
    const manager = r.managerUpn ? await this.d.directory.findUserByUpn(r.managerUpn) : null;
    if (r.managerUpn && !manager) return { blocked: `the manager ${r.managerUpn} is no longer in the directory: nothing was changed` };
    const current = await this.d.directory.getManager(user.id);
    const changes: UserProfileChanges = {};
    const notes: string[] = [];
    if ((user.department ?? null) !== r.department) {
      changes.department = r.department;
      notes.push(`department ${user.department ?? 'none'} → ${r.department}`);
    }
    if ((user.jobTitle ?? null) !== r.title) {
      changes.jobTitle = r.title;
      notes.push(`title ${user.jobTitle ?? 'none'} → ${r.title ?? 'none'}`);
    }
    if ((current?.id ?? null) !== (manager?.id ?? null)) {
      changes.managerId = manager?.id ?? null;
      notes.push(`manager ${current?.displayName ?? 'none'} → ${manager?.displayName ?? 'none'}`);
    }
    if (!notes.length) return { notes: [] };
    try {
      await this.d.directory.updateUserProfile(user.id, changes);
    } catch (err) {
      if (!(err instanceof UnsupportedError)) throw err;
      const ticket = await this.d.tickets.open(
        {
          type: 'provisioning',
          title: `HR feed: change the profile of ${user.displayName} in Active Directory`,
          text: `${err.message} The HR feed (${a.batchId}) says: ${notes.join('; ')}. The ${a.kind}'s access changes wait for it: once AD has the new values, run onboard ${user.userPrincipalName}.`,
          facts: [
            { title: 'User', value: `${user.displayName} (${user.userPrincipalName})` },
            { title: 'HR action', value: `${a.id} (${a.kind})` },
          ],
          requester: HR_FEED_ACTOR,
          subject: { id: user.id, name: user.displayName },
          sourceRef: a.id,
        },
        HR_FEED_ACTOR,
      );
      this.d.store.transaction(() => {
        this.d.feed.setTicket(a.id, ticket.id);
        this.audit(a, 'hr.profile-update-refused', 'refused', { reason: err.message.slice(0, 300), wanted: notes, ticket: ticket.id });
      });
      return { blocked: `the profile is mastered on-premises: ${ticket.id} asks a technician to change it in AD` };
    }
    this.audit(a, 'hr.profile-updated', 'success', {
      before: { department: user.department, jobTitle: user.jobTitle, managerId: current?.id ?? null },
      after: { department: r.department, jobTitle: r.title, managerId: manager?.id ?? null },
    });
    return { notes: [`profile: ${notes.join(', ')}`] };
  }

  /**
   * A mover's old access is not removed: the groups of the old birthright that the new one
   * does not give, and catalog access held by request, are sent to the new manager for
   * review (the access review service), or to the technicians as a ticket when there is no
   * review service or no manager. Before the profile changes: the old department is read
   * from the directory.
   */
  private async sendOldAccessForReview(a: HrAction, user: DirectoryUser): Promise<string | null> {
    if (a.reviewId) return `old access sent for review (${a.reviewId})`;
    const r = a.record;
    const keeps = new Set(birthrightFor(this.d.birthright, r.department, r.title).groups.map((g) => g.toLowerCase()));
    const old = birthrightFor(this.d.birthright, user.department, user.jobTitle).groups;
    const byRequest = this.d.store.requests.listForRequester(user.id, 500).filter((q) => q.state === 'granted').map((q) => q.groupId);
    const candidates = [...new Set([...old, ...byRequest].map((g) => g.toLowerCase()))].filter((g) => !keeps.has(g));
    const held: string[] = [];
    for (let i = 0; i < candidates.length; i += 20) held.push(...(await this.d.directory.checkMemberGroups(user.id, candidates.slice(i, i + 20))));
    if (!held.length) return null;
    const groups: Array<{ id: string; name: string }> = [];
    for (const id of held) groups.push({ id, name: (await this.d.directory.getGroup(id))?.displayName ?? id });
    const manager = r.managerUpn ? await this.d.directory.findUserByUpn(r.managerUpn) : null;
    const names = groups.map((g) => g.name).join(', ');
    let refused: string | null = null;
    if (this.reviews && manager) {
      const result = await this.reviews.start({
        scope: { kind: 'user-access', userId: user.id, groupIds: groups.map((g) => g.id) },
        reviewer: { kind: 'user', userId: manager.id },
        startedBy: { id: HR_FEED_ACTOR.id, name: HR_FEED_ACTOR.name },
        correlationId: a.batchId,
      });
      if (result.ok) {
        this.d.store.transaction(() => {
          this.d.feed.setReview(a.id, result.campaignId);
          this.audit(a, 'hr.review-started', 'success', { review: result.campaignId, reviewer: { id: manager.id, name: manager.displayName }, groups: groups.map((g) => g.id) });
        });
        return `old access (${names}) sent to ${manager.displayName} for review (${result.campaignId})`;
      }
      // The review could not start (the service said why): the technicians get the list instead.
      refused = result.message;
    }
    const ticket = await this.d.tickets.open(
      {
        type: 'general',
        title: `HR feed: review the old access of ${user.displayName} after a move`,
        text: `${user.displayName} moved (${a.batchId}): ${r.department}${r.title ? `, ${r.title}` : ''}. They keep access their new role may not need; nothing was removed. ${manager ? `Ask ${manager.displayName}, the new manager,` : 'Ask their new manager'} which of these to keep, then revoke the rest.${refused ? ` (No review campaign: ${refused})` : ''}`,
        facts: groups.slice(0, 25).map((g) => ({ title: g.name, value: g.id })),
        requester: HR_FEED_ACTOR,
        subject: { id: user.id, name: user.displayName },
        sourceRef: `hr-review:${a.id}`,
      },
      HR_FEED_ACTOR,
    );
    this.d.store.transaction(() => {
      this.d.feed.setReview(a.id, ticket.id);
      this.audit(a, 'hr.review-requested', 'success', { ticket: ticket.id, reviewer: manager ? { id: manager.id, name: manager.displayName } : null, groups: groups.map((g) => g.id), reviewRefused: refused });
    });
    return `old access (${names}) listed for review in ${ticket.id}`;
  }

  /**
   * The technicians' plan for `command`, with the HR feed as proposer: run at once (the
   * feed's record is its confirmation), or, for a member of a privileged group, proposed and
   * left for a second pair of eyes.
   */
  private async applyPlan(a: HrAction, user: DirectoryUser, command: 'onboard' | 'offboard', notes: string[]): Promise<Outcome> {
    const { store } = this.d;
    const reason = `HR feed ${a.batchId}: ${a.kind}${a.kind === 'leaver' ? (a.record.endDate ? `, end date ${a.record.endDate}` : ', terminated') : a.kind === 'joiner' ? `, start date ${a.record.startDate}` : ''}`;
    const q = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    const args: PlanArgs = {
      reason,
      rerun: command === 'offboard' ? `offboard ${user.id} --reason ${q(reason)}` : `onboard ${user.id}`,
      note: `From the HR feed (${a.batchId}, ${a.id}): ${a.kind} ${user.displayName}${notes.length ? `; ${notes.join('; ')}` : ''}.`,
      hrBatch: a.batchId,
      hrAction: a.id,
    };
    const planned = await this.d.technician.planSteps(command, user, args, null);
    if ('refusal' in planned) {
      return notes.length ? { state: 'done', detail: `${notes.join('; ')}; ${planned.refusal}` } : { state: 'nothing-to-do', detail: planned.refusal };
    }
    const privileged = await this.d.technician.isPrivileged(user.id);
    const subject = { id: user.id, name: user.displayName, upn: user.userPrincipalName };
    if (!privileged) {
      const plan = store.transaction(() => {
        const p = store.technician.plans.create({ command, actor: HR_FEED_ACTOR, subject, args, steps: planned.steps, signature: signatureOf(planned.steps, false), privileged: false, expiresAt: this.now(), correlationId: a.batchId, running: true });
        this.d.feed.setPlans(a.id, [...a.planIds, p.id]);
        store.audit.append({ actor: HR_FEED_ACTOR, action: 'technician.plan-started', target: user.id, outcome: 'success', correlationId: p.id, details: { command, steps: planned.steps.map((s) => s.kind), immediate: true, hrBatch: a.batchId, hrAction: a.id } });
        return p as TechPlan;
      });
      const done = await this.d.technician.runner.run(plan.id, true);
      return this.planOutcome(a, done, notes);
    }
    const expiresAt = new Date(this.now().getTime() + this.d.settings.approvalHours * 3_600_000);
    const plan = store.transaction(() => {
      const p = store.technician.plans.create({ command, actor: HR_FEED_ACTOR, subject, args, steps: planned.steps, signature: signatureOf(planned.steps, true), privileged: true, expiresAt, correlationId: a.batchId });
      // The feed's record is the proposer's confirmation; a technician's approval is the second pair of eyes.
      store.technician.plans.markConfirmed(p.id);
      this.d.feed.setPlans(a.id, [...a.planIds, p.id]);
      store.audit.append({ actor: HR_FEED_ACTOR, action: 'technician.plan-proposed', target: user.id, outcome: 'success', correlationId: p.id, details: { command, steps: planned.steps.map((s) => s.kind), privileged: true, reason, hrBatch: a.batchId, hrAction: a.id } });
      return store.technician.plans.get<Step, PlanArgs>(p.id)!;
    });
    return this.waitForApproval({ ...a, planIds: [...a.planIds, plan.id] }, user, plan, notes);
  }

  /** A privileged account's plan: its card in the technicians' channel (once) and a ticket (once). */
  private async waitForApproval(a: HrAction, user: DirectoryUser, plan: TechPlan, notes: string[] = []): Promise<Outcome> {
    const { store } = this.d;
    if (!store.technician.cards.forOwner(plan.id, 'plan').length) {
      const card = planCard(plan, this.now());
      const delivered = await this.d.notifier.sendToTechnicians(messageWith(card, `${plan.id}: the HR feed's ${a.kind} of ${user.displayName} needs a technician's approval`)).catch((err) => {
        this.d.logger.warn({ correlationId: plan.id, err: { name: (err as Error).name, message: (err as Error).message } }, 'the plan card could not be posted');
        return null;
      });
      if (delivered) store.technician.cards.add({ ownerId: plan.id, purpose: 'plan', activityId: delivered.activityId, reference: delivered.reference });
    }
    const ticket = await this.d.tickets.open(
      {
        type: a.kind === 'leaver' ? 'offboarding' : 'provisioning',
        title: `HR feed: approve the ${a.kind} plan of ${user.displayName} (privileged account)`,
        text: `${user.displayName} is a privileged account (an admin role or a privileged group), so the HR feed does not apply the ${a.kind} by itself. Check ${plan.id} and approve it on its card (any identity technician), or cancel it and act by hand.`,
        facts: [
          { title: 'User', value: `${user.displayName} (${user.userPrincipalName})` },
          { title: 'Plan', value: plan.id },
          { title: 'HR record', value: `${a.batchId}: ${a.record.department}${a.record.title ? `, ${a.record.title}` : ''}; start ${a.record.startDate}${a.record.endDate ? `; end ${a.record.endDate}` : ''}; ${a.record.status}` },
          ...(notes.length ? [{ title: 'Already done', value: notes.join('; ') }] : []),
        ],
        requester: HR_FEED_ACTOR,
        subject: { id: user.id, name: user.displayName },
        sourceRef: plan.id,
      },
      HR_FEED_ACTOR,
    );
    store.transaction(() => {
      this.d.feed.setTicket(a.id, ticket.id);
      this.audit(a, 'hr.approval-requested', 'success', { plan: plan.id, ticket: ticket.id, kind: a.kind });
    });
    return { state: 'waiting-approval', detail: `${notes.length ? `${notes.join('; ')}; ` : ''}${plan.id} waits for a technician's approval (privileged account, ${ticket.id})` };
  }

  /** A finished plan as the action's outcome; problems go to the technicians with the card's Run again. */
  private async planOutcome(a: HrAction, plan: TechPlan, notes: string[]): Promise<Outcome> {
    const steps = plan.progress.map((p, i) => `${plan.steps[i]?.kind}: ${p.detail || p.status}`).join('; ');
    if (plan.state !== 'partial') return { state: 'done', detail: `${notes.length ? `${notes.join('; ')}; ` : ''}${plan.id}: ${steps}` };
    if (!this.d.store.technician.cards.forOwner(plan.id, 'plan').length) {
      const delivered = await this.d.notifier.sendToTechnicians(messageWith(planCard(plan, this.now()), `${plan.id} finished with problems`)).catch(() => null);
      if (delivered) this.d.store.technician.cards.add({ ownerId: plan.id, purpose: 'plan', activityId: delivered.activityId, reference: delivered.reference });
    }
    const ticket = await this.d.tickets.open(
      {
        type: a.kind === 'leaver' ? 'offboarding' : 'provisioning',
        title: `HR feed: the ${a.kind} of ${plan.subject.name} finished with problems`,
        text: `${plan.id} (from ${a.batchId}) could not do everything. Its card lists the problems; Run again proposes what is left.`,
        facts: [
          { title: 'User', value: `${plan.subject.name} (${plan.subject.upn})` },
          { title: 'Plan', value: plan.id },
        ],
        requester: HR_FEED_ACTOR,
        subject: { id: plan.subject.id, name: plan.subject.name },
        sourceRef: plan.id,
      },
      HR_FEED_ACTOR,
    );
    this.d.store.transaction(() => this.d.feed.setTicket(a.id, ticket.id));
    return { state: 'partial', detail: `${notes.length ? `${notes.join('; ')}; ` : ''}${plan.id} finished with problems (${ticket.id}): ${steps}` };
  }

  private async giveUp(job: Job, error: Error): Promise<TechnicianNotice | void> {
    const a = job.requestId ? this.d.feed.action(job.requestId) : null;
    if (!a) return;
    this.d.store.transaction(() => {
      if (this.d.feed.finish(a.id, 'failed', error.message)) this.audit(a, 'hr.action-failed', 'failure', { error: error.message.slice(0, 300), attempts: job.attempts });
    });
    return {
      title: `HR feed: the ${a.kind} of ${a.userName} failed`,
      text: `${a.id} from ${a.batchId} failed ${job.attempts} time(s) and will not be retried: ${error.message}`,
      facts: [
        { title: 'User', value: `${a.userName} (${a.upn})` },
        { title: 'HR action', value: `${a.id} (${a.kind}, due ${a.dueAt})` },
      ],
      requestId: a.id,
      type: a.kind === 'leaver' ? 'offboarding' : 'provisioning',
      requester: HR_FEED_ACTOR,
      subject: { id: a.userId, name: a.userName },
    };
  }

  private audit(a: HrAction, action: string, outcome: AuditOutcome, details: Record<string, unknown>): void {
    this.d.store.audit.append({ actor: HR_FEED_ACTOR, action, target: a.userId, outcome, correlationId: a.batchId, details: { action: a.id, kind: a.kind, ...details } });
  }

  // ---- telling the technicians ---------------------------------------------------------------

  /**
   * The batch's summary card in the technicians' channel: counts, each change, the first
   * rejected lines and a button for all of them. Nothing is posted when nothing changed and
   * nothing was rejected, or when a replayed file (same bytes as an earlier batch) changed nothing.
   */
  private async runSummary(job: Job): Promise<void> {
    const { feed } = this.d;
    const batch = job.requestId ? feed.batch(job.requestId) : null;
    if (!batch) throw new PermanentJobError(`HR batch ${job.requestId} not found`);
    if (batch.summaryPostedAt) return;
    const actions = feed.actionsOfBatch(batch.id);
    const earlier = feed.earlierWithSameContent(batch);
    if (!actions.length && (batch.rejected === 0 && batch.state === 'processed')) return;
    if (!actions.length && earlier && batch.sha256 !== '-') return;
    const card = summaryCard(batch, actions, feed.lines(batch.id, 'rejected', 5), this.d.settings.timeZone, this.plansOf(actions));
    const delivered = await this.d.notifier.sendToTechnicians(messageWith(card, `HR feed ${batch.id}: ${batch.changed} changed, ${batch.rejected} rejected`));
    if (!delivered) {
      this.d.logger.error({ correlationId: batch.id }, 'HR batch summary: no technicians channel is known yet');
      return;
    }
    feed.markSummaryPosted(batch.id);
  }

  private async runAnnounce(job: Job): Promise<void> {
    const a = job.requestId ? this.d.feed.action(job.requestId) : null;
    if (!a) throw new PermanentJobError(`HR action ${job.requestId} not found`);
    const delivered = await this.d.notifier.sendToTechnicians(messageWith(announceCard(a, this.plansOf([a])), `HR feed: ${a.kind} ${a.userName}`));
    if (!delivered) this.d.logger.error({ correlationId: a.batchId, action: a.id }, 'HR action notice: no technicians channel is known yet');
  }

  private plansOf(actions: HrAction[]): Map<string, TechPlan> {
    const out = new Map<string, TechPlan>();
    for (const a of actions) for (const id of a.planIds) {
      const p = this.d.store.technician.plans.get<Step, PlanArgs>(id);
      if (p) out.set(id, p);
    }
    return out;
  }
}

