import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion, SchemaTooNewError } from '../../store/db';
import { migrations } from '../../store/migrations';

const dirs: string[] = [];
function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-mig-'));
  dirs.push(dir);
  return path.join(dir, 'nested', 'helpdesk.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function columns(db: Database.Database): string[] {
  return tables(db).flatMap((t) => (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => `${t}.${c.name}`));
}

function tables(db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table','trigger') ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

/** Tables, triggers and named indexes (not the ones SQLite makes for a key). */
function objects(db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table','trigger','index') AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

function sequenceNames(db: Database.Database): string[] {
  if (!tables(db).includes('sequences')) return [];
  return (db.prepare('SELECT name FROM sequences ORDER BY name').all() as { name: string }[]).map((r) => r.name);
}

describe('store migrations', () => {
  it('creates the folder, applies every step and records user_version', () => {
    const file = tempFile();
    const db = openDatabase(file, { migrations });
    expect(fs.existsSync(file)).toBe(true);
    expect(schemaVersion(db)).toBe(migrations.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    db.close();
  });

  it('is idempotent: reopening changes nothing', () => {
    const file = tempFile();
    openDatabase(file, { migrations }).close();
    const db = openDatabase(file, { migrations });
    expect(schemaVersion(db)).toBe(migrations.length);
    db.close();
  });

  /**
   * What each step adds: tables, triggers and indexes (`adds`, exactly these), the ones it drops,
   * columns (`table.column`) it adds to existing tables, and the id sequences it starts.
   */
  const expectations: Record<number, { adds: string[]; drops?: string[]; columns?: string[]; sequences?: string[] }> = {
    1: { adds: ['audit_events', 'audit_events_no_delete', 'audit_events_no_update', 'audit_events_actor', 'audit_events_correlation', 'audit_events_action', 'audit_events_ts'] },
    2: { adds: ['bot_state'] },
    3: { adds: ['conversation_refs', 'conversation_refs_user', 'conversation_refs_team'] },
    4: {
      adds: ['sequences', 'access_requests', 'access_request_approvers', 'access_decisions', 'access_requests_requester', 'access_requests_state', 'access_request_approvers_user'],
      sequences: ['access_request'],
    },
    5: { adds: ['jobs', 'jobs_due', 'jobs_request'] },
    6: { adds: ['card_refs', 'card_refs_request'] },
    7: { adds: ['recovery_sessions', 'recovery_verifications', 'recovery_events', 'recovery_lockouts', 'totp_steps', 'recovery_sessions_user', 'recovery_events_user'] },
    8: { adds: [], columns: ['access_requests.ends_at'] },
    9: {
      adds: [
        'tickets', 'ticket_history', 'technician_plans', 'technician_prompts', 'technician_cards',
        'tickets_state', 'tickets_source', 'tickets_created', 'tickets_closed', 'ticket_history_ticket', 'technician_plans_subject', 'technician_cards_owner', 'audit_events_target',
      ],
      sequences: ['ticket', 'technician_plan'],
    },
    10: {
      adds: [
        'review_campaigns', 'review_items', 'review_item_reviewers', 'review_cards', 'review_schedule_state', 'review_schedule_runs',
        'review_campaigns_state', 'review_items_campaign', 'review_item_reviewers_user', 'review_cards_campaign',
      ],
      sequences: ['access_review'],
    },
    11: { adds: ['drift_findings', 'drift_runs', 'drift_findings_state', 'drift_findings_ticket', 'drift_findings_user'], sequences: ['drift_finding'] },
    12: { adds: ['hr_batches', 'hr_batch_lines', 'hr_employees', 'hr_actions', 'hr_batches_sha256', 'hr_actions_employee', 'hr_actions_batch'], sequences: ['hr_batch', 'hr_action'] },
    13: { adds: [], columns: ['drift_findings.exception_by_id', 'drift_findings.exception_reason', 'drift_findings.exception_expires_at', 'drift_findings.exception_approved_by_id'] },
    14: { adds: ['hr_webhook_signatures', 'hr_webhook_signatures_expiry'] },
    15: { adds: ['hr_employees_key', 'hr_actions_employee_key'], drops: ['hr_actions_employee'], columns: ['hr_employees.employee_key'] },
    16: { adds: ['audit_events_append_only'] },
  };

  for (const m of migrations) {
    it(`migrates from ${m.version - 1} to ${m.version} (${m.name}) keeping existing data`, () => {
      const file = tempFile();
      const before = openDatabase(file, { migrations, targetVersion: m.version - 1 });
      expect(schemaVersion(before)).toBe(m.version - 1);
      const expected = expectations[m.version]!;
      const had = objects(before);
      for (const name of expected.adds) expect(had).not.toContain(name);
      for (const name of expected.drops ?? []) expect(had).toContain(name);
      for (const c of expected.columns ?? []) expect(columns(before)).not.toContain(c);
      const hadSequences = sequenceNames(before);
      for (const name of expected.sequences ?? []) expect(hadSequences).not.toContain(name);
      if (m.version > 1) {
        before
          .prepare("INSERT INTO audit_events VALUES (1, '2026-01-01T00:00:00.000Z', NULL, NULL, 'x', NULL, 'success', '{}', NULL, ?, 'h')")
          .run('0'.repeat(64));
      }
      before.close();

      const after = openDatabase(file, { migrations, targetVersion: m.version });
      expect(schemaVersion(after)).toBe(m.version);
      const has = objects(after);
      expect(has.filter((n) => !had.includes(n)).sort()).toEqual([...expected.adds].sort());
      expect(had.filter((n) => !has.includes(n)).sort()).toEqual([...(expected.drops ?? [])].sort());
      for (const c of expected.columns ?? []) expect(columns(after)).toContain(c);
      expect(sequenceNames(after).filter((n) => !hadSequences.includes(n)).sort()).toEqual([...(expected.sequences ?? [])].sort());
      if (m.version > 1) expect((after.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n).toBe(1);
      after.close();
    });
  }

  it('keeps the access requests made before an end date could be asked for, with no end date (7 to 8)', () => {
    const file = tempFile();
    const before = openDatabase(file, { migrations, targetVersion: 7 });
    before.exec(`INSERT INTO access_requests (id, requester_id, requester_name, resource_id, group_id, duration_hours, policy, context, state, stage, stage_count, stage_started_at, created_at, updated_at)
      VALUES ('REQ-1001', 'u1', 'Ann', 'finance', 'g1', 8, '{}', '{}', 'pending', 1, 1, 't', 't', 't')`);
    before.close();

    const after = openDatabase(file, { migrations, targetVersion: 8 });
    expect(after.prepare('SELECT id, duration_hours, ends_at FROM access_requests').all()).toEqual([{ id: 'REQ-1001', duration_hours: 8, ends_at: null }]);
    after.close();
  });

  it('keeps the drift findings found before exceptions took four eyes, with no exception proposal (12 to 13)', () => {
    const file = tempFile();
    const before = openDatabase(file, { migrations, targetVersion: 12 });
    before.exec(`INSERT INTO drift_findings (id, fingerprint, kind, group_id, group_name, user_id, user_name, details, state, occurrence, first_seen_at, last_seen_at, opened_at, accepted_reason, updated_at)
      VALUES ('DRF-1001', 'f1', 'unapproved', 'g1', 'Admins', 'u1', 'Ann', '{}', 'accepted', 1, 't', 't', 't', 'break-glass', 't')`);
    before.close();

    const after = openDatabase(file, { migrations, targetVersion: 13 });
    expect(after.prepare('SELECT id, state, accepted_reason, exception_by_id, exception_approved_at FROM drift_findings').all()).toEqual([
      { id: 'DRF-1001', state: 'accepted', accepted_reason: 'break-glass', exception_by_id: null, exception_approved_at: null },
    ]);
    after.close();
  });

  it('keys the HR employees by their id in lower case; ids that differed only by case stay bound to their accounts (14 to 15)', () => {
    const file = tempFile();
    const before = openDatabase(file, { migrations, targetVersion: 14 });
    before.exec(`INSERT INTO hr_batches VALUES ('HRB-1001', 'file', 'f.csv', 'x', 1, 'processed', NULL, 3, 3, 0, 0, '2026-01-01T00:00:00.000Z', NULL)`);
    const employee = before.prepare(`INSERT INTO hr_employees VALUES (?, ?, 'u@x', '{}', 'h', 1, 'HRB-1001', ?)`);
    employee.run('E-1017', 'user-a', '2026-01-01T00:00:00.000Z');
    employee.run('e-1017', 'user-b', '2026-01-02T00:00:00.000Z');
    employee.run('NW-1', 'user-c', '2026-01-01T00:00:00.000Z');
    before.close();

    const after = openDatabase(file, { migrations, targetVersion: 15 });
    expect(after.prepare('SELECT employee_id, employee_key FROM hr_employees ORDER BY user_id').all()).toEqual([
      { employee_id: 'E-1017', employee_key: 'e-1017#user-a' },
      { employee_id: 'e-1017', employee_key: 'e-1017' },
      { employee_id: 'NW-1', employee_key: 'nw-1' },
    ]);
    expect(() => after.prepare(`INSERT INTO hr_employees VALUES ('Nw-1', 'user-d', 'u@x', '{}', 'h', 1, 'HRB-1001', 't', 'nw-1')`).run()).toThrow(/UNIQUE/);
    after.close();
  });

  it('lists every step file of store/migrations in order, each named NNN-name after its version and name', () => {
    const dir = path.join(__dirname, '..', '..', 'store', 'migrations');
    const files = fs.readdirSync(dir).filter((f) => f !== 'index.ts').sort();
    expect(files).toEqual(migrations.map((m) => `${String(m.version).padStart(3, '0')}-${m.name}.ts`));
  });

  it('every migration has an expectation here (add one with each new step)', () => {
    expect(Object.keys(expectations).map(Number)).toEqual(migrations.map((m) => m.version));
  });

  it('refuses a database newer than the code with a clear message', () => {
    const file = tempFile();
    openDatabase(file, { migrations }).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${migrations.length + 1}`);
    raw.close();
    expect(() => openDatabase(file, { migrations })).toThrow(SchemaTooNewError);
    expect(() => openDatabase(file, { migrations })).toThrow(new RegExp(`schema version ${migrations.length + 1}.*only knows up to ${migrations.length}`));
  });

  it('rolls a failing step back entirely', () => {
    const file = tempFile();
    const broken = [
      ...migrations,
      {
        version: migrations.length + 1,
        name: 'broken',
        up: (db: Database.Database) => {
          db.exec('CREATE TABLE half_done (x INTEGER)');
          throw new Error('boom');
        },
      },
    ];
    expect(() => openDatabase(file, { migrations: broken })).toThrow('boom');
    const db = openDatabase(file, { migrations });
    expect(schemaVersion(db)).toBe(migrations.length);
    expect(tables(db)).not.toContain('half_done');
    db.close();
  });
});
