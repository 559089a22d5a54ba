import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ForbiddenError, InvalidInputError } from '../../directory/directory';
import type { GraphDirectory } from '../../directory/graph-directory';
import { TeamsAppInstaller } from '../../directory/graph/teams-app-installation';
import { ALL_ROLES, type FakeGraph } from '../support/fake-graph';
import { demoTenant as tenant, graphDirectoryFor, startFakeGraph } from '../support/graph-setup';

const BOT_ID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const CATALOG_ID = 'a6b63365-31a4-4f43-92ec-710b71557af9';
const employee = tenant.personas.employee;

let fake: FakeGraph;
let d: GraphDirectory;

beforeAll(async () => {
  fake = await startFakeGraph({ teamsApps: [{ id: CATALOG_ID, externalId: BOT_ID, displayName: 'Northwind IAM Helpdesk' }] });
});
afterAll(async () => {
  await fake?.stop();
});
beforeEach(() => {
  fake.reset();
  fake.grantedRoles = [...ALL_ROLES];
  d?.close();
  d = graphDirectoryFor(fake);
});

describe('installing the app for a user through Graph (proactive reach)', () => {
  it('installs the app in the personal scope and returns the 1:1 chat id', async () => {
    const installer = new TeamsAppInstaller(d.client);
    expect(await installer.findCatalogAppId(BOT_ID)).toBe(CATALOG_ID);
    const first = await installer.ensureInstalledForUser(employee, CATALOG_ID);
    expect(first.newlyInstalled).toBe(true);
    expect(first.chatId).toBe(`19:${employee}_${BOT_ID}@unq.gbl.spaces`);

    const post = fake.calls('POST', /teamwork\/installedApps$/)[0]!;
    expect(post.path).toBe(`/users/${employee}/teamwork/installedApps`);
    expect(post.body).toEqual({ 'teamsApp@odata.bind': `${fake.url}/v1.0/appCatalogs/teamsApps/${CATALOG_ID}` });
    // The installation id is base64 (with / + =): it must travel encoded in the chat URL.
    const chat = fake.calls('GET', /\/chat$/)[0]!;
    expect(chat.status).toBe(200);

    const again = await installer.ensureInstalledForUser(employee, CATALOG_ID);
    expect(again).toEqual({ ...first, newlyInstalled: false });
    expect(fake.calls('POST', /teamwork\/installedApps$/).map((r) => r.status)).toEqual([201, 409]);
  });

  it('names TeamsAppInstallation.ReadWriteSelfForUser.All when it is missing', async () => {
    fake.grantedRoles = ALL_ROLES.filter((r) => r !== 'TeamsAppInstallation.ReadWriteSelfForUser.All');
    d.close();
    d = graphDirectoryFor(fake);
    const e = await new TeamsAppInstaller(d.client).ensureInstalledForUser(employee, CATALOG_ID).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ForbiddenError);
    expect((e as ForbiddenError).missingPermission).toBe('TeamsAppInstallation.ReadWriteSelfForUser.All');
  });

  it('validates ids before any request, and finds no app for an unknown manifest id', async () => {
    const installer = new TeamsAppInstaller(d.client);
    await expect(installer.ensureInstalledForUser('nope', CATALOG_ID)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(installer.ensureInstalledForUser(employee, "x' or 1 eq 1")).rejects.toBeInstanceOf(InvalidInputError);
    expect(fake.requests).toEqual([]);
    expect(await installer.findCatalogAppId('11111111-2222-4333-8444-555555555555')).toBeNull();
  });
});
