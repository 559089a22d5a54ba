import type { Migration } from './db';

/**
 * The helpdesk database's schema, one numbered step each. Never edit a released step:
 * add a new one. Each step has a test that opens a database at N-1 and migrates it to N.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'audit-trail',
    up: (db) => {
      db.exec(`
        CREATE TABLE audit_events (
          seq            INTEGER PRIMARY KEY,
          ts             TEXT    NOT NULL,
          actor_id       TEXT,
          actor_name     TEXT,
          action         TEXT    NOT NULL,
          target         TEXT,
          outcome        TEXT    NOT NULL,
          details        TEXT    NOT NULL,
          correlation_id TEXT,
          prev_hash      TEXT    NOT NULL,
          hash           TEXT    NOT NULL
        );
        CREATE INDEX audit_events_actor       ON audit_events (actor_id, seq);
        CREATE INDEX audit_events_correlation ON audit_events (correlation_id, seq);
        CREATE INDEX audit_events_action      ON audit_events (action, seq);
        CREATE INDEX audit_events_ts          ON audit_events (ts);
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
          BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END;
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
          BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END;
      `);
    },
  },
  {
    version: 2,
    name: 'bot-state',
    up: (db) => {
      db.exec(`
        CREATE TABLE bot_state (
          key        TEXT PRIMARY KEY,
          value      TEXT NOT NULL,
          etag       TEXT NOT NULL,
          updated_at TEXT NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 3,
    name: 'conversation-references',
    up: (db) => {
      db.exec(`
        CREATE TABLE conversation_refs (
          conversation_id   TEXT PRIMARY KEY,
          conversation_type TEXT NOT NULL,
          user_id           TEXT,
          tenant_id         TEXT,
          team_id           TEXT,
          channel_id        TEXT,
          service_url       TEXT NOT NULL,
          reference         TEXT NOT NULL,
          updated_at        TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX conversation_refs_user ON conversation_refs (user_id, conversation_type);
        CREATE INDEX conversation_refs_team ON conversation_refs (team_id, channel_id);
      `);
    },
  },
];
