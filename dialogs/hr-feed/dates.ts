/**
 * Dates of the HR feed are calendar days in one configured time zone (`HR_FEED_TIMEZONE`,
 * an IANA name such as `Europe/London`). A joiner starts at the beginning of their start
 * date there; a leaver is offboarded when their end date is over, at the beginning of the
 * next day there. Summer time is taken into account.
 */

/** True for a time zone this runtime knows (`UTC`, `Europe/London`, ...). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(tz, f);
  }
  return f;
}

function parts(instant: number, tz: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const p = formatter(tz).formatToParts(new Date(instant));
  const get = (t: Intl.DateTimeFormatPartTypes) => Number(p.find((x) => x.type === t)!.value);
  return { y: get('year'), mo: get('month'), d: get('day'), h: get('hour'), mi: get('minute'), s: get('second') };
}

/** How far the zone's wall clock is ahead of UTC at `instant`, in milliseconds. */
function offsetMs(instant: number, tz: string): number {
  const p = parts(instant, tz);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(instant / 1000) * 1000;
}

/** The instant the day `YYYY-MM-DD` begins in `tz` (or, when midnight is skipped by a clock change, the first moment of that day). */
export function startOfDay(date: string, tz: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d);
  let t = wall - offsetMs(wall, tz);
  // The offset at the result may differ from the guess's (a clock change that day).
  t = wall - offsetMs(t, tz);
  if (localDate(new Date(t), tz) !== date) t = wall - offsetMs(wall, tz);
  return new Date(t);
}

/** The instant the day after `YYYY-MM-DD` begins in `tz`: when a leaver's last day is over. */
export function endOfDay(date: string, tz: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const next = new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
  return startOfDay(next, tz);
}

/** The calendar day `instant` falls on in `tz`, as `YYYY-MM-DD`. */
export function localDate(instant: Date, tz: string): string {
  const p = parts(instant.getTime(), tz);
  return `${String(p.y).padStart(4, '0')}-${String(p.mo).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;
}
