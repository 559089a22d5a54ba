import type { AuditTrail } from '../store/audit-trail';
import { APP_NAME } from './deps';
import { jobKey, type Job, type JobStore } from '../store/jobs';
import type { Logger } from './logger';

const SCHEDULER_ACTOR = { id: 'system', name: APP_NAME };

/** A job failure that retrying cannot fix (the group was deleted, the request is gone). */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/**
 * The lane of the jobs that change the directory or decide from what it holds (grants,
 * removals, plans, the HR feed's actions, reviews' closes, drift checks): they run one at a
 * time, whatever their request, as two of them on one membership must not interleave.
 */
export const DIRECTORY_LANE = 'lane:directory';

/** The scheduler's own job: tells the technicians about a job quarantined at start (durable, so a stop loses no ticket). */
export const QUARANTINE_NOTICE_JOB = 'job.quarantine-notice';

/** What runs one kind of job. */
export interface JobHandler {
  /** Jobs of one lane run one at a time, whatever their request (see {@link DIRECTORY_LANE}). */
  lane?: string;
  /** Does the work. Throwing retries it with backoff, up to the job's `maxAttempts`. */
  run(job: Job): Promise<void>;
  /**
   * After the last attempt failed (the job is already marked failed): record the outcome and
   * tell whoever must know. A returned notice goes to the technicians instead of the generic one.
   */
  onGiveUp?(job: Job, error: Error): Promise<TechnicianNotice | void>;
}

/** A problem only a person can fix. Posted to the technicians; a ticket queue can take the same notice later. */
export interface TechnicianNotice {
  title: string;
  text: string;
  facts?: Array<{ title: string; value: string }>;
  requestId?: string | null;
  /**
   * The ticket type (`signin`, `report`, `security`, `provisioning`, `escalation`, ...); the
   * ticket queue infers it from the title when absent.
   */
  type?: string;
  /** Who asked, and whom it is about; inferred from the request or recovery when absent. */
  requester?: { id: string | null; name: string | null } | null;
  subject?: { id: string | null; name: string | null } | null;
}

/** Where technician notices go (today the technicians' channel). */
export interface TechnicianNotices {
  raise(notice: TechnicianNotice): Promise<void>;
}

export interface SchedulerOptions {
  jobs: JobStore;
  clock: () => Date;
  logger: Logger;
  technicians: TechnicianNotices;
  /** First retry delay; doubles per attempt up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often due jobs are looked for (they are also run as soon as they are scheduled, via `kick`). */
  pollMs: number;
  /** How many jobs run at once (of different requests). Default 1. */
  concurrency?: number;
  /** Where a job quarantined at start is recorded (`job.quarantined`), in the transaction that quarantines it. */
  audit?: AuditTrail;
  /** Attempts of the quarantine notice job. Default 5. */
  noticeAttempts?: number;
}

/**
 * Runs durable jobs from the store when they are due, in due order: up to `concurrency` at
 * once, never two of one request (or, for jobs of no request, of one kind) nor two of one
 * lane, so a request's card updates and messages keep their order and the directory's
 * writers run one at a time, while one slow delivery does not hold up the others. A failed
 * attempt is retried with exponential backoff (or the directory's `Retry-After`); after the
 * last attempt the job is marked failed, its handler's `onGiveUp` runs and the technicians
 * get a notice. On start, jobs a stopped process left running are made due again and every
 * job that became due while the bot was down runs.
 *
 * The clock is injectable: tests move it forward and call {@link runDue}.
 */
export class Scheduler {
  private readonly handlers = new Map<string, JobHandler>();
  /** The lane of each kind that has one. */
  private readonly lanes: Record<string, string> = {};
  private loop: Promise<void> | null = null;
  private again = false;
  /** Jobs running now, by key. */
  private readonly running = new Map<string, Promise<void>>();
  /** Wakes a loop waiting on running jobs when a job is scheduled meanwhile. */
  private wake: (() => void) | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: SchedulerOptions) {
    this.register(QUARANTINE_NOTICE_JOB, { run: (job) => this.runQuarantineNotice(job) });
  }

  register(kind: string, handler: JobHandler): void {
    if (this.handlers.has(kind)) throw new Error(`job kind ${kind} registered twice`);
    this.handlers.set(kind, handler);
    if (handler.lane) this.lanes[kind] = handler.lane;
  }

  /**
   * Recovers interrupted jobs, runs the due ones (in the background) and starts polling. A job
   * a stopped process left running has used an attempt; one out of attempts is quarantined
   * instead of run again (a job that kills the process would otherwise kill every start),
   * audited, with one ticket for the technicians through the failed-job path.
   */
  start(): void {
    const { recovered, quarantined } = this.o.jobs.recoverInterrupted((job) => this.onQuarantine(job));
    if (recovered) this.o.logger.warn({ recovered }, 'jobs interrupted by a stop run again');
    for (const job of quarantined) this.o.logger.error({ jobId: job.id, kind: job.kind, attempts: job.attempts, correlationId: job.requestId ?? undefined }, 'a job was running each time the process stopped: quarantined, not run again');
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.o.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Inside the quarantining transaction: its audit event and its notice job. */
  private onQuarantine(job: Job, reason?: string): void {
    this.o.audit?.append({
      actor: SCHEDULER_ACTOR,
      action: 'job.quarantined',
      target: `job:${job.id}`,
      outcome: 'failure',
      correlationId: job.requestId,
      details: { jobId: job.id, kind: job.kind, attempts: job.attempts, maxAttempts: job.maxAttempts, ...(reason ? { reason } : {}) },
    });
    // A notice job that itself took the process down is not noticed again (no chain of them): the log and the trail say it.
    if (job.kind === QUARANTINE_NOTICE_JOB) return;
    this.o.jobs.schedule({
      kind: QUARANTINE_NOTICE_JOB,
      requestId: null,
      dedupeKey: `job.quarantined:${job.id}`,
      payload: { jobId: job.id },
      runAt: this.o.clock(),
      maxAttempts: this.o.noticeAttempts ?? 5,
    });
  }

  /**
   * A claimed job whose stored payload cannot be read is never run (its handler would fail, or
   * worse, act on nothing): quarantined at once, like a job that kept stopping the process.
   */
  private quarantineUnreadable(job: Job): void {
    const reason = job.payloadError ?? 'the payload cannot be read';
    this.o.jobs.transaction(() => {
      if (!this.o.jobs.quarantineRunning(job.id, reason)) return;
      this.onQuarantine(this.o.jobs.get(job.id) ?? job, reason);
    });
    this.o.logger.error({ jobId: job.id, kind: job.kind, correlationId: job.requestId ?? undefined }, 'a job whose payload cannot be read was quarantined, not run');
  }

  /** The failed-job path for a quarantined job: its handler's `onGiveUp`, then the notice; a notice that fails is retried. */
  private async runQuarantineNotice(notice: Job): Promise<void> {
    const job = this.o.jobs.get(Number(notice.payload.jobId));
    if (!job) throw new PermanentJobError(`job ${String(notice.payload.jobId)} not found`);
    const handler = this.handlers.get(job.kind);
    const error = new Error(`the process stopped while it ran, ${job.attempts} time(s); quarantined`);
    const log = this.o.logger.child({ jobId: job.id, kind: job.kind, correlationId: job.requestId ?? undefined });
    let custom: TechnicianNotice | void = undefined;
    // onGiveUp records the outcome once: a retry of this notice does not run it again.
    if (notice.attempts === 1 && handler?.onGiveUp) {
      try {
        custom = await handler.onGiveUp(job, error);
      } catch (err) {
        log.error({ err: { message: (err as Error).message } }, 'handling a quarantined job failed');
      }
    }
    await this.o.technicians.raise(
      custom ?? {
        title: `A helpdesk job was quarantined: ${job.kind}`,
        text: `The helpdesk stopped while this job ran, ${job.attempts} time(s), so it may be what stops it. It will not run again until someone looks at it; the bot runs on without it.`,
        facts: [...(job.requestId ? [{ title: 'Request', value: job.requestId }] : []), { title: 'Job', value: `#${job.id} ${job.kind}` }],
        requestId: job.requestId,
        type: 'job',
      },
    );
  }

  /** Runs due jobs soon, without waiting (call after scheduling one that is due now). */
  kick(): void {
    if (this.stopped) return;
    if (this.loop) {
      this.again = true;
      this.wake?.();
      return;
    }
    // Started on a later tick: a job that kicks from its synchronous part sees this loop.
    this.loop = Promise.resolve()
      .then(() => this.drain())
      .catch((err) => this.o.logger.error({ err: { message: (err as Error).message } }, 'scheduler loop failed'))
      .finally(() => {
        this.loop = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves when no job is running and none is due. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Runs every job due now and waits for them (tests move the clock, then call this). */
  async runDue(): Promise<void> {
    await this.idle();
    this.kick();
    await this.idle();
  }

  /** Stops polling; waits up to `graceMs` for a running job. A job cut short runs again at the next start. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.loop) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (t = setTimeout(resolve, graceMs)))]);
    clearTimeout(t);
  }

  private async drain(): Promise<void> {
    const limit = Math.max(1, this.o.concurrency ?? 1);
    while (!this.stopped) {
      const job = this.running.size < limit ? this.o.jobs.claimNext(this.o.clock(), this.running.keys(), this.lanes) : null;
      if (job?.payloadError) {
        this.quarantineUnreadable(job);
        continue;
      }
      if (job) {
        const key = jobKey(job, this.lanes);
        this.running.set(
          key,
          this.execute(job)
            .catch((err) => this.o.logger.error({ jobId: job.id, err: { message: (err as Error).message } }, 'running a job failed'))
            .finally(() => this.running.delete(key)),
        );
        continue;
      }
      if (!this.running.size) return;
      // A job ends (its request's next job may be due), or one is scheduled meanwhile.
      this.again = false;
      await Promise.race([...this.running.values(), new Promise<void>((resolve) => (this.wake = resolve))]);
      this.wake = null;
    }
    await Promise.allSettled([...this.running.values()]);
  }

  private async execute(job: Job): Promise<void> {
    const log = this.o.logger.child({ jobId: job.id, kind: job.kind, correlationId: job.requestId ?? undefined, attempt: job.attempts });
    const handler = this.handlers.get(job.kind);
    if (!handler) {
      log.error('no handler for this job kind');
      this.o.jobs.fail(job.id, `no handler for ${job.kind}`);
      return;
    }
    try {
      await handler.run(job);
      if (!this.isOpen()) return;
      this.o.jobs.complete(job.id);
      log.debug('job done');
    } catch (err) {
      if (!this.isOpen()) return;
      const error = err instanceof Error ? err : new Error(String(err));
      const permanent = error instanceof PermanentJobError;
      if (!permanent && job.attempts < job.maxAttempts) {
        const delay = this.backoffMs(job.attempts, error);
        const at = new Date(this.o.clock().getTime() + delay);
        this.o.jobs.retryAt(job.id, at, error.message);
        log.warn({ err: { name: error.name, message: error.message }, retryAt: at.toISOString() }, 'job failed; will retry');
        return;
      }
      this.o.jobs.fail(job.id, error.message);
      log.error({ err: { name: error.name, message: error.message } }, 'job failed for good');
      await this.giveUp(job, handler, error, log);
    }
  }

  private async giveUp(job: Job, handler: JobHandler, error: Error, log: Logger): Promise<void> {
    let notice: TechnicianNotice | void = undefined;
    try {
      notice = await handler.onGiveUp?.(job, error);
    } catch (err) {
      log.error({ err: { message: (err as Error).message } }, 'handling a failed job failed');
    }
    try {
      await this.o.technicians.raise(
        notice ?? {
          title: `A helpdesk job failed: ${job.kind}`,
          text: `It failed ${job.attempts} time(s) and will not be retried. Last error: ${error.message}`,
          facts: [...(job.requestId ? [{ title: 'Request', value: job.requestId }] : []), { title: 'Job', value: `#${job.id} ${job.kind}` }],
          requestId: job.requestId,
        },
      );
    } catch (err) {
      log.error({ err: { message: (err as Error).message } }, 'technician notice failed');
    }
  }

  /** Exponential backoff from the base, capped; a throttled directory's `Retry-After` wins when longer. */
  backoffMs(attempt: number, error?: Error): number {
    const exp = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.max(0, attempt - 1));
    const retryAfter = (error as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    return typeof retryAfter === 'number' && retryAfter * 1000 > exp ? Math.min(retryAfter * 1000, this.o.retryMaxMs) : exp;
  }

  /** False once the store was closed under a job that outlived the shutdown grace. */
  private isOpen(): boolean {
    try {
      this.o.jobs.nextRunAt();
      return true;
    } catch {
      return false;
    }
  }
}
