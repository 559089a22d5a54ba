import type { Db } from './db';

/**
 * What the HR feed keeps: every batch received (a file from the drop folder or a webhook
 * call) with its per-line report; the latest accepted record of each employee id with its
 * content hash (the same record again changes nothing); and the lifecycle actions the
 * records caused (joiner, mover, leaver), each due at a time and run by a durable job.
 *
 * Every method is synchronous, so the caller can run it in `store.transaction(...)` with
 * the audit event of the change. State changes are guarded `UPDATE ... WHERE state = ?`
 * statements that report whether they won.
 */

export type HrBatchSource = 'file' | 'webhook';
export type HrLineOutcome = 'changed' | 'unchanged' | 'rejected';
export type HrActionKind = 'joiner' | 'mover' | 'leaver';
/**
 * `scheduled` (waits for its time) → `running` → `done`, `partial` (a step failed: run the
 * plan again), `nothing-to-do`, `waiting-approval` (a privileged account: a technician's
 * approval on the plan card), `failed` (gave up); or `superseded` by a newer record first.
 */
export type HrActionState = 'scheduled' | 'running' | 'done' | 'partial' | 'nothing-to-do' | 'waiting-approval' | 'superseded' | 'failed';

/** The fields of a record as stored (the normalised HR record). */
export interface StoredHrRecord {
  employeeId: string;
  upn: string;
  department: string;
  title: string | null;
  managerUpn: string | null;
  startDate: string;
  endDate: string | null;
  status: string;
}

export interface HrBatch {
  id: string;
  source: HrBatchSource;
  /** The file name, or `webhook`. */
  name: string;
  sha256: string;
  bytes: number;
  /** `rejected`: the file as a whole was refused (nothing in it applied). */
  state: 'processed' | 'rejected';
  error: string | null;
  records: number;
  changed: number;
  unchanged: number;
  rejected: number;
  createdAt: string;
  summaryPostedAt: string | null;
}

export interface HrLine {
  batchId: string;
  line: number;
  employeeId: string | null;
  upn: string | null;
  outcome: HrLineOutcome;
  /** Why it was rejected, or what it changed. */
  reason: string | null;
  /** Ids of the actions the line caused. */
  actions: string[];
}

export interface HrEmployee {
  employeeId: string;
  userId: string;
  upn: string;
  record: StoredHrRecord;
  contentHash: string;
  /** A joiner action was carried out for the current employment. */
  started: boolean;
  batchId: string;
  updatedAt: string;
}

export interface HrAction {
  id: string;
  batchId: string;
  employeeId: string;
  userId: string;
  userName: string;
  upn: string;
  kind: HrActionKind;
  dueAt: string;
  state: HrActionState;
  /** The record that caused it. */
  record: StoredHrRecord;
  /** Technician plans it made (`PLN-...`). */
  planIds: string[];
  /** The access review of a mover's old access, when one was started. */
  reviewId: string | null;
  /** The ticket it opened (a privileged account, a plan that finished with problems). */
  ticketId: string | null;
  detail: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/**
 * The key an employee id is stored and found under: ids are case-insensitive (`e-1017` is
 * `E-1017`); the spelling HR used is kept for display. Ids are ASCII (letters, digits, `.`,
 * `_`, `-`), so this is SQLite's `lower()` too.
 */
export function employeeKey(employeeId: string): string {
  return employeeId.toLowerCase();
}

/** Whether the webhook's signed request was claimed now, or the batch it already became (null: still being processed). */
export type WebhookSignatureClaim = { claimed: true } | { claimed: false; batch: string | null };

const BATCH_COLUMNS = 'id, source, name, sha256, bytes, state, error, records, changed, unchanged, rejected, created_at, summary_posted_at';
const ACTION_COLUMNS = `id, batch_id, employee_id, user_id, user_name, upn, kind, due_at, state, record, plan_ids, review_id, ticket_id, detail,
  created_at, updated_at, finished_at`;
/** States an action is still to be carried out in. */
const OPEN_STATES = `('scheduled', 'running', 'waiting-approval')`;

export class HrFeedStore {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.s = {
      nextBatch: db.prepare(`UPDATE sequences SET value = value + 1 WHERE name = 'hr_batch' RETURNING value`),
      nextAction: db.prepare(`UPDATE sequences SET value = value + 1 WHERE name = 'hr_action' RETURNING value`),
      insertBatch: db.prepare(
        `INSERT INTO hr_batches (id, source, name, sha256, bytes, state, error, records, changed, unchanged, rejected, created_at)
         VALUES (@id, @source, @name, @sha256, @bytes, @state, @error, @records, @changed, @unchanged, @rejected, @now)`,
      ),
      getBatch: db.prepare(`SELECT ${BATCH_COLUMNS} FROM hr_batches WHERE id = ?`),
      earlierWithHash: db.prepare(`SELECT ${BATCH_COLUMNS} FROM hr_batches WHERE sha256 = ? AND id <> ? ORDER BY created_at, id LIMIT 1`),
      summaryPosted: db.prepare(`UPDATE hr_batches SET summary_posted_at = ? WHERE id = ? AND summary_posted_at IS NULL`),
      insertLine: db.prepare(
        `INSERT INTO hr_batch_lines (batch_id, line, employee_id, upn, outcome, reason, actions) VALUES (@batchId, @line, @employeeId, @upn, @outcome, @reason, @actions)`,
      ),
      lines: db.prepare(`SELECT batch_id, line, employee_id, upn, outcome, reason, actions FROM hr_batch_lines WHERE batch_id = ? AND (? IS NULL OR outcome = ?) ORDER BY line LIMIT ?`),
      getEmployee: db.prepare(`SELECT employee_id, user_id, upn, record, content_hash, started, batch_id, updated_at FROM hr_employees WHERE employee_key = ?`),
      employeeByUser: db.prepare(`SELECT employee_id, user_id, upn, record, content_hash, started, batch_id, updated_at FROM hr_employees WHERE user_id = ?`),
      upsertEmployee: db.prepare(
        `INSERT INTO hr_employees (employee_key, employee_id, user_id, upn, record, content_hash, started, batch_id, updated_at)
         VALUES (@key, @employeeId, @userId, @upn, @record, @contentHash, @started, @batchId, @now)
         ON CONFLICT (employee_key) DO UPDATE SET employee_id = excluded.employee_id, user_id = excluded.user_id, upn = excluded.upn, record = excluded.record,
           content_hash = excluded.content_hash, started = excluded.started, batch_id = excluded.batch_id, updated_at = excluded.updated_at`,
      ),
      markStarted: db.prepare(`UPDATE hr_employees SET started = 1, updated_at = ? WHERE employee_key = ? AND started = 0`),
      markLeft: db.prepare(`UPDATE hr_employees SET started = 0, updated_at = ? WHERE employee_key = ? AND started = 1`),
      insertAction: db.prepare(
        `INSERT INTO hr_actions (id, batch_id, employee_id, user_id, user_name, upn, kind, due_at, state, record, plan_ids, created_at, updated_at)
         VALUES (@id, @batchId, @employeeId, @userId, @userName, @upn, @kind, @dueAt, 'scheduled', @record, '[]', @now, @now)`,
      ),
      getAction: db.prepare(`SELECT ${ACTION_COLUMNS} FROM hr_actions WHERE id = ?`),
      openFor: db.prepare(`SELECT ${ACTION_COLUMNS} FROM hr_actions WHERE lower(employee_id) = ? AND state IN ${OPEN_STATES} ORDER BY created_at, id`),
      forBatch: db.prepare(`SELECT ${ACTION_COLUMNS} FROM hr_actions WHERE batch_id = ? ORDER BY id`),
      claim: db.prepare(`UPDATE hr_actions SET state = 'running', updated_at = @now WHERE id = @id AND state = 'scheduled'`),
      setPlans: db.prepare(`UPDATE hr_actions SET plan_ids = @planIds, updated_at = @now WHERE id = @id`),
      setReview: db.prepare(`UPDATE hr_actions SET review_id = @reviewId, updated_at = @now WHERE id = @id`),
      setTicket: db.prepare(`UPDATE hr_actions SET ticket_id = @ticketId, updated_at = @now WHERE id = @id`),
      finish: db.prepare(
        `UPDATE hr_actions SET state = @to, detail = @detail, finished_at = @now, updated_at = @now WHERE id = @id AND state IN ('scheduled', 'running')`,
      ),
      supersede: db.prepare(`UPDATE hr_actions SET state = 'superseded', detail = @detail, finished_at = @now, updated_at = @now WHERE id = @id AND state IN ('scheduled', 'waiting-approval')`),
      purgeSignatures: db.prepare(`DELETE FROM hr_webhook_signatures WHERE expires_at < ?`),
      // Taken when new, or when the one stored has expired (not purged yet): one row changed means claimed.
      claimSignature: db.prepare(
        `INSERT INTO hr_webhook_signatures (signature, expires_at, batch_id, received_at) VALUES (@signature, @expiresAt, NULL, @now)
         ON CONFLICT (signature) DO UPDATE SET expires_at = excluded.expires_at, batch_id = NULL, received_at = excluded.received_at
         WHERE hr_webhook_signatures.expires_at < excluded.received_at`,
      ),
      signatureBatch: db.prepare(`SELECT batch_id FROM hr_webhook_signatures WHERE signature = ?`),
      settleSignature: db.prepare(`UPDATE hr_webhook_signatures SET batch_id = ? WHERE signature = ?`),
      releaseSignature: db.prepare(`DELETE FROM hr_webhook_signatures WHERE signature = ? AND batch_id IS NULL`),
    };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  // ---- batches ---------------------------------------------------------------------------------

  /** Records a batch (`HRB-1001`, ...) with its counts. */
  createBatch(b: Omit<HrBatch, 'id' | 'createdAt' | 'summaryPostedAt'>): HrBatch {
    const { value } = this.s.nextBatch.get() as { value: number };
    const id = `HRB-${value}`;
    this.s.insertBatch.run({ id, ...b, now: this.now() });
    return this.batch(id)!;
  }

  batch(id: string): HrBatch | null {
    return toBatch(this.s.getBatch.get(id));
  }

  /** An earlier batch with exactly the same bytes (a replayed file), or null. */
  earlierWithSameContent(batch: HrBatch): HrBatch | null {
    return toBatch(this.s.earlierWithHash.get(batch.sha256, batch.id));
  }

  /** Records that the batch's summary went to the technicians; false when it already had. */
  markSummaryPosted(id: string): boolean {
    return this.s.summaryPosted.run(this.now(), id).changes === 1;
  }

  addLine(l: HrLine): void {
    this.s.insertLine.run({ ...l, actions: JSON.stringify(l.actions) });
  }

  /** The batch's lines in order (only those with `outcome`, when given). */
  lines(batchId: string, outcome: HrLineOutcome | null = null, limit = 10_000): HrLine[] {
    return (this.s.lines.all(batchId, outcome, outcome, limit) as Record<string, unknown>[]).map((r) => ({
      batchId: r.batch_id as string,
      line: r.line as number,
      employeeId: (r.employee_id as string | null) ?? null,
      upn: (r.upn as string | null) ?? null,
      outcome: r.outcome as HrLineOutcome,
      reason: (r.reason as string | null) ?? null,
      actions: JSON.parse(r.actions as string),
    }));
  }

  // ---- employees -------------------------------------------------------------------------------

  /** The employee stored under this id, in any case. */
  employee(employeeId: string): HrEmployee | null {
    return toEmployee(this.s.getEmployee.get(employeeKey(employeeId)));
  }

  employeeOfUser(userId: string): HrEmployee | null {
    return toEmployee(this.s.employeeByUser.get(userId));
  }

  /** Keeps the latest accepted record of an employee id (in any case; this spelling is shown from now on). */
  saveEmployee(e: Omit<HrEmployee, 'updatedAt'>): void {
    this.s.upsertEmployee.run({ ...e, key: employeeKey(e.employeeId), record: JSON.stringify(e.record), started: e.started ? 1 : 0, now: this.now() });
  }

  /** The employee's joiner was carried out: a later change is a mover. */
  markStarted(employeeId: string): void {
    this.s.markStarted.run(this.now(), employeeKey(employeeId));
  }

  /** The employee was offboarded: a later active record is a joiner again (a rehire). */
  markLeft(employeeId: string): void {
    this.s.markLeft.run(this.now(), employeeKey(employeeId));
  }

  // ---- actions -----------------------------------------------------------------------------------

  /** A lifecycle action (`HRA-1001`, ...), scheduled for `dueAt`. */
  createAction(a: Pick<HrAction, 'batchId' | 'employeeId' | 'userId' | 'userName' | 'upn' | 'kind' | 'dueAt' | 'record'>): HrAction {
    const { value } = this.s.nextAction.get() as { value: number };
    const id = `HRA-${value}`;
    this.s.insertAction.run({ id, ...a, record: JSON.stringify(a.record), now: this.now() });
    return this.action(id)!;
  }

  action(id: string): HrAction | null {
    return toAction(this.s.getAction.get(id));
  }

  /** An employee's actions still to be carried out (scheduled, running, or waiting for approval). */
  openActionsOf(employeeId: string): HrAction[] {
    return this.s.openFor.all(employeeKey(employeeId)).map((r) => toAction(r)!);
  }

  actionsOfBatch(batchId: string): HrAction[] {
    return this.s.forBatch.all(batchId).map((r) => toAction(r)!);
  }

  /** Scheduled → running: the one-time claim of carrying it out. */
  claim(id: string): boolean {
    return this.s.claim.run({ id, now: this.now() }).changes === 1;
  }

  setPlans(id: string, planIds: string[]): void {
    this.s.setPlans.run({ id, planIds: JSON.stringify(planIds), now: this.now() });
  }

  setReview(id: string, reviewId: string): void {
    this.s.setReview.run({ id, reviewId, now: this.now() });
  }

  setTicket(id: string, ticketId: string): void {
    this.s.setTicket.run({ id, ticketId, now: this.now() });
  }

  /** Scheduled or running → an end state (or `waiting-approval`). */
  finish(id: string, to: Exclude<HrActionState, 'scheduled' | 'running' | 'superseded'>, detail: string): boolean {
    return this.s.finish.run({ id, to, detail: detail.slice(0, 1000), now: this.now() }).changes === 1;
  }

  /** A newer record replaced what this action was going to do. */
  supersede(id: string, detail: string): boolean {
    return this.s.supersede.run({ id, detail: detail.slice(0, 1000), now: this.now() }).changes === 1;
  }

  // ---- the webhook's replay memory ---------------------------------------------------------------

  /**
   * Claims a signed webhook request (its canonical signature) until `expiresAt`, when its time
   * leaves the window: one guarded INSERT, so of identical deliveries exactly one is claimed,
   * also across a restart. Otherwise the batch it already became. Expired entries are purged.
   */
  claimWebhookSignature(signature: string, expiresAt: Date): WebhookSignatureClaim {
    const now = this.now();
    this.s.purgeSignatures.run(now);
    if (this.s.claimSignature.run({ signature, expiresAt: expiresAt.toISOString(), now }).changes === 1) return { claimed: true };
    const row = this.s.signatureBatch.get(signature) as { batch_id: string | null } | undefined;
    return { claimed: false, batch: row?.batch_id ?? null };
  }

  /** The claimed request became this batch (named in the 409 of a replay). */
  settleWebhookSignature(signature: string, batchId: string): void {
    this.s.settleSignature.run(batchId, signature);
  }

  /** Nothing was applied for the claimed request: the sender may send it again. */
  releaseWebhookSignature(signature: string): void {
    this.s.releaseSignature.run(signature);
  }
}

function toBatch(row: unknown): HrBatch | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as string,
    source: r.source as HrBatchSource,
    name: r.name as string,
    sha256: r.sha256 as string,
    bytes: r.bytes as number,
    state: r.state as HrBatch['state'],
    error: (r.error as string | null) ?? null,
    records: r.records as number,
    changed: r.changed as number,
    unchanged: r.unchanged as number,
    rejected: r.rejected as number,
    createdAt: r.created_at as string,
    summaryPostedAt: (r.summary_posted_at as string | null) ?? null,
  };
}

function toEmployee(row: unknown): HrEmployee | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    employeeId: r.employee_id as string,
    userId: r.user_id as string,
    upn: r.upn as string,
    record: JSON.parse(r.record as string),
    contentHash: r.content_hash as string,
    started: r.started === 1,
    batchId: r.batch_id as string,
    updatedAt: r.updated_at as string,
  };
}

function toAction(row: unknown): HrAction | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as string,
    batchId: r.batch_id as string,
    employeeId: r.employee_id as string,
    userId: r.user_id as string,
    userName: r.user_name as string,
    upn: r.upn as string,
    kind: r.kind as HrActionKind,
    dueAt: r.due_at as string,
    state: r.state as HrActionState,
    record: JSON.parse(r.record as string),
    planIds: JSON.parse(r.plan_ids as string),
    reviewId: (r.review_id as string | null) ?? null,
    ticketId: (r.ticket_id as string | null) ?? null,
    detail: (r.detail as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    finishedAt: (r.finished_at as string | null) ?? null,
  };
}
