import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../store/store';

/** Write paths to the trail not covered elsewhere: another schema, the schema table itself, a table swapped, VACUUM, a torn WAL. */
describe('the trail against more write paths', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-trail-probe-'));
    file = path.join(dir, 'helpdesk.db');
    const store = openStore(file);
    for (let i = 1; i <= 5; i++) store.audit.append({ actor: { id: null, name: 'test' }, action: 'test.event', target: null, outcome: 'success', details: { i } });
    store.close();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('through ATTACH DATABASE from another connection: UPDATE, DELETE and REPLACE are refused', () => {
    const r = new Database(':memory:');
    r.prepare('ATTACH DATABASE ? AS aux').run(file);
    expect(() => r.prepare("UPDATE aux.audit_events SET actor_name = 'Mallory' WHERE seq = 2").run()).toThrow(/append-only/);
    expect(() => r.prepare('DELETE FROM aux.audit_events WHERE seq = 5').run()).toThrow(/append-only/);
    expect(() => r.prepare("REPLACE INTO aux.audit_events SELECT seq, ts, actor_id, 'Mallory', action, target, outcome, details, correlation_id, prev_hash, hash FROM aux.audit_events WHERE seq = 3").run()).toThrow(/append-only/);
    r.close();
    const store = openStore(file);
    expect(store.audit.verify()).toMatchObject({ ok: true, count: 5 });
    store.close();
  });

  it('PRAGMA writable_schema removing the triggers from sqlite_master: found (guards) and put back at the next open', () => {
    const r = new Database(file);
    r.pragma('writable_schema = ON');
    let removed = true;
    try {
      r.prepare("DELETE FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'").run();
    } catch {
      // SQLITE_DBCONFIG_DEFENSIVE: the schema cannot be written at all.
      removed = false;
    }
    r.pragma('writable_schema = OFF');
    r.close();
    const check = new Database(file);
    const triggers = (check.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'").all() as Array<{ name: string }>).map((t) => t.name);
    check.close();
    const store = openStore(file);
    try {
      if (removed && !triggers.length) expect(store.audit.guardProblems().length).toBeGreaterThan(0);
      store.audit.restoreGuards();
      expect(store.audit.guardProblems()).toEqual([]);
      expect(() => store.db.prepare("UPDATE audit_events SET actor_name = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
      expect(store.audit.verify().ok).toBe(true);
    } finally {
      store.close();
    }
  });

  it('DROP TABLE and recreate with forged rows: the chain check fails unless hashes are recomputed, and the triggers are missing', () => {
    const r = new Database(file);
    const rows = r.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Array<Record<string, unknown>>;
    const sql = (r.prepare("SELECT sql FROM sqlite_master WHERE name = 'audit_events'").get() as { sql: string }).sql;
    r.exec('DROP TABLE audit_events');
    r.exec(sql);
    const ins = r.prepare('INSERT INTO audit_events (seq, ts, actor_id, actor_name, action, target, outcome, details, correlation_id, prev_hash, hash) VALUES (@seq, @ts, @actor_id, @actor_name, @action, @target, @outcome, @details, @correlation_id, @prev_hash, @hash)');
    for (const row of rows) ins.run(row.seq === 3 ? { ...row, actor_name: 'Mallory' } : row);
    r.close();
    const store = openStore(file);
    try {
      const v = store.audit.verify();
      expect(v.ok).toBe(false);
      expect(store.audit.guardProblems().length).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  });

  it('VACUUM changes nothing the chain sees', () => {
    const r = new Database(file);
    r.exec('VACUUM');
    r.close();
    const store = openStore(file);
    expect(store.audit.verify()).toMatchObject({ ok: true, count: 5 });
    expect(store.audit.guardProblems()).toEqual([]);
    store.close();
  });

  it('a torn WAL (cut in the middle of a frame): the database opens, the chain verifies up to what was committed', () => {
    const store = openStore(file);
    // Keep the WAL: another connection holds the file open so no checkpoint removes it.
    const holder = new Database(file, { readonly: true });
    holder.prepare('SELECT count(*) FROM audit_events').get();
    for (let i = 6; i <= 10; i++) store.audit.append({ actor: { id: null, name: 'test' }, action: 'test.event', target: null, outcome: 'success', details: { i } });
    const wal = `${file}-wal`;
    const copy = path.join(dir, 'copy.db');
    fs.copyFileSync(file, copy);
    const size = fs.statSync(wal).size;
    fs.writeFileSync(`${copy}-wal`, fs.readFileSync(wal).subarray(0, Math.max(32, size - 1000)));
    holder.close();
    store.close();
    const torn = openStore(copy);
    try {
      const v = torn.audit.verify();
      expect(v.ok).toBe(true);
      expect(v.count).toBeGreaterThanOrEqual(5);
      expect(v.count).toBeLessThanOrEqual(10);
    } finally {
      torn.close();
    }
  });
});
