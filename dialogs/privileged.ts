import type { Logger } from '../bot/logger';
import type { Store } from '../store/store';
import { ForbiddenError, NotFoundError, type Directory, type PrivilegedRoleKind } from '../directory/directory';

/**
 * Why an account counts as privileged: a configured privileged group, the technicians group,
 * a directory role or protected group the directory reports, no configured list at all
 * (production without `RECOVERY_PRIVILEGED_GROUP_IDS`), or a role lookup that failed (fail
 * closed: an unread answer is never "not privileged").
 */
export interface PrivilegedReason {
  kind: 'privileged-group' | 'technicians-group' | 'unknown-list' | 'lookup-failed' | PrivilegedRoleKind;
  /** For people: "Global Administrator (eligible)", "Domain Admins", "the technicians group". */
  label: string;
  /** The group or role id, when there is one. */
  id: string | null;
}

export interface PrivilegedStatus {
  privileged: boolean;
  reasons: PrivilegedReason[];
}

export interface PrivilegedResolverDeps {
  directory: Directory;
  /** The configured privileged groups; null: unknown, so every account is privileged. */
  privilegedGroupIds: readonly string[] | null;
  /** The identity technicians' group: its members can reset others' credentials. */
  technicianGroupId: string | null;
  logger: Logger;
}

const LABEL: Record<PrivilegedRoleKind, (name: string) => string> = {
  'directory-role-active': (n) => n,
  'directory-role-eligible': (n) => `${n} (eligible)`,
  'protected-group': (n) => n,
  'admin-count': (n) => n,
};

/**
 * The one answer to "is this account privileged?", for sign-in recovery (the stricter
 * verification), the technicians' plans (four eyes), drift (four-eyes removals) and the HR
 * feed. Privileged means any of: a member (transitively) of a configured privileged group or
 * of the technicians group, or a holder of a directory role (active or eligible) or an
 * on-premises protected account, as the directory reports it. Without a configured list, or
 * when the directory cannot say (a missing permission, an outage), the answer is "privileged".
 */
export class PrivilegedResolver {
  constructor(private readonly d: PrivilegedResolverDeps) {}

  /** The configured privileged groups (null: none configured, every account privileged). */
  get groupIds(): readonly string[] | null {
    return this.d.privilegedGroupIds;
  }

  /** The groups whose members are privileged: the configured ones and the technicians group. */
  groups(): string[] {
    const ids = [...(this.d.privilegedGroupIds ?? []), ...(this.d.technicianGroupId ? [this.d.technicianGroupId] : [])];
    return [...new Set(ids.map((g) => g.toLowerCase()))];
  }

  /** Whether membership of `groupId` alone makes someone privileged (every group, without a list). */
  isPrivilegedGroup(groupId: string): boolean {
    return this.d.privilegedGroupIds === null || this.groups().includes(groupId.toLowerCase());
  }

  async isPrivileged(userId: string): Promise<boolean> {
    return (await this.status(userId)).privileged;
  }

  /**
   * Every reason `userId` is privileged. {@link NotFoundError} for someone the directory does
   * not know (callers decide what that means); any other failure counts as privileged.
   */
  async status(userId: string): Promise<PrivilegedStatus> {
    if (this.d.privilegedGroupIds === null) {
      return { privileged: true, reasons: [{ kind: 'unknown-list', label: 'no privileged groups are configured', id: null }] };
    }
    const reasons: PrivilegedReason[] = [];
    const groups = this.groups();
    for (let i = 0; i < groups.length; i += 20) {
      for (const g of await this.d.directory.checkMemberGroups(userId, groups.slice(i, i + 20))) {
        const tech = g.toLowerCase() === this.d.technicianGroupId?.toLowerCase();
        reasons.push({ kind: tech ? 'technicians-group' : 'privileged-group', label: tech ? 'the technicians group' : 'a privileged group', id: g.toLowerCase() });
      }
    }
    try {
      for (const r of await this.d.directory.listPrivilegedRoles(userId)) reasons.push({ kind: r.kind, label: LABEL[r.kind](r.name), id: r.id });
    } catch (err) {
      if (err instanceof NotFoundError) throw err;
      const permission = err instanceof ForbiddenError ? (err.missingPermission ?? null) : null;
      this.d.logger.warn(
        { action: 'privileged.lookup-failed', target: userId, err: err instanceof Error ? err.message : String(err), missingPermission: permission },
        permission
          ? `the directory roles could not be read (missing ${permission}): the account is treated as privileged; run npm run doctor`
          : 'the directory roles could not be read: the account is treated as privileged',
      );
      reasons.push({ kind: 'lookup-failed', label: permission ? `directory roles unreadable (missing ${permission})` : 'directory roles unreadable', id: null });
    }
    return { privileged: reasons.length > 0, reasons };
  }
}

/** A short phrase for people: "member of the technicians group, Global Administrator". */
export function describePrivileged(status: PrivilegedStatus): string {
  const labels = [...new Set(status.reasons.map((r) => (r.kind === 'privileged-group' || r.kind === 'technicians-group' ? `member of ${r.label}` : r.label)))];
  return labels.join(', ');
}

/** How long after an account is enabled a new credential for it takes two technicians. */
export const ENABLE_FOUR_EYES_MS = 24 * 60 * 60_000;

/**
 * Whether the helpdesk enabled `userId` in the last 24 hours (a technician's or the HR feed's
 * plan: its `technician.account-enabled`, or a plan with an enable step that started, in
 * case it stopped before the event). Read from the audit trail, so it holds across restarts.
 * An enable followed by a Temporary Access Pass or a new password is how one person takes over
 * a dormant account: the four-eyes rule covers it.
 */
export function recentlyEnabled(store: Store, userId: string, now: Date): boolean {
  const since = new Date(now.getTime() - ENABLE_FOUR_EYES_MS).toISOString();
  const events = store.audit.query({ target: userId, since, action: 'technician.*' }, { limit: 10_000 });
  return events.some((e) => {
    if (e.action === 'technician.account-enabled') return true;
    if (e.action !== 'technician.plan-started') return false;
    const steps = (JSON.parse(e.details) as { steps?: unknown }).steps;
    return Array.isArray(steps) && steps.includes('enable');
  });
}
