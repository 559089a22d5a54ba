/**
 * Durations as people say them ("two weeks", "3 days", "a month", "permanently") and as
 * the helpdesk shows them. A duration is a whole number of hours; `null` means permanent.
 */

const NUMBER_WORDS: Record<string, number> = {
  zero: 0, a: 1, an: 1, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, twenty: 20, thirty: 30, couple: 2, few: 3,
};

const UNIT_HOURS: Record<string, number> = { minute: 1 / 60, hour: 1, day: 24, week: 24 * 7, fortnight: 24 * 14, month: 24 * 30, year: 24 * 365 };

/**
 * The longest duration read as said: anything longer is read as this (a million years), so
 * that an absurd number is still refused as too long rather than overflowing.
 */
export const LONGEST_HOURS = 24 * 365 * 1_000_000;

// Linear over any text (a card field or a whole message): each run of marks, spaces or digits
// is tried from its start or as a whole only (the lookarounds), never from every position in
// it, and a number word is at most 12 letters.
const END_MARKS = /(?<![.!?])[.!?]+$/;
const JOIN = /(?<!\s)\s*,\s*(?:and\s+)?|(?<!\s)\s+and\s+/;
const SINGLE = /^([-\u2212\u2013]\s*|minus\s+|negative\s+)?(\d+(?!\d)|[a-z]{1,12})(?:\s+of)?\s*(?:-\s*)?(minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|wks?|w|fortnights?|months?|years?)$/;
const REASON_CUE = /\b(because|cause|coz|cos|as\s+(?=i\b|we\b|my\b|our\b)|since\s+(?=i\b|we\b|my\b|our\b))/gi;
/** A line break: the reason is read from one line, as it always was. */
const LINE_BREAK = /[\n\r\u2028\u2029]/;
/** The patterns this file reads user text with, for the test that runs them over adversarial text. */
export const DURATION_TEXT_PATTERNS: readonly RegExp[] = [END_MARKS, JOIN, SINGLE, REASON_CUE, LINE_BREAK];

/**
 * Parsed: hours as said, `'permanent'`, or `null` when the text is not a duration. Parts joined
 * by "and" or commas add up ("two weeks and a day"); minutes are fractions of an hour (the flow
 * grants whole hours, at least one). The hours are not judged here: "0 days" is 0 and "-3 days"
 * is -72, so that the flow can say why it cannot grant them instead of quietly granting
 * something else.
 */
export function parseDuration(text: string): number | 'permanent' | null {
  const t = text
    .toLowerCase()
    .trim()
    .replace(END_MARKS, '')
    .replace(/^(?:for\s+)?(?:the\s+next\s+|the\s+)?/, '')
    .trim();
  if (/^(?:permanent|permanently|forever|ever|good|always|indefinitely|no end( date)?)$/.test(t)) return 'permanent';
  if (t === 'today' || t === 'the day') return 24;
  // "two weeks and a day", "1 week, 2 days": the sum, never the first part alone or the default.
  const parts = t.split(JOIN);
  if (parts.length > 1 && parts.length <= 4) {
    const each = parts.map(singleDuration);
    if (each.every((x): x is number => typeof x === 'number')) return clampHours(each.reduce((a, b) => a + b, 0));
    return null;
  }
  return singleDuration(t);
}

function clampHours(hours: number): number {
  return Math.max(-LONGEST_HOURS, Math.min(LONGEST_HOURS, hours)) || 0;
}

/** One amount and unit ("3 days", "a week", "20 minutes"), already lower-cased and trimmed. */
function singleDuration(t: string): number | null {
  const m = SINGLE.exec(t);
  const bare = /^(hours?|days?|weeks?|fortnight|months?|years?)$/.exec(t);
  let n: number | undefined;
  let unit: string | undefined;
  if (m) {
    n = /^\d+$/.test(m[2]!) ? Math.min(Number(m[2]), LONGEST_HOURS) : NUMBER_WORDS[m[2]!];
    if (n !== undefined && m[1]) n = -n;
    unit = m[3]!;
  } else if (bare) {
    n = 1;
    unit = bare[1]!;
  }
  if (n === undefined || !unit) return null;
  const key = unit.startsWith('min')
    ? 'minute'
    : unit.startsWith('h')
      ? 'hour'
      : unit.startsWith('d')
        ? 'day'
        : unit.startsWith('w')
          ? 'week'
          : unit.startsWith('f')
            ? 'fortnight'
            : unit.startsWith('m')
              ? 'month'
              : 'year';
  return clampHours(n * UNIT_HOURS[key]!);
}

/** "8 hours", "1 day", "2 weeks", "30 days", "3 years", "permanent". */
export function formatDuration(hours: number | null): string {
  if (hours === null) return 'permanent (no end date)';
  if (hours % (24 * 365) === 0 && Math.abs(hours) >= 2 * 24 * 365) return plural(hours / (24 * 365), 'year');
  if (hours % (24 * 7) === 0 && hours / (24 * 7) <= 8) return plural(hours / (24 * 7), 'week');
  if (hours % 24 === 0) return plural(hours / 24, 'day');
  return plural(hours, 'hour');
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** "Tue 14 Jul 2026, 09:00 UTC": unambiguous in any locale. */
export function formatTime(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  const day = d.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).replace(/,/g, '');
  const time = d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
  return `${day}, ${time} UTC`;
}

/** Adds hours to an instant. */
export function addHours(from: Date | string, hours: number): Date {
  return new Date(new Date(from).getTime() + hours * 3_600_000);
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** "end of Friday 12 June 2026 (Europe/London)" for a local calendar date `YYYY-MM-DD`. */
export function formatEndOfDay(date: string, timeZone?: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return `end of ${date}`;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const weekday = WEEKDAYS[new Date(Date.UTC(y, mo - 1, d)).getUTCDay()];
  return `end of ${weekday} ${d} ${MONTHS[mo - 1]} ${y}${timeZone ? ` (${timeZone})` : ''}`;
}

/**
 * The reason given in a request, as its justification: "... because of the year-end audit"
 * gives "because of the year-end audit". Only an explicit "because" (or "as/since I ...")
 * counts; anything else is left for the requester to type on the card.
 */
export function justificationIn(text: string): string | null {
  const s = text.slice(0, 1000);
  // The first cue whose rest of the message is one line: found by hand, since one pattern for
  // "cue, words, end marks" backtracked cubically over a long run of spaces (a minute for 1,000).
  for (const m of s.matchAll(REASON_CUE)) {
    const reason = withoutEndMarks(s.slice(m.index! + m[0].length)).trimStart();
    if (!reason || LINE_BREAK.test(reason)) continue;
    if (reason.length < 3) return null;
    const word = m[1]!.trim().toLowerCase();
    return `${word === 'cause' || word === 'coz' || word === 'cos' ? 'because' : word} ${reason}`.slice(0, 500);
  }
  return null;
}

/** `text` without the spaces, marks and spaces it ends with ("the audit. !  " -> "the audit"). */
function withoutEndMarks(text: string): string {
  let end = text.trimEnd().length;
  while (end > 0 && '.!?'.includes(text[end - 1]!)) end--;
  return text.slice(0, end).trimEnd();
}
