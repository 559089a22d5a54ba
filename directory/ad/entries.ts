import type { Entry } from 'ldapts';
import type { DirectoryGroup, DirectoryUser } from '../directory';
import { guidFromBytes } from './guid';

/**
 * Reading AD entries into the port's types. AD returns attribute names in its schema's
 * spelling, so every lookup here ignores case.
 */

/** userAccountControl: ACCOUNTDISABLE. */
export const UF_ACCOUNTDISABLE = 0x2;
/** msDS-User-Account-Control-Computed: the account is locked out now. */
export const UF_LOCKOUT = 0x10;
/** msDS-User-Account-Control-Computed: the password has expired or must be changed. */
export const UF_PASSWORD_EXPIRED = 0x800000;

/** Attributes returned as bytes (spelled as AD and Samba return them). */
export const BINARY_ATTRIBUTES = ['objectGUID', 'objectSid', 'tokenGroups', 'mS-DS-ConsistencyGuid', 'ms-DS-ConsistencyGuid', 'replPropertyMetaData'];

/** Persons that are user accounts (not contacts, not computers, which are users too in AD). */
export const USER_FILTER = '(&(objectCategory=person)(objectClass=user))';
export const GROUP_FILTER = '(objectClass=group)';

export const USER_ATTRIBUTES = [
  'objectGUID',
  'userPrincipalName',
  'sAMAccountName',
  'displayName',
  'cn',
  'givenName',
  'sn',
  'mail',
  'department',
  'title',
  'userAccountControl',
  'mS-DS-ConsistencyGuid',
];
export const GROUP_ATTRIBUTES = ['objectGUID', 'displayName', 'cn', 'description', 'mail'];

function value(entry: Entry, name: string): unknown {
  if (name in entry) return entry[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(entry)) if (k.toLowerCase() === lower) return entry[k];
  return undefined;
}

/** The first text value of an attribute, or null when it has none. */
export function text(entry: Entry, name: string): string | null {
  const v = value(entry, name);
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined || first === null) return null;
  const s = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  return s === '' ? null : s;
}

/** Every text value of an attribute. */
export function texts(entry: Entry, name: string): string[] {
  const v = value(entry, name);
  const all = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return all.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x))).filter((s) => s !== '');
}

/** The first binary value of an attribute, or null. */
export function bytes(entry: Entry, name: string): Buffer | null {
  const v = value(entry, name);
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined || first === null) return null;
  if (Buffer.isBuffer(first)) return first.length > 0 ? first : null;
  return null;
}

/** Every binary value of an attribute (a multi-valued one such as tokenGroups). */
export function allBytes(entry: Entry, name: string): Buffer[] {
  const v = value(entry, name);
  const all = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return all.filter((x): x is Buffer => Buffer.isBuffer(x) && x.length > 0);
}

/** An integer attribute (userAccountControl and the like), or `fallback`. */
export function int(entry: Entry, name: string, fallback = 0): number {
  const t = text(entry, name);
  const n = t === null ? Number.NaN : Number(t);
  return Number.isFinite(n) ? n : fallback;
}

/** The entry's id: its objectGUID in text form. */
export function entryId(entry: Entry): string {
  const g = bytes(entry, 'objectGUID');
  if (!g) throw new Error(`Active Directory returned ${entry.dn} without its objectGUID`);
  return guidFromBytes(g);
}

/** "DC=corp,DC=example" -> "corp.example": the DNS name of the domain an entry lives in. */
export function dnsDomainOf(dn: string): string {
  return dn
    .split(/,(?=\s*DC=)/i)
    .slice(1)
    .map((p) => p.trim().replace(/^DC=/i, ''))
    .join('.')
    .toLowerCase();
}

/**
 * A user entry as the port's user. The UPN falls back to the implicit one AD accepts
 * (sAMAccountName@domain) for accounts that have none. `onPremisesSyncEnabled` says whether
 * the account is synchronised to Microsoft Entra ID, which Entra Connect marks by writing
 * ms-DS-ConsistencyGuid (its default source anchor).
 */
export function toUser(entry: Entry): DirectoryUser {
  const sam = text(entry, 'sAMAccountName');
  const upn = text(entry, 'userPrincipalName') ?? `${sam ?? 'unknown'}@${dnsDomainOf(entry.dn)}`;
  return {
    id: entryId(entry),
    userPrincipalName: upn,
    displayName: text(entry, 'displayName') ?? text(entry, 'cn') ?? sam ?? upn,
    mail: text(entry, 'mail'),
    givenName: text(entry, 'givenName'),
    surname: text(entry, 'sn'),
    department: text(entry, 'department'),
    jobTitle: text(entry, 'title'),
    accountEnabled: (int(entry, 'userAccountControl') & UF_ACCOUNTDISABLE) === 0,
    onPremisesSyncEnabled: bytes(entry, 'mS-DS-ConsistencyGuid') !== null,
    // Active Directory has no guests: its accounts are the organisation's own.
    userType: 'Member',
  };
}

export function toGroup(entry: Entry): DirectoryGroup {
  return {
    id: entryId(entry),
    displayName: text(entry, 'displayName') ?? text(entry, 'cn') ?? entryId(entry),
    description: text(entry, 'description'),
    mail: text(entry, 'mail'),
  };
}

/**
 * The words a search may match, as the local directory defines them: each word of the names,
 * the parts of a word split at punctuation (so "O'Brien" is found by "brien"), and the UPN
 * and mail whole.
 */
export function searchWords(names: readonly (string | null)[], addresses: readonly (string | null)[]): string[] {
  const words = new Set<string>();
  for (const name of names) {
    if (!name) continue;
    for (const w of name.toLowerCase().split(/\s+/).filter(Boolean)) {
      words.add(w);
      for (const part of w.split(/[^\p{L}\p{N}]+/u)) if (part) words.add(part);
    }
  }
  for (const a of addresses) if (a) words.add(a.toLowerCase());
  return [...words];
}

/** True when every query word starts one of `words`. */
export function matchesAll(queryWords: readonly string[], words: readonly string[]): boolean {
  return queryWords.every((q) => words.some((w) => w.startsWith(q)));
}

/** By display name (case-insensitive), then id: the order every directory returns. */
export function byName<T extends { displayName: string; id: string }>(items: T[]): T[] {
  const key = (x: T) => x.displayName.toLowerCase();
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
