import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBot } from '../../bot/main';
import { main as cliMain } from '../../store/cli/audit-cli';
import { openStore } from '../../store/store';

/** The append-only triggers, removed from the file behind the bot's back, come back at its next start, and the trail says so. */
describe('the audit trail’s append-only guards', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-guards-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ PORT: '0', DATABASE_PATH: path.join(dir, 'helpdesk.db'), LOCAL_DIRECTORY_PATH: path.join(dir, 'directory.db'), PLAYGROUND: 'false', LOG_LEVEL: 'warn' });

  it('restores dropped triggers at start, records it in the chain, and refuses UPDATE and DELETE again', async () => {
    const store = openStore(path.join(dir, 'helpdesk.db'));
    store.audit.append({ actor: { id: null, name: 'test' }, action: 'test.event', target: null, outcome: 'success' });
    store.close();
    const raw = new Database(path.join(dir, 'helpdesk.db'));
    raw.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;');
    raw.close();

    const log = path.join(dir, 'bot.log');
    const bot = await startBot(env(), { logDestination: pino.destination({ dest: log, sync: true }) });
    try {
      const events = bot.store.audit.query({ action: 'audit.guards-restored' });
      expect(events).toHaveLength(1);
      expect(JSON.parse(events[0]!.details).missing).toEqual(['audit_events_no_update', 'audit_events_no_delete']);
      expect(bot.store.audit.verify().ok).toBe(true);
      expect(() => bot.store.db.prepare("UPDATE audit_events SET action = 'x' WHERE seq = 1").run()).toThrow(/append-only: UPDATE refused/);
      expect(() => bot.store.db.prepare('DELETE FROM audit_events WHERE seq = 1').run()).toThrow(/append-only: DELETE refused/);
      expect(fs.readFileSync(log, 'utf8')).toMatch(/lost its append-only triggers/);
      // Said to the technicians at once, as a security ticket, not only in the log.
      await bot.scheduler.idle();
      const alarms = bot.store.technician.tickets.listOpen().filter((t) => t.title === 'Audit trail: the append-only triggers were removed');
      expect(alarms).toHaveLength(1);
      expect(alarms[0]).toMatchObject({ type: 'security' });
      expect(bot.store.audit.query({ action: 'audit.guards-alarm' })).toHaveLength(1);
    } finally {
      await bot.close();
    }
    // In place: the next start records nothing more.
    const again = await startBot(env(), { logDestination: pino.destination({ dest: log, sync: true }) });
    try {
      expect(again.store.audit.query({ action: 'audit.guards-restored' })).toHaveLength(1);
      await again.scheduler.idle();
      expect(again.store.audit.query({ action: 'audit.guards-alarm' })).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it('with anchors off (AUDIT_ANCHOR_INTERVAL_HOURS=0) the restored guards are still a security ticket', async () => {
    const store = openStore(path.join(dir, 'helpdesk.db'));
    store.audit.append({ actor: { id: null, name: 'test' }, action: 'test.event', target: null, outcome: 'success' });
    store.close();
    const raw = new Database(path.join(dir, 'helpdesk.db'));
    raw.exec('DROP TRIGGER audit_events_append_only');
    raw.close();
    const bot = await startBot({ ...env(), AUDIT_ANCHOR_INTERVAL_HOURS: '0' }, { logDestination: pino.destination({ dest: path.join(dir, 'bot.log'), sync: true }) });
    try {
      await bot.scheduler.idle();
      expect(bot.store.technician.tickets.listOpen().filter((t) => t.title === 'Audit trail: the append-only triggers were removed')).toHaveLength(1);
      expect(JSON.parse(bot.store.audit.query({ action: 'audit.guards-alarm' })[0]!.details).reason).toBe('audit_events_append_only');
      expect(fs.existsSync(path.join(dir, 'audit-anchors.jsonl'))).toBe(false);
    } finally {
      await bot.close();
    }
  });
});

/**
 * Every way to rewrite an event through SQL is refused by the triggers of the file itself,
 * from a second connection that has none of the bot's pragmas (someone with the file and the
 * sqlite3 shell or better-sqlite3): `recursive_triggers` is per connection and off by default,
 * so a REPLACE's implicit delete would not fire the DELETE trigger there.
 */
describe('the trail refuses every write path but the next append', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-guards-paths-'));
    file = path.join(dir, 'helpdesk.db');
    const store = openStore(file);
    for (let i = 1; i <= 5; i++) store.audit.append({ actor: { id: 'tech-id', name: 'Tia Tech' }, action: 'welcome.shown', target: `t${i}`, outcome: 'success' });
    store.close();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A row of event 3 with its actor changed: what a REPLACE would put in its place. */
  const forged = (r: Database.Database) => ({ ...(r.prepare('SELECT * FROM audit_events WHERE seq = 3').get() as Record<string, unknown>), actor_name: 'Mallory' });
  const COLS = 'seq, ts, actor_id, actor_name, action, target, outcome, details, correlation_id, prev_hash, hash';
  const VALS = '@seq, @ts, @actor_id, @actor_name, @action, @target, @outcome, @details, @correlation_id, @prev_hash, @hash';
  const attacks: Array<[string, (r: Database.Database) => unknown]> = [
    ['INSERT OR REPLACE', (r) => r.prepare(`INSERT OR REPLACE INTO audit_events (${COLS}) VALUES (${VALS})`).run(forged(r))],
    ['REPLACE', (r) => r.prepare(`REPLACE INTO audit_events (${COLS}) VALUES (${VALS})`).run(forged(r))],
    ['UPSERT', (r) => r.prepare(`INSERT INTO audit_events (${COLS}) VALUES (${VALS}) ON CONFLICT(seq) DO UPDATE SET actor_name = excluded.actor_name`).run(forged(r))],
    ['INSERT OR IGNORE of an old seq', (r) => r.prepare(`INSERT OR IGNORE INTO audit_events (${COLS}) VALUES (${VALS})`).run({ ...forged(r), seq: 99 })],
    ['INSERT after a gap', (r) => r.prepare(`INSERT INTO audit_events (${COLS}) VALUES (${VALS})`).run({ ...forged(r), seq: 9 })],
    ['INSERT of the next seq that does not follow the head', (r) => r.prepare(`INSERT INTO audit_events (${COLS}) VALUES (${VALS})`).run({ ...forged(r), seq: 6 })],
    ['UPDATE', (r) => r.prepare("UPDATE audit_events SET actor_name = 'Mallory' WHERE seq = 3").run()],
    ['DELETE', (r) => r.prepare('DELETE FROM audit_events WHERE seq = 5').run()],
  ];

  for (const recursive of [false, true]) {
    for (const [name, attack] of attacks) {
      it(`${name} from a second connection (recursive_triggers ${recursive ? 'on' : 'off'}) is refused and changes nothing`, () => {
        const before = new Database(file, { readonly: true }).prepare('SELECT * FROM audit_events ORDER BY seq').all();
        const r = new Database(file);
        r.pragma(`recursive_triggers = ${recursive ? 'ON' : 'OFF'}`);
        try {
          expect(() => attack(r)).toThrow(/audit_events is append-only/);
        } finally {
          r.close();
        }
        const store = openStore(file);
        try {
          expect(store.db.prepare('SELECT * FROM audit_events ORDER BY seq').all()).toEqual(before);
          expect(store.audit.verify()).toMatchObject({ ok: true, count: 5 });
        } finally {
          store.close();
        }
      });
    }
  }

  it('the bot’s own connection has recursive_triggers on: a REPLACE is refused by the DELETE trigger even without the insert guard', () => {
    const store = openStore(file);
    try {
      expect(store.db.pragma('recursive_triggers', { simple: true })).toBe(1);
      store.db.exec('DROP TRIGGER audit_events_append_only');
      const r = forged(store.db);
      expect(() => store.db.prepare(`REPLACE INTO audit_events (${COLS}) VALUES (${VALS})`).run(r)).toThrow(/append-only: DELETE refused/);
    } finally {
      store.close();
    }
  });

  it('the next append still goes in, from any connection that chains it', () => {
    const store = openStore(file);
    try {
      store.audit.append({ actor: { id: null, name: 'test' }, action: 'test.next', target: null, outcome: 'success' });
      expect(store.audit.verify()).toMatchObject({ ok: true, count: 6 });
    } finally {
      store.close();
    }
  });

  it('a dropped, altered or foreign trigger is found by verify (command line exits 1, naming it) and put back at the next start', async () => {
    const r = new Database(file);
    r.exec(`DROP TRIGGER audit_events_append_only;
            DROP TRIGGER audit_events_no_update;
            CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events WHEN 0 BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END;
            CREATE TRIGGER audit_events_helper AFTER INSERT ON audit_events BEGIN SELECT 1; END;`);
    r.close();
    const out: string[] = [];
    const sink = (into: string[]) => new Writable({ write: (c, _e, cb) => (into.push(String(c)), cb()) });
    const code = await cliMain(['verify', '--db', file], {}, sink(out), sink([]));
    expect(code).toBe(1);
    const text = out.join('');
    expect(text).toMatch(/^OK: 5 events, chain intact/);
    expect(text).toContain('FAILED: GUARDS: the trigger audit_events_no_update is altered');
    expect(text).toContain('FAILED: GUARDS: the trigger audit_events_append_only is missing');
    expect(text).toContain('FAILED: GUARDS: the trigger audit_events_helper is not one of the trail’s guards');

    const store = openStore(file);
    try {
      expect(store.audit.restoreGuards().sort()).toEqual(['audit_events_append_only', 'audit_events_helper', 'audit_events_no_update']);
      expect(store.audit.guardProblems()).toEqual([]);
      const [event] = store.audit.query({ action: 'audit.guards-restored' });
      expect(JSON.parse(event!.details)).toMatchObject({ missing: ['audit_events_append_only'], altered: ['audit_events_no_update'], dropped: ['audit_events_helper'] });
      expect(() => store.db.prepare("UPDATE audit_events SET target = 'x' WHERE seq = 1").run()).toThrow(/UPDATE refused/);
    } finally {
      store.close();
    }
    const again: string[] = [];
    expect(await cliMain(['verify', '--db', file], {}, sink(again), sink([]))).toBe(0);
  });
});
