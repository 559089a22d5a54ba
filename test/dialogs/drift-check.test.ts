import { describe, expect, it } from 'vitest';
import { parseBirthrightRules } from '../../directory/birthright';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import type { DirectoryUser } from '../../directory/directory';
import { detectDrift, grantStands, mapLimit, type GroupScan, type ScopeGroup } from '../../dialogs/drift/check';
import type { GrantRecord } from '../../store/drift';

/** What counts as drift, decided from memberships, grants and rules alone. */

const NOW = new Date('2026-03-02T09:00:00.000Z');
const catalog = loadCatalog();
const resource = (id: string) => findResourceById(catalog, id)!;
const scope = (id: string, privileged = false): ScopeGroup => ({ id: resource(id).groupId, name: resource(id).name, resource: resource(id), privileged });
const ADMINS: ScopeGroup = { id: 'b1a9926b-e1c0-4b72-aed0-6ec2cc9e8a1a', name: 'Global Admins', resource: null, privileged: true };

let n = 0;
function user(name: string, over: Partial<DirectoryUser> = {}): DirectoryUser {
  n++;
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    userPrincipalName: `${name.toLowerCase().replace(/\s+/g, '.')}@northwind.example`,
    displayName: name,
    mail: null,
    givenName: null,
    surname: null,
    department: 'Finance',
    jobTitle: 'Accountant',
    accountEnabled: true,
    onPremisesSyncEnabled: false,
    ...over,
  };
}

const rules = parseBirthrightRules({ rules: [{ name: 'Sales', department: 'Sales', groups: [resource('crm').groupId] }] });

function grant(g: ScopeGroup, u: DirectoryUser, over: Partial<GrantRecord> = {}): GrantRecord {
  return { requestId: `REQ-${1000 + ++n}`, groupId: g.id, resourceId: g.resource?.id ?? '', userId: u.id, userName: u.displayName, state: 'granted', expiresAt: null, removalPending: false, ...over };
}

function detect(scans: GroupScan[], grants: GrantRecord[] = [], missing: string[] = []) {
  return detectDrift({ scans, grants, birthright: rules, now: NOW, missingUsers: new Set(missing) }).map((f) => `${f.kind} ${f.userName} ${f.groupName}${f.otherGroupName ? `+${f.otherGroupName}` : ''}`);
}

describe('what is expected in a group', () => {
  it('a standing grant, a grant being provisioned, or a birthright rule', () => {
    const crm = scope('crm');
    const granted = user('Granted Person');
    const provisioning = user('Being Granted');
    const seller = user('Sales Person', { department: 'Sales' });
    const later = user('Ends Later');
    expect(
      detect(
        [{ group: crm, members: [granted, provisioning, seller, later] }],
        [grant(crm, granted), grant(crm, provisioning, { state: 'approved' }), grant(crm, later, { expiresAt: '2026-03-05T00:00:00.000Z' })],
      ),
    ).toEqual([]);
  });

  it('a grant that ended is expected only while its removal job is still at work', () => {
    const g = grant(scope('crm'), user('x'), { expiresAt: '2026-03-01T00:00:00.000Z' });
    expect(grantStands(g, NOW)).toBe(false);
    expect(grantStands({ ...g, removalPending: true }, NOW)).toBe(true);
    expect(grantStands({ ...g, expiresAt: '2026-03-02T09:00:00.001Z' }, NOW)).toBe(true);
  });
});

describe('the kinds of drift', () => {
  it('the most specific kind per member: disabled, then an ended grant, then privileged, then added outside', () => {
    const payroll = scope('payroll-reports', true);
    const disabled = user('Off Account', { accountEnabled: false });
    const ended = user('Ended Grant');
    const stranger = user('Added By Hand');
    const grants = [grant(payroll, disabled), grant(payroll, ended, { expiresAt: '2026-03-01T09:00:00.000Z' })];
    expect(detect([{ group: payroll, members: [stranger, ended, disabled] }], grants)).toEqual([
      'privileged Added By Hand Payroll Reports',
      'expired-grant Ended Grant Payroll Reports',
      'disabled Off Account Payroll Reports',
    ]);
    const crm = scope('crm');
    expect(detect([{ group: crm, members: [stranger] }])).toEqual(['unapproved Added By Hand CRM']);
    expect(detect([{ group: ADMINS, members: [stranger] }])).toEqual(['privileged Added By Hand Global Admins']);
  });

  it('the ended grant found is the latest one, with its request and end', () => {
    const crm = scope('crm');
    const u = user('Twice Granted');
    const [f] = detectDrift({
      scans: [{ group: crm, members: [u] }],
      grants: [grant(crm, u, { requestId: 'REQ-1', expiresAt: '2026-02-01T00:00:00.000Z' }), grant(crm, u, { requestId: 'REQ-2', expiresAt: '2026-03-01T00:00:00.000Z' })],
      birthright: rules,
      now: NOW,
      missingUsers: new Set(),
    });
    expect(f).toMatchObject({ kind: 'expired-grant', details: { requestId: 'REQ-2', expiresAt: '2026-03-01T00:00:00.000Z' } });
  });

  it('someone the directory no longer knows who still holds a grant', () => {
    const crm = scope('crm');
    const gone = user('Gone Person');
    const absentButKnown = user('Not A Member');
    const found = detectDrift({ scans: [{ group: crm, members: [] }], grants: [grant(crm, gone, { requestId: 'REQ-9' }), grant(crm, absentButKnown)], birthright: rules, now: NOW, missingUsers: new Set([gone.id]) });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'left', userId: gone.id, userName: 'Gone Person', userUpn: null, details: { requestIds: ['REQ-9'] } });
  });

  it('incompatible resources held together: one finding per person and combination, whatever else is true', () => {
    const payroll = scope('payroll-reports', true);
    const hr = scope('hr-portal-admin');
    const both = user('Holds Both');
    const one = user('Holds One');
    const found = detectDrift({
      scans: [
        { group: payroll, members: [both, one] },
        { group: hr, members: [both] },
      ],
      grants: [grant(payroll, both), grant(hr, both), grant(payroll, one)],
      birthright: rules,
      now: NOW,
      missingUsers: new Set(),
    });
    expect(found.map((f) => f.kind)).toEqual(['sod']);
    expect(found[0]).toMatchObject({ combination: 'hr-portal-admin+payroll-reports', groupName: 'HR Portal Administrators', otherGroupName: 'Payroll Reports', fingerprint: `sod:hr-portal-admin+payroll-reports:${both.id}` });
    // Without the other group's members nothing can be said about the combination.
    expect(detect([{ group: payroll, members: [both] }], [grant(payroll, both)])).toEqual([]);
  });

  it('is deterministic: the same input gives the same findings in the same order', () => {
    const crm = scope('crm');
    const members = [user('Zed'), user('Amy'), user('Mo')];
    const a = detect([{ group: crm, members }]);
    const b = detect([{ group: crm, members: [...members].reverse() }]);
    expect(a).toEqual(['unapproved Amy CRM', 'unapproved Mo CRM', 'unapproved Zed CRM']);
    expect(b).toEqual(a);
  });
});

describe('bounded concurrency', () => {
  it('runs at most `limit` at a time and keeps the order of the results', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (x) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, x * 2));
      running--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 60]);
    expect(most).toBe(3);
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});
