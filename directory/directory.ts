/**
 * The identity backend port. Every capability talks to users and groups only through this
 * interface; `local` (a demo tenant in SQLite) and `graph` (Microsoft Entra ID through
 * Microsoft Graph) implement it and pass the same contract suite (`test/directory/contract.ts`).
 */

/** A person in the directory. `id` is the Entra object id (Teams `aadObjectId`). */
export interface DirectoryUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string | null;
  givenName: string | null;
  surname: string | null;
  department: string | null;
  jobTitle: string | null;
  accountEnabled: boolean;
  /** True when the account is mastered on-premises (Entra `onPremisesSyncEnabled`). */
  onPremisesSyncEnabled: boolean;
  /**
   * Entra `userType`: a `Guest` is an external account invited into the tenant, not an
   * employee. Absent means `Member` (on-premises AD has no guests).
   */
  userType?: 'Member' | 'Guest';
}

/** Whether `user` is a guest of the tenant (Entra `userType` Guest), not one of its members. */
export function isGuest(user: Pick<DirectoryUser, 'userType'>): boolean {
  return user.userType === 'Guest';
}

export interface DirectoryGroup {
  id: string;
  displayName: string;
  description: string | null;
  mail: string | null;
}

/** Kinds of authentication methods, named after the Graph `...Methods` collections. */
export type AuthMethodKind =
  | 'password'
  | 'microsoftAuthenticator'
  | 'phone'
  | 'fido2'
  | 'email'
  | 'softwareOath'
  | 'temporaryAccessPass'
  | 'windowsHelloForBusiness';

export const AUTH_METHOD_KINDS: readonly AuthMethodKind[] = [
  'password',
  'microsoftAuthenticator',
  'phone',
  'fido2',
  'email',
  'softwareOath',
  'temporaryAccessPass',
  'windowsHelloForBusiness',
];

/** A registered method: type and a masked hint, never the secret itself. */
export interface AuthMethod {
  id: string;
  kind: AuthMethodKind;
  /** Masked, human hint such as "+1 *** *** **67" or "Pixel 8". */
  hint: string | null;
  isDefault: boolean;
}

/** Result of issuing a Temporary Access Pass. `pass` is a secret: show once, never store. */
export interface TemporaryAccessPass {
  id: string;
  pass: string;
  startDateTime: string;
  lifetimeInMinutes: number;
  isUsableOnce: boolean;
}

/** One change of a bulk membership request. */
export interface MembershipChange {
  action: 'add' | 'remove';
  groupId: string;
  userId: string;
}

export type MembershipChangeOutcome = 'added' | 'already-member' | 'removed' | 'not-member';

/**
 * What became of one change (ids in canonical lowercase form): its outcome, or the typed
 * error that stopped it.
 */
export type MembershipChangeResult = MembershipChange &
  ({ ok: true; outcome: MembershipChangeOutcome } | { ok: false; error: DirectoryError });

/** What the backend knows about a user's ability to sign in. */
export interface SignInState {
  /** Whether the backend has a lockout flag at all (on-premises AD and the demo do). */
  lockSupported: boolean;
  locked: boolean;
  /** The user must change the password at next sign-in. */
  passwordChangeRequired: boolean;
  /** ISO timestamp of the last password change, when known. */
  lastPasswordChange: string | null;
}

/**
 * What a backend does beyond the baseline of Microsoft Entra ID. A backend without
 * `capabilities` has the baseline: {@link BASELINE_CAPABILITIES}.
 */
export interface DirectoryCapabilities {
  /**
   * Resets the passwords of, enables, disables and unlocks accounts mastered on-premises
   * (`onPremisesSyncEnabled`): on-premises AD and hybrid do. Without it such calls are
   * refused with {@link UnsupportedError}.
   */
  onPremisesAccounts: boolean;
  /**
   * Keeps MFA methods, Temporary Access Passes and revocable sessions (Entra ID does). Without
   * it the password is the only method listed, and passes, method removal and session
   * revocation are refused with {@link UnsupportedError}.
   */
  authenticationMethods: boolean;
  /**
   * Knows when users last signed in ({@link Directory.getLastSignIns}): Entra ID from its
   * sign-in activity (a P1 or P2 licence and `AuditLog.Read.All`), Active Directory from
   * `lastLogonTimestamp`, the demo tenant from its data. Without it that call is refused with
   * {@link UnsupportedError}.
   */
  signInActivity: boolean;
}

/**
 * Why an account is privileged in the directory itself: a Microsoft Entra directory role held
 * now (`directory-role-active`, directly or through a role-assignable group) or that the user
 * may activate (`directory-role-eligible`, Privileged Identity Management), membership of an
 * on-premises protected group (`protected-group`, matched by well-known SID), or AD's
 * `adminCount=1` mark left by SDProp on protected accounts (`admin-count`).
 */
export type PrivilegedRoleKind = 'directory-role-active' | 'directory-role-eligible' | 'protected-group' | 'admin-count';

/** One role or protected group that makes an account privileged. */
export interface PrivilegedRole {
  kind: PrivilegedRoleKind;
  /** The role's or group's display name ("Global Administrator", "Domain Admins"). */
  name: string;
  /** The role definition id, the group's SID, or null (admin-count). */
  id: string | null;
}

/** The capabilities of a backend that declares none: Microsoft Entra ID's. */
export const BASELINE_CAPABILITIES: DirectoryCapabilities = { onPremisesAccounts: false, authenticationMethods: true, signInActivity: true };

/**
 * A change of a user's profile: only the fields present change; `null` clears one. Department
 * and job title are text (at most {@link MAX_DEPARTMENT_LENGTH} and {@link MAX_JOB_TITLE_LENGTH}
 * characters, Entra's and AD's limits); the manager is a user's id.
 */
export interface UserProfileChanges {
  department?: string | null;
  jobTitle?: string | null;
  managerId?: string | null;
}

/** The longest department Entra ID and AD take. */
export const MAX_DEPARTMENT_LENGTH = 64;
/** The longest job title Entra ID and AD take. */
export const MAX_JOB_TITLE_LENGTH = 128;

export interface Directory {
  /** `local`, `graph`, `ad` or `hybrid`; shown in `/healthz` and logs. */
  readonly kind: string;

  /** What this backend can do beyond the Entra baseline; absent means {@link BASELINE_CAPABILITIES}. */
  readonly capabilities?: DirectoryCapabilities;

  /** A cheap call that proves the backend answers. */
  health(): Promise<{ ok: boolean; detail?: string }>;

  getUser(id: string): Promise<DirectoryUser | null>;
  findUserByUpn(upn: string): Promise<DirectoryUser | null>;
  findUserByMail(mail: string): Promise<DirectoryUser | null>;
  /** Users whose display name, given name, surname, UPN or mail starts with a word of `query`. */
  searchUsers(query: string, limit?: number): Promise<DirectoryUser[]>;

  /** The user's manager, or null when none is set. */
  getManager(userId: string): Promise<DirectoryUser | null>;
  getDirectReports(userId: string): Promise<DirectoryUser[]>;

  getGroup(id: string): Promise<DirectoryGroup | null>;
  searchGroups(query: string, limit?: number): Promise<DirectoryGroup[]>;
  /** Groups the user is a direct member of. */
  listUserGroups(userId: string): Promise<DirectoryGroup[]>;
  /** Of `groupIds`, the ones the user is a member of. */
  checkMemberGroups(userId: string, groupIds: readonly string[]): Promise<string[]>;
  listGroupMembers(groupId: string): Promise<DirectoryUser[]>;
  listGroupOwners(groupId: string): Promise<DirectoryUser[]>;
  /** Idempotent: an existing membership is success (`already-member`). */
  addGroupMember(groupId: string, userId: string): Promise<'added' | 'already-member'>;
  /** Idempotent: a missing membership is success (`not-member`). */
  removeGroupMember(groupId: string, userId: string): Promise<'removed' | 'not-member'>;
  /**
   * Applies many membership changes at once (granting an access package, removing a leaver
   * from every group) and reports each, in the order given. Changes take effect in that
   * order and are independent: one that fails (unknown group or user, throttling) does not
   * stop the others. Every id is validated first: one bad id rejects the whole call with
   * {@link InvalidInputError} and nothing changes. At most 1000 changes per call.
   */
  batchMembershipChanges(changes: readonly MembershipChange[]): Promise<MembershipChangeResult[]>;

  /**
   * Changes the user's department, job title and manager: only the fields given change, `null`
   * clears one (removes the manager). Everything is validated first (ids, lengths, a user as
   * their own manager) and an unknown manager is {@link NotFoundError}: in each case nothing
   * changes. Accounts mastered on-premises are refused with {@link UnsupportedError} unless the
   * backend masters them (`capabilities.onPremisesAccounts`). Idempotent.
   */
  updateUserProfile(userId: string, changes: { department?: string | null; jobTitle?: string | null; managerId?: string | null }): Promise<void>;

  /**
   * When each user last signed in: a map from the canonical id of every user the directory
   * knows among `userIds` to the time, or null when they never signed in. Ids the directory
   * does not know are left out; a bad id rejects the whole call with {@link InvalidInputError}.
   * How fresh the answer is depends on the backend (AD's `lastLogonTimestamp` lags by up to
   * about two weeks). {@link UnsupportedError} without `capabilities.signInActivity`.
   */
  getLastSignIns(userIds: readonly string[]): Promise<Map<string, Date | null>>;

  /**
   * The directory roles and protected groups that make the user privileged in the directory
   * itself (empty: none). Entra ID: active and eligible role assignments, also through
   * role-assignable groups; AD: `adminCount=1` and transitive membership of the protected
   * groups, by well-known SID; the demo tenant: its `directoryRoles`. A missing read
   * permission is {@link ForbiddenError}: callers treat it as privileged (fail closed), never
   * as "none". {@link NotFoundError} for an unknown user.
   */
  listPrivilegedRoles(userId: string): Promise<PrivilegedRole[]>;

  setAccountEnabled(userId: string, enabled: boolean): Promise<void>;
  getSignInState(userId: string): Promise<SignInState>;
  /** Clears a lockout; {@link UnsupportedError} where the backend has none. */
  unlockAccount(userId: string): Promise<void>;
  /**
   * Sets a new password. Synced users are refused with {@link UnsupportedError}
   * (their password is mastered on-premises).
   */
  resetPassword(userId: string, newPassword: string, forceChangeAtNextSignIn: boolean): Promise<void>;

  listAuthMethods(userId: string): Promise<AuthMethod[]>;
  deleteAuthMethod(userId: string, kind: AuthMethodKind, methodId: string): Promise<void>;
  createTemporaryAccessPass(
    userId: string,
    options: { lifetimeInMinutes: number; isUsableOnce: boolean },
  ): Promise<TemporaryAccessPass>;
  revokeSessions(userId: string): Promise<void>;
}

/** Base of every typed directory failure; `requestId` is kept for support cases. */
export class DirectoryError extends Error {
  constructor(
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
export class NotFoundError extends DirectoryError {}
export class ForbiddenError extends DirectoryError {
  constructor(
    message: string,
    readonly missingPermission?: string,
    requestId?: string,
  ) {
    super(message, requestId);
  }
}
export class ThrottledError extends DirectoryError {
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
    requestId?: string,
  ) {
    super(message, requestId);
  }
}
export class ConflictError extends DirectoryError {}
/** The operation does not apply to this user or backend (e.g. a synced user's password). */
export class UnsupportedError extends DirectoryError {}
/** Input rejected before it reached the backend (e.g. an id that is not a GUID). */
export class InvalidInputError extends DirectoryError {}
/**
 * The backend answered and refused the request (an HTTP 4xx other than the typed ones, an
 * LDAP result code, no token to send it with): it was not applied.
 */
export class RejectedError extends DirectoryError {}
/**
 * The request never reached the directory (no token for it, or the token refused at the door):
 * not applied, and worth trying again later, like any unavailability.
 */
export class NotSentError extends DirectoryError {}
/**
 * A lookup that must name one person matched several (Active Directory does not keep `mail`
 * unique: an admin account often shares its owner's address). The caller asks which one,
 * never guesses; callers that only know {@link InvalidInputError} show the message.
 */
export class AmbiguousUserError extends InvalidInputError {
  constructor(
    message: string,
    /** The accounts that matched, by display name (at most a handful). */
    readonly candidates: DirectoryUser[],
  ) {
    super(message);
  }
}

/**
 * The accounts a sign-in name or mail address names: none, one, or (where the backend does not
 * keep addresses unique, as Active Directory) several, for the caller to ask which one.
 */
export async function usersByUpnOrMail(directory: Pick<Directory, 'findUserByUpn' | 'findUserByMail'>, address: string): Promise<DirectoryUser[]> {
  try {
    const u = (await directory.findUserByUpn(address)) ?? (await directory.findUserByMail(address));
    return u ? [u] : [];
  } catch (err) {
    if (err instanceof AmbiguousUserError) return err.candidates;
    throw err;
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a canonical GUID string, the only shape of id a backend accepts. */
/**
 * Whether `err` says the directory did not answer (unreachable, throttling, no token for it,
 * a server error): worth trying again later. A refusal (not found, forbidden, conflict,
 * unsupported, bad input) is not.
 */
export function isDirectoryUnavailable(err: unknown): boolean {
  if (err instanceof ThrottledError) return true;
  if (!(err instanceof DirectoryError)) return false;
  return !(err instanceof NotFoundError || err instanceof ForbiddenError || err instanceof ConflictError || err instanceof UnsupportedError || err instanceof InvalidInputError || err instanceof RejectedError);
}

/**
 * Whether a failed change was certainly not applied: the directory answered with a refusal
 * (not found, forbidden, conflict, throttled, rejected, unsupported, bad input). Anything else
 * (a timeout, a 5xx, a connection closed after the request was sent, an answer that could not
 * be read) may have been applied: it is reconciled by re-reading the directory, never
 * recorded as failed.
 */
export function isDefiniteRefusal(err: unknown): boolean {
  return (
    err instanceof NotFoundError ||
    err instanceof ForbiddenError ||
    err instanceof ConflictError ||
    err instanceof ThrottledError ||
    err instanceof UnsupportedError ||
    err instanceof InvalidInputError ||
    err instanceof RejectedError ||
    err instanceof NotSentError
  );
}

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}
