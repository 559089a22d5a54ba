import { GraphError } from '@microsoft/microsoft-graph-client';
import {
  AUTH_METHOD_KINDS,
  ConflictError,
  DirectoryError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  ThrottledError,
  UnsupportedError,
  type AuthMethod,
  type AuthMethodKind,
  type Directory,
  type DirectoryCapabilities,
  type DirectoryGroup,
  type DirectoryUser,
  type MembershipChange,
  type MembershipChangeOutcome,
  type MembershipChangeResult,
  type PrivilegedRole,
  type SignInState,
  type TemporaryAccessPass,
} from './directory';
import { GraphClient } from './graph/client';
import { GraphTokenProvider, type GraphCredential } from './graph/credentials';
import { graphMessage, graphRequestId as graphRequestIdOf, graphStatus, retryAfterSeconds, toDirectoryError, type GraphOperation } from './graph/errors';
import { MAX_IN_VALUES, filterEquals, filterIn, searchClause, searchValue } from './graph/odata';
import { HttpsTransport } from './graph/transport';
import {
  DEFAULT_LIMIT,
  MAX_CHECK_GROUPS,
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

/** The `$select` of every user read: exactly the fields of {@link DirectoryUser}. */
const USER_SELECT = 'id,userPrincipalName,displayName,mail,givenName,surname,department,jobTitle,accountEnabled,onPremisesSyncEnabled,userType';
const GROUP_SELECT = 'id,displayName,description,mail';
/** Graph's page size ceiling for directory collections. */
const PAGE = 999;
/** `$batch` takes at most 20 requests. */
export const BATCH_SIZE = 20;
const SEARCH_FIELDS = ['displayName', 'givenName', 'surname', 'userPrincipalName', 'mail'];
const EVENTUAL = { ConsistencyLevel: 'eventual' };
/** Sign-in activity requests in flight at once (each asks for up to 15 users). */
const SIGN_IN_CONCURRENCY = 4;

/** What each operation needs, least privilege first (docs/deploy.md has the same table). */
export const GRAPH_OPERATIONS = {
  readUser: { what: 'read users', permission: 'User.Read.All' },
  readGroup: { what: 'read groups', permission: 'GroupMember.Read.All' },
  readMemberships: { what: 'read group memberships', permission: 'GroupMember.Read.All' },
  changeMembers: { what: 'change group members', permission: 'GroupMember.ReadWrite.All' },
  enableDisable: { what: 'enable or disable the account', permission: 'User.EnableDisableAccount.All' },
  resetPassword: { what: 'reset the password', permission: 'User-PasswordProfile.ReadWrite.All', role: 'User Administrator' },
  readMethods: { what: 'read authentication methods', permission: 'UserAuthenticationMethod.Read.All' },
  changeMethods: { what: 'change authentication methods', permission: 'UserAuthenticationMethod.ReadWrite.All' },
  revokeSessions: { what: 'revoke sign-in sessions', permission: 'User.RevokeSessions.All' },
  updateProfile: { what: "change the user's department, job title or manager", permission: 'User.ReadWrite.All' },
  readSignInActivity: { what: 'read sign-in activity', permission: 'AuditLog.Read.All' },
  readRoleAssignments: { what: 'read directory role assignments', permission: 'RoleManagement.Read.Directory' },
  readRoleEligibility: { what: 'read eligible directory roles (Privileged Identity Management)', permission: 'RoleEligibilitySchedule.Read.Directory' },
} satisfies Record<string, GraphOperation>;

interface GraphUser {
  id: string;
  userPrincipalName: string;
  displayName: string | null;
  mail: string | null;
  givenName: string | null;
  surname: string | null;
  department: string | null;
  jobTitle: string | null;
  accountEnabled: boolean | null;
  onPremisesSyncEnabled: boolean | null;
  /** `Member` or `Guest`; older invited accounts may have null. */
  userType?: string | null;
}

/** Graph's `signInActivity` of a user (null for someone who never signed in). */
interface GraphSignInActivity {
  lastSignInDateTime?: string | null;
  lastNonInteractiveSignInDateTime?: string | null;
  lastSuccessfulSignInDateTime?: string | null;
}

interface GraphGroup {
  id: string;
  displayName: string | null;
  description: string | null;
  mail: string | null;
}

interface GraphMethod {
  '@odata.type': string;
  id: string;
  displayName?: string | null;
  model?: string | null;
  phoneNumber?: string | null;
  phoneType?: string | null;
  emailAddress?: string | null;
  startDateTime?: string | null;
  createdDateTime?: string | null;
  lifetimeInMinutes?: number | null;
  isUsableOnce?: boolean | null;
}

interface BatchResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: { error?: { code?: string; message?: string; innerError?: Record<string, string> } } | null;
}

/** `@odata.type` of each method kind the port knows. */
const METHOD_TYPES: Record<string, AuthMethodKind> = {
  '#microsoft.graph.passwordAuthenticationMethod': 'password',
  '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod': 'microsoftAuthenticator',
  '#microsoft.graph.phoneAuthenticationMethod': 'phone',
  '#microsoft.graph.fido2AuthenticationMethod': 'fido2',
  '#microsoft.graph.emailAuthenticationMethod': 'email',
  '#microsoft.graph.softwareOathAuthenticationMethod': 'softwareOath',
  '#microsoft.graph.temporaryAccessPassAuthenticationMethod': 'temporaryAccessPass',
  '#microsoft.graph.windowsHelloForBusinessAuthenticationMethod': 'windowsHelloForBusiness',
};

/** Everything needed to build a {@link GraphDirectory}. */
export interface GraphDirectoryOptions {
  tenantId: string;
  clientId: string;
  credential: GraphCredential;
  /** Default https://login.microsoftonline.com. */
  authorityHost?: string;
  /** Default https://graph.microsoft.com. */
  baseUrl?: string;
  /** The authority's OpenID configuration (JSON), to skip reading it from the authority. */
  authorityMetadata?: string;
  /** Extra trusted CA certificates (PEM). */
  extraCa?: string | Buffer;
  /** Per attempt. Default 10 s. */
  requestTimeoutMs?: number;
  /** Per call, retries included. Default 10 s: a chat turn must answer in about 15 s. */
  retryBudgetMs?: number;
  /** Backoff base without Retry-After, seconds. Default 2. */
  retryDelaySeconds?: number;
  /** How long a successful health check is reused. Default 30 s. */
  healthCacheMs?: number;
  onLog?: (level: 'error' | 'warn', message: string) => void;
}

/**
 * The {@link Directory} on Microsoft Entra ID through Microsoft Graph v1.0, app-only. It
 * follows the same contract as the local demo directory; where Entra differs it says so:
 *
 * - No lockout for cloud accounts: `getSignInState` reports `lockSupported: false` and
 *   `unlockAccount` explains smart lockout.
 * - Synced (on-premises mastered) users: password, enablement are refused with the reason.
 * - The default sign-in method is not in v1.0; it comes from the beta `signInPreferences`
 *   (the only beta call), and without it no method is marked default.
 *
 * Every id is validated as a GUID before it is put in a URL, every `$filter`/`$search` value
 * is escaped and encoded (`graph/odata.ts`), and every failure becomes a typed error with
 * Graph's request id.
 */
export class GraphDirectory implements Directory {
  readonly kind = 'graph';
  readonly capabilities: DirectoryCapabilities = { onPremisesAccounts: false, authenticationMethods: true, signInActivity: true };
  private healthyUntil = 0;

  constructor(
    readonly client: GraphClient,
    private readonly options: { healthCacheMs?: number; close?: () => void; tokens?: GraphTokenProvider } = {},
  ) {}

  /** The token provider, when this directory built its own (for diagnostics). */
  get tokens(): GraphTokenProvider | undefined {
    return this.options.tokens;
  }

  /** Builds the transport, the MSAL token provider and the Graph client from settings. */
  static create(o: GraphDirectoryOptions): GraphDirectory {
    const baseUrl = o.baseUrl ?? 'https://graph.microsoft.com';
    const transport = new HttpsTransport({ extraCa: o.extraCa, timeoutMs: o.requestTimeoutMs ?? 10_000 });
    const auth = new GraphTokenProvider({
      tenantId: o.tenantId,
      clientId: o.clientId,
      credential: o.credential,
      authorityHost: o.authorityHost ?? 'https://login.microsoftonline.com',
      graphBaseUrl: baseUrl,
      authorityMetadata: o.authorityMetadata,
      transport,
      onLog: o.onLog,
    });
    const client = new GraphClient({
      baseUrl,
      auth,
      transport,
      retryBudgetMs: o.retryBudgetMs ?? 10_000,
      retryDelaySeconds: o.retryDelaySeconds,
    });
    return new GraphDirectory(client, { healthCacheMs: o.healthCacheMs, close: () => transport.close(), tokens: auth });
  }

  /** Closes idle connections. */
  close(): void {
    this.options.close?.();
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    if (Date.now() < this.healthyUntil) return { ok: true, detail: 'Microsoft Graph answers' };
    try {
      await this.call(GRAPH_OPERATIONS.readUser, () => this.client.api('/users?$top=1&$select=id').get());
      this.healthyUntil = Date.now() + (this.options.healthCacheMs ?? 30_000);
      return { ok: true, detail: 'Microsoft Graph answers' };
    } catch (e) {
      // /healthz is public: say what kind of failure, not the tenant's details.
      const detail =
        e instanceof ForbiddenError
          ? 'Microsoft Graph refused to read users (a permission is missing; run npm run doctor)'
          : e instanceof ThrottledError
            ? 'Microsoft Graph is throttling requests'
            : /token/i.test((e as Error).message)
              ? 'no token for Microsoft Graph (run npm run doctor)'
              : 'Microsoft Graph did not answer';
      return { ok: false, detail };
    }
  }

  // ---- users -------------------------------------------------------------------------

  async getUser(id: string): Promise<DirectoryUser | null> {
    const uid = guidArg(id, 'user id');
    return this.orNull(() => this.fetchUser(uid));
  }

  async findUserByUpn(upn: string): Promise<DirectoryUser | null> {
    return this.findOne('userPrincipalName', lookupArg(upn, 'user principal name'));
  }

  async findUserByMail(mail: string): Promise<DirectoryUser | null> {
    return this.findOne('mail', lookupArg(mail, 'mail address'));
  }

  /**
   * Every word must start a word of the display name (Graph tokenises it), or start the
   * given name, surname, UPN or mail. One `$search` (advanced query) does it all.
   */
  async searchUsers(query: string, limit: number = DEFAULT_LIMIT): Promise<DirectoryUser[]> {
    const words = queryWords(query);
    const top = limitArg(limit);
    if (words.length === 0) return [];
    const expression = words.map((w) => `(${SEARCH_FIELDS.map((f) => searchClause(f, w)).join(' OR ')})`).join(' AND ');
    const path = `/users?$search=${searchValue(expression)}&$count=true&$orderby=displayName&$top=${top}&$select=${USER_SELECT}`;
    const users = await this.call(GRAPH_OPERATIONS.readUser, () => this.client.listAll<GraphUser>(path, EVENTUAL, top));
    return byName(users.map(toUser));
  }

  async getManager(userId: string): Promise<DirectoryUser | null> {
    const uid = guidArg(userId, 'user id');
    try {
      const m = await this.call(GRAPH_OPERATIONS.readUser, () => this.client.api(`/users/${uid}/manager?$select=${USER_SELECT}`).get());
      return toUser(m as GraphUser);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      // Graph answers 404 both for "no manager" and for "no such user".
      await this.requireUser(uid);
      return null;
    }
  }

  async getDirectReports(userId: string): Promise<DirectoryUser[]> {
    const uid = guidArg(userId, 'user id');
    const users = await this.call(GRAPH_OPERATIONS.readUser, () =>
      this.client.listAll<GraphUser>(`/users/${uid}/directReports/microsoft.graph.user?$select=${USER_SELECT}&$top=${PAGE}`),
    );
    return byName(users.map(toUser));
  }

  // ---- groups ------------------------------------------------------------------------

  async getGroup(id: string): Promise<DirectoryGroup | null> {
    const gid = guidArg(id, 'group id');
    return this.orNull(async () => toGroup(await this.call(GRAPH_OPERATIONS.readGroup, () => this.client.api(`/groups/${gid}?$select=${GROUP_SELECT}`).get())));
  }

  async searchGroups(query: string, limit: number = DEFAULT_LIMIT): Promise<DirectoryGroup[]> {
    const words = queryWords(query);
    const top = limitArg(limit);
    if (words.length === 0) return [];
    const expression = words.map((w) => searchClause('displayName', w)).join(' AND ');
    const path = `/groups?$search=${searchValue(expression)}&$count=true&$orderby=displayName&$top=${top}&$select=${GROUP_SELECT}`;
    const groups = await this.call(GRAPH_OPERATIONS.readGroup, () => this.client.listAll<GraphGroup>(path, EVENTUAL, top));
    return byName(groups.map(toGroup));
  }

  async listUserGroups(userId: string): Promise<DirectoryGroup[]> {
    const uid = guidArg(userId, 'user id');
    const groups = await this.call(GRAPH_OPERATIONS.readMemberships, () =>
      this.client.listAll<GraphGroup>(`/users/${uid}/memberOf/microsoft.graph.group?$select=${GROUP_SELECT}&$top=${PAGE}`),
    );
    return byName(groups.map(toGroup));
  }

  /** Graph's `checkMemberGroups` (transitive: nested groups count), in the order given. */
  async checkMemberGroups(userId: string, groupIds: readonly string[]): Promise<string[]> {
    if (!Array.isArray(groupIds)) throw new InvalidInputError('groupIds must be a list of group ids');
    if (groupIds.length > MAX_CHECK_GROUPS) {
      throw new InvalidInputError(`checkMemberGroups takes at most ${MAX_CHECK_GROUPS} group ids, got ${groupIds.length}`);
    }
    const ids = [...new Set(groupIds.map((g) => guidArg(g, 'group id')))];
    const uid = guidArg(userId, 'user id');
    if (ids.length === 0) {
      await this.requireUser(uid);
      return [];
    }
    const res = await this.call(GRAPH_OPERATIONS.readMemberships, () =>
      this.client.api(`/users/${uid}/checkMemberGroups`).post({ groupIds: ids }),
    );
    const member = new Set((res.value as string[]).map((g) => g.toLowerCase()));
    return ids.filter((g) => member.has(g));
  }

  async listGroupMembers(groupId: string): Promise<DirectoryUser[]> {
    const gid = guidArg(groupId, 'group id');
    const users = await this.call(GRAPH_OPERATIONS.readMemberships, () =>
      this.client.listAll<GraphUser>(`/groups/${gid}/members/microsoft.graph.user?$select=${USER_SELECT}&$top=${PAGE}`),
    );
    return byName(users.map(toUser));
  }

  async listGroupOwners(groupId: string): Promise<DirectoryUser[]> {
    const gid = guidArg(groupId, 'group id');
    const users = await this.call(GRAPH_OPERATIONS.readMemberships, () =>
      this.client.listAll<GraphUser>(`/groups/${gid}/owners/microsoft.graph.user?$select=${USER_SELECT}&$top=${PAGE}`),
    );
    return byName(users.map(toUser));
  }

  /** `POST /groups/{id}/members/$ref`; Graph's 400 "already exist" means done. */
  async addGroupMember(groupId: string, userId: string): Promise<'added' | 'already-member'> {
    const gid = guidArg(groupId, 'group id');
    const uid = guidArg(userId, 'user id');
    try {
      await this.client.api(`/groups/${gid}/members/$ref`).post(this.memberRef(uid));
      return 'added';
    } catch (e) {
      if (graphStatus(e) === 400 && isAlreadyMember(graphMessage(e))) return 'already-member';
      throw toDirectoryError(e, GRAPH_OPERATIONS.changeMembers);
    }
  }

  /** `DELETE /groups/{id}/members/{id}/$ref`; a 404 for an existing group and user means "not a member". */
  async removeGroupMember(groupId: string, userId: string): Promise<'removed' | 'not-member'> {
    const gid = guidArg(groupId, 'group id');
    const uid = guidArg(userId, 'user id');
    try {
      await this.client.api(`/groups/${gid}/members/${uid}/$ref`).delete();
      return 'removed';
    } catch (e) {
      if (graphStatus(e) !== 404) throw toDirectoryError(e, GRAPH_OPERATIONS.changeMembers);
      await this.requireGroup(gid);
      await this.requireUser(uid);
      return 'not-member';
    }
  }

  /**
   * JSON `$batch`, 20 requests at a time. A batch never holds the same group and user twice,
   * so changes take effect in the order given. Each inner answer is checked on its own;
   * inner 429/503/504 are sent again after their Retry-After while the time budget lasts.
   */
  async batchMembershipChanges(changes: readonly MembershipChange[]): Promise<MembershipChangeResult[]> {
    const valid = membershipChangesArg(changes);
    const results: MembershipChangeResult[] = new Array(valid.length);
    const notFoundRemovals: number[] = [];
    for (const batch of batches(valid)) {
      const pending = new Set(batch);
      const started = Date.now();
      for (let round = 0; pending.size > 0; round++) {
        const indices = [...pending];
        let responses: BatchResponse[];
        try {
          responses = await this.sendBatch(indices.map((i) => membershipRequest(i, valid[i]!, this.memberRef(valid[i]!.userId))));
        } catch (e) {
          // The batch itself failed (after the middleware's retries): so did each change in it.
          for (const i of pending) results[i] = { ...valid[i]!, ok: false, error: e as DirectoryError };
          break;
        }
        const answered = new Map(responses.map((r) => [Number(r.id), r]));
        let waitSeconds = 0;
        for (const i of indices) {
          const c = valid[i]!;
          const r = answered.get(i);
          const verdict: Verdict = r
            ? interpretMembershipAnswer(c, r)
            : { kind: 'failed', error: new DirectoryError('Microsoft Graph gave no answer for this change in its batch response') };
          if (verdict.kind === 'retry') {
            waitSeconds = Math.max(waitSeconds, verdict.afterSeconds);
            continue;
          }
          pending.delete(i);
          if (verdict.kind === 'done') results[i] = { ...c, ok: true, outcome: verdict.outcome };
          else if (verdict.kind === 'check') notFoundRemovals.push(i);
          else results[i] = { ...c, ok: false, error: verdict.error };
        }
        if (pending.size === 0) break;
        if (round >= 9 || Date.now() - started + waitSeconds * 1000 > this.client.retryBudgetMs) {
          for (const i of pending) {
            results[i] = {
              ...valid[i]!,
              ok: false,
              error: new ThrottledError(`Microsoft Graph kept throttling this change; try again in ${waitSeconds} s.`, waitSeconds),
            };
          }
          break;
        }
        await sleep(waitSeconds * 1000);
      }
    }
    if (notFoundRemovals.length > 0) await this.resolveRemovals(valid, notFoundRemovals, results);
    return results;
  }

  // ---- profile and sign-in activity ---------------------------------------------------

  /**
   * `PATCH /users/{id}` with `department` and `jobTitle`; the manager with
   * `PUT /users/{id}/manager/$ref` (`@odata.id` of the manager) or `DELETE` of it (none set is
   * done). The user and a new manager are checked first; synced users are refused before
   * anything is sent, as Graph would refuse them.
   */
  async updateUserProfile(userId: string, changes: { department?: string | null; jobTitle?: string | null; managerId?: string | null }): Promise<void> {
    const uid = guidArg(userId, 'user id');
    const c = profileChangesArg(uid, changes);
    const user = await this.requireUser(uid);
    if (Object.keys(c).length === 0) return;
    if (user.onPremisesSyncEnabled) {
      throw new UnsupportedError(
        `${user.displayName} is synchronised from on-premises Active Directory, where the department, job title and manager are mastered: change them there (a technician with AD access can do it).`,
      );
    }
    if (c.managerId) await this.requireUser(c.managerId);
    const op = GRAPH_OPERATIONS.updateProfile;
    const patch: Record<string, string | null> = {};
    if (c.department !== undefined) patch.department = c.department;
    if (c.jobTitle !== undefined) patch.jobTitle = c.jobTitle;
    if (Object.keys(patch).length > 0) {
      try {
        await this.client.api(`/users/${uid}`).patch(patch);
      } catch (e) {
        throw this.syncedOr(e, user, op);
      }
    }
    if (c.managerId === undefined) return;
    try {
      if (c.managerId === null) await this.client.api(`/users/${uid}/manager/$ref`).delete();
      else await this.client.api(`/users/${uid}/manager/$ref`).put({ '@odata.id': `${this.client.origin}/v1.0/users/${c.managerId}` });
    } catch (e) {
      // Removing a manager that is not set: Graph's 404 means done.
      if (c.managerId === null && graphStatus(e) === 404) return;
      throw this.syncedOr(e, user, op);
    }
  }

  /**
   * `GET /users?$filter=id in (...)&$select=id,signInActivity`, 15 ids per request (the most
   * an `in` takes), a few requests at a time. The time is the last successful sign-in,
   * interactive or not; where Graph has none recorded yet (older sign-ins), the later of the
   * last interactive and non-interactive attempts. Needs `AuditLog.Read.All` and a Microsoft
   * Entra ID P1 or P2 licence in the tenant.
   */
  async getLastSignIns(userIds: readonly string[]): Promise<Map<string, Date | null>> {
    const ids = userIdsArg(userIds);
    const found = new Map<string, Date | null>();
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += MAX_IN_VALUES) chunks.push(ids.slice(i, i + MAX_IN_VALUES));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        const path = `/users?$filter=${filterIn('id', chunk)}&$select=id,signInActivity&$top=${MAX_IN_VALUES}`;
        let users: Array<{ id: string; signInActivity?: GraphSignInActivity | null }>;
        try {
          users = await this.client.listAll(path);
        } catch (e) {
          if (graphStatus(e) === 403 && /premium licen[cs]e|non-?premium|B2C/i.test(graphMessage(e))) {
            throw new ForbiddenError(
              `Microsoft Graph refused to read sign-in activity: the tenant needs a Microsoft Entra ID P1 or P2 licence for it (${graphMessage(e)}).`,
              undefined,
              graphRequestIdOf(e),
            );
          }
          throw toDirectoryError(e, GRAPH_OPERATIONS.readSignInActivity);
        }
        for (const u of users) found.set(u.id.toLowerCase(), lastSignInOf(u.signInActivity));
      }
    };
    await Promise.all(Array.from({ length: Math.min(SIGN_IN_CONCURRENCY, chunks.length) }, worker));
    // In the order asked, known users only.
    const out = new Map<string, Date | null>();
    for (const id of ids) if (found.has(id)) out.set(id, found.get(id)!);
    return out;
  }

  // ---- sign-in -----------------------------------------------------------------------

  /**
   * Active role assignments (`roleManagement/directory/roleAssignments`) and eligible ones
   * (`roleEligibilitySchedules`) of the user and of every role-assignable group the user is a
   * member of, directly or through nesting. A missing permission is {@link ForbiddenError} naming it.
   */
  async listPrivilegedRoles(userId: string): Promise<PrivilegedRole[]> {
    const uid = guidArg(userId, 'user id');
    await this.requireUser(uid);
    const groups = await this.call(GRAPH_OPERATIONS.readMemberships, () =>
      this.client.listAll<{ id: string; isAssignableToRole?: boolean | null }>(`/users/${uid}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName,isAssignableToRole&$top=${PAGE}`),
    );
    const principals = [uid, ...groups.filter((g) => g.isAssignableToRole === true).map((g) => g.id.toLowerCase())];
    const out: PrivilegedRole[] = [];
    const seen = new Set<string>();
    const kinds = [
      ['directory-role-active', 'roleAssignments', GRAPH_OPERATIONS.readRoleAssignments],
      ['directory-role-eligible', 'roleEligibilitySchedules', GRAPH_OPERATIONS.readRoleEligibility],
    ] as const;
    for (const [kind, collection, op] of kinds) {
      for (const principal of principals) {
        const path = `/roleManagement/directory/${collection}?$filter=${filterEquals('principalId', principal)}&$expand=roleDefinition`;
        const items = await this.call(op, () => this.client.listAll<{ roleDefinitionId: string; roleDefinition?: { displayName?: string | null } | null }>(path));
        for (const a of items) {
          const key = `${kind}:${a.roleDefinitionId.toLowerCase()}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ kind, name: a.roleDefinition?.displayName ?? a.roleDefinitionId, id: a.roleDefinitionId.toLowerCase() });
        }
      }
    }
    return out;
  }

  async setAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    if (typeof enabled !== 'boolean') throw new InvalidInputError('enabled must be true or false');
    const user = await this.requireUser(guidArg(userId, 'user id'));
    if (user.onPremisesSyncEnabled) {
      throw new UnsupportedError(
        `${user.displayName} is synchronised from on-premises Active Directory; ` +
          `${enabled ? 'enable' : 'disable'} the account there (a technician with AD access can do it).`,
      );
    }
    try {
      await this.client.api(`/users/${user.id}`).patch({ accountEnabled: enabled });
    } catch (e) {
      throw this.syncedOr(e, user, GRAPH_OPERATIONS.enableDisable);
    }
  }

  /** Entra has no lockout flag for cloud accounts: `lockSupported` is false. */
  async getSignInState(userId: string): Promise<SignInState> {
    const uid = guidArg(userId, 'user id');
    const u = await this.call(GRAPH_OPERATIONS.readUser, () =>
      this.client.api(`/users/${uid}?$select=id,passwordProfile,lastPasswordChangeDateTime`).get(),
    );
    const profile = u.passwordProfile as { forceChangePasswordNextSignIn?: boolean; forceChangePasswordNextSignInWithMfa?: boolean } | null;
    return {
      lockSupported: false,
      locked: false,
      passwordChangeRequired: Boolean(profile?.forceChangePasswordNextSignIn || profile?.forceChangePasswordNextSignInWithMfa),
      lastPasswordChange: (u.lastPasswordChangeDateTime as string | null | undefined) ?? null,
    };
  }

  async unlockAccount(userId: string): Promise<void> {
    const user = await this.requireUser(guidArg(userId, 'user id'));
    throw new UnsupportedError(
      user.onPremisesSyncEnabled
        ? `${user.displayName} is synchronised from on-premises Active Directory, where the lockout lives: a technician with AD access can unlock the account there.`
        : 'Microsoft Entra ID has no lockout to clear for cloud accounts: smart lockout ends by itself after the lockout period ' +
            '(a minute at first, longer after repeated failures). To help now, reset the password or issue a Temporary Access Pass.',
    );
  }

  /** `PATCH /users/{id}` `passwordProfile`; synced users are refused before anything is sent. */
  async resetPassword(userId: string, newPassword: string, forceChangeAtNextSignIn: boolean): Promise<void> {
    if (typeof newPassword !== 'string') throw new InvalidInputError('The new password must be a string');
    if (typeof forceChangeAtNextSignIn !== 'boolean') {
      throw new InvalidInputError('forceChangeAtNextSignIn must be true or false');
    }
    const user = await this.requireUser(guidArg(userId, 'user id'));
    if (user.onPremisesSyncEnabled) {
      throw new UnsupportedError(
        `${user.displayName} is synchronised from on-premises Active Directory; ` +
          'the password must be reset there (a technician with AD access can do it).',
      );
    }
    const weakness = passwordWeakness(newPassword);
    if (weakness) throw new InvalidInputError(`The new password does not meet the password policy: ${weakness}`);
    try {
      await this.client
        .api(`/users/${user.id}`)
        .patch({ passwordProfile: { password: newPassword, forceChangePasswordNextSignIn: forceChangeAtNextSignIn } });
    } catch (e) {
      if (graphStatus(e) === 400 && /password/i.test(graphMessage(e)) && /complex|policy|history|length/i.test(graphMessage(e))) {
        throw new InvalidInputError(`Microsoft Entra ID refused the new password: ${graphMessage(e)}`);
      }
      throw this.syncedOr(e, user, GRAPH_OPERATIONS.resetPassword);
    }
  }

  // ---- authentication methods ----------------------------------------------------------

  async listAuthMethods(userId: string): Promise<AuthMethod[]> {
    const uid = guidArg(userId, 'user id');
    const [raw, preferred] = await Promise.all([
      this.call(GRAPH_OPERATIONS.readMethods, () => this.client.listAll<GraphMethod>(`/users/${uid}/authentication/methods`)),
      this.preferredMethod(uid),
    ]);
    const methods: (AuthMethod & { phoneType?: string | null })[] = [];
    for (const m of raw) {
      const kind = METHOD_TYPES[m['@odata.type']];
      if (!kind) continue;
      methods.push({ id: m.id.toLowerCase(), kind, hint: methodHint(kind, m), isDefault: false, phoneType: m.phoneType ?? null });
    }
    const def = preferred ? pickDefault(methods, preferred) : undefined;
    return methods.map(({ id, kind, hint }) => ({ id, kind, hint, isDefault: def?.id === id }));
  }

  async deleteAuthMethod(userId: string, kind: AuthMethodKind, methodId: string): Promise<void> {
    if (!AUTH_METHOD_KINDS.includes(kind)) {
      throw new InvalidInputError(`Unknown authentication method kind "${String(kind)}"`);
    }
    const mid = guidArg(methodId, 'method id');
    const uid = guidArg(userId, 'user id');
    if (kind === 'password') {
      // Graph has no DELETE for the password method: confirm it exists, then refuse.
      await this.call(GRAPH_OPERATIONS.readMethods, () => this.client.api(`/users/${uid}/authentication/passwordMethods/${mid}`).get());
      throw new ConflictError('The password method cannot be removed; reset the password instead.');
    }
    try {
      await this.client.api(`/users/${uid}/authentication/${kind}Methods/${mid}`).delete();
    } catch (e) {
      if (graphStatus(e) === 400 && /default/i.test(graphMessage(e))) {
        throw new ConflictError(
          `This ${kind} method is the default sign-in method; change the default method first, or remove the others before it. (${graphMessage(e)})`,
        );
      }
      throw toDirectoryError(e, GRAPH_OPERATIONS.changeMethods);
    }
  }

  /** A new pass replaces the user's previous one (Graph does that itself). */
  async createTemporaryAccessPass(
    userId: string,
    options: { lifetimeInMinutes: number; isUsableOnce: boolean },
  ): Promise<TemporaryAccessPass> {
    const o = tapOptionsArg(options);
    const uid = guidArg(userId, 'user id');
    const t = await this.call(GRAPH_OPERATIONS.changeMethods, () =>
      this.client.api(`/users/${uid}/authentication/temporaryAccessPassMethods`).post(o),
    );
    if (typeof t?.temporaryAccessPass !== 'string') {
      throw new DirectoryError('Microsoft Graph created a Temporary Access Pass but did not return it');
    }
    return {
      id: String(t.id).toLowerCase(),
      pass: t.temporaryAccessPass,
      startDateTime: new Date(t.startDateTime ?? t.createdDateTime ?? Date.now()).toISOString(),
      lifetimeInMinutes: t.lifetimeInMinutes ?? o.lifetimeInMinutes,
      isUsableOnce: t.isUsableOnce ?? o.isUsableOnce,
    };
  }

  async revokeSessions(userId: string): Promise<void> {
    const uid = guidArg(userId, 'user id');
    await this.call(GRAPH_OPERATIONS.revokeSessions, () => this.client.api(`/users/${uid}/revokeSignInSessions`).post({}));
  }

  // ---- helpers -------------------------------------------------------------------------

  /** Runs a Graph call and turns its failure into a typed error. */
  private async call<T = any>(op: GraphOperation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toDirectoryError(e, op);
    }
  }

  private async orNull<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof NotFoundError) return null;
      throw e;
    }
  }

  private async fetchUser(uid: string): Promise<DirectoryUser> {
    return toUser(await this.call(GRAPH_OPERATIONS.readUser, () => this.client.api(`/users/${uid}?$select=${USER_SELECT}`).get()));
  }

  /** The user, or {@link NotFoundError} naming the id. */
  private async requireUser(uid: string): Promise<DirectoryUser> {
    const user = await this.orNull(() => this.fetchUser(uid));
    if (!user) throw new NotFoundError(`No user with id ${uid}`);
    return user;
  }

  private async requireGroup(gid: string): Promise<void> {
    if (!(await this.getGroup(gid))) throw new NotFoundError(`No group with id ${gid}`);
  }

  private async findOne(property: 'userPrincipalName' | 'mail', value: string): Promise<DirectoryUser | null> {
    const path = `/users?$filter=${filterEquals(property, value)}&$select=${USER_SELECT}&$top=1`;
    const page = await this.call(GRAPH_OPERATIONS.readUser, () => this.client.api(path).get());
    const u = (page.value as GraphUser[])[0];
    return u ? toUser(u) : null;
  }

  private memberRef(userId: string): { '@odata.id': string } {
    return { '@odata.id': `${this.client.origin}/v1.0/directoryObjects/${userId}` };
  }

  /** A synced-object refusal from Graph as {@link UnsupportedError}; anything else typed. */
  private syncedOr(e: unknown, user: DirectoryUser, op: GraphOperation): DirectoryError {
    if (graphStatus(e) === 400 && /on-premises|directory sync|dirsync/i.test(graphMessage(e))) {
      return new UnsupportedError(`${user.displayName} is mastered in on-premises Active Directory: ${graphMessage(e)}`);
    }
    return toDirectoryError(e, op);
  }

  /** The user's preferred second factor (beta `signInPreferences`), or null when unknown. */
  private async preferredMethod(uid: string): Promise<string | null> {
    try {
      const p = await this.client.api(`/users/${uid}/authentication/signInPreferences`).version('beta').get();
      return typeof p?.userPreferredMethodForSecondaryAuthentication === 'string' ? p.userPreferredMethodForSecondaryAuthentication : null;
    } catch {
      return null;
    }
  }

  private async sendBatch(requests: object[]): Promise<BatchResponse[]> {
    const res = await this.call(GRAPH_OPERATIONS.changeMembers, () => this.client.api('/$batch').post({ requests }));
    return (res?.responses ?? []) as BatchResponse[];
  }

  /** Decides the 404s of removals: unknown group, unknown user, or simply not a member. */
  private async resolveRemovals(valid: MembershipChange[], indices: number[], results: MembershipChangeResult[]): Promise<void> {
    const groups = new Map<string, boolean>();
    const users = new Map<string, boolean>();
    for (const i of indices) {
      groups.set(valid[i]!.groupId, false);
      users.set(valid[i]!.userId, false);
    }
    const probes = [
      ...[...groups.keys()].map((id) => ({ kind: 'group' as const, id, url: `/groups/${id}?$select=id` })),
      ...[...users.keys()].map((id) => ({ kind: 'user' as const, id, url: `/users/${id}?$select=id` })),
    ];
    for (let at = 0; at < probes.length; at += BATCH_SIZE) {
      const chunk = probes.slice(at, at + BATCH_SIZE);
      const responses = await this.call(GRAPH_OPERATIONS.readUser, () =>
        this.sendBatch(chunk.map((p, k) => ({ id: String(k), method: 'GET', url: p.url }))),
      );
      for (const r of responses) {
        const p = chunk[Number(r.id)];
        if (!p) continue;
        if (r.status >= 200 && r.status < 300) (p.kind === 'group' ? groups : users).set(p.id, true);
        else if (r.status !== 404) throw batchError(r, GRAPH_OPERATIONS.readUser);
      }
    }
    for (const i of indices) {
      const c = valid[i]!;
      if (!groups.get(c.groupId)) results[i] = { ...c, ok: false, error: new NotFoundError(`No group with id ${c.groupId}`) };
      else if (!users.get(c.userId)) results[i] = { ...c, ok: false, error: new NotFoundError(`No user with id ${c.userId}`) };
      else results[i] = { ...c, ok: true, outcome: 'not-member' };
    }
  }
}

/** The `$batch` part of one membership change; its id is the change's index. */
function membershipRequest(i: number, c: MembershipChange, ref: { '@odata.id': string }): object {
  return c.action === 'add'
    ? { id: String(i), method: 'POST', url: `/groups/${c.groupId}/members/$ref`, headers: { 'Content-Type': 'application/json' }, body: ref }
    : { id: String(i), method: 'DELETE', url: `/groups/${c.groupId}/members/${c.userId}/$ref` };
}

type Verdict =
  | { kind: 'done'; outcome: MembershipChangeOutcome }
  | { kind: 'retry'; afterSeconds: number }
  | { kind: 'check' }
  | { kind: 'failed'; error: DirectoryError };

function interpretMembershipAnswer(c: MembershipChange, r: BatchResponse): Verdict {
  if (r.status >= 200 && r.status < 300) return { kind: 'done', outcome: c.action === 'add' ? 'added' : 'removed' };
  if (r.status === 429 || r.status === 503 || r.status === 504) {
    return { kind: 'retry', afterSeconds: retryAfterSeconds(header(r.headers, 'retry-after')) ?? 2 };
  }
  const message = r.body?.error?.message ?? '';
  if (c.action === 'add' && r.status === 400 && isAlreadyMember(message)) return { kind: 'done', outcome: 'already-member' };
  if (c.action === 'remove' && r.status === 404) return { kind: 'check' };
  return { kind: 'failed', error: batchError(r, GRAPH_OPERATIONS.changeMembers) };
}

/** An inner `$batch` failure as a typed error, like a direct call's. */
function batchError(r: BatchResponse, op: GraphOperation): DirectoryError {
  const headers = new Headers();
  for (const [k, v] of Object.entries(r.headers ?? {})) headers.set(k, String(v));
  const e = new GraphError(r.status, r.body?.error?.message ?? `HTTP ${r.status}`);
  e.code = r.body?.error?.code ?? null;
  e.headers = headers;
  e.requestId = headers.get('request-id') ?? r.body?.error?.innerError?.['request-id'] ?? null;
  return toDirectoryError(e, op);
}

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : String(headers[key]);
}

/** Splits changes into batches of at most 20 in which no group and user pair repeats. */
function batches(changes: readonly MembershipChange[]): number[][] {
  const out: number[][] = [];
  let current: number[] = [];
  let pairs = new Set<string>();
  changes.forEach((c, i) => {
    const pair = `${c.groupId}/${c.userId}`;
    if (current.length === BATCH_SIZE || pairs.has(pair)) {
      out.push(current);
      current = [];
      pairs = new Set();
    }
    current.push(i);
    pairs.add(pair);
  });
  if (current.length > 0) out.push(current);
  return out;
}

/** Graph's answer to adding an existing member: 400 "One or more added object references already exist". */
function isAlreadyMember(message: string): boolean {
  return /already exist/i.test(message);
}

function toUser(u: GraphUser): DirectoryUser {
  return {
    id: u.id.toLowerCase(),
    userPrincipalName: u.userPrincipalName,
    displayName: u.displayName ?? u.userPrincipalName,
    mail: u.mail ?? null,
    givenName: u.givenName ?? null,
    surname: u.surname ?? null,
    department: u.department ?? null,
    jobTitle: u.jobTitle ?? null,
    accountEnabled: u.accountEnabled === true,
    onPremisesSyncEnabled: u.onPremisesSyncEnabled === true,
    // Only an explicit Guest is a guest: Graph reports Member for the tenant's own accounts.
    userType: u.userType === 'Guest' ? 'Guest' : 'Member',
  };
}

/** A Graph timestamp as a Date; null for none, an unreadable one, or Graph's "never" (year 1). */
function graphTime(value: string | null | undefined): Date | null {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) || t <= 0 ? null : new Date(t);
}

/** The last successful sign-in, else the later of the last interactive and non-interactive ones. */
function lastSignInOf(a: GraphSignInActivity | null | undefined): Date | null {
  if (!a) return null;
  const successful = graphTime(a.lastSuccessfulSignInDateTime);
  if (successful) return successful;
  const times = [graphTime(a.lastSignInDateTime), graphTime(a.lastNonInteractiveSignInDateTime)].filter((d): d is Date => d !== null);
  return times.length ? new Date(Math.max(...times.map((d) => d.getTime()))) : null;
}

function toGroup(g: GraphGroup): DirectoryGroup {
  return { id: g.id.toLowerCase(), displayName: g.displayName ?? g.id, description: g.description ?? null, mail: g.mail ?? null };
}

/** By display name (case-insensitive), then id: the order the local directory uses. */
function byName<T extends { displayName: string; id: string }>(items: T[]): T[] {
  const key = (x: T) => x.displayName.toLowerCase();
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A masked, human hint for a method; never a secret, and never a full phone number or address. */
function methodHint(kind: AuthMethodKind, m: GraphMethod): string | null {
  switch (kind) {
    case 'phone':
      return m.phoneNumber ? maskPhone(m.phoneNumber) : null;
    case 'email':
      return m.emailAddress ? maskEmail(m.emailAddress) : null;
    case 'microsoftAuthenticator':
    case 'windowsHelloForBusiness':
      return m.displayName ?? null;
    case 'fido2':
      return m.displayName ?? m.model ?? null;
    case 'softwareOath':
      return 'OATH software token';
    case 'temporaryAccessPass': {
      const start = m.startDateTime ?? m.createdDateTime;
      return start && m.lifetimeInMinutes ? tapHint(new Date(start), m.lifetimeInMinutes, m.isUsableOnce === true) : null;
    }
    default:
      return null;
  }
}

/** "+44 7700900049" -> "+44 **** ****49": the country code and the last two digits. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/[^\d+ ]/g, '').trim();
  const [first = '', ...rest] = digits.split(/\s+/);
  const cc = first.startsWith('+') && rest.length > 0 ? first : '';
  const number = (cc ? rest.join('') : digits).replace(/\D/g, '');
  return `${cc ? `${cc} ` : ''}**** ****${number.slice(-2)}`;
}

/** "lena.fischer@mail.example" -> "l***@mail.example". */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

/** The method a `userPreferredMethodForSecondaryAuthentication` value designates. */
function pickDefault<T extends AuthMethod & { phoneType?: string | null }>(methods: T[], preferred: string): T | undefined {
  const first = (kind: AuthMethodKind, phoneType?: string) =>
    methods.find((m) => m.kind === kind && (phoneType === undefined || m.phoneType === phoneType));
  switch (preferred) {
    case 'push':
      return first('microsoftAuthenticator');
    case 'oath':
      return first('softwareOath') ?? first('microsoftAuthenticator');
    case 'sms':
    case 'voiceMobile':
      return first('phone', 'mobile') ?? first('phone');
    case 'voiceAlternateMobile':
      return first('phone', 'alternateMobile');
    case 'voiceOffice':
      return first('phone', 'office');
    default:
      return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
