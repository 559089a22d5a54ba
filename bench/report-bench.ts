import { performance } from 'node:perf_hooks';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../directory/catalog';
import { buildReport, reportCsv } from '../store/report';
import { openDataset, type Dataset } from './dataset';
import { median, round2, type BenchOutput } from './row';

/**
 * The technicians' report (`report` in Teams, `npm run report`) over the cached dataset: a
 * million audit events and a hundred thousand requests. Over the whole year, the worst case,
 * and over the default 30 days; each five times, the median counts.
 */
export function reportBenchmark(d: Dataset): BenchOutput {
  const store = openDataset(d);
  try {
    const catalog = loadCatalog(DEFAULT_CATALOG_FILE);
    const now = new Date(d.now);
    const run = (days: number) => {
      const times: number[] = [];
      let decided = 0;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const report = buildReport(store, { days, now, catalog });
        reportCsv(report);
        times.push(performance.now() - t0);
        decided = report.decision.count;
      }
      return { ms: median(times), max: Math.max(...times), decided };
    };
    const year = run(365);
    const month = run(30);
    const scale = `${d.spec.events.toLocaleString('en')} events, ${d.spec.requests.toLocaleString('en')} requests`;
    return {
      rows: [
        {
          name: 'report-year',
          metric: `ms, report over 365 days (${scale}; ${year.decided.toLocaleString('en')} decided; median of 5, max ${round2(year.max)})`,
          value: year.ms,
          target: '< 1000 ms',
          pass: year.ms < 1000,
        },
        { name: 'report-30-days', metric: `ms, report over the default 30 days (median of 5, max ${round2(month.max)})`, value: month.ms, target: '< 1000 ms', pass: month.ms < 1000 },
      ],
    };
  } finally {
    store.close();
  }
}
