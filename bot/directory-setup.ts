import fs from 'node:fs';
import { AdDirectory, type AdDirectoryOptions } from '../directory/ad-directory';
import { loadDemoTenant } from '../directory/demo-tenant';
import type { Directory } from '../directory/directory';
import { GraphDirectory, type GraphDirectoryOptions } from '../directory/graph-directory';
import type { GraphCredential } from '../directory/graph/credentials';
import { GraphOnPremisesLinks, HybridDirectory } from '../directory/hybrid-directory';
import { LocalDirectory } from '../directory/local-directory';
import type { AdDirectoryConfig, AppConfig, GraphDirectoryConfig } from './config';
import type { Logger } from './logger';

/** The directory the configuration names, opened, with what closes it. */
export interface OpenedDirectory {
  directory: Directory;
  /** The technicians group: the configured one, or in local mode the demo tenant's. */
  technicianGroupId: string | null;
  close(): void;
}

/**
 * Opens the configured directory: the local demo tenant (local mode), Microsoft Entra ID
 * through Microsoft Graph (production), Active Directory (`ad`, a lab DC in local mode), or
 * either cloud with Active Directory (`hybrid`). Opening reads the key and CA files and talks
 * to nobody yet; the first token or LDAP connection comes with the first call.
 */
export function openDirectory(config: AppConfig, logger: Logger): OpenedDirectory {
  const c = config.directory;
  if (c.kind === 'ad' || c.kind === 'hybrid') {
    // Opening reads the CA and key files and talks to nobody yet: the first call connects.
    const ad = AdDirectory.create(adDirectoryOptions(c.kind === 'ad' ? c : c.ad));
    const closeAd = () => void ad.close().catch((e: Error) => logger.warn({ component: 'ad', err: e.message }, 'closing Active Directory connections failed'));
    if (c.kind === 'ad') {
      // AD alone serves the local demo against a lab DC seeded with the demo tenant's ids.
      return { directory: ad, technicianGroupId: config.technicianGroupId ?? loadDemoTenant().technicianGroupId, close: closeAd };
    }
    if (c.cloud.kind === 'local') {
      const tenant = loadDemoTenant();
      const local = LocalDirectory.open(c.cloud.path, tenant);
      return {
        directory: new HybridDirectory({ cloud: local, onPremises: ad }),
        technicianGroupId: config.technicianGroupId ?? tenant.technicianGroupId,
        close: () => {
          local.close();
          closeAd();
        },
      };
    }
    const graph = GraphDirectory.create(graphDirectoryOptions(c.cloud, (level, message) => logger[level]({ component: 'msal' }, message)));
    return {
      directory: new HybridDirectory({ cloud: graph, onPremises: ad, links: new GraphOnPremisesLinks(graph.client) }),
      technicianGroupId: config.technicianGroupId,
      close: () => {
        graph.close();
        closeAd();
      },
    };
  }
  if (c.kind === 'local') {
    const tenant = loadDemoTenant();
    const local = LocalDirectory.open(c.path, tenant);
    return { directory: local, technicianGroupId: config.technicianGroupId ?? tenant.technicianGroupId, close: () => local.close() };
  }
  const graph = GraphDirectory.create(
    graphDirectoryOptions(c, (level, message) => logger[level]({ component: 'msal' }, message)),
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

/** {@link AdDirectory} options from the configuration; reads the CA, certificate and key files. */
export function adDirectoryOptions(c: AdDirectoryConfig): AdDirectoryOptions {
  return {
    urls: c.urls,
    credential:
      c.bind.kind === 'password'
        ? { kind: 'password', bindDn: c.bind.bindDn, password: c.bind.password }
        : { kind: 'certificate', certificate: fs.readFileSync(c.bind.certificatePath, 'utf8'), privateKey: fs.readFileSync(c.bind.keyPath, 'utf8') },
    ...(c.caFile ? { ca: fs.readFileSync(c.caFile, 'utf8') } : {}),
    ...(c.tlsServerName ? { tlsServerName: c.tlsServerName } : {}),
    ...(c.baseDn ? { baseDn: c.baseDn } : {}),
    size: c.poolSize,
    timeoutMs: c.timeoutMs,
    connectTimeoutMs: c.connectTimeoutMs,
    pageSize: c.pageSize,
  };
}
