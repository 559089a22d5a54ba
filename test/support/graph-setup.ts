import { loadDemoTenant } from '../../directory/demo-tenant';
import { GraphDirectory, type GraphDirectoryOptions } from '../../directory/graph-directory';
import { FakeGraph, type FakeGraphOptions } from './fake-graph';

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
