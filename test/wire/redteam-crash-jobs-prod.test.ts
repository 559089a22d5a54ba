import { describe, expect, it } from 'vitest';
import { useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona } from '../support/graph-setup';
import { findById } from '../support/teams-client';

/**
 * Production mode on the fake Graph: the grant of an approved request is running when the
 * process stops (Graph holds the answer), at every start. The job is not restarted forever:
 * each cut-short run is an attempt, and once they are used it is quarantined at start - one
 * ticket, one audit event, never run again - and the bot starts and serves.
 */
const VPN_GROUP = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';
const MAX = 3;
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({ dirPrefix: 'helpdesk-crash-jobs-', clock, env: { JOB_MAX_ATTEMPTS: String(MAX), SHUTDOWN_GRACE_SECONDS: '1' } });

const grants = () => rig.graph.calls('POST', new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`)).length;

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a job running at every stop', () => {
  it('is quarantined after its attempts, with one ticket, and never runs again; the bot serves', async () => {
    const employee = demoPersona('employee');
    const manager = demoPersona('manager');
    // Graph holds every grant longer than the test: each run is cut short by the stop.
    rig.graph.delay(600_000, { method: 'POST', path: new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`) });
    const { requestId, approval } = await rig.submitRequest(employee, manager, 'I need the VPN for 2 days');
    await rig.client().invoke(manager, 'access.approve', findById(approval, 'access-approve').data);
    await until(() => grants() === 1);
    const job = () => rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.provision')!;
    expect(job()).toMatchObject({ state: 'running', attempts: 1 });

    // A run cut short by a stop is an attempt (its claim) and counts once more (it may be what
    // stops the process): starts 2..MAX-1 run it again, each cut short.
    for (let start = 2; start < MAX; start++) {
      await rig.restart();
      await until(() => grants() === start);
      expect(job()).toMatchObject({ state: 'running', attempts: start });
    }
    // Start MAX quarantines it instead of running it.
    await rig.restart();
    await rig.bot.scheduler.idle();
    expect(job().state).toBe('failed');
    expect(job().lastError).toMatch(/^quarantined:/);
    expect(job().attempts).toBe(MAX);
    expect(grants()).toBe(MAX - 1);
    const events = rig.bot.store.audit.query({ action: 'job.quarantined' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ correlationId: requestId, outcome: 'failure' });
    const tickets = rig.bot.store.db.prepare(`SELECT title FROM tickets WHERE source_ref = ?`).all(requestId) as Array<{ title: string }>;
    expect(tickets.length).toBeGreaterThanOrEqual(1);
    expect(new Set(tickets.map((t) => t.title)).size).toBe(tickets.length);

    // The bot is up; another start does not run it either.
    expect((await fetch(`${rig.bot.url}/healthz`)).status).toBe(200);
    expect((await rig.client().message(employee, 'help')).status).toBe(200);
    await rig.restart();
    await rig.bot.scheduler.idle();
    expect(grants()).toBe(MAX - 1);
    expect(rig.bot.store.audit.query({ action: 'job.quarantined' })).toHaveLength(1);
    expect(rig.bot.store.db.prepare(`SELECT count(*) AS n FROM tickets WHERE source_ref = ?`).get(requestId)).toEqual({ n: tickets.length });
  });
});
