import type { Migration } from '../db';

/** Schema step 12: hr-feed. */
export const updateToSchemaVersion12: Migration = {
  version: 12,
  name: 'hr-feed',
  up: (db) => {
    // The HR feed: every batch received (a drop-folder file or a webhook call) with its
    // per-line report; the latest accepted record of each employee id with its content hash
    // (the same record again changes nothing), bound to one directory account; and the
    // joiner, mover and leaver actions the records caused, each run by a durable job at its
    // due time (`jobs.request_id` is the action id).
    db.exec(`
        INSERT INTO sequences (name, value) VALUES ('hr_batch', 1000), ('hr_action', 1000);

        CREATE TABLE hr_batches (
          id                TEXT    PRIMARY KEY,
          source            TEXT    NOT NULL CHECK (source IN ('file', 'webhook')),
          name              TEXT    NOT NULL,
          sha256            TEXT    NOT NULL,
          bytes             INTEGER NOT NULL,
          state             TEXT    NOT NULL CHECK (state IN ('processed', 'rejected')),
          error             TEXT,
          records           INTEGER NOT NULL,
          changed           INTEGER NOT NULL,
          unchanged         INTEGER NOT NULL,
          rejected          INTEGER NOT NULL,
          created_at        TEXT    NOT NULL,
          summary_posted_at TEXT
        ) WITHOUT ROWID;
        CREATE INDEX hr_batches_sha256 ON hr_batches (sha256, created_at);

        CREATE TABLE hr_batch_lines (
          batch_id    TEXT    NOT NULL REFERENCES hr_batches (id),
          line        INTEGER NOT NULL,
          employee_id TEXT,
          upn         TEXT,
          outcome     TEXT    NOT NULL CHECK (outcome IN ('changed', 'unchanged', 'rejected')),
          reason      TEXT,
          actions     TEXT    NOT NULL,
          PRIMARY KEY (batch_id, line)
        ) WITHOUT ROWID;

        CREATE TABLE hr_employees (
          employee_id  TEXT    PRIMARY KEY,
          user_id      TEXT    NOT NULL UNIQUE,
          upn          TEXT    NOT NULL,
          record       TEXT    NOT NULL,
          content_hash TEXT    NOT NULL,
          started      INTEGER NOT NULL CHECK (started IN (0, 1)),
          batch_id     TEXT    NOT NULL REFERENCES hr_batches (id),
          updated_at   TEXT    NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE hr_actions (
          id          TEXT PRIMARY KEY,
          batch_id    TEXT NOT NULL REFERENCES hr_batches (id),
          employee_id TEXT NOT NULL,
          user_id     TEXT NOT NULL,
          user_name   TEXT NOT NULL,
          upn         TEXT NOT NULL,
          kind        TEXT NOT NULL CHECK (kind IN ('joiner', 'mover', 'leaver')),
          due_at      TEXT NOT NULL,
          state       TEXT NOT NULL CHECK (state IN ('scheduled', 'running', 'done', 'partial', 'nothing-to-do', 'waiting-approval', 'superseded', 'failed')),
          record      TEXT NOT NULL,
          plan_ids    TEXT NOT NULL,
          review_id   TEXT,
          ticket_id   TEXT,
          detail      TEXT,
          created_at  TEXT NOT NULL,
          updated_at  TEXT NOT NULL,
          finished_at TEXT
        ) WITHOUT ROWID;
        CREATE INDEX hr_actions_employee ON hr_actions (employee_id, state);
        CREATE INDEX hr_actions_batch    ON hr_actions (batch_id, id);
      `);
  },
};
