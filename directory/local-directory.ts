import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { openDatabase, type Db, type Migration } from '../store/db';
import { loadDemoTenant, type DemoTenant } from './demo-tenant';
import {
  AUTH_METHOD_KINDS,
  ConflictError,
  DirectoryError,
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
  DEFAULT_LIMIT,
  MAX_CHECK_GROUPS,
  NOT_DEFAULT_CAPABLE,
  guidArg,
  limitArg,
  lookupArg,
  membershipChangesArg,
  passwordWeakness,
  profileChangesArg,
  queryWords,
  tapHint,
  tapOptionsArg,
  userIdsArg,
} from './rules';

/**
 * Schema of the local demo directory (its own SQLite file, separate from the helpdesk
 * database). Never edit a released step: add a new one.
 *
 * `search_words` holds the lowercased words a search may match, each preceded by a space,
 * so "the start of a word" is `LIKE '% ' || prefix || '%'`. `upn_key` and `mail_key` are the
 * lowercased UPN and mail for case-insensitive lookups (JavaScript lowercasing, not SQLite's
 * ASCII-only NOCASE).
 */
export const localDirectoryMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'directory',
    up: (db) => {
      db.exec(`
        CREATE TABLE users (
          id                       TEXT    PRIMARY KEY,
          user_principal_name      TEXT    NOT NULL,
          upn_key                  TEXT    NOT NULL UNIQUE,
          display_name             TEXT    NOT NULL,
          given_name               TEXT,
          surname                  TEXT,
          mail                     TEXT,
          mail_key                 TEXT,
          department               TEXT,
          job_title                TEXT,
          manager_id               TEXT    REFERENCES users (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
          account_enabled          INTEGER NOT NULL CHECK (account_enabled IN (0, 1)),
          on_premises_sync_enabled INTEGER NOT NULL CHECK (on_premises_sync_enabled IN (0, 1)),
          locked                   INTEGER NOT NULL CHECK (locked IN (0, 1)),
          password_change_required INTEGER NOT NULL CHECK (password_change_required IN (0, 1)),
          last_password_change     TEXT,
          sessions_revoked_at      TEXT,
          search_words             TEXT    NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX users_mail_key     ON users (mail_key);
        CREATE INDEX users_manager      ON users (manager_id);
        CREATE INDEX users_display_name ON users (display_name COLLATE NOCASE);

        CREATE TABLE groups (
          id           TEXT PRIMARY KEY,
          display_name TEXT NOT NULL,
          description  TEXT,
          mail         TEXT,
          search_words TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX groups_display_name ON groups (display_name COLLATE NOCASE);

        CREATE TABLE group_members (
          group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
          user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
          PRIMARY KEY (group_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX group_members_user ON group_members (user_id, group_id);

        CREATE TABLE group_owners (
          group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
          user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
          PRIMARY KEY (group_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX group_owners_user ON group_owners (user_id, group_id);

        -- Only the record of a method: no secret (TOTP seed, pass, password) is ever stored.
        CREATE TABLE auth_methods (
          seq        INTEGER PRIMARY KEY,
          id         TEXT    NOT NULL UNIQUE,
          user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
          kind       TEXT    NOT NULL,
          hint       TEXT,
          is_default INTEGER NOT NULL CHECK (is_default IN (0, 1)),
          created_at TEXT    NOT NULL
        );
        CREATE INDEX auth_methods_user ON auth_methods (user_id, seq);
      `);
    },
  },
  {
    version: 2,
    name: 'last-sign-in',
    up: (db) => {
      db.exec(`
        ALTER TABLE users ADD COLUMN last_sign_in TEXT;
        -- What a migration cannot know (the seed tenant's data) is filled in from the seed the
        -- next time the directory opens, once; a reset clears the list.
        CREATE TABLE seed_backfill (field TEXT PRIMARY KEY) WITHOUT ROWID;
        INSERT INTO seed_backfill (field) VALUES ('last_sign_in');
      `);
    },
  },
];

const TAP_LENGTH = 16;
/** No 0/O, 1/l/I: a pass is read aloud or typed from a phone screen. */
const TAP_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

interface UserRow {
  id: string;
  user_principal_name: string;
  display_name: string;
  given_name: string | null;
  surname: string | null;
  mail: string | null;
  department: string | null;
  job_title: string | null;
  account_enabled: number;
  on_premises_sync_enabled: number;
}

interface SignInRow {
  locked: number;
  password_change_required: number;
  last_password_change: string | null;
}

interface GroupRow {
  id: string;
  display_name: string;
  description: string | null;
  mail: string | null;
}

interface MethodRow {
  id: string;
  kind: AuthMethodKind;
  hint: string | null;
  is_default: number;
}

const USER_COLUMNS =
  'u.id, u.user_principal_name, u.display_name, u.given_name, u.surname, u.mail, u.department, u.job_title, ' +
  'u.account_enabled, u.on_premises_sync_enabled';
const GROUP_COLUMNS = 'g.id, g.display_name, g.description, g.mail';

/** Options for {@link LocalDirectory.open}. */
export interface LocalDirectoryOptions {
  /** Clock for timestamps (password changes, pass start times); tests pin it. */
  now?: () => Date;
}

/**
 * The demo directory: a {@link Directory} on its own SQLite file, seeded from the demo tenant.
 * It follows Microsoft Graph's semantics (idempotent membership changes, synced users'
 * passwords refused, the default method removed last, one Temporary Access Pass at a time)
 * so the same contract suite passes here and against Graph. It never stores a secret:
 * neither passwords nor passes nor the demo phones' TOTP seeds.
 */
export class LocalDirectory implements Directory {
  readonly kind = 'local';
  readonly capabilities: DirectoryCapabilities = { onPremisesAccounts: false, authenticationMethods: true, signInActivity: true };

  private readonly now: () => Date;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  private readonly searchUserStmts = new Map<number, Database.Statement>();
  private readonly searchGroupStmts = new Map<number, Database.Statement>();
  /**
   * The demo tenant's guests. The seed file is the demo's only source of accounts of that
   * kind (no flow creates a guest), so the type is read from it rather than stored.
   */
  private readonly guestIds: ReadonlySet<string>;
  private readonly asUser = (r: UserRow): DirectoryUser => {
    const u = toUser(r);
    return { ...u, userType: this.guestIds.has(u.id) ? 'Guest' : 'Member' };
  };

  private constructor(
    private readonly db: Db,
    private readonly seed: DemoTenant,
    options: LocalDirectoryOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.stmt = prepareStatements(db);
    this.guestIds = new Set(seed.users.filter((u) => u.userType === 'Guest').map((u) => u.id));
  }

  /**
   * Opens (creating when needed) the directory file and seeds it from `tenant` - by default
   * the bundled Northwind Traders tenant - when it holds no users yet.
   */
  static open(file: string, tenant?: DemoTenant, options: LocalDirectoryOptions = {}): LocalDirectory {
    const db = openDatabase(file, { migrations: localDirectoryMigrations });
    try {
      const dir = new LocalDirectory(db, tenant ?? loadDemoTenant(), options);
      if (dir.stmt.countUsers.get() === 0) dir.reset();
      dir.backfillFromSeed();
      return dir;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The tenant this directory seeds from (and {@link reset} restores). */
  get tenant(): DemoTenant {
    return this.seed;
  }

  /** Replaces everything with the seed tenant, in one transaction. */
  reset(): { users: number; groups: number } {
    const t = this.seed;
    const createdAt = this.now().toISOString();
    this.db.transaction(() => {
      this.db.exec(
        'DELETE FROM auth_methods; DELETE FROM group_members; DELETE FROM group_owners; DELETE FROM groups; DELETE FROM users; DELETE FROM seed_backfill;',
      );
      for (const u of t.users) {
        this.stmt.insertUser.run({
          id: u.id,
          upn: u.userPrincipalName,
          upnKey: u.userPrincipalName.toLowerCase(),
          displayName: u.displayName,
          givenName: u.givenName,
          surname: u.surname,
          mail: u.mail,
          mailKey: u.mail?.toLowerCase() ?? null,
          department: u.department,
          jobTitle: u.jobTitle,
          managerId: u.managerId,
          enabled: u.accountEnabled ? 1 : 0,
          synced: u.onPremisesSyncEnabled ? 1 : 0,
          locked: u.locked ? 1 : 0,
          mustChange: u.passwordChangeRequired ? 1 : 0,
          lastPasswordChange: u.lastPasswordChange,
          lastSignIn: u.lastSignIn ?? null,
          searchWords: searchWords([u.displayName, u.givenName, u.surname], [u.userPrincipalName, u.mail]),
        });
        for (const m of u.authMethods) {
          // The demo phone's TOTP secret deliberately stays out of the database.
          this.stmt.insertMethod.run(m.id, u.id, m.kind, m.hint, m.isDefault ? 1 : 0, createdAt);
        }
      }
      for (const g of t.groups) {
        this.stmt.insertGroup.run(g.id, g.displayName, g.description, g.mail, searchWords([g.displayName], []));
        for (const o of g.owners) this.stmt.insertOwner.run(g.id, o);
        for (const m of g.members) this.stmt.insertMember.run(g.id, m);
      }
    })();
    return { users: t.users.length, groups: t.groups.length };
  }

  /**
   * Fills in seed data that a schema step added a place for (the last sign-ins of a directory
   * made before they were kept), for the users the seed knows; once.
   */
  private backfillFromSeed(): void {
    if (!this.stmt.backfillPending.get('last_sign_in')) return;
    this.db.transaction(() => {
      for (const u of this.seed.users) if (u.lastSignIn) this.stmt.backfillLastSignIn.run(u.lastSignIn, u.id);
      this.stmt.backfillDone.run('last_sign_in');
    })();
  }

  /** Closes the database file; later calls fail. Calling it twice is harmless. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    try {
      const users = this.stmt.countUsers.get() as number;
      return { ok: true, detail: `${users} users` };
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
  }

  // ---- users -------------------------------------------------------------------------

  async getUser(id: string): Promise<DirectoryUser | null> {
    const row = this.stmt.getUser.get(guidArg(id, 'user id')) as UserRow | undefined;
    return row ? this.asUser(row) : null;
  }

  async findUserByUpn(upn: string): Promise<DirectoryUser | null> {
    const row = this.stmt.findByUpn.get(lookupArg(upn, 'user principal name')) as UserRow | undefined;
    return row ? this.asUser(row) : null;
  }

  async findUserByMail(mail: string): Promise<DirectoryUser | null> {
    const row = this.stmt.findByMail.get(lookupArg(mail, 'mail address')) as UserRow | undefined;
    return row ? this.asUser(row) : null;
  }

  /**
   * Users for whom every word of `query` starts a word of their display name, given name,
   * surname, UPN or mail (case-insensitive), ordered by display name. A blank query finds
   * nobody.
   */
  async searchUsers(query: string, limit: number = DEFAULT_LIMIT): Promise<DirectoryUser[]> {
    const words = queryWords(query);
    const top = limitArg(limit);
    if (words.length === 0) return [];
    let st = this.searchUserStmts.get(words.length);
    if (!st) {
      st = this.db.prepare(
        `SELECT ${USER_COLUMNS} FROM users u WHERE ${words.map(() => "u.search_words LIKE ? ESCAPE '\\'").join(' AND ')} ` +
          'ORDER BY u.display_name COLLATE NOCASE, u.id LIMIT ?',
      );
      this.searchUserStmts.set(words.length, st);
    }
    return (st.all(...words.map(wordPattern), top) as UserRow[]).map(this.asUser);
  }

  async getManager(userId: string): Promise<DirectoryUser | null> {
    const id = this.requireUser(userId);
    const row = this.stmt.getManager.get(id) as UserRow | undefined;
    return row ? this.asUser(row) : null;
  }

  async getDirectReports(userId: string): Promise<DirectoryUser[]> {
    const id = this.requireUser(userId);
    return (this.stmt.getReports.all(id) as UserRow[]).map(this.asUser);
  }

  // ---- groups ------------------------------------------------------------------------

  async getGroup(id: string): Promise<DirectoryGroup | null> {
    const row = this.stmt.getGroup.get(guidArg(id, 'group id')) as GroupRow | undefined;
    return row ? toGroup(row) : null;
  }

  /** Groups for whom every word of `query` starts a word of their display name, by name. */
  async searchGroups(query: string, limit: number = DEFAULT_LIMIT): Promise<DirectoryGroup[]> {
    const words = queryWords(query);
    const top = limitArg(limit);
    if (words.length === 0) return [];
    let st = this.searchGroupStmts.get(words.length);
    if (!st) {
      st = this.db.prepare(
        `SELECT ${GROUP_COLUMNS} FROM groups g WHERE ${words.map(() => "g.search_words LIKE ? ESCAPE '\\'").join(' AND ')} ` +
          'ORDER BY g.display_name COLLATE NOCASE, g.id LIMIT ?',
      );
      this.searchGroupStmts.set(words.length, st);
    }
    return (st.all(...words.map(wordPattern), top) as GroupRow[]).map(toGroup);
  }

  async listUserGroups(userId: string): Promise<DirectoryGroup[]> {
    const id = this.requireUser(userId);
    return (this.stmt.userGroups.all(id) as GroupRow[]).map(toGroup);
  }

  /** Of `groupIds`, the ones the user is a direct member of, in the order given. */
  async checkMemberGroups(userId: string, groupIds: readonly string[]): Promise<string[]> {
    if (!Array.isArray(groupIds)) throw new InvalidInputError('groupIds must be a list of group ids');
    if (groupIds.length > MAX_CHECK_GROUPS) {
      throw new InvalidInputError(`checkMemberGroups takes at most ${MAX_CHECK_GROUPS} group ids, got ${groupIds.length}`);
    }
    const ids = [...new Set(groupIds.map((g) => guidArg(g, 'group id')))];
    const user = this.requireUser(userId);
    return ids.filter((g) => this.stmt.isMember.get(g, user) !== undefined);
  }

  async listGroupMembers(groupId: string): Promise<DirectoryUser[]> {
    const id = this.requireGroup(groupId);
    return (this.stmt.groupMembers.all(id) as UserRow[]).map(this.asUser);
  }

  async listGroupOwners(groupId: string): Promise<DirectoryUser[]> {
    const id = this.requireGroup(groupId);
    return (this.stmt.groupOwners.all(id) as UserRow[]).map(this.asUser);
  }

  async addGroupMember(groupId: string, userId: string): Promise<'added' | 'already-member'> {
    return this.addMember(guidArg(groupId, 'group id'), guidArg(userId, 'user id'));
  }

  async removeGroupMember(groupId: string, userId: string): Promise<'removed' | 'not-member'> {
    return this.removeMember(guidArg(groupId, 'group id'), guidArg(userId, 'user id'));
  }

  /** Every change in order, in one transaction; a change that fails is reported, not thrown. */
  async batchMembershipChanges(changes: readonly MembershipChange[]): Promise<MembershipChangeResult[]> {
    const valid = membershipChangesArg(changes);
    return this.db.transaction(() =>
      valid.map((c): MembershipChangeResult => {
        try {
          const outcome = c.action === 'add' ? this.addMember(c.groupId, c.userId) : this.removeMember(c.groupId, c.userId);
          return { ...c, ok: true, outcome };
        } catch (e) {
          if (e instanceof DirectoryError) return { ...c, ok: false, error: e };
          throw e;
        }
      }),
    )();
  }

  private addMember(groupId: string, userId: string): 'added' | 'already-member' {
    this.requireGroup(groupId);
    this.requireUser(userId);
    return this.stmt.insertMember.run(groupId, userId).changes === 1 ? 'added' : 'already-member';
  }

  private removeMember(groupId: string, userId: string): 'removed' | 'not-member' {
    this.requireGroup(groupId);
    this.requireUser(userId);
    return this.stmt.deleteMember.run(groupId, userId).changes === 1 ? 'removed' : 'not-member';
  }

  // ---- profile and sign-in activity ---------------------------------------------------

  /**
   * Department, job title and manager in one transaction, after every check. Synced users
   * are refused, as Graph does: these attributes are mastered on-premises.
   */
  async updateUserProfile(userId: string, changes: { department?: string | null; jobTitle?: string | null; managerId?: string | null }): Promise<void> {
    const id = guidArg(userId, 'user id');
    const c = profileChangesArg(id, changes);
    const user = this.requireUserRow(id);
    if (Object.keys(c).length === 0) return;
    if (user.on_premises_sync_enabled) {
      throw new UnsupportedError(
        `${user.display_name} is synchronised from on-premises Active Directory, where the department, job title and manager are mastered: change them there (a technician with AD access can do it).`,
      );
    }
    if (c.managerId) this.requireUser(c.managerId);
    this.db.transaction(() => {
      if (c.department !== undefined) this.stmt.setDepartment.run(c.department, id);
      if (c.jobTitle !== undefined) this.stmt.setJobTitle.run(c.jobTitle, id);
      if (c.managerId !== undefined) this.stmt.setManager.run(c.managerId, id);
    })();
  }

  async getLastSignIns(userIds: readonly string[]): Promise<Map<string, Date | null>> {
    const ids = userIdsArg(userIds);
    const out = new Map<string, Date | null>();
    for (const id of ids) {
      const row = this.stmt.lastSignIn.get(id) as { last_sign_in: string | null } | undefined;
      if (row) out.set(id, row.last_sign_in ? new Date(row.last_sign_in) : null);
    }
    return out;
  }

  /** The demo tenant's directory roles the user holds, active or eligible (from its data). */
  async listPrivilegedRoles(userId: string): Promise<PrivilegedRole[]> {
    const id = this.requireUser(userId);
    const out: PrivilegedRole[] = [];
    for (const r of this.seed.directoryRoles) {
      if (r.active.includes(id)) out.push({ kind: 'directory-role-active', name: r.displayName, id: r.roleDefinitionId });
      if (r.eligible.includes(id)) out.push({ kind: 'directory-role-eligible', name: r.displayName, id: r.roleDefinitionId });
    }
    return out;
  }

  // ---- sign-in -----------------------------------------------------------------------

  /** Synced users are refused, as Graph does: `accountEnabled` is mastered on-premises. */
  async setAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    if (typeof enabled !== 'boolean') throw new InvalidInputError('enabled must be true or false');
    const user = this.requireUserRow(userId);
    if (user.on_premises_sync_enabled) {
      throw new UnsupportedError(
        `${user.display_name} is synchronised from on-premises Active Directory; ` +
          `${enabled ? 'enable' : 'disable'} the account there (a technician with AD access can do it).`,
      );
    }
    this.stmt.setEnabled.run(enabled ? 1 : 0, user.id);
  }

  async getSignInState(userId: string): Promise<SignInState> {
    const id = this.requireUser(userId);
    const row = this.stmt.signInState.get(id) as SignInRow;
    return {
      lockSupported: true,
      locked: row.locked === 1,
      passwordChangeRequired: row.password_change_required === 1,
      lastPasswordChange: row.last_password_change,
    };
  }

  async unlockAccount(userId: string): Promise<void> {
    const id = this.requireUser(userId);
    this.stmt.unlock.run(id);
  }

  /**
   * Accepts a password that meets the Entra policy (8-256 characters, three of: lowercase,
   * uppercase, digits, symbols) and records only when it changed and whether a change is
   * required at next sign-in. The password itself is never kept. A lockout stays as it was:
   * unlocking is a separate step.
   */
  async resetPassword(userId: string, newPassword: string, forceChangeAtNextSignIn: boolean): Promise<void> {
    if (typeof newPassword !== 'string') throw new InvalidInputError('The new password must be a string');
    if (typeof forceChangeAtNextSignIn !== 'boolean') {
      throw new InvalidInputError('forceChangeAtNextSignIn must be true or false');
    }
    const user = this.requireUserRow(userId);
    if (user.on_premises_sync_enabled) {
      throw new UnsupportedError(
        `${user.display_name} is synchronised from on-premises Active Directory; ` +
          'the password must be reset there (a technician with AD access can do it).',
      );
    }
    const weakness = passwordWeakness(newPassword);
    if (weakness) throw new InvalidInputError(`The new password does not meet the password policy: ${weakness}`);
    this.stmt.setPassword.run(this.now().toISOString(), forceChangeAtNextSignIn ? 1 : 0, user.id);
  }

  // ---- authentication methods ----------------------------------------------------------

  async listAuthMethods(userId: string): Promise<AuthMethod[]> {
    const id = this.requireUser(userId);
    return (this.stmt.methods.all(id) as MethodRow[]).map(toMethod);
  }

  /**
   * Removes a registered method. The password cannot be removed, and the default method
   * only once no other method could take its place (Graph refuses it before that).
   */
  async deleteAuthMethod(userId: string, kind: AuthMethodKind, methodId: string): Promise<void> {
    if (!AUTH_METHOD_KINDS.includes(kind)) {
      throw new InvalidInputError(`Unknown authentication method kind "${String(kind)}"`);
    }
    const mid = guidArg(methodId, 'method id');
    const uid = this.requireUser(userId);
    const method = this.stmt.method.get(uid, mid) as MethodRow | undefined;
    if (!method || method.kind !== kind) {
      throw new NotFoundError(`No ${kind} method ${mid} is registered for user ${uid}`);
    }
    if (method.kind === 'password') {
      throw new ConflictError('The password method cannot be removed; reset the password instead.');
    }
    if (method.is_default === 1) {
      const others = (this.stmt.methods.all(uid) as MethodRow[]).filter(
        (m) => m.id !== mid && !NOT_DEFAULT_CAPABLE.includes(m.kind),
      );
      if (others.length > 0) {
        throw new ConflictError(
          `This ${kind} method is the default sign-in method and the user has ${others.length} other method(s); ` +
            'change the default method first, or remove the others before it.',
        );
      }
    }
    this.stmt.deleteMethod.run(mid);
  }

  /**
   * Issues a Temporary Access Pass. Like Graph, a user has at most one: a new pass replaces
   * the previous one. Only the method record is stored (with an expiry hint); the pass is
   * returned here once and never again.
   */
  async createTemporaryAccessPass(
    userId: string,
    options: { lifetimeInMinutes: number; isUsableOnce: boolean },
  ): Promise<TemporaryAccessPass> {
    const { lifetimeInMinutes: lifetime, isUsableOnce } = tapOptionsArg(options);
    const uid = this.requireUser(userId);
    const start = this.now();
    const id = crypto.randomUUID();
    const hint = tapHint(start, lifetime, isUsableOnce);
    this.db.transaction(() => {
      this.stmt.deleteMethodsOfKind.run(uid, 'temporaryAccessPass');
      this.stmt.insertMethod.run(id, uid, 'temporaryAccessPass', hint, 0, start.toISOString());
    })();
    return {
      id,
      pass: generatePass(),
      startDateTime: start.toISOString(),
      lifetimeInMinutes: lifetime,
      isUsableOnce,
    };
  }

  async revokeSessions(userId: string): Promise<void> {
    const id = this.requireUser(userId);
    this.stmt.revoke.run(this.now().toISOString(), id);
  }

  // ---- helpers -------------------------------------------------------------------------

  private requireUserRow(userId: string): UserRow {
    const id = guidArg(userId, 'user id');
    const row = this.stmt.getUser.get(id) as UserRow | undefined;
    if (!row) throw new NotFoundError(`No user with id ${id}`);
    return row;
  }

  private requireUser(userId: string): string {
    const id = guidArg(userId, 'user id');
    if (this.stmt.userExists.get(id) === undefined) throw new NotFoundError(`No user with id ${id}`);
    return id;
  }

  private requireGroup(groupId: string): string {
    const id = guidArg(groupId, 'group id');
    if (this.stmt.groupExists.get(id) === undefined) throw new NotFoundError(`No group with id ${id}`);
    return id;
  }
}

function prepareStatements(db: Db) {
  return {
    countUsers: db.prepare('SELECT count(*) FROM users').pluck(),
    userExists: db.prepare('SELECT 1 FROM users WHERE id = ?'),
    groupExists: db.prepare('SELECT 1 FROM groups WHERE id = ?'),
    getUser: db.prepare(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = ?`),
    findByUpn: db.prepare(`SELECT ${USER_COLUMNS} FROM users u WHERE u.upn_key = ?`),
    findByMail: db.prepare(`SELECT ${USER_COLUMNS} FROM users u WHERE u.mail_key = ? ORDER BY u.id LIMIT 1`),
    getManager: db.prepare(`SELECT ${USER_COLUMNS} FROM users e JOIN users u ON u.id = e.manager_id WHERE e.id = ?`),
    getReports: db.prepare(
      `SELECT ${USER_COLUMNS} FROM users u WHERE u.manager_id = ? ORDER BY u.display_name COLLATE NOCASE, u.id`,
    ),
    getGroup: db.prepare(`SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.id = ?`),
    userGroups: db.prepare(
      `SELECT ${GROUP_COLUMNS} FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ` +
        'ORDER BY g.display_name COLLATE NOCASE, g.id',
    ),
    isMember: db.prepare('SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?'),
    groupMembers: db.prepare(
      `SELECT ${USER_COLUMNS} FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ` +
        'ORDER BY u.display_name COLLATE NOCASE, u.id',
    ),
    groupOwners: db.prepare(
      `SELECT ${USER_COLUMNS} FROM group_owners o JOIN users u ON u.id = o.user_id WHERE o.group_id = ? ` +
        'ORDER BY u.display_name COLLATE NOCASE, u.id',
    ),
    insertUser: db.prepare(`
      INSERT INTO users (id, user_principal_name, upn_key, display_name, given_name, surname, mail, mail_key,
                         department, job_title, manager_id, account_enabled, on_premises_sync_enabled, locked,
                         password_change_required, last_password_change, sessions_revoked_at, search_words, last_sign_in)
      VALUES (@id, @upn, @upnKey, @displayName, @givenName, @surname, @mail, @mailKey,
              @department, @jobTitle, @managerId, @enabled, @synced, @locked,
              @mustChange, @lastPasswordChange, NULL, @searchWords, @lastSignIn)`),
    insertGroup: db.prepare('INSERT INTO groups (id, display_name, description, mail, search_words) VALUES (?, ?, ?, ?, ?)'),
    insertMember: db.prepare('INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)'),
    deleteMember: db.prepare('DELETE FROM group_members WHERE group_id = ? AND user_id = ?'),
    insertOwner: db.prepare('INSERT OR IGNORE INTO group_owners (group_id, user_id) VALUES (?, ?)'),
    setEnabled: db.prepare('UPDATE users SET account_enabled = ? WHERE id = ?'),
    setDepartment: db.prepare('UPDATE users SET department = ? WHERE id = ?'),
    setJobTitle: db.prepare('UPDATE users SET job_title = ? WHERE id = ?'),
    setManager: db.prepare('UPDATE users SET manager_id = ? WHERE id = ?'),
    lastSignIn: db.prepare('SELECT last_sign_in FROM users WHERE id = ?'),
    backfillPending: db.prepare('SELECT 1 FROM seed_backfill WHERE field = ?'),
    backfillLastSignIn: db.prepare('UPDATE users SET last_sign_in = ? WHERE id = ? AND last_sign_in IS NULL'),
    backfillDone: db.prepare('DELETE FROM seed_backfill WHERE field = ?'),
    signInState: db.prepare('SELECT locked, password_change_required, last_password_change FROM users WHERE id = ?'),
    unlock: db.prepare('UPDATE users SET locked = 0 WHERE id = ?'),
    setPassword: db.prepare('UPDATE users SET last_password_change = ?, password_change_required = ? WHERE id = ?'),
    revoke: db.prepare('UPDATE users SET sessions_revoked_at = ? WHERE id = ?'),
    methods: db.prepare('SELECT id, kind, hint, is_default FROM auth_methods WHERE user_id = ? ORDER BY seq'),
    method: db.prepare('SELECT id, kind, hint, is_default FROM auth_methods WHERE user_id = ? AND id = ?'),
    insertMethod: db.prepare(
      'INSERT INTO auth_methods (id, user_id, kind, hint, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deleteMethod: db.prepare('DELETE FROM auth_methods WHERE id = ?'),
    deleteMethodsOfKind: db.prepare('DELETE FROM auth_methods WHERE user_id = ? AND kind = ?'),
  };
}

function toUser(r: UserRow): DirectoryUser {
  return {
    id: r.id,
    userPrincipalName: r.user_principal_name,
    displayName: r.display_name,
    mail: r.mail,
    givenName: r.given_name,
    surname: r.surname,
    department: r.department,
    jobTitle: r.job_title,
    accountEnabled: r.account_enabled === 1,
    onPremisesSyncEnabled: r.on_premises_sync_enabled === 1,
  };
}

function toGroup(r: GroupRow): DirectoryGroup {
  return { id: r.id, displayName: r.display_name, description: r.description, mail: r.mail };
}

function toMethod(r: MethodRow): AuthMethod {
  return { id: r.id, kind: r.kind, hint: r.hint, isDefault: r.is_default === 1 };
}

/** `LIKE` pattern for "a word starts with `word`", with LIKE's wildcards escaped. */
function wordPattern(word: string): string {
  return `% ${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The words a search may match: each whitespace-separated word of the names, the parts of
 * a word split at punctuation (so "O'Brien" is found by "brien"), and the UPN and mail whole.
 */
function searchWords(names: readonly (string | null)[], addresses: readonly (string | null)[]): string {
  const words = new Set<string>();
  for (const name of names) {
    if (!name) continue;
    for (const w of name.toLowerCase().split(/\s+/).filter(Boolean)) {
      words.add(w);
      for (const part of w.split(/[^\p{L}\p{N}]+/u)) if (part) words.add(part);
    }
  }
  for (const a of addresses) if (a) words.add(a.toLowerCase());
  return ` ${[...words].join(' ')} `;
}

/** A pass from a cryptographic source, uniformly over an unambiguous alphabet. */
function generatePass(): string {
  let pass = '';
  for (let i = 0; i < TAP_LENGTH; i++) pass += TAP_ALPHABET[crypto.randomInt(TAP_ALPHABET.length)];
  return pass;
}
