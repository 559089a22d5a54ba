import type { DurationEntity, RecognizeContext } from './types';

/**
 * Durations in chat: relative spans ("for two weeks", "3d", "48 hours", "a fortnight") as a
 * number of hours, and calendar ends ("until Friday", "till end of month", "by the 15th",
 * "until 30 June") as the last day of access in the user's own time zone. Works on folded
 * (lowercase, accent-free) text and reports the character span it read, so the recognizer
 * can hide it from the intent classifier.
 */

export interface DurationMatch {
  entity: DurationEntity;
  index: number;
  length: number;
}

const NUMBER_WORDS: Record<string, number> = {
  zero: 0, a: 1, an: 1, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, twenty: 20, thirty: 30, ninety: 90,
  'a couple of': 2, 'couple of': 2, 'a couple': 2, 'a few': 3, few: 3, several: 3,
};

const UNIT_HOURS: Array<[RegExp, number]> = [
  [/^(?:h|hr|hrs|hour|hours)$/, 1],
  [/^(?:d|day|days)$/, 24],
  [/^(?:w|wk|wks|week|weeks)$/, 24 * 7],
  [/^(?:mo|mos|mth|mths|month|months)$/, 24 * 30],
  [/^(?:y|yr|yrs|year|years)$/, 24 * 365],
];

const NUM = `\\d+(?:\\.\\d+)?|a couple of|couple of|a couple|a few|few|several|${Object.keys(NUMBER_WORDS).filter((w) => !w.includes(' ') && !['few', 'several'].includes(w)).join('|')}`;
const UNIT = 'hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|mths?|years?|yrs?|y';
// Between the number and its unit one run of spaces, then maybe a hyphen and another run:
// `\s*-?\s*` split a long run of spaces in every way (quadratic).
// A minus sign ("for -3 days", "minus 2 weeks") is kept, so the flow can refuse what cannot be
// granted instead of reading it as its opposite; "covid-19 days" has no sign.
const RELATIVE = new RegExp(
  `(?:\\b(?:for|during|over|within)\\s+)?(?:\\bthe\\s+)?(?:\\b(?:next|coming|following)\\s+)?(?:(?<![\\w-])(?<sign>[-\\u2212\\u2013]\\s?|(?:minus|negative)\\s+)|\\b)(?<n>${NUM})\\s*(?:-\\s*)?(?<unit>${UNIT})\\b(?!\\s+ago)`,
  'g',
);
/** The longest span read as said (a million years): longer is read as this, and refused as too long by the flow. */
const LONGEST_HOURS = 24 * 365 * 1_000_000;
const FORTNIGHT = /\b(?:(?:for|during|over)\s+)?(?:a\s+|one\s+|the\s+next\s+)?fortnight\b/g;
const PERMANENT = /\b(?:permanent(?:ly)?|for\s+good|forever|indefinitely|(?:with\s+)?no\s+end\s+date|with\s+no\s+expiry)\b/g;

const WEEKDAYS: Record<string, number> = {
  sunday: 0, sun: 0, monday: 1, mon: 1, tuesday: 2, tues: 2, tue: 2, wednesday: 3, wed: 3, weds: 3,
  thursday: 4, thurs: 4, thur: 4, thu: 4, friday: 5, fri: 5, saturday: 6, sat: 6,
};
const MONTHS: Record<string, number> = {
  january: 1, jan: 1, february: 2, feb: 2, march: 3, mar: 3, april: 4, apr: 4, may: 5, june: 6, jun: 6,
  july: 7, jul: 7, august: 8, aug: 8, september: 9, sept: 9, sep: 9, october: 10, oct: 10, november: 11, nov: 11, december: 12, dec: 12,
};
const WEEKDAY = Object.keys(WEEKDAYS).join('|');
const MONTH = Object.keys(MONTHS).join('|');
const ORD = '(\\d{1,2})(?:st|nd|rd|th)?';
const UNTIL = "(?:until|till|til|'til|untill|untl|up\\s+(?:un)?til|through|thru|to|by|ending|ending\\s+on|for)";
const DATE_EXPR = [
  `(?<iso>\\d{4}-\\d{2}-\\d{2})`,
  `(?:the\\s+)?${ORD.replace('(\\d', '(?<dm_day>\\d')}(?:\\s+of)?\\s+(?<dm_month>${MONTH})(?:,?\\s+(?<dm_year>\\d{4}))?`,
  `(?<md_month>${MONTH})\\s+(?:the\\s+)?${ORD.replace('(\\d', '(?<md_day>\\d')}(?:,?\\s+(?<md_year>\\d{4}))?`,
  `(?:the\\s+)?end\\s+of\\s+(?:the\\s+|this\\s+)?(?<endNext>next\\s+)?(?<endOf>day|week|month|year|quarter)`,
  `(?<eox>eod|eow|eom|eoy|eoq|month\\s+end|week\\s+end|year\\s+end)`,
  `(?<dayAfter>(?:the\\s+)?day\\s+after\\s+tomorrow)`,
  `(?<yesterday>yesterday|yday)`,
  `(?<tomorrow>tomorrow|tmrw|tmr|tomorow|tommorow|tommorrow)`,
  `(?<today>today|tonight)`,
  `(?:(?<wdMod>this|next|coming)\\s+)?(?<weekday>${WEEKDAY})`,
  `the\\s+(?<dom>\\d{1,2})(?:st|nd|rd|th)`,
].join('|');
const CALENDAR = new RegExp(`\\b${UNTIL}\\s+(?:the\\s+)?(?:${DATE_EXPR})\\b`, 'g');

/** The patterns durations are found with, for the test that runs them over adversarial text. */
export const DURATION_PATTERNS: readonly RegExp[] = [RELATIVE, FORTNIGHT, PERMANENT, CALENDAR, ...UNIT_HOURS.map(([re]) => re)];

/** The first duration in `folded` text, or undefined. */
export function findDuration(folded: string, ctx: RecognizeContext = {}): DurationMatch | undefined {
  const found: DurationMatch[] = [];
  for (const m of folded.matchAll(PERMANENT)) found.push({ entity: { text: m[0], permanent: true }, index: m.index!, length: m[0].length });
  for (const m of folded.matchAll(FORTNIGHT)) found.push({ entity: { text: m[0], hours: 14 * 24 }, index: m.index!, length: m[0].length });
  for (const m of folded.matchAll(RELATIVE)) {
    const g = m.groups!;
    const n = NUMBER_WORDS[g.n!] ?? Number(g.n);
    const unit = UNIT_HOURS.find(([re]) => re.test(g.unit!))?.[1];
    if (!unit || Number.isNaN(n)) continue;
    // "for a/an" needs a spelled-out unit: "a d" is not a duration.
    if (/^(?:a|an)$/.test(g.n!) && g.unit!.length < 3) continue;
    // As said, however odd: zero, negative and absurdly long spans are the flow's to refuse.
    const hours = (g.sign ? -1 : 1) * Math.min(Math.round(n * unit * 100) / 100, LONGEST_HOURS);
    found.push({ entity: { text: m[0], hours: hours || 0 }, index: m.index!, length: m[0].length });
  }
  let today: LocalToday | undefined;
  for (const m of folded.matchAll(CALENDAR)) {
    today ??= localToday(ctx);
    // "for" only introduces a day ("for today"), not a date far away.
    const g = m.groups ?? {};
    if (/^for\b/.test(m[0]) && !(g.today || g.tomorrow)) continue;
    const date = resolveDate(g, today);
    if (!date) continue;
    found.push({ entity: { text: m[0], ...endOfDay(date, today) }, index: m.index!, length: m[0].length });
  }
  found.sort((a, b) => a.index - b.index || b.length - a.length);
  return found[0];
}

/** A calendar day. */
interface Ymd {
  y: number;
  m: number;
  d: number;
}

interface LocalToday extends Ymd {
  weekday: number;
  timeZone?: string;
  /** Fixed offset from UTC in minutes when only a local timestamp is known. */
  offsetMinutes?: number;
}

function resolveDate(g: Record<string, string | undefined>, today: LocalToday): Ymd | undefined {
  if (g.iso) {
    const [y, m, d] = g.iso.split('-').map(Number) as [number, number, number];
    return valid({ y, m, d });
  }
  if (g.dm_day || g.md_day) {
    const d = Number(g.dm_day ?? g.md_day);
    const m = MONTHS[(g.dm_month ?? g.md_month)!]!;
    const yearText = g.dm_year ?? g.md_year;
    let y = yearText ? Number(yearText) : today.y;
    if (!yearText && compare({ y, m, d }, today) < 0) y += 1;
    return valid({ y, m, d });
  }
  if (g.endOf || g.eox) {
    const what = g.endOf ?? { eod: 'day', eow: 'week', eom: 'month', eoy: 'year', eoq: 'quarter' }[g.eox!] ?? g.eox!.split(/\s+/)[0]!;
    const next = Boolean(g.endNext);
    switch (what) {
      case 'day':
        return addDays(today, next ? 1 : 0);
      case 'week': {
        // The end of a working week is its Friday; at the weekend, this week ends on Sunday.
        const index = weekdayIndex(today.weekday);
        if (next) return addDays(today, 7 - index + 4);
        return index <= 4 ? addDays(today, 4 - index) : addDays(today, 6 - index);
      }
      case 'month': {
        const m = today.m + (next ? 1 : 0);
        return lastDayOfMonth(today.y + Math.floor((m - 1) / 12), ((m - 1) % 12) + 1);
      }
      case 'quarter': {
        const q = Math.ceil(today.m / 3) + (next ? 1 : 0);
        const m = q * 3;
        return lastDayOfMonth(today.y + Math.floor((m - 1) / 12), ((m - 1) % 12) + 1);
      }
      case 'year':
        return { y: today.y + (next ? 1 : 0), m: 12, d: 31 };
      default:
        return undefined;
    }
  }
  if (g.dayAfter) return addDays(today, 2);
  // A day that has passed is still read, so the flow can say so.
  if (g.yesterday) return addDays(today, -1);
  if (g.tomorrow) return addDays(today, 1);
  if (g.today) return { y: today.y, m: today.m, d: today.d };
  if (g.weekday) {
    const target = WEEKDAYS[g.weekday]!;
    // "next Friday" is the Friday of next week (Monday to Sunday); "Friday" is the coming one.
    if (g.wdMod === 'next') return addDays(today, 7 - weekdayIndex(today.weekday) + weekdayIndex(target));
    return addDays(today, (target - today.weekday + 7) % 7);
  }
  if (g.dom) {
    const d = Number(g.dom);
    if (d < 1 || d > 31) return undefined;
    let y = today.y;
    let m = today.m;
    if (d < today.d) {
      m += 1;
      if (m > 12) {
        m = 1;
        y += 1;
      }
    }
    return valid({ y, m, d });
  }
  return undefined;
}

/** Monday = 0 ... Sunday = 6, for "this week" arithmetic. */
function weekdayIndex(weekday: number): number {
  return (weekday + 6) % 7;
}

function endOfDay(date: Ymd, today: LocalToday): Omit<DurationEntity, 'text'> {
  const untilDate = `${date.y}-${pad(date.m)}-${pad(date.d)}`;
  const offset = today.timeZone ? offsetMinutesAt(today.timeZone, date) : (today.offsetMinutes ?? 0);
  const until = `${untilDate}T23:59:59${formatOffset(offset)}`;
  return today.timeZone ? { untilDate, until, timeZone: today.timeZone } : { untilDate, until };
}

/**
 * Today's date where the user is. The user's own clock (`localTimestamp`) gives the date when
 * the message has one; the IANA zone gives the offset at the end date (summer time included),
 * else the timestamp's offset is used; without either, UTC.
 */
export function localToday(ctx: RecognizeContext): LocalToday {
  const now = ctx.now ?? new Date();
  const zone = ctx.timeZone && isTimeZone(ctx.timeZone) ? ctx.timeZone : undefined;
  const stamp = typeof ctx.localTimestamp === 'string' ? /^(\d{4})-(\d{2})-(\d{2})T[^Z+-]*(Z|[+-]\d{2}:?\d{2})$/.exec(ctx.localTimestamp.trim()) : null;
  if (stamp) {
    const ymd = { y: Number(stamp[1]), m: Number(stamp[2]), d: Number(stamp[3]) };
    if (valid(ymd)) {
      const where = zone ? { timeZone: zone } : { offsetMinutes: stamp[4] === 'Z' ? 0 : parseOffset(stamp[4]!) };
      return { ...ymd, weekday: weekdayOf(ymd), ...where };
    }
  }
  if (zone) {
    const parts = formatter(zone, 'date').formatToParts(now);
    const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
    const ymd = { y: get('year'), m: get('month'), d: get('day') };
    return { ...ymd, weekday: weekdayOf(ymd), timeZone: zone };
  }
  const ymd = { y: now.getUTCFullYear(), m: now.getUTCMonth() + 1, d: now.getUTCDate() };
  return { ...ymd, weekday: weekdayOf(ymd), offsetMinutes: 0 };
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Building a formatter costs far more than using one: keep one per zone. */
function formatter(zone: string, kind: 'date' | 'offset'): Intl.DateTimeFormat {
  const key = `${kind}:${zone}`;
  let f = formatters.get(key);
  if (!f) {
    f =
      kind === 'date'
        ? new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric' })
        : new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    if (formatters.size < 2000) formatters.set(key, f);
  }
  return f;
}

const zoneCache = new Map<string, boolean>();
function isTimeZone(zone: string): boolean {
  let ok = zoneCache.get(zone);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      ok = true;
    } catch {
      ok = false;
    }
    if (zoneCache.size < 1000) zoneCache.set(zone, ok);
  }
  return ok;
}

/** The zone's offset from UTC, in minutes, at 23:59:59 local time on `date`. */
function offsetMinutesAt(zone: string, date: Ymd): number {
  const fmt = formatter(zone, 'offset');
  const at = (ms: number) => {
    const name = fmt.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    return name === 'GMT' ? 0 : parseOffset(name.slice(3));
  };
  const local = Date.UTC(date.y, date.m - 1, date.d, 23, 59, 59);
  const first = at(local);
  return at(local - first * 60_000);
}

function parseOffset(text: string): number {
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function weekdayOf(d: Ymd): number {
  return new Date(Date.UTC(d.y, d.m - 1, d.d)).getUTCDay();
}

function addDays(d: Ymd, days: number): Ymd {
  const t = new Date(Date.UTC(d.y, d.m - 1, d.d + days));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

function lastDayOfMonth(y: number, m: number): Ymd {
  return { y, m, d: new Date(Date.UTC(y, m, 0)).getUTCDate() };
}

function valid(d: Ymd): Ymd | undefined {
  if (!(d.m >= 1 && d.m <= 12 && d.d >= 1)) return undefined;
  return d.d <= lastDayOfMonth(d.y, d.m).d ? d : undefined;
}

function compare(a: Ymd, b: Ymd): number {
  return a.y - b.y || a.m - b.m || a.d - b.d;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
