import { Attribute, Change, type Client, type Entry } from 'ldapts';
import {
  AUTH_METHOD_KINDS,
  AmbiguousUserError,
  ConflictError,
  DirectoryError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  UnsupportedError,
  type AuthMethod,
  type AuthMethodKind,
  type Directory,
  type DirectoryCapabilities,
  type DirectoryGroup,
  type DirectoryUser,
  type MembershipChange,
  type MembershipChangeResult,
  type PrivilegedRole,
  type SignInState,
  type TemporaryAccessPass,
} from './directory';
import {
  BINARY_ATTRIBUTES,
  GROUP_ATTRIBUTES,
  GROUP_FILTER,
  UF_ACCOUNTDISABLE,
  UF_LOCKOUT,
  UF_PASSWORD_EXPIRED,
  USER_ATTRIBUTES,
  USER_FILTER,
  byName,
  allBytes,
  bytes,
  entryId,
  int,
  matchesAll,
  searchWords,
  text,
  toGroup,
  toUser,
} from './ad/entries';
import { AdConnectionError, ldapCode, ldapMessage, toDirectoryError, type AdOperation } from './ad/errors';
import { and, contains, equals, equalsBytes, inChain, or, parseFilter, startsWith } from './ad/filter';
import { guidToBytes } from './ad/guid';
import {
  POLICY_ATTRIBUTES,
  encodeUnicodePwd,
  isPasswordPolicyRefusal,
  passwordPolicyMessage,
  policyFrom,
  type DomainPasswordPolicy,
} from './ad/password';
import { LdapPool, type LdapPoolOptions } from './ad/pool';
import { protectedRoles, sidToString } from './ad/protected';
import { ATTID_UNICODE_PWD, attributeChangeTime, fileTimeToDate } from './ad/time';
import {
  DEFAULT_LIMIT,
  MAX_CHECK_GROUPS,
  guidArg,
  limitArg,
  lookupArg,
  membershipChangesArg,
  profileChangesArg,
  queryWords,
  tapOptionsArg,
  userIdsArg,
} from './rules';

/** What each operation needs from the service account (docs/deploy.md has the same list). */
export const AD_OPERATIONS = {
  readUser: { what: 'read users', right: 'read access (Authenticated Users have it by default)' },
  readGroup: { what: 'read groups', right: 'read access (Authenticated Users have it by default)' },
  changeMembers: { what: 'change group members', right: 'Write member on group objects' },
  enableDisable: { what: 'enable or disable the account', right: 'Write userAccountControl on user objects' },
  unlock: { what: 'unlock the account', right: 'Write lockoutTime on user objects' },
  resetPassword: {
    what: 'reset the password',
    right: 'the Reset Password extended right and Write pwdLastSet on user objects',
  },
  updateProfile: { what: "change the user's department, job title or manager", right: 'Write department, Write title and Write manager on user objects' },
} satisfies Record<string, AdOperation>;

/**
 * Graph's fixed id of the password method, used for AD's only method so that a caller holding
 * it from either backend means the same thing.
 */
export const PASSWORD_METHOD_ID = '28c10230-6103-485e-b985-444c60001490';

/** Entries read at most per search before giving up (a search that matches most of a big domain). */
const MAX_SEARCH_CANDIDATES = 5_000;
/** Most accounts an ambiguous one-person lookup reports. */
const AMBIGUOUS_SHOWN = 5;
/** Attempts of a userAccountControl read-modify-write that raced another writer. */
const UAC_ATTEMPTS = 3;
/** Users asked about per search of `getLastSignIns`. */
const SIGN_IN_CHUNK = 50;

export interface AdDirectoryOptions extends LdapPoolOptions {
  /**
   * Where users and groups live: every search is a subtree search under it, and nothing
   * outside it is read or changed. The domain's root (from the RootDSE) when not given.
   */
  baseDn?: string;
  /** Entries per page of a paged search. Default 500 (AD answers at most 1000 per page). */
  pageSize?: number;
  /** How long a successful health check is reused. Default 30 s. */
  healthCacheMs?: number;
  /** Called with the number of entries of each page read (diagnostics, tests). */
  onPage?: (entries: number) => void;
}

interface ResolvedUser {
  dn: string;
  entry: Entry;
}

/**
 * The {@link Directory} on on-premises Active Directory over LDAPS (or StartTLS), bound as a
 * service account with rights delegated on the OUs it manages.
 *
 * Ids are objectGUIDs in text form: they never change when an account is renamed or moved,
 * unlike DNs. Where AD differs from Entra it says so:
 *
 * - Lockout exists: `getSignInState` reads it from msDS-User-Account-Control-Computed and
 *   `unlockAccount` writes lockoutTime = 0.
 * - Accounts synchronised to Entra (ms-DS-ConsistencyGuid set) are mastered here, so their
 *   passwords are reset and their accounts enabled here (`capabilities.onPremisesAccounts`).
 * - AD keeps no MFA methods, Temporary Access Passes or revocable sessions: those calls say so
 *   with {@link UnsupportedError} (`capabilities.authenticationMethods` is false). The
 *   password is the one method listed.
 * - `checkMemberGroups` follows nested groups (LDAP_MATCHING_RULE_IN_CHAIN), as Graph's does;
 *   a primary group (Domain Users) is not in `member` and is not reported.
 *
 * Every filter value is escaped (RFC 4515), every id validated as a GUID first, and every
 * result read with paged searches.
 */
export class AdDirectory implements Directory {
  readonly kind = 'ad';
  readonly capabilities: DirectoryCapabilities = { onPremisesAccounts: true, authenticationMethods: false, signInActivity: true };

  private healthyUntil = 0;
  private baseDnPromise: Promise<string> | undefined;
  private policy: { value: DomainPasswordPolicy; until: number } | undefined;
  private readonly pageSize: number;

  constructor(
    readonly pool: LdapPool,
    private readonly options: Omit<AdDirectoryOptions, keyof LdapPoolOptions> = {},
  ) {
    this.pageSize = Math.max(1, Math.min(options.pageSize ?? 500, 1000));
  }

  /** Builds the connection pool from the options; nothing is opened until the first call. */
  static create(options: AdDirectoryOptions): AdDirectory {
    const { baseDn, pageSize, healthCacheMs, onPage, ...pool } = options;
    return new AdDirectory(new LdapPool(pool), { baseDn, pageSize, healthCacheMs, onPage });
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** The DN every search starts from. */
  baseDn(): Promise<string> {
    if (this.options.baseDn) return Promise.resolve(this.options.baseDn);
    this.baseDnPromise ??= this.pool
      .run(async (c) => {
        const root = await c.search('', { scope: 'base', attributes: ['defaultNamingContext'] });
        const dn = root.searchEntries[0] ? text(root.searchEntries[0], 'defaultNamingContext') : null;
        if (!dn) throw new DirectoryError('The domain controller did not say which domain it serves (no defaultNamingContext); set AD_BASE_DN');
        return dn;
      })
      .catch((e: unknown) => {
        this.baseDnPromise = undefined;
        throw toDirectoryError(e, AD_OPERATIONS.readUser);
      });
    return this.baseDnPromise;
  }

  /**
   * One cheap read (the base entry) over a pooled, bound connection. /healthz is public: the
   * detail says what kind of failure, never the domain's names.
   */
  async health(): Promise<{ ok: boolean; detail?: string }> {
    if (Date.now() < this.healthyUntil) return { ok: true, detail: 'Active Directory answers' };
    try {
      const base = await this.baseDn();
      await this.pool.run((c) => c.search(base, { scope: 'base', attributes: ['1.1'] }));
      this.healthyUntil = Date.now() + (this.options.healthCacheMs ?? 30_000);
      return { ok: true, detail: 'Active Directory answers' };
    } catch (e) {
      const reason = e instanceof AdConnectionError ? e.reason : ldapCode(e) === 32 ? 'base' : undefined;
      const detail =
        reason === 'bind'
          ? 'the service account cannot sign in to Active Directory (run npm run doctor)'
          : reason === 'tls'
            ? 'no trusted TLS connection to Active Directory (run npm run doctor)'
            : reason === 'base'
              ? 'the Active Directory base DN does not exist (run npm run doctor)'
              : 'Active Directory did not answer';
      return { ok: false, detail };
    }
  }

  // ---- users -------------------------------------------------------------------------

  async getUser(id: string): Promise<DirectoryUser | null> {
    const r = await this.findUserEntry(guidArg(id, 'user id'));
    return r ? toUser(r.entry) : null;
  }

  async findUserByUpn(upn: string): Promise<DirectoryUser | null> {
    return this.findOneUser(equals('userPrincipalName', lookupArg(upn, 'user principal name')));
  }

  /** By mail, or by an smtp: alias in proxyAddresses (Exchange keeps aliases there). */
  async findUserByMail(mail: string): Promise<DirectoryUser | null> {
    const m = lookupArg(mail, 'mail address');
    return this.findOneUser(or(equals('mail', m), equals('proxyAddresses', `smtp:${m}`)));
  }

  /** By sAMAccountName, given alone ("jdoe") or with the NetBIOS domain ("CORP\jdoe"). */
  async findUserBySamAccountName(name: string): Promise<DirectoryUser | null> {
    const n = lookupArg(name, 'account name');
    return this.findOneUser(equals('sAMAccountName', n.includes('\\') ? n.slice(n.lastIndexOf('\\') + 1) : n));
  }

  /**
   * The account Entra Connect anchors on these 16 bytes: ms-DS-ConsistencyGuid, else
   * objectGUID (what `onPremisesImmutableId` decodes to).
   */
  async findUserByAnchor(anchor: Uint8Array): Promise<DirectoryUser | null> {
    if (anchor.length !== 16) throw new InvalidInputError('An immutable id anchor has 16 bytes');
    return this.findOneUser(or(equalsBytes('mS-DS-ConsistencyGuid', anchor), equalsBytes('objectGUID', anchor)));
  }

  /**
   * Users for whom every word of `query` starts a word of their display name, given name,
   * surname, UPN or mail (the local directory's rule), by display name. The server narrows by
   * substring; the word rule is applied here.
   */
  async searchUsers(query: string, limit: number = DEFAULT_LIMIT): Promise<DirectoryUser[]> {
    const words = queryWords(query);
    const top = limitArg(limit);
    if (words.length === 0) return [];
    const filter = and(
      USER_FILTER,
      ...words.map((w) =>
        or(contains('displayName', w), contains('givenName', w), contains('sn', w), startsWith('userPrincipalName', w), startsWith('mail', w)),
      ),
    );
    const entries = await this.searchAll(filter, USER_ATTRIBUTES, AD_OPERATIONS.readUser, MAX_SEARCH_CANDIDATES, 'fail');
    const users = entries
      .map(toUser)
      .filter((u) => matchesAll(words, searchWords([u.displayName, u.givenName, u.surname], [u.userPrincipalName, u.mail])));
    return byName(users).slice(0, top);
  }

  async getManager(userId: string): Promise<DirectoryUser | null> {
    const user = await this.requireUser(guidArg(userId, 'user id'), ['manager']);
    const managerDn = text(user.entry, 'manager');
    if (!managerDn) return null;
    // Within the base only, like every other read.
    return this.findOneUser(equals('distinguishedName', managerDn));
  }

  async getDirectReports(userId: string): Promise<DirectoryUser[]> {
    const user = await this.requireUser(guidArg(userId, 'user id'));
    const entries = await this.searchAll(and(USER_FILTER, equals('manager', user.dn)), USER_ATTRIBUTES, AD_OPERATIONS.readUser);
    return byName(entries.map(toUser));
  }

  // ---- groups ------------------------------------------------------------------------

  async getGroup(id: string): Promise<DirectoryGroup | null> {
    const g = await this.findGroupEntry(guidArg(id, 'group id'));
    return g ? toGroup(g.entry) : null;
  }

  /** Groups for whom every word of `query` starts a word of their name, by name. */
  async searchGroups(query: string, limit: number = DEFAULT_LIMIT): Promise<DirectoryGroup[]> {
    const words = queryWords(query);
    const top = limitArg(limit);
    if (words.length === 0) return [];
    const filter = and(GROUP_FILTER, ...words.map((w) => or(contains('displayName', w), contains('cn', w))));
    const entries = await this.searchAll(filter, GROUP_ATTRIBUTES, AD_OPERATIONS.readGroup, MAX_SEARCH_CANDIDATES, 'fail');
    const groups = entries.map(toGroup).filter((g) => matchesAll(words, searchWords([g.displayName], [])));
    return byName(groups).slice(0, top);
  }

  /** Groups the user is a direct member of (under the base). */
  async listUserGroups(userId: string): Promise<DirectoryGroup[]> {
    const user = await this.requireUser(guidArg(userId, 'user id'));
    const entries = await this.searchAll(and(GROUP_FILTER, equals('member', user.dn)), GROUP_ATTRIBUTES, AD_OPERATIONS.readGroup);
    return byName(entries.map(toGroup));
  }

  /**
   * Of `groupIds`, those the user belongs to directly or through nested groups, in the order
   * given: one search with LDAP_MATCHING_RULE_IN_CHAIN on `member`.
   */
  async checkMemberGroups(userId: string, groupIds: readonly string[]): Promise<string[]> {
    if (!Array.isArray(groupIds)) throw new InvalidInputError('groupIds must be a list of group ids');
    if (groupIds.length > MAX_CHECK_GROUPS) {
      throw new InvalidInputError(`checkMemberGroups takes at most ${MAX_CHECK_GROUPS} group ids, got ${groupIds.length}`);
    }
    const ids = [...new Set(groupIds.map((g) => guidArg(g, 'group id')))];
    const user = await this.requireUser(guidArg(userId, 'user id'));
    if (ids.length === 0) return [];
    const filter = and(GROUP_FILTER, inChain('member', user.dn), or(...ids.map((g) => equalsBytes('objectGUID', guidToBytes(g)))));
    const found = new Set((await this.searchAll(filter, ['objectGUID'], AD_OPERATIONS.readGroup)).map((e) => toGroup(e).id));
    return ids.filter((g) => found.has(g));
  }

  /** Users that are direct members (through the memberOf back-link, so any size pages). */
  async listGroupMembers(groupId: string): Promise<DirectoryUser[]> {
    const group = await this.requireGroup(guidArg(groupId, 'group id'));
    const entries = await this.searchAll(and(USER_FILTER, equals('memberOf', group.dn)), USER_ATTRIBUTES, AD_OPERATIONS.readUser);
    return byName(entries.map(toUser));
  }

  /** The group's owner: its managedBy, when that is a user under the base. */
  async listGroupOwners(groupId: string): Promise<DirectoryUser[]> {
    const group = await this.requireGroup(guidArg(groupId, 'group id'), ['managedBy']);
    const owner = text(group.entry, 'managedBy');
    if (!owner) return [];
    const u = await this.findOneUser(equals('distinguishedName', owner));
    return u ? [u] : [];
  }

  async addGroupMember(groupId: string, userId: string): Promise<'added' | 'already-member'> {
    const gid = guidArg(groupId, 'group id');
    const uid = guidArg(userId, 'user id');
    return this.changeMember('add', gid, uid, new Map()) as Promise<'added' | 'already-member'>;
  }

  async removeGroupMember(groupId: string, userId: string): Promise<'removed' | 'not-member'> {
    const gid = guidArg(groupId, 'group id');
    const uid = guidArg(userId, 'user id');
    return this.changeMember('remove', gid, uid, new Map()) as Promise<'removed' | 'not-member'>;
  }

  /**
   * Each change in order, one LDAP modify each (AD has no batch); DNs are looked up once per
   * call. A change that fails is reported, not thrown.
   */
  async batchMembershipChanges(changes: readonly MembershipChange[]): Promise<MembershipChangeResult[]> {
    const valid = membershipChangesArg(changes);
    const dns = new Map<string, string | null>();
    const results: MembershipChangeResult[] = [];
    for (const c of valid) {
      try {
        results.push({ ...c, ok: true, outcome: await this.changeMember(c.action, c.groupId, c.userId, dns) });
      } catch (e) {
        results.push({ ...c, ok: false, error: toDirectoryError(e, AD_OPERATIONS.changeMembers) });
      }
    }
    return results;
  }

  // ---- profile and sign-in activity -------------------------------------------------------

  /**
   * `department`, `title` and `manager` (the manager's DN, found by objectGUID under the base)
   * in one modify, so all change or none; `null` removes the value. The manager is looked up
   * before anything is written.
   */
  async updateUserProfile(userId: string, changes: { department?: string | null; jobTitle?: string | null; managerId?: string | null }): Promise<void> {
    const uid = guidArg(userId, 'user id');
    const c = profileChangesArg(uid, changes);
    const user = await this.requireUser(uid);
    if (Object.keys(c).length === 0) return;
    const mods: Change[] = [];
    if (c.department !== undefined) mods.push(replaceValue('department', c.department));
    if (c.jobTitle !== undefined) mods.push(replaceValue('title', c.jobTitle));
    if (c.managerId !== undefined) mods.push(replaceValue('manager', c.managerId === null ? null : (await this.requireUser(c.managerId)).dn));
    try {
      await this.modify(user.dn, mods);
    } catch (e) {
      throw toDirectoryError(e, AD_OPERATIONS.updateProfile);
    }
  }

  /**
   * `lastLogonTimestamp`, which every domain controller replicates but updates only when the
   * value it holds is older than `msDS-LogonTimeSyncInterval` (14 days by default, less a
   * random few): a last sign-in up to about two weeks old may show as older. The exact
   * `lastLogon` is kept per DC and never replicated, so it is not read.
   */
  async getLastSignIns(userIds: readonly string[]): Promise<Map<string, Date | null>> {
    const ids = userIdsArg(userIds);
    const found = new Map<string, Date | null>();
    for (let i = 0; i < ids.length; i += SIGN_IN_CHUNK) {
      const chunk = ids.slice(i, i + SIGN_IN_CHUNK);
      const filter = and(USER_FILTER, or(...chunk.map((g) => equalsBytes('objectGUID', guidToBytes(g)))));
      for (const e of await this.searchAll(filter, ['objectGUID', 'lastLogonTimestamp'], AD_OPERATIONS.readUser)) {
        found.set(entryId(e), fileTimeToDate(text(e, 'lastLogonTimestamp')));
      }
    }
    const out = new Map<string, Date | null>();
    for (const id of ids) if (found.has(id)) out.set(id, found.get(id)!);
    return out;
  }

  // ---- account state -------------------------------------------------------------------

  /**
   * Sets or clears ACCOUNTDISABLE in userAccountControl without touching its other flags: a
   * read, then one modify that deletes the value read and adds the new one. If another
   * writer changed the flags in between, the delete fails and the whole change is redone.
   */
  /**
   * The protected groups the user is in (transitively, from the constructed `tokenGroups`,
   * matched by well-known SID), the protected built-in accounts (by the user's own SID) and
   * `adminCount=1`.
   */
  async listPrivilegedRoles(userId: string): Promise<PrivilegedRole[]> {
    const user = await this.requireUser(guidArg(userId, 'user id'), ['objectSid', 'adminCount']);
    // tokenGroups is constructed: AD computes it only on a base search of the entry itself.
    const token = await this.read(user.dn, ['tokenGroups'], AD_OPERATIONS.readGroup);
    const sids = allBytes(token, 'tokenGroups').map(sidToString).filter((s): s is string => s !== null);
    // Every account has at least its primary group: none means the service account may not
    // read tokenGroups (hardened domains), and "none" must never read as "not privileged".
    if (!sids.length) {
      throw new ForbiddenError(
        `Active Directory did not let the service account read the group memberships (tokenGroups) of ${user.dn}: add it to the Windows Authorization Access Group.`,
        'Read tokenGroups (Windows Authorization Access Group)',
      );
    }
    const own = bytes(user.entry, 'objectSid');
    return protectedRoles(own ? sidToString(own) : null, sids, text(user.entry, 'adminCount'));
  }

  async setAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    const uid = guidArg(userId, 'user id');
    for (let attempt = 1; ; attempt++) {
      const user = await this.requireUser(uid);
      const old = int(user.entry, 'userAccountControl', Number.NaN);
      if (!Number.isFinite(old)) throw new DirectoryError(`Active Directory returned no userAccountControl for user ${uid}`);
      const next = enabled ? old & ~UF_ACCOUNTDISABLE : old | UF_ACCOUNTDISABLE;
      if (next === old) return;
      try {
        await this.modify(user.dn, [change('delete', 'userAccountControl', String(old)), change('add', 'userAccountControl', String(next))]);
        return;
      } catch (e) {
        // 16 noSuchAttribute: the value read is gone, someone else wrote in between.
        if (ldapCode(e) === 16 && attempt < UAC_ATTEMPTS) continue;
        throw toDirectoryError(e, AD_OPERATIONS.enableDisable);
      }
    }
  }

  /**
   * Lockout from msDS-User-Account-Control-Computed (a base read, as AD computes it per
   * object); the date of the last password change from the replication metadata of
   * unicodePwd, which survives pwdLastSet = 0.
   */
  async getSignInState(userId: string): Promise<SignInState> {
    const user = await this.requireUser(guidArg(userId, 'user id'));
    const entry = await this.read(user.dn, ['msDS-User-Account-Control-Computed', 'pwdLastSet', 'replPropertyMetaData'], AD_OPERATIONS.readUser);
    const computed = int(entry, 'msDS-User-Account-Control-Computed');
    const pwdLastSet = text(entry, 'pwdLastSet');
    const changed = attributeChangeTime(bytes(entry, 'replPropertyMetaData'), ATTID_UNICODE_PWD) ?? fileTimeToDate(pwdLastSet);
    return {
      lockSupported: true,
      locked: (computed & UF_LOCKOUT) !== 0,
      passwordChangeRequired: pwdLastSet === '0' || (computed & UF_PASSWORD_EXPIRED) !== 0,
      lastPasswordChange: changed ? changed.toISOString() : null,
    };
  }

  /** lockoutTime = 0, which also clears the bad password count. Idempotent. */
  async unlockAccount(userId: string): Promise<void> {
    const user = await this.requireUser(guidArg(userId, 'user id'));
    try {
      await this.modify(user.dn, [change('replace', 'lockoutTime', '0')]);
    } catch (e) {
      throw toDirectoryError(e, AD_OPERATIONS.unlock);
    }
  }

  /**
   * unicodePwd (the password in quotes, UTF-16LE: AD takes it only over an encrypted
   * connection) and pwdLastSet in one modify: 0 for "must change at next sign-in", -1 for
   * "now". A refusal by the domain's password policy is an {@link InvalidInputError} that
   * says what the policy needs; the password is never in a message.
   */
  async resetPassword(userId: string, newPassword: string, forceChangeAtNextSignIn: boolean): Promise<void> {
    const uid = guidArg(userId, 'user id');
    if (typeof newPassword !== 'string' || newPassword.length === 0 || newPassword.length > 256) {
      throw new InvalidInputError('The new password must be 1 to 256 characters long');
    }
    const user = await this.requireUser(uid);
    try {
      await this.modify(user.dn, [
        change('replace', 'unicodePwd', encodeUnicodePwd(newPassword)),
        change('replace', 'pwdLastSet', forceChangeAtNextSignIn ? '0' : '-1'),
      ]);
    } catch (e) {
      if (isPasswordPolicyRefusal(ldapCode(e), ldapMessage(e))) {
        throw new InvalidInputError(passwordPolicyMessage(ldapMessage(e), await this.passwordPolicy().catch(() => null)));
      }
      throw toDirectoryError(e, AD_OPERATIONS.resetPassword);
    }
  }

  /** The domain's password and lockout policy (read from the domain head, kept 10 minutes). */
  async passwordPolicy(): Promise<DomainPasswordPolicy> {
    if (this.policy && Date.now() < this.policy.until) return this.policy.value;
    const base = await this.baseDn();
    const domain = base.split(/,(?=\s*DC=)/i).filter((p) => /^\s*DC=/i.test(p)).join(',');
    const entry = await this.read(domain || base, POLICY_ATTRIBUTES, AD_OPERATIONS.readUser);
    const value = policyFrom((name) => text(entry, name));
    this.policy = { value, until: Date.now() + 600_000 };
    return value;
  }

  // ---- what AD does not keep ------------------------------------------------------------

  /** AD's only method is the password. */
  async listAuthMethods(userId: string): Promise<AuthMethod[]> {
    await this.requireUser(guidArg(userId, 'user id'));
    return [{ id: PASSWORD_METHOD_ID, kind: 'password', hint: null, isDefault: false }];
  }

  async deleteAuthMethod(userId: string, kind: AuthMethodKind, methodId: string): Promise<void> {
    if (!AUTH_METHOD_KINDS.includes(kind)) throw new InvalidInputError(`Unknown authentication method kind "${String(kind)}"`);
    const mid = guidArg(methodId, 'method id');
    await this.requireUser(guidArg(userId, 'user id'));
    if (kind !== 'password') {
      throw new UnsupportedError(`Active Directory keeps no ${kind} methods: multi-factor methods are registered in Microsoft Entra ID.`);
    }
    if (mid !== PASSWORD_METHOD_ID) throw new NotFoundError(`No password method ${mid}`);
    throw new ConflictError('The password method cannot be removed; reset the password instead.');
  }

  async createTemporaryAccessPass(
    userId: string,
    options: { lifetimeInMinutes: number; isUsableOnce: boolean },
  ): Promise<TemporaryAccessPass> {
    tapOptionsArg(options);
    await this.requireUser(guidArg(userId, 'user id'));
    throw new UnsupportedError('Temporary Access Passes are issued by Microsoft Entra ID; Active Directory has none.');
  }

  async revokeSessions(userId: string): Promise<void> {
    await this.requireUser(guidArg(userId, 'user id'));
    throw new UnsupportedError(
      'Active Directory has no sign-in sessions to revoke: Kerberos tickets run out by themselves (10 hours by default). ' +
        'Disabling the account or resetting the password stops new ones; cloud sessions are revoked in Microsoft Entra ID.',
    );
  }

  // ---- helpers -------------------------------------------------------------------------

  /** The user entry with this objectGUID under the base, or null. */
  private async findUserEntry(uid: string, extra: string[] = []): Promise<ResolvedUser | null> {
    const entries = await this.searchAll(and(USER_FILTER, equalsBytes('objectGUID', guidToBytes(uid))), [...USER_ATTRIBUTES, ...extra], AD_OPERATIONS.readUser, 2);
    const e = entries[0];
    return e ? { dn: e.dn, entry: e } : null;
  }

  private async requireUser(uid: string, extra: string[] = []): Promise<ResolvedUser> {
    const u = await this.findUserEntry(uid, extra);
    if (!u) throw new NotFoundError(`No user with id ${uid}`);
    return u;
  }

  private async findGroupEntry(gid: string, extra: string[] = []): Promise<ResolvedUser | null> {
    const entries = await this.searchAll(and(GROUP_FILTER, equalsBytes('objectGUID', guidToBytes(gid))), [...GROUP_ATTRIBUTES, ...extra], AD_OPERATIONS.readGroup, 2);
    const e = entries[0];
    return e ? { dn: e.dn, entry: e } : null;
  }

  private async requireGroup(gid: string, extra: string[] = []): Promise<ResolvedUser> {
    const g = await this.findGroupEntry(gid, extra);
    if (!g) throw new NotFoundError(`No group with id ${gid}`);
    return g;
  }

  /**
   * The one account `filter` matches, or null. Several: {@link AmbiguousUserError} with them
   * (AD keeps no uniqueness on `mail` or `proxyAddresses`), never the first one found.
   */
  private async findOneUser(filter: string): Promise<DirectoryUser | null> {
    const entries = await this.searchAll(and(USER_FILTER, filter), USER_ATTRIBUTES, AD_OPERATIONS.readUser, AMBIGUOUS_SHOWN);
    if (entries.length > 1) {
      const users = byName(entries.map(toUser));
      throw new AmbiguousUserError(
        `${entries.length >= AMBIGUOUS_SHOWN ? `At least ${AMBIGUOUS_SHOWN}` : entries.length} accounts match (${users.map((u) => u.userPrincipalName).join(', ')}): name one by its sign-in name or object id`,
        users,
      );
    }
    return entries[0] ? toUser(entries[0]) : null;
  }

  /**
   * A paged subtree search under the base, every page. With `max`, reading stops after `max`
   * entries: `overflow: 'cut'` keeps those (lookups of one object), `'fail'` refuses to answer
   * with a silently cut list (searches that match most of a big domain).
   */
  private async searchAll(
    filter: string,
    attributes: string[],
    op: AdOperation,
    max = Number.POSITIVE_INFINITY,
    overflow: 'cut' | 'fail' = 'cut',
  ): Promise<Entry[]> {
    const base = await this.baseDn();
    let entries: Entry[];
    try {
      entries = await this.pool.run(async (c) => {
        const out: Entry[] = [];
        const pages = c.searchPaginated(base, {
          scope: 'sub',
          filter: parseFilter(filter),
          attributes,
          explicitBufferAttributes: BINARY_ATTRIBUTES,
          paged: { pageSize: Number.isFinite(max) ? Math.min(this.pageSize, max + 1) : this.pageSize },
        });
        for await (const page of pages) {
          this.options.onPage?.(page.searchEntries.length);
          out.push(...page.searchEntries);
          if (out.length > max) break;
        }
        return out;
      });
    } catch (e) {
      throw toDirectoryError(e, op);
    }
    if (entries.length > max) {
      if (overflow === 'fail') throw new InvalidInputError(`More than ${max} entries match; narrow the search`);
      return entries.slice(0, max);
    }
    return entries;
  }

  /** One entry by DN (a base search: how AD computes constructed attributes). */
  private async read(dn: string, attributes: string[], op: AdOperation): Promise<Entry> {
    try {
      return await this.pool.run(async (c) => {
        const r = await c.search(dn, { scope: 'base', attributes, explicitBufferAttributes: BINARY_ATTRIBUTES });
        const e = r.searchEntries[0];
        if (!e) throw new NotFoundError(`${dn} disappeared while it was read`);
        return e;
      });
    } catch (e) {
      throw toDirectoryError(e, op);
    }
  }

  private async modify(dn: string, changes: Change[]): Promise<void> {
    await this.pool.run((c: Client) => c.modify(dn, changes));
  }

  /** Whether `userDn` is a direct member of `groupDn` (a base search with a member filter). */
  private async isMember(groupDn: string, userDn: string): Promise<boolean> {
    return this.pool.run(async (c) => {
      const r = await c.search(groupDn, { scope: 'base', filter: parseFilter(equals('member', userDn)), attributes: ['1.1'] });
      return r.searchEntries.length > 0;
    });
  }

  /**
   * Adds or removes one member. AD and Samba answer an add of an existing member with 68
   * (entryAlreadyExists; 20 from some servers) and a removal of a non-member with 53
   * (unwillingToPerform; 16 from some servers); either is checked against the group and
   * counted as success.
   */
  private async changeMember(
    action: 'add' | 'remove',
    groupId: string,
    userId: string,
    dns: Map<string, string | null>,
  ): Promise<'added' | 'already-member' | 'removed' | 'not-member'> {
    const groupDn = await this.cachedDn(dns, `g:${groupId}`, () => this.findGroupEntry(groupId));
    if (!groupDn) throw new NotFoundError(`No group with id ${groupId}`);
    const userDn = await this.cachedDn(dns, `u:${userId}`, () => this.findUserEntry(userId));
    if (!userDn) throw new NotFoundError(`No user with id ${userId}`);
    try {
      await this.modify(groupDn, [change(action === 'add' ? 'add' : 'delete', 'member', userDn)]);
      return action === 'add' ? 'added' : 'removed';
    } catch (e) {
      const code = ldapCode(e);
      if (action === 'add' && (code === 68 || code === 20) && (await this.isMember(groupDn, userDn))) return 'already-member';
      if (action === 'remove' && (code === 53 || code === 16) && !(await this.isMember(groupDn, userDn))) return 'not-member';
      throw toDirectoryError(e, AD_OPERATIONS.changeMembers);
    }
  }

  private async cachedDn(cache: Map<string, string | null>, key: string, find: () => Promise<ResolvedUser | null>): Promise<string | null> {
    if (!cache.has(key)) cache.set(key, (await find())?.dn ?? null);
    return cache.get(key)!;
  }
}

/** Replaces an attribute's values; null removes the attribute (a replace with no values). */
function replaceValue(type: string, value: string | null): Change {
  return new Change({ operation: 'replace', modification: new Attribute({ type, values: value === null ? [] : [value] }) });
}

function change(operation: 'add' | 'delete' | 'replace', type: string, value: string | Buffer): Change {
  return new Change({ operation, modification: new Attribute({ type, values: [value] as string[] | Buffer[] }) });
}
