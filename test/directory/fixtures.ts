import type { DemoTenant, DemoUser } from '../../directory/demo-tenant';
import type { ContractFixtures } from './contract';

function only<T>(items: T[], what: string): T {
  const item = items[0];
  if (!item) throw new Error(`the demo tenant has no ${what}`);
  return item;
}

/**
 * Contract fixtures picked from a demo tenant by their properties, not hard-coded ids. Both
 * backends seed from the same tenant; `lockSupported: false` backends drop the locked user.
 */
export function fixturesFrom(t: DemoTenant, options: { lockout: boolean } = { lockout: true }): ContractFixtures {
  const byId = new Map(t.users.map((u) => [u.id, u]));
  const cloud = (u: DemoUser): boolean => !u.onPremisesSyncEnabled;
  const mfaKinds = (u: DemoUser) => u.authMethods.filter((m) => m.kind !== 'password');
  const employee = byId.get(t.personas.employee)!;
  const memberOf = (g: { members: string[] }): boolean => g.members.includes(employee.id);
  return {
    userId: employee.id,
    managerId: employee.managerId!,
    topUserId: only(t.users.filter((u) => u.managerId === null), 'top executive').id,
    disabledUserId: only(t.users.filter((u) => !u.accountEnabled && cloud(u)), 'disabled cloud user').id,
    syncedUserId: only(t.users.filter((u) => u.onPremisesSyncEnabled && u.accountEnabled), 'enabled synced user').id,
    noMfaUserId: only(t.users.filter((u) => cloud(u) && u.accountEnabled && mfaKinds(u).length === 0), 'user without MFA').id,
    ...(options.lockout ? { lockedUserId: only(t.users.filter((u) => u.locked && cloud(u)), 'locked cloud user').id } : {}),
    mailAliasUserId: only(
      t.users.filter((u) => u.mail !== null && u.mail.toLowerCase() !== u.userPrincipalName.toLowerCase()),
      'mail alias',
    ).id,
    signedInUserId: employee.id,
    signedInAt: new Date(employee.lastSignIn!).toISOString(),
    neverSignedInUserId: only(t.users.filter((u) => cloud(u) && !u.lastSignIn), 'user who never signed in').id,
    groupId: only(t.groups.filter((g) => memberOf(g) && g.owners.length > 0), 'group of the employee').id,
    otherGroupId: only(
      t.groups.filter((g) => !memberOf(g) && g.members.length > 0),
      'group the employee is not in',
    ).id,
    privileged: (t.directoryRoles ?? []).flatMap((r) => [
      ...r.active.map((userId) => ({ userId, roles: [{ kind: 'directory-role-active' as const, name: r.displayName }] })),
      ...r.eligible.map((userId) => ({ userId, roles: [{ kind: 'directory-role-eligible' as const, name: r.displayName }] })),
    ]),
  };
}
