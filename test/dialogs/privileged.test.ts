import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../bot/logger';
import { PrivilegedResolver } from '../../dialogs/privileged';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { ForbiddenError, NotFoundError, ThrottledError, type Directory } from '../../directory/directory';
import { LocalDirectory } from '../../directory/local-directory';

/**
 * The one answer to "is this account privileged?": configured groups, the technicians group,
 * directory roles; and never "not privileged" when the directory could not say.
 */
const tenant = loadDemoTenant();
const byName = (n: string) => tenant.users.find((u) => u.displayName === n)!.id;
let dir: LocalDirectory;
let tmp: string;
const logger = createLogger('silent');

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'privileged-'));
  dir = LocalDirectory.open(path.join(tmp, 'dir.db'), tenant);
});
afterAll(() => {
  dir?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const resolver = (directory: Directory, privilegedGroupIds: readonly string[] | null = tenant.privilegedGroupIds.filter((g) => g !== tenant.technicianGroupId)) =>
  new PrivilegedResolver({ directory, privilegedGroupIds, technicianGroupId: tenant.technicianGroupId, logger });

/** The demo directory, with its role lookup failing as `err`. */
const failingRoles = (err: Error): Directory => Object.create(dir, { listPrivilegedRoles: { value: async () => Promise.reject(err) } }) as Directory;

describe('PrivilegedResolver', () => {
  it('an ordinary employee is not privileged; a technician, a privileged group member and a role holder are, each with why', async () => {
    const r = resolver(dir);
    expect(await r.status(tenant.personas.employee)).toEqual({ privileged: false, reasons: [] });
    expect((await r.status(byName('Ahmed Farouk'))).reasons.map((x) => x.kind)).toEqual(['technicians-group']);
    expect((await r.status(byName('Marcus Johnson'))).reasons.map((x) => x.kind)).toEqual(['privileged-group']);
    expect((await r.status(byName('Ibrahim Diallo'))).reasons).toEqual([{ kind: 'directory-role-eligible', label: 'Security Administrator (eligible)', id: '194ae4cb-b126-40b2-bd5b-6091b380977d' }]);
    expect(r.isPrivilegedGroup(tenant.technicianGroupId)).toBe(true);
    expect(r.isPrivilegedGroup(tenant.groups.find((g) => g.displayName === 'All Staff')!.id)).toBe(false);
  });

  it('fails closed: a refused or unanswered role lookup counts as privileged; without a list every account is', async () => {
    for (const err of [new ForbiddenError('no', 'RoleManagement.Read.Directory'), new ThrottledError('busy', 30), new Error('socket hang up')]) {
      const s = await resolver(failingRoles(err)).status(tenant.personas.employee);
      expect(s.privileged, err.message).toBe(true);
      expect(s.reasons.map((x) => x.kind)).toEqual(['lookup-failed']);
    }
    expect((await resolver(failingRoles(new ForbiddenError('no', 'RoleManagement.Read.Directory'))).status(tenant.personas.employee)).reasons[0]!.label).toMatch(/RoleManagement\.Read\.Directory/);
    expect(await resolver(dir, null).status(tenant.personas.employee)).toMatchObject({ privileged: true, reasons: [{ kind: 'unknown-list' }] });
    expect(resolver(dir, null).isPrivilegedGroup(tenant.groups[5]!.id)).toBe(true);
  });

  it('an unknown user is NotFoundError, for the caller to decide', async () => {
    await expect(resolver(failingRoles(new NotFoundError('gone'))).status(tenant.personas.employee)).rejects.toBeInstanceOf(NotFoundError);
  });
});
