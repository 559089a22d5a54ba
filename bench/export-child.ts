import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { exportAudit, type ExportFormat } from '../store/audit-export';
import { AuditTrail } from '../store/audit-trail';
import { openDatabase } from '../store/db';
import { migrations } from '../store/migrations';

/**
 * One audit export in a process of its own, so its memory is its own: exports every event of
 * the database `argv[2]` as `argv[3]` (csv or jsonl) to /dev/null, sampling the heap every
 * 20 ms, and prints `EXPORT <json>`: events, bytes, seconds, peak resident memory (the
 * kernel's high-water mark) and peak heap, in MiB.
 */
async function main(): Promise<void> {
  const [file, format] = process.argv.slice(2) as [string, ExportFormat];
  const db = openDatabase(file, { migrations, readonly: true });
  const trail = new AuditTrail(db);
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 20);
  const out = fs.createWriteStream('/dev/null');
  const t0 = performance.now();
  const events = await exportAudit(trail, out, format);
  await new Promise<void>((resolve) => out.end(resolve));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  db.close();
  const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  process.stdout.write(`EXPORT ${JSON.stringify({ events, bytes: out.bytesWritten, seconds, peakRssMiB: mib(process.resourceUsage().maxRSS * 1024), peakHeapMiB: mib(peakHeap) })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
