import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProductionFakes, type ProductionFakes } from '../support/production-rig';
import { startBot, type RunningBot } from '../../bot/main';
import { FakeConnector } from '../support/fake-connector';
import type { FakeGraph } from '../support/fake-graph';
import { TestClock } from '../support/harness';
import { demoPersona, jsonLogSink } from '../support/graph-setup';
import { cardOf, findById } from '../support/teams-client';

/**
 * Production mode on the fake Graph: Graph throttles (429 with a Retry-After longer than the
 * bot will wait in a request) when a grant is provisioned, and the bot is stopped while the
 * provisioning job waits for its retry. After the start on the same database and Graph's
 * recovery, the membership is added once and the grant is on record once.
 */
const VPN_GROUP = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';

let fakes: ProductionFakes;
let offline: ProductionFakes['offline'];
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
  fakes = await startProductionFakes({ dirPrefix: 'helpdesk-faults-' });
  ({ graph, connector, offline } = fakes);
  env = { ...fakes.env, GRAPH_RETRY_MAX_SECONDS: '1' };
  bot = await boot();
});

afterAll(async () => {
  await bot?.close();
  await fakes?.stop();
});

describe('Graph throttling during a grant, and a stop while the grant waits', () => {
  it('retries after the Retry-After, resumes after the start, and adds the membership exactly once', async () => {
    const employee = demoPersona('employee');
    const manager = demoPersona('manager');
    let client = fakes.clientFor(bot);
    await client.message(employee, 'I need the VPN for two weeks');
    const sent = connector.sentTo(client.personalConversationId(employee));
    const confirm = cardOf(sent[sent.length - 1]);
    const submitted = await client.invoke(employee, 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    const requestId = /^Submitted: (REQ-\d+)$/.exec(findById(submitted.body.value, 'notice-title').text)![1]!;
    await bot.scheduler.idle();
    const managerChat = bot.store.conversations.findPersonal(manager.id)!.conversationId;
    const approval = connector.sentTo(managerChat).map(cardOf).find((c) => c && findById(c, 'access-approve'));

    // Graph throttles every add for a while, with a Retry-After beyond what one request may wait.
    graph.inject({ status: 429, retryAfter: 120, times: 1000, method: 'POST', path: new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`) });
    await client.invoke(manager, 'access.approve', findById(approval, 'access-approve').data);
    await bot.scheduler.idle();
    expect(bot.store.requests.get(requestId)!.state).toBe('approved');
    const job = bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.provision')!;
    expect(job).toMatchObject({ state: 'pending', attempts: 1 });
    // The next try waits at least Graph's Retry-After.
    expect(new Date(job.nextRunAt).getTime() - clock.now().getTime()).toBeGreaterThanOrEqual(120_000);
    expect(bot.store.audit.query({ correlationId: requestId, action: 'access.provisioned' })).toEqual([]);

    // Stopped while it waits; Graph recovers meanwhile; started again on the same database.
    await bot.close();
    graph.reset();
    // The seed is back: the employee is not a member yet.
    bot = await boot();
    client = fakes.clientFor(bot);
    clock.advance(121_000);
    await bot.scheduler.runDue();

    expect(bot.store.requests.get(requestId)!.state).toBe('granted');
    expect(graph.calls('POST', new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`)).map((r) => r.status)).toEqual([204]);
    expect(bot.store.audit.query({ correlationId: requestId, action: 'access.provisioned' })).toHaveLength(1);
    expect(bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.provision')).toMatchObject({ state: 'done', attempts: 2 });

    // Another start does not provision again.
    await bot.close();
    bot = await boot();
    clock.advance(60_000);
    await bot.scheduler.runDue();
    expect(graph.calls('POST', new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`))).toHaveLength(1);
    expect(bot.store.audit.query({ correlationId: requestId, action: 'access.provisioned' })).toHaveLength(1);
    expect(offline.reachedOut).toEqual([]);
  });
});
