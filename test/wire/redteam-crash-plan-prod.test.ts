import { describe, expect, it } from 'vitest';
import { useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, type TestUser } from '../support/teams-client';
import { planOf, problems } from '../technician/support';

/**
 * Production mode on the fake Graph: a technician's confirmed offboarding is disabling the
 * account when the process stops (Graph makes the change, the bot never hears the answer).
 * The step's intent is on record before the call; the next start re-reads the directory,
 * records the step as done (never "failed"), does not make it again, and finishes the plan.
 */
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({
  dirPrefix: 'helpdesk-crash-plan-',
  clock,
  env: { GRAPH_RETRY_MAX_SECONDS: '1', SHUTDOWN_GRACE_SECONDS: '1', RECOVERY_PRIVILEGED_GROUP_IDS: demoTenant.privilegedGroupIds.join(',') },
});

const sarah = () => demoPersona('technician');
const lukas = demoTenant.users.find((u) => u.displayName === 'Lukas Novak')!;
const DISABLE = new RegExp(`^/users/${lukas.id}$`);

async function say(user: TestUser, text: string): Promise<any[]> {
  const client = rig.client();
  const conv = client.channelConversationId();
  const before = rig.connector.sentTo(conv).length;
  expect((await client.message(user, text, { where: 'channel' })).status).toBe(200);
  return rig.connector.sentTo(conv).slice(before).map(cardOf).filter(Boolean);
}

async function until(what: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a stop while the directory disables an account for an offboarding', () => {
  it('the restart records the step as done from the directory, does not disable again, and finishes the plan', async () => {
    const [proposed] = await say(sarah(), `offboard ${lukas.userPrincipalName} --reason last working day`);
    const plan = planOf(proposed);
    rig.graph.delay(2_500, { method: 'PATCH', path: DISABLE });
    const res = await rig.client().invoke(sarah(), 'tech.confirm', { plan }, { where: 'channel' });
    expect(res.status).toBe(200);
    expect(problems(res.body?.value)).toEqual([]);
    await until(() => rig.graph.calls('PATCH', DISABLE).length === 1);
    const intents = () => rig.bot.store.audit.query({ correlationId: plan, action: 'technician.step-attempted' });
    expect(intents().map((e) => JSON.parse(e.details))).toEqual([expect.objectContaining({ step: 'disable', index: 0 })]);

    await rig.restart(async () => {
      await until(() => rig.graph.users.get(lukas.id)!.accountEnabled === false);
      rig.graph.clearDelays();
    });
    await rig.bot.scheduler.idle();

    const trail = rig.bot.store.audit.query({ correlationId: plan });
    const first = trail.find((e) => e.action === 'technician.step-attempted')!;
    const reconciled = trail.filter((e) => e.action === 'technician.step-reconciled');
    expect(reconciled.map((e) => JSON.parse(e.details))).toEqual([expect.objectContaining({ attempt: first.seq, step: 'disable', index: 0, outcome: 'done' })]);
    expect(reconciled[0]!.seq).toBeGreaterThan(first.seq);
    // Never "failed" for the change that was made, and not made twice.
    expect(trail.filter((e) => e.action === 'technician.step-failed')).toEqual([]);
    expect(rig.graph.calls('PATCH', DISABLE)).toHaveLength(1);
    expect(rig.graph.users.get(lukas.id)!.accountEnabled).toBe(false);
    // The plan went on with what was left and finished; every step intent has its outcome.
    const finished = trail.filter((e) => e.action === 'technician.plan-finished');
    expect(finished).toHaveLength(1);
    const details = JSON.parse(finished[0]!.details);
    expect(details.steps[0]).toEqual({ step: 'disable', status: 'done' });
    expect(details.attempts).toEqual(trail.filter((e) => e.action === 'technician.step-attempted').map((e) => e.seq));
    expect(rig.bot.store.technician.plans.get(plan)!.state).toMatch(/^(done|partial)$/);
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });
});
