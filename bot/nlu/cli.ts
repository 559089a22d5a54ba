import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { evaluate, formatReport, loadLabelled } from './evaluate';
import { Recognizer } from './recognizer';
import { loadResources } from './resources';
import type { Recognition, RecognizeContext } from './types';

/**
 * The recognizer from the command line.
 *
 *   nlu "text"             one JSON line: {"intent", "confidence", "entities"}
 *   nlu --jsonl            JSON lines with a "text" field on stdin, one result line each, in order
 *   nlu --eval [files...]  accuracy, confusion table and worst misses (default: the development set)
 *
 * Options: --tz <IANA zone> and --now <ISO instant> for date words, --explain (adds the
 * alternatives, the decision and the prepared words), --min <0..1> (eval: exit 1 below it).
 * Resources are those of the access catalog (`ACCESS_CATALOG_PATH`, else the bundled one).
 * Nothing but results goes to stdout.
 */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** Runs the command line; resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo, recognizer: Recognizer = Recognizer.create()): Promise<number> {
  const opts = parseArgs(argv);
  const write = (chunk: string) => writeTo(io.stdout, chunk);
  const ctx: RecognizeContext = { timeZone: opts.tz, now: opts.now };

  if (opts.mode === 'eval') {
    const files = opts.rest.length ? opts.rest : [path.join(repoRoot(), 'nlu-eval', 'dev.jsonl')];
    await write(`trained on ${recognizer.corpusSize} sentences in ${recognizer.trainingMs.toFixed(0)} ms\n\n`);
    let ok = true;
    for (const file of files) {
      const report = evaluate(recognizer, loadLabelled(file));
      await write(`${formatReport(path.relative(process.cwd(), file) || file, report)}\n\n`);
      if (opts.min !== undefined && report.accuracy < opts.min) ok = false;
    }
    return ok ? 0 : 1;
  }

  if (opts.mode === 'jsonl') {
    const rl = readline.createInterface({ input: io.stdin, crlfDelay: Infinity });
    let buffer: string[] = [];
    let lineNo = 0;
    for await (const line of rl) {
      lineNo += 1;
      buffer.push(JSON.stringify(answerLine(recognizer, line, lineNo, ctx, opts.explain)));
      if (buffer.length >= 256) {
        await write(`${buffer.join('\n')}\n`);
        buffer = [];
      }
    }
    if (buffer.length) await write(`${buffer.join('\n')}\n`);
    return 0;
  }

  const text = opts.rest.join(' ');
  if (!text.trim()) {
    io.stderr.write('usage: nlu "text" | nlu --jsonl < lines.jsonl | nlu --eval [file.jsonl ...]\n');
    return 2;
  }
  await write(`${JSON.stringify(result(recognizer, recognizer.recognize(text, ctx), text, ctx, opts.explain))}\n`);
  return 0;
}

function answerLine(recognizer: Recognizer, line: string, lineNo: number, base: RecognizeContext, explain: boolean): Record<string, unknown> {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    return { error: `line ${lineNo}: not JSON` };
  }
  if (!row || typeof row !== 'object' || typeof (row as { text?: unknown }).text !== 'string') {
    return { error: `line ${lineNo}: expected an object with a "text" string` };
  }
  const r = row as { text: string; id?: unknown; localTimezone?: unknown; timeZone?: unknown; localTimestamp?: unknown };
  const ctx: RecognizeContext = {
    ...base,
    timeZone: typeof r.localTimezone === 'string' ? r.localTimezone : typeof r.timeZone === 'string' ? r.timeZone : base.timeZone,
    localTimestamp: typeof r.localTimestamp === 'string' ? r.localTimestamp : undefined,
  };
  try {
    const out = result(recognizer, recognizer.recognize(r.text, ctx), r.text, ctx, explain);
    return r.id !== undefined ? { id: r.id, ...out } : out;
  } catch (err) {
    return { error: `line ${lineNo}: ${(err as Error).message}` };
  }
}

function result(recognizer: Recognizer, r: Recognition, text: string, ctx: RecognizeContext, explain: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { intent: r.intent, confidence: r.confidence, entities: r.entities };
  if (explain) {
    out.decision = recognizer.decide(r);
    out.alternatives = r.alternatives.filter((a) => a.confidence > 0);
    out.words = recognizer.prepare(text, ctx).words;
  }
  return out;
}

interface Args {
  mode: 'text' | 'jsonl' | 'eval';
  rest: string[];
  tz?: string;
  now?: Date;
  min?: number;
  explain: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { mode: 'text', rest: [], explain: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--jsonl') args.mode = 'jsonl';
    else if (a === '--eval') args.mode = 'eval';
    else if (a === '--explain') args.explain = true;
    else if (a === '--tz') args.tz = argv[++i];
    else if (a === '--now') args.now = new Date(argv[++i] ?? '');
    else if (a === '--min') args.min = Number(argv[++i]);
    else args.rest.push(a);
  }
  if (args.now && Number.isNaN(args.now.getTime())) args.now = undefined;
  return args;
}

function writeTo(out: Writable, chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/** The repository root: the nearest folder up with a package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

if (require.main === module) {
  // The resources of the catalog the bot would load: ACCESS_CATALOG_PATH, else the bundled one.
  const catalog = process.env.ACCESS_CATALOG_PATH ? path.resolve(process.env.ACCESS_CATALOG_PATH) : undefined;
  Promise.resolve()
    .then(() => runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, Recognizer.create({ resources: loadResources(catalog) })))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: Error) => {
        process.stderr.write(`nlu: ${err.message}\n`);
        process.exitCode = 1;
      },
    );
}
