import { resolveResource, type Catalog, type CatalogResource } from '../../directory/catalog';
import { AmbiguousUserError, InvalidInputError, isGuid, type Directory, type DirectoryGroup, type DirectoryUser } from '../../directory/directory';

/**
 * Turns what a technician typed into directory objects: a user by sign-in name, mail,
 * object id or name; a group by id or name; a catalog resource. Several matches are
 * returned as such (the caller asks which one), never guessed.
 */

/** Most candidates a pick-one card offers: one button each, and Teams cards take at most five. */
export const MAX_CANDIDATES = 5;

export type Resolved<T> = { kind: 'one'; value: T } | { kind: 'many'; values: T[]; more: boolean } | { kind: 'none'; message: string };

const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, ' ');

export async function resolveUser(directory: Directory, query: string): Promise<Resolved<DirectoryUser>> {
  const q = query.trim();
  const shown = q.length > 60 ? `${q.slice(0, 60)}…` : q;
  try {
    if (isGuid(q as unknown)) {
      const u = await directory.getUser(q);
      return u ? { kind: 'one', value: u } : { kind: 'none', message: `No user has the object id ${q}.` };
    }
    if (q.includes('@')) {
      const u = (await directory.findUserByUpn(q)) ?? (await directory.findUserByMail(q));
      return u ? { kind: 'one', value: u } : { kind: 'none', message: `No user has the sign-in name or mail ${shown}.` };
    }
    const found = await directory.searchUsers(q, MAX_CANDIDATES + 1);
    const exact = found.filter((u) => norm(u.displayName) === norm(q));
    if (exact.length === 1) return { kind: 'one', value: exact[0]! };
    if (exact.length > 1) return { kind: 'many', values: exact.slice(0, MAX_CANDIDATES), more: exact.length > MAX_CANDIDATES };
    if (found.length === 1) return { kind: 'one', value: found[0]! };
    if (found.length > 1) return { kind: 'many', values: found.slice(0, MAX_CANDIDATES), more: found.length > MAX_CANDIDATES };
    return { kind: 'none', message: `No user matches "${shown}". Try the sign-in name (name@northwind.example) or the full name.` };
  } catch (err) {
    // Several accounts share the sign-in name or mail (AD keeps mail unique nowhere): ask, never pick.
    if (err instanceof AmbiguousUserError && err.candidates.length > 1) return { kind: 'many', values: err.candidates.slice(0, MAX_CANDIDATES), more: err.candidates.length > MAX_CANDIDATES };
    if (err instanceof InvalidInputError) return { kind: 'none', message: `"${shown}" cannot name a user: ${err.message}` };
    throw err;
  }
}

export async function resolveGroup(directory: Directory, query: string): Promise<Resolved<DirectoryGroup>> {
  const q = query.trim();
  const shown = q.length > 60 ? `${q.slice(0, 60)}…` : q;
  try {
    if (isGuid(q as unknown)) {
      const g = await directory.getGroup(q);
      return g ? { kind: 'one', value: g } : { kind: 'none', message: `No group has the id ${q}.` };
    }
    const found = await directory.searchGroups(q, MAX_CANDIDATES + 1);
    const exact = found.filter((g) => norm(g.displayName) === norm(q));
    if (exact.length === 1) return { kind: 'one', value: exact[0]! };
    if (found.length === 1) return { kind: 'one', value: found[0]! };
    if (found.length > 1) return { kind: 'many', values: (exact.length ? exact : found).slice(0, MAX_CANDIDATES), more: found.length > MAX_CANDIDATES };
    return { kind: 'none', message: `No group matches "${shown}". Type part of its name, or its id.` };
  } catch (err) {
    if (err instanceof InvalidInputError) return { kind: 'none', message: `"${shown}" cannot name a group: ${err.message}` };
    throw err;
  }
}

/**
 * Splits `grant <user> <resource>` words: the longest tail of the words that names a catalog
 * resource is the resource, what comes before is the user. A quoted first word is the whole user.
 */
export function splitUserAndResource(catalog: Catalog, words: string[], userQuoted: boolean): { user: string; resource: CatalogResource } | { error: string } {
  const minUser = 1;
  if (userQuoted) {
    const resource = resolveResource(catalog, words.slice(1).join(' '));
    return resource ? { user: words[0]!, resource } : { error: unknownResource(catalog, words.slice(1).join(' ')) };
  }
  for (let start = minUser; start < words.length; start++) {
    const resource = resolveResource(catalog, words.slice(start).join(' '));
    if (resource) return { user: words.slice(0, start).join(' '), resource };
  }
  return { error: unknownResource(catalog, words.slice(1).join(' ')) };
}

function unknownResource(catalog: Catalog, phrase: string): string {
  const shown = phrase.length > 60 ? `${phrase.slice(0, 60)}…` : phrase;
  return `The catalog has no resource "${shown}". Resources: ${catalog.resources.map((r) => r.id).join(', ')}.`;
}
