import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** A better-sqlite3 connection. Only `store/` and `directory/local-*` open one. */
export type Db = Database.Database;

/**
 * One numbered schema step. `version` is 1-based and contiguous; `up` runs inside the
 * transaction that also records `user_version`, so a step is applied entirely or not at all.
 */
export interface Migration {
  version: number;
  name: string;
  up: (db: Db) => void;
}

/** Raised when the database file was written by a newer version of the code. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly file: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      `Database ${file} has schema version ${found}, but this version of the bot only knows up to ${supported}. ` +
        'Upgrade the bot, or point the database path at another file.',
    );
    this.name = 'SchemaTooNewError';
  }
}

export interface OpenOptions {
  /** Migrations to apply, in order. */
  migrations: readonly Migration[];
  /** Apply only up to this version (tests of migration N-1 -> N). */
  targetVersion?: number;
  readonly?: boolean;
}

/**
 * Opens (creating the folder and file when needed) an SQLite database with the pragmas
 * every store relies on - WAL, foreign keys, recursive triggers, a busy timeout - and brings its schema up to
 * date. A database newer than the code is refused with {@link SchemaTooNewError}.
 */
export function openDatabase(file: string, options: OpenOptions): Db {
  if (file !== ':memory:' && !options.readonly) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  try {
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on a power loss, and an
      // intent event (`...-attempted`) must be on disk before the directory is called.
      db.pragma('synchronous = FULL');
    }
    db.pragma('foreign_keys = ON');
    // The delete a REPLACE (or INSERT OR REPLACE) makes of a row in the way fires DELETE
    // triggers only with this on: the audit trail's guards then refuse it on this connection too.
    db.pragma('recursive_triggers = ON');
    migrate(db, file, options.migrations, options.targetVersion);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Current schema version recorded in the file. */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db, file: string, migrations: readonly Migration[], targetVersion?: number): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration list is not contiguous at ${m.name} (version ${m.version})`);
  });
  const latest = migrations.length;
  const target = targetVersion ?? latest;
  const current = schemaVersion(db);
  if (current > latest) throw new SchemaTooNewError(file, current, latest);
  if (db.readonly) {
    if (current < target) throw new Error(`Database ${file} needs migrations but was opened read-only`);
    return;
  }
  for (const m of migrations) {
    if (m.version <= current || m.version > target) continue;
    db.transaction(() => {
      m.up(db);
      // PRAGMA cannot take a bound parameter; version is an integer from our own list.
      db.pragma(`user_version = ${Number(m.version)}`);
    }).immediate();
  }
}
