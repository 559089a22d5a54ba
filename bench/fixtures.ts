import Database from 'better-sqlite3';
import { addHours } from '../dialogs/access-duration';
import { checkRequest, heldResources, resolveStageApprovers, snapshotPolicy } from '../dialogs/access-policy';
import { ACCESS_JOBS } from '../dialogs/access-service';
import { DEFAULT_CATALOG_FILE, findResourceById, loadCatalog } from '../directory/catalog';
import { loadDemoTenant } from '../directory/demo-tenant';
import type { DirectoryUser } from '../directory/directory';
import { LocalDirectory } from '../directory/local-directory';
import { openStore } from '../store/store';
import type { BenchUser } from './scenarios';

/**
 * What the write and card-action turns need before the bot starts, prepared on the bot's own
 * database and demo directory files:
 *
 * - requesters for the write turns, each with a resource the access policy lets them ask
 *   for (so every submit is accepted and every cancel has a request to withdraw);
 * - managers with requests waiting for their approval, so every Approve decides a fresh one.
 *
 * The waiting requests are written through the store as a submit writes them (the request
 * with its policy snapshot and requester context, the stage's approver, the
 * `access.requested` event, the reminder, escalation and expiry jobs), without the policy's
 * one-request-per-resource rule: a few dozen demo users could not otherwise have thousands
 * of requests waiting. Their approval cards are not sent; the clicks carry what those cards
 * carry (verb, request id, stage).
 */

export interface WritePair {
  user: BenchUser;
  resourceId: string;
}

export interface Approver {
  manager: BenchUser;
  /** Requests waiting for this manager's approval. */
  requestIds: string[];
}

export interface TurnFixtures {
  /** Everyone who can use the bot (for `help`). */
  users: BenchUser[];
  writePairs: WritePair[];
  approvers: Approver[];
  tenantId: string;
  /** The demo's employee persona (an ordinary user). */
  employeeId: string;
}

/** Resources approvers are seeded with: one stage, the requester's manager. */
const APPROVAL_RESOURCES = ['vpn', 'expense-reporting'];
/** Resources the write turns ask for (not the approval ones, and no two incompatible with each other). */
const WRITE_RESOURCES = ['crm', 'source-code', 'warehouse-devices', 'erp-finance', 'production-admin', 'payroll-reports'];
const JUSTIFICATION = 'Quarter-end reconciliation';

export async function prepareTurnFixtures(
  files: { database: string; directory: string },
  want: { writePairs: number; approvers: number; waitingPerApprover: number; clock?: () => Date },
): Promise<TurnFixtures> {
  const tenant = loadDemoTenant();
  const catalog = loadCatalog(DEFAULT_CATALOG_FILE);
  const clock = want.clock ?? (() => new Date());
  const store = openStore(files.database, clock);
  const directory = LocalDirectory.open(files.directory, tenant);
  try {
    const enabled: DirectoryUser[] = [];
    for (const u of tenant.users) {
      const user = await directory.getUser(u.id);
      if (user?.accountEnabled) enabled.push(user);
    }
    const managerOf = new Map<string, DirectoryUser>();
    for (const u of enabled) {
      const m = await directory.getManager(u.id);
      if (m?.accountEnabled) managerOf.set(u.id, m);
    }
    // Approving managers: those with the most enabled reports, until their reports make up
    // half the requesters; everyone else asks for access in the write turns.
    const reportsOf = new Map<string, DirectoryUser[]>();
    for (const u of enabled) {
      const m = managerOf.get(u.id);
      if (m) reportsOf.set(m.id, [...(reportsOf.get(m.id) ?? []), u]);
    }
    const managers = [...reportsOf.keys()].sort((a, b) => reportsOf.get(b)!.length - reportsOf.get(a)!.length || a.localeCompare(b));
    const approving: string[] = [];
    const seedRequesters = new Set<string>();
    for (const m of managers) {
      if (seedRequesters.size >= enabled.length / 2) break;
      approving.push(m);
      for (const r of reportsOf.get(m)!) seedRequesters.add(r.id);
    }

    // Write pairs: users who are nobody's seeded requester, each resource checked by the policy.
    const byUser: WritePair[][] = [];
    for (const u of enabled.filter((x) => !seedRequesters.has(x.id))) {
      const mine: WritePair[] = [];
      for (const resourceId of WRITE_RESOURCES) {
        const resource = findResourceById(catalog, resourceId)!;
        if (await checkRequest({ directory, store, catalog }, u, resource, resource.defaultHours, JUSTIFICATION)) continue;
        const policy = snapshotPolicy(resource, new Map());
        if (!(await resolveStageApprovers(directory, u, policy.stages[0]!, policy, tenant.technicianGroupId)).length) continue;
        mine.push({ user: { id: u.id, displayName: u.displayName }, resourceId });
      }
      byUser.push(mine);
    }
    // Spread over users first: everyone gets a first resource before anyone gets a second.
    const pairs: WritePair[] = [];
    for (let k = 0; pairs.length < want.writePairs && byUser.some((m) => m.length > k); k++) {
      for (const mine of byUser) if (mine[k] && pairs.length < want.writePairs) pairs.push(mine[k]!);
    }
    if (pairs.length < want.writePairs) throw new Error(`only ${pairs.length} requester/resource pairs pass the access policy; ${want.writePairs} wanted`);

    // Requests waiting for each approving manager (clients beyond the managers share them).
    const approvers: Approver[] = [];
    for (let i = 0; i < want.approvers; i++) {
      const manager = enabled.find((u) => u.id === approving[i % approving.length])!;
      approvers.push({ manager: { id: manager.id, displayName: manager.displayName }, requestIds: [] });
    }
    const held = new Map<string, string[]>();
    for (const id of seedRequesters) held.set(id, (await heldResources(directory, catalog, id)).map((r) => r.name));
    store.transaction(() => {
      for (let n = 0; n < want.waitingPerApprover; n++) {
        for (const a of approvers) {
          const reports = reportsOf.get(a.manager.id)!;
          const requester = reports[n % reports.length]!;
          const manager = managerOf.get(requester.id)!;
          const resource = findResourceById(catalog, APPROVAL_RESOURCES[n % APPROVAL_RESOURCES.length]!)!;
          const policy = snapshotPolicy(resource, new Map());
          const r = store.requests.create({
            requesterId: requester.id,
            requesterName: requester.displayName,
            resourceId: resource.id,
            groupId: resource.groupId,
            durationHours: resource.defaultHours,
            endsAt: null,
            justification: null,
            policy,
            context: {
              userPrincipalName: requester.userPrincipalName,
              department: requester.department,
              jobTitle: requester.jobTitle,
              managerId: manager.id,
              managerName: manager.displayName,
              memberships: held.get(requester.id) ?? [],
            },
            extendsRequestId: null,
          });
          store.requests.addApprover({ requestId: r.id, stage: 1, approverId: manager.id, approverName: manager.displayName, source: 'policy' });
          store.audit.append({
            actor: { id: requester.id, name: requester.displayName },
            action: 'access.requested',
            target: r.id,
            outcome: 'success',
            correlationId: r.id,
            details: {
              resource: resource.id,
              groupId: resource.groupId,
              risk: resource.risk,
              durationHours: resource.defaultHours,
              endsAt: null,
              justification: null,
              stages: policy.stages.map((s) => s.title),
              approvers: [{ id: manager.id, name: manager.displayName, source: 'policy' }],
              extendsRequestId: null,
              turn: 'bench-fixture',
            },
          });
          const now = clock();
          const job = (kind: string, runAt: Date, payload: Record<string, unknown>, key: string) =>
            store.jobs.schedule({ kind, requestId: r.id, runAt, payload, dedupeKey: `${key}:${r.id}${payload.stage ? ':1' : ''}`, maxAttempts: 5 });
          job(ACCESS_JOBS.remind, addHours(now, 24), { stage: 1 }, 'remind');
          job(ACCESS_JOBS.escalate, addHours(now, 72), { stage: 1 }, 'escalate');
          job(ACCESS_JOBS.expireRequest, addHours(now, 14 * 24), {}, 'expire');
          a.requestIds.push(r.id);
        }
      }
    });
    return {
      users: enabled.map((u) => ({ id: u.id, displayName: u.displayName })),
      writePairs: pairs,
      approvers,
      tenantId: tenant.tenantId,
      employeeId: tenant.personas.employee,
    };
  } finally {
    directory.close();
    store.close();
  }
}

/** Audit events by action in a helpdesk database (read while the bot may be running). */
export function auditCounts(file: string): Map<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    return new Map((db.prepare('SELECT action, count(*) AS n FROM audit_events GROUP BY action').all() as Array<{ action: string; n: number }>).map((r) => [r.action, r.n]));
  } finally {
    db.close();
  }
}
