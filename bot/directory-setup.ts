import fs from 'node:fs';
import { loadDemoTenant } from '../directory/demo-tenant';
import type { Directory } from '../directory/directory';
import { GraphDirectory, type GraphDirectoryOptions } from '../directory/graph-directory';
import type { GraphCredential } from '../directory/graph/credentials';
import { LocalDirectory } from '../directory/local-directory';
import type { AppConfig, GraphDirectoryConfig } from './config';
import type { Logger } from './logger';

/** The directory the configuration names, opened, with what closes it. */
export interface OpenedDirectory {
  directory: Directory;
  /** The technicians group: the configured one, or in local mode the demo tenant's. */
  technicianGroupId: string | null;
  close(): void;
}

/**
 * Opens the configured directory: the local demo tenant (local mode) or Microsoft Entra ID
 * through Microsoft Graph (production). Opening Graph reads the key and CA files and talks
 * to nobody yet; the first token is fetched with the first call.
 */
export function openDirectory(config: AppConfig, logger: Logger): OpenedDirectory {
  if (config.directory.kind === 'local') {
    const tenant = loadDemoTenant();
    const local = LocalDirectory.open(config.directory.path, tenant);
    return { directory: local, technicianGroupId: config.technicianGroupId ?? tenant.technicianGroupId, close: () => local.close() };
  }
  const graph = GraphDirectory.create(
    graphDirectoryOptions(config.directory, (level, message) => logger[level]({ component: 'msal' }, message)),
  );
  return { directory: graph, technicianGroupId: config.technicianGroupId, close: () => graph.close() };
}

/** {@link GraphDirectory} options from the configuration; reads the key, certificate and CA files. */
export function graphDirectoryOptions(
  c: GraphDirectoryConfig,
  onLog?: (level: 'error' | 'warn', message: string) => void,
): GraphDirectoryOptions {
  const credential: GraphCredential =
    c.credential.kind === 'secret'
      ? { kind: 'secret', clientSecret: c.credential.secret }
      : {
          kind: 'certificate',
          thumbprint: c.credential.thumbprint,
          privateKey: fs.readFileSync(c.credential.keyPath, 'utf8'),
          ...(c.credential.certificatePath ? { certificate: fs.readFileSync(c.credential.certificatePath, 'utf8') } : {}),
        };
  return {
    tenantId: c.tenantId,
    clientId: c.clientId,
    credential,
    authorityHost: c.authorityHost,
    baseUrl: c.baseUrl,
    ...(c.caFile ? { extraCa: fs.readFileSync(c.caFile, 'utf8') } : {}),
    requestTimeoutMs: c.requestTimeoutMs,
    retryBudgetMs: c.retryBudgetMs,
    ...(onLog ? { onLog } : {}),
  };
}
