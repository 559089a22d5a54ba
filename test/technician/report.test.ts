import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../store/cli/report-cli';
import { buildReport, percentile, reportCsv } from '../../store/report';
import { openStore, type Store } from '../../store/store';
import { reportCard } from '../../dialogs/technician/report-card';
import { TestClock } from '../support/harness';
import { findById } from '../support/teams-client';
import { SEEDED_NOW, SEEDED_REPORT, seedHistory } from './seed';
import { problems } from './support';

let dir: string;
let store: Store;
let clock: TestClock;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-report-'));
  clock = new TestClock(SEEDED_NOW);
  store = openStore(path.join(dir, 'helpdesk.db'), clock.now);
  seedHistory(store, clock);
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), text: () => chunks.join('') };
}

describe('report numbers', () => {
  it('percentiles are nearest-rank', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([7], 0.9)).toBe(7);
    expect(percentile([24, 2, 10, 4], 0.5)).toBe(4);
    expect(percentile([24, 2, 10, 4], 0.9)).toBe(24);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
  });

  it('match the seeded history exactly', () => {
    expect(buildReport(store, { days: 30, now: clock.now() })).toEqual(SEEDED_REPORT);
  });

  it('a shorter window counts less', () => {
    const week = buildReport(store, { days: 7, now: clock.now() });
    expect(week.volume.find((v) => v.key === 'access')!.count).toBe(0);
    expect(week.volume.find((v) => v.key === 'password')!.count).toBe(1);
    expect(week.decision).toEqual({ count: 0, medianHours: null, p90Hours: null });
    expect(week.sla).toEqual({ met: 0, breached: 0, breachedOpen: 2 });
  });

  it('as CSV, one number per row', () => {
    const csv = reportCsv(buildReport(store, { days: 30, now: clock.now() })).split('\n');
    expect(csv[0]).toBe('section,item,value');
    expect(csv).toContain('volume,Access requests,6');
    expect(csv).toContain('time to decision,median hours,4');
    expect(csv).toContain('time to decision,p90 hours,24');
    expect(csv).toContain('time to fulfilment,median hours,4.5');
    expect(csv).toContain('sla,breached and still open,2');
    expect(csv).toContain('issued,temporary access passes,3');
    expect(csv).toContain('top resources,CRM,3');
    expect(csv).toContain('open queue by age,3 to 7 days,1');
  });

  it('as a card: a chart per measure with a textual fallback, and the same numbers', () => {
    const card = reportCard(buildReport(store, { days: 30, now: clock.now() }));
    expect(problems(card)).toEqual([]);
    expect(findById(card, 'report-chart-volume')).toMatchObject({ type: 'Chart.HorizontalBar', data: [{ x: 'Access requests', y: 6 }, { x: 'Password resets (self-service)', y: 3 }, { x: 'MFA recoveries (self-service)', y: 1 }, { x: 'Unlocks (self-service)', y: 2 }, { x: 'Tickets', y: 5 }] });
    expect(findById(card, 'report-chart-sla')).toMatchObject({ type: 'Chart.Pie', data: [{ legend: 'Met', value: 1 }, { legend: 'Breached', value: 3 }] });
    expect(findById(card, 'report-chart-resources').data).toEqual([{ x: 'CRM', y: 3 }, { x: 'VPN', y: 2 }, { x: 'Payroll Reports', y: 1 }]);
    expect(findById(card, 'report-fallback-sla').facts).toEqual([{ title: 'Met', value: '1 (25%)' }, { title: 'Breached', value: '3 (75%)' }]);
    const summary = Object.fromEntries(findById(card, 'report-summary').facts.map((f: any) => [f.title, f.value]));
    expect(summary['Time to decision']).toBe('median 4 h, 90th percentile 24 h (4 decided)');
    expect(summary['Time to fulfilment']).toBe('median 4.5 h, 90th percentile 25 h (3 granted)');
    expect(summary['Ticket SLA']).toBe('1 met, 1 breached, 2 open past target');
    expect(summary.Issued).toBe('3 temporary password(s), 3 Temporary Access Pass(es)');
  });

  it('counts never get a fractional axis: each bar chart is drawn without one and labels every bar with its whole count', () => {
    // Bar charts have no axis range or step property; their renderer splits the largest value
    // into equal steps (2 requests: 0, 0.5, 1, 1.5, 2). Without the axis each bar shows its count.
    const card = reportCard(buildReport(store, { days: 30, now: clock.now() }));
    const bars: any[] = [];
    const walk = (node: any): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        if (typeof node.type === 'string' && /^Chart\.(Vertical|Horizontal)Bar/.test(node.type)) bars.push(node);
        Object.values(node).forEach(walk);
      }
    };
    walk(card);
    expect(bars.map((b) => b.id).sort()).toEqual(['report-chart-queue', 'report-chart-resources', 'report-chart-volume']);
    for (const b of bars) {
      expect(b, b.id).toMatchObject({ type: 'Chart.HorizontalBar', displayMode: 'AbsoluteNoAxis' });
      for (const p of b.data) expect(Number.isInteger(p.y), `${b.id} ${p.x}`).toBe(true);
    }
  });

  it('an empty period says so instead of drawing empty charts', () => {
    const card = reportCard(buildReport(store, { days: 1, now: new Date('2026-06-01T00:00:00Z') }));
    expect(problems(card)).toEqual([]);
    expect(findById(card, 'report-chart-volume')).toBeUndefined();
    expect(findById(card, 'report-empty-volume').text).toBe('No requests in this period.');
  });
});

describe('npm run report', () => {
  it('prints the same numbers as JSON and CSV', async () => {
    store.close();
    const db = path.join(dir, 'helpdesk.db');
    const json = sink();
    expect(await main(['--days', '30', '--format', 'json', '--db', db], {}, json.stream, sink().stream, () => new Date(SEEDED_NOW))).toBe(0);
    expect(JSON.parse(json.text())).toEqual(SEEDED_REPORT);
    const csv = sink();
    expect(await main(['--days', '30', '--format', 'csv', '--db', db], {}, csv.stream, sink().stream, () => new Date(SEEDED_NOW))).toBe(0);
    store = openStore(db, clock.now);
    expect(csv.text()).toBe(reportCsv(buildReport(store, { days: 30, now: new Date(SEEDED_NOW) })) + '\n');
    const text = sink();
    expect(await main(['--db', db], {}, text.stream, sink().stream, () => new Date(SEEDED_NOW))).toBe(0);
    expect(text.text()).toMatch(/Time to decision: {3}median 4 h, p90 24 h \(4 decided\)/);
  });

  it('refuses bad options', async () => {
    const err = sink();
    expect(await main(['--days', '0', '--db', path.join(dir, 'helpdesk.db')], {}, sink().stream, err.stream)).toBe(2);
    expect(err.text()).toMatch(/--days takes a whole number from 1 to 365/);
    expect(await main(['--format', 'xml', '--db', path.join(dir, 'helpdesk.db')], {}, sink().stream, sink().stream)).toBe(2);
    expect(await main(['--db', path.join(dir, 'missing.db')], {}, sink().stream, sink().stream)).toBe(2);
    expect(await main(['--bogus'], {}, sink().stream, sink().stream)).toBe(2);
  });
});
