import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

/** Raised when another process already runs a bot on the same database. */
export class DatabaseInUseError extends Error {
  constructor(
    readonly databasePath: string,
    readonly lockFile: string,
  ) {
    super(
      `Another helpdesk bot process is already using the database ${databasePath} (it holds ${lockFile}). ` +
        'Stop it first, or set DATABASE_PATH to another file: two processes on one database would run the same jobs twice.',
    );
    this.name = 'DatabaseInUseError';
  }
}

export interface InstanceLock {
  readonly file: string;
  /** Lets another process take the database. Idempotent. */
  release(): void;
}

/**
 * One bot process per database. The scheduler takes over the jobs a stopped process left
 * running, the HR feed polls its drop folder and the anchors job writes the chain head: a
 * second process on the same file would do all of it twice. The lock is SQLite's own
 * exclusive lock on a small file beside the database, held for the life of the process, so
 * the operating system lets go of it when the process ends however it ends (a crash, a kill,
 * a container replaced): there is no stale lock to clean up. The command-line tools
 * (`npm run audit`, reports) do not take it: they only read, or write through SQLite's own
 * transactions.
 */
export function lockDatabase(databasePath: string): InstanceLock {
  const file = `${path.resolve(databasePath)}.instance-lock`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: 200 });
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER, host TEXT, started_at TEXT)');
    // The first write takes the exclusive lock; in EXCLUSIVE locking mode it is kept until close.
    db.transaction(() => {
      db.prepare('DELETE FROM holder').run();
      db.prepare('INSERT INTO holder (pid, host, started_at) VALUES (?, ?, ?)').run(process.pid, os.hostname(), new Date().toISOString());
    }).exclusive();
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY') || (err as { code?: string }).code?.startsWith('SQLITE_LOCKED')) {
      throw new DatabaseInUseError(path.resolve(databasePath), file);
    }
    throw err;
  }
  return {
    file,
    release: () => {
      if (db.open) db.close();
    },
  };
}
