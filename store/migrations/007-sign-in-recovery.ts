import type { Migration } from '../db';

/** Schema step 7: sign-in-recovery. */
export const updateToSchemaVersion7: Migration = {
  version: 7,
  name: 'sign-in-recovery',
  up: (db) => {
    // Self-service sign-in recovery. No secret is ever stored here: not the temporary
    // password, not the Temporary Access Pass, not a code the user typed. Of a shown secret
    // only the message id is kept, so the message can be hidden later.
    // `recovery_events` and `recovery_lockouts` are the throttling memory (they survive a
    // restart); `totp_steps` remembers the last accepted time step per authenticator so a
    // code cannot be used twice.
    db.exec(`
        CREATE TABLE recovery_sessions (
          id                 TEXT    PRIMARY KEY,
          user_id            TEXT    NOT NULL,
          user_name          TEXT    NOT NULL,
          flow               TEXT    NOT NULL CHECK (flow IN ('password', 'mfa', 'unlock')),
          state              TEXT    NOT NULL CHECK (state IN ('verifying', 'verified', 'completing', 'completed', 'refused', 'failed', 'expired', 'cancelled')),
          privileged         INTEGER NOT NULL CHECK (privileged IN (0, 1)),
          requirement        TEXT    NOT NULL,
          lost_methods       TEXT    NOT NULL,
          created_at         TEXT    NOT NULL,
          updated_at         TEXT    NOT NULL,
          expires_at         TEXT    NOT NULL,
          verified_at        TEXT,
          completed_at       TEXT,
          outcome            TEXT,
          secret_activity_id TEXT,
          secret_shown_at    TEXT,
          secret_hidden_at   TEXT,
          secret_expires_at  TEXT
        ) WITHOUT ROWID;
        CREATE INDEX recovery_sessions_user ON recovery_sessions (user_id, state);

        CREATE TABLE recovery_verifications (
          session_id           TEXT NOT NULL REFERENCES recovery_sessions (id),
          method               TEXT NOT NULL CHECK (method IN ('code', 'sign-in', 'manager', 'technician')),
          state                TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'declined', 'expired', 'cancelled')),
          verifier_id          TEXT,
          verifier_name        TEXT,
          requested_at         TEXT NOT NULL,
          challenge_expires_at TEXT,
          decided_at           TEXT,
          PRIMARY KEY (session_id, method)
        ) WITHOUT ROWID;

        CREATE TABLE recovery_events (
          id      INTEGER PRIMARY KEY,
          user_id TEXT NOT NULL,
          kind    TEXT NOT NULL CHECK (kind IN ('completed', 'verification-failed')),
          flow    TEXT NOT NULL,
          at      TEXT NOT NULL
        );
        CREATE INDEX recovery_events_user ON recovery_events (user_id, kind, at);

        CREATE TABLE recovery_lockouts (
          user_id   TEXT NOT NULL,
          locked_at TEXT NOT NULL,
          until     TEXT NOT NULL,
          PRIMARY KEY (user_id, locked_at)
        ) WITHOUT ROWID;

        CREATE TABLE totp_steps (
          user_id   TEXT    NOT NULL,
          method_id TEXT    NOT NULL,
          last_step INTEGER NOT NULL,
          PRIMARY KEY (user_id, method_id)
        ) WITHOUT ROWID;
      `);
  },
};
