import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type AdDirectoryConfig, type HybridDirectoryConfig } from '../../bot/config';
import { adDirectoryOptions } from '../../bot/directory-setup';

const GUID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const TENANT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const SECRET = 'Service-Secret-Passw0rd';
const ad = { DIRECTORY: 'ad', AD_URL: 'ldaps://127.0.0.1', AD_BIND_DN: 'svc-helpdesk@northwind.example', AD_BIND_PASSWORD: SECRET };

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ad-config-'));
  for (const f of ['ca.pem', 'client.pem', 'client.key']) fs.writeFileSync(path.join(dir, f), `-----BEGIN ${f}-----\n`);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig: Active Directory', () => {
  it('DIRECTORY=ad in local mode with defaults for the pool and timeouts', () => {
    const c = loadConfig(ad);
    expect(c.directory).toEqual({
      kind: 'ad',
      urls: ['ldaps://127.0.0.1'],
      bind: { kind: 'password', bindDn: 'svc-helpdesk@northwind.example', password: SECRET },
      caFile: null,
      tlsServerName: null,
      baseDn: null,
      poolSize: 4,
      timeoutMs: 10_000,
      connectTimeoutMs: 5_000,
      pageSize: 500,
    } satisfies AdDirectoryConfig);
  });

  it('reads every AD variable, several domain controllers included', () => {
    const c = loadConfig({
      ...ad,
      AD_URL: 'ldaps://127.0.0.2:6360, ldap://localhost',
      AD_CA_FILE: path.join(dir, 'ca.pem'),
      AD_TLS_SERVER_NAME: 'dc1.northwind.example',
      AD_BASE_DN: 'OU=Northwind,DC=northwind,DC=example',
      AD_POOL_SIZE: '2',
      AD_TIMEOUT_SECONDS: '3',
      AD_CONNECT_TIMEOUT_SECONDS: '2',
      AD_PAGE_SIZE: '100',
    }).directory as AdDirectoryConfig;
    expect(c).toMatchObject({
      urls: ['ldaps://127.0.0.2:6360', 'ldap://localhost'],
      caFile: path.join(dir, 'ca.pem'),
      tlsServerName: 'dc1.northwind.example',
      baseDn: 'OU=Northwind,DC=northwind,DC=example',
      poolSize: 2,
      timeoutMs: 3000,
      connectTimeoutMs: 2000,
      pageSize: 100,
    });
    const o = adDirectoryOptions(c);
    expect(o).toMatchObject({ urls: c.urls, ca: '-----BEGIN ca.pem-----\n', tlsServerName: 'dc1.northwind.example', size: 2, timeoutMs: 3000 });
  });

  it('takes a client certificate instead of a password, never both', () => {
    const c = loadConfig({
      DIRECTORY: 'ad',
      AD_URL: 'ldaps://127.0.0.1',
      AD_CLIENT_CERTIFICATE_PATH: path.join(dir, 'client.pem'),
      AD_CLIENT_KEY_PATH: path.join(dir, 'client.key'),
    }).directory as AdDirectoryConfig;
    expect(c.bind).toEqual({ kind: 'certificate', certificatePath: path.join(dir, 'client.pem'), keyPath: path.join(dir, 'client.key') });
    expect(adDirectoryOptions(c).credential).toEqual({ kind: 'certificate', certificate: '-----BEGIN client.pem-----\n', privateKey: '-----BEGIN client.key-----\n' });
    expect(configError({ ...ad, AD_CLIENT_CERTIFICATE_PATH: path.join(dir, 'client.pem') })).toMatch(/either AD_BIND_PASSWORD or AD_CLIENT_CERTIFICATE_PATH/);
    expect(configError({ DIRECTORY: 'ad', AD_URL: 'ldaps://127.0.0.1', AD_CLIENT_KEY_PATH: path.join(dir, 'nope.key') })).toMatch(
      /AD_CLIENT_CERTIFICATE_PATH \(the certificate.*AD_CLIENT_KEY_PATH to name a file that exists/,
    );
  });

  it('names what is missing, and never shows the password', () => {
    expect(configError({ DIRECTORY: 'ad' })).toMatch(/DIRECTORY=ad needs: AD_URL .*; AD_BIND_DN with AD_BIND_PASSWORD, or AD_CLIENT_CERTIFICATE_PATH/);
    const m = configError({ DIRECTORY: 'ad', AD_URL: 'ldaps://127.0.0.1', AD_BIND_PASSWORD: SECRET });
    expect(m).toMatch(/AD_BIND_DN \(the service account/);
    expect(m).not.toContain(SECRET);
    expect(configError({ ...ad, AD_CA_FILE: path.join(dir, 'missing.pem') })).toMatch(/AD_CA_FILE to name a file that exists/);
  });

  it('accepts only ldaps:// and ldap:// (StartTLS) URLs that name a server', () => {
    expect(configError({ ...ad, AD_URL: 'https://dc1.northwind.example' })).toMatch(/AD_URL https:\/\/dc1\.northwind\.example must be ldaps:\/\/host/);
    expect(configError({ ...ad, AD_URL: 'ldaps://127.0.0.1/DC=northwind' })).toMatch(/must name the server only/);
    expect(configError({ ...ad, AD_URL: 'not a url' })).toMatch(/AD_URL not is not a URL/);
    expect(configError({ ...ad, AD_POOL_SIZE: '0' })).toMatch(/AD_POOL_SIZE must be between 1 and 16/);
  });

  it('local mode allows only a domain controller on this machine', () => {
    expect(configError({ ...ad, AD_URL: 'ldaps://dc1.corp.example' })).toMatch(/AD_URL=ldaps:\/\/dc1\.corp\.example is not allowed in local mode/);
    expect(configError({ ...ad, AD_URL: 'ldaps://127.0.0.1, ldaps://10.0.0.5' })).toMatch(/10\.0\.0\.5 is not allowed in local mode/);
    expect(loadConfig({ ...ad, AD_URL: 'ldaps://127.45.3.9' }).directory.kind).toBe('ad');
  });

  it('DIRECTORY=hybrid in local mode pairs the demo tenant with AD', () => {
    const c = loadConfig({ ...ad, DIRECTORY: 'hybrid', LOCAL_DIRECTORY_PATH: '/tmp/demo.db' }).directory as HybridDirectoryConfig;
    expect(c.kind).toBe('hybrid');
    expect(c.cloud).toEqual({ kind: 'local', path: '/tmp/demo.db' });
    expect(c.ad.urls).toEqual(['ldaps://127.0.0.1']);
  });
});

describe('loadConfig: Active Directory in production mode', () => {
  const prod = { BOT_ID: GUID, BOT_PASSWORD: 'bot-secret', BOT_TENANT_ID: TENANT, TECHNICIANS_GROUP_ID: GUID, TECHNICIAN_CHANNEL_IDS: '19:technicians@thread.tacv2' };

  it('DIRECTORY=hybrid is Microsoft Graph with AD, on any host', () => {
    const c = loadConfig({ ...prod, ...ad, DIRECTORY: 'hybrid', AD_URL: 'ldaps://dc1.corp.example,ldaps://dc2.corp.example' }).directory as HybridDirectoryConfig;
    expect(c.kind).toBe('hybrid');
    expect(c.cloud).toMatchObject({ kind: 'graph', tenantId: TENANT, clientId: GUID });
    expect(c.ad.urls).toEqual(['ldaps://dc1.corp.example', 'ldaps://dc2.corp.example']);
  });

  it('DIRECTORY=hybrid names missing AD settings beside the others', () => {
    const m = configError({ ...prod, DIRECTORY: 'hybrid' });
    expect(m).toMatch(/Production mode \(BOT_ID is set\) needs: AD_URL .*AD_BIND_DN with AD_BIND_PASSWORD/);
  });

  it('refuses DIRECTORY=ad: Teams ids are Entra object ids, which AD does not hold', () => {
    expect(configError({ ...prod, ...ad })).toMatch(/DIRECTORY=graph or hybrid \(Teams identifies people by their Entra object id/);
  });
});
