import { describe, expect, it } from 'vitest';
import { useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona } from '../support/graph-setup';
import { cardOf, findById } from '../support/teams-client';

/**
 * Production mode on the fake Graph: Graph throttles (429 with a Retry-After longer than the
 * bot will wait in a request) when a grant is provisioned, and the bot is stopped while the
 * provisioning job waits for its retry. After the start on the same database and Graph's
 * recovery, the membership is added once and the grant is on record once.
 */
const VPN_GROUP = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';

const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({ dirPrefix: 'helpdesk-faults-', clock, env: { GRAPH_RETRY_MAX_SECONDS: '1' } });

describe('Graph throttling during a grant, and a stop while the grant waits', () => {
  it('retries after the Retry-After, resumes after the start, and adds the membership exactly once', async () => {
    const employee = demoPersona('employee');
    const manager = demoPersona('manager');
    let client = rig.client();
    const { requestId, approval } = await rig.submitRequest(employee, manager, 'I need the VPN for two weeks');

    // Graph throttles every add for a while, with a Retry-After beyond what one request may wait.
    rig.graph.inject({ status: 429, retryAfter: 120, times: 1000, method: 'POST', path: new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`) });
    await client.invoke(manager, 'access.approve', findById(approval, 'access-approve').data);
    await rig.bot.scheduler.idle();
    expect(rig.bot.store.requests.get(requestId)!.state).toBe('approved');
    const job = rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.provision')!;
    expect(job).toMatchObject({ state: 'pending', attempts: 1 });
    // The next try waits at least Graph's Retry-After.
    expect(new Date(job.nextRunAt).getTime() - clock.now().getTime()).toBeGreaterThanOrEqual(120_000);
    expect(rig.bot.store.audit.query({ correlationId: requestId, action: 'access.provisioned' })).toEqual([]);

    // Stopped while it waits; Graph recovers meanwhile; started again on the same database.
    await rig.restart(() => rig.graph.reset());
    // The seed is back: the employee is not a member yet.
    client = rig.client();
    clock.advance(121_000);
    await rig.bot.scheduler.runDue();

    expect(rig.bot.store.requests.get(requestId)!.state).toBe('granted');
    expect(rig.graph.calls('POST', new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`)).map((r) => r.status)).toEqual([204]);
    expect(rig.bot.store.audit.query({ correlationId: requestId, action: 'access.provisioned' })).toHaveLength(1);
    expect(rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.provision')).toMatchObject({ state: 'done', attempts: 2 });

    // Another start does not provision again.
    await rig.restart();
    clock.advance(60_000);
    await rig.bot.scheduler.runDue();
    expect(rig.graph.calls('POST', new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`))).toHaveLength(1);
    expect(rig.bot.store.audit.query({ correlationId: requestId, action: 'access.provisioned' })).toHaveLength(1);
    expect(rig.fakes.offline.reachedOut).toEqual([]);
  });
});
