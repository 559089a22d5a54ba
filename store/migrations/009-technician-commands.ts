import type { Migration } from '../db';

/** Schema step 9: technician-commands. */
export const updateToSchemaVersion9: Migration = {
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
};
