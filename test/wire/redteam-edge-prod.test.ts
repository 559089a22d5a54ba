import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { ToBotFromBotOrEmulatorTokenValidationParameters } from 'botframework-connector/lib/auth/tokenValidationParameters';
import { JwtTokenExtractor } from 'botframework-connector/lib/auth/jwtTokenExtractor';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { TestClock } from '../support/harness';
import { APP_ID, useProductionBot } from '../support/production-rig';
import { demoPersona } from '../support/graph-setup';
import { TeamsClient } from '../support/teams-client';

/**
 * Trust at the edge in production mode, attacked where the first tests stopped: tokens that
 * claim the channel service's issuer (anyone can write one, unsigned) must not feed the SDK's
 * process-wide state nor its console.
 */
const clock = new TestClock('2026-12-08T09:00:00.000Z');
const p = useProductionBot({ dirPrefix: 'helpdesk-edge-rt-', clock });
const emily = demoPersona('employee');

beforeEach(() => p.connector.clear());

const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** An unsigned token that claims the channel service's issuer, carrying a tenant claim. */
const forgedChannelToken = (claims: Record<string, unknown>, kid = 'k') =>
  `${part({ alg: 'RS256', typ: 'JWT', kid })}.${part({ iss: 'https://api.botframework.com', aud: APP_ID, serviceurl: p.connector.url, exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}.c2ln`;

describe('tokens claiming the channel issuer', () => {
  it("leave the SDK's process-wide issuer list as it was, whatever tenant they claim", async () => {
    const issuers = ToBotFromBotOrEmulatorTokenValidationParameters.issuer as string[];
    const before = issuers.length;
    for (let i = 0; i < 50; i++) {
      const client = new TeamsClient(p.bot.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${forgedChannelToken({ tid: randomUUID() })}` });
      expect((await client.message(emily, 'help')).status).toBe(401);
    }
    for (const tid of [12345, { a: 1 }, ['x'], 'not-a-guid-at-all']) {
      const client = new TeamsClient(p.bot.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${forgedChannelToken({ tid })}` });
      expect((await client.message(emily, 'help')).status).toBe(401);
    }
    expect(issuers.length).toBe(before);
    expect(p.connector.calls).toEqual([]);
  });

  it('a flood of forged tokens with a real key id prints nothing to the console', async () => {
    const printed: string[] = [];
    const spies = (['error', 'warn', 'log', 'info', 'debug'] as const).map((m) => vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void printed.push(String(a[0]).slice(0, 80))));
    try {
      for (let i = 0; i < 20; i++) {
        const client = new TeamsClient(p.bot.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${forgedChannelToken({}, p.fakes.issuer.keyId)}` });
        expect((await client.message(emily, 'help')).status).toBe(401);
      }
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(printed).toEqual([]);
  });

  it('are answered 401 before their body is read, as is a genuine channel token for another bot', async () => {
    const url = new URL(`${p.bot.url}/api/messages`);
    const headersOnly = (token: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 500_000, authorization: `Bearer ${token}` } });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
          req.destroy();
        });
        req.on('error', reject);
        setTimeout(() => {
          req.destroy();
          resolve(0);
        }, 3_000);
        // Headers only: the body never comes.
        req.flushHeaders();
      });
    expect(await headersOnly(forgedChannelToken({}, p.fakes.issuer.keyId))).toBe(401);
    expect(await headersOnly(p.fakes.issuer.sign({ aud: '11111111-2222-4333-8444-555555555555', serviceurl: p.connector.url }))).toBe(401);
    // A genuine token for this bot is let through to the body (and the bot waits for it).
    expect(await headersOnly(p.fakes.issuer.sign({ aud: APP_ID, serviceurl: p.connector.url }))).toBe(0);
  });

  it("a flood of unknown key ids makes the bot fetch the channel service's keys once, not once per request", async () => {
    const cache = (JwtTokenExtractor as unknown as { openIdMetadataCache: Map<string, { lastUpdated: number }> }).openIdMetadataCache;
    const metadata = cache.get(p.fakes.issuer.metadataUrl)!;
    // The keys were last read over an hour ago: an unknown key id may have the keys read again.
    metadata.lastUpdated = Date.now() - 2 * 3600_000;
    const before = p.fakes.issuer.fetches.length;
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () => new TeamsClient(p.bot.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${forgedChannelToken({}, randomUUID())}` }).message(emily, 'help').then((r) => r.status)),
    );
    expect(new Set(statuses)).toEqual(new Set([401]));
    for (let i = 0; i < 10; i++) {
      const client = new TeamsClient(p.bot.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${forgedChannelToken({}, randomUUID())}` });
      expect((await client.message(emily, 'help')).status).toBe(401);
    }
    // One read of the metadata and one of its keys.
    expect(p.fakes.issuer.fetches.length - before).toBeLessThanOrEqual(2);
    // A genuine token still passes.
    expect((await new TeamsClient(p.bot.url, p.connector.url, p.fakes.env.BOT_TENANT_ID!, { authorization: `Bearer ${p.fakes.issuer.sign({ aud: APP_ID, serviceurl: p.connector.url })}` }).message(emily, 'help')).status).toBe(200);
  });
});

describe('/healthz', () => {
  it('a flood of health checks while the directory fails makes a few directory requests, not one per call', async () => {
    p.graph.inject({ status: 403, path: /^\/users/, times: 1_000 });
    const graphCalls = () => p.graph.requests.filter((r) => /^\/users/.test(r.path)).length;
    const before = graphCalls();
    const one = () => fetch(`${p.bot.url}/healthz`).then((r) => r.status);
    const statuses = [...(await Promise.all(Array.from({ length: 30 }, one)))];
    for (let i = 0; i < 20; i++) statuses.push(await one());
    expect(new Set(statuses)).toEqual(new Set([503]));
    expect(graphCalls() - before).toBeLessThanOrEqual(5);
  });
});
