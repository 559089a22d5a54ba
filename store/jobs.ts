import type { Db } from './db';

export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

/** A unit of durable work, run by the scheduler when `nextRunAt` has come. */
export interface Job {
  id: number;
  kind: string;
  requestId: string | null;
  dedupeKey: string | null;
  payload: Record<string, unknown>;
  state: JobState;
  /** Attempts started so far (including one that is running). */
  attempts: number;
  maxAttempts: number;
  nextRunAt: string;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  /**
   * Set when the stored payload is not a JSON object (a damaged or edited row): the job is
   * read with an empty payload, so that one row can neither stop the bot from starting nor
   * block every other job; the scheduler quarantines it instead of running it.
   */
  payloadError?: string;
}

export interface NewJob {
  kind: string;
  /** Correlates the job with an access request (and cancels it with the request). */
  requestId?: string | null;
  /** Scheduling a job with a key already used does nothing. */
  dedupeKey?: string | null;
  payload?: Record<string, unknown>;
  runAt: Date | string;
  maxAttempts: number;
}

/** How the `last_error` of a job quarantined at start begins (see {@link JobStore.recoverInterrupted}). */
export const QUARANTINE_PREFIX = 'quarantined:';

const COLUMNS = 'id, kind, request_id, dedupe_key, payload, state, attempts, max_attempts, next_run_at, last_error, created_at, updated_at';

/**
 * The jobs table. Synchronous, so scheduling a job is part of the transaction that makes
 * it necessary (an approval and its provisioning job commit together or not at all).
 */
export class JobStore {
  private readonly s;
  private readonly claimTx;

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO jobs (kind, request_id, dedupe_key, payload, state, attempts, max_attempts, next_run_at, created_at, updated_at)
         VALUES (@kind, @requestId, @dedupeKey, @payload, 'pending', 0, @maxAttempts, @runAt, @now, @now)
         ON CONFLICT (dedupe_key) DO NOTHING`,
      ),
      get: db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`),
      // The earliest due job whose key (see jobKey) is not running already.
      nextDue: db.prepare(
        `SELECT id FROM jobs WHERE state = 'pending' AND next_run_at <= @now
           AND coalesce(json_extract(@lanes, '$."' || kind || '"'), request_id, 'kind:' || kind) NOT IN (SELECT value FROM json_each(@busy))
         ORDER BY next_run_at, id LIMIT 1`,
      ),
      claim: db.prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = @now WHERE id = @id AND state = 'pending'`),
      done: db.prepare(`UPDATE jobs SET state = 'done', last_error = NULL, updated_at = @now WHERE id = @id AND state = 'running'`),
      retry: db.prepare(`UPDATE jobs SET state = 'pending', next_run_at = @runAt, last_error = @error, updated_at = @now WHERE id = @id AND state = 'running'`),
      fail: db.prepare(`UPDATE jobs SET state = 'failed', last_error = @error, updated_at = @now WHERE id = @id AND state = 'running'`),
      cancelForRequest: db.prepare(
        `UPDATE jobs SET state = 'cancelled', updated_at = @now WHERE request_id = @requestId AND state = 'pending' AND (@kind IS NULL OR kind = @kind)`,
      ),
      recover: db.prepare(`UPDATE jobs SET state = 'pending', next_run_at = @now, updated_at = @now WHERE state = 'running'`),
      leftRunning: db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE state = 'running' ORDER BY id`),
      quarantine: db.prepare(
        `UPDATE jobs SET state = 'failed', attempts = attempts + 1, last_error = @error, updated_at = @now WHERE id = @id AND state = 'running'`,
      ),
      forRequest: db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE request_id = ? ORDER BY id`),
      byState: db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE state = ? ORDER BY id`),
      nextRunAt: db.prepare(`SELECT min(next_run_at) AS at FROM jobs WHERE state = 'pending'`),
    };
    this.claimTx = db.transaction((now: string, busy: string, lanes: string): Job | null => {
      const row = this.s.nextDue.get({ now, busy, lanes }) as { id: number } | undefined;
      if (!row) return null;
      if (this.s.claim.run({ id: row.id, now }).changes !== 1) return null;
      return this.get(row.id);
    });
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Schedules a job; returns its id, or null when the dedupe key was already used. */
  schedule(job: NewJob): number | null {
    const result = this.s.insert.run({
      kind: job.kind,
      requestId: job.requestId ?? null,
      dedupeKey: job.dedupeKey ?? null,
      payload: JSON.stringify(job.payload ?? {}),
      maxAttempts: job.maxAttempts,
      runAt: new Date(job.runAt).toISOString(),
      now: this.now(),
    });
    return result.changes === 1 ? Number(result.lastInsertRowid) : null;
  }

  get(id: number): Job | null {
    return toJob(this.s.get.get(id));
  }

  /**
   * Marks the earliest due job running (one attempt more) and returns it; null when none is
   * due. Jobs whose key ({@link jobKey}, with `lanes` by kind) is in `busy` are passed over:
   * the scheduler runs one job per key at a time, so a request's steps keep their order.
   */
  claimNext(now: Date = this.clock(), busy: Iterable<string> = [], lanes: Readonly<Record<string, string>> = {}): Job | null {
    const keys = JSON.stringify([...busy]);
    const l = JSON.stringify(lanes);
    return this.db.inTransaction ? this.claimTx.default(now.toISOString(), keys, l) : this.claimTx.immediate(now.toISOString(), keys, l);
  }

  complete(id: number): void {
    this.s.done.run({ id, now: this.now() });
  }

  /** Back to pending, to run again at `runAt`. */
  retryAt(id: number, runAt: Date, error: string): void {
    this.s.retry.run({ id, runAt: runAt.toISOString(), error: error.slice(0, 1000), now: this.now() });
  }

  fail(id: number, error: string): void {
    this.s.fail.run({ id, error: error.slice(0, 1000), now: this.now() });
  }

  /** Cancels a request's pending jobs (of one kind, or all). Returns how many. */
  cancelForRequest(requestId: string, kind: string | null = null): number {
    return this.s.cancelForRequest.run({ requestId, kind, now: this.now() }).changes;
  }

  /**
   * Jobs left `running` by a process that stopped mid-job. The cut-short run was counted when
   * it was claimed, and counts once more as a failure (it may be what takes the process down,
   * and an unsupervised last attempt could take it down again): a job whose count then reaches
   * its `maxAttempts` is quarantined - `failed` with {@link QUARANTINE_PREFIX}, never
   * run again - and `onQuarantine` runs for it inside the same transaction (its audit event,
   * its notice job). The others go back to pending, due now. One bot process owns the
   * database, so at start nothing else can be running them.
   */
  recoverInterrupted(onQuarantine: (job: Job) => void = () => {}): { recovered: number; quarantined: Job[] } {
    const run = () => {
      const quarantined: Job[] = [];
      const now = this.now();
      for (const job of this.s.leftRunning.all().map((r) => toJob(r)!)) {
        if (job.attempts + 1 < job.maxAttempts) continue;
        const error = `${QUARANTINE_PREFIX} the process stopped while it ran, ${job.attempts + 1} of ${job.maxAttempts} attempt(s) used`;
        if (this.s.quarantine.run({ id: job.id, error, now }).changes !== 1) continue;
        const q = this.get(job.id)!;
        onQuarantine(q);
        quarantined.push(q);
      }
      return { recovered: this.s.recover.run({ now }).changes, quarantined };
    };
    return this.db.inTransaction ? run() : this.db.transaction(run).immediate();
  }

  /** Quarantines a job this process claimed (`running`): failed with {@link QUARANTINE_PREFIX} and `reason`. False when it was not running. */
  quarantineRunning(id: number, reason: string): boolean {
    return this.s.fail.run({ id, error: `${QUARANTINE_PREFIX} ${reason}`.slice(0, 1000), now: this.now() }).changes === 1;
  }

  /** Runs `fn` in one transaction of the jobs' database (with the audit event that goes with it). */
  transaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  forRequest(requestId: string): Job[] {
    return this.s.forRequest.all(requestId).map((r) => toJob(r)!);
  }

  withState(state: JobState): Job[] {
    return this.s.byState.all(state).map((r) => toJob(r)!);
  }

  /** When the next pending job is due, or null. */
  nextRunAt(): string | null {
    return (this.s.nextRunAt.get() as { at: string | null }).at;
  }
}

/**
 * What orders jobs: those of one key run one after the other, in due order. The key is the
 * lane of the job's kind when it has one (`lanes`), else its request, else its kind.
 */
export function jobKey(job: Pick<Job, 'kind' | 'requestId'>, lanes: Readonly<Record<string, string>> = {}): string {
  return lanes[job.kind] ?? job.requestId ?? `kind:${job.kind}`;
}

function decodePayload(raw: unknown): { payload: Record<string, unknown>; payloadError?: string } {
  try {
    const p = JSON.parse(String(raw)) as unknown;
    if (p && typeof p === 'object' && !Array.isArray(p)) return { payload: p as Record<string, unknown> };
    return { payload: {}, payloadError: 'the payload is not a JSON object' };
  } catch (err) {
    return { payload: {}, payloadError: `the payload cannot be read: ${(err as Error).message.slice(0, 200)}` };
  }
}

function toJob(row: unknown): Job | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as number,
    kind: r.kind as string,
    requestId: (r.request_id as string | null) ?? null,
    dedupeKey: (r.dedupe_key as string | null) ?? null,
    ...decodePayload(r.payload),
    state: r.state as JobState,
    attempts: r.attempts as number,
    maxAttempts: r.max_attempts as number,
    nextRunAt: r.next_run_at as string,
    lastError: (r.last_error as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}
