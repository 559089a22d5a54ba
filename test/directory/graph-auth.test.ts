import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryError } from '../../directory/directory';
import type { GraphDirectory } from '../../directory/graph-directory';
import { GraphClient } from '../../directory/graph/client';
import { GraphTokenProvider } from '../../directory/graph/credentials';
import { HttpsTransport } from '../../directory/graph/transport';
import type { FakeGraph } from '../support/fake-graph';
import { GRAPH_CLIENT_ID, GRAPH_SECRET, demoTenant as tenant, graphDirectoryFor, startFakeGraph } from '../support/graph-setup';
import { makeSelfSignedCertificate } from '../support/self-signed';

const appCert = makeSelfSignedCertificate({ keyType: 'rsa', commonName: 'northwind-helpdesk' });
const employee = tenant.personas.employee;

let fake: FakeGraph;
const opened: GraphDirectory[] = [];
const open = (options: Parameters<typeof graphDirectoryFor>[1] = {}): GraphDirectory => {
  const d = graphDirectoryFor(fake, options);
  opened.push(d);
  return d;
};

beforeAll(async () => {
  fake = await startFakeGraph({ clientCertificate: appCert.cert });
});
afterAll(async () => {
  await fake?.stop();
});
beforeEach(() => {
  fake.reset();
  fake.tokenLifetimeSeconds = 3600;
  fake.clientSecret = GRAPH_SECRET;
});
afterEach(() => {
  for (const d of opened.splice(0)) d.close();
});

describe('client credentials through MSAL', () => {
  it('with a client secret: one token, cached across calls, for <graph>/.default', async () => {
    const d = open();
    for (let i = 0; i < 5; i++) await d.getUser(employee);
    await d.listGroupMembers(tenant.groups[0]!.id);
    expect(fake.tokenRequests).toEqual([{ credential: 'secret', scope: `${fake.url}/.default`, status: 200 }]);
  });

  it('gets a new token when the cached one is about to expire', async () => {
    fake.tokenLifetimeSeconds = 120; // inside MSAL's five-minute refresh window
    const d = open();
    await d.getUser(employee);
    await d.getUser(employee);
    expect(fake.tokenRequests.filter((t) => t.status === 200)).toHaveLength(2);
  });

  it('reads the authority metadata once when it is not given, and not at all when it is', async () => {
    await open().getUser(employee);
    expect(fake.metadataFetches).toEqual([]);
    await open({ authorityMetadata: undefined }).getUser(employee);
    expect(fake.metadataFetches).toEqual([`/${fake.tenantId}/v2.0/.well-known/openid-configuration`]);
  });

  it('with a certificate (SHA-256 thumbprint): a signed client assertion, checked by the authority', async () => {
    const d = open({ credential: { kind: 'certificate', thumbprint: appCert.thumbprintSha256, privateKey: appCert.key } });
    expect((await d.getUser(employee))?.id).toBe(employee);
    expect(fake.tokenRequests).toEqual([{ credential: 'certificate', scope: `${fake.url}/.default`, status: 200 }]);
  });

  it('with a certificate (SHA-1 thumbprint, certificate chain sent as x5c)', async () => {
    const d = open({
      credential: { kind: 'certificate', thumbprint: appCert.thumbprintSha1, privateKey: appCert.key, certificate: appCert.cert },
    });
    expect((await d.getUser(employee))?.id).toBe(employee);
    expect(fake.tokenRequests.at(-1)).toMatchObject({ credential: 'certificate', status: 200 });
  });

  it('a certificate the app registration does not know is refused, and the error says why', async () => {
    const other = makeSelfSignedCertificate({ keyType: 'rsa' });
    const d = open({ credential: { kind: 'certificate', thumbprint: other.thumbprintSha256, privateKey: other.key } });
    const e = await d.getUser(employee).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DirectoryError);
    expect((e as Error).message).toMatch(/invalid_client.*AADSTS700027/);
    expect(fake.requests).toEqual([]);
  });

  it('a wrong secret is refused without the secret in the message', async () => {
    const d = open({ credential: { kind: 'secret', clientSecret: 'not-the-secret-123' } });
    const e = await d.getUser(employee).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DirectoryError);
    expect((e as Error).message).toMatch(/Could not get a Microsoft Graph token .*invalid_client.*AADSTS7000215/);
    expect((e as Error).message).not.toContain('not-the-secret-123');
    expect(fake.requests).toEqual([]);
  });

  it('a wrong tenant is named', async () => {
    const d = open({ tenantId: '11111111-2222-4333-8444-555555555555' });
    await expect(d.getUser(employee)).rejects.toThrow(/AADSTS90002/);
  });
});

describe('the token only travels over https to the configured Graph host', () => {
  it('the SDK attaches no Authorization header to another host', async () => {
    const transport = new HttpsTransport({ extraCa: fake.ca, timeoutMs: 5000 });
    const auth = new GraphTokenProvider({
      tenantId: fake.tenantId,
      clientId: GRAPH_CLIENT_ID,
      credential: { kind: 'secret', clientSecret: GRAPH_SECRET },
      authorityHost: fake.url,
      graphBaseUrl: fake.url,
      authorityMetadata: fake.authorityMetadata(),
      transport,
    });
    // A client configured for another host: the fake is not one of its Graph hosts.
    const client = new GraphClient({ baseUrl: 'https://localhost:1', auth, transport, retryBudgetMs: 1000 });
    try {
      await expect(client.sdk.api(`${fake.url}/v1.0/users?$top=1`).get()).rejects.toMatchObject({ statusCode: 401 });
      expect(fake.requests.map((r) => r.authorized)).toEqual([false]);
      expect(fake.tokenRequests).toEqual([]);
      // And the directory's own requests refuse to leave the configured origin at all.
      expect(() => client.api(`${fake.url}/v1.0/users`)).toThrow(DirectoryError);
    } finally {
      transport.close();
    }
  });

  it('plain http is refused for Graph and for the transport', async () => {
    const transport = new HttpsTransport({ timeoutMs: 1000 });
    try {
      await expect(transport.request('http://127.0.0.1:1/v1.0/users', {})).rejects.toThrow(/only https/);
      expect(
        () => new GraphClient({ baseUrl: 'http://127.0.0.1:1', auth: { getAccessToken: async () => 'x' }, transport, retryBudgetMs: 1000 }),
      ).toThrow(/must use https/);
    } finally {
      transport.close();
    }
  });

  it('a server certificate nobody vouched for is refused', async () => {
    const d = open({ extraCa: undefined });
    await expect(d.getUser(employee)).rejects.toThrow(/network_error: https:\/\/127\.0\.0\.1:\d+: self-signed certificate/);
    expect(fake.tokenRequests).toEqual([]);
  });
});
