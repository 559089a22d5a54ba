import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DEMO_TENANT_FILE,
  DemoTenantError,
  loadDemoTenant,
  parseDemoTenant,
  type DemoTenant,
} from '../../directory/demo-tenant';

const tenant = loadDemoTenant();
const users = new Map(tenant.users.map((u) => [u.id, u]));
const groups = new Map(tenant.groups.map((g) => [g.id, g]));
const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const reportsOf = (id: string) => tenant.users.filter((u) => u.managerId === id);
const mfa = (id: string) => users.get(id)!.authMethods.filter((m) => m.kind !== 'password');

describe('the demo tenant (Northwind Traders)', () => {
  it('is the bundled file next to the module', () => {
    expect(path.basename(DEFAULT_DEMO_TENANT_FILE)).toBe('demo-tenant.json');
    expect(tenant.organization).toBe('Northwind Traders');
    expect(tenant.domain).toBe('northwind.example');
  });

  it('uses lowercase v4 GUIDs for every id, each once', () => {
    const all = [
      tenant.tenantId,
      ...tenant.users.flatMap((u) => [u.id, ...u.authMethods.map((m) => m.id)]),
      ...tenant.groups.map((g) => g.id),
    ];
    for (const id of all) expect(id).toMatch(V4);
    expect(new Set(all).size).toBe(all.length);
  });

  it('has about 45 people in at least 5 departments', () => {
    expect(tenant.users.length).toBeGreaterThanOrEqual(40);
    expect(tenant.users.length).toBeLessThanOrEqual(60);
    const departments = new Set(tenant.users.map((u) => u.department));
    expect(departments.size).toBeGreaterThanOrEqual(5);
    for (const d of ['Executive', 'Finance', 'Sales', 'Engineering', 'IT', 'Human Resources', 'Operations']) {
      expect(departments, d).toContain(d);
    }
  });

  it('addresses everyone in its own domain', () => {
    for (const u of tenant.users) {
      expect(u.userPrincipalName.endsWith(`@${tenant.domain}`), u.userPrincipalName).toBe(true);
      // A guest keeps the mail of their own organisation.
      if (u.mail && u.userType !== 'Guest') expect(u.mail.endsWith(`@${tenant.domain}`), u.mail).toBe(true);
    }
  });

  it('has exactly one top executive, reached from everyone without loops', () => {
    const tops = tenant.users.filter((u) => u.managerId === null);
    expect(tops).toHaveLength(1);
    const ceo = tops[0]!;
    expect(ceo.jobTitle).toMatch(/chief executive/i);
    for (const u of tenant.users) {
      const seen = new Set<string>();
      let cur = u;
      while (cur.managerId !== null) {
        expect(seen.has(cur.id), `loop above ${u.userPrincipalName}`).toBe(false);
        seen.add(cur.id);
        cur = users.get(cur.managerId)!;
        expect(cur, `manager of ${u.userPrincipalName}`).toBeDefined();
      }
      expect(cur.id).toBe(ceo.id);
    }
  });

  it('has at least 15 groups, with owners and members that exist', () => {
    expect(tenant.groups.length).toBeGreaterThanOrEqual(15);
    for (const g of tenant.groups) {
      expect(g.members.length, g.displayName).toBeGreaterThan(0);
      expect(g.owners.length, g.displayName).toBeGreaterThan(0);
      for (const id of [...g.owners, ...g.members]) expect(users.has(id)).toBe(true);
    }
  });

  it('marks the sensitive groups as privileged', () => {
    const named = (re: RegExp) => tenant.groups.filter((g) => re.test(g.displayName));
    for (const re of [/payroll/i, /production admin/i, /global admin/i]) {
      const found = named(re);
      expect(found, String(re)).toHaveLength(1);
      expect(tenant.privilegedGroupIds).toContain(found[0]!.id);
    }
    for (const id of tenant.privilegedGroupIds) expect(groups.has(id)).toBe(true);
    expect(new Set(tenant.privilegedGroupIds).size).toBe(tenant.privilegedGroupIds.length);
  });

  it('has department groups and application groups', () => {
    const names = tenant.groups.map((g) => g.displayName);
    expect(names.filter((n) => /^App - /.test(n)).length).toBeGreaterThanOrEqual(3);
    expect(names.some((n) => /vpn/i.test(n))).toBe(true);
    expect(names.some((n) => /crm/i.test(n))).toBe(true);
    expect(names.some((n) => /source code/i.test(n))).toBe(true);
    expect(names).toEqual(expect.arrayContaining(['Finance Department', 'Sales Team', 'Engineering', 'IT Department']));
  });

  it('has an Identity Technicians group with two or three IT members', () => {
    const tech = groups.get(tenant.technicianGroupId)!;
    expect(tech.displayName).toBe('Identity Technicians');
    expect(tech.members.length).toBeGreaterThanOrEqual(2);
    expect(tech.members.length).toBeLessThanOrEqual(3);
    for (const id of tech.members) expect(users.get(id)!.department).toBe('IT');
  });

  it('has the account states the demo needs', () => {
    const disabled = tenant.users.filter((u) => !u.accountEnabled);
    expect(disabled.length).toBeGreaterThanOrEqual(2);
    expect(disabled.length).toBeLessThanOrEqual(3);
    expect(tenant.users.filter((u) => u.onPremisesSyncEnabled).length).toBeGreaterThanOrEqual(1);
    expect(tenant.users.filter((u) => u.locked).length).toBeGreaterThanOrEqual(1);
    expect(tenant.users.filter((u) => u.locked && !u.onPremisesSyncEnabled).length).toBeGreaterThanOrEqual(1);
    expect(tenant.users.filter((u) => u.passwordChangeRequired).length).toBeGreaterThanOrEqual(1);
    expect(tenant.users.filter((u) => mfa(u.id).length > 0).length).toBeGreaterThan(tenant.users.length / 2);
    expect(tenant.users.filter((u) => mfa(u.id).length === 0 && u.accountEnabled).length).toBeGreaterThanOrEqual(1);
  });

  it('gives every user one password method and, with MFA, exactly one default', () => {
    for (const u of tenant.users) {
      expect(u.authMethods.filter((m) => m.kind === 'password'), u.userPrincipalName).toHaveLength(1);
      const defaults = u.authMethods.filter((m) => m.isDefault);
      expect(defaults.length, u.userPrincipalName).toBe(mfa(u.id).some((m) => m.kind !== 'email') ? 1 : 0);
    }
  });

  it('keeps TOTP secrets only on authenticator and software OATH methods', () => {
    let withSecret = 0;
    for (const m of tenant.users.flatMap((u) => u.authMethods)) {
      if (m.kind === 'microsoftAuthenticator' || m.kind === 'softwareOath') {
        expect(m.totpSecret).toMatch(/^[A-Z2-7]{32}$/);
        withSecret++;
      } else {
        expect(m.totpSecret).toBeUndefined();
      }
    }
    expect(withSecret).toBeGreaterThan(10);
  });

  it('names personas that fit their roles', () => {
    const employee = users.get(tenant.personas.employee)!;
    const manager = users.get(tenant.personas.manager)!;
    const technician = users.get(tenant.personas.technician)!;

    expect(['Finance', 'Sales']).toContain(employee.department);
    expect(employee.accountEnabled).toBe(true);
    expect(employee.onPremisesSyncEnabled).toBe(false);
    expect(mfa(employee.id).some((m) => m.kind === 'microsoftAuthenticator' && m.isDefault && m.totpSecret)).toBe(true);

    expect(employee.managerId).toBe(manager.id);
    expect(reportsOf(manager.id).length).toBeGreaterThanOrEqual(3);
    expect(manager.accountEnabled).toBe(true);

    expect(technician.department).toBe('IT');
    expect(groups.get(tenant.technicianGroupId)!.members).toContain(technician.id);
    expect(technician.id).not.toBe(manager.id);
    expect(technician.id).not.toBe(employee.id);
    expect(groups.get(tenant.technicianGroupId)!.members).not.toContain(manager.id);
    expect(groups.get(tenant.technicianGroupId)!.members).not.toContain(employee.id);
  });

  it('has people who signed in lately, some inactive for 90 days and more, and some who never did', () => {
    const now = Date.parse('2026-11-25T23:59:00Z');
    const days = (u: (typeof tenant.users)[number]) => (now - Date.parse(u.lastSignIn!)) / 86_400_000;
    const signedIn = tenant.users.filter((u) => u.lastSignIn);
    expect(signedIn.filter((u) => days(u) < 30).length).toBeGreaterThan(tenant.users.length / 2);
    expect(signedIn.filter((u) => days(u) >= 90).length).toBeGreaterThanOrEqual(3);
    expect(tenant.users.filter((u) => !u.lastSignIn).length).toBeGreaterThanOrEqual(2);
    for (const u of signedIn) if (u.lastPasswordChange) expect(Date.parse(u.lastSignIn!), u.displayName).toBeGreaterThanOrEqual(Date.parse(u.lastPasswordChange));
  });

  it('leaves the employee outside the sensitive groups, so access can be requested', () => {
    for (const id of tenant.privilegedGroupIds) {
      expect(groups.get(id)!.members).not.toContain(tenant.personas.employee);
    }
  });
});

describe('loadDemoTenant', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-tenant-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const copy = (): DemoTenant => structuredClone(tenant);
  const write = (name: string, data: unknown): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
    return file;
  };
  const problemsOf = (data: unknown): string => {
    try {
      parseDemoTenant(data, 'test');
    } catch (e) {
      expect(e).toBeInstanceOf(DemoTenantError);
      return (e as Error).message;
    }
    throw new Error('expected the tenant to be rejected');
  };

  it('loads a valid file from any path', () => {
    const file = write('ok.json', tenant);
    expect(loadDemoTenant(file)).toEqual(tenant);
  });

  it('rejects a dangling managerId, naming the user', () => {
    const t = copy();
    const u = t.users.find((x) => x.id === t.personas.employee)!;
    u.managerId = '0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f';
    const file = write('dangling.json', t);
    expect(() => loadDemoTenant(file)).toThrow(DemoTenantError);
    expect(() => loadDemoTenant(file)).toThrow(
      new RegExp(`managerId 0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f of ${u.userPrincipalName.replace('.', '\\.')}.*does not match any user`),
    );
    expect(() => loadDemoTenant(file)).toThrow(file);
  });

  it('rejects a manager cycle, showing the loop', () => {
    const t = copy();
    const employee = t.users.find((x) => x.id === t.personas.employee)!;
    const manager = t.users.find((x) => x.id === t.personas.manager)!;
    manager.managerId = employee.id;
    const msg = problemsOf(t);
    expect(msg).toContain('manager chain loops');
    const [e, m] = [employee.userPrincipalName, manager.userPrincipalName];
    expect([`${e} -> ${m} -> ${e}`, `${m} -> ${e} -> ${m}`].some((loop) => msg.includes(loop)), msg).toBe(true);
    expect(msg.match(/manager chain loops/g)).toHaveLength(1);
  });

  it('rejects someone managing themselves', () => {
    const t = copy();
    const u = t.users[5]!;
    u.managerId = u.id;
    expect(problemsOf(t)).toContain(`manager chain loops: ${u.userPrincipalName} -> ${u.userPrincipalName}`);
  });

  it('rejects unknown members, owners, technician group, privileged groups and personas', () => {
    const ghost = '1e1e1e1e-1e1e-4e1e-8e1e-1e1e1e1e1e1e';
    const t = copy();
    t.groups[0]!.members.push(ghost);
    t.groups[1]!.owners.push(ghost);
    t.technicianGroupId = ghost;
    t.privilegedGroupIds.push(ghost);
    t.personas.technician = ghost;
    t.directoryRoles[0]!.eligible.push(ghost);
    const msg = problemsOf(t);
    expect(msg).toContain(`member ${ghost} of group "${t.groups[0]!.displayName}" does not match any user`);
    expect(msg).toContain(`owner ${ghost} of group "${t.groups[1]!.displayName}" does not match any user`);
    expect(msg).toContain(`technicianGroupId ${ghost} does not match any group`);
    expect(msg).toContain(`privilegedGroupIds entry ${ghost} does not match any group`);
    expect(msg).toContain(`persona technician (${ghost}) does not match any user`);
    expect(msg).toContain(`holder ${ghost} of directory role "${t.directoryRoles[0]!.displayName}" does not match any user`);
  });

  it('rejects duplicates and malformed values with their path', () => {
    const t = copy();
    t.users[1]!.userPrincipalName = t.users[0]!.userPrincipalName.toUpperCase();
    expect(problemsOf(t)).toContain('is used more than once');

    const bad = copy() as unknown as { users: Record<string, unknown>[] };
    bad.users[2]!.id = 'NOT-A-GUID';
    bad.users[3]!.accountEnabled = 'yes';
    (bad.users[4]!.authMethods as Record<string, unknown>[])[0]!.kind = 'carrierPigeon';
    bad.users[5]!.nickname = 'extra';
    const msg = problemsOf(bad);
    expect(msg).toContain('users[2].id: must be a lowercase GUID');
    expect(msg).toContain('users[3].accountEnabled');
    expect(msg).toContain('users[4].authMethods[0].kind');
    expect(msg).toMatch(/users\[5\].*nickname/);
  });

  it('rejects a TOTP secret on a method that has none', () => {
    const t = copy();
    const user = t.users.find((u) => u.authMethods.some((m) => m.kind === 'phone'))!;
    const i = user.authMethods.findIndex((m) => m.kind === 'phone');
    user.authMethods[i]!.totpSecret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    expect(problemsOf(t)).toContain('totpSecret: not allowed on a phone method');
  });

  it('rejects two default methods for one user', () => {
    const t = copy();
    const user = t.users.find((u) => u.authMethods.filter((m) => m.kind !== 'password' && m.kind !== 'email').length >= 2)!;
    for (const m of user.authMethods) if (m.kind !== 'password' && m.kind !== 'email') m.isDefault = true;
    expect(problemsOf(t)).toContain(`${user.userPrincipalName} (${user.id}) has 2 default methods`);
  });

  it('reports an unreadable or non-JSON file clearly', () => {
    expect(() => loadDemoTenant(path.join(dir, 'missing.json'))).toThrow(/cannot read the file/);
    expect(() => loadDemoTenant(write('broken.json', '{ "users": ['))).toThrow(/not valid JSON/);
  });
});
