import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { AuditEvent, AuditFilter, AuditTrail, VerifyResult } from './audit-trail';

export type ExportFormat = 'csv' | 'jsonl';

export const CSV_COLUMNS = [
  'seq',
  'ts',
  'actor_id',
  'actor_name',
  'action',
  'target',
  'outcome',
  'details',
  'correlation_id',
  'prev_hash',
  'hash',
] as const;

/**
 * Streams the matching events to `out` as CSV or JSON lines, a page at a time and waiting
 * for the stream to drain, so memory stays flat on millions of events. Returns the count.
 */
export async function exportAudit(trail: AuditTrail, out: Writable, format: ExportFormat, filter: AuditFilter = {}): Promise<number> {
  let count = 0;
  let buffer = '';
  const flush = async () => {
    if (!buffer) return;
    const chunk = buffer;
    buffer = '';
    if (!out.write(chunk)) await once(out, 'drain');
  };
  if (format === 'csv') buffer += CSV_COLUMNS.join(',') + '\n';
  for (const e of trail.stream(filter)) {
    buffer += format === 'csv' ? csvLine(e) : jsonLine(e);
    count += 1;
    if (buffer.length >= 64 * 1024) await flush();
  }
  await flush();
  return count;
}

function jsonLine(e: AuditEvent): string {
  return (
    JSON.stringify({
      seq: e.seq,
      ts: e.ts,
      actorId: e.actorId,
      actorName: e.actorName,
      action: e.action,
      target: e.target,
      outcome: e.outcome,
      details: JSON.parse(e.details),
      correlationId: e.correlationId,
      prevHash: e.prevHash,
      hash: e.hash,
    }) + '\n'
  );
}

function csvLine(e: AuditEvent): string {
  return (
    [e.seq, e.ts, e.actorId, e.actorName, e.action, e.target, e.outcome, e.details, e.correlationId, e.prevHash, e.hash]
      .map(csvField)
      .join(',') + '\n'
  );
}

/**
 * One RFC 4180 field. Text that a spreadsheet would run as a formula (leading `=`, `+`,
 * `-`, `@`, tab or carriage return, also after leading spaces, which spreadsheets skip)
 * gets a leading apostrophe, since auditors open these files in spreadsheets.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A cell a spreadsheet would evaluate: a formula starter, possibly after white space. */
const FORMULA_START = /^(?:\s*[=+\-@]|[\t\r])/;

/** Renders one event as a single readable line (for `tail`). */
export function formatEventLine(e: AuditEvent): string {
  const actor = e.actorName ? `${e.actorName} (${e.actorId ?? 'unknown id'})` : (e.actorId ?? 'unknown');
  const details = e.details === '{}' ? '' : ` ${e.details}`;
  const corr = e.correlationId ? ` [${e.correlationId}]` : '';
  return `#${e.seq} ${e.ts} ${e.outcome.toUpperCase()} ${e.action} by ${actor}${e.target ? ` on ${e.target}` : ''}${details}${corr}`;
}

/**
 * Parses a time bound: an ISO date or date-time, or a span back from `now` such as `24h`,
 * `7d`, `2w`. Returns an ISO timestamp or throws with a message fit for the user.
 */
export function parseTimeBound(value: string, now: Date = new Date()): string {
  const span = /^(\d{1,5})([mhdw])$/.exec(value.trim());
  if (span) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[span[2] as 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - Number(span[1]) * unit).toISOString();
  }
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    throw new Error(`"${value}" is not a time: use 2026-11-01, 2026-11-01T09:00:00Z, or a span such as 24h, 7d, 2w`);
  }
  const t = Date.parse(value.trim());
  if (Number.isNaN(t)) throw new Error(`"${value}" is not a valid date`);
  // Date.parse rolls 2026-02-30 over to March 2: a day the month does not have is refused.
  const [y, m, d] = value.trim().slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) throw new Error(`"${value}" is not a valid date`);
  return new Date(t).toISOString();
}

/**
 * Comment lines that head a verified CSV export: the chain's verification result and the
 * filter. CSV readers skip them with a comment character of `#` (pandas `comment='#'`).
 */
export function verificationHeader(result: VerifyResult, filter: AuditFilter = {}): string[] {
  const chain = result.ok
    ? `intact, ${result.count} events, head ${result.headSeq}:${result.headHash}`
    : `BROKEN at event ${result.firstBadSeq}: ${result.reason} (${result.count} events verified before it)`;
  const parts = Object.entries(filter)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v).replace(/[\r\n]/g, ' ')}`);
  return ['# Northwind IAM Helpdesk audit export', `# chain: ${chain}`, `# filter: ${parts.length ? parts.join(' ') : 'none'}`];
}
