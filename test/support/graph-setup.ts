import dns from 'node:dns';
import { Writable } from 'node:stream';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { GraphDirectory, type GraphDirectoryOptions } from '../../directory/graph-directory';
import { FakeGraph, type FakeGraphOptions } from './fake-graph';
import type { TestUser } from './teams-client';

/** The app registration the fake Graph knows. */
export const GRAPH_CLIENT_ID = '3c9f4b1e-2d7a-4e8b-9c1f-5a6b7c8d9e0f';
export const GRAPH_SECRET = 'fake-graph-client-secret-value';

export const demoTenant = loadDemoTenant();

/** A started fake Graph for the test app, seeded from the demo tenant. */
export function startFakeGraph(options: Partial<FakeGraphOptions> = {}): Promise<FakeGraph> {
  return new FakeGraph({ clientId: GRAPH_CLIENT_ID, clientSecret: GRAPH_SECRET, tenant: demoTenant, ...options }).start();
}

/** A Graph directory pointed at `fake`, trusting its certificate, with short retry waits. */
export function graphDirectoryFor(fake: FakeGraph, options: Partial<GraphDirectoryOptions> = {}): GraphDirectory {
  return GraphDirectory.create({
    tenantId: fake.tenantId,
    clientId: GRAPH_CLIENT_ID,
    credential: { kind: 'secret', clientSecret: GRAPH_SECRET },
    authorityHost: fake.url,
    baseUrl: fake.url,
    authorityMetadata: fake.authorityMetadata(),
    extraCa: fake.ca,
    retryDelaySeconds: 0.05,
    ...options,
  });
}

/** A demo persona as a test user, with its sign-in name. */
export function demoPersona(key: 'employee' | 'manager' | 'technician'): TestUser & { upn: string } {
  const u = demoTenant.users.find((x) => x.id === demoTenant.personas[key])!;
  return { id: u.id, displayName: u.displayName, upn: u.userPrincipalName };
}

/**
 * Production-mode tests run offline: every DNS lookup but loopback fails at once, and the
 * names asked for are kept in `reachedOut` (a test asserts it stays empty). `restore()` puts
 * the real lookup back.
 */
export function loopbackOnlyDns(): { reachedOut: string[]; restore(): void } {
  const reachedOut: string[] = [];
  const realLookup = dns.lookup;
  const loopback = new Set(['127.0.0.1', '::1', 'localhost']);
  const lookup = (host: string, options: unknown, callback?: (...args: unknown[]) => void): void => {
    if (loopback.has(host)) return void (realLookup as (...args: unknown[]) => void).call(dns, host, options, callback);
    reachedOut.push(host);
    const cb = (typeof options === 'function' ? options : callback) as (err: Error) => void;
    process.nextTick(cb, Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host, syscall: 'getaddrinfo' }));
  };
  (dns as { lookup: unknown }).lookup = lookup;
  return {
    reachedOut,
    restore: () => void ((dns as { lookup: unknown }).lookup = realLookup),
  };
}

/** A log destination that parses the bot's JSON log lines into `logs`. */
export function jsonLogSink(logs: any[]): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
}

