import type { Migration } from '../db';

/** Schema step 11: drift-detection. */
export const updateToSchemaVersion11: Migration = {
  version: 11,
  name: 'drift-detection',
  up: (db) => {
    // Drift findings: one row per fingerprint (kind, group, user and, for separation of
    // duties, the combination), its state, the ticket it raised, an accepted exception with
    // its reason and who accepted it, a removal waiting for its confirmation (and a second
    // technician's approval); and the runs of the check. Card copies go to technician_cards.
    db.exec(`
        INSERT INTO sequences (name, value) VALUES ('drift_finding', 1000);

        CREATE TABLE drift_findings (
          id                       TEXT    PRIMARY KEY,
          fingerprint              TEXT    NOT NULL UNIQUE,
          kind                     TEXT    NOT NULL CHECK (kind IN ('unapproved', 'expired-grant', 'disabled', 'left', 'sod', 'privileged')),
          group_id                 TEXT    NOT NULL,
          group_name               TEXT    NOT NULL,
          other_group_id           TEXT,
          other_group_name         TEXT,
          combination              TEXT,
          user_id                  TEXT    NOT NULL,
          user_name                TEXT    NOT NULL,
          user_upn                 TEXT,
          details                  TEXT    NOT NULL,
          state                    TEXT    NOT NULL CHECK (state IN ('open', 'accepted', 'resolved')),
          occurrence               INTEGER NOT NULL CHECK (occurrence > 0),
          ticket_id                TEXT,
          first_seen_at            TEXT    NOT NULL,
          last_seen_at             TEXT    NOT NULL,
          opened_at                TEXT    NOT NULL,
          resolved_at              TEXT,
          resolution               TEXT    CHECK (resolution IN ('gone', 'removed', 'exception-revoked')),
          accepted_reason          TEXT,
          accepted_by_id           TEXT,
          accepted_by_name         TEXT,
          accepted_at              TEXT,
          review_id                TEXT,
          removal_state            TEXT    CHECK (removal_state IN ('proposed', 'running', 'done', 'failed', 'cancelled')),
          removal_group_id         TEXT,
          removal_group_name       TEXT,
          removal_by_id            TEXT,
          removal_by_name          TEXT,
          removal_confirmed_at     TEXT,
          removal_approved_by_id   TEXT,
          removal_approved_by_name TEXT,
          removal_approved_at      TEXT,
          removal_privileged       INTEGER CHECK (removal_privileged IN (0, 1)),
          removal_expires_at       TEXT,
          removal_error            TEXT,
          updated_at               TEXT    NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX drift_findings_state  ON drift_findings (state, kind);
        CREATE INDEX drift_findings_ticket ON drift_findings (ticket_id);
        CREATE INDEX drift_findings_user   ON drift_findings (user_id);

        CREATE TABLE drift_runs (
          id          INTEGER PRIMARY KEY,
          trigger     TEXT    NOT NULL CHECK (trigger IN ('command', 'schedule')),
          actor_id    TEXT,
          actor_name  TEXT,
          scope       TEXT    NOT NULL,
          dry_run     INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
          started_at  TEXT    NOT NULL,
          finished_at TEXT,
          summary     TEXT
        );
      `);
  },
};
