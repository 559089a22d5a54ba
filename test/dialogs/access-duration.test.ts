import { describe, expect, it } from 'vitest';
import { formatDuration, formatEndOfDay, formatTime, justificationIn, parseDuration } from '../../dialogs/access-duration';

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

  it.each(['the month-end close', 'a customer project', '0 days', 'zero days', '99999 years', ''])('"%s" is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it('shows durations and times unambiguously', () => {
    expect(formatDuration(168)).toBe('1 week');
    expect(formatDuration(336)).toBe('2 weeks');
    expect(formatDuration(720)).toBe('30 days');
    expect(formatDuration(8)).toBe('8 hours');
    expect(formatDuration(24)).toBe('1 day');
    expect(formatDuration(null)).toBe('permanent (no end date)');
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
