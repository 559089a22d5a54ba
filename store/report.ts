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
export function percentile(values: number[], q: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

function distribution(hours: number[]): Distribution {
  const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  return { count: hours.length, medianHours: round(percentile(hours, 0.5)), p90Hours: round(percentile(hours, 0.9)) };
}

export function buildReport(store: Store, options: { days: number; now: Date; catalog?: { resources: Array<{ id: string; name: string }> } }): Report {
  const to = options.now.toISOString();
  const from = new Date(options.now.getTime() - options.days * 24 * HOUR).toISOString();
  const db = store.db;

  const accessCount = (db.prepare('SELECT count(*) AS n FROM access_requests WHERE created_at >= ? AND created_at < ?').get(from, to) as { n: number }).n;
  const flows = new Map(
    (db.prepare('SELECT flow, count(*) AS n FROM recovery_sessions WHERE created_at >= ? AND created_at < ? GROUP BY flow').all(from, to) as Array<{ flow: string; n: number }>).map((r) => [r.flow, r.n]),
  );
  const opened = store.technician.tickets.openedBetween(from, to);
  const volume = [
    { key: 'access', label: 'Access requests', count: accessCount },
    { key: 'password', label: 'Password resets (self-service)', count: flows.get('password') ?? 0 },
    { key: 'mfa', label: 'MFA recoveries (self-service)', count: flows.get('mfa') ?? 0 },
    { key: 'unlock', label: 'Unlocks (self-service)', count: flows.get('unlock') ?? 0 },
    { key: 'tickets', label: 'Tickets', count: opened.length },
  ];

  const decided = db
    .prepare(`SELECT created_at, closed_at FROM access_requests WHERE closed_at >= ? AND closed_at < ? AND state IN (${DECIDED_STATES.map(() => '?').join(', ')})`)
    .all(from, to, ...DECIDED_STATES) as Array<{ created_at: string; closed_at: string }>;
  const granted = db.prepare('SELECT created_at, granted_at FROM access_requests WHERE granted_at >= ? AND granted_at < ?').all(from, to) as Array<{ created_at: string; granted_at: string }>;

  const closed = store.technician.tickets.closedBetween(from, to);
  let met = 0;
  let breached = 0;
  for (const t of closed) {
    if (Date.parse(t.closedAt!) <= Date.parse(t.slaDueAt)) met++;
    else breached++;
  }
  const openNow = store.technician.tickets.listOpen(100_000).filter((t) => t.createdAt < to);
  const breachedOpen = openNow.filter((t) => t.slaDueAt < to).length;

  const actions = [...RESET_ACTIONS, ...PASS_ACTIONS];
  const issuedRows = db
    .prepare(`SELECT action, count(*) AS n FROM audit_events WHERE ts >= ? AND ts < ? AND outcome = 'success' AND action IN (${actions.map(() => '?').join(', ')}) GROUP BY action`)
    .all(from, to, ...actions) as Array<{ action: string; n: number }>;
  const sum = (list: readonly string[]) => issuedRows.filter((r) => list.includes(r.action)).reduce((a, r) => a + r.n, 0);

  const top = db
    .prepare(
      `SELECT resource_id AS id, json_extract(policy, '$.name') AS name, count(*) AS n FROM access_requests
       WHERE created_at >= ? AND created_at < ? GROUP BY resource_id ORDER BY n DESC, resource_id LIMIT 5`,
    )
    .all(from, to) as Array<{ id: string; name: string | null; n: number }>;

  const toMs = Date.parse(to);
  const queue = QUEUE_BUCKETS.map((b) => ({ bucket: b.bucket, count: 0 }));
  for (const t of openNow) {
    const hours = (toMs - Date.parse(t.createdAt)) / HOUR;
    const i = QUEUE_BUCKETS.findIndex((b) => hours < b.maxHours);
    queue[i]!.count++;
  }

  return {
    days: options.days,
    from,
    to,
    volume,
    decision: distribution(decided.map((r) => (Date.parse(r.closed_at) - Date.parse(r.created_at)) / HOUR)),
    fulfilment: distribution(granted.map((r) => (Date.parse(r.granted_at) - Date.parse(r.created_at)) / HOUR)),
    sla: { met, breached, breachedOpen },
    issued: { passwords: sum(RESET_ACTIONS), passes: sum(PASS_ACTIONS) },
    topResources: top.map((r) => ({ id: r.id, name: options.catalog?.resources.find((c) => c.id === r.id)?.name ?? r.name ?? r.id, count: r.n })),
    queue,
    ticketsByType: TICKET_TYPES.map((type) => ({ type, count: opened.filter((t) => t.type === type).length })).filter((x) => x.count > 0),
  };
}

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
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
