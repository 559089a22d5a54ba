import { Attribute, Change, Client } from 'ldapts';
import { AdDirectory, type AdDirectoryOptions } from '../../directory/ad-directory';
import { dateToFileTime } from '../../directory/ad/time';
import type { DemoTenant } from '../../directory/demo-tenant';
import { startSamba, type SambaDc, type SambaSeed, type SambaSeedGroup, type SambaSeedUser } from './samba';

/**
 * The demo tenant on Samba AD: the same people, groups, managers and ids (the seed gives each
 * object the demo id as its objectGUID), under OU=Northwind, managed by a service account
 * with only the rights docs/deploy.md lists.
 */

export const ORG_DN = 'OU=Northwind,DC=northwind,DC=example';
export const PEOPLE_OU = 'People,Northwind';
export const GROUPS_OU = 'Groups,Northwind';
/** Every seeded person's password (they all can sign in with it until a test changes it). */
export const DEMO_PASSWORD = 'Northwind-Demo-2026!';
export const SERVICE_PASSWORD = 'Helpdesk-Service-Passw0rd!';
export const POLICY = { minPwdLength: 8, complexity: true, historyLength: 3, lockoutThreshold: 3, lockoutMinutes: 30 };

/** sAMAccountName: the UPN's local part, at most 20 characters. */
export function samOf(upn: string): string {
  return upn.split('@')[0]!.slice(0, 20);
}

function seedUser(u: DemoTenant['users'][number], keepIds: boolean): SambaSeedUser {
  return {
    key: u.id,
    ou: PEOPLE_OU,
    cn: u.displayName,
    sam: samOf(u.userPrincipalName),
    upn: u.userPrincipalName,
    ...(keepIds ? { guid: u.id } : {}),
    password: DEMO_PASSWORD,
    enabled: u.accountEnabled,
    synced: u.onPremisesSyncEnabled,
    locked: u.locked,
    mustChange: u.passwordChangeRequired,
    lastLogon: u.lastSignIn ?? null,
    attrs: {
      displayName: u.displayName,
      givenName: u.givenName,
      sn: u.surname,
      mail: u.mail,
      department: u.department,
      title: u.jobTitle,
    },
    ...(u.managerId ? { manager: u.managerId } : {}),
  };
}

function seedGroup(g: DemoTenant['groups'][number], keepIds: boolean): SambaSeedGroup {
  return {
    key: g.id,
    ou: GROUPS_OU,
    cn: g.displayName,
    sam: g.displayName.replace(/[^A-Za-z0-9 ._-]/g, '').slice(0, 60),
    ...(keepIds ? { guid: g.id } : {}),
    attrs: { displayName: g.displayName, description: g.description, mail: g.mail },
    ...(g.owners[0] ? { managedBy: g.owners[0] } : {}),
    members: g.members,
  };
}

/** Objects a test file adds to the demo tenant, and whether the demo ids become objectGUIDs. */
export interface DemoSeedOptions extends Pick<SambaSeed, 'ous' | 'users' | 'groups'> {
  /**
   * Give each object its demo id as objectGUID (default): AD alone then serves the demo
   * personas. Hybrid tests say false, so AD's ids differ from the cloud's as they do for real.
   */
  keepIds?: boolean;
}

/** The seed for the demo tenant, plus `extra` objects for a test file's own cases. */
export function demoSeed(tenant: DemoTenant, extra: DemoSeedOptions = {}): SambaSeed {
  const keepIds = extra.keepIds ?? true;
  return {
    ous: ['Northwind', PEOPLE_OU, GROUPS_OU, ...(extra.ous ?? [])],
    policy: POLICY,
    users: [...tenant.users.map((u) => seedUser(u, keepIds)), ...(extra.users ?? [])],
    groups: [...tenant.groups.map((g) => seedGroup(g, keepIds)), ...(extra.groups ?? [])],
    serviceAccount: { cn: 'svc-helpdesk', sam: 'svc-helpdesk', upn: 'svc-helpdesk@northwind.example', password: SERVICE_PASSWORD, delegateOn: 'Northwind' },
  };
}

/** Samba with the demo tenant seeded. */
export function startDemoSamba(tenant: DemoTenant, extra?: DemoSeedOptions): Promise<SambaDc> {
  return startSamba(demoSeed(tenant, extra));
}

/** An {@link AdDirectory} on `dc`, bound as the least-privilege service account. */
export function adDirectoryFor(dc: SambaDc, options: Partial<AdDirectoryOptions> = {}): AdDirectory {
  return AdDirectory.create({
    urls: [dc.url],
    ca: dc.ca,
    tlsServerName: dc.serverName,
    credential: { kind: 'password', bindDn: dc.service!.bindDn, password: dc.service!.password },
    baseDn: ORG_DN,
    healthCacheMs: 0,
    ...options,
  });
}

/** A client bound as `bindDn` (the domain admin by default), for setting up and checking. */
export async function ldapClient(dc: SambaDc, bindDn = dc.admin.bindDn, password = dc.admin.password): Promise<Client> {
  const c = new Client({ url: dc.url, tlsOptions: { ca: dc.ca, servername: dc.serverName }, timeout: 5000, connectTimeout: 5000 });
  try {
    await c.bind(bindDn, password);
  } catch (e) {
    await c.unbind().catch(() => undefined);
    throw e;
  }
  return c;
}

/** Whether `upn` can sign in with `password` now: the bind's error, or null when it worked. */
export async function tryBind(dc: SambaDc, upn: string, password: string): Promise<unknown> {
  try {
    const c = await ldapClient(dc, upn, password);
    await c.unbind();
    return null;
  } catch (e) {
    return e;
  }
}

function replace(type: string, value: string | string[]): Change {
  return new Change({ operation: 'replace', modification: new Attribute({ type, values: Array.isArray(value) ? value : [value] }) });
}

/**
 * Puts the demo objects back as seeded (enabled flags, lockouts, must-change flags, department,
 * title and manager, group members), changing only what differs: the contract suite calls it
 * before every test.
 */
export async function resetDemoState(admin: Client, dc: SambaDc, tenant: DemoTenant): Promise<void> {
  const users = await admin.search(`OU=People,${ORG_DN}`, {
    scope: 'one',
    filter: '(objectClass=user)',
    attributes: ['userAccountControl', 'msDS-User-Account-Control-Computed', 'pwdLastSet', 'department', 'title', 'manager'],
  });
  const byDn = new Map(users.searchEntries.map((e) => [e.dn.toLowerCase(), e]));
  for (const u of tenant.users) {
    const dn = dc.objects[u.id]!.dn;
    const e = byDn.get(dn.toLowerCase());
    if (!e) throw new Error(`seeded user ${u.userPrincipalName} is gone`);
    const changes: Change[] = [];
    const uac = Number(e.userAccountControl);
    const wantUac = u.accountEnabled ? uac & ~2 : uac | 2;
    if (uac !== wantUac) changes.push(replace('userAccountControl', String(wantUac)));
    const locked = (Number(e['msDS-User-Account-Control-Computed']) & 0x10) !== 0;
    if (locked !== u.locked) changes.push(replace('lockoutTime', u.locked ? dateToFileTime(new Date()) : '0'));
    const mustChange = e.pwdLastSet === '0';
    if (mustChange !== u.passwordChangeRequired) changes.push(replace('pwdLastSet', u.passwordChangeRequired ? '0' : '-1'));
    const same = (have: unknown, want: string | null) => String(have ?? '').toLowerCase() === (want ?? '').toLowerCase();
    if (!same(e.department, u.department)) changes.push(replace('department', u.department === null ? [] : u.department));
    if (!same(e.title, u.jobTitle)) changes.push(replace('title', u.jobTitle === null ? [] : u.jobTitle));
    const managerDn = u.managerId ? dc.objects[u.managerId]!.dn : null;
    if (!same(e.manager, managerDn)) changes.push(replace('manager', managerDn === null ? [] : managerDn));
    if (changes.length) await admin.modify(dn, changes);
  }
  const groups = await admin.search(`OU=Groups,${ORG_DN}`, { scope: 'one', filter: '(objectClass=group)', attributes: ['member'] });
  const groupByDn = new Map(groups.searchEntries.map((e) => [e.dn.toLowerCase(), e]));
  for (const g of tenant.groups) {
    const dn = dc.objects[g.id]!.dn;
    const e = groupByDn.get(dn.toLowerCase());
    if (!e) throw new Error(`seeded group ${g.displayName} is gone`);
    const have = (Array.isArray(e.member) ? e.member : e.member ? [e.member] : []).map((m) => String(m).toLowerCase()).sort();
    const want = g.members.map((m) => dc.objects[m]!.dn);
    if (JSON.stringify(have) !== JSON.stringify(want.map((m) => m.toLowerCase()).sort())) {
      await admin.modify(dn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'member', values: want }) })]);
    }
  }
}
