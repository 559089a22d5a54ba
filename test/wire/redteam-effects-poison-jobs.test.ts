import { describe, expect, it } from 'vitest';
import { freshHarnessPerTest } from '../support/access';
import { type Harness } from '../support/harness';
import { say } from '../support/signin';

/**
 * A job row whose payload cannot be decoded (a damaged or edited database) threw while it was
 * claimed or read: at start the bot could not start at all (a crash loop), and once running,
 * the scheduler claimed the same row again on every turn and ran no other job. Such a job is
 * now quarantined (failed, `job.quarantined` with the reason, a ticket) and everything else runs.
 */
let h: Harness;
freshHarnessPerTest((bot) => (h = bot));

function insertJob(kind: string, state: 'pending' | 'running', payload: string, attempts = 0): number {
  const now = new Date(0).toISOString();
  const r = h.bot.store.db
    .prepare(
      `INSERT INTO jobs (kind, request_id, dedupe_key, payload, state, attempts, max_attempts, next_run_at, created_at, updated_at)
       VALUES (?, NULL, NULL, ?, ?, ?, 5, ?, ?, ?)`,
    )
    .run(kind, payload, state, attempts, now, now, now);
  return Number(r.lastInsertRowid);
}

const quarantined = (id: number) => h.bot.store.audit.query({ action: 'job.quarantined' }).filter((e) => JSON.parse(e.details).jobId === id);

describe('a job whose payload cannot be read', () => {
  it('due now: quarantined with a ticket, and the jobs due after it still run', async () => {
    const poison = insertJob('ticket.sla-check', 'pending', '{"oops":');
    const other = insertJob('ticket.sla-check', 'pending', '{}');
    h.bot.scheduler.kick();
    await h.bot.scheduler.idle();
    expect(h.bot.store.jobs.get(poison)).toMatchObject({ state: 'failed' });
    expect(h.bot.store.jobs.get(poison)!.lastError).toMatch(/^quarantined: the payload cannot be read/);
    // The next job was claimed and run by its own handler (which has no ticket to check: its own failure).
    expect(h.bot.store.jobs.get(other)!.attempts).toBeGreaterThan(0);
    expect(h.bot.store.jobs.get(other)!.lastError ?? '').not.toMatch(/quarantined|payload/);
    expect(quarantined(poison)).toHaveLength(1);
    expect(JSON.parse(quarantined(poison)[0]!.details).reason).toMatch(/payload/);
    const tickets = h.bot.store.db.prepare(`SELECT title FROM tickets WHERE title = ?`).all('A helpdesk job was quarantined: ticket.sla-check');
    expect(tickets).toHaveLength(1);
    expect(h.bot.store.audit.verify().ok).toBe(true);
  });

  it('left running by a stopped process, several of them: the bot starts and serves', async () => {
    const a = insertJob('drift.check', 'running', 'not json', 1);
    const b = insertJob('ticket.sla-check', 'running', '[1,2]', 1);
    const c = insertJob('drift.check', 'running', '{}', 4);
    await h.restart();
    await h.bot.scheduler.idle();
    expect(await say(h, h.user('employee'), 'help')).toBeTruthy();
    for (const id of [a, b]) {
      expect(h.bot.store.jobs.get(id)!.state).toBe('failed');
      expect(quarantined(id)).toHaveLength(1);
    }
    // Out of attempts: the crash-loop quarantine, as before.
    expect(h.bot.store.jobs.get(c)!.state).toBe('failed');
    expect(quarantined(c)).toHaveLength(1);
  });
});
