import { describe, expect, it } from 'vitest';
import { useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona } from '../support/graph-setup';
import { findById } from '../support/teams-client';

/**
 * Production mode on the fake Graph: an approved grant is on record before the directory
 * call (`access.grant-attempted`, in the transaction that re-checks the request is approved).
 * When its job is quarantined (the process stopped during every run), the membership is read
 * before anything is called failed: Graph made it, so the request is granted
 * (`access.grant-reconciled` done), not "failed"; Graph did not, so it is failed.
 */
const VPN_GROUP = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';
const ADD = new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`);
const MAX = 2;
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({ dirPrefix: 'helpdesk-effects-grants-', clock, env: { JOB_MAX_ATTEMPTS: String(MAX), SHUTDOWN_GRACE_SECONDS: '1' } });

const grants = () => rig.graph.calls('POST', ADD).length;
const member = (userId: string) => rig.graph.groups.get(VPN_GROUP)!.members.includes(userId);

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The grant runs at every start and Graph never answers it; returns the request id once the job is quarantined. */
async function quarantinedGrant(): Promise<string> {
  const employee = demoPersona('employee');
  const manager = demoPersona('manager');
  const { requestId, approval } = await rig.submitRequest(employee, manager, 'I need the VPN for 2 days');
  const before = grants();
  await rig.client().invoke(manager, 'access.approve', findById(approval, 'access-approve').data);
  await until(() => grants() === before + 1);
  const job = () => rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.provision')!;
  for (let start = 2; start <= MAX; start++) {
    await rig.restart();
    if (start < MAX) await until(() => grants() === before + start);
  }
  await rig.bot.scheduler.idle();
  expect(job().lastError).toMatch(/^quarantined:/);
  return requestId;
}

describe('a grant quarantined after every run was cut short', () => {
  it('Graph made the membership: the quarantine reads it and the request is granted, never failed', async () => {
    rig.graph.inject({ status: 500, method: 'POST', path: ADD, afterApply: true, hang: true, times: 100 });
    const id = await quarantinedGrant();
    rig.graph.clearFaults();
    expect(member(demoPersona('employee').id)).toBe(true);
    const trail = rig.bot.store.audit.query({ correlationId: id });
    const actions = trail.map((e) => e.action);
    const intents = trail.filter((e) => e.action === 'access.grant-attempted').map((e) => e.seq);
    expect(intents.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(trail.find((e) => e.action === 'access.grant-reconciled')!.details)).toMatchObject({ outcome: 'done', intents });
    expect(JSON.parse(trail.find((e) => e.action === 'access.provisioned')!.details)).toMatchObject({ result: 'reconciled', attempts: intents });
    expect(actions).not.toContain('access.provisioning-failed');
    expect(rig.bot.store.requests.get(id)!.state).toBe('granted');
    // Every intent ran before its directory call and has its outcome now.
    expect(intents.every((s) => s < trail.find((e) => e.action === 'access.provisioned')!.seq)).toBe(true);
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });

  it('Graph did not make it: the quarantine reads the membership and only then says failed', async () => {
    const employee = demoPersona('employee');
    await rig.bot.directory.removeGroupMember(VPN_GROUP, employee.id);
    rig.graph.delay(600_000, { method: 'POST', path: ADD });
    const id = await quarantinedGrant();
    rig.graph.clearDelays();
    expect(member(employee.id)).toBe(false);
    const trail = rig.bot.store.audit.query({ correlationId: id });
    expect(JSON.parse(trail.find((e) => e.action === 'access.grant-reconciled')!.details)).toMatchObject({ outcome: 'not-done' });
    expect(trail.map((e) => e.action)).toContain('access.provisioning-failed');
    expect(rig.bot.store.requests.get(id)!.state).toBe('failed');
  });
});
