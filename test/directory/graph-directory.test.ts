import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  UnsupportedError,
} from '../../directory/directory';
import type { GraphDirectory } from '../../directory/graph-directory';
import { maskEmail, maskPhone } from '../../directory/graph-directory';
import { ALL_ROLES, type FakeGraph } from '../support/fake-graph';
import { demoTenant as tenant, graphDirectoryFor, startFakeGraph } from '../support/graph-setup';
import { directoryContract } from './contract';
import { fixturesFrom } from './fixtures';

const USER_SELECT = 'id,userPrincipalName,displayName,mail,givenName,surname,department,jobTitle,accountEnabled,onPremisesSyncEnabled,userType';
const GROUP_SELECT = 'id,displayName,description,mail';
const f = fixturesFrom(tenant, { lockout: false });
const kevin = tenant.users.find((u) => u.surname === "O'Brien")!;

let fake: FakeGraph;
let d: GraphDirectory;

beforeAll(async () => {
  fake = await startFakeGraph();
  d = graphDirectoryFor(fake);
});

afterAll(async () => {
  d?.close();
  await fake?.stop();
});

directoryContract('graph (Microsoft Graph, against the fake)', async () => {
  fake.reset();
  return { directory: d, fixtures: f, teardown: async () => undefined };
});

describe('GraphDirectory on Graph v1.0', () => {
  beforeEach(() => {
    fake.reset();
    fake.maxPageSize = 4;
  });

  it('authenticates every request with a token for its own audience, over https only', async () => {
    await d.getUser(f.userId);
    await d.listGroupMembers(f.groupId);
    expect(fake.requests.length).toBeGreaterThan(1);
    for (const r of fake.requests) {
      expect(r.authorized, `${r.method} ${r.path}`).toBe(true);
      expect(r.status).toBe(200);
    }
    expect(fake.url.startsWith('https://127.0.0.1:')).toBe(true);
    // Every request carries a client-request-id for support cases.
    expect(fake.requests.every((r) => typeof r.headers['client-request-id'] === 'string')).toBe(true);
  });

  it('asks only for the fields it uses', async () => {
    await d.getUser(f.userId);
    await d.findUserByUpn(tenant.users[0]!.userPrincipalName);
    await d.searchUsers('emily');
    await d.getManager(f.userId);
    await d.getDirectReports(f.managerId);
    await d.listGroupMembers(f.groupId);
    await d.listGroupOwners(f.groupId);
    await d.getGroup(f.groupId);
    await d.listUserGroups(f.userId);
    await d.searchGroups('finance');
    for (const r of fake.requests.filter((x) => x.method === 'GET')) {
      const select = r.query.get('$select');
      const expected = /^\/groups(\/[^/]+)?$|\/memberOf\//.test(r.path) ? GROUP_SELECT : USER_SELECT;
      expect(select, `${r.path}`).toBe(expected);
    }
    const sample = await d.getUser(f.userId);
    expect(Object.keys(sample!).sort()).toEqual(USER_SELECT.split(',').sort());
  });

  it('follows every @odata.nextLink: 45 members one per page', async () => {
    fake.maxPageSize = 1;
    const big = tenant.groups.reduce((a, b) => (b.members.length > a.members.length ? b : a));
    const members = await d.listGroupMembers(big.id);
    expect(members.map((m) => m.id).sort()).toEqual([...big.members].sort());
    const pages = fake.calls('GET', new RegExp(`^/groups/${big.id}/members`));
    expect(pages).toHaveLength(big.members.length);
    expect(pages.slice(1).every((p) => p.query.get('$skiptoken'))).toBe(true);
    expect(pages.every((p) => p.query.get('$select') === USER_SELECT)).toBe(true);
  });

  it('search pages until it has the limit, with ConsistencyLevel: eventual on every page', async () => {
    fake.maxPageSize = 2;
    const found = await d.searchUsers('a', 7);
    expect(found).toHaveLength(7);
    const pages = fake.calls('GET', /^\/users$/);
    expect(pages.length).toBe(4);
    for (const p of pages) {
      expect(p.headers.consistencylevel).toBe('eventual');
      expect(p.query.get('$search')).toContain('"displayName:a"');
    }
  });

  it('escapes $filter values: quotes doubled, then encoded; injection stays one literal', async () => {
    const upn = kevin.userPrincipalName.replace('obrien', "o'brien");
    expect(await d.findUserByUpn(upn)).toBeNull();
    expect(fake.filterLiterals.at(-1)).toBe(upn.toLowerCase());

    const attack = `x' or userPrincipalName eq '${kevin.userPrincipalName}`;
    expect(await d.findUserByUpn(attack)).toBeNull();
    expect(await d.findUserByMail(`nobody') or startswith(mail,'k`)).toBeNull();
    expect(fake.filterLiterals.slice(-2)).toEqual([attack.toLowerCase(), `nobody') or startswith(mail,'k`]);
    for (const r of fake.requests) expect(r.rawUrl, r.rawUrl).not.toMatch(/['" ]/);
    expect(fake.requests.every((r) => r.status === 200)).toBe(true);
  });

  it('escapes $search values: "O\'Brien" found as typed; quotes and operators cannot add clauses', async () => {
    expect((await d.searchUsers("o'brien")).map((u) => u.id)).toEqual([kevin.id]);
    expect((await d.searchUsers('BRIEN')).map((u) => u.id)).toEqual([kevin.id]);

    const attack = 'zz" OR "displayName:e';
    expect(await d.searchUsers(attack)).toEqual([]);
    const clauses = fake.searches.at(-1)!;
    // Each query word stays inside its own clauses; the quote did not open a new one.
    expect(clauses.every((c) => /^(displayName|givenName|surname|userPrincipalName|mail):/.test(c))).toBe(true);
    expect(clauses).toContain('displayName:zz"');
    expect(clauses).not.toContain('displayName:e');
    expect(await d.searchGroups('a\\" OR "displayName:')).toEqual([]);
    for (const r of fake.requests) expect(r.rawUrl).not.toMatch(/['" ()\\]/);
  });

  it('never puts an id that is not a GUID in a URL', async () => {
    const bad = ['../users', '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f/manager', "x' or '1'='1", '%2e%2e'];
    for (const id of bad) {
      await expect(d.getUser(id)).rejects.toBeInstanceOf(InvalidInputError);
      await expect(d.addGroupMember(f.groupId, id)).rejects.toBeInstanceOf(InvalidInputError);
      await expect(d.deleteAuthMethod(f.userId, 'phone', id)).rejects.toBeInstanceOf(InvalidInputError);
      await expect(d.batchMembershipChanges([{ action: 'remove', groupId: id, userId: f.userId }])).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect(fake.requests).toEqual([]);
  });

  it('treats "already a member" (400) and "not a member" (404) as success, and tells unknown ids apart', async () => {
    expect(await d.addGroupMember(f.groupId, f.userId)).toBe('already-member');
    const add = fake.calls('POST', /\/members\/\$ref$/).at(-1)!;
    expect(add.status).toBe(400);
    expect(add.body).toEqual({ '@odata.id': `${fake.url}/v1.0/directoryObjects/${f.userId}` });

    expect(await d.removeGroupMember(f.otherGroupId, f.userId)).toBe('not-member');
    expect(fake.calls('DELETE').at(-1)!.status).toBe(404);
    const unknown = '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f';
    await expect(d.removeGroupMember(f.otherGroupId, unknown)).rejects.toThrow(/No user/);
    await expect(d.removeGroupMember(unknown, f.userId)).rejects.toThrow(/No group/);
  });

  it('keeps Graph\'s request id on typed errors', async () => {
    const err = await d.deleteAuthMethod(f.userId, 'phone', '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect((err as Error).message).toContain((err as NotFoundError).requestId);
  });

  it('refuses synced users before sending anything, and maps Graph\'s own refusal the same way', async () => {
    await expect(d.resetPassword(f.syncedUserId, 'Correct-Horse-42', true)).rejects.toBeInstanceOf(UnsupportedError);
    await expect(d.setAccountEnabled(f.syncedUserId, false)).rejects.toThrow(/on-premises Active Directory/);
    expect(fake.calls('PATCH')).toEqual([]);

    fake.inject({
      status: 400,
      method: 'PATCH',
      message: 'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.',
    });
    await expect(d.setAccountEnabled(f.userId, false)).rejects.toBeInstanceOf(UnsupportedError);
  });

  it('resets a password through passwordProfile and reports the change, never echoing the password', async () => {
    const password = 'Brand-New-Passw0rd-77';
    await d.resetPassword(f.userId, password, true);
    const patch = fake.calls('PATCH').at(-1)!;
    expect(patch.path).toBe(`/users/${f.userId}`);
    expect(patch.body).toEqual({ passwordProfile: { password, forceChangePasswordNextSignIn: true } });
    expect(fake.users.get(f.userId)!.lastPasswordSet).toBe(password);
    const state = await d.getSignInState(f.userId);
    expect(state).toMatchObject({ lockSupported: false, locked: false, passwordChangeRequired: true });
    expect(Date.now() - Date.parse(state.lastPasswordChange!)).toBeLessThan(60_000);

    fake.inject({ status: 400, method: 'PATCH', message: 'The specified password does not comply with password complexity requirements. Please provide a different password.' });
    const err = await d.resetPassword(f.userId, 'Another-Passw0rd-88', false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).not.toContain('Another-Passw0rd-88');
  });

  it('updates a profile: PATCH of the fields given only, the manager through manager/$ref', async () => {
    await d.updateUserProfile(f.userId, { department: 'Sales' });
    expect(fake.calls('PATCH').map((r) => [r.path, r.body])).toEqual([[`/users/${f.userId}`, { department: 'Sales' }]]);
    expect(fake.calls('PUT')).toEqual([]);

    await d.updateUserProfile(f.userId, { jobTitle: null, managerId: f.topUserId });
    expect(fake.calls('PATCH').at(-1)!.body).toEqual({ jobTitle: null });
    const put = fake.calls('PUT').at(-1)!;
    expect(put.path).toBe(`/users/${f.userId}/manager/$ref`);
    expect(put.body).toEqual({ '@odata.id': `${fake.url}/v1.0/users/${f.topUserId}` });
    expect(fake.users.get(f.userId)).toMatchObject({ department: 'Sales', jobTitle: null, managerId: f.topUserId });

    // Removing the manager twice: Graph's 404 for "none set" is done.
    await d.updateUserProfile(f.userId, { managerId: null });
    await d.updateUserProfile(f.userId, { managerId: null });
    expect(fake.calls('DELETE', /\/manager\/\$ref$/).map((r) => r.status)).toEqual([204, 404]);
    expect(fake.users.get(f.userId)!.managerId).toBeNull();
  });

  it('checks the user, the synced flag and a new manager before sending any change', async () => {
    await expect(d.updateUserProfile(f.syncedUserId, { department: 'Logistics' })).rejects.toThrow(/on-premises Active Directory/);
    await expect(d.updateUserProfile(f.userId, { department: 'Sales', managerId: '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(d.updateUserProfile(f.userId, { department: 'x'.repeat(65) })).rejects.toBeInstanceOf(InvalidInputError);
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    // Graph's own refusal of an on-premises mastered object reads the same.
    fake.inject({ status: 400, method: 'PUT', message: 'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.' });
    await expect(d.updateUserProfile(f.userId, { managerId: f.topUserId })).rejects.toBeInstanceOf(UnsupportedError);
  });

  it('a profile change without User.ReadWrite.All is a ForbiddenError naming it', async () => {
    fake.grantedRoles = fake.grantedRoles.filter((r) => r !== 'User.ReadWrite.All');
    // A new directory: a new token, with the roles granted now.
    const fresh = graphDirectoryFor(fake);
    try {
      const e = await fresh.updateUserProfile(f.userId, { department: 'Sales' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ForbiddenError);
      expect((e as Error).message).toMatch(/User\.ReadWrite\.All/);
      expect(fake.users.get(f.userId)!.department).toBe('Finance');
    } finally {
      fresh.close();
      fake.grantedRoles = [...ALL_ROLES];
    }
  });

  it('directory roles: active and eligible, also through a nested role-assignable group, each role once', async () => {
    const gid = '5b0f0e43-3c52-4a53-9d1c-1f3c7a1b2e01';
    const inner = '5b0f0e43-3c52-4a53-9d1c-1f3c7a1b2e02';
    fake.groups.set(gid, { id: gid, displayName: 'Role - Privileged Role Admins', description: null, mail: null, owners: [], members: [inner], isAssignableToRole: true });
    fake.groups.set(inner, { id: inner, displayName: 'Finance Leads', description: null, mail: null, owners: [], members: [f.userId] });
    fake.roleAssignments.push({ id: 'ra-1', principalId: gid, roleDefinitionId: 'e8611ab8-c189-46e8-94e1-60213ab1f814', roleName: 'Privileged Role Administrator', kind: 'active' });
    fake.roleAssignments.push({ id: 'ra-2', principalId: f.userId, roleDefinitionId: 'e8611ab8-c189-46e8-94e1-60213ab1f814', roleName: 'Privileged Role Administrator', kind: 'active' });
    fake.roleAssignments.push({ id: 'ra-3', principalId: f.userId, roleDefinitionId: '62e90394-69f5-4237-9190-012177145e10', roleName: 'Global Administrator', kind: 'eligible' });
    const roles = await d.listPrivilegedRoles(f.userId);
    expect(roles).toEqual([
      { kind: 'directory-role-active', name: 'Privileged Role Administrator', id: 'e8611ab8-c189-46e8-94e1-60213ab1f814' },
      { kind: 'directory-role-eligible', name: 'Global Administrator', id: '62e90394-69f5-4237-9190-012177145e10' },
    ]);
    const filters = fake.requests.filter((r) => r.path.startsWith('/roleManagement/directory/')).map((r) => r.query.get('$filter'));
    expect(filters).toContain(`principalId eq '${gid}'`);
    expect(filters).toContain(`principalId eq '${f.userId}'`);
    // The group that cannot hold roles is never asked about.
    expect(filters).not.toContain(`principalId eq '${inner}'`);
  });

  it('reading roles without RoleManagement.Read.Directory is a ForbiddenError, never an empty answer', async () => {
    fake.grantedRoles = fake.grantedRoles.filter((r) => r !== 'RoleManagement.Read.Directory');
    const fresh = graphDirectoryFor(fake);
    try {
      const e = await fresh.listPrivilegedRoles(tenant.directoryRoles[0]!.active[0]!).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ForbiddenError);
      expect((e as Error).message).toMatch(/RoleManagement\.Read\.Directory|directory role assignments/);
    } finally {
      fresh.close();
      fake.grantedRoles = [...ALL_ROLES];
    }
  });

  it('reads last sign-ins 15 ids per request with id in (...), selecting signInActivity only', async () => {
    const ids = tenant.users.map((u) => u.id);
    const signIns = await d.getLastSignIns(ids);
    expect(signIns.size).toBe(ids.length);
    for (const u of tenant.users) expect(signIns.get(u.id)?.toISOString() ?? null, u.displayName).toBe(u.lastSignIn ? new Date(u.lastSignIn).toISOString() : null);
    const firstPages = fake.calls('GET', /^\/users$/).filter((r) => !r.query.get('$skiptoken'));
    expect(firstPages).toHaveLength(Math.ceil(ids.length / 15));
    for (const r of firstPages) {
      expect(r.query.get('$select')).toBe('id,signInActivity');
      expect(r.query.get('$filter')).toMatch(/^id in \('[0-9a-f-]{36}'(,'[0-9a-f-]{36}'){0,14}\)$/);
      expect(r.rawUrl).not.toMatch(/['" ()]/);
    }
    // The fake holds Graph's limit: 16 values in one "in" are refused.
    const sixteen = ids.slice(0, 16).map((id) => `'${id}'`).join(',');
    const refused = await d.client.api(`/users?$filter=${encodeURIComponent(`id in (${sixteen})`)}&$select=id`).get().catch((e: unknown) => e);
    expect((refused as { statusCode: number }).statusCode).toBe(400);
  });

  it('takes the last successful sign-in, else the later of interactive and non-interactive', async () => {
    const a = fake.users.get(f.userId)!;
    a.signInActivity = { lastSignInDateTime: '2026-11-20T10:00:00Z', lastNonInteractiveSignInDateTime: '2026-11-24T08:00:00Z', lastSuccessfulSignInDateTime: '2026-11-22T09:30:00Z' };
    const b = fake.users.get(f.managerId)!;
    b.signInActivity = { lastSignInDateTime: '2026-09-01T10:00:00Z', lastNonInteractiveSignInDateTime: '2026-10-02T11:00:00Z', lastSuccessfulSignInDateTime: null };
    const signIns = await d.getLastSignIns([f.userId, f.managerId]);
    expect(signIns.get(f.userId)?.toISOString()).toBe('2026-11-22T09:30:00.000Z');
    expect(signIns.get(f.managerId)?.toISOString()).toBe('2026-10-02T11:00:00.000Z');
  });

  it('sign-in activity needs AuditLog.Read.All and a P1 licence: each refusal says which', async () => {
    fake.grantedRoles = fake.grantedRoles.filter((r) => r !== 'AuditLog.Read.All');
    const fresh = graphDirectoryFor(fake);
    try {
      const noPermission = await fresh.getLastSignIns([f.userId]).catch((x: unknown) => x);
      expect(noPermission).toBeInstanceOf(ForbiddenError);
      expect((noPermission as Error).message).toMatch(/AuditLog\.Read\.All/);
    } finally {
      fresh.close();
      fake.grantedRoles = [...ALL_ROLES];
    }
    fake.reset();
    fake.premium = false;
    try {
      const noLicence = await d.getLastSignIns([f.userId]).catch((x: unknown) => x);
      expect(noLicence).toBeInstanceOf(ForbiddenError);
      expect((noLicence as Error).message).toMatch(/Microsoft Entra ID P1 or P2 licence/);
      expect((noLicence as ForbiddenError).requestId).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      fake.premium = true;
    }
  });

  it('has no lockout for cloud accounts: unlock explains smart lockout', async () => {
    expect((await d.getSignInState(f.userId)).lockSupported).toBe(false);
    await expect(d.unlockAccount(f.userId)).rejects.toThrow(/smart lockout/);
    await expect(d.unlockAccount(f.syncedUserId)).rejects.toThrow(/on-premises Active Directory/);
    await expect(d.unlockAccount('9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('masks method hints and takes the default from signInPreferences (beta), tolerating its absence', async () => {
    const list = await d.listAuthMethods(f.userId);
    const phone = list.find((m) => m.kind === 'phone')!;
    expect(phone.hint).toMatch(/^\+\d+ \*{4} \*{4}\d\d$/);
    expect(list.find((m) => m.isDefault)?.kind).toBe('microsoftAuthenticator');
    expect(fake.calls('GET', /signInPreferences$/)[0]!.version).toBe('beta');

    fake.inject({ status: 404, path: /signInPreferences$/ });
    const again = await d.listAuthMethods(f.userId);
    expect(again.map((m) => m.id)).toEqual(list.map((m) => m.id));
    expect(again.some((m) => m.isDefault)).toBe(false);

    expect(maskPhone('+1 2065551234')).toBe('+1 **** ****34');
    expect(maskPhone('2065551234')).toBe('**** ****34');
    expect(maskEmail('lena.fischer@mail.example')).toBe('l***@mail.example');
  });

  it('Graph refuses to delete the default method while others remain: ConflictError', async () => {
    const list = await d.listAuthMethods(f.userId);
    const def = list.find((m) => m.isDefault)!;
    await expect(d.deleteAuthMethod(f.userId, def.kind, def.id)).rejects.toBeInstanceOf(ConflictError);
    expect(fake.calls('DELETE').at(-1)!.status).toBe(400);
  });

  it('issues a Temporary Access Pass: the pass once, then only its record', async () => {
    const tap = await d.createTemporaryAccessPass(f.noMfaUserId, { lifetimeInMinutes: 60, isUsableOnce: true });
    expect(fake.calls('POST', /temporaryAccessPassMethods$/).at(-1)!.body).toEqual({ lifetimeInMinutes: 60, isUsableOnce: true });
    const listed = (await d.listAuthMethods(f.noMfaUserId)).find((m) => m.id === tap.id)!;
    expect(listed.hint).toMatch(/^one-time, expires /);
    expect(JSON.stringify(await d.listAuthMethods(f.noMfaUserId))).not.toContain(tap.pass);
  });

  it('health answers from one cheap call and reuses a good answer', async () => {
    const fresh = graphDirectoryFor(fake, { healthCacheMs: 60_000 });
    try {
      expect(await fresh.health()).toEqual({ ok: true, detail: 'Microsoft Graph answers' });
      const calls = fake.calls('GET', /^\/users$/).length;
      await fresh.health();
      expect(fake.calls('GET', /^\/users$/).length).toBe(calls);
    } finally {
      fresh.close();
    }
    const slow = graphDirectoryFor(fake, { requestTimeoutMs: 300 });
    fake.delay(2000, { path: /^\/users$/ });
    try {
      expect(await slow.health()).toEqual({ ok: false, detail: 'Microsoft Graph did not answer' });
    } finally {
      fake.clearDelays();
      slow.close();
    }
    const badSecret = graphDirectoryFor(fake, { credential: { kind: 'secret', clientSecret: 'wrong-secret-1' } });
    try {
      const h = await badSecret.health();
      expect(h).toEqual({ ok: false, detail: 'no token for Microsoft Graph (run npm run doctor)' });
      expect(JSON.stringify(h)).not.toContain(fake.tenantId);
    } finally {
      badSecret.close();
    }
  });
});

describe('bulk membership changes through $batch', () => {
  beforeEach(() => fake.reset());

  const users = () => tenant.users.map((u) => u.id);

  it('sends at most 20 requests per batch and starts a new batch when a pair repeats', async () => {
    const many = users().slice(0, 45).map((userId) => ({ action: 'add' as const, groupId: f.otherGroupId, userId }));
    const results = await d.batchMembershipChanges(many);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(fake.batchSizes).toEqual([20, 20, 5]);

    fake.batchSizes.length = 0;
    const twice = await d.batchMembershipChanges([
      { action: 'remove', groupId: f.otherGroupId, userId: f.userId },
      { action: 'add', groupId: f.groupId, userId: f.managerId },
      { action: 'add', groupId: f.otherGroupId, userId: f.userId },
    ]);
    expect(twice.map((r) => (r.ok ? r.outcome : r.error.name))).toEqual(['removed', expect.any(String), 'added']);
    expect(fake.batchSizes).toEqual([2, 1]);
    expect(fake.groups.get(f.otherGroupId)!.members).toContain(f.userId);
  });

  it('checks each inner answer: 204, 400 "already exist", 404, 403 in one batch', async () => {
    fake.inject({ status: 403, inBatch: true, method: 'POST', path: new RegExp(`^/groups/${f.groupId}/`) });
    const results = await d.batchMembershipChanges([
      { action: 'add', groupId: f.otherGroupId, userId: f.userId },
      { action: 'add', groupId: f.groupId, userId: f.noMfaUserId },
      { action: 'add', groupId: '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f', userId: f.userId },
      { action: 'remove', groupId: f.otherGroupId, userId: f.managerId },
    ]);
    expect(results.map((r) => (r.ok ? r.outcome : r.error.name))).toEqual(['added', 'ForbiddenError', 'NotFoundError', expect.stringMatching(/removed|not-member/)]);
    const forbidden = results[1]!;
    expect(forbidden.ok === false && forbidden.error.requestId).toBeTruthy();
  });

  it('a batch that fails as a whole fails its own changes only', async () => {
    fake.inject({ status: 403, times: 1, inBatch: false, path: /^\/\$batch$/ });
    const many = users().slice(0, 25).map((userId) => ({ action: 'add' as const, groupId: f.otherGroupId, userId }));
    const results = await d.batchMembershipChanges(many);
    expect(results.slice(0, 20).every((r) => !r.ok && r.error.name === 'ForbiddenError')).toBe(true);
    expect(results.slice(20).every((r) => r.ok)).toBe(true);
    expect(fake.batchSizes).toEqual([5]);
  });

  it('retries inner 429s after their Retry-After', async () => {
    fake.inject({ status: 429, retryAfter: 1, inBatch: true, times: 2 });
    const started = Date.now();
    const results = await d.batchMembershipChanges([
      { action: 'add', groupId: f.otherGroupId, userId: f.userId },
      { action: 'add', groupId: f.otherGroupId, userId: f.managerId },
      { action: 'add', groupId: f.otherGroupId, userId: f.noMfaUserId },
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.batchSizes).toEqual([3, 2]);
    expect(fake.groups.get(f.otherGroupId)!.members).toEqual(expect.arrayContaining([f.userId, f.managerId, f.noMfaUserId]));
  });

  it('gives up on inner throttling that outlasts the time budget: ThrottledError for those only', async () => {
    const quick = graphDirectoryFor(fake, { retryBudgetMs: 1500 });
    try {
      fake.inject({ status: 429, retryAfter: 30, inBatch: true, times: 1 });
      const started = Date.now();
      const results = await quick.batchMembershipChanges([
        { action: 'add', groupId: f.otherGroupId, userId: f.userId },
        { action: 'add', groupId: f.otherGroupId, userId: f.managerId },
      ]);
      expect(Date.now() - started).toBeLessThan(1500);
      const names = results.map((r) => (r.ok ? r.outcome : r.error.name)).sort();
      expect(names).toEqual(['ThrottledError', 'added']);
      const throttled = results.find((r) => !r.ok)!;
      expect(throttled.ok === false && (throttled.error as { retryAfterSeconds?: number }).retryAfterSeconds).toBe(30);
    } finally {
      quick.close();
    }
  });
});
