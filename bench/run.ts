import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditAppendBenchmark } from './audit-append';
import { auditStoreBenchmark } from './audit-store';
import { dataset, type Dataset } from './dataset';
import { formatSummary, summariseProfile } from './profile-summary';
import { reportBenchmark } from './report-bench';
import type { BenchOutput, Row } from './row';
import { soakBenchmark } from './soak';
import { turnBenchmarks } from './turns';

/**
 * `npm run bench [-- name...] [--profile]`: the benchmarks, each measured against a baseline
 * in the same run so a shared, noisy machine still gives comparable numbers. Prints a
 * Markdown table (and notes on missed targets) and writes the results as JSON to
 * `bench/results/<date>-<names>.json` with the machine's CPU count and model, the Node
 * version and the date. `--profile` runs everything under `node --cpu-prof` and summarises
 * the profiles (`bench/results/profiles/`).
 */

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const PROFILES = path.join(RESULTS, 'profiles');
const CACHE = path.join(ROOT, 'bench', '.cache');

interface Context {
  work: string;
  profileDir?: string;
  /** The audit datasets, made (or taken from the cache) when first needed. */
  datasets(): { big: Dataset; small: Dataset };
}

const benches: Record<string, { about: string; run: (c: Context) => Promise<BenchOutput> | BenchOutput }> = {
  turns: {
    about: 'turn throughput and latency: echo bot, empty teams-ai app, helpdesk read, write and card-action turns; memory',
    run: (c) => turnBenchmarks(c.work, { seconds: 3, rounds: 6, warmSeconds: 2, clients: 20, profileDir: c.profileDir, missProfileDir: c.profileDir ? undefined : PROFILES }),
  },
  'audit-append': { about: 'audit events appended per second against raw SQLite inserts', run: (c) => auditAppendBenchmark(c.work) },
  'audit-store': { about: 'verify, queries and CSV export at 1,000,000 events', run: (c) => auditStoreBenchmark(c.datasets().big, c.datasets().small) },
  report: { about: "the technicians' report over 1,000,000 events and 100,000 requests", run: (c) => reportBenchmark(c.datasets().big) },
  soak: { about: '200 concurrent conversations for 60 s mixing read, write and card-action turns', run: (c) => soakBenchmark(c.work, { seconds: 60, warmSeconds: 10, conversations: 200 }) },
};

const USAGE = `Usage: npm run bench [-- name...] [--profile]

Benchmarks (all of them when none is named):
${Object.entries(benches)
  .map(([name, b]) => `  ${name.padEnd(13)} ${b.about}`)
  .join('\n')}

--profile  run under node --cpu-prof; profiles and their summaries go to bench/results/profiles/`;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const unknownFlags = args.filter((a) => a.startsWith('-') && a !== '--profile');
  const names = args.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !benches[n]);
  if (unknownFlags.length || unknown.length) {
    process.stderr.write(`Unknown ${[...unknown.map((n) => `benchmark ${n}`), ...unknownFlags.map((f) => `option ${f}`)].join(', ')}.\n\n${USAGE}\n`);
    return 2;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  if (args.includes('--profile') && !process.env.HELPDESK_BENCH_PROFILING) return profiled(names, stamp);

  const selected = names.length ? [...new Set(names)] : Object.keys(benches);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-bench-'));
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  let sets: { big: Dataset; small: Dataset } | null = null;
  const context: Context = {
    work,
    profileDir: process.env.HELPDESK_BENCH_PROFILING ? PROFILES : undefined,
    datasets: () => (sets ??= { small: dataset(CACHE, { events: 100_000, requests: 10_000 }, log), big: dataset(CACHE, { events: 1_000_000, requests: 100_000 }, log) }),
  };
  const rows: Row[] = [];
  const notes: string[] = [];
  const started = Date.now();
  try {
    for (const name of selected) {
      log(`${name}...`);
      const t0 = Date.now();
      const out = await benches[name]!.run(context);
      rows.push(...out.rows);
      notes.push(...(out.notes ?? []));
      log(`${name} done in ${Math.round((Date.now() - t0) / 1000)} s`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, date: new Date(started).toISOString(), seconds: Math.round((Date.now() - started) / 1000) };
  if (sets) {
    const { big, small } = sets as { big: Dataset; small: Dataset };
    for (const d of [small, big]) if (d.generated) notes.push(`Generated ${path.relative(process.cwd(), d.file)} in ${d.generateSeconds?.toFixed(0)} s (cached for the next runs).`);
  }
  const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(2));
  const lines = [
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, ${machine.date}, ${machine.seconds} s`,
    '',
    '| benchmark | metric | value | baseline | ratio | target | result |',
    '|---|---|---:|---:|---:|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.metric} | ${fmt(r.value)} | ${fmt(r.baseline)} | ${fmt(r.ratio)} | ${r.target ?? ''} | ${r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL'} |`),
  ];
  if (notes.length) lines.push('', ...notes.map((n) => (n.startsWith('  ') ? n : `- ${n}`)));
  process.stdout.write(lines.join('\n') + '\n');
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${stamp}-${names.length ? selected.join('+') : 'all'}.json`);
  fs.writeFileSync(file, JSON.stringify({ machine, rows, notes }, null, 2) + '\n');
  process.stdout.write(`\nResults written to ${path.relative(process.cwd(), file)}\n`);
  return 0;
}

/** Runs the benchmarks again under `--cpu-prof` and summarises every profile written. */
function profiled(names: string[], stamp: string): number {
  fs.mkdirSync(PROFILES, { recursive: true });
  const before = new Set(fs.readdirSync(PROFILES));
  const r = spawnSync(process.execPath, ['--disable-warning=DEP0111', '--cpu-prof', `--cpu-prof-dir=${PROFILES}`, `--cpu-prof-name=${stamp}-run.cpuprofile`, __filename, ...names], {
    stdio: 'inherit',
    env: { ...process.env, HELPDESK_BENCH_PROFILING: '1' },
  });
  for (const f of fs.readdirSync(PROFILES).filter((x) => x.endsWith('.cpuprofile') && !before.has(x))) {
    const file = path.join(PROFILES, f);
    const text = formatSummary(summariseProfile(file, 25));
    fs.writeFileSync(file.replace(/\.cpuprofile$/, '.txt'), text + '\n');
    process.stdout.write(`\n${text}\n`);
  }
  return r.status ?? 1;
}

/** Exits once everything written to standard output has been handed over (a pipe may still be draining). */
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

main().then(exit, (err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  exit(1);
});
