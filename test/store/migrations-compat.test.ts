import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main as auditCli } from '../../store/cli/audit-cli';
import { schemaVersion } from '../../store/db';
import { migrations } from '../../store/migrations';
import { openStore } from '../../store/store';

/**
 * A database the previous release left on disk (schema 15, rows in every table, a short audit
 * chain), rebuilt from a committed `sqlite3 .dump` because database files are not committed.
 */
const DUMP = fs.readFileSync(path.join(__dirname, 'fixtures', 'schema-v15.sql'), 'utf8');

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-compat-'));
  file = path.join(dir, 'helpdesk.db');
  const raw = new Database(file);
  raw.exec(DUMP);
  raw.close();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Snapshot {
  version: number;
  /** Every row of every table, as sorted JSON lines, over the columns the old schema had. */
  rows: Record<string, string[]>;
  columns: Record<string, string[]>;
}

function snapshot(db: Database.Database, columnsOf?: Record<string, string[]>): Snapshot {
  const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  const rows: Record<string, string[]> = {};
  const columns: Record<string, string[]> = {};
  for (const t of names) {
    columns[t] = (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
    const cols = columnsOf?.[t] ?? columns[t]!;
    rows[t] = (db.prepare(`SELECT ${cols.join(', ')} FROM ${t}`).raw().all() as unknown[][]).map((r) => JSON.stringify(r)).sort();
  }
  return { version: schemaVersion(db), rows, columns };
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on('data', (c) => o.push(c));
  err.on('data', (c) => e.push(c));
  const code = await auditCli(argv, { DATABASE_PATH: file }, out, err);
  return { code, out: Buffer.concat(o).toString(), err: Buffer.concat(e).toString() };
}

describe('a database made by the previous release (schema 15)', () => {
  it('is a real schema-15 file with rows in every table', () => {
    const raw = new Database(file, { readonly: true });
    const before = snapshot(raw);
    raw.close();
    expect(before.version).toBe(15);
    const empty = Object.entries(before.rows).filter(([, r]) => r.length === 0).map(([t]) => t);
    expect(empty).toEqual([]);
    expect(Object.keys(before.rows).length).toBeGreaterThanOrEqual(30);
  });

  it('opens with the current code, migrates to the newest version and keeps every row', () => {
    const raw = new Database(file, { readonly: true });
    const before = snapshot(raw);
    raw.close();

    const store = openStore(file);
    const after = snapshot(store.db, before.columns);
    expect(after.version).toBe(migrations.length);
    expect(after.version).toBeGreaterThan(15);
    for (const [table, rows] of Object.entries(before.rows)) expect(after.rows[table], table).toEqual(rows);
    // What the app reads through its own stores is there too.
    expect(store.requests.get('REQ-1001')).toMatchObject({ id: 'REQ-1001', state: 'granted' });
    store.close();
  });

  it('`audit verify` of its chain passes on the first open, and the chain continues under the new guards', async () => {
    const head = new Database(file, { readonly: true }).prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
    expect(head.seq).toBe(6);

    const verified = await cli('verify', '--expect', `${head.seq}:${head.hash}`);
    expect(verified.err).toBe('');
    expect(verified.out).toContain(`OK: 6 events, chain intact. Head 6:${head.hash}`);
    expect(verified.out).not.toContain('FAILED');
    expect(verified.code).toBe(0);

    const store = openStore(file);
    expect(schemaVersion(store.db)).toBe(migrations.length);
    // Migration 16's guard now stands on the old trail: an event out of chain is refused...
    expect(() =>
      store.db
        .prepare("INSERT OR REPLACE INTO audit_events VALUES (3, '2026-11-02T09:03:00.000Z', NULL, NULL, 'x', NULL, 'success', '{}', NULL, ?, 'h')")
        .run('0'.repeat(64)),
    ).toThrow(/append-only/);
    // ...and the bot's next event follows the old head.
    const next = store.audit.append({ actor: { id: null, name: 'Helpdesk bot' }, action: 'compat.checked', outcome: 'success' });
    expect(next).toMatchObject({ seq: 7, prevHash: head.hash });
    expect(store.audit.verify({ seq: head.seq, hash: head.hash })).toMatchObject({ ok: true, count: 7, headSeq: 7 });
    expect(store.audit.guardProblems()).toEqual([]);
    store.close();
  });
});
