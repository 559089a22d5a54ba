import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../bot/config';
import { openDirectory } from '../../bot/directory-setup';
import { main as doctor } from '../../bot/doctor';
import { createLogger } from '../../bot/logger';
import { AdDirectory, PASSWORD_METHOD_ID } from '../../directory/ad-directory';
import { bindFailureReason, AdConnectionError } from '../../directory/ad/errors';
import { guidFromBytes } from '../../directory/ad/guid';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { ForbiddenError, InvalidInputError } from '../../directory/directory';
import {
  DEMO_PASSWORD,
  ORG_DN,
  POLICY,
  adDirectoryFor,
  ldapClient,
  resetDemoState,
  startDemoSamba,
  tryBind,
} from '../support/ad-setup';
import type { SambaDc, SambaSeedGroup, SambaSeedUser } from '../support/samba';
import { directoryContract } from './contract';
import { fixturesFrom } from './fixtures';

const tenant = loadDemoTenant();
const f = fixturesFrom(tenant);
const employee = tenant.users.find((u) => u.id === tenant.personas.employee)!;

/** Objects of this file's own cases, beside the demo tenant. */
const LAB = 'Lab,Northwind';
const PAGERS = 30;
const labUser = (key: string, cn: string, sam: string, attrs: Record<string, string | null> = {}): SambaSeedUser => ({
  key,
  ou: LAB,
  cn,
  sam,
  upn: `${sam}@northwind.example`,
  password: DEMO_PASSWORD,
  attrs: { displayName: cn, ...attrs },
});
const extraUsers: SambaSeedUser[] = [
  labUser('weird', 'Ann (Contractor) *Temp* \\Ops', 'ann.weird', { givenName: 'Ann', sn: 'Weird*' }),
  labUser('accent', 'Zoë Ångström', 'zoe.angstrom', { givenName: 'Zoë', sn: 'Ångström', mail: 'zoë.ångström@northwind.example' }),
  labUser('flags', 'Flag Keeper', 'flag.keeper'),
  labUser('race', 'Race Runner', 'race.runner'),
  labUser('locky', 'Lock Smith', 'lock.smith'),
  labUser('resetty', 'Reset Able', 'reset.able'),
  labUser('readonly', 'Read Only Service', 'svc-readonly'),
  labUser('dadmin', 'Dana Admin', 'dana.admin'),
  labUser('opsnested', 'Otto Nested', 'otto.nested'),
  labUser('marked', 'Mark Count', 'mark.count', { adminCount: '1' }),
  // Named like a protected group, but not one: protection is decided by SID, never by name.
  labUser('lookalike', 'Lou Alike', 'lou.alike'),
  ...Array.from({ length: PAGERS }, (_, i): SambaSeedUser => ({
    ...labUser(`pager${i}`, `Pager ${String(i + 1).padStart(2, '0')}`, `pager${String(i + 1).padStart(2, '0')}`),
    ou: 'Paging,Northwind',
  })),
];
const extraGroups: SambaSeedGroup[] = [
  { key: 'inner', ou: LAB, cn: 'Nested Inner', sam: 'nested-inner', attrs: { displayName: 'Nested Inner' }, members: [employee.id] },
  { key: 'middle', ou: LAB, cn: 'Nested Middle', sam: 'nested-middle', attrs: { displayName: 'Nested Middle' }, members: ['inner'] },
  { key: 'outer', ou: LAB, cn: 'Nested Outer', sam: 'nested-outer', attrs: { displayName: 'Nested Outer' }, members: ['middle'] },
  { key: 'opsgroup', ou: LAB, cn: 'Ops Helpers', sam: 'ops-helpers', attrs: { displayName: 'Ops Helpers' }, members: ['opsnested'] },
  { key: 'fakeadmins', ou: LAB, cn: 'Domain Admins Lab', sam: 'Domain Admins Lab', attrs: { displayName: 'Domain Admins' }, members: ['lookalike'] },
  { key: 'paging', ou: 'Paging,Northwind', cn: 'Paging Group', sam: 'paging-group', attrs: { displayName: 'Paging Group' }, members: Array.from({ length: PAGERS }, (_, i) => `pager${i}`) },
];

let dc: SambaDc;
let admin: Client;
let d: AdDirectory;
const opened: AdDirectory[] = [];

beforeAll(async () => {
  dc = await startDemoSamba(tenant, { ous: [LAB, 'Paging,Northwind'], users: extraUsers, groups: extraGroups });
  admin = await ldapClient(dc);
  d = adDirectoryFor(dc);
  // Protected groups live outside the base: Domain Admins in CN=Users, Account Operators in CN=Builtin.
  const domainDn = dc.baseDn.split(',').filter((p) => /^DC=/i.test(p.trim())).join(',');
  const addMember = (group: string, member: string) => admin.modify(group, [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [member] }) })]);
  await addMember(`CN=Domain Admins,CN=Users,${domainDn}`, dc.objects.dadmin!.dn);
  await addMember(`CN=Account Operators,CN=Builtin,${domainDn}`, dc.objects.opsgroup!.dn);
}, 120_000);

afterAll(async () => {
  await Promise.all(opened.map((x) => x.close()));
  await d?.close();
  await admin?.unbind().catch(() => undefined);
  await dc?.stop();
});

/** Another directory on the same DC, closed after the file. */
function directory(options: Parameters<typeof adDirectoryFor>[1] = {}): AdDirectory {
  const x = adDirectoryFor(dc, options);
  opened.push(x);
  return x;
}

const id = (key: string): string => dc.objects[key]!.guid;
const upnOf = (key: string): string => `${extraUsers.find((u) => u.key === key)!.sam}@northwind.example`;

async function uac(key: string): Promise<number> {
  const r = await admin.search(dc.objects[key]!.dn, { scope: 'base', attributes: ['userAccountControl'] });
  return Number(r.searchEntries[0]!.userAccountControl);
}

async function setUac(key: string, value: number): Promise<void> {
  await admin.modify(dc.objects[key]!.dn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: [String(value)] }) })]);
}

directoryContract(
  'ad (Active Directory over LDAPS, against Samba)',
  async () => {
    await resetDemoState(admin, dc, tenant);
    // AD has no Entra roles: its privileged accounts are the protected ones.
    const privileged = [
      { userId: dc.objects.dadmin!.guid, roles: [{ kind: 'protected-group' as const, name: 'Domain Admins' }] },
      { userId: dc.objects.opsnested!.guid, roles: [{ kind: 'protected-group' as const, name: 'Account Operators' }] },
      { userId: dc.objects.marked!.guid, roles: [{ kind: 'admin-count' as const, name: 'adminCount=1 (protected account)' }] },
    ];
    return { directory: d, fixtures: { ...f, privileged }, teardown: async () => undefined };
  },
  { onPremisesAccounts: true, authenticationMethods: false, signInActivity: true },
);

describe('AdDirectory on Samba AD', () => {
  it('protected by SID, not by name: a group called "Domain Admins" elsewhere protects no one; the real one does, with its SID', async () => {
    expect(await d.listPrivilegedRoles(id('lookalike'))).toEqual([]);
    const roles = await d.listPrivilegedRoles(id('dadmin'));
    expect(roles.find((r) => r.name === 'Domain Admins')?.id).toMatch(/^S-1-5-21-\d+-\d+-\d+-512$/);
  });

  it('provisions and starts Samba in seconds', () => {
    const t = dc.timings;
    console.log(`Samba AD DC: provision ${t.provisionMs} ms, seed ${t.seedMs} ms, start ${t.startMs} ms`);
    expect(t.provisionMs + t.seedMs + t.startMs).toBeLessThan(60_000);
    expect(dc.url).toMatch(/^ldaps:\/\/127\./);
  });

  it('uses objectGUID as the id, in the text form of its mixed-endian bytes', async () => {
    const r = await admin.search(dc.objects.weird!.dn, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
    const raw = r.searchEntries[0]!.objectGUID as Buffer;
    const u = await d.getUser(id('weird'));
    expect(u?.id).toBe(guidFromBytes(raw));
    expect(u?.id).not.toBe(raw.toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'));
    expect(u).toMatchObject({ userPrincipalName: upnOf('weird'), displayName: 'Ann (Contractor) *Temp* \\Ops', accountEnabled: true, onPremisesSyncEnabled: false });
    // The demo people keep their tenant ids: the seed gave them those objectGUIDs.
    expect((await d.findUserByUpn(employee.userPrincipalName))?.id).toBe(employee.id);
  });

  it('finds users by sAMAccountName, with or without the domain', async () => {
    expect((await d.findUserBySamAccountName('ann.weird'))?.id).toBe(id('weird'));
    expect((await d.findUserBySamAccountName('NORTHWIND\\ANN.WEIRD'))?.id).toBe(id('weird'));
    expect(await d.findUserBySamAccountName('svc-helpdesk')).toBeNull(); // outside the base DN
  });

  it('escapes filter values: injection attempts match nothing and break nothing', async () => {
    const attacks = ['*', '*)(uid=*', '*)(|(objectClass=*', 'x)(userPrincipalName=*', '\\2a', 'a\u0000b', '(', ')', '\\', '*)(&', `${employee.userPrincipalName})(|(cn=*`];
    for (const a of attacks) {
      expect(await d.findUserByUpn(a), a).toBeNull();
      expect(await d.findUserByMail(a), a).toBeNull();
      expect(await d.findUserBySamAccountName(a), a).toBeNull();
      expect(await d.searchGroups(a), a).toEqual([]);
    }
    // A literal star matches only names with a word that starts with one.
    expect((await d.searchUsers('*')).map((u) => u.id)).toEqual([id('weird')]);
    expect((await d.searchUsers('*)(uid=*')).map((u) => u.id)).toEqual([]);
    expect(await d.searchUsers('a\u0000')).toEqual([]);
    expect((await d.searchUsers('\\')).map((u) => u.id)).toEqual([id('weird')]); // "\Ops" starts with one
    expect((await d.getUser(employee.id))?.id).toBe(employee.id);
  });

  it('finds names with parentheses, stars, backslashes and non-ASCII letters as typed', async () => {
    expect((await d.searchUsers('(contractor)')).map((u) => u.id)).toEqual([id('weird')]);
    expect((await d.searchUsers('*temp*')).map((u) => u.id)).toEqual([id('weird')]);
    expect((await d.searchUsers('\\ops')).map((u) => u.id)).toEqual([id('weird')]);
    expect((await d.searchUsers('weird*')).map((u) => u.id)).toEqual([id('weird')]);
    expect((await d.searchUsers('ÅNGSTRÖM')).map((u) => u.id)).toEqual([id('accent')]);
    expect((await d.searchUsers('zoë')).map((u) => u.id)).toEqual([id('accent')]);
    expect((await d.findUserByMail('ZOË.ÅNGSTRÖM@northwind.example'))?.id).toBe(id('accent'));
    const ines = tenant.users.find((u) => u.givenName === 'Inès')!;
    expect((await d.searchUsers('INÈS')).map((u) => u.id)).toEqual([ines.id]);
    expect((await d.searchUsers("o'brien")).map((u) => u.surname)).toEqual(["O'Brien"]);
  });

  it('follows nested groups with LDAP_MATCHING_RULE_IN_CHAIN; direct listings stay direct', async () => {
    const [inner, middle, outer] = [id('inner'), id('middle'), id('outer')];
    expect(await d.checkMemberGroups(employee.id, [outer, f.otherGroupId, middle, inner])).toEqual([outer, middle, inner]);
    const direct = (await d.listUserGroups(employee.id)).map((g) => g.id);
    expect(direct).toContain(inner);
    expect(direct).not.toContain(middle);
    expect(direct).not.toContain(outer);
    expect(await d.listGroupMembers(outer)).toEqual([]);
    await d.removeGroupMember(inner, employee.id);
    expect(await d.checkMemberGroups(employee.id, [outer, middle, inner])).toEqual([]);
    expect(await d.addGroupMember(inner, employee.id)).toBe('added');
    expect(await d.checkMemberGroups(employee.id, [outer])).toEqual([outer]);
  });

  it('pages through more entries than a page holds', async () => {
    const pages: number[] = [];
    const small = directory({ pageSize: 7, onPage: (n) => pages.push(n) });
    const members = await small.listGroupMembers(id('paging'));
    expect(members).toHaveLength(PAGERS);
    expect(members.map((m) => m.displayName)).toEqual(Array.from({ length: PAGERS }, (_, i) => `Pager ${String(i + 1).padStart(2, '0')}`));
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(PAGERS / 7));
    expect(Math.max(...pages)).toBeLessThanOrEqual(7);
    pages.length = 0;
    expect(await small.searchUsers('pager', 999)).toHaveLength(PAGERS);
    expect(pages.length).toBeGreaterThan(4);
    expect(await small.searchUsers('pager', 5)).toHaveLength(5);
  });

  it('locks out after failed binds, and unlocking lets the user sign in again', async () => {
    const upn = upnOf('locky');
    expect(await tryBind(dc, upn, DEMO_PASSWORD)).toBeNull();
    for (let i = 0; i < POLICY.lockoutThreshold; i++) {
      expect(bindFailureReason(await tryBind(dc, upn, `Wrong-Password-${i}`))).toBe('invalid-credentials');
    }
    expect(await d.getSignInState(id('locky'))).toMatchObject({ lockSupported: true, locked: true });
    expect(bindFailureReason(await tryBind(dc, upn, DEMO_PASSWORD))).toBe('locked');

    await d.unlockAccount(id('locky'));
    expect((await d.getSignInState(id('locky'))).locked).toBe(false);
    expect(await tryBind(dc, upn, DEMO_PASSWORD)).toBeNull();
  });

  it('resets a password the user can then sign in with, or must change first', async () => {
    const upn = upnOf('resetty');
    const before = Date.now() - 2000;
    await d.resetPassword(id('resetty'), 'Fresh-Passw0rd-71', false);
    expect(await tryBind(dc, upn, 'Fresh-Passw0rd-71')).toBeNull();
    expect(bindFailureReason(await tryBind(dc, upn, DEMO_PASSWORD))).toBe('invalid-credentials');
    let s = await d.getSignInState(id('resetty'));
    expect(s.passwordChangeRequired).toBe(false);
    expect(Date.parse(s.lastPasswordChange!)).toBeGreaterThanOrEqual(before);

    await d.resetPassword(id('resetty'), 'Temporary-Passw0rd-72', true);
    expect(bindFailureReason(await tryBind(dc, upn, 'Temporary-Passw0rd-72'))).toBe('must-change-password');
    s = await d.getSignInState(id('resetty'));
    expect(s.passwordChangeRequired).toBe(true);
    // pwdLastSet is 0 now; the date comes from unicodePwd's replication metadata.
    expect(Date.parse(s.lastPasswordChange!)).toBeGreaterThanOrEqual(before);
    expect(JSON.stringify(s)).not.toContain('Temporary-Passw0rd-72');
  });

  it("turns the domain's password policy refusal into a clear message without the password", async () => {
    const cases: [string, RegExp][] = [
      ['short1A', /too short/],
      ['alllowercaseletters', /not complex enough/],
    ];
    for (const [pw, reason] of cases) {
      const err = await d.resetPassword(id('resetty'), pw, false).catch((e: unknown) => e);
      expect(err, pw).toBeInstanceOf(InvalidInputError);
      const message = (err as Error).message;
      expect(message).toMatch(/domain's password policy refused the new password/);
      expect(message).toMatch(reason);
      expect(message).toContain(`at least ${POLICY.minPwdLength} characters`);
      expect(message).toContain('three of: uppercase letters, lowercase letters, digits, symbols');
      expect(message).not.toContain(pw);
    }
    expect(bindFailureReason(await tryBind(dc, upnOf('resetty'), 'short1A'))).toBe('invalid-credentials');
  });

  it('changes only ACCOUNTDISABLE in userAccountControl (read-modify-write)', async () => {
    await setUac('flags', 0x200 | 0x10000);
    await d.setAccountEnabled(id('flags'), false);
    expect(await uac('flags')).toBe(0x200 | 0x10000 | 0x2);
    expect((await d.getUser(id('flags')))?.accountEnabled).toBe(false);
    await d.setAccountEnabled(id('flags'), true);
    expect(await uac('flags')).toBe(0x200 | 0x10000);
  });

  it('redoes a userAccountControl change when another writer got in between', async () => {
    await setUac('race', 0x200);
    const dn = dc.objects.race!.dn;
    const seen: string[] = [];
    let interfered = false;
    const racy = directory({
      createClient: (o) => {
        const c = new Client(o);
        const modify = c.modify.bind(c);
        c.modify = async (target, changes, controls) => {
          const list = Array.isArray(changes) ? changes : [changes];
          if (String(target) === dn) seen.push(list.map((x) => `${x.operation}:${x.modification.values.join('|')}`).join(' '));
          if (String(target) === dn && !interfered) {
            interfered = true;
            await setUac('race', 0x200 | 0x10000); // someone sets "password never expires" meanwhile
          }
          return modify(target, changes, controls);
        };
        return c;
      },
    });
    await racy.setAccountEnabled(id('race'), false);
    expect(seen).toEqual([`delete:${0x200} add:${0x202}`, `delete:${0x10200} add:${0x10202}`]);
    expect(await uac('race')).toBe(0x10202);
  });

  it('reports a right the service account lacks as ForbiddenError naming it', async () => {
    const whole = directory({ baseDn: 'DC=northwind,DC=example' });
    const administrator = await whole.findUserBySamAccountName('Administrator');
    expect(administrator).not.toBeNull();
    const err = await whole.resetPassword(administrator!.id, 'Not-Allowed-Passw0rd-1', false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as Error).message).toMatch(/Reset Password/);
    expect((err as Error).message).not.toContain('Not-Allowed-Passw0rd-1');
    await expect(whole.unlockAccount(administrator!.id)).rejects.toBeInstanceOf(ForbiddenError);
    expect(await tryBind(dc, dc.admin.bindDn, dc.admin.password)).toBeNull();
  });

  it('writes department, title and manager in one modify, with the rights delegated for them', async () => {
    const who = id('resetty');
    const read = async () => (await admin.search(dc.objects.resetty!.dn, { scope: 'base', attributes: ['department', 'title', 'manager'] })).searchEntries[0]!;
    await d.updateUserProfile(who, { department: 'Finance', jobTitle: 'Financial Analyst', managerId: f.managerId });
    let e = await read();
    expect([e.department, e.title, String(e.manager).toLowerCase()]).toEqual(['Finance', 'Financial Analyst', dc.objects[f.managerId]!.dn.toLowerCase()]);
    expect((await d.getManager(who))?.id).toBe(f.managerId);
    expect((await d.getDirectReports(f.managerId)).map((u) => u.id)).toContain(who);

    // An unknown manager: refused before the modify, so the department stays too.
    await expect(d.updateUserProfile(who, { department: 'Sales', managerId: '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f' })).rejects.toThrow(/No user/);
    expect((await read()).department).toBe('Finance');

    // null removes the attribute; removing what is not there is fine.
    await d.updateUserProfile(who, { jobTitle: null, managerId: null });
    await d.updateUserProfile(who, { jobTitle: null, managerId: null });
    e = await read();
    // An attribute asked for but absent comes back as an empty list.
    expect([e.department, e.title, e.manager]).toEqual(['Finance', [], []]);
    expect(await d.getUser(who)).toMatchObject({ department: 'Finance', jobTitle: null });
  });

  it('a profile change outside the delegation is a ForbiddenError naming the rights', async () => {
    const whole = directory({ baseDn: 'DC=northwind,DC=example' });
    const administrator = (await whole.findUserBySamAccountName('Administrator'))!;
    const err = await whole.updateUserProfile(administrator.id, { department: 'Nowhere' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as Error).message).toMatch(/Write department, Write title and Write manager/);
  });

  it("reads last sign-ins from lastLogonTimestamp, which a logon sets", async () => {
    const never = tenant.users.find((u) => !u.lastSignIn && !u.onPremisesSyncEnabled)!;
    const seeded = await d.getLastSignIns([employee.id, never.id, id('pager0')]);
    expect(seeded.get(employee.id)?.toISOString()).toBe(new Date(employee.lastSignIn!).toISOString());
    expect(seeded.get(never.id)).toBeNull();
    expect(seeded.get(id('pager0'))).toBeNull();
    // A logon with no lastLogonTimestamp yet writes one (later ones only after msDS-LogonTimeSyncInterval).
    const before = Date.now() - 5000;
    expect(await tryBind(dc, `${extraUsers.find((u) => u.key === 'pager0')!.sam}@northwind.example`, DEMO_PASSWORD)).toBeNull();
    const after = (await d.getLastSignIns([id('pager0')])).get(id('pager0'));
    expect(after).toBeInstanceOf(Date);
    expect(after!.getTime()).toBeGreaterThanOrEqual(before);
    expect(after!.getTime()).toBeLessThanOrEqual(Date.now() + 5000);
  });

  it('lists the password as the only method, with the Graph id', async () => {
    expect(await d.listAuthMethods(employee.id)).toEqual([{ id: PASSWORD_METHOD_ID, kind: 'password', hint: null, isDefault: false }]);
  });
});

describe('connections to Active Directory', () => {
  it('refuses a certificate it does not trust, or one for another name, and says what to set', async () => {
    const untrusted = directory({ ca: undefined });
    expect(await untrusted.health()).toEqual({ ok: false, detail: 'no trusted TLS connection to Active Directory (run npm run doctor)' });
    await expect(untrusted.getUser(employee.id)).rejects.toThrow(/not trusted.*AD_CA_FILE/);
    const otherName = directory({ tlsServerName: 'intranet.northwind.example' });
    await expect(otherName.getUser(employee.id)).rejects.toThrow(/AD_TLS_SERVER_NAME/);
  });

  it('upgrades ldap:// with StartTLS before the bind; the DC refuses a plain bind', async () => {
    const calls: string[] = [];
    const starttls = directory({
      urls: [`ldap://${dc.address}`],
      createClient: (o) => {
        calls.push(o.tlsOptions ? 'ldaps' : 'ldap');
        const c = new Client(o);
        for (const m of ['startTLS', 'bind'] as const) {
          const orig = (c[m] as (...a: unknown[]) => Promise<void>).bind(c);
          (c as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
            calls.push(m);
            return orig(...a);
          };
        }
        return c;
      },
    });
    expect((await starttls.getUser(employee.id))?.id).toBe(employee.id);
    expect(calls.slice(0, 3)).toEqual(['ldap', 'startTLS', 'bind']);

    const plain = new Client({ url: `ldap://${dc.address}`, timeout: 5000, connectTimeout: 5000 });
    const err = await plain.bind(dc.service!.bindDn, dc.service!.password).catch((e: unknown) => e);
    await plain.unbind().catch(() => undefined);
    expect((err as { code?: number }).code).toBe(8); // strongAuthRequired
  });

  it('says when the service account cannot sign in, without its password', async () => {
    const wrong = directory({ credential: { kind: 'password', bindDn: 'nobody@northwind.example', password: 'Wrong-Service-Passw0rd' } });
    expect(await wrong.health()).toEqual({ ok: false, detail: 'the service account cannot sign in to Active Directory (run npm run doctor)' });
    const err = await wrong.getUser(employee.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdConnectionError);
    expect((err as AdConnectionError).reason).toBe('bind');
    expect((err as Error).message).toMatch(/the name or password is wrong/);
    expect((err as Error).message).not.toContain('Wrong-Service-Passw0rd');
  });

  it('answers health from one read and reuses a good answer', async () => {
    expect(await d.health()).toEqual({ ok: true, detail: 'Active Directory answers' });
    let reads = 0;
    const cached = directory({
      healthCacheMs: 60_000,
      createClient: (o) => {
        const c = new Client(o);
        const search = c.search.bind(c);
        c.search = (...a: Parameters<Client['search']>) => {
          reads++;
          return search(...a);
        };
        return c;
      },
    });
    expect((await cached.health()).ok).toBe(true);
    const after = reads;
    expect((await cached.health()).ok).toBe(true);
    expect(reads).toBe(after);
  });

  it('tries the next domain controller when one cannot be reached', async () => {
    const closed = await freePort();
    const failover = directory({ urls: [`ldaps://127.0.0.1:${closed}`, dc.url] });
    expect((await failover.getUser(employee.id))?.id).toBe(employee.id);
    expect(failover.pool.lastUrl).toBe(dc.url);
    const down = directory({ urls: [`ldaps://127.0.0.1:${closed}`] });
    expect(await down.health()).toEqual({ ok: false, detail: 'Active Directory did not answer' });
    await expect(down.getUser(employee.id)).rejects.toThrow(/Could not reach Active Directory at ldaps:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('times out a domain controller that accepts but never answers', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const stuck = directory({ urls: [`ldaps://127.0.0.1:${port}`], connectTimeoutMs: 300 });
      const started = Date.now();
      await expect(stuck.getUser(employee.id)).rejects.toThrow(/did not answer in time/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });

  it('keeps at most `size` connections, and replaces one that was lost', async () => {
    const pooled = directory({ size: 2 });
    const results = await Promise.all(tenant.users.slice(0, 10).map((u) => pooled.getUser(u.id)));
    expect(results.map((u) => u?.id)).toEqual(tenant.users.slice(0, 10).map((u) => u.id));
    expect(pooled.pool.openConnections).toBeLessThanOrEqual(2);
    // Lose the connections under the pool's feet: the next call opens new ones.
    await Promise.all([pooled.pool.run((c) => c.unbind()), pooled.pool.run((c) => c.unbind())]);
    expect((await pooled.getUser(employee.id))?.id).toBe(employee.id);
    expect(pooled.pool.openConnections).toBeLessThanOrEqual(2);
  });
});

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('npm run doctor with DIRECTORY=ad', () => {
  let tmp: string;
  let env: Record<string, string>;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ad-doctor-'));
    fs.writeFileSync(path.join(tmp, 'ca.pem'), dc.ca);
    env = {
      DIRECTORY: 'ad',
      AD_URL: dc.url,
      AD_BIND_DN: dc.service!.bindDn,
      AD_BIND_PASSWORD: dc.service!.password,
      AD_CA_FILE: path.join(tmp, 'ca.pem'),
      AD_TLS_SERVER_NAME: dc.serverName,
      AD_BASE_DN: ORG_DN,
    };
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('passes with the delegated service account, and never prints its password', async () => {
    const out = new Sink();
    expect(await doctor([], env, out, new Sink())).toBe(0);
    expect(out.text).toMatch(/Connection: ok \(TLS verified\), signed in as (NORTHWIND\\svc-helpdesk|svc-helpdesk@northwind\.example)\n/i);
    expect(out.text).toContain(`Base DN: ${ORG_DN}`);
    expect(out.text).toMatch(/at least 8 characters, complexity on.*lockout after 3 failed sign-ins for 30 min/);
    expect(out.text).toMatch(/ok +Grant and remove group access/);
    expect(out.text).toMatch(/ok +Unlock accounts/);
    expect(out.text).toMatch(/CHECK +Reset passwords: pwdLastSet writable; make sure the account also holds the Reset Password extended right/);
    expect(out.text).toMatch(/ok +Profile updates of movers/);
    expect(out.text).toMatch(/ok +Know who is privileged/);
    expect(out.text).toContain('8 of 8 Active Directory features will work.');
    expect(out.text).not.toContain(dc.service!.password);
  });

  it('DIRECTORY=ad serves the demo personas by their ids (the local demo against Samba)', async () => {
    const opened = openDirectory(loadConfig(env), createLogger('silent'));
    try {
      expect(opened.directory.kind).toBe('ad');
      expect(opened.technicianGroupId).toBe(tenant.technicianGroupId);
      for (const p of Object.values(tenant.personas)) expect((await opened.directory.getUser(p))?.id).toBe(p);
      expect(await opened.directory.checkMemberGroups(tenant.personas.technician, [tenant.technicianGroupId])).toEqual([tenant.technicianGroupId]);
    } finally {
      opened.close();
    }
  });

  it('names the rights an account without delegation lacks', async () => {
    const out = new Sink();
    const code = await doctor([], { ...env, AD_BIND_DN: 'svc-readonly@northwind.example', AD_BIND_PASSWORD: DEMO_PASSWORD }, out, new Sink());
    expect(code).toBe(1);
    expect(out.text).toMatch(/MISSING +Grant and remove group access: needs Write member on group objects/);
    expect(out.text).toMatch(/MISSING +Unlock accounts: needs Write lockoutTime on user objects/);
    expect(out.text).toMatch(/MISSING +Reset passwords/);
    expect(out.text).toMatch(/ok +Know who is asking/);
    expect(out.text).toMatch(/MISSING +Profile updates of movers: needs Write department, title and manager on user objects/);
    expect(out.text).toContain('3 of 8 Active Directory features will work.');
  });

  it('explains a certificate it cannot trust', async () => {
    const out = new Sink();
    const { AD_CA_FILE: _ca, ...noCa } = env;
    expect(await doctor([], noCa, out, new Sink())).toBe(1);
    expect(out.text).toMatch(/Connection: FAILED\. The certificate of the domain controller at ldaps:\/\/127\.[\d.]+ is not trusted/);
    expect(out.text).toMatch(/Check AD_CA_FILE/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

