import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { randomUUID } from 'node:crypto';
import { ToBotFromBotOrEmulatorTokenValidationParameters } from 'botframework-connector/lib/auth/tokenValidationParameters';
import { AppCredentials } from 'botframework-connector';
import { JwtTokenExtractor } from 'botframework-connector/lib/auth/jwtTokenExtractor';
import { OpenIdMetadata } from 'botframework-connector/lib/auth/openIdMetadata';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startBot } from '../../bot/main';
import { ConfigError } from '../../bot/config';
import { TestClock } from '../support/harness';
import { APP_ID, useProductionBot } from '../support/production-rig';
import { demoPersona, jsonLogSink } from '../support/graph-setup';
import { TeamsClient, type PostResult } from '../support/teams-client';

/**
 * Trust at the edge in production mode, over the real server on 127.0.0.1: only the Bot
 * Framework channel service's tokens reach the SDK (not the bot's own outbound token, nor
 * Entra tokens of any tenant), a flood of bogus tokens leaves memory and latency flat,
 * activities must be Teams in the bot's tenant, errors on the SDK's path go to pino only,
 * and the technicians' channel must be named.
 */
const clock = new TestClock('2026-12-08T09:00:00.000Z');
const p = useProductionBot({ dirPrefix: 'helpdesk-edge-', clock });
const emily = demoPersona('employee');

beforeEach(() => p.connector.clear());

/**
 * Where the SDK fetches Entra ID's signing keys for "emulator" tokens. Offline it cannot, which
 * would hide the hole: the test puts the fake issuer's keys in the SDK's own metadata cache
 * under that URL, so a token signed there is what an Entra-signed token is in production.
 */
const EMULATOR_METADATA = 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration';
const metadataCache = (JwtTokenExtractor as unknown as { openIdMetadataCache: Map<string, OpenIdMetadata> }).openIdMetadataCache;
beforeAll(() => {
  metadataCache.set(EMULATOR_METADATA, new OpenIdMetadata(p.fakes.issuer.metadataUrl));
});
afterAll(() => {
  metadataCache.delete(EMULATOR_METADATA);
});

/**
 * A token Entra ID issues to the bot (`azp` the bot): for the Bot Connector (`aud`
 * https://api.botframework.com; every reply carries it), or for the bot's own app id.
 */
const entraToken = (aud = 'https://api.botframework.com') => {
  const tid = p.fakes.env.BOT_TENANT_ID!;
  return p.fakes.issuer.sign({ aud, iss: `https://login.microsoftonline.com/${tid}/v2.0`, tid, azp: APP_ID, ver: '2.0' });
};

const withToken = (token: string) => new TeamsClient(p.bot.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${token}` });
const channelToken = () => p.fakes.issuer.sign({ aud: APP_ID, serviceurl: p.connector.url });

/** An unsigned token shaped like an Entra ID token of tenant `tid` (what the SDK's emulator check reads). */
function bogusEntraToken(tid: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT', kid: 'k' })}.${part({ iss: `https://sts.windows.net/${tid}/`, tid, aud: APP_ID, appid: APP_ID, ver: '1.0', exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`;
}

/** Sends one request and checks no turn ran: nothing to the connector, no turn admitted or refused. */
async function expectNoTurn(send: () => Promise<PostResult>, status: number): Promise<void> {
  const logged = p.logs.length;
  const res = await send();
  expect(res.status).toBe(status);
  await new Promise((r) => setTimeout(r, 100));
  expect(p.connector.calls).toEqual([]);
  expect(p.logs.slice(logged).filter((l) => ['turn admitted', 'turn refused', 'turn failed'].includes(l.msg))).toEqual([]);
}

describe('only Bot Framework channel tokens', () => {
  it("refuses the bot's own Entra tokens (its outbound connector token, one for its app id) replayed as incoming ones", async () => {
    await expectNoTurn(() => withToken(entraToken()).message(emily, 'help'), 401);
    // The SDK's emulator path took this one as Emily (no audience or serviceUrl binding).
    await expectNoTurn(() => withToken(entraToken(APP_ID)).message(emily, 'help'), 401);
    expect(p.bot.store.conversations.findPersonal(emily.id)).toBeNull();
    // The channel's own token still works.
    expect((await withToken(channelToken()).message(emily, 'help')).status).toBe(200);
  });

  it('refuses Entra tokens of any tenant and malformed bearer values, with 401', async () => {
    for (const auth of [`Bearer ${bogusEntraToken(randomUUID())}`, 'Bearer not-a-jwt', 'Basic dXNlcjpwYXNz', `Bearer ${channelToken()} extra`]) {
      const client = new TeamsClient(p.bot.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: auth });
      await expectNoTurn(() => client.message(emily, 'help'), 401);
    }
  });

  it('20,000 bogus tokens with random tenants leave memory and latency flat', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const issuers = ToBotFromBotOrEmulatorTokenValidationParameters.issuer as string[];
    const issuersBefore = issuers.length;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const url = new URL(`${p.bot.url}/api/messages`);
    const body = JSON.stringify(withToken('x').base(emily, {}));
    const one = (token: string) =>
      new Promise<number>((resolve, reject) => {
        const started = process.hrtime.bigint();
        const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 401 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(body);
      });
    const run = async (n: number) => {
      const times: number[] = new Array(n);
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < n) {
            const i = next++;
            times[i] = await one(bogusEntraToken(randomUUID()));
          }
        }),
      );
      return times;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    await run(1_000); // warm up
    gc();
    const before = process.memoryUsage();
    const times = await run(20_000);
    gc();
    const after = process.memoryUsage();
    agent.destroy();

    // The SDK's process-wide issuer list did not grow (it gains four issuers per unknown tenant).
    expect(issuers.length).toBe(issuersBefore);
    expect(after.heapUsed).toBeLessThan(before.heapUsed * 1.1);
    expect(after.rss).toBeLessThan(before.rss * 1.1);
    const first = median(times.slice(0, 1_000));
    const last = median(times.slice(-1_000));
    expect(last).toBeLessThan(Math.max(first * 1.5, first + 2));
    // Logged once per source and reason a minute, not per request.
    expect(p.logs.filter((l) => /not a Bot Framework channel token/.test(l.msg ?? '')).length).toBeLessThanOrEqual(3);
  }, 240_000);
});

describe('BOT_CLOUD=government', () => {
  it("takes the US government channel service's tokens only", async () => {
    const cache = (AppCredentials as unknown as { cache: Map<string, { accessToken: string; expiresOn: Date }> }).cache;
    const key = `${APP_ID}https://api.botframework.us-cache`;
    cache.set(key, { accessToken: p.fakes.outgoing, expiresOn: new Date(Date.now() + 3_600_000) });
    const gov = await startBot({ ...p.fakes.env, BOT_CLOUD: 'government', DATABASE_PATH: `${p.fakes.dir}/gov.db` }, { logDestination: jsonLogSink([]), clock: clock.now });
    try {
      const as = (iss: string) => new TeamsClient(gov.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${p.fakes.issuer.sign({ aud: APP_ID, serviceurl: p.connector.url, iss })}` });
      expect((await as('https://api.botframework.com').message(emily, 'help')).status).toBe(401);
      expect(p.connector.calls).toEqual([]);
      expect((await as('https://api.botframework.us').message(emily, 'help')).status).toBe(200);
      await p.connector.waitFor((c) => c.kind === 'send' || c.kind === 'reply');
    } finally {
      await gov.close();
      cache.delete(key);
    }
  });
});

describe('pinned to Microsoft Teams in the bot tenant', () => {
  const refusals = () => p.bot.store.audit.query({ action: 'helpdesk.activity-refused' }).map((e) => JSON.parse(e.details));

  it('refuses another tenant or channel with 403 before any directory call, audited once a minute per source', async () => {
    const client = withToken(channelToken());
    const graphCalls = p.graph.requests.length;
    const before = refusals().length;
    const otherTenant = '11111111-2222-4333-8444-555555555555';
    const foreign = () => client.post({ ...client.base(emily), type: 'message', text: 'help', channelData: { tenant: { id: otherTenant } }, conversation: { id: 'a:foreign', conversationType: 'personal', tenantId: otherTenant } });
    for (let i = 0; i < 5; i++) await expectNoTurn(foreign, 403);
    expect(p.graph.requests.length).toBe(graphCalls);
    expect(refusals().slice(before)).toEqual([expect.objectContaining({ reason: 'other-tenant', claimedTenantId: otherTenant, serviceUrlHost: new URL(p.connector.url).host, remoteAddress: '127.0.0.1' })]);
    // A minute later the same source is audited again, once.
    clock.advance(61_000);
    await expectNoTurn(foreign, 403);
    await expectNoTurn(foreign, 403);
    expect(refusals().slice(before).length).toBe(2);
  });
});

describe('errors stay inside pino', () => {
  it('refused and failing requests print nothing outside pino, and no token appears anywhere', async () => {
    const printed: string[] = [];
    const record = (...args: unknown[]) => void printed.push(args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    const spies = (['error', 'warn', 'log', 'info', 'debug'] as const).map((m) => vi.spyOn(console, m).mockImplementation(record));
    const expired = p.fakes.issuer.expired({ aud: APP_ID, serviceurl: p.connector.url }, 10 * 60);
    const otherBot = p.fakes.issuer.sign({ aud: '11111111-2222-4333-8444-555555555555', serviceurl: p.connector.url });
    const badSignature = p.fakes.issuer.signWithUnknownKey({ aud: APP_ID, serviceurl: p.connector.url }, p.fakes.issuer.keyId);
    const logged = p.logs.length;
    try {
      for (const token of [expired, otherBot, p.fakes.outgoing]) expect((await withToken(token).message(emily, 'help')).status).toBe(401);
      // A turn whose reply cannot be delivered (the bot's outbound token travels with the failed request).
      const dead = 'http://127.0.0.1:9/';
      const nowhere = new TeamsClient(p.bot.url, dead, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${p.fakes.issuer.sign({ aud: APP_ID, serviceurl: dead })}` });
      expect((await nowhere.message(emily, 'help')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(printed).toEqual([]);
      // A bad signature: the SDK itself prints the issuer's public keys (no secret, no request); nothing else.
      expect((await withToken(badSignature).message(emily, 'help')).status).toBe(401);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(printed.filter((line) => !/^Error finding key for token\. Available keys: -----BEGIN RSA PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END RSA PUBLIC KEY-----\s*$/.test(line))).toEqual([]);
    const text = JSON.stringify(p.logs.slice(logged));
    for (const token of [expired, otherBot, badSignature, p.fakes.outgoing]) expect(text).not.toContain(token.split('.')[2]);
    expect(text).not.toMatch(/Bearer eyJ/);
    // Refused at the edge (signature, audience, expiry checked before the SDK) or by the SDK.
    expect(p.logs.slice(logged).filter((l) => /^activity refused: token not accepted|not a Bot Framework channel token/.test(l.msg)).length).toBeGreaterThanOrEqual(2);
  });
});

describe("the technicians' channel is named in production", () => {
  it('refuses to start without TECHNICIAN_CHANNEL_IDS or TECHNICIANS_TEAM_ID, naming them', async () => {
    const { TECHNICIAN_CHANNEL_IDS: _ids, ...env } = p.fakes.env;
    await expect(startBot({ ...env, DATABASE_PATH: `${p.fakes.dir}/other.db` })).rejects.toThrow(ConfigError);
    await expect(startBot({ ...env, DATABASE_PATH: `${p.fakes.dir}/other.db` })).rejects.toThrow(/TECHNICIAN_CHANNEL_IDS .*or TECHNICIANS_TEAM_ID/);
  });
});
