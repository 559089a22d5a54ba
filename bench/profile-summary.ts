import fs from 'node:fs';
import path from 'node:path';

/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the functions with the most self
 * time, and self and total time by package (our own code by top folder, `node_modules`
 * packages by name, Node's internals, garbage collection, idle). Used by the benchmarks to
 * explain a missed target; also a command:
 *
 *   node dist/bench/profile-summary.js bench/results/profiles/<file>.cpuprofile [--top 25] [--skip-ms 3000]
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  /** Milliseconds. */
  ms: number;
  /** Share of the busy time (everything but idle), 0..1. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  /** Wall time the profile covers, ms. */
  totalMs: number;
  /** Time not idle, ms. */
  busyMs: number;
  /** Self time by function, largest first. */
  functions: ProfileLine[];
  /** Self time by package (our folders, `node_modules` packages, `node:` internals, GC). */
  packages: ProfileLine[];
  /** Time spent in a package or anything it called (each package counted once per stack). */
  packagesTotal: ProfileLine[];
  /** Our own functions (not `node_modules`) by the time spent in them and what they called. */
  oursTotal: ProfileLine[];
}

/** The project folder: the nearest one up with a package.json (from `bench/` or `dist/bench/`). */
const ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

/** Which package a script URL belongs to: `teams-ai`, `botbuilder-core`, `ours:bot`, `node:internal`, ... */
export function packageOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program)';
    return '(native)';
  }
  if (url.startsWith('node:')) return 'node:internal';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const rel = path.relative(ROOT, file).replace(/^dist\//, '');
  if (!rel.startsWith('..')) return `ours:${rel.split('/')[0]}`;
  return 'other';
}

/**
 * Reads and summarises one profile. `skipMs` leaves out the first milliseconds (start-up and
 * warm-up, when the profile was started with the process).
 */
export function summariseProfile(file: string, top = 25, skipMs = 0): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<number, number>();
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += (profile.timeDeltas[i] ?? 0) / 1000;
    if (at < skipMs) continue;
    const id = profile.samples[i]!;
    // A sample's time is the delta to the next sample.
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  }

  const fnSelf = new Map<string, number>();
  const pkgSelf = new Map<string, number>();
  const pkgTotal = new Map<string, number>();
  const oursTotal = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    const cf = node.callFrame;
    total += ms;
    const pkg = packageOf(cf.url, cf.functionName);
    if (pkg === '(idle)') {
      idle += ms;
      continue;
    }
    const where = frameWhere(cf);
    const name = `${cf.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    fnSelf.set(name, (fnSelf.get(name) ?? 0) + ms);
    pkgSelf.set(pkg, (pkgSelf.get(pkg) ?? 0) + ms);
    // Total time: every package on this sample's stack, once.
    const seen = new Set<string>();
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const f = byId.get(up)!.callFrame;
      const p = packageOf(f.url, f.functionName);
      if (p.startsWith('ours:') && f.functionName) {
        const fn = `${f.functionName} ${frameWhere(f)}`;
        if (!seen.has(fn)) {
          seen.add(fn);
          oursTotal.set(fn, (oursTotal.get(fn) ?? 0) + ms);
        }
      }
      if (seen.has(p)) continue;
      seen.add(p);
      pkgTotal.set(p, (pkgTotal.get(p) ?? 0) + ms);
    }
  }
  const busy = total - idle;
  const lines = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: Math.round(ms * 10) / 10, share: busy > 0 ? ms / busy : 0 }));
  return {
    file,
    totalMs: Math.round(total),
    busyMs: Math.round(busy),
    functions: lines(fnSelf, top),
    packages: lines(pkgSelf, 30),
    packagesTotal: lines(
      new Map([...pkgTotal].filter(([p]) => p !== '(native)' && p !== '(program)')),
      30,
    ),
    oursTotal: lines(oursTotal, top),
  };
}

/** `path:line` of a frame, relative to the project (or to `node_modules`). */
function frameWhere(cf: CallFrame): string {
  if (!cf.url) return '';
  return `${path.relative(ROOT, cf.url.replace(/^file:\/\//, '')).replace(/^node_modules\//, '')}:${cf.lineNumber + 1}`;
}

/** The summary as text: three short tables. */
export function formatSummary(s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const table = (title: string, rows: ProfileLine[]) => [title, ...rows.map((r) => `  ${pct(r.share)} ${String(r.ms.toFixed(0)).padStart(7)} ms  ${r.name}`)].join('\n');
  return [
    `${path.relative(process.cwd(), s.file)}: ${s.totalMs} ms profiled, ${s.busyMs} ms busy`,
    table('Self time by package:', s.packages),
    table('Time in a package and what it called:', s.packagesTotal),
    table('Top functions by self time:', s.functions),
    table('Our functions by time in them and what they called:', s.oursTotal),
  ].join('\n\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args.splice(i, 2)[1]) : fallback;
  };
  const top = option('--top', 25);
  const skipMs = option('--skip-ms', 0);
  if (!args.length || args.some((a) => a.startsWith('--')) || !Number.isInteger(top) || top < 1 || !(skipMs >= 0)) {
    process.stderr.write('Usage: node dist/bench/profile-summary.js <file.cpuprofile>... [--top N] [--skip-ms MS]\n');
    process.exit(2);
  }
  for (const f of args) process.stdout.write(formatSummary(summariseProfile(f, top, skipMs)) + '\n\n');
}
