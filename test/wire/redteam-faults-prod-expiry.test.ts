import { describe, expect, it } from 'vitest';
import { useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona } from '../support/graph-setup';
import { cardOf, findById, type TestUser } from '../support/teams-client';

/**
 * Production mode on the fake Graph: time-bound access whose removal at expiry meets a
 * throttled (429, Retry-After) and then unavailable (503) Graph, with a stop and a start on
 * the same database in between. When Graph recovers the membership is removed once, the
 * trail has one `access.revoked`, the requester is told once and every copy of the card
 * says the access ended.
 */
const VPN_GROUP = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';
const DAY = 86_400_000;

const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({ dirPrefix: 'helpdesk-faults-expiry-', clock, env: { GRAPH_RETRY_MAX_SECONDS: '1' } });

function cardsTo(userId: string): any[] {
  const conv = rig.bot.store.conversations.findPersonal(userId)?.conversationId;
  return conv ? rig.connector.sentTo(conv).map(cardOf).filter(Boolean) : [];
}

/** The latest version of each stored copy of a request's card. */
function currentCopies(requestId: string): any[] {
  return rig.bot.store.cards.forRequest(requestId).map((ref) => {
    const updates = rig.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === ref.conversationId && c.activityId === ref.activityId);
    const last = updates[updates.length - 1];
    return last ? cardOf(last.body) : undefined;
  });
}

async function grantVpn(employee: TestUser, manager: TestUser, text: string): Promise<string> {
  const client = rig.client();
  const { requestId, approval } = await rig.submitRequest(employee, manager, text);
  await client.invoke(manager, 'access.approve', findById(approval, 'access-approve').data);
  await rig.bot.scheduler.idle();
  expect(rig.bot.store.requests.get(requestId)!.state).toBe('granted');
  return requestId;
}

const removals = () => rig.graph.calls('DELETE', new RegExp(`^/groups/${VPN_GROUP}/members/[^/]+/\\$ref$`));

describe('expiry of time-bound access while Graph throttles and is unavailable', () => {
  it('removes the membership once when Graph recovers, with one audit event, one message to the requester and the cards ended', async () => {
    const employee = demoPersona('employee');
    const manager = demoPersona('manager');
    const requestId = await grantVpn(employee, manager, 'I need the VPN for 2 days');
    expect(rig.graph.groups.get(VPN_GROUP)!.members).toContain(employee.id);
    const expiresAt = new Date(rig.bot.store.requests.get(requestId)!.expiresAt!).getTime();

    // Throttled first (Retry-After beyond what one request may wait), then unavailable.
    rig.graph.inject({ status: 429, retryAfter: 120, times: 1, method: 'DELETE', path: /\/members\/[^/]+\/\$ref$/ });
    rig.graph.inject({ status: 503, times: 1, method: 'DELETE', path: /\/members\/[^/]+\/\$ref$/ });
    clock.advance(expiresAt - clock.now().getTime() + 1_000);
    await rig.bot.scheduler.runDue();

    let job = rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.revoke')!;
    expect(job).toMatchObject({ state: 'pending', attempts: 1 });
    expect(new Date(job.nextRunAt).getTime() - clock.now().getTime()).toBeGreaterThanOrEqual(120_000);
    expect(rig.bot.store.requests.get(requestId)!.state).toBe('granted');
    expect(rig.graph.groups.get(VPN_GROUP)!.members).toContain(employee.id);
    expect(rig.bot.store.audit.query({ correlationId: requestId, action: 'access.revoked' })).toEqual([]);
    expect(cardsTo(employee.id).filter((c) => findById(c, 'notice-title')?.text === 'Access ended: VPN')).toEqual([]);

    // Stopped while the removal waits; started again on the same database.
    await rig.restart();
    clock.advance(121_000);
    await rig.bot.scheduler.runDue();
    job = rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.revoke')!;
    expect(job).toMatchObject({ state: 'pending', attempts: 2 });
    expect(rig.bot.store.requests.get(requestId)!.state).toBe('granted');

    // Graph has recovered: the next try removes the membership.
    clock.advance(new Date(job.nextRunAt).getTime() - clock.now().getTime() + 1_000);
    await rig.bot.scheduler.runDue();
    await rig.bot.scheduler.idle();

    expect(removals().map((r) => r.status)).toEqual([429, 503, 204]);
    expect(rig.graph.groups.get(VPN_GROUP)!.members).not.toContain(employee.id);
    expect(rig.bot.store.requests.get(requestId)!.state).toBe('revoked');
    const revoked = rig.bot.store.audit.query({ correlationId: requestId, action: 'access.revoked' });
    expect(revoked).toHaveLength(1);
    expect(JSON.parse(revoked[0]!.details)).toMatchObject({ result: 'removed', reason: 'expired' });
    expect(rig.bot.store.audit.query({ correlationId: requestId, action: 'access.revoke-failed' })).toEqual([]);
    expect(rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.revoke')).toMatchObject({ state: 'done', attempts: 3 });
    expect(cardsTo(employee.id).filter((c) => findById(c, 'notice-title')?.text === 'Access ended: VPN')).toHaveLength(1);
    const copies = currentCopies(requestId);
    expect(copies.length).toBeGreaterThan(1);
    for (const c of copies) expect(findById(c, 'access-status').text).toMatch(/^Ended: access removed/);

    // Later runs and another start change nothing.
    await rig.restart();
    clock.advance(DAY);
    await rig.bot.scheduler.runDue();
    await rig.bot.scheduler.idle();
    expect(removals()).toHaveLength(3);
    expect(rig.bot.store.audit.query({ correlationId: requestId, action: 'access.revoked' })).toHaveLength(1);
    expect(cardsTo(employee.id).filter((c) => findById(c, 'notice-title')?.text === 'Access ended: VPN')).toHaveLength(1);
    expect(rig.fakes.offline.reachedOut).toEqual([]);
  });
});
