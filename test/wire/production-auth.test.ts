import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dns from 'node:dns';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { AppCredentials } from 'botframework-connector';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBotApp } from '../../bot/app';
import { loadConfig, type AppConfig } from '../../bot/config';
import { createLogger } from '../../bot/logger';
import { createServer, type HelpdeskServer } from '../../bot/server';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { LocalDirectory } from '../../directory/local-directory';
import { openStore, type Store } from '../../store/store';
import { FakeConnector } from '../support/fake-connector';
import { FakeBotFrameworkIssuer, type ChannelTokenClaims } from '../support/fake-token-issuer';
import { TeamsClient, cardOf, findById, type PostResult, type TestUser } from '../support/teams-client';

/**
 * Production mode validates Bot Framework JWTs on /api/messages. To test just that, this
 * composes the production app by hand around the demo directory (production-graph.test.ts
 * starts the whole bot on a fake Microsoft Graph), with BOT_OPENID_METADATA_URL pointing at
 * a fake Bot Framework token issuer on 127.0.0.1 that publishes its signing key and signs
 * channel tokens.
 *
 * Replies: in production the adapter signs its calls to the connector with a token for
 * https://api.botframework.com that MSAL gets from Entra ID (login.microsoftonline.com).
 * Offline that call fails, so the test puts a token in the SDK's own app-token cache, where
 * the production credentials look first; everything else is the production code path.
 */
const APP_ID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const tenant = loadDemoTenant();
/** The tenant the bot is pinned to: the demo tenant, whose id the test client's activities carry. */
const BOT_TENANT_ID = tenant.tenantId;
/** Where the SDK caches the bot's token for the Bot Connector: `${appId}${scope}-cache`. */
const OUTGOING_TOKEN_KEY = `${APP_ID}https://api.botframework.com-cache`;

const person = (key: 'employee' | 'manager' | 'technician'): TestUser => {
  const u = tenant.users.find((x) => x.id === tenant.personas[key])!;
  return { id: u.id, displayName: u.displayName };
};

/** Every host name something in this process tried to resolve other than the loopback. */
const reachedOut: string[] = [];
const realLookup = dns.lookup;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Resolves loopback only; any other name fails at once, as it would offline, and is recorded. */
function loopbackOnlyLookup(host: string, options: unknown, callback?: (...args: unknown[]) => void): void {
  if (LOOPBACK.has(host)) return void (realLookup as (...args: unknown[]) => void).call(dns, host, options, callback);
  reachedOut.push(host);
  const cb = (typeof options === 'function' ? options : callback) as (err: Error) => void;
  process.nextTick(cb, Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host, syscall: 'getaddrinfo' }));
}

interface ProductionBot {
  url: string;
  store: Store;
  logs: any[];
  close(): Promise<void>;
}

/** The production app (adapter, server) over a fresh store and the demo directory. */
async function startProductionBot(openIdMetadataUrl: string): Promise<ProductionBot> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-prod-'));
  const local = loadConfig({ PORT: '0', DATABASE_PATH: path.join(dir, 'h.db'), LOCAL_DIRECTORY_PATH: path.join(dir, 'd.db') });
  const config: AppConfig = {
    ...local,
    mode: 'production',
    bot: { appId: APP_ID, appType: 'SingleTenant', tenantId: BOT_TENANT_ID, password: 'not-a-real-secret', certificateThumbprint: null, certificateKeyPath: null, openIdMetadataUrl },
  };
  const store = openStore(config.databasePath);
  const directory = LocalDirectory.open(path.join(dir, 'd.db'), tenant);
  const logs: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
  const deps = { config, store, directory, logger: createLogger('debug', sink), technicianGroupId: tenant.technicianGroupId, clock: () => new Date() };
  const { app, adapter } = createBotApp(deps);
  const http: HelpdeskServer = createServer(deps, app, adapter, '0.0.0-test');
  await new Promise<void>((r) => http.server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`,
    store,
    logs,
    async close() {
      await new Promise<void>((r) => http.server.close(() => r()));
      directory.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

let bot: ProductionBot;
let connector: FakeConnector;
let issuer: FakeBotFrameworkIssuer;
let outgoingToken: string;
let appTokenCache: Map<string, { accessToken: string; expiresOn: Date }>;

/** What the SDK printed with console.error (it prints every refused token's error). */
const sdkErrors: string[] = [];

beforeAll(async () => {
  (dns as { lookup: unknown }).lookup = loopbackOnlyLookup;
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void sdkErrors.push(args.map(String).join(' ')));
  issuer = await new FakeBotFrameworkIssuer(['msteams']).start();
  connector = await new FakeConnector().start();
  bot = await startProductionBot(issuer.metadataUrl);
  // The token Entra ID would have issued to the bot for the Bot Connector service.
  outgoingToken = issuer.sign({ aud: 'https://api.botframework.com', iss: `https://login.microsoftonline.com/${BOT_TENANT_ID}/v2.0`, azp: APP_ID, ver: '2.0' });
  appTokenCache = (AppCredentials as unknown as { cache: Map<string, { accessToken: string; expiresOn: Date }> }).cache;
  if (!(appTokenCache instanceof Map)) throw new Error('the SDK no longer caches app tokens in AppCredentials.cache');
  appTokenCache.set(OUTGOING_TOKEN_KEY, { accessToken: outgoingToken, expiresOn: new Date(Date.now() + 3_600_000) });
});

afterAll(async () => {
  appTokenCache?.delete(OUTGOING_TOKEN_KEY);
  await bot?.close();
  await connector?.stop();
  await issuer?.stop();
  (dns as { lookup: unknown }).lookup = realLookup;
  vi.restoreAllMocks();
});

beforeEach(() => connector.clear());

/** A client whose every request carries `Authorization: Bearer <token>`. */
const bearer = (token: string) => new TeamsClient(bot.url, connector.url, tenant.tenantId, { authorization: `Bearer ${token}` });
/** The claims the channel puts in a token for this bot and this connector. */
const channelClaims = (extra: Partial<ChannelTokenClaims> = {}): ChannelTokenClaims => ({ aud: APP_ID, serviceurl: connector.url, ...extra });

/**
 * Tokens that fail the JWT library's own checks (bad signature, no signature under a
 * published key id, not valid yet): the SDK rethrows the library's error; the bot's adapter
 * turns it into 401 like every other refusal (the SDK alone would answer 500).
 */
const REFUSED_BY_JWT_LIBRARY = 401;

/** Sends one request and checks it was refused before any turn ran. */
async function expectRefused(send: () => Promise<PostResult>, status = 401, target: ProductionBot = bot): Promise<void> {
  const audited = target.store.audit.count();
  const logged = target.logs.length;
  const res = await send();
  expect(res.status).toBe(status);
  // Give a turn that was wrongly let in the time to reply before looking.
  await new Promise((r) => setTimeout(r, 100));
  expect(connector.calls).toEqual([]);
  expect(target.store.audit.count()).toBe(audited);
  expect(target.store.conversations.findPersonal(person('employee').id)).toBeNull();
  expect(target.logs.slice(logged).filter((l) => ['turn admitted', 'turn refused', 'turn failed'].includes(l.msg))).toEqual([]);
}

const help = (client: TeamsClient) => () => client.message(person('employee'), 'help');

describe('production mode authentication', () => {
  it('answers an activity with a valid channel token, and signs its reply to the connector', async () => {
    const manager = person('manager');
    const client = bearer(issuer.sign(channelClaims()));
    const res = await client.message(manager, 'help');
    expect(res.status).toBe(200);

    const reply = await connector.waitFor((c) => c.kind === 'send' || c.kind === 'reply');
    expect(reply.conversationId).toBe(client.personalConversationId(manager));
    expect(findById(cardOf(reply.body), 'title')?.text).toBe('Northwind IAM Helpdesk');
    expect(reply.headers.authorization).toBe(`Bearer ${outgoingToken}`);

    expect(issuer.fetches).toEqual(['/v1/.well-known/openidconfiguration', '/v1/.well-known/keys']);
    expect(bot.store.conversations.findPersonal(manager.id)?.conversationId).toBe(client.personalConversationId(manager));
    expect(bot.logs.some((l) => l.msg === 'turn admitted' && l.actor === manager.id)).toBe(true);
    expect(bot.logs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('accepts a token that expired less than the five minutes of allowed clock skew ago', async () => {
    const technician = person('technician');
    const client = bearer(issuer.expired(channelClaims(), 2 * 60));
    expect((await client.message(technician, 'help')).status).toBe(200);
    const reply = await connector.waitFor((c) => c.kind === 'send' || c.kind === 'reply');
    expect(reply.conversationId).toBe(client.personalConversationId(technician));
  });

  it('refuses an activity without a token', async () => {
    await expectRefused(help(new TeamsClient(bot.url, connector.url, tenant.tenantId)));
  });

  it('refuses a token signed by a key the issuer never published', async () => {
    await expectRefused(help(bearer(issuer.signWithUnknownKey(channelClaims()))));
  });

  it('refuses a token signed by another key under the published key id', async () => {
    await expectRefused(help(bearer(issuer.signWithUnknownKey(channelClaims(), issuer.keyId))), REFUSED_BY_JWT_LIBRARY);
  });

  it('refuses an unsigned token (alg none)', async () => {
    await expectRefused(help(bearer(issuer.unsigned(channelClaims(), null))));
    await expectRefused(help(bearer(issuer.unsigned(channelClaims()))), REFUSED_BY_JWT_LIBRARY);
  });

  it('refuses a token that expired more than five minutes ago', async () => {
    await expectRefused(help(bearer(issuer.expired(channelClaims(), 6 * 60))));
  });

  it('refuses a token that is not valid yet', async () => {
    const later = Math.floor(Date.now() / 1000) + 60 * 60;
    await expectRefused(help(bearer(issuer.sign(channelClaims({ nbf: later, exp: later + 3600 })))), REFUSED_BY_JWT_LIBRARY);
  });

  it('refuses a token for another bot', async () => {
    await expectRefused(help(bearer(issuer.sign(channelClaims({ aud: '11111111-2222-4333-8444-555555555555' })))));
  });

  it('refuses a token from another issuer', async () => {
    await expectRefused(help(bearer(issuer.sign(channelClaims({ iss: 'https://api.botframework.example' })))));
  });

  it('refuses a token whose serviceurl is not the activity serviceUrl', async () => {
    await expectRefused(help(bearer(issuer.sign(channelClaims({ serviceurl: 'https://smba.trafficmanager.net/emea/' })))));
  });

  it('refuses a token for a channel its signing key is not endorsed for', async () => {
    const client = bearer(issuer.sign(channelClaims()));
    await expectRefused(() => client.post({ ...client.base(person('employee')), channelId: 'webchat', type: 'message', text: 'help' }));
  });

  it('refuses every token while the signing keys cannot be fetched', async () => {
    const gone = await new FakeBotFrameworkIssuer().start();
    const token = gone.sign(channelClaims());
    await gone.stop();
    const blind = await startProductionBot(gone.metadataUrl);
    try {
      const client = new TeamsClient(blind.url, connector.url, tenant.tenantId, { authorization: `Bearer ${token}` });
      await expectRefused(help(client), 500, blind);
    } finally {
      await blind.close();
    }
  });

  it('resolved no host name but the loopback', () => {
    expect(reachedOut).toEqual([]);
    expect(sdkErrors.filter((e) => /ENOTFOUND|getaddrinfo|EAI_AGAIN/.test(e))).toEqual([]);
  });
});
