import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Catalog } from './catalog';

/**
 * Access reviews that start by themselves: data (`review-schedules.json` next to this module,
 * or the file `REVIEW_SCHEDULES_PATH` names), validated at start-up. Each schedule names what
 * to review, who reviews, how often (one-time, weekly, monthly, quarterly, half-yearly,
 * yearly, counted from `start`), how long reviewers have, and what happens to undecided
 * items at the close. A bad file stops the start with every problem, each with its line.
 */

/** Where the bundled schedules live (next to this module, in the sources and in `dist/`). */
export const DEFAULT_REVIEW_SCHEDULES_FILE = path.join(__dirname, 'review-schedules.json');

export const RECURRENCES = ['one-time', 'weekly', 'monthly', 'quarterly', 'half-yearly', 'yearly'] as const;
export type Recurrence = (typeof RECURRENCES)[number];

export type ScheduleScope = { kind: 'group'; groupId: string } | { kind: 'resource'; resourceId: string } | { kind: 'department'; department: string };
export type ScheduleReviewer = { kind: 'manager' } | { kind: 'owner' } | { kind: 'group'; groupId: string } | { kind: 'user'; userId: string };

export interface ReviewSchedule {
  /** Stable key: the memory of which occurrences ran is kept under it. */
  id: string;
  name: string;
  scope: ScheduleScope;
  reviewer: ScheduleReviewer;
  recurrence: Recurrence;
  /** The first occurrence (ISO); later ones are counted from it. */
  start: string;
  /** No occurrence after this (ISO), or null. */
  end: string | null;
  dueInDays: number;
  autoApply: 'deny' | 'keep' | 'none';
  inactiveDays: number | null;
  enabled: boolean;
}

export interface ReviewSchedules {
  schedules: ReviewSchedule[];
}

export class ReviewScheduleError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid access review schedules ${source}:\n  - ${problems.slice(0, 20).join('\n  - ')}`);
    this.name = 'ReviewScheduleError';
  }
}

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lowercase GUID');
/** `2026-02-16` (09:00 UTC) or a full ISO time with a zone. */
const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/, 'must be a date (2026-02-16) or a time with its zone (2026-02-16T09:00:00Z)')
  .refine(validInstant, 'is not a valid date');

/** The calendar date and the clock time exist (Date.parse would roll 30 February over into March). */
function validInstant(v: string): boolean {
  const [y, m, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  if (m < 1 || m > 12 || d < 1 || d > new Date(Date.UTC(y, m, 0)).getUTCDate()) return false;
  const time = /T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(v);
  if (time && (Number(time[1]) > 23 || Number(time[2]) > 59 || Number(time[3] ?? 0) > 59)) return false;
  return !Number.isNaN(Date.parse(v.length === 10 ? `${v}T09:00:00Z` : v));
}

const scheduleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,59}$/, 'must be lowercase letters, digits and dashes (at most 60)'),
    name: z.string().trim().min(1).max(120),
    scope: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('group'), groupId: guid }).strict(),
      z.object({ kind: z.literal('resource'), resourceId: z.string().min(1).max(40) }).strict(),
      z.object({ kind: z.literal('department'), department: z.string().trim().min(1).max(100) }).strict(),
    ]),
    reviewer: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('manager') }).strict(),
      z.object({ kind: z.literal('owner') }).strict(),
      z.object({ kind: z.literal('group'), groupId: guid }).strict(),
      z.object({ kind: z.literal('user'), userId: guid }).strict(),
    ]),
    recurrence: z.enum(RECURRENCES),
    start: instant,
    end: instant.optional(),
    dueInDays: z.number().int().min(1).max(180),
    autoApply: z.enum(['deny', 'keep', 'none']),
    inactiveDays: z.number().int().min(1).max(3650).optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

const fileSchema = z.object({ $comment: z.string().optional(), schedules: z.array(scheduleSchema).max(200) }).strict();

/** Days between occurrences at least (months counted short), to check a campaign ends before the next starts. */
const PERIOD_DAYS: Record<Recurrence, number> = { 'one-time': Infinity, weekly: 7, monthly: 28, quarterly: 89, 'half-yearly': 181, yearly: 365 };
const MONTHS: Partial<Record<Recurrence, number>> = { monthly: 1, quarterly: 3, 'half-yearly': 6, yearly: 12 };

function toIso(v: string): string {
  return new Date(v.length === 10 ? `${v}T09:00:00Z` : v).toISOString();
}

/** Validates schedule data. `text` (the file as written) lets problems name their line. */
export function parseReviewSchedules(data: unknown, options: { source?: string; catalog?: Catalog; text?: string } = {}): ReviewSchedules {
  const source = options.source ?? 'review schedules';
  const lines = options.text ? jsonLines(options.text) : null;
  const where = (p: ReadonlyArray<string | number>) => {
    const shown = p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), '') || 'file';
    let line: number | undefined;
    for (let n = p.length; n >= 0 && line === undefined; n--) line = lines?.get(p.slice(0, n).join('.'));
    return line ? `line ${line}, ${shown}` : shown;
  };
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) throw new ReviewScheduleError(source, parsed.error.issues.map((i) => `${where(i.path)}: ${i.message}`));
  const problems: string[] = [];
  const ids = new Set<string>();
  parsed.data.schedules.forEach((s, i) => {
    if (ids.has(s.id)) problems.push(`${where(['schedules', i, 'id'])}: "${s.id}" is used by an earlier schedule`);
    ids.add(s.id);
    if (s.scope.kind === 'resource' && options.catalog && !options.catalog.resources.some((r) => r.id === (s.scope as { resourceId: string }).resourceId)) {
      problems.push(`${where(['schedules', i, 'scope', 'resourceId'])}: the catalog has no resource "${s.scope.resourceId}"`);
    }
    if (s.end && Date.parse(toIso(s.end)) < Date.parse(toIso(s.start))) problems.push(`${where(['schedules', i, 'end'])}: is before start`);
    if (s.dueInDays >= PERIOD_DAYS[s.recurrence]) {
      problems.push(`${where(['schedules', i, 'dueInDays'])}: ${s.dueInDays} days is not shorter than the ${s.recurrence} period: a campaign must close before the next starts`);
    }
  });
  if (problems.length) throw new ReviewScheduleError(source, problems);
  return {
    schedules: parsed.data.schedules.map((s) => ({
      id: s.id,
      name: s.name,
      scope: s.scope,
      reviewer: s.reviewer,
      recurrence: s.recurrence,
      start: toIso(s.start),
      end: s.end ? toIso(s.end) : null,
      dueInDays: s.dueInDays,
      autoApply: s.autoApply,
      inactiveDays: s.inactiveDays ?? null,
      enabled: s.enabled ?? true,
    })),
  };
}

/** Reads and validates a schedules file; throws {@link ReviewScheduleError} listing every problem with its line. */
export function loadReviewSchedules(file: string = DEFAULT_REVIEW_SCHEDULES_FILE, catalog?: Catalog): ReviewSchedules {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ReviewScheduleError(file, [`cannot read it: ${(e as Error).message}`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message)?.[1];
    const offset = at !== undefined ? Number(at) : jsonErrorOffset(text);
    const line = offset !== null ? text.slice(0, offset).split('\n').length : null;
    throw new ReviewScheduleError(file, [`${line ? `line ${line}: ` : ''}not valid JSON: ${message}`]);
  }
  return parseReviewSchedules(data, { source: file, catalog, text });
}

/**
 * The `n`-th occurrence (0 is `start`): weeks are added, months counted on the start's day of
 * the month (the 31st becomes the last day of shorter months). Null past the end.
 */
export function occurrenceAt(s: ReviewSchedule, n: number): Date | null {
  if (n < 0 || (s.recurrence === 'one-time' && n > 0)) return null;
  const start = new Date(s.start);
  let at: Date;
  if (s.recurrence === 'weekly' || s.recurrence === 'one-time') at = new Date(start.getTime() + n * 7 * 86_400_000);
  else {
    const months = start.getUTCMonth() + n * MONTHS[s.recurrence]!;
    const year = start.getUTCFullYear() + Math.floor(months / 12);
    const month = months % 12;
    const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    at = new Date(Date.UTC(year, month, Math.min(start.getUTCDate(), lastDay), start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds(), start.getUTCMilliseconds()));
  }
  if (s.end && at.getTime() > Date.parse(s.end)) return null;
  return at;
}

/** The first occurrence at or after `from`, or null when there is none. */
export function nextOccurrence(s: ReviewSchedule, from: Date): Date | null {
  for (let n = estimate(s, from); ; n++) {
    const at = occurrenceAt(s, n);
    if (!at) return null;
    if (at.getTime() >= from.getTime()) return at;
  }
}

/** The last occurrence before `before`, or null. */
export function previousOccurrence(s: ReviewSchedule, before: Date): Date | null {
  let n = Math.max(0, estimate(s, before) - 1);
  // Past the end: walk back to the last occurrence there is.
  while (n > 0 && !occurrenceAt(s, n)) n--;
  let last: Date | null = null;
  for (; ; n++) {
    const at = occurrenceAt(s, n);
    if (!at || at.getTime() >= before.getTime()) return last;
    last = at;
  }
}

/** Whether `at` is exactly one of the schedule's occurrences. */
export function isOccurrence(s: ReviewSchedule, at: Date): boolean {
  return nextOccurrence(s, at)?.getTime() === at.getTime();
}

/** An index a little before the occurrence near `at`, so the walks above stay short. */
function estimate(s: ReviewSchedule, at: Date): number {
  const days = (at.getTime() - Date.parse(s.start)) / 86_400_000;
  if (days <= 0 || s.recurrence === 'one-time') return 0;
  const per = s.recurrence === 'weekly' ? 7 : MONTHS[s.recurrence]! * 31;
  return Math.max(0, Math.floor(days / per) - 1);
}

/**
 * The line of every value in a JSON text, by its path (`schedules.0.scope.kind`); the file
 * itself is ''. Only called on text that already parsed.
 */
export function jsonLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let i = 0;
  let line = 1;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) {
      if (text[i] === '\n') line++;
      i++;
    }
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (p: string): void => {
    ws();
    out.set(p, line);
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const keyLine = line;
        const key = str();
        ws();
        i++; // :
        const child = p ? `${p}.${key}` : key;
        value(child);
        // A key's problem is reported on the line of the key.
        out.set(child, Math.min(out.get(child) ?? keyLine, keyLine));
        ws();
        if (text[i++] === '}') return;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(p ? `${p}.${n}` : String(n));
        ws();
        if (text[i++] === ']') return;
      }
    }
    if (c === '"') {
      str();
      return;
    }
    while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
  };
  value('');
  return out;
}

/** Where a JSON text stops being JSON (an offset), or null when it is valid: for the line of a syntax error. */
export function jsonErrorOffset(text: string): number | null {
  let i = 0;
  class Stop extends Error {}
  const fail = (): never => {
    throw new Stop();
  };
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const str = () => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i]! < ' ') fail();
      i += text[i] === '\\' ? 2 : 1;
    }
    if (text[i] !== '"') fail();
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          str();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] !== close) fail();
        i++;
        return;
      }
    }
    if (c === '"') return str();
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value();
    ws();
    return i < text.length ? i : null;
  } catch (e) {
    if (e instanceof Stop) return Math.min(i, text.length);
    throw e;
  }
}
