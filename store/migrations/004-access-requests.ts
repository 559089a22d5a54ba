import type { Migration } from '../db';

/** Schema step 4: access-requests. */
export const updateToSchemaVersion4: Migration = {
  version: 4,
  name: 'access-requests',
  up: (db) => {
    // `policy` and `context` are snapshots taken when the request is made, so a later
    // catalog edit or directory change does not alter what approvers were shown.
    // A decision is one row per (request, stage): the primary key makes it one-time.
    db.exec(`
        CREATE TABLE sequences (
          name  TEXT PRIMARY KEY,
          value INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO sequences (name, value) VALUES ('access_request', 1000);

        CREATE TABLE access_requests (
          id                 TEXT    PRIMARY KEY,
          requester_id       TEXT    NOT NULL,
          requester_name     TEXT    NOT NULL,
          resource_id        TEXT    NOT NULL,
          group_id           TEXT    NOT NULL,
          duration_hours     INTEGER,
          justification      TEXT,
          policy             TEXT    NOT NULL,
          context            TEXT    NOT NULL,
          state              TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'granted', 'denied', 'cancelled', 'expired', 'failed', 'revoked', 'superseded')),
          stage              INTEGER NOT NULL CHECK (stage BETWEEN 1 AND 3),
          stage_count        INTEGER NOT NULL CHECK (stage_count BETWEEN 1 AND 3),
          stage_started_at   TEXT    NOT NULL,
          extends_request_id TEXT,
          created_at         TEXT    NOT NULL,
          updated_at         TEXT    NOT NULL,
          closed_by_id       TEXT,
          closed_by_name     TEXT,
          closed_at          TEXT,
          close_comment      TEXT,
          granted_at         TEXT,
          expires_at         TEXT,
          ended_at           TEXT
        ) WITHOUT ROWID;
        CREATE INDEX access_requests_requester ON access_requests (requester_id, state);
        CREATE INDEX access_requests_state     ON access_requests (state, resource_id);

        CREATE TABLE access_request_approvers (
          request_id    TEXT    NOT NULL REFERENCES access_requests (id),
          stage         INTEGER NOT NULL,
          approver_id   TEXT    NOT NULL,
          approver_name TEXT    NOT NULL,
          source        TEXT    NOT NULL CHECK (source IN ('policy', 'fallback', 'escalation', 'delegate')),
          added_at      TEXT    NOT NULL,
          added_by_id   TEXT,
          PRIMARY KEY (request_id, stage, approver_id)
        ) WITHOUT ROWID;
        CREATE INDEX access_request_approvers_user ON access_request_approvers (approver_id, request_id);

        CREATE TABLE access_decisions (
          request_id      TEXT    NOT NULL REFERENCES access_requests (id),
          stage           INTEGER NOT NULL,
          decision        TEXT    NOT NULL CHECK (decision IN ('approved', 'denied')),
          decided_by_id   TEXT    NOT NULL,
          decided_by_name TEXT    NOT NULL,
          comment         TEXT,
          decided_at      TEXT    NOT NULL,
          PRIMARY KEY (request_id, stage)
        ) WITHOUT ROWID;
      `);
  },
};
