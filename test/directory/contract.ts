import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AUTH_METHOD_KINDS,
  ConflictError,
  InvalidInputError,
  BASELINE_CAPABILITIES,
  NotFoundError,
  UnsupportedError,
  isGuid,
  type AuthMethod,
  type AuthMethodKind,
  type Directory,
  type DirectoryCapabilities,
  type DirectoryUser,
  type MembershipChange,
  type PrivilegedRoleKind,
} from '../../directory/directory';

/**
 * Ids the contract needs from a backend's seed data. Each backend (the local demo tenant,
 * a fake Graph server) supplies its own.
 */
export interface ContractFixtures {
  /**
   * An ordinary enabled, cloud-only user with a manager, no direct reports, membership of
   * {@link groupId} but not {@link otherGroupId}, a password method and, where the backend
   * keeps authentication methods, at least two other methods (not email), one the default.
   */
  userId: string;
  /** The manager of {@link userId}; has more than one direct report. */
  managerId: string;
  /** A user with no manager (the top of the organisation). */
  topUserId: string;
  /** A disabled, cloud-only user. */
  disabledUserId: string;
  /** An enabled user synchronised from on-premises AD. */
  syncedUserId: string;
  /** A cloud-only user with no method besides the password. */
  noMfaUserId: string;
  /** A user the backend reports as locked; omit for a backend without a lockout flag. */
  lockedUserId?: string;
  /** A user whose mail address differs from the UPN; omit when the seed has none. */
  mailAliasUserId?: string;
  /** A user who signed in, and when (ISO). */
  signedInUserId: string;
  signedInAt: string;
  /** A cloud-only user who never signed in. */
  neverSignedInUserId: string;
  /** A group with members (including {@link userId}) and at least one owner. */
  groupId: string;
  /** A group {@link userId} is not a member of. */
  otherGroupId: string;
  /**
   * Accounts the backend reports as privileged, each with roles or protected groups it must
   * list (by kind and name); {@link userId} holds none.
   */
  privileged?: Array<{ userId: string; roles: Array<{ kind: PrivilegedRoleKind; name: string }> }>;
}

export interface ContractSubject {
  directory: Directory;
  fixtures: ContractFixtures;
  teardown(): Promise<void>;
}

const USER_KEYS = [
  'accountEnabled',
  'department',
  'displayName',
  'givenName',
  'id',
  'jobTitle',
  'mail',
  'onPremisesSyncEnabled',
  'surname',
  'userPrincipalName',
  'userType',
];
const GROUP_KEYS = ['description', 'displayName', 'id', 'mail'];
const METHOD_KEYS = ['hint', 'id', 'isDefault', 'kind'];
const SIGN_IN_KEYS = ['lastPasswordChange', 'lockSupported', 'locked', 'passwordChangeRequired'];
/** Keys that would mean a secret leaked through the port. */
const SECRET_KEYS = /^(totpSecret|secret|password|passwordProfile|pass|temporaryAccessPass)$/i;

const UNKNOWN_ID = '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f';
const NOT_GUIDS = ['', 'abc', '12345', "x' or '1'='1", '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5', '../users'];
const STRONG_PASSWORD = 'Correct-Horse-42-Battery';

/** Throws unless `value` (deeply) has no key that names a secret. */
function expectNoSecretKeys(value: unknown, where = 'result'): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => expectNoSecretKeys(v, `${where}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      expect(SECRET_KEYS.test(k), `${where} carries a secret-looking key "${k}"`).toBe(false);
      expectNoSecretKeys(v, `${where}.${k}`);
    }
  }
}

function expectUserShape(u: DirectoryUser): void {
  expect(Object.keys(u).sort()).toEqual(USER_KEYS);
  expect(isGuid(u.id)).toBe(true);
  expect(u.userPrincipalName).toMatch(/^[^\s@]+@[^\s@]+$/);
  expect(typeof u.displayName).toBe('string');
  expect(typeof u.accountEnabled).toBe('boolean');
  expect(typeof u.onPremisesSyncEnabled).toBe('boolean');
  for (const k of ['mail', 'givenName', 'surname', 'department', 'jobTitle'] as const) {
    expect(u[k] === null || typeof u[k] === 'string').toBe(true);
  }
}

function expectSortedByName(items: readonly { displayName: string }[]): void {
  const names = items.map((i) => i.displayName.toLowerCase());
  expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
}

const ids = (xs: readonly { id: string }[]): string[] => xs.map((x) => x.id);

/**
 * The shared contract of {@link Directory}: every implementation runs it against its own
 * seed. `setup` is called before each test and must return a directory in its seeded state.
 * `capabilities` are what the backend declares (`directory.capabilities`, checked): where it
 * masters on-premises accounts or keeps no authentication methods, the tests of those calls
 * expect that behaviour instead of Entra's.
 */
export function directoryContract(
  name: string,
  setup: () => Promise<ContractSubject>,
  capabilities: DirectoryCapabilities = BASELINE_CAPABILITIES,
): void {
  describe(`Directory contract: ${name}`, () => {
    let d: Directory;
    let f: ContractFixtures;
    let subject: ContractSubject | undefined;

    beforeEach(async () => {
      subject = await setup();
      d = subject.directory;
      f = subject.fixtures;
    });
    afterEach(async () => {
      await subject?.teardown();
      subject = undefined;
    });

    const user = async (id: string): Promise<DirectoryUser> => {
      const u = await d.getUser(id);
      if (!u) throw new Error(`fixture user ${id} is missing`);
      return u;
    };
    const methods = async (userId: string, kind?: AuthMethodKind): Promise<AuthMethod[]> =>
      (await d.listAuthMethods(userId)).filter((m) => kind === undefined || m.kind === kind);

    describe('identity and health', () => {
      it('names its kind and answers health', async () => {
        expect(typeof d.kind).toBe('string');
        expect(d.kind.length).toBeGreaterThan(0);
        const h = await d.health();
        expect(h.ok).toBe(true);
      });

      it('declares the capabilities the contract runs with', () => {
        expect(d.capabilities ?? BASELINE_CAPABILITIES).toEqual(capabilities);
      });
    });

    describe('users', () => {
      it('getUser returns exactly the port fields', async () => {
        const u = await user(f.userId);
        expectUserShape(u);
        expect(u.id).toBe(f.userId);
        expect(u.accountEnabled).toBe(true);
        expect(u.onPremisesSyncEnabled).toBe(false);
        expect(u.userType).toBe('Member');
      });

      it('getUser accepts an upper-case GUID and returns the canonical id', async () => {
        const u = await d.getUser(f.userId.toUpperCase());
        expect(u?.id).toBe(f.userId);
      });

      it('getUser returns null for an unknown id', async () => {
        expect(await d.getUser(UNKNOWN_ID)).toBeNull();
      });

      it('rejects ids that are not GUIDs with InvalidInputError', async () => {
        for (const bad of NOT_GUIDS) {
          await expect(d.getUser(bad), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidInputError);
          await expect(d.getGroup(bad), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidInputError);
        }
      });

      it('reports disabled and synced users as such', async () => {
        expect((await user(f.disabledUserId)).accountEnabled).toBe(false);
        expect((await user(f.syncedUserId)).onPremisesSyncEnabled).toBe(true);
      });

      it('findUserByUpn is case-insensitive and null when absent', async () => {
        const u = await user(f.userId);
        expect((await d.findUserByUpn(u.userPrincipalName))?.id).toBe(f.userId);
        expect((await d.findUserByUpn(u.userPrincipalName.toUpperCase()))?.id).toBe(f.userId);
        expect(await d.findUserByUpn(`nobody.${Date.now()}@${u.userPrincipalName.split('@')[1]}`)).toBeNull();
      });

      it('findUserByMail is case-insensitive and null when absent', async () => {
        const u = await user(f.userId);
        expect(u.mail).not.toBeNull();
        expect((await d.findUserByMail(u.mail!))?.id).toBe(f.userId);
        expect((await d.findUserByMail(u.mail!.toUpperCase()))?.id).toBe(f.userId);
        expect(await d.findUserByMail(`nobody.${Date.now()}@example.org`)).toBeNull();
      });

      it('findUserByMail finds a mail alias that is not the UPN, and findUserByUpn does not', async () => {
        if (!f.mailAliasUserId) return;
        const u = await user(f.mailAliasUserId);
        expect(u.mail?.toLowerCase()).not.toBe(u.userPrincipalName.toLowerCase());
        expect((await d.findUserByMail(u.mail!))?.id).toBe(u.id);
        expect(await d.findUserByUpn(u.mail!)).toBeNull();
      });

      it('findUserByUpn and findUserByMail reject an empty string', async () => {
        await expect(d.findUserByUpn('')).rejects.toBeInstanceOf(InvalidInputError);
        await expect(d.findUserByMail('  ')).rejects.toBeInstanceOf(InvalidInputError);
      });
    });

    describe('searchUsers', () => {
      it('matches the start of the given name, surname, display name and UPN, any case', async () => {
        const u = await user(f.userId);
        const queries = [
          u.givenName!.slice(0, 3).toLowerCase(),
          u.surname!.toUpperCase(),
          u.displayName,
          u.userPrincipalName.slice(0, 5).toUpperCase(),
        ];
        for (const q of queries) {
          const found = await d.searchUsers(q);
          expect(ids(found), q).toContain(f.userId);
          found.forEach(expectUserShape);
          expectSortedByName(found);
        }
      });

      it('needs every word of the query to start a word', async () => {
        const u = await user(f.userId);
        const found = await d.searchUsers(`${u.givenName!.slice(0, 2)} ${u.surname!.slice(0, 2)}`);
        expect(ids(found)).toContain(f.userId);
        for (const x of found) {
          const words = `${x.displayName} ${x.givenName ?? ''} ${x.surname ?? ''}`.toLowerCase().split(/[^\p{L}\p{N}]+/u);
          const upn = `${x.userPrincipalName} ${x.mail ?? ''}`.toLowerCase();
          for (const q of [u.givenName!.slice(0, 2).toLowerCase(), u.surname!.slice(0, 2).toLowerCase()]) {
            expect(words.some((w) => w.startsWith(q)) || upn.includes(q), `${x.displayName} for ${q}`).toBe(true);
          }
        }
      });

      it('does not match the middle of a word', async () => {
        const u = await user(f.userId);
        const inner = u.surname!.slice(1).toLowerCase();
        const words = [u.displayName, u.givenName, u.surname]
          .join(' ')
          .toLowerCase()
          .split(/[^\p{L}\p{N}]+/u);
        if (words.some((w) => w.startsWith(inner))) return;
        expect(ids(await d.searchUsers(inner))).not.toContain(f.userId);
      });

      it('respects the limit and finds nobody for a blank query or wildcards', async () => {
        const u = await user(f.userId);
        const one = await d.searchUsers(u.userPrincipalName.slice(0, 1), 1);
        expect(one.length).toBeLessThanOrEqual(1);
        expect(await d.searchUsers('')).toEqual([]);
        expect(await d.searchUsers('   ')).toEqual([]);
        expect(await d.searchUsers('%')).toEqual([]);
        expect(await d.searchUsers('_')).toEqual([]);
        expect(await d.searchUsers('zzqxj-no-such-person')).toEqual([]);
      });

      it('rejects a limit that is not a whole number from 1 to 999', async () => {
        for (const bad of [0, -1, 1.5, 1000, Number.NaN]) {
          await expect(d.searchUsers('a', bad), String(bad)).rejects.toBeInstanceOf(InvalidInputError);
          await expect(d.searchGroups('a', bad), String(bad)).rejects.toBeInstanceOf(InvalidInputError);
        }
      });
    });

    describe('managers', () => {
      it('getManager returns the manager, and null at the top', async () => {
        const m = await d.getManager(f.userId);
        expect(m?.id).toBe(f.managerId);
        expectUserShape(m!);
        expect(await d.getManager(f.topUserId)).toBeNull();
      });

      it('getDirectReports lists the reports, each managed by the manager', async () => {
        const reports = await d.getDirectReports(f.managerId);
        expect(reports.length).toBeGreaterThan(1);
        expect(ids(reports)).toContain(f.userId);
        reports.forEach(expectUserShape);
        for (const r of reports) expect((await d.getManager(r.id))?.id).toBe(f.managerId);
        expect(await d.getDirectReports(f.userId)).toEqual([]);
      });

      it('throws NotFoundError for an unknown user and InvalidInputError for a bad id', async () => {
        await expect(d.getManager(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.getDirectReports(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.getManager('nope')).rejects.toBeInstanceOf(InvalidInputError);
        await expect(d.getDirectReports('nope')).rejects.toBeInstanceOf(InvalidInputError);
      });
    });

    describe('groups', () => {
      it('getGroup returns exactly the port fields, null when unknown', async () => {
        const g = await d.getGroup(f.groupId);
        expect(g).not.toBeNull();
        expect(Object.keys(g!).sort()).toEqual(GROUP_KEYS);
        expect(g!.id).toBe(f.groupId);
        expect((await d.getGroup(f.groupId.toUpperCase()))?.id).toBe(f.groupId);
        expect(await d.getGroup(UNKNOWN_ID)).toBeNull();
      });

      it('searchGroups matches the start of a word of the name, any case, ordered by name', async () => {
        const g = (await d.getGroup(f.groupId))!;
        const words = g.displayName.split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
        for (const q of [words[0]!.slice(0, 3).toUpperCase(), words[words.length - 1]!.toLowerCase(), g.displayName]) {
          const found = await d.searchGroups(q);
          expect(ids(found), q).toContain(f.groupId);
          for (const x of found) expect(Object.keys(x).sort()).toEqual(GROUP_KEYS);
          expectSortedByName(found);
        }
        expect(await d.searchGroups('')).toEqual([]);
        expect(await d.searchGroups('%')).toEqual([]);
        expect(await d.searchGroups('zzqxj-no-such-group')).toEqual([]);
        expect((await d.searchGroups(words[0]!.slice(0, 1), 1)).length).toBeLessThanOrEqual(1);
      });

      it('listUserGroups lists direct memberships', async () => {
        const groups = await d.listUserGroups(f.userId);
        expect(ids(groups)).toContain(f.groupId);
        expect(ids(groups)).not.toContain(f.otherGroupId);
        for (const g of groups) expect(Object.keys(g).sort()).toEqual(GROUP_KEYS);
      });

      it('checkMemberGroups returns the subset the user is in', async () => {
        expect(await d.checkMemberGroups(f.userId, [f.groupId, f.otherGroupId, UNKNOWN_ID])).toEqual([f.groupId]);
        expect(await d.checkMemberGroups(f.userId, [f.otherGroupId])).toEqual([]);
        expect(await d.checkMemberGroups(f.userId, [])).toEqual([]);
      });

      it('checkMemberGroups rejects bad ids, more than 20 ids, and unknown users', async () => {
        await expect(d.checkMemberGroups(f.userId, [f.groupId, 'nope'])).rejects.toBeInstanceOf(InvalidInputError);
        const many = Array.from({ length: 21 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
        await expect(d.checkMemberGroups(f.userId, many)).rejects.toBeInstanceOf(InvalidInputError);
        await expect(d.checkMemberGroups(UNKNOWN_ID, [f.groupId])).rejects.toBeInstanceOf(NotFoundError);
      });

      it('lists members and owners', async () => {
        const members = await d.listGroupMembers(f.groupId);
        expect(ids(members)).toContain(f.userId);
        members.forEach(expectUserShape);
        const owners = await d.listGroupOwners(f.groupId);
        expect(owners.length).toBeGreaterThan(0);
        owners.forEach(expectUserShape);
      });

      it('throws NotFoundError for an unknown group or user in listings', async () => {
        await expect(d.listGroupMembers(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.listGroupOwners(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.listUserGroups(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.listGroupMembers('nope')).rejects.toBeInstanceOf(InvalidInputError);
        await expect(d.listUserGroups('nope')).rejects.toBeInstanceOf(InvalidInputError);
      });
    });

    describe('privileged roles', () => {
      it('an ordinary user holds no directory role and no protected group', async () => {
        expect(await d.listPrivilegedRoles(f.userId)).toEqual([]);
      });

      it('lists the roles and protected groups of privileged accounts, with kind, name and id', async () => {
        for (const p of f.privileged ?? []) {
          const roles = await d.listPrivilegedRoles(p.userId.toUpperCase());
          for (const r of roles) {
            expect(Object.keys(r).sort()).toEqual(['id', 'kind', 'name']);
            expect(['directory-role-active', 'directory-role-eligible', 'protected-group', 'admin-count']).toContain(r.kind);
          }
          for (const want of p.roles) expect(roles.map((r) => ({ kind: r.kind, name: r.name })), p.userId).toContainEqual(want);
        }
      });

      it('NotFoundError for an unknown user, InvalidInputError for a bad id', async () => {
        await expect(d.listPrivilegedRoles(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
        for (const bad of NOT_GUIDS) await expect(d.listPrivilegedRoles(bad)).rejects.toBeInstanceOf(InvalidInputError);
      });
    });

    describe('membership changes', () => {
      it('addGroupMember is idempotent and visible everywhere', async () => {
        expect(await d.addGroupMember(f.otherGroupId, f.userId)).toBe('added');
        expect(await d.addGroupMember(f.otherGroupId, f.userId)).toBe('already-member');
        expect(ids(await d.listGroupMembers(f.otherGroupId))).toContain(f.userId);
        expect(ids(await d.listUserGroups(f.userId))).toContain(f.otherGroupId);
        expect(await d.checkMemberGroups(f.userId, [f.otherGroupId])).toEqual([f.otherGroupId]);
      });

      it('removeGroupMember is idempotent', async () => {
        expect(await d.removeGroupMember(f.groupId, f.userId)).toBe('removed');
        expect(await d.removeGroupMember(f.groupId, f.userId)).toBe('not-member');
        expect(ids(await d.listGroupMembers(f.groupId))).not.toContain(f.userId);
        expect(await d.checkMemberGroups(f.userId, [f.groupId])).toEqual([]);
        expect(await d.addGroupMember(f.groupId, f.userId)).toBe('added');
      });

      it('accepts upper-case ids and stores the canonical ones', async () => {
        expect(await d.addGroupMember(f.otherGroupId.toUpperCase(), f.userId.toUpperCase())).toBe('added');
        expect(await d.addGroupMember(f.otherGroupId, f.userId)).toBe('already-member');
        expect(await d.checkMemberGroups(f.userId, [f.otherGroupId])).toEqual([f.otherGroupId]);
      });

      it('throws NotFoundError for an unknown group or user, InvalidInputError for bad ids', async () => {
        await expect(d.addGroupMember(UNKNOWN_ID, f.userId)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.addGroupMember(f.groupId, UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.removeGroupMember(UNKNOWN_ID, f.userId)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.removeGroupMember(f.groupId, UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.addGroupMember('nope', f.userId)).rejects.toBeInstanceOf(InvalidInputError);
        await expect(d.removeGroupMember(f.groupId, 'nope')).rejects.toBeInstanceOf(InvalidInputError);
      });
    });

    describe('bulk membership changes', () => {
      /** At least `n` distinct users, found by searching a few common first letters. */
      async function someUsers(n: number): Promise<string[]> {
        const found = new Set<string>();
        for (const letter of 'aeijklmnorst') {
          for (const u of await d.searchUsers(letter, 999)) found.add(u.id);
          if (found.size >= n) break;
        }
        expect(found.size, 'the seed has enough users for a bulk test').toBeGreaterThanOrEqual(n);
        return [...found].slice(0, n);
      }

      it('reports each change in order: added, already a member, removed, not a member, not found', async () => {
        const results = await d.batchMembershipChanges([
          { action: 'add', groupId: f.otherGroupId, userId: f.userId },
          { action: 'add', groupId: f.groupId, userId: f.userId },
          { action: 'add', groupId: UNKNOWN_ID, userId: f.userId },
          { action: 'add', groupId: f.groupId, userId: UNKNOWN_ID },
          { action: 'remove', groupId: f.otherGroupId, userId: f.userId },
          { action: 'remove', groupId: f.otherGroupId, userId: f.userId },
          { action: 'remove', groupId: UNKNOWN_ID, userId: f.userId },
        ]);
        expect(results.map((r) => (r.ok ? r.outcome : r.error.name))).toEqual([
          'added',
          'already-member',
          'NotFoundError',
          'NotFoundError',
          'removed',
          'not-member',
          'NotFoundError',
        ]);
        expect(results[2]!.ok === false && results[2]!.error).toBeInstanceOf(NotFoundError);
        expect(results.map((r) => [r.action, r.groupId, r.userId])).toEqual([
          ['add', f.otherGroupId, f.userId],
          ['add', f.groupId, f.userId],
          ['add', UNKNOWN_ID, f.userId],
          ['add', f.groupId, UNKNOWN_ID],
          ['remove', f.otherGroupId, f.userId],
          ['remove', f.otherGroupId, f.userId],
          ['remove', UNKNOWN_ID, f.userId],
        ]);
        expect(await d.checkMemberGroups(f.userId, [f.groupId, f.otherGroupId])).toEqual([f.groupId]);
      });

      it('applies more than 20 changes and leaves each visible in the directory', async () => {
        const users = await someUsers(25);
        const before = new Set(ids(await d.listGroupMembers(f.otherGroupId)));
        const added = await d.batchMembershipChanges(users.map((userId) => ({ action: 'add', groupId: f.otherGroupId, userId })));
        expect(added.map((r) => (r.ok ? r.outcome : r.error.message))).toEqual(
          users.map((u) => (before.has(u) ? 'already-member' : 'added')),
        );
        const members = new Set(ids(await d.listGroupMembers(f.otherGroupId)));
        for (const u of users) expect(members.has(u), u).toBe(true);

        const fresh = users.filter((u) => !before.has(u));
        const removed = await d.batchMembershipChanges(fresh.map((userId) => ({ action: 'remove', groupId: f.otherGroupId, userId })));
        expect(removed.every((r) => r.ok && r.outcome === 'removed')).toBe(true);
        expect(new Set(ids(await d.listGroupMembers(f.otherGroupId)))).toEqual(before);
      });

      it('returns canonical ids and takes an empty list', async () => {
        const [r] = await d.batchMembershipChanges([
          { action: 'add', groupId: f.otherGroupId.toUpperCase(), userId: f.userId.toUpperCase() },
        ]);
        expect(r).toMatchObject({ ok: true, outcome: 'added', groupId: f.otherGroupId, userId: f.userId });
        expect(await d.batchMembershipChanges([])).toEqual([]);
      });

      it('rejects the whole call for one bad id or action, changing nothing', async () => {
        const bad: unknown[] = [
          [{ action: 'add', groupId: f.otherGroupId, userId: f.userId }, { action: 'add', groupId: 'nope', userId: f.userId }],
          [{ action: 'add', groupId: f.otherGroupId, userId: f.userId }, { action: 'promote', groupId: f.groupId, userId: f.userId }],
          [{ action: 'add', groupId: f.otherGroupId, userId: f.userId }, null],
          'not a list',
        ];
        for (const changes of bad) {
          await expect(d.batchMembershipChanges(changes as MembershipChange[])).rejects.toBeInstanceOf(InvalidInputError);
        }
        const tooMany = Array.from({ length: 1001 }, () => ({ action: 'add' as const, groupId: f.otherGroupId, userId: f.userId }));
        await expect(d.batchMembershipChanges(tooMany)).rejects.toBeInstanceOf(InvalidInputError);
        expect(await d.checkMemberGroups(f.userId, [f.otherGroupId])).toEqual([]);
      });
    });

    describe('profile updates', () => {
      it('changes only the fields given, and clears with null', async () => {
        const before = await user(f.userId);
        await d.updateUserProfile(f.userId, { department: 'Sales' });
        expect(await user(f.userId)).toEqual({ ...before, department: 'Sales' });
        expect((await d.getManager(f.userId))?.id).toBe(f.managerId);

        await d.updateUserProfile(f.userId, { jobTitle: '  Senior Accountant, EMEA  ' });
        expect(await user(f.userId)).toEqual({ ...before, department: 'Sales', jobTitle: 'Senior Accountant, EMEA' });

        await d.updateUserProfile(f.userId, { department: null, jobTitle: null });
        expect(await user(f.userId)).toEqual({ ...before, department: null, jobTitle: null });

        await d.updateUserProfile(f.userId, { department: before.department, jobTitle: before.jobTitle });
        expect(await user(f.userId)).toEqual(before);
        // Nothing to change is fine; the same change twice too.
        await d.updateUserProfile(f.userId, {});
        await d.updateUserProfile(f.userId, { department: before.department });
        expect(await user(f.userId)).toEqual(before);
      });

      it('sets, changes and removes the manager, seen from both sides', async () => {
        await d.updateUserProfile(f.userId.toUpperCase(), { managerId: f.topUserId.toUpperCase() });
        expect((await d.getManager(f.userId))?.id).toBe(f.topUserId);
        expect(ids(await d.getDirectReports(f.topUserId))).toContain(f.userId);
        expect(ids(await d.getDirectReports(f.managerId))).not.toContain(f.userId);

        await d.updateUserProfile(f.userId, { managerId: null });
        expect(await d.getManager(f.userId)).toBeNull();
        await d.updateUserProfile(f.userId, { managerId: null });
        expect(await d.getManager(f.userId)).toBeNull();

        await d.updateUserProfile(f.userId, { managerId: f.managerId, department: 'Finance' });
        expect((await d.getManager(f.userId))?.id).toBe(f.managerId);
        expect((await user(f.userId)).department).toBe('Finance');
      });

      it('refuses bad input, an unknown manager and unknown users, changing nothing', async () => {
        const before = await user(f.userId);
        const bad: unknown[] = [
          { department: 'x'.repeat(65) },
          { jobTitle: 'x'.repeat(129) },
          { department: '' },
          { department: '   ' },
          { jobTitle: 42 },
          { department: 'Fin\u0000ance' },
          { managerId: 'nope' },
          { managerId: f.userId },
          { manager: f.topUserId },
          { department: 'Sales', managerId: "x' or '1'='1" },
          null,
          'Sales',
          [],
        ];
        for (const changes of bad) {
          await expect(d.updateUserProfile(f.userId, changes as { department?: string }), JSON.stringify(changes)).rejects.toBeInstanceOf(InvalidInputError);
        }
        await expect(d.updateUserProfile(f.userId, { department: 'Sales', managerId: UNKNOWN_ID })).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.updateUserProfile(UNKNOWN_ID, { department: 'Sales' })).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.updateUserProfile('nope', { department: 'Sales' })).rejects.toBeInstanceOf(InvalidInputError);
        expect(await user(f.userId)).toEqual(before);
        expect((await d.getManager(f.userId))?.id).toBe(f.managerId);
      });

      it('takes the longest department and job title allowed', async () => {
        await d.updateUserProfile(f.userId, { department: 'D'.repeat(64), jobTitle: 'T'.repeat(128) });
        expect(await user(f.userId)).toMatchObject({ department: 'D'.repeat(64), jobTitle: 'T'.repeat(128) });
      });

      if (capabilities.onPremisesAccounts) {
        it("changes a synced user's profile, which this backend masters", async () => {
          const before = await user(f.syncedUserId);
          await d.updateUserProfile(f.syncedUserId, { department: 'Logistics', jobTitle: 'Warehouse Lead' });
          expect(await user(f.syncedUserId)).toEqual({ ...before, department: 'Logistics', jobTitle: 'Warehouse Lead' });
          expect(await d.getManager(f.syncedUserId)).not.toBeNull();
          await d.updateUserProfile(f.syncedUserId, { managerId: null });
          expect(await d.getManager(f.syncedUserId)).toBeNull();
        });
      } else {
        it("refuses a synced user's profile with UnsupportedError that says why, changing nothing", async () => {
          const before = await user(f.syncedUserId);
          const err = await d.updateUserProfile(f.syncedUserId, { department: 'Logistics' }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(UnsupportedError);
          expect((err as Error).message).toMatch(/on-premises/i);
          await expect(d.updateUserProfile(f.syncedUserId, { managerId: null })).rejects.toBeInstanceOf(UnsupportedError);
          expect(await user(f.syncedUserId)).toEqual(before);
          expect(await d.getManager(f.syncedUserId)).not.toBeNull();
        });
      }
    });

    describe('last sign-ins', () => {
      it('says when each known user last signed in, null for never, leaving out unknown ids', async () => {
        const signIns = await d.getLastSignIns([f.signedInUserId.toUpperCase(), f.neverSignedInUserId, UNKNOWN_ID, f.signedInUserId]);
        expect([...signIns.keys()]).toEqual([f.signedInUserId, f.neverSignedInUserId]);
        expect(signIns.get(f.signedInUserId)).toBeInstanceOf(Date);
        // AD keeps FILETIME, Graph whole seconds: the same instant to the second.
        expect(Math.round(signIns.get(f.signedInUserId)!.getTime() / 1000)).toBe(Date.parse(f.signedInAt) / 1000);
        expect(signIns.get(f.neverSignedInUserId)).toBeNull();
        expect((await d.getLastSignIns([])).size).toBe(0);
      });

      it('answers for more users than one request takes', async () => {
        const everyone = new Set<string>();
        for (const letter of 'aeijklmnorst') for (const u of await d.searchUsers(letter, 999)) everyone.add(u.id);
        expect(everyone.size).toBeGreaterThan(30);
        const signIns = await d.getLastSignIns([...everyone]);
        expect(new Set(signIns.keys())).toEqual(everyone);
        expect([...signIns.values()].filter((v) => v instanceof Date).length).toBeGreaterThan(everyone.size / 2);
      });

      it('rejects a list with a bad id, or not a list', async () => {
        await expect(d.getLastSignIns([f.userId, 'nope'])).rejects.toBeInstanceOf(InvalidInputError);
        await expect(d.getLastSignIns('nope' as unknown as string[])).rejects.toBeInstanceOf(InvalidInputError);
      });
    });

    describe('account state', () => {
      it('setAccountEnabled round-trips', async () => {
        await d.setAccountEnabled(f.userId, false);
        expect((await user(f.userId)).accountEnabled).toBe(false);
        await d.setAccountEnabled(f.userId, false);
        expect((await user(f.userId)).accountEnabled).toBe(false);
        await d.setAccountEnabled(f.userId, true);
        expect((await user(f.userId)).accountEnabled).toBe(true);
        await d.setAccountEnabled(f.disabledUserId, true);
        expect((await user(f.disabledUserId)).accountEnabled).toBe(true);
      });

      if (capabilities.onPremisesAccounts) {
        it('setAccountEnabled changes a synced user, whose account this backend masters', async () => {
          await d.setAccountEnabled(f.syncedUserId, false);
          expect((await user(f.syncedUserId)).accountEnabled).toBe(false);
          await d.setAccountEnabled(f.syncedUserId, true);
          expect((await user(f.syncedUserId)).accountEnabled).toBe(true);
        });
      } else {
        it('setAccountEnabled refuses a synced user, whose account is mastered on-premises', async () => {
          await expect(d.setAccountEnabled(f.syncedUserId, false)).rejects.toBeInstanceOf(UnsupportedError);
          expect((await user(f.syncedUserId)).accountEnabled).toBe(true);
        });
      }

      it('setAccountEnabled throws NotFoundError for an unknown user', async () => {
        await expect(d.setAccountEnabled(UNKNOWN_ID, false)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.setAccountEnabled('nope', false)).rejects.toBeInstanceOf(InvalidInputError);
      });

      it('getSignInState has the port shape', async () => {
        const s = await d.getSignInState(f.userId);
        expect(Object.keys(s).sort()).toEqual(SIGN_IN_KEYS);
        expect(typeof s.lockSupported).toBe('boolean');
        expect(typeof s.locked).toBe('boolean');
        expect(typeof s.passwordChangeRequired).toBe('boolean');
        expect(s.lastPasswordChange === null || !Number.isNaN(Date.parse(s.lastPasswordChange))).toBe(true);
        await expect(d.getSignInState(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
      });

      it('unlockAccount clears a lockout, or is unsupported where there is none', async () => {
        const s = await d.getSignInState(f.lockedUserId ?? f.userId);
        if (!s.lockSupported) {
          await expect(d.unlockAccount(f.userId)).rejects.toBeInstanceOf(UnsupportedError);
          return;
        }
        expect(f.lockedUserId, 'a backend with lockout names a locked fixture user').toBeDefined();
        expect(s.locked).toBe(true);
        await d.unlockAccount(f.lockedUserId!);
        expect((await d.getSignInState(f.lockedUserId!)).locked).toBe(false);
        await d.unlockAccount(f.lockedUserId!);
        expect((await d.getSignInState(f.lockedUserId!)).locked).toBe(false);
        await expect(d.unlockAccount(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
      });

      if (capabilities.authenticationMethods) {
        it('revokeSessions succeeds for a user and fails for an unknown one', async () => {
          await d.revokeSessions(f.userId);
          await d.revokeSessions(f.syncedUserId);
          await expect(d.revokeSessions(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.revokeSessions('nope')).rejects.toBeInstanceOf(InvalidInputError);
        });
      } else {
        it('revokeSessions is unsupported where sessions are not kept, after checking the user', async () => {
          await expect(d.revokeSessions(f.userId)).rejects.toBeInstanceOf(UnsupportedError);
          await expect(d.revokeSessions(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.revokeSessions('nope')).rejects.toBeInstanceOf(InvalidInputError);
        });
      }
    });

    describe('resetPassword', () => {
      it('records the change and never returns the password', async () => {
        const before = Date.now() - 1000;
        await d.resetPassword(f.userId, STRONG_PASSWORD, true);
        const s = await d.getSignInState(f.userId);
        expect(s.lastPasswordChange).not.toBeNull();
        expect(Date.parse(s.lastPasswordChange!)).toBeGreaterThanOrEqual(before);
        const everything = JSON.stringify([
          await d.getUser(f.userId),
          s,
          await d.listAuthMethods(f.userId),
          await d.searchUsers((await user(f.userId)).displayName),
        ]);
        expect(everything).not.toContain(STRONG_PASSWORD);
      });

      if (capabilities.onPremisesAccounts) {
        it('resets a synced user\'s password, which this backend masters', async () => {
          const before = Date.now() - 1000;
          await d.resetPassword(f.syncedUserId, STRONG_PASSWORD, false);
          const s = await d.getSignInState(f.syncedUserId);
          expect(s.passwordChangeRequired).toBe(false);
          expect(Date.parse(s.lastPasswordChange!)).toBeGreaterThanOrEqual(before);
        });
      } else {
        it('refuses a synced user with UnsupportedError that says why', async () => {
          const err = await d.resetPassword(f.syncedUserId, STRONG_PASSWORD, true).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(UnsupportedError);
          expect((err as Error).message).toMatch(/on-premises/i);
        });
      }

      it('rejects a password that breaks the policy', async () => {
        for (const weak of ['short1A', 'alllowercaseletters', '12345678901']) {
          await expect(d.resetPassword(f.userId, weak, false), weak).rejects.toBeInstanceOf(InvalidInputError);
        }
      });

      it('throws NotFoundError for an unknown user', async () => {
        await expect(d.resetPassword(UNKNOWN_ID, STRONG_PASSWORD, true)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.resetPassword('nope', STRONG_PASSWORD, true)).rejects.toBeInstanceOf(InvalidInputError);
      });
    });

    if (capabilities.authenticationMethods) {
      describe('authentication methods', () => {
        it('lists methods with hints and one default, and never a secret', async () => {
          const list = await d.listAuthMethods(f.userId);
          expect(list.filter((m) => m.kind === 'password')).toHaveLength(1);
          expect(list.filter((m) => m.isDefault)).toHaveLength(1);
          expect(list.filter((m) => m.kind !== 'password' && m.kind !== 'email').length).toBeGreaterThanOrEqual(2);
          for (const m of list) {
            expect(Object.keys(m).sort()).toEqual(METHOD_KEYS);
            expect(isGuid(m.id)).toBe(true);
            expect(AUTH_METHOD_KINDS).toContain(m.kind);
            expect(m.hint === null || typeof m.hint === 'string').toBe(true);
          }
          expectNoSecretKeys(list);
        });

        it('a user without MFA has only the password method', async () => {
          const list = await d.listAuthMethods(f.noMfaUserId);
          expect(list.map((m) => m.kind)).toEqual(['password']);
        });

        it('throws NotFoundError for an unknown user', async () => {
          await expect(d.listAuthMethods(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.listAuthMethods('nope')).rejects.toBeInstanceOf(InvalidInputError);
        });

        it('removes the default method only after the other methods', async () => {
          const list = await d.listAuthMethods(f.userId);
          const def = list.find((m) => m.isDefault)!;
          const others = list.filter((m) => !m.isDefault && m.kind !== 'password');
          expect(others.length).toBeGreaterThan(0);

          await expect(d.deleteAuthMethod(f.userId, def.kind, def.id)).rejects.toBeInstanceOf(ConflictError);
          for (const m of others) await d.deleteAuthMethod(f.userId, m.kind, m.id);
          const rest = await d.listAuthMethods(f.userId);
          expect(ids(rest).sort()).toEqual([def.id, ...ids(list.filter((m) => m.kind === 'password'))].sort());

          await d.deleteAuthMethod(f.userId, def.kind, def.id);
          expect((await d.listAuthMethods(f.userId)).map((m) => m.kind)).toEqual(['password']);
        });

        it('a Temporary Access Pass does not keep the lost default method in place', async () => {
          const list = await d.listAuthMethods(f.userId);
          const def = list.find((m) => m.isDefault)!;
          for (const m of list) if (!m.isDefault && m.kind !== 'password') await d.deleteAuthMethod(f.userId, m.kind, m.id);
          await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 60, isUsableOnce: true });
          await d.deleteAuthMethod(f.userId, def.kind, def.id);
          expect((await d.listAuthMethods(f.userId)).map((m) => m.kind).sort()).toEqual(['password', 'temporaryAccessPass']);
        });

        it('refuses to remove the password method', async () => {
          const pw = (await methods(f.userId, 'password'))[0]!;
          await expect(d.deleteAuthMethod(f.userId, 'password', pw.id)).rejects.toBeInstanceOf(ConflictError);
          expect(await methods(f.userId, 'password')).toHaveLength(1);
        });

        it('deleteAuthMethod: unknown method or wrong kind is NotFoundError, bad input is InvalidInputError', async () => {
          const list = await d.listAuthMethods(f.userId);
          const other = list.find((m) => !m.isDefault && m.kind !== 'password')!;
          const wrongKind = AUTH_METHOD_KINDS.find((k) => k !== other.kind && k !== 'password')!;
          await expect(d.deleteAuthMethod(f.userId, other.kind, UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.deleteAuthMethod(f.userId, wrongKind, other.id)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.deleteAuthMethod(f.noMfaUserId, other.kind, other.id)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.deleteAuthMethod(UNKNOWN_ID, other.kind, other.id)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.deleteAuthMethod(f.userId, other.kind, 'nope')).rejects.toBeInstanceOf(InvalidInputError);
          await expect(
            d.deleteAuthMethod(f.userId, 'smokeSignals' as AuthMethodKind, other.id),
          ).rejects.toBeInstanceOf(InvalidInputError);
          expect(ids(await d.listAuthMethods(f.userId))).toEqual(ids(list));
        });
      });

      describe('Temporary Access Pass', () => {
        it('is returned once, recorded as a method without the pass', async () => {
          const before = Date.now() - 1000;
          const tap = await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 60, isUsableOnce: true });
          expect(isGuid(tap.id)).toBe(true);
          expect(tap.pass.length).toBeGreaterThanOrEqual(8);
          expect(tap.lifetimeInMinutes).toBe(60);
          expect(tap.isUsableOnce).toBe(true);
          expect(Date.parse(tap.startDateTime)).toBeGreaterThanOrEqual(before);

          const list = await d.listAuthMethods(f.userId);
          const m = list.find((x) => x.id === tap.id);
          expect(m?.kind).toBe('temporaryAccessPass');
          expect(m?.isDefault).toBe(false);
          expect(JSON.stringify(list)).not.toContain(tap.pass);
          expectNoSecretKeys(list);
        });

        it('accepts the lifetime bounds 10 and 43200 minutes', async () => {
          const a = await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 10, isUsableOnce: false });
          expect(a.lifetimeInMinutes).toBe(10);
          expect(a.isUsableOnce).toBe(false);
          const b = await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 43_200, isUsableOnce: true });
          expect(b.lifetimeInMinutes).toBe(43_200);
        });

        it('rejects a lifetime outside 10..43200 minutes', async () => {
          for (const bad of [9, 0, -60, 43_201, 60.5, Number.NaN]) {
            await expect(
              d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: bad, isUsableOnce: true }),
              String(bad),
            ).rejects.toBeInstanceOf(InvalidInputError);
          }
          expect(await methods(f.userId, 'temporaryAccessPass')).toEqual([]);
        });

        it('a new pass replaces the previous one', async () => {
          const first = await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 60, isUsableOnce: true });
          const second = await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 120, isUsableOnce: true });
          expect(second.id).not.toBe(first.id);
          expect(second.pass).not.toBe(first.pass);
          expect(ids(await methods(f.userId, 'temporaryAccessPass'))).toEqual([second.id]);
        });

        it('can be deleted like any method', async () => {
          const tap = await d.createTemporaryAccessPass(f.noMfaUserId, { lifetimeInMinutes: 30, isUsableOnce: true });
          await d.deleteAuthMethod(f.noMfaUserId, 'temporaryAccessPass', tap.id);
          expect((await d.listAuthMethods(f.noMfaUserId)).map((m) => m.kind)).toEqual(['password']);
        });

        it('throws NotFoundError for an unknown user', async () => {
          await expect(
            d.createTemporaryAccessPass(UNKNOWN_ID, { lifetimeInMinutes: 60, isUsableOnce: true }),
          ).rejects.toBeInstanceOf(NotFoundError);
          await expect(
            d.createTemporaryAccessPass('nope', { lifetimeInMinutes: 60, isUsableOnce: true }),
          ).rejects.toBeInstanceOf(InvalidInputError);
        });
      });
    } else {
      describe('authentication methods (the password only)', () => {
        it('lists the password method alone, for every user', async () => {
          for (const id of [f.userId, f.noMfaUserId, f.syncedUserId]) {
            const list = await d.listAuthMethods(id);
            expect(list.map((m) => m.kind)).toEqual(['password']);
            expect(Object.keys(list[0]!).sort()).toEqual(METHOD_KEYS);
            expect(isGuid(list[0]!.id)).toBe(true);
            expect(list[0]!.isDefault).toBe(false);
          }
          await expect(d.listAuthMethods(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.listAuthMethods('nope')).rejects.toBeInstanceOf(InvalidInputError);
        });

        it('refuses to remove the password method', async () => {
          const pw = (await methods(f.userId, 'password'))[0]!;
          await expect(d.deleteAuthMethod(f.userId, 'password', pw.id)).rejects.toBeInstanceOf(ConflictError);
          expect(await methods(f.userId, 'password')).toHaveLength(1);
        });

        it('deleteAuthMethod: other kinds are unsupported; unknown ids NotFoundError; bad input InvalidInputError', async () => {
          const pw = (await methods(f.userId, 'password'))[0]!;
          await expect(d.deleteAuthMethod(f.userId, 'phone', pw.id)).rejects.toBeInstanceOf(UnsupportedError);
          await expect(d.deleteAuthMethod(f.userId, 'password', UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.deleteAuthMethod(UNKNOWN_ID, 'password', pw.id)).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.deleteAuthMethod(f.userId, 'password', 'nope')).rejects.toBeInstanceOf(InvalidInputError);
          await expect(d.deleteAuthMethod(f.userId, 'smokeSignals' as AuthMethodKind, pw.id)).rejects.toBeInstanceOf(InvalidInputError);
        });

        it('a Temporary Access Pass is unsupported, after its input and user are checked', async () => {
          await expect(d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 60, isUsableOnce: true })).rejects.toBeInstanceOf(UnsupportedError);
          await expect(d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 9, isUsableOnce: true })).rejects.toBeInstanceOf(InvalidInputError);
          await expect(d.createTemporaryAccessPass(UNKNOWN_ID, { lifetimeInMinutes: 60, isUsableOnce: true })).rejects.toBeInstanceOf(NotFoundError);
          await expect(d.createTemporaryAccessPass('nope', { lifetimeInMinutes: 60, isUsableOnce: true })).rejects.toBeInstanceOf(InvalidInputError);
          expect((await d.listAuthMethods(f.userId)).map((m) => m.kind)).toEqual(['password']);
        });
      });
    }

    describe('no secrets through the port', () => {
      it('no read returns a secret-looking key', async () => {
        const results: unknown[] = [];
        for (const id of [f.userId, f.managerId, f.topUserId, f.disabledUserId, f.syncedUserId, f.noMfaUserId]) {
          results.push(await d.getUser(id), await d.listAuthMethods(id), await d.getSignInState(id));
          results.push(await d.getManager(id), await d.getDirectReports(id), await d.listUserGroups(id));
        }
        const u = await user(f.userId);
        results.push(await d.findUserByUpn(u.userPrincipalName), await d.findUserByMail(u.mail!));
        results.push(await d.searchUsers(u.givenName!), await d.listGroupMembers(f.groupId), await d.listGroupOwners(f.groupId));
        expectNoSecretKeys(results);
        const text = JSON.stringify(results);
        expect(text).not.toMatch(/totp/i);
        expect(text).not.toMatch(/secret/i);
      });
    });
  });
}
