import type { AdDirectory } from './ad-directory';
import { anchorBytesFromImmutableId } from './ad/guid';
import {
  UnsupportedError,
  NotFoundError,
  BASELINE_CAPABILITIES,
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
import type { GraphClient } from './graph/client';
import { toDirectoryError } from './graph/errors';
import { guidArg, profileChangesArg } from './rules';

/** The on-premises anchors Entra keeps for a synchronised user. */
export interface OnPremisesLink {
  /** Entra Connect's source anchor: base64 of ms-DS-ConsistencyGuid (or objectGUID). */
  immutableId: string | null;
  /** The UPN the account has on-premises (it may differ from the cloud one). */
  userPrincipalName: string | null;
}

/** Where the hybrid directory learns a cloud user's on-premises anchors. */
export interface OnPremisesLinks {
  userLink(cloudUserId: string): Promise<OnPremisesLink | null>;
}

/** The anchors from Microsoft Graph: `onPremisesImmutableId` and `onPremisesUserPrincipalName`. */
export class GraphOnPremisesLinks implements OnPremisesLinks {
  constructor(private readonly client: GraphClient) {}

  async userLink(cloudUserId: string): Promise<OnPremisesLink | null> {
    const uid = guidArg(cloudUserId, 'user id');
    try {
      const u = await this.client.api(`/users/${uid}?$select=id,onPremisesImmutableId,onPremisesUserPrincipalName`).get();
      return {
        immutableId: typeof u?.onPremisesImmutableId === 'string' ? u.onPremisesImmutableId : null,
        userPrincipalName: typeof u?.onPremisesUserPrincipalName === 'string' ? u.onPremisesUserPrincipalName : null,
      };
    } catch (e) {
      const typed = toDirectoryError(e, { what: 'read on-premises anchors', permission: 'User.Read.All' });
      if (typed instanceof NotFoundError) return null;
      throw typed;
    }
  }
}

export interface HybridDirectoryOptions {
  /** The directory Teams identities live in: Microsoft Graph, or the demo tenant locally. Its ids are the ids. */
  cloud: Directory;
  /** Active Directory, which masters the synchronised accounts. */
  onPremises: AdDirectory;
  /** Immutable ids of synced users; without it, accounts are matched by UPN alone. */
  links?: OnPremisesLinks;
  /** How long a cloud-to-AD match is remembered. Default 10 minutes. */
  linkCacheMs?: number;
}

/**
 * Cloud and on-premises together, each user handled by the system that masters them.
 *
 * - Ids are the cloud's (Entra object ids, what Teams sends as `aadObjectId`); AD's
 *   objectGUIDs never leave this class.
 * - Reads, groups, authentication methods, passes and sessions go to the cloud, which holds
 *   every user, synchronised or not.
 * - For a user the cloud reports as synchronised (`onPremisesSyncEnabled`), the account
 *   itself is AD's: password reset, unlock, enable/disable, the sign-in state and the profile
 *   (department, job title, manager) go to the AD account matched by immutable id
 *   (ms-DS-ConsistencyGuid or objectGUID, as Entra Connect anchors it), else by on-premises
 *   UPN. `getUser` shows AD's enabled flag, department and job title for them, and
 *   `getManager` AD's manager, since the cloud learns of a change only at the next
 *   synchronisation.
 * - Last sign-ins come from the cloud, where every Teams user signs in (synced users too);
 *   logons that only reach on-premises domain controllers are not counted.
 * - A cloud-only user is never matched to AD, even where an account with the same UPN exists.
 */
export class HybridDirectory implements Directory {
  readonly kind = 'hybrid';
  readonly capabilities: DirectoryCapabilities;
  private readonly cloud: Directory;
  private readonly ad: AdDirectory;
  private readonly links: OnPremisesLinks | undefined;
  private readonly linkCacheMs: number;
  private readonly linked = new Map<string, { adId: string; until: number }>();

  constructor(options: HybridDirectoryOptions) {
    this.cloud = options.cloud;
    this.ad = options.onPremises;
    this.links = options.links;
    this.linkCacheMs = options.linkCacheMs ?? 600_000;
    const cloudCaps = this.cloud.capabilities ?? BASELINE_CAPABILITIES;
    this.capabilities = {
      onPremisesAccounts: true,
      authenticationMethods: cloudCaps.authenticationMethods,
      signInActivity: cloudCaps.signInActivity,
    };
  }

  /** Healthy when both answer; the detail names each. */
  async health(): Promise<{ ok: boolean; detail?: string }> {
    const [c, a] = await Promise.all([this.cloud.health(), this.ad.health()]);
    return { ok: c.ok && a.ok, detail: `${this.cloud.kind}: ${c.detail ?? (c.ok ? 'ok' : 'failing')}; ad: ${a.detail ?? (a.ok ? 'ok' : 'failing')}` };
  }

  // ---- routed to the master of the account ------------------------------------------------

  async getUser(id: string): Promise<DirectoryUser | null> {
    const u = await this.cloud.getUser(id);
    if (!u?.onPremisesSyncEnabled) return u;
    const adId = await this.adIdFor(u).catch(() => null);
    const onPrem = adId ? await this.ad.getUser(adId) : null;
    return onPrem ? { ...u, accountEnabled: onPrem.accountEnabled, department: onPrem.department, jobTitle: onPrem.jobTitle } : u;
  }

  /**
   * A synced user's manager as AD has it (found in the cloud by UPN); the cloud's for everyone
   * else, and when AD cannot be read (approvals go on with what the cloud knows).
   */
  async getManager(userId: string): Promise<DirectoryUser | null> {
    const u = await this.cloud.getUser(guidArg(userId, 'user id'));
    if (!u?.onPremisesSyncEnabled) return this.cloud.getManager(userId);
    const adId = await this.adIdFor(u).catch(() => null);
    const onPrem = adId ? await this.ad.getManager(adId).catch(() => undefined) : undefined;
    if (onPrem === undefined) return this.cloud.getManager(u.id);
    if (onPrem === null) return null;
    return (await this.cloud.findUserByUpn(onPrem.userPrincipalName)) ?? this.cloud.getManager(u.id);
  }

  /**
   * A synced user's profile is changed in AD (their manager too, who must then have an AD
   * account: AD's `manager` names one); a cloud-only user's in the cloud.
   */
  async updateUserProfile(userId: string, changes: { department?: string | null; jobTitle?: string | null; managerId?: string | null }): Promise<void> {
    const uid = guidArg(userId, 'user id');
    const c = profileChangesArg(uid, changes);
    const u = await this.requireCloudUser(uid);
    if (!u.onPremisesSyncEnabled) return this.cloud.updateUserProfile(u.id, c);
    if (Object.keys(c).length === 0) return;
    const adId = await this.requireAdId(u);
    const onPrem: { department?: string | null; jobTitle?: string | null; managerId?: string | null } = {};
    if (c.department !== undefined) onPrem.department = c.department;
    if (c.jobTitle !== undefined) onPrem.jobTitle = c.jobTitle;
    if (c.managerId === null) onPrem.managerId = null;
    else if (c.managerId !== undefined) {
      const manager = await this.requireCloudUser(c.managerId);
      if (!manager.onPremisesSyncEnabled) {
        throw new UnsupportedError(
          `${u.displayName}'s manager is mastered in on-premises Active Directory, where ${manager.displayName} (a cloud-only account) has no account to name: set the manager there, or make it a synchronised user.`,
        );
      }
      onPrem.managerId = await this.requireAdId(manager);
    }
    return this.ad.updateUserProfile(adId, onPrem);
  }

  getLastSignIns(userIds: readonly string[]): Promise<Map<string, Date | null>> {
    return this.cloud.getLastSignIns(userIds);
  }

  async setAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    const u = await this.requireCloudUser(userId);
    if (u.onPremisesSyncEnabled) return this.ad.setAccountEnabled(await this.requireAdId(u), enabled);
    return this.cloud.setAccountEnabled(u.id, enabled);
  }

  async getSignInState(userId: string): Promise<SignInState> {
    const u = await this.requireCloudUser(userId);
    if (u.onPremisesSyncEnabled) return this.ad.getSignInState(await this.requireAdId(u));
    return this.cloud.getSignInState(u.id);
  }

  async unlockAccount(userId: string): Promise<void> {
    const u = await this.requireCloudUser(userId);
    if (u.onPremisesSyncEnabled) return this.ad.unlockAccount(await this.requireAdId(u));
    return this.cloud.unlockAccount(u.id);
  }

  async resetPassword(userId: string, newPassword: string, forceChangeAtNextSignIn: boolean): Promise<void> {
    const u = await this.requireCloudUser(userId);
    if (u.onPremisesSyncEnabled) return this.ad.resetPassword(await this.requireAdId(u), newPassword, forceChangeAtNextSignIn);
    return this.cloud.resetPassword(u.id, newPassword, forceChangeAtNextSignIn);
  }

  /**
   * The cloud's directory roles for everyone; for a synchronised user also AD's protected
   * groups and adminCount (an on-premises admin synced to the cloud can take over the domain).
   * A synced user without a matching AD account is refused ({@link UnsupportedError}): the
   * caller fails closed rather than reading "not privileged" from half the answer.
   */
  async listPrivilegedRoles(userId: string): Promise<PrivilegedRole[]> {
    const u = await this.requireCloudUser(userId);
    const cloud = await this.cloud.listPrivilegedRoles(u.id);
    if (!u.onPremisesSyncEnabled) return cloud;
    return [...cloud, ...(await this.ad.listPrivilegedRoles(await this.requireAdId(u)))];
  }

  /** The AD account a synchronised cloud user is matched to (its objectGUID), or null for a cloud-only user. */
  async onPremisesAccountOf(userId: string): Promise<string | null> {
    const u = await this.requireCloudUser(userId);
    return u.onPremisesSyncEnabled ? this.requireAdId(u) : null;
  }

  // ---- the cloud ---------------------------------------------------------------------------

  findUserByUpn(upn: string): Promise<DirectoryUser | null> {
    return this.cloud.findUserByUpn(upn);
  }
  findUserByMail(mail: string): Promise<DirectoryUser | null> {
    return this.cloud.findUserByMail(mail);
  }
  searchUsers(query: string, limit?: number): Promise<DirectoryUser[]> {
    return this.cloud.searchUsers(query, limit);
  }
  getDirectReports(userId: string): Promise<DirectoryUser[]> {
    return this.cloud.getDirectReports(userId);
  }
  getGroup(id: string): Promise<DirectoryGroup | null> {
    return this.cloud.getGroup(id);
  }
  searchGroups(query: string, limit?: number): Promise<DirectoryGroup[]> {
    return this.cloud.searchGroups(query, limit);
  }
  listUserGroups(userId: string): Promise<DirectoryGroup[]> {
    return this.cloud.listUserGroups(userId);
  }
  checkMemberGroups(userId: string, groupIds: readonly string[]): Promise<string[]> {
    return this.cloud.checkMemberGroups(userId, groupIds);
  }
  listGroupMembers(groupId: string): Promise<DirectoryUser[]> {
    return this.cloud.listGroupMembers(groupId);
  }
  listGroupOwners(groupId: string): Promise<DirectoryUser[]> {
    return this.cloud.listGroupOwners(groupId);
  }
  addGroupMember(groupId: string, userId: string): Promise<'added' | 'already-member'> {
    return this.cloud.addGroupMember(groupId, userId);
  }
  removeGroupMember(groupId: string, userId: string): Promise<'removed' | 'not-member'> {
    return this.cloud.removeGroupMember(groupId, userId);
  }
  batchMembershipChanges(changes: readonly MembershipChange[]): Promise<MembershipChangeResult[]> {
    return this.cloud.batchMembershipChanges(changes);
  }
  listAuthMethods(userId: string): Promise<AuthMethod[]> {
    return this.cloud.listAuthMethods(userId);
  }
  deleteAuthMethod(userId: string, kind: AuthMethodKind, methodId: string): Promise<void> {
    return this.cloud.deleteAuthMethod(userId, kind, methodId);
  }
  createTemporaryAccessPass(userId: string, options: { lifetimeInMinutes: number; isUsableOnce: boolean }): Promise<TemporaryAccessPass> {
    return this.cloud.createTemporaryAccessPass(userId, options);
  }
  revokeSessions(userId: string): Promise<void> {
    return this.cloud.revokeSessions(userId);
  }

  // ---- matching ----------------------------------------------------------------------------

  private async requireCloudUser(userId: string): Promise<DirectoryUser> {
    const uid = guidArg(userId, 'user id');
    const u = await this.cloud.getUser(uid);
    if (!u) throw new NotFoundError(`No user with id ${uid}`);
    return u;
  }

  private async requireAdId(u: DirectoryUser): Promise<string> {
    const adId = await this.adIdFor(u);
    if (!adId) {
      throw new UnsupportedError(
        `${u.displayName} is synchronised from on-premises Active Directory, but no account there matches them ` +
          `(by immutable id or UPN ${u.userPrincipalName}); a technician must check that AD_BASE_DN covers the synchronised OUs.`,
      );
    }
    return adId;
  }

  /** The matching AD account's id: by immutable id first, then by on-premises UPN. */
  private async adIdFor(u: DirectoryUser): Promise<string | null> {
    const hit = this.linked.get(u.id);
    if (hit && Date.now() < hit.until) return hit.adId;
    const link = this.links ? await this.links.userLink(u.id) : null;
    const anchor = link?.immutableId ? anchorBytesFromImmutableId(link.immutableId) : null;
    const found =
      (anchor ? await this.ad.findUserByAnchor(anchor) : null) ?? (await this.ad.findUserByUpn(link?.userPrincipalName ?? u.userPrincipalName));
    if (!found) return null;
    this.linked.set(u.id, { adId: found.id, until: Date.now() + this.linkCacheMs });
    return found.id;
  }
}
