import type { PrivilegedRole } from '../directory';
import { sidFromBytes } from './guid';

/**
 * Active Directory's protected accounts and groups, matched by SID, never by name: a name can
 * be renamed or localised ("Administrateurs"), and anyone who may create a group may call it
 * "Domain Admins". The list is AdminSDHolder's (the groups SDProp protects and marks with
 * `adminCount=1`) plus the other groups that can take over a domain or a forest.
 */

/** Relative ids of protected groups and accounts inside a domain (S-1-5-21-…-RID). */
const DOMAIN_RIDS: Record<number, string> = {
  500: 'Administrator (built-in account)',
  502: 'krbtgt',
  512: 'Domain Admins',
  516: 'Domain Controllers',
  518: 'Schema Admins',
  519: 'Enterprise Admins',
  521: 'Read-only Domain Controllers',
  526: 'Key Admins',
  527: 'Enterprise Key Admins',
};

/** The builtin domain's protected groups (S-1-5-32-RID). */
const BUILTIN_RIDS: Record<number, string> = {
  544: 'Administrators',
  548: 'Account Operators',
  549: 'Server Operators',
  550: 'Print Operators',
  551: 'Backup Operators',
  552: 'Replicator',
};

/** The text form of a binary SID (AD's own reuse `sidFromBytes`), or null when the bytes are not one. */
export function sidToString(bytes: Uint8Array): string | null {
  try {
    return sidFromBytes(bytes);
  } catch {
    return null;
  }
}

/** The protected group or account a SID names, or null. */
export function protectedSidName(sid: string): string | null {
  const builtin = /^S-1-5-32-(\d+)$/.exec(sid);
  if (builtin) return BUILTIN_RIDS[Number(builtin[1])] ?? null;
  const domain = /^S-1-5-21-\d+-\d+-\d+-(\d+)$/.exec(sid);
  if (domain) return DOMAIN_RIDS[Number(domain[1])] ?? null;
  return null;
}

/**
 * What makes an AD account privileged: its own SID (the built-in Administrator, krbtgt), the
 * SIDs of every group it is in (`tokenGroups`: transitive, with the primary group), and
 * `adminCount=1` (SDProp's mark, which stays after someone leaves a protected group: still
 * worth four eyes until an admin clears it).
 */
export function protectedRoles(userSid: string | null, groupSids: readonly string[], adminCount: string | null): PrivilegedRole[] {
  const out: PrivilegedRole[] = [];
  const seen = new Set<string>();
  for (const sid of [...(userSid ? [userSid] : []), ...groupSids]) {
    const name = protectedSidName(sid);
    if (!name || seen.has(sid)) continue;
    seen.add(sid);
    out.push({ kind: 'protected-group', name, id: sid });
  }
  if (adminCount !== null && Number(adminCount) >= 1) out.push({ kind: 'admin-count', name: 'adminCount=1 (protected account)', id: null });
  return out;
}
