import { areIncompatible, findResourceById, type Catalog, type CatalogResource } from '../directory/catalog';
import { isGuest, type Directory, type DirectoryUser } from '../directory/directory';
import { OPEN_STATES, type AccessRequest, type ApproverSource, type PolicySnapshot, type StageSnapshot } from '../store/access-requests';
import type { Store } from '../store/store';
import { formatDuration } from './access-duration';

/**
 * The access policy: who approves each stage, and whether a request may be made at all.
 * Everything here is decided from the catalog, the store and the directory, never from
 * anything a card or a message claims.
 */

/** Most approvers one stage may have: each needs a card, and `refresh.userIds` takes 60 at most. */
export const MAX_STAGE_APPROVERS = 25;

/**
 * Whether `user` may be anyone's approver at all: an account that can sign in, and not a
 * guest of the tenant unless guests are allowed to approve (`ALLOW_GUEST_APPROVERS`).
 */
export function canApprove(user: DirectoryUser, guestsMayApprove: boolean): boolean {
  return user.accountEnabled && (guestsMayApprove || !isGuest(user));
}

/** The configuration the click-time check of an approver reads. */
export interface ApproverRules {
  /** Approvers of last resort, as configured now. */
  fallbackGroupId: string | null;
  guestsMayApprove: boolean;
  /** The identity technicians: they hand a leaver's pending approvals to the leaver's manager (offboarding). */
  technicianGroupId: string | null;
}

export interface ResolvedApprover {
  user: DirectoryUser;
  source: ApproverSource;
}

/** The catalog entry frozen into a request. */
export function snapshotPolicy(resource: CatalogResource, groupNames: Map<string, string>): PolicySnapshot {
  return {
    resourceId: resource.id,
    name: resource.name,
    description: resource.description,
    risk: resource.risk,
    groupId: resource.groupId,
    stages: resource.stages.map((s): StageSnapshot => {
      if (s.approver === 'manager') return { approver: 'manager', title: s.label ?? "The requester's manager" };
      if (s.approver === 'owners') return { approver: 'owners', title: s.label ?? `Owners of ${resource.name}` };
      return { approver: 'group', groupId: s.groupId, title: s.label ?? groupNames.get(s.groupId) ?? 'Named approvers' };
    }),
  };
}

/**
 * The approvers of one stage for `requester`. The requester is never their own approver:
 * when the stage names only them (or nobody who can sign in), the next manager up decides,
 * and failing that the fallback group.
 */
export async function resolveStageApprovers(
  directory: Directory,
  requester: DirectoryUser,
  stage: StageSnapshot,
  policy: PolicySnapshot,
  fallbackGroupId: string | null,
  /** Who approved an earlier stage of the same request: each stage needs another person. */
  earlierApprovers: ReadonlySet<string> = NOBODY,
  guestsMayApprove = false,
): Promise<ResolvedApprover[]> {
  let candidates: DirectoryUser[] = [];
  let skippedSelf = false;
  if (stage.approver === 'manager') {
    const manager = await directory.getManager(requester.id);
    if (manager) candidates = [manager];
  } else if (stage.approver === 'owners') {
    candidates = await directory.listGroupOwners(policy.groupId);
  } else if (stage.groupId) {
    candidates = await directory.listGroupMembers(stage.groupId);
  }
  skippedSelf = candidates.some((c) => c.id === requester.id);
  const eligible = candidates.filter((c) => canApprove(c, guestsMayApprove) && c.id !== requester.id && !earlierApprovers.has(c.id));
  if (eligible.length) return sortByName(eligible).slice(0, MAX_STAGE_APPROVERS).map((user) => ({ user, source: 'policy' as const }));

  // Fallback: the next manager up from whoever was skipped (the requester themself, or a
  // manager who cannot sign in), then the configured group.
  const from = stage.approver === 'manager' && candidates[0] && !skippedSelf ? candidates[0] : requester;
  const up = await nextEnabledManager(directory, from, requester.id, earlierApprovers, guestsMayApprove);
  if (up) return [{ user: up, source: 'fallback' }];
  return fallbackGroupApprovers(directory, fallbackGroupId, requester.id, earlierApprovers, guestsMayApprove);
}

const NOBODY: ReadonlySet<string> = new Set();

/** Members of the fallback group who can sign in, except the requester. */
export async function fallbackGroupApprovers(
  directory: Directory,
  groupId: string | null,
  requesterId: string,
  alsoExcluded: ReadonlySet<string> = NOBODY,
  guestsMayApprove = false,
): Promise<ResolvedApprover[]> {
  if (!groupId) return [];
  const members = await directory.listGroupMembers(groupId);
  return sortByName(members.filter((m) => canApprove(m, guestsMayApprove) && m.id !== requesterId && !alsoExcluded.has(m.id)))
    .slice(0, MAX_STAGE_APPROVERS)
    .map((user) => ({ user, source: 'fallback' as const }));
}

/**
 * The first manager above `user` who can sign in and is not `excludeId` (at most 10 levels).
 * A guest is passed over unless guests may approve.
 */
export async function nextEnabledManager(
  directory: Directory,
  user: DirectoryUser,
  excludeId: string,
  alsoExcluded: ReadonlySet<string> = NOBODY,
  guestsMayApprove = false,
): Promise<DirectoryUser | null> {
  let current = user;
  for (let i = 0; i < 10; i++) {
    const m = await directory.getManager(current.id);
    if (!m) return null;
    if (canApprove(m, guestsMayApprove) && m.id !== excludeId && !alsoExcluded.has(m.id)) return m;
    current = m;
  }
  return null;
}

function sortByName(users: DirectoryUser[]): DirectoryUser[] {
  return [...users].sort((a, b) => a.displayName.localeCompare(b.displayName));
}

/** How many forwards a delegate's authority is traced back through (a forward of a forward...). */
const MAX_FORWARD_CHAIN = 5;

/**
 * Whether `userId` may decide `request` now. Never the requester; listed for its current
 * stage in the store; an account that can sign in (and no guest unless guests may approve);
 * and still what put them on the stage, as the directory and the configuration say now:
 *
 * - `policy`: still the requester's manager, still an owner, still in the named group;
 * - `fallback`: still a manager above the requester, or in the fallback group as configured now;
 * - `escalation`: recorded as an escalation target of this stage in the audit trail, and still
 *   a manager above another approver of the stage or in the fallback group;
 * - `delegate`: whoever forwarded the stage to them may still decide it themself, or is
 *   still an identity technician (offboarding hands a leaver's approvals to their manager).
 */
export async function mayDecide(directory: Directory, store: Store, request: AccessRequest, userId: string, rules: ApproverRules, depth = 0): Promise<boolean> {
  if (userId === request.requesterId) return false;
  const row = store.requests.approver(request.id, request.stage, userId);
  if (!row) return false;
  const user = await directory.getUser(userId);
  if (!user || !canApprove(user, rules.guestsMayApprove)) return false;
  switch (row.source) {
    case 'policy':
      return namedByPolicy(directory, request, userId);
    case 'fallback':
      return (await isManagerAbove(directory, request.requesterId, userId)) || (await inGroup(directory, userId, rules.fallbackGroupId));
    case 'escalation': {
      if (!escalatedTo(store, request, userId)) return false;
      if (await inGroup(directory, userId, rules.fallbackGroupId)) return true;
      for (const other of store.requests.approvers(request.id, request.stage)) {
        if (other.approverId !== userId && (await isManagerAbove(directory, other.approverId, userId))) return true;
      }
      return false;
    }
    case 'delegate': {
      if (row.addedById === null || row.addedById === userId || depth >= MAX_FORWARD_CHAIN) return false;
      return (await mayDecide(directory, store, request, row.addedById, rules, depth + 1)) || (await inGroup(directory, row.addedById, rules.technicianGroupId));
    }
    default:
      return false;
  }
}

async function namedByPolicy(directory: Directory, request: AccessRequest, userId: string): Promise<boolean> {
  const stage = request.policy.stages[request.stage - 1];
  if (!stage) return false;
  if (stage.approver === 'manager') return (await directory.getManager(request.requesterId))?.id === userId;
  if (stage.approver === 'owners') return (await directory.listGroupOwners(request.groupId)).some((o) => o.id === userId);
  return inGroup(directory, userId, stage.groupId ?? null);
}

async function inGroup(directory: Directory, userId: string, groupId: string | null): Promise<boolean> {
  return groupId ? (await directory.checkMemberGroups(userId, [groupId])).includes(groupId) : false;
}

/** Whether `managerId` is in the management chain above `userId` (at most 10 levels). */
async function isManagerAbove(directory: Directory, userId: string, managerId: string): Promise<boolean> {
  let current = userId;
  for (let i = 0; i < 10; i++) {
    const m = await directory.getManager(current);
    if (!m) return false;
    if (m.id === managerId) return true;
    current = m.id;
  }
  return false;
}

/** Whether an escalation of the request's current stage named `userId` (the audit trail is the record). */
function escalatedTo(store: Store, request: AccessRequest, userId: string): boolean {
  return store.audit.query({ correlationId: request.id, action: 'access.escalated' }).some((e) => {
    const d = JSON.parse(e.details) as { stage?: number; to?: Array<{ id?: string }> };
    return d.stage === request.stage && (d.to ?? []).some((t) => t.id === userId);
  });
}

/** Catalog resources whose group `userId` is a member of. */
export async function heldResources(directory: Directory, catalog: Catalog, userId: string): Promise<CatalogResource[]> {
  const ids = [...new Set(catalog.resources.map((r) => r.groupId))];
  const held = new Set<string>();
  // Graph's checkMemberGroups takes at most 20 ids per call.
  for (let i = 0; i < ids.length; i += 20) {
    for (const g of await directory.checkMemberGroups(userId, ids.slice(i, i + 20))) held.add(g);
  }
  return catalog.resources.filter((r) => held.has(r.groupId));
}

export type Refusal =
  | { kind: 'already-member'; message: string }
  | { kind: 'duplicate'; message: string; requestId: string }
  | { kind: 'conflict'; message: string; conflictWith: string }
  | { kind: 'too-long'; message: string; maxHours: number }
  | { kind: 'permanent-not-allowed'; message: string; maxHours: number }
  | { kind: 'justification-required'; message: string };

/**
 * Why `requester` may not ask for `resource` for `hours` now, or null. The checks, in order:
 * a pending duplicate, already a member (unless it is an extension of a time-bound grant),
 * separation of duties against access held or requested, then the duration within the
 * policy and the justification (the ones the requester can fix).
 */
export async function checkRequest(
  deps: { directory: Directory; store: Store; catalog: Catalog },
  requester: DirectoryUser,
  resource: CatalogResource,
  hours: number | null,
  justification: string | null,
): Promise<Refusal | null> {
  const open = deps.store.requests.openForRequester(requester.id);
  const duplicate = duplicateRefusal(open, resource);
  if (duplicate) return duplicate;
  const held = await heldResources(deps.directory, deps.catalog, requester.id);
  if (held.some((r) => r.id === resource.id)) {
    const timeBound = deps.store.requests.grantedFor(requester.id, resource.id).some((g) => g.expiresAt !== null);
    if (!timeBound) return { kind: 'already-member', message: `You already have ${resource.name} (you are a member of its group).` };
  }
  for (const other of held) {
    if (other.id !== resource.id && areIncompatible(resource, other)) {
      return {
        kind: 'conflict',
        message: `${resource.name} cannot be combined with ${other.name}, which you have (separation of duties). Ask your manager which one you need.`,
        conflictWith: other.id,
      };
    }
  }
  const requested = requestedConflict(deps.catalog, open, resource);
  if (requested) return requested;
  if (hours === null && !resource.permanentAllowed) {
    return {
      kind: 'permanent-not-allowed',
      message: `${resource.name} is only granted for a limited time: at most ${formatDuration(resource.maxHours)}.`,
      maxHours: resource.maxHours,
    };
  }
  if (hours !== null && hours > resource.maxHours) {
    return {
      kind: 'too-long',
      message: `You asked for ${formatDuration(hours)}, but ${resource.name} is granted for at most ${formatDuration(resource.maxHours)}.`,
      maxHours: resource.maxHours,
    };
  }
  if (resource.justificationRequired && !saysSomething(justification)) {
    return { kind: 'justification-required', message: `${resource.name} needs a justification: say why you need it.` };
  }
  return null;
}

/**
 * Whether a justification says anything: a letter or a digit. Spaces, punctuation alone or
 * invisible characters (zero-width spaces, joiners) would show the approver an empty reason.
 */
function saysSomething(text: string | null): boolean {
  return text !== null && /[\p{L}\p{N}]/u.test(text);
}

function duplicateRefusal(open: readonly AccessRequest[], resource: CatalogResource): Refusal | null {
  const duplicate = open.find((r) => r.resourceId === resource.id);
  if (!duplicate) return null;
  const waiting = duplicate.state === 'pending' ? 'is waiting for approval' : 'is approved and being granted';
  return { kind: 'duplicate', message: `You already asked for ${resource.name}: ${duplicate.id} ${waiting}.`, requestId: duplicate.id };
}

function requestedConflict(catalog: Catalog, open: readonly AccessRequest[], resource: CatalogResource): Refusal | null {
  for (const r of open) {
    const other = findResourceById(catalog, r.resourceId);
    if (other && OPEN_STATES.includes(r.state) && areIncompatible(resource, other)) {
      return {
        kind: 'conflict',
        message: `${resource.name} cannot be combined with ${other.name}, which you have requested (${r.id}) (separation of duties). Cancel that request first if you need this one instead.`,
        conflictWith: other.id,
      };
    }
  }
  return null;
}

/**
 * The checks against the requester's open requests alone (a pending duplicate, a requested
 * separation-of-duties conflict): store only and synchronous, so the transaction that creates
 * a request runs them again. Two submissions at once (a double click, two chats) cannot both
 * pass the asynchronous {@link checkRequest} and both be created.
 */
export function openRequestRefusal(deps: { store: Store; catalog: Catalog }, requesterId: string, resource: CatalogResource): Refusal | null {
  const open = deps.store.requests.openForRequester(requesterId);
  return duplicateRefusal(open, resource) ?? requestedConflict(deps.catalog, open, resource);
}
