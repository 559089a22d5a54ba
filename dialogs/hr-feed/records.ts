import { createHash } from 'node:crypto';
import { MAX_DEPARTMENT_LENGTH, MAX_JOB_TITLE_LENGTH } from '../../directory/directory';

/**
 * The HR feed's record format and its parsers. A batch is a CSV file (header
 * `employee_id,upn,department,title,manager_upn,start_date,end_date,status`, columns in any
 * order) or a JSON array of objects with the same keys. Each line is checked on its own
 * here (fields, dates, status); what needs the directory or the rest of the batch (unknown
 * user, unknown manager, manager loops, duplicates) is checked in `validate.ts`.
 *
 * A problem with the file as a whole (not UTF-8, a missing or unknown column, an unclosed
 * quote, too many records) rejects it entirely: nothing in it is applied.
 */

export const HR_COLUMNS = ['employee_id', 'upn', 'department', 'title', 'manager_upn', 'start_date', 'end_date', 'status'] as const;
export type HrColumn = (typeof HR_COLUMNS)[number];

export const HR_STATUSES = ['active', 'leave', 'terminated'] as const;
export type HrStatus = (typeof HR_STATUSES)[number];

/** The most records one batch may hold; a bigger file is split by the sender. */
export const MAX_RECORDS = 5000;

/** One employee as HR states it, normalised. */
export interface HrRecord {
  employeeId: string;
  /** Lower case. */
  upn: string;
  department: string;
  /** Null when HR has none. */
  title: string | null;
  /** Lower case; null at the top of the organisation. */
  managerUpn: string | null;
  /** `YYYY-MM-DD`, a date in the feed's time zone. */
  startDate: string;
  endDate: string | null;
  status: HrStatus;
}

/** A line (a CSV record, or an element of a JSON array) as read, with its own problems. */
export interface ParsedLine {
  /** The CSV line the record starts on (the header is line 1); the 1-based position in a JSON array. */
  line: number;
  /** What the line says, for the report even when it is bad. */
  employeeId: string | null;
  upn: string | null;
  record: HrRecord | null;
  /** Why the line is rejected; empty when it is well formed. */
  problems: string[];
}

export type ParseResult = { ok: true; lines: ParsedLine[] } | { ok: false; error: string; line: number | null };

/** The record's content hash: equal hashes mean HR said exactly the same thing again. */
export function recordHash(r: HrRecord): string {
  return createHash('sha256')
    .update(JSON.stringify([r.employeeId, r.upn, r.department, r.title, r.managerUpn, r.startDate, r.endDate, r.status]))
    .digest('hex');
}

/** SHA-256 of the bytes received, kept with the batch. */
export function contentHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads a batch: `text/csv` or a JSON array. */
export function parseBatch(bytes: Buffer, format: 'csv' | 'json'): ParseResult {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, error: 'The file is not UTF-8 text.', line: null };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return format === 'csv' ? parseCsvBatch(text) : parseJsonBatch(text);
}

// ---- CSV -------------------------------------------------------------------------------------

interface CsvRow {
  line: number;
  fields: string[];
}

/**
 * RFC 4180: comma separated, fields optionally in double quotes (a quote inside doubled),
 * CRLF or LF line ends; blank lines are skipped. Throws on an unclosed quote or text after
 * a closing quote.
 */
export function readCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let rowLine = 1;
  let quoted = false;
  let wasQuoted = false;
  let i = 0;
  const endRow = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0]!.trim() === '' && !wasQuoted)) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    wasQuoted = false;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        // Only a separator or a line end may follow a closing quote (spaces before them are
        // skipped, as they are before an opening quote).
        while (text[i] === ' ' || text[i] === '\t') i++;
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') throw new CsvError(`text after a closing quote`, line);
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (field.trim() !== '') throw new CsvError('a quote in the middle of an unquoted field', line);
      field = '';
      quoted = true;
      wasQuoted = true;
      i++;
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRow();
      if (c === '\r' && text[i + 1] === '\n') i++;
      i++;
      line++;
      rowLine = line;
      continue;
    }
    field += c;
    i++;
  }
  if (quoted) throw new CsvError('a quoted field is never closed', rowLine);
  if (field !== '' || fields.length || wasQuoted) endRow();
  return rows;
}

export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'CsvError';
  }
}

function parseCsvBatch(text: string): ParseResult {
  let rows: CsvRow[];
  try {
    rows = readCsv(text);
  } catch (err) {
    const e = err as CsvError;
    return { ok: false, error: `Line ${e.line}: ${e.message}. Nothing in the file was applied.`, line: e.line };
  }
  const header = rows.shift();
  if (!header) return { ok: false, error: `The file is empty: it needs the header ${HR_COLUMNS.join(',')}.`, line: 1 };
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const missing = HR_COLUMNS.filter((c) => !names.includes(c));
  const unknown = names.filter((n) => !(HR_COLUMNS as readonly string[]).includes(n));
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (missing.length || unknown.length || twice.length) {
    const parts = [
      ...(missing.length ? [`missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`] : []),
      ...(unknown.length ? [`unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u.slice(0, 40)}"`).join(', ')}`] : []),
      ...(twice.length ? [`column${twice.length > 1 ? 's' : ''} given twice: ${[...new Set(twice)].join(', ')}`] : []),
    ];
    return { ok: false, error: `Header (line ${header.line}): ${parts.join('; ')}. The header must name exactly ${HR_COLUMNS.join(',')}. Nothing in the file was applied.`, line: header.line };
  }
  if (rows.length > MAX_RECORDS) return { ok: false, error: `${rows.length} records: at most ${MAX_RECORDS} per file. Split it. Nothing in the file was applied.`, line: null };
  const index = Object.fromEntries(HR_COLUMNS.map((c) => [c, names.indexOf(c)])) as Record<HrColumn, number>;
  return {
    ok: true,
    lines: rows.map((row) => {
      if (row.fields.length !== names.length) {
        const values = pick(row.fields, index);
        return { line: row.line, employeeId: shortOrNull(values.employee_id), upn: shortOrNull(values.upn), record: null, problems: [`has ${row.fields.length} fields; the header has ${names.length}`] };
      }
      return checkLine(row.line, pick(row.fields, index));
    }),
  };
}

function pick(fields: string[], index: Record<HrColumn, number>): Record<HrColumn, string | null> {
  return Object.fromEntries(HR_COLUMNS.map((c) => [c, fields[index[c]] ?? null])) as Record<HrColumn, string | null>;
}

// ---- JSON ------------------------------------------------------------------------------------

function parseJsonBatch(text: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `Not valid JSON (${(err as Error).message.slice(0, 120)}). Nothing was applied.`, line: null };
  }
  if (!Array.isArray(data)) return { ok: false, error: 'The JSON must be an array of records. Nothing was applied.', line: null };
  if (data.length > MAX_RECORDS) return { ok: false, error: `${data.length} records: at most ${MAX_RECORDS} per batch. Nothing was applied.`, line: null };
  return {
    ok: true,
    lines: data.map((item, i) => {
      const line = i + 1;
      if (!item || typeof item !== 'object' || Array.isArray(item)) return { line, employeeId: null, upn: null, record: null, problems: ['is not an object'] };
      const o = item as Record<string, unknown>;
      const problems: string[] = [];
      const values = {} as Record<HrColumn, string | null>;
      for (const c of HR_COLUMNS) {
        const v = o[c];
        if (!(c in o)) problems.push(`has no "${c}"`);
        if (v === null || v === undefined) values[c] = null;
        else if (typeof v === 'string') values[c] = v;
        else {
          problems.push(`"${c}" must be a string`);
          values[c] = null;
        }
      }
      const unknown = Object.keys(o).filter((k) => !(HR_COLUMNS as readonly string[]).includes(k));
      if (unknown.length) problems.push(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).map((u) => `"${u.slice(0, 40)}"`).join(', ')}`);
      const checked = checkLine(line, values);
      return problems.length ? { ...checked, record: null, problems: [...problems, ...checked.problems] } : checked;
    }),
  };
}

// ---- one line ----------------------------------------------------------------------------------

const EMPLOYEE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const UPN = /^[^\s@"<>(),;:\\]{1,128}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;
// Control characters, line breaks, and the invisible format characters that change how text
// reads without showing (zero width, direction overrides and isolates, a BOM inside a field):
// a department "Finance" with a zero-width space is another department.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

function shortOrNull(v: string | null | undefined): string | null {
  const t = v?.trim();
  return t ? t.slice(0, 256) : null;
}

/** A date `YYYY-MM-DD` that exists in the calendar (years 1900 to 2199), or why not. */
export function checkDate(value: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return 'is not a date in the form YYYY-MM-DD';
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1900 || y > 2199) return 'has a year outside 1900 to 2199';
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return 'is not a day of the calendar';
  return null;
}

/** Checks and normalises one line's fields. */
export function checkLine(line: number, v: Record<HrColumn, string | null>): ParsedLine {
  const problems: string[] = [];
  const val = (c: HrColumn) => (v[c] ?? '').trim();
  for (const c of HR_COLUMNS) {
    const raw = v[c] ?? '';
    if (raw.length > 256) problems.push(`${c} is longer than 256 characters`);
    else if (CONTROL.test(raw)) problems.push(`${c} contains control characters or line breaks`);
  }
  const employeeId = val('employee_id');
  const upn = val('upn').toLowerCase();
  const department = val('department').replace(/\s+/g, ' ');
  const title = val('title').replace(/\s+/g, ' ');
  const manager = val('manager_upn').toLowerCase();
  const startDate = val('start_date');
  const endDate = val('end_date');
  const status = val('status').toLowerCase();

  if (!employeeId) problems.push('employee_id is empty');
  else if (!EMPLOYEE_ID.test(employeeId)) problems.push(`employee_id "${employeeId.slice(0, 40)}" may hold only letters, digits, ".", "_" and "-" (at most 64)`);
  if (!upn) problems.push('upn is empty');
  else if (!UPN.test(upn)) problems.push(`upn "${upn.slice(0, 80)}" is not a sign-in name such as name@example.com`);
  if (!department) problems.push('department is empty');
  else if (department.length > MAX_DEPARTMENT_LENGTH) problems.push(`department is longer than ${MAX_DEPARTMENT_LENGTH} characters`);
  if (title.length > MAX_JOB_TITLE_LENGTH) problems.push(`title is longer than ${MAX_JOB_TITLE_LENGTH} characters`);
  if (manager && !UPN.test(manager)) problems.push(`manager_upn "${manager.slice(0, 80)}" is not a sign-in name such as name@example.com`);
  if (manager && manager === upn) problems.push('manager_upn is the employee themself (a manager loop)');
  if (!startDate) problems.push('start_date is empty');
  else {
    const bad = checkDate(startDate);
    if (bad) problems.push(`start_date "${startDate.slice(0, 20)}" ${bad}`);
  }
  if (endDate) {
    const bad = checkDate(endDate);
    if (bad) problems.push(`end_date "${endDate.slice(0, 20)}" ${bad}`);
    else if (startDate && !checkDate(startDate) && endDate < startDate) problems.push(`end_date ${endDate} is before start_date ${startDate}`);
  }
  if (!(HR_STATUSES as readonly string[]).includes(status)) problems.push(`status "${status.slice(0, 20)}" must be one of ${HR_STATUSES.join(', ')}`);

  const base = { line, employeeId: employeeId ? employeeId.slice(0, 64) : null, upn: upn ? upn.slice(0, 256) : null };
  if (problems.length) return { ...base, record: null, problems };
  return {
    ...base,
    problems,
    record: { employeeId, upn, department, title: title || null, managerUpn: manager || null, startDate, endDate: endDate || null, status: status as HrStatus },
  };
}
