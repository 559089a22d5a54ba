import type { Migration } from '../db';

/** Schema step 16: audit-append-only-inserts. */
export const updateToSchemaVersion16: Migration = {
  version: 16,
  name: 'audit-append-only-inserts',
  up: (db) => {
    // UPDATE and DELETE were refused; an INSERT was not, and `INSERT OR REPLACE`, `REPLACE`
    // and an UPSERT start as one. With the bot's recursive_triggers the implicit delete of a
    // REPLACE is refused, but that pragma is per connection: someone opening the file with
    // the sqlite3 shell has it off. So an insert is taken only as the next event of the
    // chain (the next sequence number, following the head's hash), whoever the connection.
    db.exec(`
        CREATE TRIGGER audit_events_append_only BEFORE INSERT ON audit_events
          WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events)
            OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '${'0'.repeat(64)}')
          BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: only the next event of the chain may be inserted'); END;
      `);
  },
};
