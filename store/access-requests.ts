import type { Db } from './db';

/**
 * Access requests, their approvers per stage and their decisions. Every method is
 * synchronous so callers can run it in `store.transaction(...)` together with the audit
 * event. State changes are guarded `UPDATE ... WHERE state = ?` statements that report
 * whether they changed the row: a decision is a one-time claim.
 */

export type RequestState = 'pending' | 'approved' | 'granted' | 'denied' | 'cancelled' | 'expired' | 'failed' | 'revoked' | 'superseded';
/** States in which a request is still in flight (a duplicate of it is refused). */
export const OPEN_STATES: readonly RequestState[] = ['pending', 'approved'];

export type ApproverSource = 'policy' | 'fallback' | 'escalation' | 'delegate';

/** One approval stage as it was when the request was made. */
export interface StageSnapshot {
  approver: 'manager' | 'owners' | 'group';
  groupId?: string;
  /** "Your manager", "Owners of Payroll Reports", "Identity Technicians". */
  title: string;
}

/** The catalog entry as it was when the request was made. */
export interface PolicySnapshot {
  resourceId: string;
  name: string;
  description: string;
  risk: 'low' | 'medium' | 'high';
  groupId: string;
  stages: StageSnapshot[];
}

/** What approvers are shown about the requester, from the directory at request time. */
export interface RequesterContext {
  userPrincipalName: string;
  department: string | null;
  jobTitle: string | null;
  managerId: string | null;
  managerName: string | null;
  /** Catalog resources the requester held when asking. */
  memberships: string[];
}

export interface AccessRequest {
  id: string;
  requesterId: string;
  requesterName: string;
  resourceId: string;
  groupId: string;
  /** Null: permanent. */
  durationHours: number | null;
  /**
   * A fixed end asked for ("until Friday"): the access ends then, whenever it is granted.
   * Null: it ends `durationHours` after the grant.
   */
  endsAt: string | null;
  justification: string | null;
  policy: PolicySnapshot;
  context: RequesterContext;
  state: RequestState;
  stage: number;
  stageCount: number;
  stageStartedAt: string;
  extendsRequestId: string | null;
  createdAt: string;
  updatedAt: string;
  /** Who closed it (final decision, cancel, system expiry) and when. */
  closedById: string | null;
  closedByName: string | null;
  closedAt: string | null;
  closeComment: string | null;
  grantedAt: string | null;
  expiresAt: string | null;
  endedAt: string | null;
}

export interface Approver {
  requestId: string;
  stage: number;
  approverId: string;
  approverName: string;
  source: ApproverSource;
  addedAt: string;
  addedById: string | null;
}

export interface Decision {
  requestId: string;
  stage: number;
  decision: 'approved' | 'denied';
  decidedById: string;
  decidedByName: string;
  comment: string | null;
  decidedAt: string;
}

export interface NewRequest {
  requesterId: string;
  requesterName: string;
  resourceId: string;
  groupId: string;
  durationHours: number | null;
  /** See {@link AccessRequest.endsAt}. */
  endsAt?: string | null;
  justification: string | null;
  policy: PolicySnapshot;
  context: RequesterContext;
  extendsRequestId: string | null;
}

const COLUMNS = `id, requester_id, requester_name, resource_id, group_id, duration_hours, justification, policy, context, state, stage,
  stage_count, stage_started_at, extends_request_id, created_at, updated_at, closed_by_id, closed_by_name, closed_at, close_comment,
  granted_at, expires_at, ended_at, ends_at`;

export class AccessRequests {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.s = {
      nextNumber: db.prepare(`UPDATE sequences SET value = value + 1 WHERE name = 'access_request' RETURNING value`),
      insert: db.prepare(
        `INSERT INTO access_requests (id, requester_id, requester_name, resource_id, group_id, duration_hours, ends_at, justification, policy, context,
           state, stage, stage_count, stage_started_at, extends_request_id, created_at, updated_at)
         VALUES (@id, @requesterId, @requesterName, @resourceId, @groupId, @durationHours, @endsAt, @justification, @policy, @context,
           'pending', 1, @stageCount, @now, @extendsRequestId, @now, @now)`,
      ),
      get: db.prepare(`SELECT ${COLUMNS} FROM access_requests WHERE id = ?`),
      byRequester: db.prepare(`SELECT ${COLUMNS} FROM access_requests WHERE requester_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`),
      openByRequester: db.prepare(
        `SELECT ${COLUMNS} FROM access_requests WHERE requester_id = ? AND state IN ('pending', 'approved') ORDER BY created_at, id`,
      ),
      grantedByRequester: db.prepare(
        `SELECT ${COLUMNS} FROM access_requests WHERE requester_id = ? AND resource_id = ? AND state = 'granted' ORDER BY granted_at DESC`,
      ),
      pendingForApprover: db.prepare(
        `SELECT ${COLUMNS.split(',').map((c) => `r.${c.trim()}`).join(', ')} FROM access_requests r
         JOIN access_request_approvers a ON a.request_id = r.id AND a.stage = r.stage
         WHERE a.approver_id = ? AND r.state = 'pending' ORDER BY r.created_at, r.id LIMIT ?`,
      ),
      advance: db.prepare(
        `UPDATE access_requests SET stage = stage + 1, stage_started_at = @now, updated_at = @now
         WHERE id = @id AND state = 'pending' AND stage = @stage AND stage < stage_count`,
      ),
      close: db.prepare(
        `UPDATE access_requests SET state = @to, closed_by_id = @byId, closed_by_name = @byName, closed_at = @now, close_comment = @comment, updated_at = @now
         WHERE id = @id AND state = 'pending' AND (@stage IS NULL OR stage = @stage) AND (@requesterId IS NULL OR requester_id = @requesterId)`,
      ),
      grant: db.prepare(`UPDATE access_requests SET state = 'granted', granted_at = @now, expires_at = @expiresAt, updated_at = @now WHERE id = @id AND state = 'approved'`),
      fail: db.prepare(`UPDATE access_requests SET state = 'failed', ended_at = @now, updated_at = @now WHERE id = @id AND state = 'approved'`),
      end: db.prepare(`UPDATE access_requests SET state = @to, ended_at = @now, updated_at = @now WHERE id = @id AND state = 'granted'`),
      addApprover: db.prepare(
        `INSERT INTO access_request_approvers (request_id, stage, approver_id, approver_name, source, added_at, added_by_id)
         VALUES (@requestId, @stage, @approverId, @approverName, @source, @now, @addedById) ON CONFLICT DO NOTHING`,
      ),
      approvers: db.prepare(
        `SELECT request_id, stage, approver_id, approver_name, source, added_at, added_by_id FROM access_request_approvers
         WHERE request_id = ? AND stage = ? ORDER BY added_at, approver_name`,
      ),
      approver: db.prepare(
        `SELECT request_id, stage, approver_id, approver_name, source, added_at, added_by_id FROM access_request_approvers
         WHERE request_id = ? AND stage = ? AND approver_id = ?`,
      ),
      insertDecision: db.prepare(
        `INSERT INTO access_decisions (request_id, stage, decision, decided_by_id, decided_by_name, comment, decided_at)
         VALUES (@requestId, @stage, @decision, @byId, @byName, @comment, @now)`,
      ),
      decisions: db.prepare(
        `SELECT request_id, stage, decision, decided_by_id, decided_by_name, comment, decided_at FROM access_decisions WHERE request_id = ? ORDER BY stage`,
      ),
    };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Inserts a new pending request at stage 1 and returns it with its id (`REQ-1001`, ...). */
  create(input: NewRequest): AccessRequest {
    const { value } = this.s.nextNumber.get() as { value: number };
    const id = `REQ-${value}`;
    this.s.insert.run({
      id,
      requesterId: input.requesterId,
      requesterName: input.requesterName,
      resourceId: input.resourceId,
      groupId: input.groupId,
      durationHours: input.durationHours,
      endsAt: input.endsAt ?? null,
      justification: input.justification,
      policy: JSON.stringify(input.policy),
      context: JSON.stringify(input.context),
      stageCount: input.policy.stages.length,
      extendsRequestId: input.extendsRequestId,
      now: this.now(),
    });
    return this.get(id)!;
  }

  get(id: string): AccessRequest | null {
    return toRequest(this.s.get.get(id));
  }

  /** The requester's most recent requests, newest first. */
  listForRequester(userId: string, limit = 20): AccessRequest[] {
    return this.s.byRequester.all(userId, limit).map((r) => toRequest(r)!);
  }

  /** Requests still in flight (pending or approved and not yet provisioned). */
  openForRequester(userId: string): AccessRequest[] {
    return this.s.openByRequester.all(userId).map((r) => toRequest(r)!);
  }

  /** The requester's current time-bound or permanent grants of a resource. */
  grantedFor(userId: string, resourceId: string): AccessRequest[] {
    return this.s.grantedByRequester.all(userId, resourceId).map((r) => toRequest(r)!);
  }

  /** Pending requests whose current stage lists `userId` as an approver. */
  pendingForApprover(userId: string, limit = 20): AccessRequest[] {
    return this.s.pendingForApprover.all(userId, limit).map((r) => toRequest(r)!);
  }

  /** Moves a pending request from `stage` to the next one. False when someone else got there first. */
  advanceStage(id: string, stage: number): boolean {
    return this.s.advance.run({ id, stage, now: this.now() }).changes === 1;
  }

  /**
   * Closes a pending request (final approval, denial, cancellation, expiry). Only when it is
   * still pending, and at `stage` / of `requesterId` when given. False when it was not.
   */
  closePending(
    id: string,
    to: 'approved' | 'denied' | 'cancelled' | 'expired',
    by: { id: string | null; name: string | null },
    options: { stage?: number; requesterId?: string; comment?: string | null } = {},
  ): boolean {
    return (
      this.s.close.run({
        id,
        to,
        byId: by.id,
        byName: by.name,
        comment: options.comment ?? null,
        stage: options.stage ?? null,
        requesterId: options.requesterId ?? null,
        now: this.now(),
      }).changes === 1
    );
  }

  /** Approved -> granted at `grantedAt`, with the expiry (null: permanent). */
  markGranted(id: string, grantedAt: string, expiresAt: string | null): boolean {
    return this.s.grant.run({ id, expiresAt, now: grantedAt }).changes === 1;
  }

  /** Approved -> failed (provisioning gave up). */
  markFailed(id: string): boolean {
    return this.s.fail.run({ id, now: this.now() }).changes === 1;
  }

  /** Granted -> revoked (access removed at expiry) or superseded (replaced by an extension). */
  endGrant(id: string, to: 'revoked' | 'superseded'): boolean {
    return this.s.end.run({ id, to, now: this.now() }).changes === 1;
  }

  addApprover(a: { requestId: string; stage: number; approverId: string; approverName: string; source: ApproverSource; addedById?: string | null }): boolean {
    return this.s.addApprover.run({ ...a, addedById: a.addedById ?? null, now: this.now() }).changes === 1;
  }

  approvers(requestId: string, stage: number): Approver[] {
    return this.s.approvers.all(requestId, stage).map(toApprover);
  }

  approver(requestId: string, stage: number, userId: string): Approver | null {
    const row = this.s.approver.get(requestId, stage, userId);
    return row ? toApprover(row) : null;
  }

  recordDecision(d: { requestId: string; stage: number; decision: 'approved' | 'denied'; by: { id: string; name: string }; comment: string | null }): void {
    this.s.insertDecision.run({ requestId: d.requestId, stage: d.stage, decision: d.decision, byId: d.by.id, byName: d.by.name, comment: d.comment, now: this.now() });
  }

  decisions(requestId: string): Decision[] {
    return (this.s.decisions.all(requestId) as Record<string, unknown>[]).map((r) => ({
      requestId: r.request_id as string,
      stage: r.stage as number,
      decision: r.decision as 'approved' | 'denied',
      decidedById: r.decided_by_id as string,
      decidedByName: r.decided_by_name as string,
      comment: (r.comment as string | null) ?? null,
      decidedAt: r.decided_at as string,
    }));
  }
}

function toApprover(row: unknown): Approver {
  const r = row as Record<string, unknown>;
  return {
    requestId: r.request_id as string,
    stage: r.stage as number,
    approverId: r.approver_id as string,
    approverName: r.approver_name as string,
    source: r.source as ApproverSource,
    addedAt: r.added_at as string,
    addedById: (r.added_by_id as string | null) ?? null,
  };
}

function toRequest(row: unknown): AccessRequest | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as string,
    requesterId: r.requester_id as string,
    requesterName: r.requester_name as string,
    resourceId: r.resource_id as string,
    groupId: r.group_id as string,
    durationHours: (r.duration_hours as number | null) ?? null,
    endsAt: (r.ends_at as string | null) ?? null,
    justification: (r.justification as string | null) ?? null,
    policy: JSON.parse(r.policy as string),
    context: JSON.parse(r.context as string),
    state: r.state as RequestState,
    stage: r.stage as number,
    stageCount: r.stage_count as number,
    stageStartedAt: r.stage_started_at as string,
    extendsRequestId: (r.extends_request_id as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    closedById: (r.closed_by_id as string | null) ?? null,
    closedByName: (r.closed_by_name as string | null) ?? null,
    closedAt: (r.closed_at as string | null) ?? null,
    closeComment: (r.close_comment as string | null) ?? null,
    grantedAt: (r.granted_at as string | null) ?? null,
    expiresAt: (r.expires_at as string | null) ?? null,
    endedAt: (r.ended_at as string | null) ?? null,
  };
}
