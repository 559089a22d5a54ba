import { csvField } from './audit-export';
import type { Store } from './store';
import { TICKET_TYPES, type TicketType } from './technician';

/**
 * The helpdesk report over the last N days: request volume by type, time to decision and to
 * fulfilment of access requests (median and 90th percentile), ticket SLA met and breached,
 * temporary passwords and passes issued, the most requested resources and the open ticket
 * queue by age. Read-only SQL over the store; the chat card, the CSV and `npm run report`
 * all show these same numbers.
 *
 * Percentiles are nearest-rank: the value at position ceil(q * n) of the sorted values (the
 * median of an even count is the lower middle value).
 */

export interface Distribution {
  count: number;
  medianHours: number | null;
  p90Hours: number | null;
}

export interface Report {
  days: number;
  /** The window [from, to), ISO. */
  from: string;
  to: string;
  volume: Array<{ key: string; label: string; count: number }>;
  /** Access requests decided in the window: from the request to the final approval or denial. */
  decision: Distribution;
  /** Access granted in the window: from the request to the membership. */
  fulfilment: Distribution;
  /** Tickets closed in the window, met or breached; tickets open past their target at the end of the window. */
  sla: { met: number; breached: number; breachedOpen: number };
  issued: { passwords: number; passes: number };
  topResources: Array<{ id: string; name: string; count: number }>;
  /** Open tickets at the end of the window, by age. */
  queue: Array<{ bucket: string; count: number }>;
  ticketsByType: Array<{ type: TicketType; count: number }>;
}

export const RESET_ACTIONS = ['signin.password-reset', 'technician.password-reset'] as const;
export const PASS_ACTIONS = ['signin.tap-issued', 'technician.tap-issued'] as const;
const DECIDED_STATES = ['approved', 'granted', 'denied', 'failed', 'revoked', 'superseded'];
const HOUR = 3_600_000;
export const QUEUE_BUCKETS: Array<{ bucket: string; maxHours: number }> = [
  { bucket: 'under 4 h', maxHours: 4 },
  { bucket: '4 to 24 h', maxHours: 24 },
  { bucket: '1 to 3 days', maxHours: 72 },
  { bucket: '3 to 7 days', maxHours: 168 },
  { bucket: 'over 7 days', maxHours: Number.POSITIVE_INFINITY },
];

/** Nearest-rank percentile of `values` (any order); null when there are none. */
export function percentile(values: readonly number[], q: number): number | null {
  if (!values.length) return null;
  // A typed array sorts numbers natively, without a comparator call per comparison.
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

function distribution(hours: number[]): Distribution {
  const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  return { count: hours.length, medianHours: round(percentile(hours, 0.5)), p90Hours: round(percentile(hours, 0.9)) };
}

/**
 * The report for the window of `days` before `now`. Each table is read once, only the columns
 * the numbers need: one pass over the access requests gives the volume, the decisions, the
 * grants and the most requested resources; the tickets give only their type and times. (At a
 * hundred thousand requests and a million audit events this is the difference between
 * seconds and a fraction of one.)
 */
export function buildReport(store: Store, options: { days: number; now: Date; catalog?: { resources: Array<{ id: string; name: string }> } }): Report {
  const to = options.now.toISOString();
  const from = new Date(options.now.getTime() - options.days * 24 * HOUR).toISOString();
  const db = store.db;
  const inWindow = (v: unknown): boolean => typeof v === 'string' && v >= from && v < to;

  // Access requests: created, decided or granted in the window, in one pass.
  let accessCount = 0;
  const decidedHours: number[] = [];
  const grantedHours: number[] = [];
  const requested = new Map<string, number>();
  const requests = db
    .prepare(
      `SELECT created_at, closed_at, granted_at, state, resource_id FROM access_requests
       WHERE (created_at >= @from AND created_at < @to) OR (closed_at >= @from AND closed_at < @to) OR (granted_at >= @from AND granted_at < @to)`,
    )
    .raw()
    .iterate({ from, to }) as IterableIterator<[string, string | null, string | null, string, string]>;
  for (const [createdAt, closedAt, grantedAt, state, resourceId] of requests) {
    if (inWindow(createdAt)) {
      accessCount++;
      requested.set(resourceId, (requested.get(resourceId) ?? 0) + 1);
    }
    if (inWindow(closedAt) && DECIDED_STATES.includes(state)) decidedHours.push((Date.parse(closedAt!) - Date.parse(createdAt)) / HOUR);
    if (inWindow(grantedAt)) grantedHours.push((Date.parse(grantedAt!) - Date.parse(createdAt)) / HOUR);
  }

  const flows = new Map(
    (db.prepare('SELECT flow, count(*) AS n FROM recovery_sessions WHERE created_at >= ? AND created_at < ? GROUP BY flow').all(from, to) as Array<{ flow: string; n: number }>).map((r) => [r.flow, r.n]),
  );
  const openedByType = new Map(
    (db.prepare('SELECT type, count(*) AS n FROM tickets WHERE created_at >= ? AND created_at < ? GROUP BY type').all(from, to) as Array<{ type: TicketType; n: number }>).map((r) => [r.type, r.n]),
  );
  const opened = [...openedByType.values()].reduce((a, n) => a + n, 0);
  const volume = [
    { key: 'access', label: 'Access requests', count: accessCount },
    { key: 'password', label: 'Password resets (self-service)', count: flows.get('password') ?? 0 },
    { key: 'mfa', label: 'MFA recoveries (self-service)', count: flows.get('mfa') ?? 0 },
    { key: 'unlock', label: 'Unlocks (self-service)', count: flows.get('unlock') ?? 0 },
    { key: 'tickets', label: 'Tickets', count: opened },
  ];

  let met = 0;
  let breached = 0;
  for (const [closedAt, slaDueAt] of db.prepare('SELECT closed_at, sla_due_at FROM tickets WHERE closed_at >= ? AND closed_at < ?').raw().iterate(from, to) as IterableIterator<[string, string]>) {
    if (Date.parse(closedAt) <= Date.parse(slaDueAt)) met++;
    else breached++;
  }
  // The open queue as the ticket list shows it (its first 100,000), as of the end of the window.
  const openNow = (db.prepare(`SELECT created_at, sla_due_at FROM tickets WHERE state <> 'closed' ORDER BY sla_due_at, id LIMIT 100000`).raw().all() as Array<[string, string]>).filter(
    ([createdAt]) => createdAt < to,
  );
  const breachedOpen = openNow.filter(([, slaDueAt]) => slaDueAt < to).length;

  const actions = [...RESET_ACTIONS, ...PASS_ACTIONS];
  const issuedRows = db
    .prepare(`SELECT action, count(*) AS n FROM audit_events WHERE ts >= ? AND ts < ? AND outcome = 'success' AND action IN (${actions.map(() => '?').join(', ')}) GROUP BY action`)
    .all(from, to, ...actions) as Array<{ action: string; n: number }>;
  const sum = (list: readonly string[]) => issuedRows.filter((r) => list.includes(r.action)).reduce((a, r) => a + r.n, 0);

  // Most requested: by count, then id; the name from the catalog, else as the request recorded it.
  const top = [...requested].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, 5);
  const recordedName = db.prepare(`SELECT json_extract(policy, '$.name') FROM access_requests WHERE resource_id = ? AND created_at >= ? AND created_at < ? LIMIT 1`).pluck();

  const toMs = Date.parse(to);
  const queue = QUEUE_BUCKETS.map((b) => ({ bucket: b.bucket, count: 0 }));
  for (const [createdAt] of openNow) {
    const hours = (toMs - Date.parse(createdAt)) / HOUR;
    const i = QUEUE_BUCKETS.findIndex((b) => hours < b.maxHours);
    queue[i]!.count++;
  }

  return {
    days: options.days,
    from,
    to,
    volume,
    decision: distribution(decidedHours),
    fulfilment: distribution(grantedHours),
    sla: { met, breached, breachedOpen },
    issued: { passwords: sum(RESET_ACTIONS), passes: sum(PASS_ACTIONS) },
    topResources: top.map(([id, count]) => ({ id, name: options.catalog?.resources.find((c) => c.id === id)?.name ?? (recordedName.get(id, from, to) as string | null) ?? id, count })),
    queue,
    ticketsByType: TICKET_TYPES.map((type) => ({ type, count: openedByType.get(type) ?? 0 })).filter((x) => x.count > 0),
  };
}

/** One RFC 4180 cell, formula text neutralised the same way as the audit export's. */
function csvCell(v: string | number | null): string {
  return csvField(v);
}

/** The report as CSV: `section,item,value`, one number per row. */
export function reportCsv(r: Report): string {
  const rows: Array<[string, string, string | number | null]> = [
    ['period', 'from', r.from],
    ['period', 'to', r.to],
    ['period', 'days', r.days],
    ...r.volume.map((v): [string, string, number] => ['volume', v.label, v.count]),
    ['time to decision', 'decided', r.decision.count],
    ['time to decision', 'median hours', r.decision.medianHours],
    ['time to decision', 'p90 hours', r.decision.p90Hours],
    ['time to fulfilment', 'granted', r.fulfilment.count],
    ['time to fulfilment', 'median hours', r.fulfilment.medianHours],
    ['time to fulfilment', 'p90 hours', r.fulfilment.p90Hours],
    ['sla', 'met', r.sla.met],
    ['sla', 'breached', r.sla.breached],
    ['sla', 'breached and still open', r.sla.breachedOpen],
    ['issued', 'temporary passwords', r.issued.passwords],
    ['issued', 'temporary access passes', r.issued.passes],
    ...r.topResources.map((t): [string, string, number] => ['top resources', t.name, t.count]),
    ...r.queue.map((q): [string, string, number] => ['open queue by age', q.bucket, q.count]),
    ...r.ticketsByType.map((t): [string, string, number] => ['tickets by type', t.type, t.count]),
  ];
  return ['section,item,value', ...rows.map((row) => row.map(csvCell).join(','))].join('\n');
}
