import type { Db } from './db';

/**
 * What drift detection keeps: one finding per fingerprint (kind, group, user and, for a
 * separation-of-duties conflict, the combination), its state and the ticket it raised, an
 * accepted exception with its reason and who accepted it (where it takes four eyes, proposed
 * by one technician and approved by a second), a removal waiting for its confirmation (and a
 * second technician's approval), and the runs of the check.
 *
 * A finding is raised once and stays quiet while it is seen again unchanged. It is raised
 * again (a new ticket, `occurrence` + 1) only when something changed: it disappeared and came
 * back, its exception was revoked, or its ticket was closed by hand while it is still there.
 *
 * Every method is synchronous, so callers run it in `store.transaction(...)` with the audit
 * event and the ticket of the change. State changes are guarded `UPDATE ... WHERE state = ?`
 * statements that report whether they won.
 */

export const DRIFT_KINDS = ['unapproved', 'expired-grant', 'disabled', 'left', 'sod', 'privileged'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** `open`: a ticket tracks it; `accepted`: an exception silences it; `resolved`: no longer found (or removed). */
export type FindingState = 'open' | 'accepted' | 'resolved';

export type Resolution = 'gone' | 'removed' | 'exception-revoked';

export type RemovalState = 'proposed' | 'running' | 'done' | 'failed' | 'cancelled';

export interface PersonRef {
  id: string;
  name: string;
}

/** What a finding says, besides who and where: request ids, dates, the resources of a conflict. */
export interface FindingDetails {
  /** The grant that ended (expired-grant), or the last one that did (unapproved). */
  requestId?: string | null;
  expiresAt?: string | null;
  /** Active grants of a user no longer in the directory (left). */
  requestIds?: string[];
  /** The catalog resources of the group(s), when it is one. */
  resourceId?: string | null;
  otherResourceId?: string | null;
  department?: string | null;
  jobTitle?: string | null;
  privilegedGroup?: boolean;
}

export interface DriftFinding {
  id: string;
  fingerprint: string;
  kind: DriftKind;
  groupId: string;
  groupName: string;
  /** Separation of duties: the second group of the combination. */
  otherGroupId: string | null;
  otherGroupName: string | null;
  /** Separation of duties: the two resource ids, sorted, joined by `+`. */
  combination: string | null;
  userId: string;
  userName: string;
  userUpn: string | null;
  details: FindingDetails;
  state: FindingState;
  /** How many times it was raised (each time with a new ticket). */
  occurrence: number;
  ticketId: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
  openedAt: string;
  resolvedAt: string | null;
  resolution: Resolution | null;
  acceptedReason: string | null;
  acceptedBy: PersonRef | null;
  acceptedAt: string | null;
  reviewId: string | null;
  removal: Removal | null;
  /** An exception that takes four eyes: proposed, then approved by a second technician. */
  exception: ExceptionApproval | null;
  updatedAt: string;
}

export interface ExceptionApproval {
  proposedBy: PersonRef;
  reason: string;
  /** Until when a second technician may approve it. */
  expiresAt: string;
  approvedBy: PersonRef | null;
  approvedAt: string | null;
}

export interface Removal {
  state: RemovalState;
  groupId: string;
  groupName: string;
  proposedBy: PersonRef;
  confirmedAt: string | null;
  approvedBy: PersonRef | null;
  approvedAt: string | null;
  privileged: boolean;
  expiresAt: string;
  error: string | null;
}

export interface NewFinding {
  fingerprint: string;
  kind: DriftKind;
  groupId: string;
  groupName: string;
  otherGroupId?: string | null;
  otherGroupName?: string | null;
  combination?: string | null;
  userId: string;
  userName: string;
  userUpn: string | null;
  details: FindingDetails;
}

/** A grant the access-request store holds for a group member. */
export interface GrantRecord {
  requestId: string;
  groupId: string;
  resourceId: string;
  userId: string;
  userName: string;
  state: 'approved' | 'granted';
  expiresAt: string | null;
  /** A removal job for it is still pending or running (the expiry is being handled). */
  removalPending: boolean;
}

export interface DriftRun {
  id: number;
  trigger: 'command' | 'schedule';
  actor: PersonRef | null;
  scope: string[] | null;
  dryRun: boolean;
  startedAt: string;
  finishedAt: string | null;
  summary: Record<string, unknown> | null;
}

/** The finding fingerprint: stable across runs for the same kind, group(s) and user. */
export function fingerprintOf(f: { kind: DriftKind; groupId: string; userId: string; combination?: string | null }): string {
  const where = f.kind === 'sod' ? (f.combination ?? f.groupId) : f.groupId.toLowerCase();
  return `${f.kind}:${where}:${f.userId.toLowerCase()}`;
}

const FINDING_ID = /^DRF-\d{1,9}$/;

/** Forgets a proposed exception (cancelled, expired, or a new occurrence). */
const NO_EXCEPTION = `exception_by_id = NULL, exception_by_name = NULL, exception_reason = NULL, exception_expires_at = NULL,
  exception_approved_by_id = NULL, exception_approved_by_name = NULL, exception_approved_at = NULL`;

/** Is this a well-formed finding id (`DRF-1001`)? Card data is checked with it. */
export function isFindingId(value: unknown): value is string {
  return typeof value === 'string' && FINDING_ID.test(value);
}

const COLUMNS = `id, fingerprint, kind, group_id, group_name, other_group_id, other_group_name, combination, user_id, user_name, user_upn, details, state,
  occurrence, ticket_id, first_seen_at, last_seen_at, opened_at, resolved_at, resolution, accepted_reason, accepted_by_id, accepted_by_name, accepted_at,
  review_id, removal_state, removal_group_id, removal_group_name, removal_by_id, removal_by_name, removal_confirmed_at, removal_approved_by_id,
  removal_approved_by_name, removal_approved_at, removal_privileged, removal_expires_at, removal_error, exception_by_id, exception_by_name,
  exception_reason, exception_expires_at, exception_approved_by_id, exception_approved_by_name, exception_approved_at, updated_at`;

export class DriftStore {
  private readonly s;

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.s = {
      next: db.prepare(`UPDATE sequences SET value = value + 1 WHERE name = 'drift_finding' RETURNING value`),
      insert: db.prepare(
        `INSERT INTO drift_findings (id, fingerprint, kind, group_id, group_name, other_group_id, other_group_name, combination, user_id, user_name, user_upn,
           details, state, occurrence, ticket_id, first_seen_at, last_seen_at, opened_at, updated_at)
         VALUES (@id, @fingerprint, @kind, @groupId, @groupName, @otherGroupId, @otherGroupName, @combination, @userId, @userName, @userUpn,
           @details, 'open', 1, NULL, @now, @now, @now, @now)`,
      ),
      get: db.prepare(`SELECT ${COLUMNS} FROM drift_findings WHERE id = ?`),
      byFingerprint: db.prepare(`SELECT ${COLUMNS} FROM drift_findings WHERE fingerprint = ?`),
      byTicket: db.prepare(`SELECT ${COLUMNS} FROM drift_findings WHERE ticket_id = ?`),
      active: db.prepare(`SELECT ${COLUMNS} FROM drift_findings WHERE state IN ('open', 'accepted') ORDER BY id`),
      counts: db.prepare(`SELECT state, kind, count(*) AS n FROM drift_findings GROUP BY state, kind`),
      setTicket: db.prepare(`UPDATE drift_findings SET ticket_id = @ticketId, updated_at = @now WHERE id = @id`),
      touch: db.prepare(
        `UPDATE drift_findings SET last_seen_at = @now, details = @details, group_name = @groupName, other_group_name = @otherGroupName, user_name = @userName,
           user_upn = @userUpn, updated_at = @now WHERE id = @id`,
      ),
      reopen: db.prepare(
        `UPDATE drift_findings SET state = 'open', occurrence = occurrence + 1, ticket_id = NULL, opened_at = @now, last_seen_at = @now, details = @details,
           group_name = @groupName, other_group_name = @otherGroupName, user_name = @userName, user_upn = @userUpn, resolved_at = NULL, resolution = NULL,
           accepted_reason = NULL, accepted_by_id = NULL, accepted_by_name = NULL, accepted_at = NULL, review_id = NULL, removal_state = NULL,
           removal_group_id = NULL, removal_group_name = NULL, removal_by_id = NULL, removal_by_name = NULL, removal_confirmed_at = NULL,
           removal_approved_by_id = NULL, removal_approved_by_name = NULL, removal_approved_at = NULL, removal_privileged = NULL,
           removal_expires_at = NULL, removal_error = NULL, ${NO_EXCEPTION}, updated_at = @now
         WHERE id = @id AND occurrence = @occurrence`,
      ),
      resolve: db.prepare(
        `UPDATE drift_findings SET state = 'resolved', resolved_at = @now, resolution = @resolution, updated_at = @now
         WHERE id = @id AND state IN ('open', 'accepted') AND occurrence = @occurrence`,
      ),
      accept: db.prepare(
        `UPDATE drift_findings SET state = 'accepted', accepted_reason = @reason, accepted_by_id = @byId, accepted_by_name = @byName, accepted_at = @now,
           updated_at = @now
         WHERE id = @id AND state = 'open' AND occurrence = @occurrence AND (removal_state IS NULL OR removal_state NOT IN ('running'))`,
      ),
      revokeException: db.prepare(
        `UPDATE drift_findings SET state = 'resolved', resolved_at = @now, resolution = 'exception-revoked', updated_at = @now
         WHERE id = @id AND state = 'accepted' AND occurrence = @occurrence`,
      ),
      review: db.prepare(`UPDATE drift_findings SET review_id = @reviewId, updated_at = @now WHERE id = @id AND state = 'open'`),
      propose: db.prepare(
        `UPDATE drift_findings SET removal_state = 'proposed', removal_group_id = @groupId, removal_group_name = @groupName, removal_by_id = @byId,
           removal_by_name = @byName, removal_confirmed_at = NULL, removal_approved_by_id = NULL, removal_approved_by_name = NULL,
           removal_approved_at = NULL, removal_privileged = @privileged, removal_expires_at = @expiresAt, removal_error = NULL, updated_at = @now
         WHERE id = @id AND state = 'open' AND occurrence = @occurrence
           AND (removal_state IS NULL OR removal_state IN ('cancelled', 'failed') OR (removal_state = 'proposed' AND removal_expires_at < @now))
           AND (exception_by_id IS NULL OR exception_expires_at < @now)`,
      ),
      proposeException: db.prepare(
        `UPDATE drift_findings SET exception_by_id = @byId, exception_by_name = @byName, exception_reason = @reason, exception_expires_at = @expiresAt,
           exception_approved_by_id = NULL, exception_approved_by_name = NULL, exception_approved_at = NULL, updated_at = @now
         WHERE id = @id AND state = 'open' AND occurrence = @occurrence AND (exception_by_id IS NULL OR exception_expires_at < @now)
           AND (removal_state IS NULL OR removal_state IN ('cancelled', 'failed') OR (removal_state = 'proposed' AND removal_expires_at < @now))`,
      ),
      approveException: db.prepare(
        `UPDATE drift_findings SET state = 'accepted', accepted_reason = exception_reason, accepted_by_id = exception_by_id,
           accepted_by_name = exception_by_name, accepted_at = @now, exception_approved_by_id = @byId, exception_approved_by_name = @byName,
           exception_approved_at = @now, updated_at = @now
         WHERE id = @id AND state = 'open' AND occurrence = @occurrence AND exception_by_id IS NOT NULL AND exception_approved_by_id IS NULL
           AND exception_by_id <> @byId AND user_id <> @byId AND exception_expires_at >= @now
           AND (removal_state IS NULL OR removal_state NOT IN ('running'))`,
      ),
      clearException: db.prepare(
        `UPDATE drift_findings SET ${NO_EXCEPTION}, updated_at = @now
         WHERE id = @id AND state = 'open' AND exception_by_id IS NOT NULL AND exception_approved_by_id IS NULL`,
      ),
      confirm: db.prepare(
        `UPDATE drift_findings SET removal_confirmed_at = @now, updated_at = @now
         WHERE id = @id AND removal_state = 'proposed' AND removal_by_id = @byId AND removal_confirmed_at IS NULL AND removal_expires_at >= @now`,
      ),
      approve: db.prepare(
        `UPDATE drift_findings SET removal_approved_by_id = @byId, removal_approved_by_name = @byName, removal_approved_at = @now, updated_at = @now
         WHERE id = @id AND removal_state = 'proposed' AND removal_privileged = 1 AND removal_approved_by_id IS NULL AND removal_by_id <> @byId
           AND user_id <> @byId AND removal_expires_at >= @now`,
      ),
      start: db.prepare(
        `UPDATE drift_findings SET removal_state = 'running', updated_at = @now
         WHERE id = @id AND state = 'open' AND removal_state = 'proposed' AND removal_confirmed_at IS NOT NULL
           AND (removal_privileged = 0 OR removal_approved_by_id IS NOT NULL)`,
      ),
      cancel: db.prepare(`UPDATE drift_findings SET removal_state = 'cancelled', updated_at = @now WHERE id = @id AND removal_state = 'proposed'`),
      removed: db.prepare(
        `UPDATE drift_findings SET removal_state = 'done', removal_error = NULL, state = 'resolved', resolved_at = @now, resolution = 'removed', updated_at = @now
         WHERE id = @id AND removal_state = 'running'`,
      ),
      removalFailed: db.prepare(`UPDATE drift_findings SET removal_state = 'failed', removal_error = @error, updated_at = @now WHERE id = @id AND removal_state = 'running'`),
      runInsert: db.prepare(
        `INSERT INTO drift_runs (trigger, actor_id, actor_name, scope, dry_run, started_at) VALUES (@trigger, @actorId, @actorName, @scope, @dryRun, @now)`,
      ),
      runFinish: db.prepare(`UPDATE drift_runs SET finished_at = @now, summary = @summary WHERE id = @id`),
      runGet: db.prepare(`SELECT id, trigger, actor_id, actor_name, scope, dry_run, started_at, finished_at, summary FROM drift_runs WHERE id = ?`),
      lastRun: db.prepare(
        `SELECT id, trigger, actor_id, actor_name, scope, dry_run, started_at, finished_at, summary FROM drift_runs WHERE finished_at IS NOT NULL AND dry_run = 0
         ORDER BY id DESC LIMIT 1`,
      ),
      jobsOfKind: db.prepare(`SELECT id, next_run_at FROM jobs WHERE kind = ? AND state IN ('pending', 'running') ORDER BY next_run_at`),
    };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Records a new finding (state `open`, occurrence 1); its ticket is set with {@link setTicket}. */
  create(f: NewFinding): DriftFinding {
    const { value } = this.s.next.get() as { value: number };
    const id = `DRF-${value}`;
    this.s.insert.run({
      id,
      fingerprint: f.fingerprint,
      kind: f.kind,
      groupId: f.groupId,
      groupName: f.groupName.slice(0, 300),
      otherGroupId: f.otherGroupId ?? null,
      otherGroupName: f.otherGroupName?.slice(0, 300) ?? null,
      combination: f.combination ?? null,
      userId: f.userId,
      userName: f.userName.slice(0, 300),
      userUpn: f.userUpn,
      details: JSON.stringify(f.details),
      now: this.now(),
    });
    return this.get(id)!;
  }

  get(id: string): DriftFinding | null {
    return toFinding(this.s.get.get(id));
  }

  byFingerprint(fingerprint: string): DriftFinding | null {
    return toFinding(this.s.byFingerprint.get(fingerprint));
  }

  /** The finding whose current ticket this is. */
  byTicket(ticketId: string): DriftFinding | null {
    return toFinding(this.s.byTicket.get(ticketId));
  }

  /** Open and accepted findings: what a run may find gone. */
  listActive(): DriftFinding[] {
    return this.s.active.all().map((r) => toFinding(r)!);
  }

  /** Findings by state and kind. */
  counts(): Array<{ state: FindingState; kind: DriftKind; n: number }> {
    return this.s.counts.all() as Array<{ state: FindingState; kind: DriftKind; n: number }>;
  }

  setTicket(id: string, ticketId: string): void {
    this.s.setTicket.run({ id, ticketId, now: this.now() });
  }

  /** Seen again, unchanged: only the time and the names and details of now. */
  touch(id: string, f: NewFinding): void {
    this.s.touch.run({ id, ...current(f), now: this.now() });
  }

  /**
   * Raised again (it came back, its exception was revoked, its ticket was closed while it is
   * still there): open, one more occurrence, no ticket yet, the exception and any removal
   * forgotten. False when another run reopened it first.
   */
  reopen(id: string, occurrence: number, f: NewFinding): boolean {
    return this.s.reopen.run({ id, occurrence, ...current(f), now: this.now() }).changes === 1;
  }

  /** No longer found (or removed): resolved. False when it was not open or accepted any more. */
  resolve(id: string, occurrence: number, resolution: Resolution): boolean {
    return this.s.resolve.run({ id, occurrence, resolution, now: this.now() }).changes === 1;
  }

  /** An exception with its reason: the finding stays quiet while it is seen unchanged. */
  accept(id: string, occurrence: number, by: PersonRef, reason: string): boolean {
    return this.s.accept.run({ id, occurrence, byId: by.id, byName: by.name, reason, now: this.now() }).changes === 1;
  }

  /** The exception is withdrawn: resolved, so the next run that still finds it raises it again. */
  revokeException(id: string, occurrence: number): boolean {
    return this.s.revokeException.run({ id, occurrence, now: this.now() }).changes === 1;
  }

  setReview(id: string, reviewId: string): boolean {
    return this.s.review.run({ id, reviewId, now: this.now() }).changes === 1;
  }

  /** A technician proposes removing the membership; it waits for their confirmation (and a second technician when privileged). */
  proposeRemoval(id: string, occurrence: number, r: { groupId: string; groupName: string; by: PersonRef; privileged: boolean; expiresAt: Date }): boolean {
    return (
      this.s.propose.run({
        id,
        occurrence,
        groupId: r.groupId,
        groupName: r.groupName,
        byId: r.by.id,
        byName: r.by.name,
        privileged: r.privileged ? 1 : 0,
        expiresAt: r.expiresAt.toISOString(),
        now: this.now(),
      }).changes === 1
    );
  }

  /**
   * A technician proposes an exception that takes four eyes; it waits for a second
   * technician until `expiresAt`. False when the finding changed, or another proposal (of an
   * exception or a removal) is still waiting.
   */
  proposeException(id: string, occurrence: number, e: { by: PersonRef; reason: string; expiresAt: Date }): boolean {
    return this.s.proposeException.run({ id, occurrence, byId: e.by.id, byName: e.by.name, reason: e.reason, expiresAt: e.expiresAt.toISOString(), now: this.now() }).changes === 1;
  }

  /** A second technician approves the proposed exception (never the proposer, never the member), once, in time: accepted. */
  approveException(id: string, occurrence: number, by: PersonRef): boolean {
    return this.s.approveException.run({ id, occurrence, byId: by.id, byName: by.name, now: this.now() }).changes === 1;
  }

  /** A proposed exception is cancelled or expired: forgotten (the audit trail keeps it). */
  clearException(id: string): boolean {
    return this.s.clearException.run({ id, now: this.now() }).changes === 1;
  }

  /** The proposer confirms, once, before the proposal expires. */
  confirmRemoval(id: string, byId: string): boolean {
    return this.s.confirm.run({ id, byId, now: this.now() }).changes === 1;
  }

  /** A second technician approves: never the proposer, never the member themself, once. */
  approveRemoval(id: string, by: PersonRef): boolean {
    return this.s.approve.run({ id, byId: by.id, byName: by.name, now: this.now() }).changes === 1;
  }

  /** Proposed and confirmed (and approved when needed) -> running: the one-time claim. */
  startRemoval(id: string): boolean {
    return this.s.start.run({ id, now: this.now() }).changes === 1;
  }

  cancelRemoval(id: string): boolean {
    return this.s.cancel.run({ id, now: this.now() }).changes === 1;
  }

  /** The membership is gone: the removal is done and the finding resolved. */
  markRemoved(id: string): boolean {
    return this.s.removed.run({ id, now: this.now() }).changes === 1;
  }

  markRemovalFailed(id: string, error: string): boolean {
    return this.s.removalFailed.run({ id, error: error.slice(0, 300), now: this.now() }).changes === 1;
  }

  /**
   * Grants of these groups that are in flight or held (`approved`, `granted`), with whether a
   * removal job for each is still pending or running (`revokeJobKind`).
   */
  grants(groupIds: readonly string[], revokeJobKind: string): GrantRecord[] {
    if (!groupIds.length) return [];
    const out: GrantRecord[] = [];
    for (let i = 0; i < groupIds.length; i += 200) {
      const chunk = groupIds.slice(i, i + 200);
      const marks = chunk.map(() => '?').join(', ');
      const rows = this.db
        .prepare(
          `SELECT r.id, r.group_id, r.resource_id, r.requester_id, r.requester_name, r.state, r.expires_at,
             EXISTS (SELECT 1 FROM jobs j WHERE j.request_id = r.id AND j.kind = ? AND j.state IN ('pending', 'running')) AS removal_pending
           FROM access_requests r WHERE r.state IN ('approved', 'granted') AND lower(r.group_id) IN (${marks}) ORDER BY r.created_at, r.id`,
        )
        .all(revokeJobKind, ...chunk.map((g) => g.toLowerCase())) as Array<Record<string, unknown>>;
      for (const r of rows) {
        out.push({
          requestId: r.id as string,
          groupId: r.group_id as string,
          resourceId: r.resource_id as string,
          userId: r.requester_id as string,
          userName: r.requester_name as string,
          state: r.state as 'approved' | 'granted',
          expiresAt: (r.expires_at as string | null) ?? null,
          removalPending: r.removal_pending === 1,
        });
      }
    }
    return out;
  }

  /** The most recent grant of each (group, user) that ended (revoked or superseded), for context on a card. */
  endedGrant(groupId: string, userId: string): { requestId: string; endedAt: string | null; expiresAt: string | null } | null {
    const r = this.db
      .prepare(
        `SELECT id, ended_at, expires_at FROM access_requests WHERE lower(group_id) = ? AND requester_id = ? AND state IN ('revoked', 'superseded')
         ORDER BY ended_at DESC LIMIT 1`,
      )
      .get(groupId.toLowerCase(), userId) as { id: string; ended_at: string | null; expires_at: string | null } | undefined;
    return r ? { requestId: r.id, endedAt: r.ended_at, expiresAt: r.expires_at } : null;
  }

  startRun(run: { trigger: DriftRun['trigger']; actor: PersonRef | null; scope: string[] | null; dryRun: boolean }): number {
    const result = this.s.runInsert.run({
      trigger: run.trigger,
      actorId: run.actor?.id ?? null,
      actorName: run.actor?.name ?? null,
      scope: JSON.stringify(run.scope),
      dryRun: run.dryRun ? 1 : 0,
      now: this.now(),
    });
    return Number(result.lastInsertRowid);
  }

  finishRun(id: number, summary: Record<string, unknown>): void {
    this.s.runFinish.run({ id, summary: JSON.stringify(summary), now: this.now() });
  }

  getRun(id: number): DriftRun | null {
    return toRun(this.s.runGet.get(id));
  }

  /** The latest finished run that was not a dry run. */
  lastRun(): DriftRun | null {
    return toRun(this.s.lastRun.get());
  }

  /** Pending or running jobs of a kind (the scheduled check), the earliest first. */
  jobsOfKind(kind: string): Array<{ id: number; nextRunAt: string }> {
    return (this.s.jobsOfKind.all(kind) as Array<{ id: number; next_run_at: string }>).map((r) => ({ id: r.id, nextRunAt: r.next_run_at }));
  }
}

function current(f: NewFinding) {
  return {
    details: JSON.stringify(f.details),
    groupName: f.groupName.slice(0, 300),
    otherGroupName: f.otherGroupName?.slice(0, 300) ?? null,
    userName: f.userName.slice(0, 300),
    userUpn: f.userUpn,
  };
}

function toFinding(row: unknown): DriftFinding | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  const str = (v: unknown) => (v as string | null) ?? null;
  return {
    id: r.id as string,
    fingerprint: r.fingerprint as string,
    kind: r.kind as DriftKind,
    groupId: r.group_id as string,
    groupName: r.group_name as string,
    otherGroupId: str(r.other_group_id),
    otherGroupName: str(r.other_group_name),
    combination: str(r.combination),
    userId: r.user_id as string,
    userName: r.user_name as string,
    userUpn: str(r.user_upn),
    details: JSON.parse(r.details as string),
    state: r.state as FindingState,
    occurrence: r.occurrence as number,
    ticketId: str(r.ticket_id),
    firstSeenAt: r.first_seen_at as string,
    lastSeenAt: r.last_seen_at as string,
    openedAt: r.opened_at as string,
    resolvedAt: str(r.resolved_at),
    resolution: str(r.resolution) as Resolution | null,
    acceptedReason: str(r.accepted_reason),
    acceptedBy: r.accepted_by_id ? { id: r.accepted_by_id as string, name: r.accepted_by_name as string } : null,
    acceptedAt: str(r.accepted_at),
    reviewId: str(r.review_id),
    removal: r.removal_state
      ? {
          state: r.removal_state as RemovalState,
          groupId: r.removal_group_id as string,
          groupName: r.removal_group_name as string,
          proposedBy: { id: r.removal_by_id as string, name: r.removal_by_name as string },
          confirmedAt: str(r.removal_confirmed_at),
          approvedBy: r.removal_approved_by_id ? { id: r.removal_approved_by_id as string, name: r.removal_approved_by_name as string } : null,
          approvedAt: str(r.removal_approved_at),
          privileged: r.removal_privileged === 1,
          expiresAt: r.removal_expires_at as string,
          error: str(r.removal_error),
        }
      : null,
    exception: r.exception_by_id
      ? {
          proposedBy: { id: r.exception_by_id as string, name: r.exception_by_name as string },
          reason: r.exception_reason as string,
          expiresAt: r.exception_expires_at as string,
          approvedBy: r.exception_approved_by_id ? { id: r.exception_approved_by_id as string, name: r.exception_approved_by_name as string } : null,
          approvedAt: str(r.exception_approved_at),
        }
      : null,
    updatedAt: r.updated_at as string,
  };
}

function toRun(row: unknown): DriftRun | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as number,
    trigger: r.trigger as DriftRun['trigger'],
    actor: r.actor_id ? { id: r.actor_id as string, name: (r.actor_name as string | null) ?? '' } : null,
    scope: JSON.parse(r.scope as string),
    dryRun: r.dry_run === 1,
    startedAt: r.started_at as string,
    finishedAt: (r.finished_at as string | null) ?? null,
    summary: r.summary ? JSON.parse(r.summary as string) : null,
  };
}
