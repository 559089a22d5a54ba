import {
  InvalidInputError,
  MAX_DEPARTMENT_LENGTH,
  MAX_JOB_TITLE_LENGTH,
  isGuid,
  type AuthMethodKind,
  type MembershipChange,
  type UserProfileChanges,
} from './directory';

/**
 * Rules every {@link Directory} implementation applies the same way, so that the local demo
 * directory and Microsoft Graph reject the same input with the same message before anything
 * reaches a backend.
 */

/** Graph's `$top` ceiling; also the most a search returns. */
export const MAX_LIMIT = 999;
export const DEFAULT_LIMIT = 25;
/** Graph `checkMemberGroups` accepts at most 20 group ids per call. */
export const MAX_CHECK_GROUPS = 20;
/** Words of a query beyond this are ignored. */
export const MAX_QUERY_WORDS = 8;
/** Most membership changes one bulk call takes. */
export const MAX_BATCH_CHANGES = 1000;
export const TAP_MIN_MINUTES = 10;
export const TAP_MAX_MINUTES = 43_200;
/** Methods that cannot act as the default sign-in method. */
export const NOT_DEFAULT_CAPABLE: readonly AuthMethodKind[] = ['password', 'temporaryAccessPass', 'email'];

/** Validates a GUID argument and returns it in canonical (lowercase) form. */
export function guidArg(value: unknown, what: string): string {
  if (!isGuid(value)) throw new InvalidInputError(`The ${what} must be a GUID, got ${describe(value)}`);
  return value.toLowerCase();
}

/** Validates a UPN or mail argument and returns its lookup key (trimmed, lowercase). */
export function lookupArg(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 320) {
    throw new InvalidInputError(`The ${what} must be a non-empty string of at most 320 characters`);
  }
  return value.trim().toLowerCase();
}

export function limitArg(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidInputError(`limit must be a whole number from 1 to ${MAX_LIMIT}, got ${describe(limit)}`);
  }
  return limit;
}

/** A value for an error message: strings quoted and shortened, anything else as text. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  return String(value);
}

/** The lowercased words of a search query (at most {@link MAX_QUERY_WORDS}). */
export function queryWords(query: unknown): string[] {
  if (typeof query !== 'string') throw new InvalidInputError('The search query must be a string');
  return query.toLowerCase().split(/\s+/).filter(Boolean).slice(0, MAX_QUERY_WORDS);
}

/** Validates the options of a Temporary Access Pass. */
export function tapOptionsArg(options: unknown): { lifetimeInMinutes: number; isUsableOnce: boolean } {
  const o = (options ?? {}) as { lifetimeInMinutes?: unknown; isUsableOnce?: unknown };
  const lifetime = o.lifetimeInMinutes;
  if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < TAP_MIN_MINUTES || lifetime > TAP_MAX_MINUTES) {
    throw new InvalidInputError(
      `lifetimeInMinutes must be a whole number from ${TAP_MIN_MINUTES} to ${TAP_MAX_MINUTES}, got ${String(lifetime)}`,
    );
  }
  if (typeof o.isUsableOnce !== 'boolean') throw new InvalidInputError('isUsableOnce must be true or false');
  return { lifetimeInMinutes: lifetime, isUsableOnce: o.isUsableOnce };
}

/** Validates a bulk request and returns its changes with canonical ids. */
export function membershipChangesArg(changes: unknown): MembershipChange[] {
  if (!Array.isArray(changes)) throw new InvalidInputError('changes must be a list of membership changes');
  if (changes.length > MAX_BATCH_CHANGES) {
    throw new InvalidInputError(`At most ${MAX_BATCH_CHANGES} membership changes per call, got ${changes.length}`);
  }
  return changes.map((c: Partial<MembershipChange> | null, i) => {
    if (c?.action !== 'add' && c?.action !== 'remove') {
      throw new InvalidInputError(`Change ${i + 1}: action must be "add" or "remove"`);
    }
    return { action: c.action, groupId: guidArg(c.groupId, `group id of change ${i + 1}`), userId: guidArg(c.userId, `user id of change ${i + 1}`) };
  });
}

/** Control characters (tab included), DEL and the C1 range: never part of a profile value. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function profileText(value: unknown, what: string, max: number): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new InvalidInputError(`The ${what} must be text, or null to clear it`);
  const v = value.trim();
  if (v === '') throw new InvalidInputError(`The ${what} is empty; give null to clear it`);
  if (v.length > max) throw new InvalidInputError(`The ${what} is ${v.length} characters long; at most ${max}`);
  if (CONTROL.test(v)) throw new InvalidInputError(`The ${what} contains control characters`);
  return v;
}

/**
 * Validates a profile change of `userId` and returns it with trimmed text and a canonical
 * manager id, keeping only the fields given. A user cannot be their own manager.
 */
export function profileChangesArg(userId: string, changes: unknown): UserProfileChanges {
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) {
    throw new InvalidInputError('The profile changes must be an object with department, jobTitle or managerId');
  }
  const c = changes as Record<string, unknown>;
  const unknown = Object.keys(c).filter((k) => k !== 'department' && k !== 'jobTitle' && k !== 'managerId');
  if (unknown.length) throw new InvalidInputError(`Unknown profile field(s): ${unknown.map((k) => describe(k)).join(', ')}`);
  const out: UserProfileChanges = {};
  if (c.department !== undefined) out.department = profileText(c.department, 'department', MAX_DEPARTMENT_LENGTH);
  if (c.jobTitle !== undefined) out.jobTitle = profileText(c.jobTitle, 'job title', MAX_JOB_TITLE_LENGTH);
  if (c.managerId !== undefined) {
    out.managerId = c.managerId === null ? null : guidArg(c.managerId, 'manager id');
    if (out.managerId !== null && out.managerId === userId.toLowerCase()) throw new InvalidInputError('A user cannot be their own manager');
  }
  return out;
}

/** Validates a list of user ids and returns them canonical, each once. */
export function userIdsArg(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw new InvalidInputError('userIds must be a list of user ids');
  return [...new Set(ids.map((id, i) => guidArg(id, `user id ${i + 1}`)))];
}

/** Why a password fails the Entra password policy, or null when it passes. */
export function passwordWeakness(pw: string): string | null {
  if (pw.length < 8) return 'it must be at least 8 characters long';
  if (pw.length > 256) return 'it must be at most 256 characters long';
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(pw)).length;
  if (classes < 3) return 'it must contain three of: lowercase letters, uppercase letters, digits, symbols';
  return null;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "14:05 UTC" when a pass ends the day it starts, else "27 Nov 14:05 UTC". */
export function formatExpiry(start: Date, expires: Date): string {
  const hm = `${String(expires.getUTCHours()).padStart(2, '0')}:${String(expires.getUTCMinutes()).padStart(2, '0')} UTC`;
  const sameDay = start.toISOString().slice(0, 10) === expires.toISOString().slice(0, 10);
  return sameDay ? hm : `${expires.getUTCDate()} ${MONTHS[expires.getUTCMonth()]} ${hm}`;
}

/** The hint of a Temporary Access Pass: "one-time, expires 14:05 UTC". */
export function tapHint(start: Date, lifetimeInMinutes: number, isUsableOnce: boolean): string {
  const expires = new Date(start.getTime() + lifetimeInMinutes * 60_000);
  return `${isUsableOnce ? 'one-time, ' : ''}expires ${formatExpiry(start, expires)}`;
}
