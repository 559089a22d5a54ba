import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBot } from '../../bot/main';
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
    } finally {
      await bot.close();
    }
    // In place: the next start records nothing more.
    const again = await startBot(env(), { logDestination: pino.destination({ dest: log, sync: true }) });
    try {
      expect(again.store.audit.query({ action: 'audit.guards-restored' })).toHaveLength(1);
    } finally {
      await again.close();
    }
  });
});
