import { birthrightFor, type BirthrightRules } from '../../directory/birthright';
import { areIncompatible, type CatalogResource } from '../../directory/catalog';
import type { DirectoryUser } from '../../directory/directory';
import { fingerprintOf, type DriftKind, type GrantRecord, type NewFinding } from '../../store/drift';

/**
 * What drift detection compares, and how: the members of each checked group (from the
 * directory) against what the helpdesk approved (from the store and the rules). Pure: the
 * caller reads the directory and the store; this decides what is drift.
 *
 * A member is expected when one of these holds:
 * - an access request of that group is approved (being granted) or granted and not yet
 *   ended (no end, or an end still to come, or its removal job still pending or running);
 *   requests a technician's `grant` makes are such requests too;
 * - a birthright rule gives the group to people of their department and title;
 * - an accepted exception (the store's finding in state `accepted`; the caller keeps those
 *   quiet).
 *
 * Each unexpected member is one finding, the most specific kind first: a disabled account
 * (`disabled`, even when approved: the access should have gone with the account), a grant
 * that ended while the membership stayed (`expired-grant`), a privileged group
 * (`privileged`), or a catalog resource (`unapproved`: added outside the bot). A person
 * holding a grant who is no longer in the directory is `left`. A person holding two catalog
 * resources that must not be held together is `sod` (one finding per combination).
 */

/** A group the check looks at. */
export interface ScopeGroup {
  id: string;
  /** The catalog resource's name, else the directory group's. */
  name: string;
  /** The catalog resource backed by this group, when it is one. */
  resource: CatalogResource | null;
  /** One of the privileged groups. */
  privileged: boolean;
}

/** A group that was read: its members. */
export interface GroupScan {
  group: ScopeGroup;
  members: DirectoryUser[];
}

export interface DetectInput {
  scans: GroupScan[];
  grants: GrantRecord[];
  birthright: BirthrightRules;
  now: Date;
  /** Users holding a grant of a scanned group whom the directory no longer knows. */
  missingUsers: ReadonlySet<string>;
}

const lower = (s: string) => s.toLowerCase();

/** Whether a grant still stands now: being granted, without end, ending later, or its removal under way. */
export function grantStands(g: GrantRecord, now: Date): boolean {
  return g.state === 'approved' || g.expiresAt === null || Date.parse(g.expiresAt) > now.getTime() || g.removalPending;
}

/** Finds what is drift among the scanned memberships. Deterministic: the same input gives the same findings, in the same order. */
export function detectDrift(input: DetectInput): NewFinding[] {
  const { now } = input;
  const byGroupUser = new Map<string, GrantRecord[]>();
  for (const g of input.grants) {
    const key = `${lower(g.groupId)}|${lower(g.userId)}`;
    const list = byGroupUser.get(key) ?? [];
    list.push(g);
    byGroupUser.set(key, list);
  }
  const grantsOf = (groupId: string, userId: string) => byGroupUser.get(`${lower(groupId)}|${lower(userId)}`) ?? [];
  const out: NewFinding[] = [];
  const push = (f: Omit<NewFinding, 'fingerprint'>) => out.push({ ...f, fingerprint: fingerprintOf(f) });

  for (const scan of input.scans) {
    const g = scan.group;
    const memberIds = new Set(scan.members.map((m) => lower(m.id)));
    for (const u of [...scan.members].sort((a, b) => a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id))) {
      const grants = grantsOf(g.id, u.id);
      const standing = grants.filter((x) => grantStands(x, now));
      const birthright = birthrightFor(input.birthright, u.department, u.jobTitle).groups.some((id) => lower(id) === lower(g.id));
      const base = {
        groupId: g.id,
        groupName: g.name,
        userId: u.id,
        userName: u.displayName,
        userUpn: u.userPrincipalName,
      };
      const details = { resourceId: g.resource?.id ?? null, department: u.department, jobTitle: u.jobTitle, privilegedGroup: g.privileged };
      let kind: DriftKind | null = null;
      let extra: Record<string, unknown> = {};
      if (!u.accountEnabled) {
        kind = 'disabled';
        extra = { requestIds: standing.map((x) => x.requestId) };
      } else if (standing.length || birthright) {
        kind = null;
      } else {
        const ended = grants.filter((x) => x.state === 'granted' && x.expiresAt !== null).sort((a, b) => Date.parse(b.expiresAt!) - Date.parse(a.expiresAt!))[0];
        if (ended) {
          kind = 'expired-grant';
          extra = { requestId: ended.requestId, expiresAt: ended.expiresAt };
        } else if (g.privileged) kind = 'privileged';
        else if (g.resource) kind = 'unapproved';
      }
      if (kind) push({ kind, ...base, details: { ...details, ...extra } });
    }
    // Grants held by people the directory no longer knows.
    const left = new Map<string, GrantRecord[]>();
    for (const gr of input.grants) {
      if (lower(gr.groupId) !== lower(g.id) || memberIds.has(lower(gr.userId)) || !input.missingUsers.has(gr.userId)) continue;
      const list = left.get(gr.userId) ?? [];
      list.push(gr);
      left.set(gr.userId, list);
    }
    for (const [userId, grants] of [...left.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      push({
        kind: 'left',
        groupId: g.id,
        groupName: g.name,
        userId,
        userName: grants[0]!.userName,
        userUpn: null,
        details: { resourceId: g.resource?.id ?? null, privilegedGroup: g.privileged, requestIds: grants.map((x) => x.requestId) },
      });
    }
  }

  // Separation of duties: two catalog resources that must not be held together.
  const resources = input.scans.filter((s) => s.group.resource).sort((a, b) => a.group.resource!.id.localeCompare(b.group.resource!.id));
  for (let i = 0; i < resources.length; i++) {
    for (let j = i + 1; j < resources.length; j++) {
      const a = resources[i]!;
      const b = resources[j]!;
      if (!areIncompatible(a.group.resource!, b.group.resource!)) continue;
      const inB = new Map(b.members.map((m) => [lower(m.id), m]));
      for (const u of [...a.members].sort((x, y) => x.displayName.localeCompare(y.displayName) || x.id.localeCompare(y.id))) {
        if (!inB.has(lower(u.id))) continue;
        const combination = `${a.group.resource!.id}+${b.group.resource!.id}`;
        push({
          kind: 'sod',
          groupId: a.group.id,
          groupName: a.group.name,
          otherGroupId: b.group.id,
          otherGroupName: b.group.name,
          combination,
          userId: u.id,
          userName: u.displayName,
          userUpn: u.userPrincipalName,
          details: { resourceId: a.group.resource!.id, otherResourceId: b.group.resource!.id, department: u.department, jobTitle: u.jobTitle },
        });
      }
    }
  }
  return out;
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
