import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppCredentials } from 'botframework-connector';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBot, type RunningBot } from '../../bot/main';
import { FakeConnector } from '../support/fake-connector';
import type { FakeGraph } from '../support/fake-graph';
import { FakeBotFrameworkIssuer } from '../support/fake-token-issuer';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant as tenant, jsonLogSink, loopbackOnlyDns, startFakeGraph } from '../support/graph-setup';
import { TeamsClient, cardOf, findById } from '../support/teams-client';

/**
 * Production mode on the fake Graph: Graph throttles (429 with a Retry-After longer than the
 * bot will wait in a request) when a grant is provisioned, and the bot is stopped while the
 * provisioning job waits for its retry. After the start on the same database and Graph's
 * recovery, the membership is added once and the grant is on record once.
 */
const APP_ID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const BOT_PASSWORD = 'bot-and-graph-secret';
const OUTGOING_TOKEN_KEY = `${APP_ID}https://api.botframework.com-cache`;
const VPN_GROUP = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';

let offline: ReturnType<typeof loopbackOnlyDns>;
let graph: FakeGraph;
let issuer: FakeBotFrameworkIssuer;
let connector: FakeConnector;
let bot: RunningBot;
let dir: string;
let env: Record<string, string>;
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const logs: any[] = [];

function boot(): Promise<RunningBot> {
  return startBot(env, { logDestination: jsonLogSink(logs), clock: clock.now });
}

function clientFor(b: RunningBot): TeamsClient {
  return new TeamsClient(b.url, connector.url, tenant.tenantId, { authorization: `Bearer ${issuer.sign({ aud: APP_ID, serviceurl: connector.url })}` });
}

beforeAll(async () => {
  offline = loopbackOnlyDns();
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  graph = await startFakeGraph({ clientId: APP_ID, clientSecret: BOT_PASSWORD });
  issuer = await new FakeBotFrameworkIssuer(['msteams']).start();
  connector = await new FakeConnector().start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-faults-'));
  const caFile = path.join(dir, 'graph-ca.pem');
  fs.writeFileSync(caFile, graph.ca);
  env = {
    BOT_ID: APP_ID,
    BOT_PASSWORD,
    BOT_TENANT_ID: tenant.tenantId,
    BOT_OPENID_METADATA_URL: issuer.metadataUrl,
    TECHNICIANS_GROUP_ID: tenant.technicianGroupId,
    DIRECTORY: 'graph',
    GRAPH_AUTHORITY_HOST: graph.url,
    GRAPH_BASE_URL: graph.url,
    GRAPH_CA_FILE: caFile,
    GRAPH_RETRY_MAX_SECONDS: '1',
    PORT: '0',
    DATABASE_PATH: path.join(dir, 'helpdesk.db'),
    LOG_LEVEL: 'debug',
    PLAYGROUND: 'false',
    SHUTDOWN_GRACE_SECONDS: '5',
  };
  bot = await boot();
  const outgoing = issuer.sign({ aud: 'https://api.botframework.com', iss: `https://login.microsoftonline.com/${tenant.tenantId}/v2.0`, azp: APP_ID, ver: '2.0' });
  const cache = (AppCredentials as unknown as { cache: Map<string, { accessToken: string; expiresOn: Date }> }).cache;
  cache.set(OUTGOING_TOKEN_KEY, { accessToken: outgoing, expiresOn: new Date(Date.now() + 3_600_000) });
});

afterAll(async () => {
  (AppCredentials as unknown as { cache: Map<string, unknown> }).cache?.delete(OUTGOING_TOKEN_KEY);
  await bot?.close();
  await connector?.stop();
  await issuer?.stop();
  await graph?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  offline?.restore();
  vi.restoreAllMocks();
});

describe('Graph throttling during a grant, and a stop while the grant waits', () => {
  it('retries after the Retry-After, resumes after the start, and adds the membership exactly once', async () => {
    const employee = demoPersona('employee');
    const manager = demoPersona('manager');
    let client = clientFor(bot);
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
    client = clientFor(bot);
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
