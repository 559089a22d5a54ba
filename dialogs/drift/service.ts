import { renderDriftTicketCard } from '../../adaptive-cards/drift';
import { plainText } from '../../adaptive-cards/plain-text';
import { renderTechCard, type Fact, type Tone } from '../../adaptive-cards/technician';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import { APP_NAME } from '../../bot/deps';
import type { Logger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import { DIRECTORY_LANE, PermanentJobError, type Scheduler } from '../../bot/scheduler';
import type { BirthrightRules } from '../../directory/birthright';
import { resolveResource, type Catalog, type CatalogResource } from '../../directory/catalog';
import { NotFoundError, type Directory } from '../../directory/directory';
import { isFindingId, type DriftFinding, type DriftKind, type DriftStore, type NewFinding, type PersonRef } from '../../store/drift';
import type { Job } from '../../store/jobs';
import type { Store } from '../../store/store';
import type { Person, Ticket, TicketType } from '../../store/technician';
import { ACCESS_JOBS, type AccessService } from '../access-service';
import type { StartReviewInput, StartReviewResult } from '../reviews/service';
import { formatTime } from '../access-duration';
import type { Caller, ClickResult, Reply } from '../technician/commands';
import { errorText } from '../technician/plans';
import { resolveGroup, resolveUser } from '../technician/resolve';
import { isTicketId, messageWith, TICKET_JOBS, TICKET_TYPE_LABELS, ticketView, type TicketService } from '../technician/tickets';
import { detectDrift, mapLimit, type GroupScan, type ScopeGroup } from './check';
import type { PrivilegedResolver } from '../privileged';

/**
 * Drift detection: the directory's memberships of the catalog's groups (and of the privileged
 * groups) against what the helpdesk approved. A check runs on a schedule (a durable job every
 * `DRIFT_CHECK_INTERVAL_HOURS`) and on the technicians' `drift` command. Each finding becomes
 * a ticket, raised in the transaction that records the finding, and its card in the
 * technicians' channel offers one-click actions: Remove (confirmed by the technician who
 * proposed it, approved by a second technician when the account or the group is privileged,
 * then carried out by the durable removal job with retries and a ticket when it gives up),
 * Open a review (an access review of the group), Accept with a reason (an exception that keeps
 * the finding quiet; approved by a second technician where Remove would need one). A finding
 * is raised once; it is raised again only when something changed: it disappeared and came
 * back, its exception was revoked, or its ticket was closed by hand while it is still there. Every action is one audit event with the finding id as
 * correlation id, in the transaction of the change; who may click is decided at click time.
 */

export const DRIFT_JOBS = {
  check: 'drift.check',
  post: 'drift.post',
  updateCards: 'drift.update-cards',
} as const;

/** Card verbs of drift tickets. */
export const DRIFT_VERBS = [
  'drift.remove',
  'drift.remove-confirm',
  'drift.remove-approve',
  'drift.remove-cancel',
  'drift.review',
  'drift.accept',
  'drift.accept-approve',
  'drift.accept-cancel',
  'drift.unaccept',
  'drift.take',
  'drift.assign',
  'drift.close',
] as const;

export function isDriftVerb(verb: string): boolean {
  return (DRIFT_VERBS as readonly string[]).includes(verb);
}

/** The owner kind of drift removals in the access service's removal jobs. */
export const REMOVAL_OWNER = 'drift';
/** The request id of the scheduled check's jobs (so they can be found and cancelled). */
const CHECK_REF = 'drift-check';
/** Groups read at once. */
const CONCURRENCY = 4;
const MAX_REASON = 500;
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd\ufeff]/;
const SYSTEM: Person = { id: 'system', name: APP_NAME };

export const KIND_LABELS: Record<DriftKind, string> = {
  unapproved: 'Added outside the helpdesk',
  'expired-grant': 'Access ended, membership stayed',
  disabled: 'Disabled account still a member',
  left: 'No longer in the directory',
  sod: 'Separation of duties',
  privileged: 'Unexpected member of a privileged group',
};

/** The ticket type (and so the SLA) of each kind. */
export const TICKET_TYPE_OF: Record<DriftKind, TicketType> = {
  unapproved: 'general',
  'expired-grant': 'provisioning',
  disabled: 'general',
  left: 'general',
  sod: 'security',
  privileged: 'security',
};

/** Access reviews, as drift uses them: start a review of one group (the review service). */
export interface ReviewStarter {
  start(input: StartReviewInput): Promise<StartReviewResult>;
}

export interface DriftConfig {
  /** Hours between scheduled checks; 0: no scheduled check. */
  intervalHours: number;
  maxJobAttempts: number;
  /** Ticket SLA hours by type. */
  slaHours: Record<TicketType, number>;
  /** How long a proposed removal can be confirmed, and a proposed exception approved. */
  confirmMinutes: number;
}

export interface DriftDeps {
  store: Store;
  findings: DriftStore;
  directory: Directory;
  logger: Logger;
  clock: () => Date;
  notifier: Notifier;
  scheduler: Scheduler;
  tickets: TicketService;
  /** Removals go through its durable removal job. */
  access: AccessService;
  catalog: Catalog;
  birthright: BirthrightRules;
  /** The one answer to "is this account privileged?"; its groups are watched (none known: every removal takes four eyes). */
  privileged: PrivilegedResolver;
  config: DriftConfig;
  /** Access reviews, when that capability is there: "Open a review" is offered only then. */
  reviews?: ReviewStarter | null;
}

export interface RunOptions {
  /** The groups to check; null: every catalog resource and privileged group. */
  scope: ScopeGroup[] | null;
  trigger: 'command' | 'schedule';
  actor: PersonRef | null;
  /** Find and report, but record nothing and raise no ticket. */
  dryRun: boolean;
  correlationId: string;
}

export type FindingStatus = 'new' | 'known' | 'accepted';

export interface RunSummary {
  runId: number | null;
  dryRun: boolean;
  scope: ScopeGroup[];
  at: string;
  found: Array<{ finding: NewFinding; status: FindingStatus; id: string | null; ticketId: string | null }>;
  resolved: Array<{ id: string; kind: DriftKind; userName: string; groupName: string; ticketId: string | null }>;
  failures: Array<{ group: ScopeGroup; error: string }>;
}

export class DriftService {
  private reviews: ReviewStarter | null;
  /** Checks run one after the other: a check must not take another's new findings for gone. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Findings whose review is being started: a second click meanwhile does not start another. */
  private readonly reviewsStarting = new Set<string>();

  constructor(private readonly d: DriftDeps) {
    this.reviews = d.reviews ?? null;
  }

  private now(): Date {
    return this.d.clock();
  }

  /** Connects access reviews once they are built ("Open a review" appears on the cards). */
  attachReviews(reviews: ReviewStarter): void {
    this.reviews = reviews;
  }

  // ---- jobs -----------------------------------------------------------------------------------

  /** Registers the drift jobs and hears how its removals end. */
  registerJobs(scheduler: Scheduler): void {
    scheduler.register(DRIFT_JOBS.check, { lane: DIRECTORY_LANE, run: (job) => this.runScheduledCheck(job) });
    scheduler.register(DRIFT_JOBS.post, { run: (job) => this.runPost(job) });
    scheduler.register(DRIFT_JOBS.updateCards, { run: (job) => this.runUpdateCards(job) });
    this.d.access.onRemoval(REMOVAL_OWNER, {
      removed: (ref, _at, result) => this.removalDone(ref, result),
      failed: (ref, _at, error) => this.removalFailed(ref, error),
    });
  }

  /**
   * Keeps exactly one scheduled check pending, at most one interval away (a shortened
   * interval takes effect at the next start); none when the interval is 0.
   */
  ensureScheduled(): void {
    const hours = this.d.config.intervalHours;
    const pending = this.d.findings.jobsOfKind(DRIFT_JOBS.check);
    if (hours <= 0) {
      const n = this.d.store.jobs.cancelForRequest(CHECK_REF, DRIFT_JOBS.check);
      if (n) this.d.logger.info({ cancelled: n }, 'scheduled drift check disabled');
      return;
    }
    const latest = new Date(this.now().getTime() + hours * 3_600_000);
    if (pending.some((j) => Date.parse(j.nextRunAt) <= latest.getTime())) return;
    if (pending.length) this.d.store.jobs.cancelForRequest(CHECK_REF, DRIFT_JOBS.check);
    this.d.store.jobs.schedule({ kind: DRIFT_JOBS.check, requestId: CHECK_REF, runAt: latest, dedupeKey: `drift.check:${latest.toISOString()}`, maxAttempts: this.d.config.maxJobAttempts });
  }

  private async runScheduledCheck(job: Job): Promise<void> {
    const hours = this.d.config.intervalHours;
    if (hours <= 0) return;
    // The next one first, keyed on this job: a retry of this one does not schedule another.
    const next = new Date(this.now().getTime() + hours * 3_600_000);
    this.d.store.jobs.schedule({ kind: DRIFT_JOBS.check, requestId: CHECK_REF, runAt: next, dedupeKey: `drift.check.after:${job.id}`, maxAttempts: this.d.config.maxJobAttempts });
    const summary = await this.run({ scope: null, trigger: 'schedule', actor: null, dryRun: false, correlationId: `drift-check-${job.id}` });
    const fresh = summary.found.filter((f) => f.status === 'new').length;
    // Groups not read are told too: a check that cannot read the directory must not look like one that found nothing.
    const notRead = summary.failures.length;
    if (!fresh && !notRead) return;
    try {
      const delivered = await this.d.notifier.sendToTechnicians(
        messageWith(this.summaryCard(summary), `Drift check: ${fresh} new finding(s)${notRead ? `, ${notRead} group(s) not read` : ''}`),
      );
      if (!delivered) this.d.logger.warn({ correlationId: `drift-check-${job.id}` }, 'drift summary has no channel to go to');
    } catch (err) {
      // The tickets themselves are posted by their own jobs; the summary is not worth a retry of the check.
      this.d.logger.warn({ correlationId: `drift-check-${job.id}`, err: { name: (err as Error).name, message: (err as Error).message } }, 'posting the drift summary failed');
    }
  }

  private async runPost(job: Job): Promise<void> {
    const t = this.ticketOf(job);
    const owner = cardOwner(t.id);
    if (this.d.store.technician.cards.forOwner(owner, 'ticket').length) return;
    const delivered = await this.d.notifier.sendToTechnicians(messageWith(this.cardForTicket(t), `${t.id}: ${t.title}`));
    if (!delivered) throw new Error('no technicians channel is known yet');
    this.d.store.technician.cards.add({ ownerId: owner, purpose: 'ticket', activityId: delivered.activityId, reference: delivered.reference });
    this.d.logger.info({ correlationId: t.sourceRef ?? t.id, ticket: t.id, conversationId: delivered.conversationId }, 'drift ticket posted');
  }

  private async runUpdateCards(job: Job): Promise<void> {
    const t = this.ticketOf(job);
    const card = this.cardForTicket(t);
    const failures: string[] = [];
    for (const ref of this.d.store.technician.cards.forOwner(cardOwner(t.id), 'ticket')) {
      try {
        await this.d.notifier.update(ref.reference, ref.activityId, messageWith(card));
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) continue;
        failures.push((err as Error).message);
      }
    }
    if (failures.length) throw new Error(`${failures.length} drift card update(s) failed: ${failures[0]}`);
  }

  private ticketOf(job: Job): Ticket {
    const t = job.requestId ? this.d.store.technician.tickets.get(job.requestId) : null;
    if (!t) throw new PermanentJobError(`ticket ${job.requestId} not found`);
    return t;
  }

  private scheduleCardUpdate(ticketId: string | null): void {
    if (!ticketId) return;
    this.d.store.jobs.schedule({ kind: DRIFT_JOBS.updateCards, requestId: ticketId, runAt: this.now(), maxAttempts: this.d.config.maxJobAttempts });
  }

  /** A drift ticket changed elsewhere (a typed `take`, `assign` or `close`): its card follows. */
  ticketChanged(ticketId: string): void {
    if (!this.d.store.technician.cards.forOwner(cardOwner(ticketId), 'ticket').length) return;
    this.scheduleCardUpdate(ticketId);
    this.d.scheduler.kick();
  }

  // ---- the check ------------------------------------------------------------------------------

  /** Every catalog resource's group and every privileged group, once each. */
  fullScope(): ScopeGroup[] {
    const privileged = this.privilegedSet();
    const out = new Map<string, ScopeGroup>();
    for (const r of this.d.catalog.resources) {
      const key = r.groupId.toLowerCase();
      if (!out.has(key)) out.set(key, { id: r.groupId, name: r.name, resource: r, privileged: privileged?.has(key) ?? false });
    }
    for (const g of this.d.privileged.groupIds ?? []) {
      if (!out.has(g.toLowerCase())) out.set(g.toLowerCase(), { id: g, name: '', resource: null, privileged: true });
    }
    return [...out.values()];
  }

  /** A group and, for a catalog resource, the resources it must not be held with (their members decide a conflict). */
  scopeFor(group: { id: string; name: string }): ScopeGroup[] {
    const all = this.fullScope();
    const first = all.find((g) => g.id.toLowerCase() === group.id.toLowerCase());
    if (!first) return [];
    const named = first.resource ? first : { ...first, name: first.name || group.name };
    const partners = first.resource ? all.filter((g) => g.resource && g !== first && (g.resource.incompatibleWith.includes(first.resource!.id) || first.resource!.incompatibleWith.includes(g.resource.id))) : [];
    return [named, ...partners];
  }

  private privilegedSet(): Set<string> | null {
    const ids = this.d.privileged.groupIds;
    return ids === null ? null : new Set(ids.map((g) => g.toLowerCase()));
  }

  /**
   * One check: reads the members of each group (a few at a time; a group that cannot be read
   * is reported and the others go on), compares them with the grants, the birthright rules and
   * the accepted exceptions, records each finding (a new one with its ticket, in one
   * transaction), and resolves what is no longer found in the groups that were read.
   */
  run(o: RunOptions): Promise<RunSummary> {
    const result = this.queue.then(() => this.runNow(o));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runNow(o: RunOptions): Promise<RunSummary> {
    const scope = o.scope ?? this.fullScope();
    const at = this.now();
    const runId = o.dryRun ? null : this.d.findings.startRun({ trigger: o.trigger, actor: o.actor, scope: o.scope ? scope.map((g) => g.id) : null, dryRun: false });
    const log = this.d.logger.child({ correlationId: o.correlationId, action: 'drift.check' });
    const failures: RunSummary['failures'] = [];
    const scanned = await mapLimit(scope, CONCURRENCY, async (group): Promise<GroupScan | null> => {
      try {
        let g = group;
        if (!g.name) {
          const found = await this.d.directory.getGroup(g.id);
          if (!found) throw new NotFoundError('the group is not in the directory');
          g = { ...g, name: found.displayName };
        }
        return { group: g, members: await this.d.directory.listGroupMembers(g.id) };
      } catch (err) {
        failures.push({ group: { ...group, name: group.name || group.id }, error: errorText(err) });
        log.warn({ groupId: group.id, err: { name: (err as Error).name, message: (err as Error).message } }, 'drift check could not read a group');
        return null;
      }
    });
    const scans = scanned.filter((s): s is GroupScan => s !== null);
    const grants = this.d.findings.grants(
      scans.map((s) => s.group.id),
      ACCESS_JOBS.revoke,
    );
    // People holding a grant who are not members: the directory may no longer know them.
    const membersOf = new Map(scans.map((s) => [s.group.id.toLowerCase(), new Set(s.members.map((m) => m.id.toLowerCase()))]));
    const absent = [...new Set(grants.filter((g) => !membersOf.get(g.groupId.toLowerCase())?.has(g.userId.toLowerCase())).map((g) => g.userId))];
    const missing = new Set<string>();
    // A holder the directory did not answer about is neither known nor gone: their findings stay as they are.
    const notLookedUp = new Map<string, string>();
    await mapLimit(absent, CONCURRENCY, async (id) => {
      try {
        if (!(await this.d.directory.getUser(id))) missing.add(id);
      } catch (err) {
        notLookedUp.set(id, errorText(err));
        log.warn({ userId: id, err: { name: (err as Error).name, message: (err as Error).message } }, 'drift check could not look up a grant holder');
      }
    });
    for (const s of scans) {
      const holders = grants.filter((gr) => gr.groupId.toLowerCase() === s.group.id.toLowerCase() && notLookedUp.has(gr.userId));
      if (holders.length) failures.push({ group: s.group, error: `could not look up ${holders[0]!.userName}, who holds a grant of it: ${notLookedUp.get(holders[0]!.userId)}` });
    }
    const detected = detectDrift({ scans, grants, birthright: this.d.birthright, now: at, missingUsers: missing });
    for (const f of detected) {
      if (f.kind !== 'unapproved' && f.kind !== 'privileged') continue;
      const ended = this.d.findings.endedGrant(f.groupId, f.userId);
      if (ended) f.details = { ...f.details, requestId: ended.requestId, expiresAt: ended.endedAt };
    }

    const found: RunSummary['found'] = [];
    for (const f of detected) {
      if (o.dryRun) {
        const existing = this.d.findings.byFingerprint(f.fingerprint);
        found.push({ finding: f, status: this.statusOf(existing), id: existing?.id ?? null, ticketId: existing?.ticketId ?? null });
        continue;
      }
      found.push(this.d.store.transaction(() => this.record(f, o)));
    }

    const seen = new Set(detected.map((f) => f.fingerprint));
    const read = new Set(scans.map((s) => s.group.id.toLowerCase()));
    // A full check also lets go of groups no longer watched (taken out of the catalog or the privileged list).
    const watched = o.scope === null ? new Set(scope.map((g) => g.id.toLowerCase())) : null;
    const covered = (groupId: string) => read.has(groupId.toLowerCase()) || (watched !== null && !watched.has(groupId.toLowerCase()));
    const resolved: RunSummary['resolved'] = [];
    for (const a of this.d.findings.listActive()) {
      if (seen.has(a.fingerprint)) continue;
      if (!covered(a.groupId) || (a.otherGroupId && !covered(a.otherGroupId))) continue;
      if (a.removal?.state === 'running') continue;
      if (a.kind === 'left' && notLookedUp.has(a.userId)) continue;
      if (o.dryRun) {
        resolved.push({ id: a.id, kind: a.kind, userName: a.userName, groupName: a.groupName, ticketId: a.ticketId });
        continue;
      }
      const done = this.d.store.transaction(() => {
        if (!this.d.findings.resolve(a.id, a.occurrence, 'gone')) return false;
        this.audit(o.actor ?? SYSTEM, 'drift.finding-resolved', a, { reason: 'no-longer-found', previous: a.state, run: runId });
        this.closeTicket(a.ticketId, SYSTEM, `The drift check no longer finds this (${o.trigger === 'schedule' ? 'scheduled check' : `check by ${o.actor?.name ?? 'a technician'}`}).`);
        return true;
      });
      if (done) resolved.push({ id: a.id, kind: a.kind, userName: a.userName, groupName: a.groupName, ticketId: a.ticketId });
    }

    const summary: RunSummary = { runId, dryRun: o.dryRun, scope: scans.map((s) => s.group).concat(failures.map((f) => f.group).filter((g) => !read.has(g.id.toLowerCase()))), at: at.toISOString(), found, resolved, failures };
    const counts = countsOf(summary);
    this.d.store.transaction(() => {
      if (runId !== null) this.d.findings.finishRun(runId, counts);
      this.d.store.audit.append({
        actor: o.actor ?? SYSTEM,
        action: 'drift.checked',
        target: null,
        outcome: failures.length ? 'failure' : 'success',
        correlationId: o.correlationId,
        details: { trigger: o.trigger, dryRun: o.dryRun, run: runId, scope: o.scope ? scope.map((g) => g.id) : 'all', ...counts, failed: failures.map((f) => ({ groupId: f.group.id, error: f.error })) },
      });
    });
    this.d.scheduler.kick();
    log.info({ run: runId, dryRun: o.dryRun, ...counts }, 'drift check done');
    return summary;
  }

  private statusOf(existing: DriftFinding | null): FindingStatus {
    if (!existing) return 'new';
    if (existing.state === 'accepted') return 'accepted';
    if (existing.state === 'open') {
      const t = existing.ticketId ? this.d.store.technician.tickets.get(existing.ticketId) : null;
      if ((t && t.state !== 'closed') || existing.removal?.state === 'running') return 'known';
    }
    return 'new';
  }

  /** Records one finding of a run; runs inside the transaction that raises its ticket. */
  private record(f: NewFinding, o: RunOptions): RunSummary['found'][number] {
    const findings = this.d.findings;
    const existing = findings.byFingerprint(f.fingerprint);
    const by = o.actor ?? SYSTEM;
    if (!existing) {
      const created = findings.create(f);
      const ticket = this.openTicket(created);
      this.audit(by, 'drift.finding-opened', created, { kind: f.kind, groupId: f.groupId, otherGroupId: f.otherGroupId ?? null, ticket: ticket.id, details: f.details, trigger: o.trigger });
      return { finding: f, status: 'new', id: created.id, ticketId: ticket.id };
    }
    const status = this.statusOf(existing);
    if (status !== 'new') {
      findings.touch(existing.id, f);
      return { finding: f, status, id: existing.id, ticketId: existing.ticketId };
    }
    // Something changed: it came back, its exception was revoked, or its ticket was closed while it is still there.
    const reason = existing.state === 'open' ? 'ticket-closed-while-still-there' : existing.resolution === 'exception-revoked' ? 'exception-revoked' : 'came-back';
    if (!findings.reopen(existing.id, existing.occurrence, f)) return { finding: f, status: 'known', id: existing.id, ticketId: existing.ticketId };
    const reopened = findings.get(existing.id)!;
    const ticket = this.openTicket(reopened);
    // The earlier occurrence's card says it is over and where it went.
    this.scheduleCardUpdate(existing.ticketId);
    this.audit(by, 'drift.finding-reopened', reopened, { kind: f.kind, reason, occurrence: reopened.occurrence, previousTicket: existing.ticketId, ticket: ticket.id, trigger: o.trigger });
    return { finding: f, status: 'new', id: existing.id, ticketId: ticket.id };
  }

  /** Opens the finding's ticket (as the ticket queue does: history, audit, SLA job) and schedules its card; inside a transaction. */
  private openTicket(f: DriftFinding): Ticket {
    const type = TICKET_TYPE_OF[f.kind];
    const slaHours = this.d.config.slaHours[type];
    const tickets = this.d.store.technician.tickets;
    const created = tickets.create(
      {
        type,
        title: ticketTitle(f),
        text: findingText(f),
        facts: this.findingFacts(f).slice(0, 10),
        requester: { id: null, name: null },
        subject: { id: f.userId, name: f.userName },
        sourceRef: f.id,
        slaHours,
      },
      SYSTEM,
    );
    this.d.store.audit.append({
      actor: SYSTEM,
      action: 'ticket.opened',
      target: created.id,
      outcome: 'success',
      correlationId: created.id,
      details: { type: created.type, title: created.title, sourceRef: created.sourceRef, requester: created.requester, subject: created.subject, slaHours, slaDueAt: created.slaDueAt },
    });
    const max = this.d.config.maxJobAttempts;
    this.d.store.jobs.schedule({ kind: TICKET_JOBS.slaCheck, requestId: created.id, runAt: new Date(created.slaDueAt), dedupeKey: `ticket.sla:${created.id}`, maxAttempts: max });
    this.d.store.jobs.schedule({ kind: DRIFT_JOBS.post, requestId: created.id, runAt: this.now(), dedupeKey: `drift.post:${created.id}`, maxAttempts: max });
    this.d.findings.setTicket(f.id, created.id);
    return created;
  }

  /** Closes a drift ticket as part of a finding's change (inside its transaction). */
  private closeTicket(ticketId: string | null, by: Person, note: string): void {
    if (!ticketId) return;
    const tickets = this.d.store.technician.tickets;
    const t = tickets.get(ticketId);
    if (!t || t.state === 'closed') {
      this.scheduleCardUpdate(ticketId);
      return;
    }
    const who = { id: by.id ?? 'system', name: by.name ?? APP_NAME };
    if (!tickets.close(t.id, who, note)) return;
    tickets.addHistory(t.id, by, 'closed', note);
    const met = this.now().getTime() <= Date.parse(t.slaDueAt);
    this.d.store.audit.append({ actor: by, action: 'ticket.closed', target: t.id, outcome: 'success', correlationId: t.id, details: { note, slaMet: met, drift: t.sourceRef } });
    this.d.store.jobs.cancelForRequest(t.id, TICKET_JOBS.slaCheck);
    this.scheduleCardUpdate(t.id);
  }

  private audit(actor: Person | PersonRef, action: string, f: DriftFinding, details: Record<string, unknown>, outcome: 'success' | 'failure' | 'refused' = 'success'): void {
    this.d.store.audit.append({ actor, action, target: f.userId, outcome, correlationId: f.id, details: { ...details, group: f.groupName } });
  }

  // ---- the command ----------------------------------------------------------------------------

  /** `drift [--group <group|resource>] [--dry-run]`, typed by a technician (already let through the gate). */
  async command(args: { group: string | null; dryRun: boolean }, caller: Caller): Promise<Reply[]> {
    let scope: ScopeGroup[] | null = null;
    if (args.group !== null) {
      const picked = await this.pickScope(args.group);
      if (typeof picked === 'string') return [{ kind: 'text', text: `${picked} Nothing was checked.` }];
      scope = picked;
    }
    const summary = await this.run({ scope, trigger: 'command', actor: { id: caller.user.id, name: caller.user.displayName }, dryRun: args.dryRun, correlationId: caller.correlationId });
    return [{ kind: 'card', card: this.summaryCard(summary) }];
  }

  /** A catalog resource (id, name or alias) or a group (name or id) that is a catalog resource's or privileged. */
  private async pickScope(query: string): Promise<ScopeGroup[] | string> {
    const resource: CatalogResource | undefined = resolveResource(this.d.catalog, query);
    if (resource) return this.scopeFor({ id: resource.groupId, name: resource.name });
    const r = await resolveGroup(this.d.directory, query);
    if (r.kind === 'none') return r.message;
    if (r.kind === 'many') return `"${query.slice(0, 60)}" matches ${r.values.map((g) => g.displayName).join(', ')}${r.more ? ' and more' : ''}: type the exact name, a catalog resource or the group id.`;
    const scope = this.scopeFor({ id: r.value.id, name: r.value.displayName });
    if (!scope.length) return `${r.value.displayName} is neither a catalog resource’s group nor a privileged group: drift checks only those.`;
    return scope;
  }

  /** The card of a run: counts per kind, new and known, what was resolved, groups that could not be read. */
  summaryCard(s: RunSummary): AdaptiveCardJson {
    const c = countsOf(s);
    const label = (f: { kind: DriftKind; userName: string; groupName: string; otherGroupName?: string | null }) =>
      `${KIND_LABELS[f.kind]}: ${f.userName} in ${f.groupName}${f.otherGroupName ? ` and ${f.otherGroupName}` : ''}`;
    const fresh = s.found.filter((f) => f.status === 'new');
    const facts: Fact[] = [];
    for (const kind of Object.keys(KIND_LABELS) as DriftKind[]) {
      const all = s.found.filter((f) => f.finding.kind === kind);
      if (!all.length) continue;
      const n = all.filter((f) => f.status === 'new').length;
      const accepted = all.filter((f) => f.status === 'accepted').length;
      facts.push({ title: KIND_LABELS[kind], value: `${all.length}: ${n} new, ${all.length - n - accepted} already known${accepted ? `, ${accepted} accepted` : ''}` });
    }
    const scopeText = s.scope.length === this.fullScope().length && s.scope.every((g) => this.fullScope().some((x) => x.id === g.id)) ? `All ${s.scope.length} catalog and privileged groups` : s.scope.map((g) => g.name).join(', ');
    return renderTechCard({
      title: `${s.dryRun ? 'Drift check (dry run)' : 'Drift check'}: ${c.findings} finding${c.findings === 1 ? '' : 's'}`,
      subtitle: `${scopeText} · ${formatTime(s.at)}`,
      status: `${c.new} new · ${c.known} already known · ${c.accepted} accepted as exceptions · ${c.resolved} resolved${c.failed ? ` · ${c.failed} group(s) not read` : ''}`,
      tone: c.failed ? 'warning' : c.new ? 'attention' : 'good',
      text: s.dryRun ? 'Nothing was recorded and no ticket was opened.' : c.findings ? '' : 'Every member of the checked groups is expected.',
      facts,
      sections: [
        ...(fresh.length
          ? [
              {
                key: 'new',
                title: s.dryRun ? `Would open (${fresh.length})` : `New tickets (${fresh.length})`,
                facts: fresh.slice(0, 25).map((f) => ({ title: s.dryRun ? f.id ?? 'new' : `${f.ticketId} · ${f.id}`, value: label({ ...f.finding }) })),
                text: fresh.length > 25 ? `and ${fresh.length - 25} more: type pending for the queue` : '',
              },
            ]
          : []),
        ...(s.resolved.length
          ? [{ key: 'resolved', title: `${s.dryRun ? 'Would resolve' : 'Resolved'}: no longer found (${s.resolved.length})`, facts: s.resolved.slice(0, 15).map((r) => ({ title: r.ticketId ? `${r.ticketId} · ${r.id}` : r.id, value: label(r) })) }]
          : []),
        ...(s.failures.length ? [{ key: 'failures', title: `Not read (${s.failures.length}): checked again next time`, facts: s.failures.map((f) => ({ title: f.group.name, value: f.error })) }] : []),
      ],
      footer: 'Each finding is a ticket (pending shows the queue) with Remove, Open a review and Accept. drift --dry-run changes nothing.',
    });
  }

  // ---- the ticket card ------------------------------------------------------------------------

  private findingFacts(f: DriftFinding): Fact[] {
    const facts: Fact[] = [{ title: 'User', value: f.userUpn ? `${f.userName} (${f.userUpn})` : `${f.userName} (${f.userId})` }];
    if (f.details.department !== undefined || f.details.jobTitle !== undefined) facts.push({ title: 'Department, title', value: `${f.details.department ?? 'none'}, ${f.details.jobTitle ?? 'none'}` });
    facts.push({ title: f.kind === 'sod' ? 'Holds' : 'Group', value: f.kind === 'sod' ? `${f.groupName} and ${f.otherGroupName}` : `${f.groupName}${f.details.privilegedGroup ? ' (privileged)' : ''}` });
    if (f.details.requestId) facts.push({ title: f.kind === 'expired-grant' ? 'Grant' : 'Last grant', value: `${f.details.requestId}${f.details.expiresAt ? `, ended ${formatTime(f.details.expiresAt)}` : ''}` });
    if (f.details.requestIds?.length) facts.push({ title: 'Grants', value: f.details.requestIds.join(', ') });
    facts.push({ title: 'Finding', value: `${f.id}, first seen ${formatTime(f.firstSeenAt)}${f.occurrence > 1 ? `, raised ${f.occurrence} times` : ''}` });
    return facts;
  }

  /** The card of a drift ticket; null when the ticket is not a drift finding's. */
  cardForTicketId(ticketId: string): AdaptiveCardJson | null {
    const t = this.d.store.technician.tickets.get(ticketId);
    return t && isFindingId(t.sourceRef) && this.d.findings.get(t.sourceRef) ? this.cardForTicket(t) : null;
  }

  /** A drift ticket's card: the finding, its state and removal, the ticket and what may be clicked now. */
  cardForTicket(t: Ticket): AdaptiveCardJson {
    const f = isFindingId(t.sourceRef) ? this.d.findings.get(t.sourceRef) : null;
    const now = this.now();
    const view = ticketView(this.d.store, t, now);
    const { status, breached } = view;
    const current = f !== null && f.ticketId === t.id;
    let tone: Tone = t.state === 'closed' ? 'good' : f && TICKET_TYPE_OF[f.kind] === 'security' ? 'attention' : 'warning';
    if (breached && t.state !== 'closed') tone = 'attention';

    let removal = '';
    let removalTone: Tone = 'default';
    const r = current ? f!.removal : null;
    const proposalLive = r?.state === 'proposed' && Date.parse(r.expiresAt) >= now.getTime();
    if (r && f) {
      if (proposalLive) {
        const waits: string[] = [];
        if (!r.confirmedAt) waits.push(`${r.proposedBy.name}'s confirmation`);
        if (r.privileged && !r.approvedBy) waits.push("a second technician's approval (privileged)");
        removal = `Removal of ${f.userName} from ${r.groupName} proposed by ${r.proposedBy.name}: waiting for ${waits.join(' and ')}${r.approvedBy ? ` · approved by ${r.approvedBy.name}` : ''}. Confirm by ${formatTime(r.expiresAt)}.`;
        removalTone = 'warning';
      } else if (r.state === 'proposed') {
        removal = `The removal proposed by ${r.proposedBy.name} expired; nothing was changed.`;
      } else if (r.state === 'running') {
        removal = `Removing ${f.userName} from ${r.groupName}${r.approvedBy ? ` (approved by ${r.approvedBy.name})` : ''}: retried until it is done; a ticket is opened if it cannot be.`;
        removalTone = 'accent';
      } else if (r.state === 'done') {
        removal = `Removed from ${r.groupName} (proposed by ${r.proposedBy.name}${r.approvedBy ? `, approved by ${r.approvedBy.name}` : ''}).`;
        removalTone = 'good';
      } else if (r.state === 'failed') {
        removal = `Removing ${f.userName} from ${r.groupName} failed: ${r.error ?? 'unknown error'}. A ticket tracks it; Remove tries again.`;
        removalTone = 'attention';
      }
    }

    const e = current ? f!.exception : null;
    const exceptionLive = f?.state === 'open' && !!e && !e.approvedBy && Date.parse(e.expiresAt) >= now.getTime();
    const exception = exceptionLive
      ? `Exception proposed by ${e!.proposedBy.name}: waiting for a second technician's approval (privileged). Approve by ${formatTime(e!.expiresAt)}. Reason: ${plainText(e!.reason)}`
      : f?.state === 'open' && e && !e.approvedBy
        ? `The exception proposed by ${e.proposedBy.name} expired; nothing was changed.`
        : '';

    let text = f ? findingText(f) : t.text;
    if (f && !current) text += f.ticketId ? ` This occurrence is over: it was raised again as ${f.ticketId}.` : ' This occurrence is over.';
    else if (f?.state === 'accepted')
      text += ` Accepted as an exception by ${f.acceptedBy?.name ?? 'a technician'}${f.exception?.approvedBy ? `, approved by ${f.exception.approvedBy.name}` : ''} (${formatTime(f.acceptedAt!)}): ${plainText(f.acceptedReason ?? '')}`;
    else if (f?.state === 'resolved') {
      text +=
        f.resolution === 'removed'
          ? ' Resolved: the membership was removed.'
          : f.resolution === 'exception-revoked'
            ? ' The exception was revoked: the next check raises it again if it is still there.'
            : ` Resolved: the drift check no longer finds it (${formatTime(f.resolvedAt!)}).`;
    }
    if (f?.reviewId) text += ` Access review: ${f.reviewId}.`;

    const open = current && f!.state === 'open';
    const running = r?.state === 'running';
    const removeChoices = current && f!.kind === 'sod' ? [{ title: f!.groupName, value: f!.groupId }, { title: f!.otherGroupName ?? f!.otherGroupId!, value: f!.otherGroupId! }] : [];
    const ticketFacts: Fact[] = [
      { title: 'Ticket', value: `${t.id} (${TICKET_TYPE_LABELS[t.type]})` },
      { title: 'Assignee', value: t.assignee.name ?? 'nobody yet' },
      { title: 'Opened', value: formatTime(t.createdAt) },
      view.sla,
    ];
    if (t.closedAt) ticketFacts.push({ title: 'Closed', value: formatTime(t.closedAt) });
    const history = view.history;
    return renderDriftTicketCard({
      finding: f?.id ?? '',
      ticket: t.id,
      heading: `${t.id} · ${f ? `${f.id} · ` : ''}Drift: ${f ? KIND_LABELS[f.kind] : TICKET_TYPE_LABELS[t.type]}`,
      title: t.title,
      text,
      status,
      tone,
      facts: f ? this.findingFacts(f) : t.facts,
      removal,
      removalTone,
      exception,
      ticketFacts,
      history,
      footer: `Audit: audit ${f?.id ?? t.id} · audit ${t.id}`,
      removeChoices,
      canRemove: open && !proposalLive && !exceptionLive && !running,
      canReview: open && !proposalLive && !exceptionLive && !running && this.reviews !== null && !f!.reviewId,
      canAccept: open && !proposalLive && !exceptionLive && !running,
      canConfirm: open && proposalLive && !r!.confirmedAt,
      canApprove: open && proposalLive && r!.privileged && !r!.approvedBy,
      canCancel: open && proposalLive,
      canApproveException: open && exceptionLive,
      canCancelException: open && exceptionLive,
      canRevoke: current && f!.state === 'accepted',
      ticketOpen: t.state !== 'closed',
    });
  }

  // ---- clicks ---------------------------------------------------------------------------------

  /**
   * A button of a drift ticket. Who may act is decided here, now: `gate` is the technician
   * commands' (a technician, in an allowed place); a refusal is audited with the finding or
   * ticket id as correlation id.
   */
  async click(verb: string, data: Record<string, unknown>, caller: Caller, inputs: Record<string, unknown>, gate: () => string | null): Promise<ClickResult> {
    const ref = isFindingId(data.finding) ? data.finding : isTicketId(data.ticket) ? data.ticket : null;
    const refusal = gate();
    if (refusal) {
      this.d.store.audit.append({
        actor: { id: caller.user.id, name: caller.user.displayName },
        action: 'drift.action-refused',
        target: null,
        outcome: 'refused',
        correlationId: ref ?? caller.correlationId,
        details: { verb, reason: caller.technician ? 'not-allowed-here' : 'not-a-technician', where: caller.where },
      });
      return { card: notice('Not available', refusal, 'attention') };
    }
    if (verb === 'drift.take' || verb === 'drift.assign' || verb === 'drift.close') return this.clickTicket(verb, data, caller, inputs);
    const f = isFindingId(data.finding) ? this.d.findings.get(data.finding) : null;
    if (!f) return { card: notice('This card is no longer active', 'Type drift to check again, or pending for the queue.', 'warning') };
    // Only opening a review stays open to the member (the review routes their own line away):
    // cancelling the removal of one's own membership would let it stay for good.
    if (f.userId === caller.user.id && verb !== 'drift.review') {
      this.audit({ id: caller.user.id, name: caller.user.displayName }, 'drift.action-refused', f, { verb, reason: 'own-account', turn: caller.correlationId }, 'refused');
      return this.reply(f, 'This finding is about your own account: another identity technician must act on it. Nothing was changed.');
    }
    switch (verb) {
      case 'drift.remove':
        return this.clickRemove(f, caller, inputs);
      case 'drift.remove-confirm':
        return this.clickConfirm(f, caller);
      case 'drift.remove-approve':
        return this.clickApprove(f, caller);
      case 'drift.remove-cancel':
        return this.clickCancel(f, caller);
      case 'drift.review':
        return this.clickReview(f, caller);
      case 'drift.accept':
        return this.clickAccept(f, caller, inputs);
      case 'drift.accept-approve':
        return this.clickApproveException(f, caller);
      case 'drift.accept-cancel':
        return this.clickCancelException(f, caller);
      case 'drift.unaccept':
        return this.clickUnaccept(f, caller);
      default:
        return { card: notice('This card is no longer active', 'Type help to start again.', 'warning') };
    }
  }

  /** The finding's current ticket card, and a message when there is something to say. */
  private reply(f: DriftFinding, message: string | null): ClickResult {
    const fresh = this.d.findings.get(f.id)!;
    const t = fresh.ticketId ? this.d.store.technician.tickets.get(fresh.ticketId) : null;
    const card = t ? this.cardForTicket(t) : notice(`${fresh.id}: ${KIND_LABELS[fresh.kind]}`, findingText(fresh), 'default');
    return { card, replies: message ? [{ kind: 'text', text: message }] : [] };
  }

  private async clickTicket(verb: string, data: Record<string, unknown>, caller: Caller, inputs: Record<string, unknown>): Promise<ClickResult> {
    const id = data.ticket;
    const t = isTicketId(id) ? this.d.store.technician.tickets.get(id) : null;
    if (!t || !isFindingId(t.sourceRef)) return { card: notice('This card is no longer active', 'Type pending for the queue.', 'warning') };
    let result;
    if (verb === 'drift.take') result = this.d.tickets.take(caller.user, t.id, caller.correlationId);
    else if (verb === 'drift.close') result = this.d.tickets.close(caller.user, t.id, inputs.note, caller.correlationId);
    else {
      const query = typeof inputs.assignee === 'string' ? inputs.assignee.trim().slice(0, 200) : '';
      if (!query) result = { ok: false, message: 'Type the name or sign-in name of the technician to assign it to.', ticket: t };
      else {
        result = await this.d.tickets.assign(caller.user, t.id, query, caller.correlationId, async (q) => {
          const r = await resolveUser(this.d.directory, q);
          if (r.kind === 'one') return r.value;
          if (r.kind === 'none') return r.message;
          return `"${q.slice(0, 60)}" matches ${r.values.map((u) => u.displayName).join(', ')}${r.more ? ' and more' : ''}: type the sign-in name.`;
        });
      }
    }
    const after = this.d.store.technician.tickets.get(t.id)!;
    return { card: this.cardForTicket(after), replies: result.ok ? [] : [{ kind: 'text', text: result.message }] };
  }

  /**
   * Privileged removals and exceptions take four eyes: a privileged group (or the technicians
   * group), a privileged account (the one resolver: groups, directory roles, protected
   * accounts), or an unknown list.
   */
  private async needsFourEyes(userId: string, groupId: string): Promise<boolean> {
    if (this.d.privileged.isPrivilegedGroup(groupId)) return true;
    try {
      return await this.d.privileged.isPrivileged(userId);
    } catch (err) {
      // Someone the directory no longer knows is a member of nothing.
      if (!(err instanceof NotFoundError)) throw err;
    }
    return false;
  }

  private async clickRemove(f: DriftFinding, caller: Caller, inputs: Record<string, unknown>): Promise<ClickResult> {
    if (f.state !== 'open') return this.reply(f, `${f.id} is ${f.state === 'accepted' ? 'accepted as an exception' : 'resolved'}: there is nothing to remove.`);
    if (f.removal?.state === 'running') return this.reply(f, `${f.userName} is being removed from ${f.removal.groupName} already.`);
    if (f.removal?.state === 'proposed' && Date.parse(f.removal.expiresAt) >= this.now().getTime()) return this.reply(f, `A removal is already proposed by ${f.removal.proposedBy.name}: confirm or cancel it.`);
    if (this.liveException(f)) return this.reply(f, `An exception is proposed by ${f.exception!.proposedBy.name}: approve or cancel it first. Nothing was changed.`);
    let groupId = f.groupId;
    let groupName = f.groupName;
    if (f.kind === 'sod') {
      const chosen = typeof inputs.group === 'string' ? inputs.group.trim().toLowerCase() : '';
      if (chosen === f.otherGroupId?.toLowerCase()) {
        groupId = f.otherGroupId!;
        groupName = f.otherGroupName ?? f.otherGroupId!;
      } else if (chosen !== f.groupId.toLowerCase()) {
        return this.reply(f, `Pick which membership to remove: ${f.groupName} or ${f.otherGroupName}. Nothing was changed.`);
      }
    }
    const privileged = await this.needsFourEyes(f.userId, groupId);
    const by = { id: caller.user.id, name: caller.user.displayName };
    const expiresAt = new Date(this.now().getTime() + this.d.config.confirmMinutes * 60_000);
    const ok = this.d.store.transaction(() => {
      if (!this.d.findings.proposeRemoval(f.id, f.occurrence, { groupId, groupName, by, privileged, expiresAt })) return false;
      this.audit(by, 'drift.removal-proposed', f, { groupId, privileged, ticket: f.ticketId, turn: caller.correlationId });
      return true;
    });
    if (!ok) return this.reply(f, 'This finding changed just now; nothing was changed. Look at the card again.');
    this.scheduleCardUpdateNow(f.ticketId);
    return this.reply(f, null);
  }

  private liveProposal(f: DriftFinding): boolean {
    return f.state === 'open' && f.removal?.state === 'proposed' && Date.parse(f.removal.expiresAt) >= this.now().getTime();
  }

  /** An expired proposal is cancelled (audited) when someone clicks on it. */
  private expireProposal(f: DriftFinding, caller: Caller): ClickResult | null {
    if (f.removal?.state !== 'proposed' || Date.parse(f.removal.expiresAt) >= this.now().getTime()) return null;
    this.d.store.transaction(() => {
      if (this.d.findings.cancelRemoval(f.id)) this.audit({ id: caller.user.id, name: caller.user.displayName }, 'drift.removal-expired', f, { proposedBy: f.removal!.proposedBy, turn: caller.correlationId });
    });
    return this.reply(f, 'The proposed removal expired before it was confirmed; nothing was changed. Click Remove again.');
  }

  private async clickConfirm(f: DriftFinding, caller: Caller): Promise<ClickResult> {
    const expired = this.expireProposal(f, caller);
    if (expired) return expired;
    if (!this.liveProposal(f)) return this.reply(f, 'No removal is waiting for a confirmation.');
    const r = f.removal!;
    const by = { id: caller.user.id, name: caller.user.displayName };
    if (r.proposedBy.id !== caller.user.id) {
      this.audit(by, 'drift.action-refused', f, { verb: 'drift.remove-confirm', reason: 'not-the-proposer', turn: caller.correlationId }, 'refused');
      return this.reply(f, `Only ${r.proposedBy.name}, who proposed the removal, can confirm it.${r.privileged ? ' As a second technician, use Approve.' : ''} Nothing was changed.`);
    }
    if (r.confirmedAt) return this.reply(f, null);
    this.d.store.transaction(() => {
      if (this.d.findings.confirmRemoval(f.id, caller.user.id)) this.audit(by, 'drift.removal-confirmed', f, { groupId: r.groupId, privileged: r.privileged, turn: caller.correlationId });
    });
    return this.startIfReady(f.id, caller);
  }

  private async clickApprove(f: DriftFinding, caller: Caller): Promise<ClickResult> {
    const expired = this.expireProposal(f, caller);
    if (expired) return expired;
    if (!this.liveProposal(f)) return this.reply(f, 'No removal is waiting for an approval.');
    const r = f.removal!;
    const by = { id: caller.user.id, name: caller.user.displayName };
    if (!r.privileged) return this.reply(f, 'This removal needs no second approval.');
    if (r.proposedBy.id === caller.user.id) {
      this.audit(by, 'drift.action-refused', f, { verb: 'drift.remove-approve', reason: 'same-technician', turn: caller.correlationId }, 'refused');
      return this.reply(f, 'You proposed this removal: a second, different identity technician must approve it. Nothing was changed.');
    }
    if (r.approvedBy) return this.reply(f, null);
    this.d.store.transaction(() => {
      if (this.d.findings.approveRemoval(f.id, by)) this.audit(by, 'drift.removal-approved', f, { groupId: r.groupId, proposedBy: r.proposedBy, turn: caller.correlationId });
    });
    return this.startIfReady(f.id, caller);
  }

  /** Confirmed (and approved when privileged): the one-time claim, then the durable removal job. */
  private startIfReady(id: string, caller: Caller): ClickResult {
    const f = this.d.findings.get(id)!;
    const r = f.removal;
    if (!r || r.state !== 'proposed' || !r.confirmedAt || (r.privileged && !r.approvedBy)) {
      this.scheduleCardUpdateNow(f.ticketId);
      const waiting = !r?.confirmedAt ? `${r?.proposedBy.name ?? 'the proposer'}'s confirmation` : "a second identity technician's approval (privileged)";
      return this.reply(f, `Recorded. The removal runs after ${waiting}.`);
    }
    const started = this.d.store.transaction(() => {
      if (!this.d.findings.startRemoval(f.id)) return false;
      this.audit({ id: caller.user.id, name: caller.user.displayName }, 'drift.removal-started', f, { groupId: r.groupId, proposedBy: r.proposedBy, approvedBy: r.approvedBy, turn: caller.correlationId });
      this.d.access.scheduleRemoval({
        groupId: r.groupId,
        groupName: r.groupName,
        userId: f.userId,
        userName: f.userName,
        userPrincipalName: f.userUpn ?? f.userId,
        reason: `Drift ${f.id} (${KIND_LABELS[f.kind].toLowerCase()})`,
        correlationId: f.id,
        owner: { kind: REMOVAL_OWNER, ref: `${f.id}/${f.occurrence}/${this.now().getTime()}` },
      });
      this.scheduleCardUpdate(f.ticketId);
      return true;
    });
    this.d.scheduler.kick();
    return this.reply(f, started ? `Removing ${f.userName} from ${r.groupName}: the card shows when it is done.` : null);
  }

  private async clickCancel(f: DriftFinding, caller: Caller): Promise<ClickResult> {
    if (f.removal?.state !== 'proposed') return this.reply(f, 'No removal is waiting.');
    this.d.store.transaction(() => {
      if (this.d.findings.cancelRemoval(f.id)) this.audit({ id: caller.user.id, name: caller.user.displayName }, 'drift.removal-cancelled', f, { proposedBy: f.removal!.proposedBy, turn: caller.correlationId });
    });
    this.scheduleCardUpdateNow(f.ticketId);
    return this.reply(f, `Removal cancelled by ${caller.user.displayName}. Nothing was changed.`);
  }

  private async clickReview(f: DriftFinding, caller: Caller): Promise<ClickResult> {
    const reviews = this.reviews;
    if (!reviews) return this.reply(f, 'Access reviews are not available here.');
    if (f.state !== 'open') return this.reply(f, `${f.id} is no longer open: there is nothing to review.`);
    if (f.reviewId) return this.reply(f, `Access review ${f.reviewId} is already open for this finding.`);
    if (this.reviewsStarting.has(f.id)) return this.reply(f, 'A review of this finding is being started by another click: the card shows it in a moment. Nothing else was started.');
    const by = { id: caller.user.id, name: caller.user.displayName };
    const groups = f.kind === 'sod' && f.otherGroupId ? [f.groupId, f.otherGroupId] : [f.groupId];
    const started: string[] = [];
    const problems: string[] = [];
    this.reviewsStarting.add(f.id);
    try {
      for (const groupId of groups) {
        let outcome: StartReviewResult;
        try {
          outcome = await reviews.start({ scope: { kind: 'group', groupId }, startedBy: by, reason: `Drift ${f.id}: ${ticketTitle(f)}`.slice(0, 300), correlationId: f.id });
        } catch (err) {
          outcome = { ok: false, message: errorText(err) };
        }
        if (outcome.ok) started.push(outcome.campaignId);
        else problems.push(outcome.message);
      }
      this.d.store.transaction(() => {
        if (started.length) this.d.findings.setReview(f.id, started.join(', '));
        this.audit(by, 'drift.review-opened', f, { reviews: started, problems, turn: caller.correlationId }, started.length ? 'success' : 'failure');
      });
    } finally {
      this.reviewsStarting.delete(f.id);
    }
    this.scheduleCardUpdateNow(f.ticketId);
    if (!started.length) return this.reply(f, `The review could not be started: ${problems.join('; ')}`);
    return this.reply(f, `Access review ${started.join(' and ')} started for ${f.kind === 'sod' ? `${f.groupName} and ${f.otherGroupName}` : f.groupName}.${problems.length ? ` Not started: ${problems.join('; ')}` : ''}`);
  }

  private async clickAccept(f: DriftFinding, caller: Caller, inputs: Record<string, unknown>): Promise<ClickResult> {
    const reason = typeof inputs.reason === 'string' ? inputs.reason.trim() : '';
    if (!reason) return this.reply(f, 'Say why this is acceptable: the reason stays with the exception and in the audit trail. Nothing was changed.');
    if (reason.length > MAX_REASON) return this.reply(f, `The reason is ${reason.length} characters long; at most ${MAX_REASON}. Nothing was changed.`);
    if (CONTROL.test(reason)) return this.reply(f, 'The reason contains control or binary characters. Nothing was changed.');
    if (f.state !== 'open') return this.reply(f, `${f.id} is ${f.state === 'accepted' ? 'already accepted' : 'resolved'}.`);
    if (f.removal?.state === 'running') return this.reply(f, `${f.userName} is being removed from ${f.removal.groupName}; it cannot be accepted now.`);
    const by = { id: caller.user.id, name: caller.user.displayName };
    // Where Remove takes a second technician, so does an exception: it keeps the access for good.
    const privileged = (await this.needsFourEyes(f.userId, f.groupId)) || (f.otherGroupId !== null && (await this.needsFourEyes(f.userId, f.otherGroupId)));
    if (privileged) return this.proposeException(f, caller, reason);
    const ok = this.d.store.transaction(() => {
      if (!this.d.findings.accept(f.id, f.occurrence, by, reason)) return false;
      if (f.removal?.state === 'proposed' && this.d.findings.cancelRemoval(f.id)) this.audit(by, 'drift.removal-cancelled', f, { proposedBy: f.removal.proposedBy, reason: 'accepted', turn: caller.correlationId });
      this.audit(by, 'drift.finding-accepted', f, { reason, kind: f.kind, ticket: f.ticketId, turn: caller.correlationId });
      this.closeTicket(f.ticketId, by, `Accepted as an exception: ${reason}`);
      return true;
    });
    this.d.scheduler.kick();
    return this.reply(f, ok ? null : 'This finding changed just now; nothing was changed. Look at the card again.');
  }

  private liveException(f: DriftFinding): boolean {
    return f.state === 'open' && !!f.exception && !f.exception.approvedBy && Date.parse(f.exception.expiresAt) >= this.now().getTime();
  }

  /** A privileged exception is proposed: it takes effect when a second, different technician approves it in time. */
  private proposeException(f: DriftFinding, caller: Caller, reason: string): ClickResult {
    if (this.liveException(f)) return this.reply(f, `An exception is already proposed by ${f.exception!.proposedBy.name}: approve or cancel it.`);
    if (this.liveProposal(f)) return this.reply(f, `A removal is proposed by ${f.removal!.proposedBy.name}: confirm or cancel it first. Nothing was changed.`);
    const by = { id: caller.user.id, name: caller.user.displayName };
    const expiresAt = new Date(this.now().getTime() + this.d.config.confirmMinutes * 60_000);
    const ok = this.d.store.transaction(() => {
      if (!this.d.findings.proposeException(f.id, f.occurrence, { by, reason, expiresAt })) return false;
      this.audit(by, 'drift.exception-proposed', f, { reason, kind: f.kind, ticket: f.ticketId, expiresAt: expiresAt.toISOString(), turn: caller.correlationId });
      return true;
    });
    if (!ok) return this.reply(f, 'This finding changed just now; nothing was changed. Look at the card again.');
    this.scheduleCardUpdateNow(f.ticketId);
    return this.reply(f, `Recorded. The exception takes effect when a second, different identity technician approves it (privileged), by ${formatTime(expiresAt)}.`);
  }

  /** An expired exception proposal is forgotten (audited) when someone clicks on it. */
  private expireException(f: DriftFinding, caller: Caller): ClickResult | null {
    const e = f.exception;
    if (f.state !== 'open' || !e || e.approvedBy || Date.parse(e.expiresAt) >= this.now().getTime()) return null;
    this.d.store.transaction(() => {
      if (this.d.findings.clearException(f.id)) this.audit({ id: caller.user.id, name: caller.user.displayName }, 'drift.exception-expired', f, { proposedBy: e.proposedBy, reason: e.reason, turn: caller.correlationId });
    });
    this.scheduleCardUpdateNow(f.ticketId);
    return this.reply(f, 'The proposed exception expired before a second technician approved it; nothing was changed. Click Accept again.');
  }

  private async clickApproveException(f: DriftFinding, caller: Caller): Promise<ClickResult> {
    const expired = this.expireException(f, caller);
    if (expired) return expired;
    if (!this.liveException(f)) return this.reply(f, 'No exception is waiting for an approval.');
    const e = f.exception!;
    const by = { id: caller.user.id, name: caller.user.displayName };
    if (e.proposedBy.id === caller.user.id) {
      this.audit(by, 'drift.action-refused', f, { verb: 'drift.accept-approve', reason: 'same-technician', turn: caller.correlationId }, 'refused');
      return this.reply(f, 'You proposed this exception: a second, different identity technician must approve it. Nothing was changed.');
    }
    if (f.removal?.state === 'running') return this.reply(f, `${f.userName} is being removed from ${f.removal.groupName}; it cannot be accepted now.`);
    const ok = this.d.store.transaction(() => {
      if (!this.d.findings.approveException(f.id, f.occurrence, by)) return false;
      if (f.removal?.state === 'proposed' && this.d.findings.cancelRemoval(f.id)) this.audit(by, 'drift.removal-cancelled', f, { proposedBy: f.removal.proposedBy, reason: 'accepted', turn: caller.correlationId });
      this.audit(by, 'drift.finding-accepted', f, { reason: e.reason, kind: f.kind, ticket: f.ticketId, proposedBy: e.proposedBy, approvedBy: by, turn: caller.correlationId });
      this.closeTicket(f.ticketId, by, `Accepted as an exception proposed by ${e.proposedBy.name}: ${e.reason}`);
      return true;
    });
    this.d.scheduler.kick();
    return this.reply(f, ok ? null : 'This finding changed just now; nothing was changed. Look at the card again.');
  }

  private async clickCancelException(f: DriftFinding, caller: Caller): Promise<ClickResult> {
    const e = f.exception;
    if (f.state !== 'open' || !e || e.approvedBy) return this.reply(f, 'No exception is waiting.');
    this.d.store.transaction(() => {
      if (this.d.findings.clearException(f.id)) this.audit({ id: caller.user.id, name: caller.user.displayName }, 'drift.exception-cancelled', f, { proposedBy: e.proposedBy, reason: e.reason, turn: caller.correlationId });
    });
    this.scheduleCardUpdateNow(f.ticketId);
    return this.reply(f, `Exception cancelled by ${caller.user.displayName}. Nothing was changed.`);
  }

  private async clickUnaccept(f: DriftFinding, caller: Caller): Promise<ClickResult> {
    if (f.state !== 'accepted') return this.reply(f, `${f.id} is not accepted as an exception.`);
    const by = { id: caller.user.id, name: caller.user.displayName };
    const ok = this.d.store.transaction(() => {
      if (!this.d.findings.revokeException(f.id, f.occurrence)) return false;
      this.audit(by, 'drift.exception-revoked', f, { reason: f.acceptedReason, acceptedBy: f.acceptedBy, acceptedAt: f.acceptedAt, turn: caller.correlationId });
      this.scheduleCardUpdate(f.ticketId);
      return true;
    });
    if (!ok) return this.reply(f, 'This finding changed just now; nothing was changed.');
    // Checked again now: still there, it is raised again with a new ticket.
    const scope = this.scopeFor({ id: f.groupId, name: f.groupName });
    if (f.otherGroupId && !scope.some((g) => g.id.toLowerCase() === f.otherGroupId!.toLowerCase())) scope.push(...this.scopeFor({ id: f.otherGroupId, name: f.otherGroupName ?? '' }));
    const summary = await this.run({ scope, trigger: 'command', actor: by, dryRun: false, correlationId: caller.correlationId });
    const again = summary.found.find((x) => x.id === f.id && x.status === 'new');
    return this.reply(f, again ? `The exception is revoked. It is still there, so it was raised again: ${again.ticketId}.` : 'The exception is revoked. It is no longer there.');
  }

  private scheduleCardUpdateNow(ticketId: string | null): void {
    if (!ticketId) return;
    this.scheduleCardUpdate(ticketId);
    this.d.scheduler.kick();
  }

  // ---- removal outcomes (called inside the access service's transaction) ------------------------

  private findingOfRemoval(ref: string): DriftFinding | null {
    const [id, occurrence] = ref.split('/');
    const f = id && isFindingId(id) ? this.d.findings.get(id) : null;
    return f && String(f.occurrence) === occurrence ? f : null;
  }

  private removalDone(ref: string, result: 'removed' | 'not-member'): void {
    const f = this.findingOfRemoval(ref);
    if (!f || f.removal?.state !== 'running') return;
    if (!this.d.findings.markRemoved(f.id)) return;
    const r = f.removal;
    this.audit(r.proposedBy, 'drift.membership-removed', f, { groupId: r.groupId, result, proposedBy: r.proposedBy, approvedBy: r.approvedBy });
    this.closeTicket(
      f.ticketId,
      { id: r.proposedBy.id, name: r.proposedBy.name },
      `${result === 'removed' ? 'Removed' : 'Already gone:'} ${f.userName} from ${r.groupName}${r.approvedBy ? ` (approved by ${r.approvedBy.name})` : ''}.`,
    );
  }

  private removalFailed(ref: string, error: string): void {
    const f = this.findingOfRemoval(ref);
    if (!f || f.removal?.state !== 'running') return;
    if (!this.d.findings.markRemovalFailed(f.id, error)) return;
    this.audit(SYSTEM, 'drift.removal-failed', f, { groupId: f.removal.groupId, error: error.slice(0, 300) }, 'failure');
    this.scheduleCardUpdate(f.ticketId);
  }
}

/** Where a drift ticket's cards are remembered: apart from the ticket queue's own copies. */
function cardOwner(ticketId: string): string {
  return `drift:${ticketId}`;
}

export function ticketTitle(f: Pick<DriftFinding, 'kind' | 'userName' | 'groupName' | 'otherGroupName'>): string {
  switch (f.kind) {
    case 'unapproved':
      return `Added outside the helpdesk: ${f.userName} in ${f.groupName}`;
    case 'expired-grant':
      return `Access ended but still a member: ${f.userName} in ${f.groupName}`;
    case 'disabled':
      return `Disabled account still a member: ${f.userName} in ${f.groupName}`;
    case 'left':
      return `No longer in the directory, still holds access: ${f.userName} in ${f.groupName}`;
    case 'sod':
      return `Separation of duties: ${f.userName} holds ${f.groupName} and ${f.otherGroupName}`;
    case 'privileged':
      return `Unexpected member of a privileged group: ${f.userName} in ${f.groupName}`;
  }
}

export function findingText(f: Pick<DriftFinding, 'kind' | 'userName' | 'groupName' | 'otherGroupName' | 'details'>): string {
  const last = f.details.requestId ? ` Their last grant, ${f.details.requestId}, ended${f.details.expiresAt ? ` ${formatTime(f.details.expiresAt)}` : ''}.` : '';
  switch (f.kind) {
    case 'unapproved':
      return `${f.userName} is a member of ${f.groupName}, but no grant through the helpdesk, birthright rule or accepted exception says so: someone added them outside the bot.${last}`;
    case 'expired-grant':
      return `${f.userName}'s access to ${f.groupName} (${f.details.requestId}) ended${f.details.expiresAt ? ` ${formatTime(f.details.expiresAt)}` : ''}, but they are still a member: the removal did not happen.`;
    case 'disabled':
      return `${f.userName}'s account is disabled, but it is still a member of ${f.groupName}${f.details.requestIds?.length ? ` (granted by ${f.details.requestIds.join(', ')})` : ''}.`;
    case 'left':
      return `${f.userName} is no longer in the directory, but the helpdesk still records their access to ${f.groupName} (${(f.details.requestIds ?? []).join(', ')}).`;
    case 'sod':
      return `${f.userName} holds both ${f.groupName} and ${f.otherGroupName}, which must not be held together (separation of duties).`;
    case 'privileged':
      return `${f.userName} is a member of the privileged group ${f.groupName}, but no grant through the helpdesk, birthright rule or accepted exception says so.${last}`;
  }
}

function countsOf(s: RunSummary): { findings: number; new: number; known: number; accepted: number; resolved: number; failed: number; byKind: Record<string, number> } {
  const byKind: Record<string, number> = {};
  for (const f of s.found) byKind[f.finding.kind] = (byKind[f.finding.kind] ?? 0) + 1;
  return {
    findings: s.found.length,
    new: s.found.filter((f) => f.status === 'new').length,
    known: s.found.filter((f) => f.status === 'known').length,
    accepted: s.found.filter((f) => f.status === 'accepted').length,
    resolved: s.resolved.length,
    failed: s.failures.length,
    byKind,
  };
}

function notice(title: string, body: string, tone: Tone): AdaptiveCardJson {
  return renderTechCard({ title, text: body, tone });
}
