import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'ldapts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../bot/config';
import { openDirectory } from '../../bot/directory-setup';
import { createLogger } from '../../bot/logger';
import { startBot, type RunningBot } from '../../bot/main';
import type { AdDirectory } from '../../directory/ad-directory';
import { bindFailureReason } from '../../directory/ad/errors';
import { guidToBytes, immutableIdFromBytes } from '../../directory/ad/guid';
import { UnsupportedError } from '../../directory/directory';
import type { GraphDirectory } from '../../directory/graph-directory';
import { GraphOnPremisesLinks, HybridDirectory } from '../../directory/hybrid-directory';
import { LocalDirectory } from '../../directory/local-directory';
import { DEMO_PASSWORD, ORG_DN, adDirectoryFor, ldapClient, resetDemoState, startDemoSamba, tryBind } from '../support/ad-setup';
import type { FakeGraph } from '../support/fake-graph';
import { demoTenant as tenant, graphDirectoryFor, startFakeGraph } from '../support/graph-setup';
import type { SambaDc } from '../support/samba';
import { directoryContract } from './contract';
import { fixturesFrom } from './fixtures';

/**
 * Hybrid routing against a real AD (Samba) whose objectGUIDs differ from the cloud's ids, as
 * they do for real: with the demo tenant as the cloud (matched by UPN), and with the fake
 * Microsoft Graph (matched by onPremisesImmutableId).
 */

const f = fixturesFrom(tenant);
const synced = tenant.users.find((u) => u.onPremisesSyncEnabled && !u.locked)!;
const syncedLocked = tenant.users.find((u) => u.onPremisesSyncEnabled && u.locked)!;
const employee = tenant.users.find((u) => u.id === tenant.personas.employee)!;

let dc: SambaDc;
let admin: Client;
let ad: AdDirectory;
let tmp: string;

beforeAll(async () => {
  dc = await startDemoSamba(tenant, { keepIds: false });
  admin = await ldapClient(dc);
  ad = adDirectoryFor(dc);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-'));
}, 120_000);

afterAll(async () => {
  await ad?.close();
  await admin?.unbind().catch(() => undefined);
  await dc?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('hybrid with the demo tenant as the cloud', () => {
  let local: LocalDirectory;
  let hybrid: HybridDirectory;
  beforeAll(() => {
    local = LocalDirectory.open(path.join(tmp, 'cloud.db'), tenant);
    hybrid = new HybridDirectory({ cloud: local, onPremises: ad });
  });
  afterAll(() => local?.close());

  directoryContract(
    'hybrid (demo tenant + Active Directory on Samba)',
    async () => {
      local.reset();
      await resetDemoState(admin, dc, tenant);
      return { directory: hybrid, fixtures: f, teardown: async () => undefined };
    },
    { onPremisesAccounts: true, authenticationMethods: true, signInActivity: true },
  );

  it('keeps cloud ids: AD objectGUIDs never leave it', async () => {
    const adId = await hybrid.onPremisesAccountOf(synced.id);
    expect(adId).toBe(dc.objects[synced.id]!.guid);
    expect(adId).not.toBe(synced.id);
    expect((await hybrid.getUser(synced.id))?.id).toBe(synced.id);
    expect(await hybrid.onPremisesAccountOf(employee.id)).toBeNull();
  });
});

describe('hybrid with Microsoft Graph as the cloud', () => {
  let fake: FakeGraph;
  let graph: GraphDirectory;
  let hybrid: HybridDirectory;
  beforeAll(async () => {
    fake = await startFakeGraph();
    graph = graphDirectoryFor(fake);
  });
  afterAll(async () => {
    graph?.close();
    await fake?.stop();
  });
  beforeEach(async () => {
    fake.reset();
    await resetDemoState(admin, dc, tenant);
    // Entra Connect's anchor of each synced user: the AD account's ms-DS-ConsistencyGuid.
    for (const u of tenant.users.filter((x) => x.onPremisesSyncEnabled)) {
      fake.users.get(u.id)!.onPremisesImmutableId = immutableIdFromBytes(guidToBytes(dc.objects[u.id]!.guid));
    }
    hybrid = new HybridDirectory({ cloud: graph, onPremises: ad, links: new GraphOnPremisesLinks(graph.client) });
  });

  it("resets a synced user's password in AD: the user signs in with it there, Graph is not asked", async () => {
    await hybrid.resetPassword(synced.id, 'Synced-Reset-Passw0rd-1', false);
    expect(fake.calls('PATCH')).toEqual([]);
    expect(await tryBind(dc, synced.userPrincipalName, 'Synced-Reset-Passw0rd-1')).toBeNull();
    expect(bindFailureReason(await tryBind(dc, synced.userPrincipalName, DEMO_PASSWORD))).toBe('invalid-credentials');
    const state = await hybrid.getSignInState(synced.id);
    expect(state).toMatchObject({ lockSupported: true, locked: false, passwordChangeRequired: false });

    const err = await hybrid.resetPassword(synced.id, 'short1A', false).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/domain's password policy refused the new password: it is too short/);
  });

  it('unlocks a synced user in AD, after which they can sign in', async () => {
    expect(bindFailureReason(await tryBind(dc, syncedLocked.userPrincipalName, DEMO_PASSWORD))).toBe('locked');
    expect(await hybrid.getSignInState(syncedLocked.id)).toMatchObject({ lockSupported: true, locked: true });
    await hybrid.unlockAccount(syncedLocked.id);
    expect((await hybrid.getSignInState(syncedLocked.id)).locked).toBe(false);
    expect(await tryBind(dc, syncedLocked.userPrincipalName, DEMO_PASSWORD)).toBeNull();
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('leaves cloud-only users to Graph, even where AD has an account with the same UPN', async () => {
    await hybrid.resetPassword(employee.id, 'Cloud-Reset-Passw0rd-2', true);
    expect(fake.calls('PATCH').map((c) => c.path)).toEqual([`/users/${employee.id}`]);
    expect(await tryBind(dc, employee.userPrincipalName, DEMO_PASSWORD)).toBeNull();
    expect((await hybrid.getSignInState(employee.id)).lockSupported).toBe(false);
    await expect(hybrid.unlockAccount(employee.id)).rejects.toThrow(/smart lockout/);
  });

  it("enables and disables a synced account in AD, and shows AD's flag before the next sync", async () => {
    await hybrid.resetPassword(synced.id, 'Known-Passw0rd-5', false);
    await hybrid.setAccountEnabled(synced.id, false);
    expect(fake.calls('PATCH')).toEqual([]);
    expect(fake.users.get(synced.id)!.accountEnabled).toBe(true); // Entra learns it at the next sync
    expect((await hybrid.getUser(synced.id))?.accountEnabled).toBe(false);
    expect((await ad.getUser(dc.objects[synced.id]!.guid))?.accountEnabled).toBe(false);
    expect(bindFailureReason(await tryBind(dc, synced.userPrincipalName, 'Known-Passw0rd-5'))).toBe('disabled');
    await hybrid.setAccountEnabled(synced.id, true);
    expect((await hybrid.getUser(synced.id))?.accountEnabled).toBe(true);
    expect(await tryBind(dc, synced.userPrincipalName, 'Known-Passw0rd-5')).toBeNull();
  });

  it('matches by immutable id before UPN, then by on-premises UPN, and says when nothing matches', async () => {
    // The cloud UPN no longer matches AD: the immutable id still finds the account.
    fake.users.get(synced.id)!.userPrincipalName = 'liam.renamed@northwind.onmicrosoft.example';
    expect(await hybrid.onPremisesAccountOf(synced.id)).toBe(dc.objects[synced.id]!.guid);

    const byUpn = new HybridDirectory({ cloud: graph, onPremises: ad, links: new GraphOnPremisesLinks(graph.client) });
    fake.users.get(synced.id)!.onPremisesImmutableId = null;
    fake.users.get(synced.id)!.onPremisesUserPrincipalName = synced.userPrincipalName;
    expect(await byUpn.onPremisesAccountOf(synced.id)).toBe(dc.objects[synced.id]!.guid);

    const none = new HybridDirectory({ cloud: graph, onPremises: ad, links: new GraphOnPremisesLinks(graph.client) });
    fake.users.get(synced.id)!.onPremisesUserPrincipalName = null;
    const err = await none.resetPassword(synced.id, 'Never-Sent-Passw0rd-3', false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/no account there matches them.*AD_BASE_DN/);
    expect(fake.calls('PATCH')).toEqual([]);
  });

  it("changes a synced user's profile in AD and shows it before the next sync; a cloud-only user's in Graph", async () => {
    const adDn = dc.objects[synced.id]!.dn;
    const otherSynced = tenant.users.find((u) => u.onPremisesSyncEnabled && u.id !== synced.id)!;
    await hybrid.updateUserProfile(synced.id, { department: 'Logistics', jobTitle: 'Warehouse Lead', managerId: otherSynced.id });
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    const e = (await admin.search(adDn, { scope: 'base', attributes: ['department', 'title', 'manager'] })).searchEntries[0]!;
    expect([e.department, e.title, String(e.manager).toLowerCase()]).toEqual(['Logistics', 'Warehouse Lead', dc.objects[otherSynced.id]!.dn.toLowerCase()]);
    expect(fake.users.get(synced.id)!.department).toBe(synced.department); // Entra learns it at the next sync
    expect(await hybrid.getUser(synced.id)).toMatchObject({ id: synced.id, department: 'Logistics', jobTitle: 'Warehouse Lead' });
    expect((await hybrid.getManager(synced.id))?.id).toBe(otherSynced.id);

    // AD's manager names an AD account: a cloud-only manager cannot be set there.
    const err = await hybrid.updateUserProfile(synced.id, { managerId: employee.id }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/cloud-only account/);

    await hybrid.updateUserProfile(employee.id, { jobTitle: 'Senior Accountant' });
    expect(fake.calls('PATCH').map((r) => [r.path, r.body])).toEqual([[`/users/${employee.id}`, { jobTitle: 'Senior Accountant' }]]);
    // Last sign-ins come from the cloud, for synced users too.
    expect((await hybrid.getLastSignIns([synced.id])).get(synced.id)?.toISOString()).toBe(new Date(synced.lastSignIn!).toISOString());
  });

  it('keeps MFA, passes and sessions in the cloud for synced users too', async () => {
    const tap = await hybrid.createTemporaryAccessPass(synced.id, { lifetimeInMinutes: 60, isUsableOnce: true });
    expect(fake.calls('POST', /temporaryAccessPassMethods$/).at(-1)!.path).toBe(`/users/${synced.id}/authentication/temporaryAccessPassMethods`);
    expect((await hybrid.listAuthMethods(synced.id)).map((m) => m.id)).toContain(tap.id);
    await hybrid.revokeSessions(synced.id);
    expect(hybrid.capabilities).toEqual({ onPremisesAccounts: true, authenticationMethods: true, signInActivity: true });
  });

  it('is healthy only when both are', async () => {
    expect(await hybrid.health()).toEqual({ ok: true, detail: 'graph: Microsoft Graph answers; ad: Active Directory answers' });
    const adDown = adDirectoryFor(dc, { urls: ['ldaps://127.0.0.1:1'], connectTimeoutMs: 500 });
    try {
      const h = await new HybridDirectory({ cloud: graph, onPremises: adDown }).health();
      expect(h).toEqual({ ok: false, detail: 'graph: Microsoft Graph answers; ad: Active Directory did not answer' });
    } finally {
      await adDown.close();
    }
  });
});

describe('configured from the environment (local mode)', () => {
  let caFile: string;
  let env: Record<string, string>;
  beforeAll(() => {
    caFile = path.join(tmp, 'ad-ca.pem');
    fs.writeFileSync(caFile, dc.ca);
    env = {
      DIRECTORY: 'hybrid',
      LOCAL_DIRECTORY_PATH: path.join(tmp, 'demo.db'),
      AD_URL: dc.url,
      AD_BIND_DN: dc.service!.bindDn,
      AD_BIND_PASSWORD: dc.service!.password,
      AD_CA_FILE: caFile,
      AD_TLS_SERVER_NAME: dc.serverName,
      AD_BASE_DN: ORG_DN,
      AD_POOL_SIZE: '2',
    };
  });

  it('DIRECTORY=hybrid opens the demo tenant with AD and routes a synced user to AD', async () => {
    await resetDemoState(admin, dc, tenant);
    const opened = openDirectory(loadConfig(env), createLogger('silent'));
    try {
      expect(opened.directory.kind).toBe('hybrid');
      expect(opened.technicianGroupId).toBe(tenant.technicianGroupId);
      await opened.directory.resetPassword(synced.id, 'Configured-Passw0rd-4', false);
      expect(await tryBind(dc, synced.userPrincipalName, 'Configured-Passw0rd-4')).toBeNull();
    } finally {
      opened.close();
    }
  });

  it('/healthz reports both directories', async () => {
    let bot: RunningBot | undefined;
    try {
      bot = await startBot({ ...env, PORT: '0', DATABASE_PATH: path.join(tmp, 'helpdesk.db'), LOG_LEVEL: 'silent', PLAYGROUND: 'false' });
      const res = await fetch(`${bot.url}/healthz`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { directory: unknown };
      expect(body.directory).toEqual({ kind: 'hybrid', reachable: true, detail: expect.stringMatching(/^local: \d+ users; ad: Active Directory answers$/) });
      expect(JSON.stringify(body)).not.toContain(dc.service!.password);
    } finally {
      await bot?.close();
    }
  });
});
