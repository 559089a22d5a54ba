import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../directory/catalog';
import { loadDemoTenant } from '../../directory/demo-tenant';
import {
  isOccurrence,
  jsonErrorOffset,
  jsonLines,
  loadReviewSchedules,
  nextOccurrence,
  occurrenceAt,
  parseReviewSchedules,
  previousOccurrence,
  ReviewScheduleError,
  type ReviewSchedule,
} from '../../directory/review-schedules';

/** Scheduled access reviews as data: validation that names the line, and the occurrences of each recurrence. */

const catalog = loadCatalog();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function file(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-rs-'));
  dirs.push(dir);
  const f = path.join(dir, 's.json');
  fs.writeFileSync(f, text);
  return f;
}

const entry = (over: Record<string, unknown> = {}) => ({
  id: 'payroll-quarterly',
  name: 'Quarterly review of Payroll Reports',
  scope: { kind: 'resource', resourceId: 'payroll-reports' },
  reviewer: { kind: 'manager' },
  recurrence: 'quarterly',
  start: '2026-01-31',
  dueInDays: 14,
  autoApply: 'deny',
  ...over,
});

const schedule = (over: Partial<ReviewSchedule>): ReviewSchedule => ({
  id: 's',
  name: 's',
  scope: { kind: 'department', department: 'Finance' },
  reviewer: { kind: 'manager' },
  recurrence: 'monthly',
  start: '2026-01-31T09:00:00.000Z',
  end: null,
  dueInDays: 7,
  autoApply: 'none',
  inactiveDays: null,
  enabled: true,
  ...over,
});

describe('loading schedules', () => {
  it('the bundled file is valid and reviews a privileged group of the demo tenant quarterly', () => {
    const { schedules } = loadReviewSchedules(undefined, catalog);
    const tenant = loadDemoTenant();
    expect(schedules.length).toBeGreaterThan(0);
    for (const s of schedules) {
      if (s.scope.kind === 'group') expect(tenant.groups.map((g) => g.id)).toContain(s.scope.groupId);
    }
    const privileged = schedules.find((s) => s.scope.kind === 'group' && tenant.privilegedGroupIds.includes(s.scope.groupId));
    expect(privileged).toMatchObject({ recurrence: 'quarterly', enabled: true });
  });

  it('fills in defaults: a date starts at 09:00 UTC, enabled, no inactivity filter', () => {
    const { schedules } = parseReviewSchedules({ schedules: [entry()] }, { catalog });
    expect(schedules[0]).toMatchObject({ start: '2026-01-31T09:00:00.000Z', end: null, enabled: true, inactiveDays: null });
  });

  it('names the line and the field of each problem', () => {
    const text = JSON.stringify({ schedules: [entry(), entry({ id: 'payroll-quarterly', autoApply: 'sometimes', scope: { kind: 'resource', resourceId: 'no-such' } })] }, null, 2);
    const lineOf = (needle: string, nth = 0) => text.split('\n').map((l, i) => (l.includes(needle) ? i + 1 : 0)).filter(Boolean)[nth];
    let error: ReviewScheduleError | null = null;
    try {
      loadReviewSchedules(file(text), catalog);
    } catch (e) {
      error = e as ReviewScheduleError;
    }
    expect(error).toBeInstanceOf(ReviewScheduleError);
    expect(error!.problems).toEqual([`line ${lineOf('"sometimes"')}, schedules[1].autoApply: Invalid enum value. Expected 'deny' | 'keep' | 'none', received 'sometimes'`]);
    // Once the shape is right, the references and the arithmetic are checked.
    const second = JSON.stringify({ schedules: [entry(), entry({ scope: { kind: 'resource', resourceId: 'no-such' }, dueInDays: 120 })] }, null, 2);
    const lines = second.split('\n');
    expect(() => loadReviewSchedules(file(second), catalog)).toThrow(
      new RegExp(
        [
          `line ${lines.findIndex((l, i) => i > 10 && l.includes('"id"')) + 1}, schedules\\[1\\]\\.id: "payroll-quarterly" is used by an earlier schedule`,
          `line ${lines.findIndex((l) => l.includes('no-such')) + 1}, schedules\\[1\\]\\.scope\\.resourceId: the catalog has no resource "no-such"`,
          `line ${lines.findIndex((l) => l.includes('120')) + 1}, schedules\\[1\\]\\.dueInDays: 120 days is not shorter than the quarterly period`,
        ].join('[\\s\\S]*'),
      ),
    );
  });

  it('refuses unknown fields, bad ids, bad dates, an end before the start, and a file that is not JSON (with its line)', () => {
    expect(() => parseReviewSchedules({ schedules: [entry({ owner: 'me' })] })).toThrow(/schedules\[0\]: Unrecognized key\(s\) in object: 'owner'/);
    expect(() => parseReviewSchedules({ schedules: [entry({ scope: { kind: 'group', groupId: 'Payroll' } })] })).toThrow(/schedules\[0\]\.scope\.groupId: must be a lowercase GUID/);
    expect(() => parseReviewSchedules({ schedules: [entry({ start: '31/01/2026' })] })).toThrow(/schedules\[0\]\.start: must be a date/);
    expect(() => parseReviewSchedules({ schedules: [entry({ start: '2026-02-30' })] })).toThrow(/schedules\[0\]\.start: is not a valid date/);
    expect(() => parseReviewSchedules({ schedules: [entry({ end: '2025-12-31' })] })).toThrow(/schedules\[0\]\.end: is before start/);
    expect(() => parseReviewSchedules({ schedules: [entry({ recurrence: 'weekly', dueInDays: 7 })] })).toThrow(/7 days is not shorter than the weekly period/);
    expect(() => loadReviewSchedules(file('{\n  "schedules": [\n    { "id": "x", }\n  ]\n}'))).toThrow(/line 3: not valid JSON/);
    expect(() => loadReviewSchedules('/nonexistent/schedules.json')).toThrow(/Invalid access review schedules \/nonexistent\/schedules\.json:\n {2}- cannot read it/);
  });

  it('finds the line of every value and the offset of a syntax error', () => {
    const lines = jsonLines('{\n  "a": [\n    1,\n    { "b": "x" }\n  ],\n  "c": true\n}');
    expect(lines.get('a')).toBe(2);
    expect(lines.get('a.1.b')).toBe(4);
    expect(lines.get('c')).toBe(6);
    expect(jsonErrorOffset('{"a": [1, 2]}')).toBeNull();
    expect(jsonErrorOffset('{"a": [1, 2,]}')).toBe(12);
    expect(jsonErrorOffset('{"a": 1} x')).toBe(9);
    expect(jsonErrorOffset('{"a": tru}')).toBe(6);
  });
});

describe('occurrences', () => {
  it('months count from the start’s day, the 31st becoming the last day of shorter months', () => {
    const s = schedule({ recurrence: 'monthly' });
    expect([0, 1, 2, 3].map((n) => occurrenceAt(s, n)!.toISOString())).toEqual([
      '2026-01-31T09:00:00.000Z',
      '2026-02-28T09:00:00.000Z',
      '2026-03-31T09:00:00.000Z',
      '2026-04-30T09:00:00.000Z',
    ]);
    const q = schedule({ recurrence: 'quarterly', start: '2026-02-16T09:00:00.000Z' });
    expect([1, 3, 4].map((n) => occurrenceAt(q, n)!.toISOString())).toEqual(['2026-05-16T09:00:00.000Z', '2026-11-16T09:00:00.000Z', '2027-02-16T09:00:00.000Z']);
    const half = schedule({ recurrence: 'half-yearly', start: '2026-08-31T09:00:00.000Z' });
    expect(occurrenceAt(half, 1)!.toISOString()).toBe('2027-02-28T09:00:00.000Z');
    const leap = schedule({ recurrence: 'yearly', start: '2028-02-29T09:00:00.000Z' });
    expect([1, 4].map((n) => occurrenceAt(leap, n)!.toISOString())).toEqual(['2029-02-28T09:00:00.000Z', '2032-02-29T09:00:00.000Z']);
  });

  it('weekly adds seven days; one-time happens once; nothing after the end', () => {
    const w = schedule({ recurrence: 'weekly', start: '2026-03-02T10:00:00.000Z', end: '2026-03-20T00:00:00.000Z' });
    expect([0, 1, 2, 3].map((n) => occurrenceAt(w, n)?.toISOString() ?? null)).toEqual(['2026-03-02T10:00:00.000Z', '2026-03-09T10:00:00.000Z', '2026-03-16T10:00:00.000Z', null]);
    const once = schedule({ recurrence: 'one-time', start: '2026-03-02T10:00:00.000Z' });
    expect(occurrenceAt(once, 1)).toBeNull();
    expect(nextOccurrence(once, new Date('2026-03-02T10:00:00.001Z'))).toBeNull();
    expect(nextOccurrence(w, new Date('2026-03-17T00:00:00Z'))).toBeNull();
    expect(previousOccurrence(w, new Date('2026-06-01T00:00:00Z'))!.toISOString()).toBe('2026-03-16T10:00:00.000Z');
  });

  it('next, previous and whether a time is one of them', () => {
    const s = schedule({ recurrence: 'quarterly', start: '2026-02-16T09:00:00.000Z' });
    expect(nextOccurrence(s, new Date('2026-11-26T09:00:00Z'))!.toISOString()).toBe('2027-02-16T09:00:00.000Z');
    expect(nextOccurrence(s, new Date('2026-05-16T09:00:00Z'))!.toISOString()).toBe('2026-05-16T09:00:00.000Z');
    expect(nextOccurrence(s, new Date('2020-01-01T00:00:00Z'))!.toISOString()).toBe('2026-02-16T09:00:00.000Z');
    expect(previousOccurrence(s, new Date('2026-11-26T09:00:00Z'))!.toISOString()).toBe('2026-11-16T09:00:00.000Z');
    expect(previousOccurrence(s, new Date('2026-05-16T09:00:00Z'))!.toISOString()).toBe('2026-02-16T09:00:00.000Z');
    expect(previousOccurrence(s, new Date('2026-02-16T09:00:00Z'))).toBeNull();
    expect(isOccurrence(s, new Date('2026-08-16T09:00:00Z'))).toBe(true);
    expect(isOccurrence(s, new Date('2026-08-16T09:00:01Z'))).toBe(false);
    // Ten years of weekly occurrences, each found again from the one before.
    const w = schedule({ recurrence: 'weekly', start: '2026-03-02T10:00:00.000Z' });
    let at = occurrenceAt(w, 0)!;
    for (let n = 1; n < 520; n++) {
      const next = nextOccurrence(w, new Date(at.getTime() + 1))!;
      expect(next.getTime() - at.getTime()).toBe(7 * 86_400_000);
      expect(previousOccurrence(w, next)!.getTime()).toBe(at.getTime());
      at = next;
    }
  });
});
