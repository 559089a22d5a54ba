import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditTrail } from '../store/audit-trail';
import { openDatabase } from '../store/db';
import { migrations } from '../store/migrations';
import type { Dataset } from './dataset';
import { median, round2, type BenchOutput } from './row';

/**
 * The audit store at a million events (the cached dataset): chain verification speed,
 * the first page of a query by actor and by correlation id, and an export of every event to
 * CSV, in a process of its own, at a tenth of the size and at full size: the same peak
 * memory at both is what "constant memory" means here.
 */
export async function auditStoreBenchmark(big: Dataset, small: Dataset): Promise<BenchOutput> {
  const db = openDatabase(big.file, { migrations, readonly: true });
  const trail = new AuditTrail(db);
  const notes: string[] = [];
  try {
    // Verify three times; the fastest counts (the least disturbed; the first also warms the page cache).
    const verifies: Array<{ ms: number; ok: boolean; count: number }> = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const r = trail.verify();
      verifies.push({ ms: performance.now() - t0, ok: r.ok, count: r.count });
    }
    const fastest = verifies.reduce((a, b) => (b.ms < a.ms ? b : a));
    const rate = fastest.count / (fastest.ms / 1000);

    const time = (f: () => unknown) => {
      const t0 = performance.now();
      f();
      return performance.now() - t0;
    };
    // First pages of 100, each probe three times: the median of all.
    const actorMs: number[] = [];
    for (const actor of [...big.probes.actors, big.probes.absentActor]) for (let i = 0; i < 3; i++) actorMs.push(time(() => trail.query({ actor }, { limit: 100 })));
    const corrMs: number[] = [];
    for (const correlationId of big.probes.correlationIds) for (let i = 0; i < 3; i++) corrMs.push(time(() => trail.query({ correlationId }, { limit: 100 })));
    const actorMedian = median(actorMs);
    const corrMedian = median(corrMs);

    const exportSmall = await exportInChild(small.file);
    const exportBig = await exportInChild(big.file);
    // Constant: the peak at ten times the events within a fifth (or 16 MiB) of the peak at a tenth.
    const allowance = Math.max(exportSmall.peakRssMiB * 0.2, 16);
    const constant = exportBig.peakRssMiB <= exportSmall.peakRssMiB + allowance && exportBig.events === big.spec.events && exportSmall.events === small.spec.events;
    const n = big.spec.events.toLocaleString('en');
    return {
      rows: [
        {
          name: 'audit-verify',
          metric: `events/s, whole chain of ${n} events (best of 3: ${verifies.map((v) => `${(v.ms / 1000).toFixed(2)} s`).join(', ')})`,
          value: rate,
          target: '>= 300,000 events/s',
          pass: fastest.ok && fastest.count === big.spec.events && rate >= 300_000,
        },
        {
          name: 'audit-query-actor',
          metric: `ms, first 100 events by actor id, ${n} events (median of ${actorMs.length}, max ${round2(Math.max(...actorMs))})`,
          value: actorMedian,
          target: '< 5 ms',
          pass: actorMedian < 5,
        },
        { name: 'audit-query-correlation', metric: `ms, first 100 events by correlation id (median of ${corrMs.length}, max ${round2(Math.max(...corrMs))})`, value: corrMedian },
        {
          name: 'audit-export',
          metric: `s, CSV of all ${n} events (${(exportBig.bytes / 2 ** 20).toFixed(0)} MiB, ${Math.round(exportBig.events / exportBig.seconds).toLocaleString('en')} events/s)`,
          value: exportBig.seconds,
          details: { ...exportBig },
        },
        {
          name: 'audit-export-memory',
          metric: `peak resident MiB exporting ${n} events vs ${small.spec.events.toLocaleString('en')} (heap ${exportBig.peakHeapMiB} vs ${exportSmall.peakHeapMiB} MiB)`,
          value: exportBig.peakRssMiB,
          baseline: exportSmall.peakRssMiB,
          ratio: exportBig.peakRssMiB / exportSmall.peakRssMiB,
          target: 'constant memory (within 20% or 16 MiB)',
          pass: constant,
          details: { small: exportSmall, big: exportBig },
        },
      ],
      notes,
    };
  } finally {
    db.close();
  }
}

interface ExportResult {
  events: number;
  bytes: number;
  seconds: number;
  peakRssMiB: number;
  peakHeapMiB: number;
}

function exportInChild(file: string): Promise<ExportResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'export-child.js'), file, 'csv'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = /^EXPORT (.*)$/m.exec(out);
      if (code !== 0 || !line) reject(new Error(`the export process ended with ${code}: ${out.slice(0, 300)}`));
      else resolve(JSON.parse(line[1]!) as ExportResult);
    });
  });
}
