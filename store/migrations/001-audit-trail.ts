import type { Migration } from '../db';

/** Schema step 1: audit-trail. */
export const updateToSchemaVersion1: Migration = {
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
};
