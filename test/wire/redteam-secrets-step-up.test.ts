import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppCredentials } from 'botframework-connector';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBot, type RunningBot } from '../../bot/main';
import { cardProblems } from '../cards/validate';
import { FakeConnector } from '../support/fake-connector';
import type { FakeGraph } from '../support/fake-graph';
import { FakeBotFrameworkIssuer } from '../support/fake-token-issuer';
import { FakeUserTokenService } from '../support/fake-user-token-service';
import { demoPersona, demoTenant as tenant, jsonLogSink, loopbackOnlyDns, startFakeGraph } from '../support/graph-setup';
import { TeamsClient, cardOf, cardText, findById } from '../support/teams-client';

/**
 * Step-up sign-in when the tenant's OpenID configuration cannot be fetched (an outage, a
 * wrong URL): the sign-in cannot be checked, which is a fault of the service, not a failed
 * verification of the user. It must never count towards the self-service lockout.
 */
const APP_ID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const BOT_PASSWORD = 'bot-and-graph-secret';
const OUTGOING_TOKEN_KEY = `${APP_ID}https://api.botframework.com-cache`;
const CONNECTION = 'helpdesk-step-up';

let offline: ReturnType<typeof loopbackOnlyDns>;
let graph: FakeGraph;
let issuer: FakeBotFrameworkIssuer;
let tokens: FakeUserTokenService;
let connector: FakeConnector;
let bot: RunningBot;
let dir: string;
let client: TeamsClient;
const logs: any[] = [];

beforeAll(async () => {
  offline = loopbackOnlyDns();
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  graph = await startFakeGraph({ clientId: APP_ID, clientSecret: BOT_PASSWORD });
  issuer = await new FakeBotFrameworkIssuer(['msteams']).start();
  tokens = await new FakeUserTokenService(tenant.tenantId).start();
  connector = await new FakeConnector().start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-step-up-down-'));
  const caFile = path.join(dir, 'graph-ca.pem');
  fs.writeFileSync(caFile, graph.ca);
  bot = await startBot(
    {
      BOT_ID: APP_ID,
      BOT_PASSWORD,
      BOT_TENANT_ID: tenant.tenantId,
      BOT_OPENID_METADATA_URL: issuer.metadataUrl,
      BOT_OAUTH_URL: tokens.url,
      STEP_UP_CONNECTION_NAME: CONNECTION,
      // Answers 404: the tenant's keys cannot be fetched.
      STEP_UP_OPENID_METADATA_URL: `${tokens.url}/${tenant.tenantId}/v2.0/unreachable/openid-configuration`,
      RECOVERY_PRIVILEGED_GROUP_IDS: tenant.privilegedGroupIds.join(','),
      TECHNICIANS_GROUP_ID: tenant.technicianGroupId,
      DIRECTORY: 'graph',
      GRAPH_AUTHORITY_HOST: graph.url,
      GRAPH_BASE_URL: graph.url,
      GRAPH_CA_FILE: caFile,
      GRAPH_RETRY_MAX_SECONDS: '2',
      PORT: '0',
      DATABASE_PATH: path.join(dir, 'helpdesk.db'),
      LOG_LEVEL: 'debug',
      PLAYGROUND: 'false',
      SHUTDOWN_GRACE_SECONDS: '5',
    },
    { logDestination: jsonLogSink(logs) },
  );
  const outgoing = issuer.sign({ aud: 'https://api.botframework.com', iss: `https://login.microsoftonline.com/${tenant.tenantId}/v2.0`, azp: APP_ID, ver: '2.0' });
  const cache = (AppCredentials as unknown as { cache: Map<string, { accessToken: string; expiresOn: Date }> }).cache;
  cache.set(OUTGOING_TOKEN_KEY, { accessToken: outgoing, expiresOn: new Date(Date.now() + 3_600_000) });
  client = new TeamsClient(bot.url, connector.url, tenant.tenantId, { authorization: `Bearer ${issuer.sign({ aud: APP_ID, serviceurl: connector.url })}` });
});

afterAll(async () => {
  (AppCredentials as unknown as { cache: Map<string, unknown> }).cache?.delete(OUTGOING_TOKEN_KEY);
  await bot?.close();
  await connector?.stop();
  await tokens?.stop();
  await issuer?.stop();
  await graph?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  offline?.restore();
  vi.restoreAllMocks();
});

describe('step-up sign-in while the tenant keys are unreachable', () => {
  it('is not counted as a failed verification: six sign-ins lock nobody out, each is audited as unavailable and the user is told to retry', async () => {
    const emily = demoPersona('employee');
    const conv = client.personalConversationId(emily);
    expect((await client.message(emily, 'reset my password')).status).toBe(200);
    const session = findById(cardOf(connector.sentTo(conv).at(-1)), 'signin-step-up').data.session as string;
    for (let i = 0; i < 6; i++) {
      expect((await client.invoke(emily, 'signin.step-up', { session })).status).toBe(200);
      const code = String(400000 + i);
      tokens.completeSignIn({ userId: `29:${emily.id}`, connectionName: CONNECTION, channelId: 'msteams', code, token: tokens.sign({ oid: emily.id, aud: APP_ID }) });
      const before = connector.sentTo(conv).length;
      const res = await client.post({ ...client.base(emily), type: 'invoke', name: 'signin/verifyState', value: { state: code } });
      expect(res.status).toBe(200);
      const cards = connector.sentTo(conv).slice(before).map(cardOf).filter(Boolean);
      expect(cards).toHaveLength(1);
      expect(cardProblems(cards[0])).toEqual([]);
      expect(findById(cards[0], 'signin-banner').text).toMatch(/could not check that sign-in right now, so it was not counted/);
      expect(cardText(cards[0])).not.toMatch(/locked/);
    }
    expect(bot.store.recovery.get(session)).toMatchObject({ state: 'verifying' });
    expect(bot.store.recovery.countEvents(emily.id, 'verification-failed', new Date(0))).toBe(0);
    expect(bot.store.recovery.lockedUntil(emily.id, new Date())).toBeNull();
    expect(bot.store.audit.query({ action: 'signin.verification-failed' })).toEqual([]);
    expect(bot.store.audit.query({ action: 'signin.self-service-locked' })).toEqual([]);
    const unavailable = bot.store.audit.query({ action: 'signin.verification-unavailable', correlationId: session });
    expect(unavailable).toHaveLength(6);
    expect(JSON.parse(unavailable[0]!.details)).toEqual({ method: 'sign-in', reason: 'keys-unavailable' });
    expect(logs.some((l) => l.msg === 'a step-up sign-in could not be checked' && l.reason === 'keys-unavailable')).toBe(true);
    expect(logs.some((l) => JSON.stringify(l).includes('eyJ'))).toBe(false);
    // Emily is not locked out: she can start again.
    expect((await client.message(emily, 'reset my password')).status).toBe(200);
    expect(findById(cardOf(connector.sentTo(conv).at(-1)), 'signin-title').text).toBe('Reset your password');
  });
});
