import { snapshotPolicy } from '../../dialogs/access-policy';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import type { Store } from '../../store/store';
import type { TestClock } from '../support/harness';

/**
 * A known month of helpdesk history, written through the stores at controlled times, and the
 * numbers the report must show for it (last 30 days at {@link SEEDED_NOW}).
 */

export const SEEDED_NOW = '2026-03-31T12:00:00.000Z';

const catalog = loadCatalog();
const EMILY = { id: '957e5a6d-0c8b-4f46-aca9-a39f53ef71e8', name: 'Emily Chen' };
const SARAH = { id: 'e41b629b-bea9-48c7-87aa-7659b7d30756', name: 'Sarah Mitchell' };

function request(store: Store, clock: TestClock, resourceId: string, at: string) {
  clock.set(at);
  const resource = findResourceById(catalog, resourceId)!;
  return store.requests.create({
    requesterId: EMILY.id,
    requesterName: EMILY.name,
    resourceId,
    groupId: resource.groupId,
    durationHours: 24,
    justification: 'seeded',
    policy: snapshotPolicy(resource, new Map()),
    context: { userPrincipalName: 'emily.chen@northwind.example', department: 'Finance', jobTitle: 'Accountant', managerId: null, managerName: null, memberships: [] },
    extendsRequestId: null,
  });
}

function decide(store: Store, clock: TestClock, id: string, to: 'approved' | 'denied' | 'cancelled', at: string, grantedAt?: string) {
  clock.set(at);
  store.requests.closePending(id, to, SARAH);
  if (grantedAt) store.requests.markGranted(id, grantedAt, null);
}

function ticket(store: Store, clock: TestClock, type: 'signin' | 'provisioning' | 'report' | 'escalation' | 'job' | 'general', slaHours: number, at: string, closedAt?: string) {
  clock.set(at);
  const t = store.technician.tickets.create({ type, title: `Seeded ${type}`, text: 'seeded', facts: [], requester: EMILY, subject: EMILY, sourceRef: null, slaHours }, SARAH);
  if (closedAt) {
    clock.set(closedAt);
    store.technician.tickets.close(t.id, SARAH, 'done');
  }
  return t;
}

function issued(store: Store, clock: TestClock, action: string, at: string, outcome: 'success' | 'failure' = 'success') {
  clock.set(at);
  store.audit.append({ actor: SARAH, action, target: EMILY.id, outcome, details: {} });
}

function recovery(store: Store, clock: TestClock, flow: 'password' | 'mfa' | 'unlock', at: string) {
  clock.set(at);
  store.recovery.create({ userId: EMILY.id, userName: EMILY.name, flow, privileged: false, requirement: { slots: [['code']] }, expiresAt: new Date(Date.parse(at) + 15 * 60_000) });
}

/** Writes the history; leaves the clock at {@link SEEDED_NOW}. */
export function seedHistory(store: Store, clock: TestClock): void {
  // Access requests: decided after 2, 10, 24 and 4 hours; granted after 3, 25 and 4.5 hours.
  const r1 = request(store, clock, 'crm', '2026-03-05T10:00:00.000Z');
  decide(store, clock, r1.id, 'approved', '2026-03-05T12:00:00.000Z', '2026-03-05T13:00:00.000Z');
  const r2 = request(store, clock, 'crm', '2026-03-06T10:00:00.000Z');
  decide(store, clock, r2.id, 'denied', '2026-03-06T20:00:00.000Z');
  const r3 = request(store, clock, 'vpn', '2026-03-07T10:00:00.000Z');
  decide(store, clock, r3.id, 'approved', '2026-03-08T10:00:00.000Z', '2026-03-08T11:00:00.000Z');
  request(store, clock, 'vpn', '2026-03-10T10:00:00.000Z');
  const r5 = request(store, clock, 'payroll-reports', '2026-03-11T10:00:00.000Z');
  decide(store, clock, r5.id, 'cancelled', '2026-03-11T11:00:00.000Z');
  // Before the window: not counted.
  const r6 = request(store, clock, 'crm', '2026-02-01T10:00:00.000Z');
  decide(store, clock, r6.id, 'approved', '2026-02-02T10:00:00.000Z', '2026-02-02T11:00:00.000Z');
  const r7 = request(store, clock, 'crm', '2026-03-20T10:00:00.000Z');
  decide(store, clock, r7.id, 'approved', '2026-03-20T14:00:00.000Z', '2026-03-20T14:30:00.000Z');

  // Self-service recoveries: 3 password resets, 1 MFA recovery, 2 unlocks (and one before the window).
  for (const at of ['2026-03-02T08:00:00.000Z', '2026-03-09T08:00:00.000Z', '2026-03-30T08:00:00.000Z']) recovery(store, clock, 'password', at);
  recovery(store, clock, 'mfa', '2026-03-12T08:00:00.000Z');
  recovery(store, clock, 'unlock', '2026-03-13T08:00:00.000Z');
  recovery(store, clock, 'unlock', '2026-03-14T08:00:00.000Z');
  recovery(store, clock, 'password', '2026-02-20T08:00:00.000Z');

  // Secrets issued: 3 passwords, 3 passes (a failure and one before the window do not count).
  issued(store, clock, 'signin.password-reset', '2026-03-03T09:00:00.000Z');
  issued(store, clock, 'signin.password-reset', '2026-03-04T09:00:00.000Z');
  issued(store, clock, 'technician.password-reset', '2026-03-05T09:00:00.000Z');
  issued(store, clock, 'signin.tap-issued', '2026-03-06T09:00:00.000Z');
  issued(store, clock, 'technician.tap-issued', '2026-03-07T09:00:00.000Z');
  issued(store, clock, 'technician.tap-issued', '2026-03-08T09:00:00.000Z');
  issued(store, clock, 'technician.tap-issued', '2026-03-09T09:00:00.000Z', 'failure');
  issued(store, clock, 'technician.tap-issued', '2026-02-09T09:00:00.000Z');

  // Tickets: one met, one breached, two open past target, one open in time (and one before the window).
  ticket(store, clock, 'signin', 4, '2026-03-10T09:00:00.000Z', '2026-03-10T11:00:00.000Z');
  ticket(store, clock, 'provisioning', 8, '2026-03-11T09:00:00.000Z', '2026-03-12T09:00:00.000Z');
  ticket(store, clock, 'report', 4, '2026-03-29T09:00:00.000Z');
  ticket(store, clock, 'escalation', 24, '2026-03-31T10:00:00.000Z');
  ticket(store, clock, 'job', 24, '2026-03-25T12:00:00.000Z');
  ticket(store, clock, 'general', 24, '2026-02-10T09:00:00.000Z', '2026-02-11T09:00:00.000Z');
  clock.set(SEEDED_NOW);
}

/** What the report says about the seeded history. */
export const SEEDED_REPORT = {
  days: 30,
  from: '2026-03-01T12:00:00.000Z',
  to: SEEDED_NOW,
  volume: [
    { key: 'access', label: 'Access requests', count: 6 },
    { key: 'password', label: 'Password resets (self-service)', count: 3 },
    { key: 'mfa', label: 'MFA recoveries (self-service)', count: 1 },
    { key: 'unlock', label: 'Unlocks (self-service)', count: 2 },
    { key: 'tickets', label: 'Tickets', count: 5 },
  ],
  decision: { count: 4, medianHours: 4, p90Hours: 24 },
  fulfilment: { count: 3, medianHours: 4.5, p90Hours: 25 },
  sla: { met: 1, breached: 1, breachedOpen: 2 },
  issued: { passwords: 3, passes: 3 },
  topResources: [
    { id: 'crm', name: 'CRM', count: 3 },
    { id: 'vpn', name: 'VPN', count: 2 },
    { id: 'payroll-reports', name: 'Payroll Reports', count: 1 },
  ],
  queue: [
    { bucket: 'under 4 h', count: 1 },
    { bucket: '4 to 24 h', count: 0 },
    { bucket: '1 to 3 days', count: 1 },
    { bucket: '3 to 7 days', count: 1 },
    { bucket: 'over 7 days', count: 0 },
  ],
  ticketsByType: [
    { type: 'signin', count: 1 },
    { type: 'report', count: 1 },
    { type: 'provisioning', count: 1 },
    { type: 'escalation', count: 1 },
    { type: 'job', count: 1 },
  ],
};
