import { describe, expect, it } from 'vitest';
import { findDuration } from '../../bot/nlu/duration';
import { formatDuration, formatEndOfDay, formatTime, justificationIn, LONGEST_HOURS, parseDuration } from '../../dialogs/access-duration';

describe('durations as people say them', () => {
  it.each([
    ['a week', 168],
    ['two weeks', 336],
    ['2 weeks', 336],
    ['3 days', 72],
    ['1d', 24],
    ['8 hours', 8],
    ['8h', 8],
    ['a day', 24],
    ['the day', 24],
    ['a month', 720],
    ['a fortnight', 336],
    ['the next 3 days', 72],
    ['fourteen days', 336],
    ['a year', 8760],
    ['week', 168],
  ])('"%s" is %i hours', (text, hours) => {
    expect(parseDuration(text)).toBe(hours);
  });

  it.each(['permanently', 'forever', 'good', 'indefinitely'])('"%s" is permanent', (text) => {
    expect(parseDuration(text)).toBe('permanent');
  });

  it.each(['the month-end close', 'a customer project', ''])('"%s" is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  // Read as said, for the flow to refuse with the reason: never dropped, never turned round.
  it.each([
    ['0 days', 0],
    ['zero days', 0],
    ['-3 days', -72],
    ['for -3 days', -72],
    ['minus 2 weeks', -336],
    ['99999 years', 99999 * 8760],
  ])('"%s" is read as %i hours, however odd', (text, hours) => {
    expect(parseDuration(text)).toBe(hours);
  });

  it('reads a number too long to count as the longest duration, still a duration', () => {
    expect(parseDuration(`${'9'.repeat(400)} days`)).toBe(LONGEST_HOURS);
  });

  it('shows durations and times unambiguously', () => {
    expect(formatDuration(168)).toBe('1 week');
    expect(formatDuration(336)).toBe('2 weeks');
    expect(formatDuration(720)).toBe('30 days');
    expect(formatDuration(8)).toBe('8 hours');
    expect(formatDuration(24)).toBe('1 day');
    expect(formatDuration(null)).toBe('permanent (no end date)');
    expect(formatDuration(8760)).toBe('365 days');
    expect(formatDuration(99999 * 8760)).toBe('99999 years');
    expect(formatDuration(-72)).toBe('-3 days');
    expect(formatTime('2026-03-09T09:05:00.000Z')).toBe('Mon 9 Mar 2026, 09:05 UTC');
  });
});

describe('end dates and reasons from a sentence', () => {
  it('names the end of a local day with its time zone', () => {
    expect(formatEndOfDay('2026-06-12', 'Europe/London')).toBe('end of Friday 12 June 2026 (Europe/London)');
    expect(formatEndOfDay('2026-06-30')).toBe('end of Tuesday 30 June 2026');
    expect(formatEndOfDay('next friday')).toBe('end of next friday');
  });

  it.each([
    ['I need the payroll reports for two weeks because of the year-end audit', 'because of the year-end audit'],
    ['need crm permanently cause I joined sales.', 'because I joined sales'],
    ['vpn for a week as I travel to the Lyon office', 'as I travel to the Lyon office'],
    ['erp until friday since we close the books', 'since we close the books'],
  ])('"%s" gives "%s"', (text, reason) => {
    expect(justificationIn(text)).toBe(reason);
  });

  it.each(['I need the VPN as soon as possible', 'payroll reports since monday', 'I need VPN for a week', 'because', 'vpn because ok'])('"%s" gives no reason', (text) => {
    expect(justificationIn(text)).toBeNull();
  });
});

describe('durations as the recognizer reads them in a sentence', () => {
  /** Monday 2 March 2026, 09:00 in London. */
  const at = { timeZone: 'Europe/London', now: new Date('2026-03-02T09:00:00Z') };
  const read = (text: string) => findDuration(text, at)?.entity;

  it('keeps the sign, zero and the length as said', () => {
    expect(read('i need the vpn for -3 days')).toEqual({ text: 'for -3 days', hours: -72 });
    expect(read('vpn for minus 2 weeks')).toMatchObject({ hours: -336 });
    expect(read('vpn for 0 days')).toEqual({ text: 'for 0 days', hours: 0 });
    expect(read('vpn for zero days')).toMatchObject({ hours: 0 });
    expect(read('vpn for 99999 years')).toEqual({ text: 'for 99999 years', hours: 99999 * 8760 });
    expect(read(`vpn for ${'9'.repeat(400)} years`)).toMatchObject({ hours: LONGEST_HOURS });
  });

  it('reads a hyphen inside a word or a range as no sign', () => {
    expect(read('covid-19 days off, vpn please')).toMatchObject({ hours: 19 * 24 });
    expect(read('vpn for 2-3 days')).toMatchObject({ hours: 72 });
  });

  it('reads "until yesterday" as the day that has passed', () => {
    expect(read('i need the vpn until yesterday')).toEqual({ text: 'until yesterday', untilDate: '2026-03-01', until: '2026-03-01T23:59:59+00:00', timeZone: 'Europe/London' });
    // "for" only introduces a day to come.
    expect(read('the vpn i asked for yesterday')).toBeUndefined();
  });

  it('reads no day that is not in the calendar', () => {
    expect(read('i need the vpn until 2026-02-30')).toBeUndefined();
  });
});
