import { describe, expect, it } from 'vitest';
import { freshHarnessPerTest } from '../support/access';
import { type Harness } from '../support/harness';
import { say } from '../support/signin';

/**
 * A job that takes the process down (a bug, an answer that exhausts memory) was restarted at
 * every start, so the bot crashed at every start. A job left running by a dead process has
 * used an attempt; out of attempts it is quarantined with one ticket, and the bot starts.
 */
let h: Harness;
freshHarnessPerTest((bot) => (h = bot));

const MAX = 5; // JOB_MAX_ATTEMPTS' default

/** A job row as a process that died while running it left it. */
function leftRunning(kind: string, attempts: number, requestId: string | null = null): number {
  const now = new Date().toISOString();
  const r = h.bot.store.db
    .prepare(
      `INSERT INTO jobs (kind, request_id, dedupe_key, payload, state, attempts, max_attempts, next_run_at, created_at, updated_at)
       VALUES (?, ?, NULL, '{}', 'running', ?, ?, ?, ?, ?)`,
    )
    .run(kind, requestId, attempts, MAX, now, now, now);
  return Number(r.lastInsertRowid);
}

const tickets = (title: string) => (h.bot.store.db.prepare(`SELECT id, type FROM tickets WHERE title = ?`).all(title) as Array<{ id: string; type: string }>);
const quarantinedEvents = (jobId: number) => h.bot.store.audit.query({ action: 'job.quarantined' }).filter((e) => JSON.parse(e.details).jobId === jobId);

describe('a job that was running each time the process died', () => {
  it('is quarantined at start when its attempts are used: failed, audited, one ticket, not run again; the bot serves', async () => {
    const poison = leftRunning('drift.check', MAX - 1);
    const young = leftRunning('ticket.sla-check', 1);
    await h.restart();
    await h.bot.scheduler.idle();

    const job = h.bot.store.jobs.get(poison)!;
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(MAX);
    expect(job.lastError).toMatch(/^quarantined:/);
    expect(quarantinedEvents(poison)).toHaveLength(1);
    expect(quarantinedEvents(poison)[0]).toMatchObject({ outcome: 'failure', target: `job:${poison}` });
    const title = 'A helpdesk job was quarantined: drift.check';
    expect(tickets(title)).toHaveLength(1);
    expect(tickets(title)[0]!.type).toBe('job');
    // A job with attempts left runs again, as before.
    expect(h.bot.store.jobs.get(young)!.state).not.toBe('running');
    expect(quarantinedEvents(young)).toHaveLength(0);

    // The bot is up and answers.
    const health = await fetch(`${h.bot.url}/healthz`);
    expect(health.status).toBe(200);
    const card = await say(h, h.user('employee'), 'reset my password');
    expect(card).toBeTruthy();

    // Another start: nothing more (no second ticket, no second event, the job stays out).
    await h.restart();
    await h.bot.scheduler.idle();
    expect(h.bot.store.jobs.get(poison)!.state).toBe('failed');
    expect(h.bot.store.jobs.get(poison)!.attempts).toBe(MAX);
    expect(quarantinedEvents(poison)).toHaveLength(1);
    expect(tickets(title)).toHaveLength(1);
    expect(h.bot.store.audit.verify().ok).toBe(true);
  });
});

describe('the database', () => {
  it('runs with synchronous=FULL in WAL mode, so an intent on record is on disk before the directory is called', () => {
    expect(h.bot.store.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(h.bot.store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });
});
