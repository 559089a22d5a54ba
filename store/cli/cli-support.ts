import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { openStore, type Store } from '../store';

/**
 * The helpdesk database a store CLI works on: `--db`, else `$DATABASE_PATH`, else
 * `./data/helpdesk.db`. A missing or unreadable file is said on `err` and gives null (the
 * CLI then exits 2); a missing file is never created.
 */
export function openStoreForCli(db: string | undefined, env: NodeJS.ProcessEnv, err: Writable): { store: Store; file: string } | null {
  const file = path.resolve(db ?? env.DATABASE_PATH ?? './data/helpdesk.db');
  if (!fs.existsSync(file)) {
    err.write(`No database at ${file}. Start the bot once (npm start) or pass --db PATH.\n`);
    return null;
  }
  try {
    return { store: openStore(file), file };
  } catch (e) {
    err.write(`Cannot open ${file}: ${(e as Error).message}\n`);
    return null;
  }
}

/**
 * Runs a CLI's `main` as the process: its result is the exit code, a throw exits 2 with the
 * message, and a closed pipe (`... | head`) is a normal end for a CLI that streams.
 */
export function runCli(name: string, main: (argv: string[], env: NodeJS.ProcessEnv, out: Writable, err: Writable) => Promise<number>): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main(process.argv.slice(2), process.env, process.stdout, process.stderr).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`${name}: ${(e as Error).message}\n`);
      process.exitCode = 2;
    },
  );
}
