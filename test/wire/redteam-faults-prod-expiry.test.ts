import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProductionFakes, type ProductionFakes } from '../support/production-rig';
import { startBot, type RunningBot } from '../../bot/main';
import type { FakeConnector } from '../support/fake-connector';
import type { FakeGraph } from '../support/fake-graph';
import { TestClock } from '../support/harness';
import { demoPersona, jsonLogSink } from '../support/graph-setup';
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

let fakes: ProductionFakes;
let graph: FakeGraph;
let connector: FakeConnector;
let bot: RunningBot;
let env: Record<string, string>;
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const logs: any[] = [];

function boot(): Promise<RunningBot> {
  return startBot(env, { logDestination: jsonLogSink(logs), clock: clock.now });
}

beforeAll(async () => {
  fakes = await startProductionFakes({ dirPrefix: 'helpdesk-faults-expiry-' });
  ({ graph, connector } = fakes);
  env = { ...fakes.env, GRAPH_RETRY_MAX_SECONDS: '1' };
  bot = await boot();
});

afterAll(async () => {
  await bot?.close();
  await fakes?.stop();
});

function cardsTo(userId: string): any[] {
  const conv = bot.store.conversations.findPersonal(userId)?.conversationId;
  return conv ? connector.sentTo(conv).map(cardOf).filter(Boolean) : [];
}

/** The latest version of each stored copy of a request's card. */
function currentCopies(requestId: string): any[] {
  return bot.store.cards.forRequest(requestId).map((ref) => {
    const updates = connector.calls.filter((c) => c.kind === 'update' && c.conversationId === ref.conversationId && c.activityId === ref.activityId);
    const last = updates[updates.length - 1];
    return last ? cardOf(last.body) : undefined;
  });
}

async function grantVpn(employee: TestUser, manager: TestUser, text: string): Promise<string> {
  const client = fakes.clientFor(bot);
  await client.message(employee, text);
  const sent = connector.sentTo(client.personalConversationId(employee));
  const confirm = cardOf(sent[sent.length - 1]);
  const submitted = await client.invoke(employee, 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
  const requestId = /^Submitted: (REQ-\d+)$/.exec(findById(submitted.body.value, 'notice-title').text)![1]!;
  await bot.scheduler.idle();
  const managerChat = bot.store.conversations.findPersonal(manager.id)!.conversationId;
  const approval = connector
    .sentTo(managerChat)
    .map(cardOf)
    .find((c) => c && findById(c, 'access-approve')?.data?.requestId === requestId);
  await client.invoke(manager, 'access.approve', findById(approval, 'access-approve').data);
  await bot.scheduler.idle();
  expect(bot.store.requests.get(requestId)!.state).toBe('granted');
  return requestId;
}

const removals = () => graph.calls('DELETE', new RegExp(`^/groups/${VPN_GROUP}/members/[^/]+/\\$ref$`));

describe('expiry of time-bound access while Graph throttles and is unavailable', () => {
  it('removes the membership once when Graph recovers, with one audit event, one message to the requester and the cards ended', async () => {
    const employee = demoPersona('employee');
    const manager = demoPersona('manager');
    const requestId = await grantVpn(employee, manager, 'I need the VPN for 2 days');
    expect(graph.groups.get(VPN_GROUP)!.members).toContain(employee.id);
    const expiresAt = new Date(bot.store.requests.get(requestId)!.expiresAt!).getTime();

    // Throttled first (Retry-After beyond what one request may wait), then unavailable.
    graph.inject({ status: 429, retryAfter: 120, times: 1, method: 'DELETE', path: /\/members\/[^/]+\/\$ref$/ });
    graph.inject({ status: 503, times: 1, method: 'DELETE', path: /\/members\/[^/]+\/\$ref$/ });
    clock.advance(expiresAt - clock.now().getTime() + 1_000);
    await bot.scheduler.runDue();

    let job = bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.revoke')!;
    expect(job).toMatchObject({ state: 'pending', attempts: 1 });
    expect(new Date(job.nextRunAt).getTime() - clock.now().getTime()).toBeGreaterThanOrEqual(120_000);
    expect(bot.store.requests.get(requestId)!.state).toBe('granted');
    expect(graph.groups.get(VPN_GROUP)!.members).toContain(employee.id);
    expect(bot.store.audit.query({ correlationId: requestId, action: 'access.revoked' })).toEqual([]);
    expect(cardsTo(employee.id).filter((c) => findById(c, 'notice-title')?.text === 'Access ended: VPN')).toEqual([]);

    // Stopped while the removal waits; started again on the same database.
    await bot.close();
    bot = await boot();
    clock.advance(121_000);
    await bot.scheduler.runDue();
    job = bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.revoke')!;
    expect(job).toMatchObject({ state: 'pending', attempts: 2 });
    expect(bot.store.requests.get(requestId)!.state).toBe('granted');

    // Graph has recovered: the next try removes the membership.
    clock.advance(new Date(job.nextRunAt).getTime() - clock.now().getTime() + 1_000);
    await bot.scheduler.runDue();
    await bot.scheduler.idle();

    expect(removals().map((r) => r.status)).toEqual([429, 503, 204]);
    expect(graph.groups.get(VPN_GROUP)!.members).not.toContain(employee.id);
    expect(bot.store.requests.get(requestId)!.state).toBe('revoked');
    const revoked = bot.store.audit.query({ correlationId: requestId, action: 'access.revoked' });
    expect(revoked).toHaveLength(1);
    expect(JSON.parse(revoked[0]!.details)).toMatchObject({ result: 'removed', reason: 'expired' });
    expect(bot.store.audit.query({ correlationId: requestId, action: 'access.revoke-failed' })).toEqual([]);
    expect(bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.revoke')).toMatchObject({ state: 'done', attempts: 3 });
    expect(cardsTo(employee.id).filter((c) => findById(c, 'notice-title')?.text === 'Access ended: VPN')).toHaveLength(1);
    const copies = currentCopies(requestId);
    expect(copies.length).toBeGreaterThan(1);
    for (const c of copies) expect(findById(c, 'access-status').text).toMatch(/^Ended: access removed/);

    // Later runs and another start change nothing.
    await bot.close();
    bot = await boot();
    clock.advance(DAY);
    await bot.scheduler.runDue();
    await bot.scheduler.idle();
    expect(removals()).toHaveLength(3);
    expect(bot.store.audit.query({ correlationId: requestId, action: 'access.revoked' })).toHaveLength(1);
    expect(cardsTo(employee.id).filter((c) => findById(c, 'notice-title')?.text === 'Access ended: VPN')).toHaveLength(1);
    expect(fakes.offline.reachedOut).toEqual([]);
  });
});
