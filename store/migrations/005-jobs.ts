import type { Migration } from '../db';

/** Schema step 5: jobs. */
export const updateToSchemaVersion5: Migration = {
  version: 5,
  name: 'jobs',
  up: (db) => {
    // Durable work: provisioning, expiry, reminders, escalation, notifications.
    // `dedupe_key` makes scheduling the same logical job twice a no-op.
    db.exec(`
        CREATE TABLE jobs (
          id           INTEGER PRIMARY KEY,
          kind         TEXT    NOT NULL,
          request_id   TEXT,
          dedupe_key   TEXT    UNIQUE,
          payload      TEXT    NOT NULL,
          state        TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'cancelled')),
          attempts     INTEGER NOT NULL DEFAULT 0,
          max_attempts INTEGER NOT NULL,
          next_run_at  TEXT    NOT NULL,
          last_error   TEXT,
          created_at   TEXT    NOT NULL,
          updated_at   TEXT    NOT NULL
        );
        CREATE INDEX jobs_due     ON jobs (state, next_run_at);
        CREATE INDEX jobs_request ON jobs (request_id, state);
      `);
  },
};
