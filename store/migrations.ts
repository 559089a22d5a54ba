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
  {
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
  },
  {
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
  },
  {
    version: 6,
    name: 'card-references',
    up: (db) => {
      // Every copy of a request's card that was sent, so all of them can be updated in place.
      db.exec(`
        CREATE TABLE card_refs (
          id              INTEGER PRIMARY KEY,
          request_id      TEXT    NOT NULL,
          user_id         TEXT    NOT NULL,
          role            TEXT    NOT NULL CHECK (role IN ('requester', 'approver')),
          stage           INTEGER,
          conversation_id TEXT    NOT NULL,
          activity_id     TEXT    NOT NULL,
          reference       TEXT    NOT NULL,
          created_at      TEXT    NOT NULL,
          UNIQUE (conversation_id, activity_id)
        );
        CREATE INDEX card_refs_request ON card_refs (request_id, id);
      `);
    },
  },
  {
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
  },
  {
    version: 8,
    name: 'access-request-end-date',
    up: (db) => {
      // "Until Friday": a request may ask for a fixed end instead of a number of hours from
      // the grant. Existing requests keep their duration (NULL).
      db.exec(`ALTER TABLE access_requests ADD COLUMN ends_at TEXT;`);
    },
  },
  {
    version: 9,
    name: 'technician-commands',
    up: (db) => {
      // Tickets (everything that needs a person) with their history and SLA; plans of
      // technician commands waiting for a confirmation (a second technician's approval for a
      // privileged account) and their progress; pick-one prompts and listing pages; where the
      // plan and ticket cards were posted. No secret is stored: of a shown password or pass
      // only the message id. The audit index on target serves `audit <user>`.
      db.exec(`
        INSERT INTO sequences (name, value) VALUES ('ticket', 1000), ('technician_plan', 1000);

        CREATE TABLE tickets (
          id              TEXT    PRIMARY KEY,
          type            TEXT    NOT NULL CHECK (type IN ('signin', 'report', 'security', 'provisioning', 'escalation', 'offboarding', 'job', 'general')),
          title           TEXT    NOT NULL,
          text            TEXT    NOT NULL,
          facts           TEXT    NOT NULL,
          requester_id    TEXT,
          requester_name  TEXT,
          subject_id      TEXT,
          subject_name    TEXT,
          source_ref      TEXT,
          state           TEXT    NOT NULL CHECK (state IN ('open', 'in-progress', 'closed')),
          assignee_id     TEXT,
          assignee_name   TEXT,
          sla_hours       INTEGER NOT NULL CHECK (sla_hours > 0),
          sla_due_at      TEXT    NOT NULL,
          sla_breached_at TEXT,
          created_at      TEXT    NOT NULL,
          updated_at      TEXT    NOT NULL,
          closed_at       TEXT,
          closed_by_id    TEXT,
          closed_by_name  TEXT,
          close_note      TEXT
        ) WITHOUT ROWID;
        CREATE INDEX tickets_state   ON tickets (state, sla_due_at);
        CREATE INDEX tickets_source  ON tickets (source_ref, state);
        CREATE INDEX tickets_created ON tickets (created_at);
        CREATE INDEX tickets_closed  ON tickets (closed_at);

        CREATE TABLE ticket_history (
          id         INTEGER PRIMARY KEY,
          ticket_id  TEXT NOT NULL REFERENCES tickets (id),
          at         TEXT NOT NULL,
          actor_id   TEXT,
          actor_name TEXT,
          action     TEXT NOT NULL,
          note       TEXT
        );
        CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);

        CREATE TABLE technician_plans (
          id                 TEXT    PRIMARY KEY,
          command            TEXT    NOT NULL,
          actor_id           TEXT    NOT NULL,
          actor_name         TEXT    NOT NULL,
          subject_id         TEXT    NOT NULL,
          subject_name       TEXT    NOT NULL,
          subject_upn        TEXT    NOT NULL,
          args               TEXT    NOT NULL,
          steps              TEXT    NOT NULL,
          signature          TEXT    NOT NULL,
          privileged         INTEGER NOT NULL CHECK (privileged IN (0, 1)),
          state              TEXT    NOT NULL CHECK (state IN ('proposed', 'running', 'done', 'partial', 'cancelled', 'expired')),
          confirmed_at       TEXT,
          approved_by_id     TEXT,
          approved_by_name   TEXT,
          approved_at        TEXT,
          progress           TEXT    NOT NULL,
          secret_activity_id TEXT,
          secret_hidden_at   TEXT,
          correlation_id     TEXT,
          created_at         TEXT    NOT NULL,
          updated_at         TEXT    NOT NULL,
          expires_at         TEXT    NOT NULL,
          finished_at        TEXT
        ) WITHOUT ROWID;
        CREATE INDEX technician_plans_subject ON technician_plans (subject_id, state);

        CREATE TABLE technician_prompts (
          id         TEXT PRIMARY KEY,
          actor_id   TEXT NOT NULL,
          kind       TEXT NOT NULL CHECK (kind IN ('pick', 'audit-page')),
          payload    TEXT NOT NULL,
          created_at TEXT NOT NULL,
          expires_at TEXT NOT NULL,
          used_at    TEXT
        ) WITHOUT ROWID;

        CREATE TABLE technician_cards (
          id              INTEGER PRIMARY KEY,
          owner_id        TEXT NOT NULL,
          purpose         TEXT NOT NULL CHECK (purpose IN ('plan', 'ticket', 'secret')),
          conversation_id TEXT NOT NULL,
          activity_id     TEXT NOT NULL,
          reference       TEXT NOT NULL,
          created_at      TEXT NOT NULL,
          UNIQUE (conversation_id, activity_id)
        );
        CREATE INDEX technician_cards_owner ON technician_cards (owner_id, purpose, id);

        CREATE INDEX audit_events_target ON audit_events (target, seq);
      `);
    },
  },
];
