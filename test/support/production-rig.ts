import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppCredentials } from 'botframework-connector';
import { afterAll, beforeAll, expect, vi } from 'vitest';
import { startBot, type RunningBot } from '../../bot/main';
import { FakeConnector } from './fake-connector';
import type { FakeGraph, FakeGraphOptions } from './fake-graph';
import { FakeBotFrameworkIssuer } from './fake-token-issuer';
import { FakeUserTokenService } from './fake-user-token-service';
import { demoTenant, jsonLogSink, loopbackOnlyDns, startFakeGraph } from './graph-setup';
import type { TestClock } from './harness';
import { cardOf, findById, TeamsClient, TEST_CHANNEL_ID, type TestUser } from './teams-client';
import { problems } from '../technician/support';

/** The bot's app registration in production-mode tests; Graph uses the same one. */
export const APP_ID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
export const BOT_PASSWORD = 'bot-and-graph-secret';
/** Where the Bot Framework SDK caches its app token for the Bot Connector. */
const OUTGOING_TOKEN_KEY = `${APP_ID}https://api.botframework.com-cache`;

/**
 * Everything a bot in production mode talks to, offline: a fake Bot Framework issuer (the
 * tokens on incoming activities), a fake connector (where replies go), a fake Microsoft
 * Graph (HTTPS, its own token endpoint, seeded with the demo tenant), optionally a fake Bot
 * Framework token service (step-up sign-in), and DNS that answers loopback only. The bot's
 * replies carry a Bot Connector token that Entra ID would issue; offline it is put in the
 * SDK's app-token cache.
 */
export interface ProductionFakes {
  graph: FakeGraph;
  issuer: FakeBotFrameworkIssuer;
  connector: FakeConnector;
  /** The token service, when asked for (`BOT_OAUTH_URL` points at it). */
  tokens: FakeUserTokenService | null;
  /** A temporary folder for the database and the Graph certificate, removed by `stop`. */
  dir: string;
  /** Names every lookup that tried to leave the machine (a test asserts it stays empty). */
  offline: ReturnType<typeof loopbackOnlyDns>;
  /** The Bot Connector token the bot's replies carry. */
  outgoing: string;
  /** A production environment pointing at the fakes; a test adds or overrides what it needs. */
  env: Record<string, string>;
  /** A Teams client for `bot`, its activities signed by the issuer. */
  clientFor(bot: RunningBot): TeamsClient;
  /** Stops the fakes (close the bot first) and puts DNS and the token cache back. */
  stop(): Promise<void>;
}

export async function startProductionFakes(options: { dirPrefix: string; graph?: Partial<FakeGraphOptions>; tokenService?: boolean }): Promise<ProductionFakes> {
  const offline = loopbackOnlyDns();
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const graph = await startFakeGraph({ clientId: APP_ID, clientSecret: BOT_PASSWORD, ...options.graph });
  const issuer = await new FakeBotFrameworkIssuer(['msteams']).start();
  const tokens = options.tokenService ? await new FakeUserTokenService(demoTenant.tenantId).start() : null;
  const connector = await new FakeConnector().start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), options.dirPrefix));
  const caFile = path.join(dir, 'graph-ca.pem');
  fs.writeFileSync(caFile, graph.ca);
  const outgoing = issuer.sign({ aud: 'https://api.botframework.com', iss: `https://login.microsoftonline.com/${demoTenant.tenantId}/v2.0`, azp: APP_ID, ver: '2.0' });
  const cache = (AppCredentials as unknown as { cache: Map<string, { accessToken: string; expiresOn: Date }> }).cache;
  cache.set(OUTGOING_TOKEN_KEY, { accessToken: outgoing, expiresOn: new Date(Date.now() + 3_600_000) });
  return {
    graph,
    issuer,
    connector,
    tokens,
    dir,
    offline,
    outgoing,
    env: {
      BOT_ID: APP_ID,
      BOT_PASSWORD,
      BOT_TENANT_ID: demoTenant.tenantId,
      BOT_OPENID_METADATA_URL: issuer.metadataUrl,
      ...(tokens ? { BOT_OAUTH_URL: tokens.url } : {}),
      TECHNICIANS_GROUP_ID: demoTenant.technicianGroupId,
      // Production names the technicians' channel; the test client's channel is it.
      TECHNICIAN_CHANNEL_IDS: TEST_CHANNEL_ID,
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
    clientFor: (bot) => new TeamsClient(bot.url, connector.url, demoTenant.tenantId, { authorization: `Bearer ${issuer.sign({ aud: APP_ID, serviceurl: connector.url })}` }),
    stop: async () => {
      (AppCredentials as unknown as { cache: Map<string, unknown> }).cache?.delete(OUTGOING_TOKEN_KEY);
      await connector.stop();
      await tokens?.stop();
      await issuer.stop();
      await graph.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      offline.restore();
      vi.restoreAllMocks();
    },
  };
}

/** One production-mode bot on the fakes for a test file (see {@link useProductionBot}). */
export interface ProductionBot {
  readonly fakes: ProductionFakes;
  readonly graph: FakeGraph;
  readonly connector: FakeConnector;
  /** The running bot; a new one after {@link ProductionBot.restart}. */
  readonly bot: RunningBot;
  /** Every log line of every bot the file started, parsed. */
  readonly logs: any[];
  /** A Teams client for the running bot. */
  client(): TeamsClient;
  /**
   * Stops the bot and starts a new one on the same database and fakes (a stop and a start in
   * production); `whileStopped` runs in between (Graph recovering, say).
   */
  restart(whileStopped?: () => unknown): Promise<RunningBot>;
  /**
   * `employee` asks in plain words (`text`) and submits the confirmation card; returns the
   * request id and the approval card that reached `approver`'s 1:1 chat.
   */
  submitRequest(employee: TestUser, approver: TestUser, text: string): Promise<{ requestId: string; approval: any }>;
  /** `user` @mentions the bot in the technicians' channel with `text`; returns what the bot posted there (every card valid). */
  sayInChannel(user: TestUser, text: string): Promise<{ cards: any[]; texts: string[] }>;
}

/**
 * Starts the fakes and a production-mode bot before the file's tests (environment `env` on
 * top of the fakes' own, the bot's clock `clock`) and stops both after them.
 */
export function useProductionBot(options: {
  dirPrefix: string;
  clock: TestClock;
  /** Added to the fakes' environment; a function when it names a fake (the token service's metadata URL, say). */
  env?: Record<string, string> | ((fakes: ProductionFakes) => Record<string, string>);
  graph?: Partial<FakeGraphOptions>;
  tokenService?: boolean;
}): ProductionBot {
  let fakes: ProductionFakes | undefined;
  let bot: RunningBot | undefined;
  const logs: any[] = [];
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the production bot starts in beforeAll');
    return v;
  };
  const extraEnv = (f: ProductionFakes) => (typeof options.env === 'function' ? options.env(f) : options.env);
  const boot = () => startBot({ ...started(fakes).env, ...extraEnv(started(fakes)) }, { logDestination: jsonLogSink(logs), clock: options.clock.now });
  beforeAll(async () => {
    fakes = await startProductionFakes({ dirPrefix: options.dirPrefix, graph: options.graph, tokenService: options.tokenService });
    bot = await boot();
  });
  afterAll(async () => {
    await bot?.close();
    await fakes?.stop();
  });
  return {
    get fakes() {
      return started(fakes);
    },
    get graph() {
      return started(fakes).graph;
    },
    get connector() {
      return started(fakes).connector;
    },
    get bot() {
      return started(bot);
    },
    logs,
    client: () => started(fakes).clientFor(started(bot)),
    async submitRequest(employee, approver, text) {
      const client = this.client();
      await client.message(employee, text);
      const sent = this.connector.sentTo(client.personalConversationId(employee));
      const confirm = cardOf(sent[sent.length - 1]);
      const submitted = await client.invoke(employee, 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
      const requestId = /^Submitted: (REQ-\d+)$/.exec(findById(submitted.body.value, 'notice-title').text)![1]!;
      await this.bot.scheduler.idle();
      const approverChat = this.bot.store.conversations.findPersonal(approver.id)!.conversationId;
      const approval = this.connector
        .sentTo(approverChat)
        .map(cardOf)
        .find((c) => c && findById(c, 'access-approve')?.data?.requestId === requestId);
      return { requestId, approval };
    },
    async sayInChannel(user, text) {
      const client = this.client();
      const conv = client.channelConversationId();
      const before = this.connector.sentTo(conv).length;
      expect((await client.message(user, text, { where: 'channel' })).status).toBe(200);
      const sent = this.connector.sentTo(conv).slice(before);
      const cards = sent.map(cardOf).filter(Boolean);
      for (const c of cards) expect(problems(c)).toEqual([]);
      return { cards, texts: sent.map((a) => a.text).filter((t): t is string => typeof t === 'string' && t.length > 0) };
    },
    async restart(whileStopped) {
      await started(bot).close();
      await whileStopped?.();
      bot = await boot();
      return bot;
    },
  };
}
