import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBot } from '../../bot/main';
import { startupFailureText } from '../../bot/startup-failure';
import { DatabaseInUseError, lockDatabase } from '../../store/instance-lock';

/** One bot process per database, and no stale lock after a process dies. */
describe('the database lock', () => {
  let dir: string;
  let child: ChildProcess | null = null;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-lock-'));
  });
  afterEach(() => {
    child?.kill('SIGKILL');
    child = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a second holder is refused until the first lets go', () => {
    const db = path.join(dir, 'helpdesk.db');
    const first = lockDatabase(db);
    expect(() => lockDatabase(db)).toThrow(DatabaseInUseError);
    first.release();
    first.release();
    const again = lockDatabase(db);
    again.release();
  });

  it('another process holding it: refused; once that process is killed, free at once', async () => {
    const db = path.join(dir, 'helpdesk.db');
    // Another process takes the lock as a bot does (SQLite's exclusive lock on the same file) and keeps it.
    const script = `
      const Database = require('better-sqlite3');
      const db = new Database(process.argv[1] + '.instance-lock');
      db.pragma('journal_mode = DELETE');
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER, host TEXT, started_at TEXT)');
      db.prepare('INSERT INTO holder VALUES (?, ?, ?)').run(process.pid, 'other', new Date().toISOString());
      process.stdout.write('locked\\n');
      setInterval(() => {}, 1000);
    `;
    child = spawn(process.execPath, ['-e', script, db], { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (b: Buffer) => b.toString().includes('locked') && resolve());
      child!.once('exit', (code) => reject(new Error(`the other process ended (${code})`)));
    });
    expect(() => lockDatabase(db)).toThrow(DatabaseInUseError);

    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    child = null;
    lockDatabase(db).release();
  });

  it('a second bot on the same database does not start, and says why', async () => {
    const env = {
      PORT: '0',
      DATABASE_PATH: path.join(dir, 'helpdesk.db'),
      LOCAL_DIRECTORY_PATH: path.join(dir, 'directory.db'),
      PLAYGROUND: 'false',
      LOG_LEVEL: 'silent',
    };
    const log = { logDestination: pino.destination({ dest: path.join(dir, 'log'), sync: true }) };
    const bot = await startBot(env, log);
    try {
      const err = await startBot(env, log).then(
        async (second) => {
          await second.close();
          return null;
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DatabaseInUseError);
      expect(startupFailureText(err, env)).toMatch(/^Another helpdesk bot process is already using the database .*helpdesk\.db .*Stop it first, or set DATABASE_PATH to another file/);
      // The first one goes on working.
      const health = await fetch(`${bot.url}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      await bot.close();
    }
    // Stopped: the next start takes the database.
    const next = await startBot(env, log);
    await next.close();
  });
});
