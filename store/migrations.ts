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
  {
    version: 10,
    name: 'access-reviews',
    up: (db) => {
      // Access review campaigns (`REV-1001`): what was reviewed, by whom, each decision and its
      // reason, what was auto-applied at the close, and when each removal was asked for and took
      // effect. `helpers` is the snapshot the reviewers were shown (how the access was granted,
      // its expiry, the last sign-in, department and manager). A decision is one guarded UPDATE
      // of a row whose decision is still NULL. Reviewer cards and the technicians' progress and
      // report cards are remembered so they can be updated in place. Scheduled campaigns remember
      // when the bot first saw a schedule and every occurrence they handled, so none starts twice.
      db.exec(`
        INSERT INTO sequences (name, value) VALUES ('access_review', 1000);

        CREATE TABLE review_campaigns (
          id              TEXT    PRIMARY KEY,
          title           TEXT    NOT NULL,
          scope           TEXT    NOT NULL,
          reviewer        TEXT    NOT NULL,
          auto_apply      TEXT    NOT NULL CHECK (auto_apply IN ('deny', 'keep', 'none')),
          inactive_days   INTEGER,
          state           TEXT    NOT NULL CHECK (state IN ('active', 'closed', 'cancelled')),
          started_by_id   TEXT    NOT NULL,
          started_by_name TEXT    NOT NULL,
          reason          TEXT,
          schedule_id     TEXT,
          occurrence      TEXT,
          created_at      TEXT    NOT NULL,
          due_at          TEXT    NOT NULL,
          updated_at      TEXT    NOT NULL,
          closed_at       TEXT,
          closed_by_id    TEXT,
          closed_by_name  TEXT,
          close_reason    TEXT
        ) WITHOUT ROWID;
        CREATE INDEX review_campaigns_state ON review_campaigns (state, due_at);

        CREATE TABLE review_items (
          id                   INTEGER PRIMARY KEY,
          campaign_id          TEXT    NOT NULL REFERENCES review_campaigns (id),
          member_id            TEXT    NOT NULL,
          member_name          TEXT    NOT NULL,
          member_upn           TEXT    NOT NULL,
          group_id             TEXT    NOT NULL,
          access_name          TEXT    NOT NULL,
          resource_id          TEXT,
          helpers              TEXT    NOT NULL,
          decision             TEXT    CHECK (decision IN ('keep', 'remove')),
          reason               TEXT,
          decided_by_id        TEXT,
          decided_by_name      TEXT,
          decided_at           TEXT,
          auto_applied         INTEGER NOT NULL DEFAULT 0 CHECK (auto_applied IN (0, 1)),
          removal_state        TEXT    CHECK (removal_state IN ('requested', 'removed', 'failed')),
          removal_requested_at TEXT,
          removal_effective_at TEXT,
          removal_result       TEXT,
          UNIQUE (campaign_id, member_id, group_id)
        );
        CREATE INDEX review_items_campaign ON review_items (campaign_id, id);

        CREATE TABLE review_item_reviewers (
          item_id       INTEGER NOT NULL REFERENCES review_items (id),
          reviewer_id   TEXT    NOT NULL,
          reviewer_name TEXT    NOT NULL,
          source        TEXT    NOT NULL CHECK (source IN ('manager', 'owner', 'group', 'user', 'fallback')),
          PRIMARY KEY (item_id, reviewer_id)
        ) WITHOUT ROWID;
        CREATE INDEX review_item_reviewers_user ON review_item_reviewers (reviewer_id, item_id);

        CREATE TABLE review_cards (
          id              INTEGER PRIMARY KEY,
          campaign_id     TEXT    NOT NULL,
          purpose         TEXT    NOT NULL CHECK (purpose IN ('reviewer', 'progress', 'report')),
          user_id         TEXT,
          page            INTEGER NOT NULL DEFAULT 1,
          conversation_id TEXT    NOT NULL,
          activity_id     TEXT    NOT NULL,
          reference       TEXT    NOT NULL,
          created_at      TEXT    NOT NULL,
          UNIQUE (conversation_id, activity_id)
        );
        CREATE INDEX review_cards_campaign ON review_cards (campaign_id, purpose, user_id);

        CREATE TABLE review_schedule_state (
          schedule_id   TEXT PRIMARY KEY,
          first_seen_at TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE review_schedule_runs (
          schedule_id TEXT NOT NULL,
          occurrence  TEXT NOT NULL,
          outcome     TEXT NOT NULL CHECK (outcome IN ('started', 'skipped')),
          campaign_id TEXT,
          detail      TEXT,
          at          TEXT NOT NULL,
          PRIMARY KEY (schedule_id, occurrence)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
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
  },  {
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
  },
  {
    version: 13,
    name: 'drift-exception-approval',
    up: (db) => {
      // An exception on a privileged group (or for a member of one) takes four eyes: the
      // technician who proposes it with its reason, until when a second technician may approve
      // it, and who did. Cleared when the proposal is cancelled or expires.
      db.exec(`
        ALTER TABLE drift_findings ADD COLUMN exception_by_id            TEXT;
        ALTER TABLE drift_findings ADD COLUMN exception_by_name          TEXT;
        ALTER TABLE drift_findings ADD COLUMN exception_reason           TEXT;
        ALTER TABLE drift_findings ADD COLUMN exception_expires_at       TEXT;
        ALTER TABLE drift_findings ADD COLUMN exception_approved_by_id   TEXT;
        ALTER TABLE drift_findings ADD COLUMN exception_approved_by_name TEXT;
        ALTER TABLE drift_findings ADD COLUMN exception_approved_at      TEXT;
      `);
    },
  },
  {
    version: 14,
    name: 'hr-webhook-signatures',
    up: (db) => {
      // The HR webhook's replay memory: each signed request taken (its canonical signature
      // `<t>.<v1>`) until its time leaves the window, so a captured request is refused with 409
      // also after a restart. Claimed with one guarded INSERT; the batch it became is set after.
      db.exec(`
        CREATE TABLE hr_webhook_signatures (
          signature   TEXT PRIMARY KEY,
          expires_at  TEXT NOT NULL,
          batch_id    TEXT,
          received_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX hr_webhook_signatures_expiry ON hr_webhook_signatures (expires_at);
      `);
    },
  },
  {
    version: 15,
    name: 'hr-employee-keys',
    up: (db) => {
      // Employee ids are case-insensitive: each employee is found by its id in lower case
      // (`employee_key`); `employee_id` keeps the spelling HR used, for display. Ids that
      // differed only by case could be stored for two accounts before: the one updated last
      // keeps the key, the others get one no id can match (`#` is not allowed in an id), so
      // they stay bound to their accounts and their id in another case is refused for them.
      // The actions of an employee are found by the same key, through an index on it.
      db.exec(`
        ALTER TABLE hr_employees ADD COLUMN employee_key TEXT NOT NULL DEFAULT '';
        UPDATE hr_employees SET employee_key = lower(employee_id);
        UPDATE hr_employees SET employee_key = employee_key || '#' || user_id
          WHERE EXISTS (
            SELECT 1 FROM hr_employees o
            WHERE o.employee_key = hr_employees.employee_key AND o.employee_id <> hr_employees.employee_id
              AND (o.updated_at > hr_employees.updated_at OR (o.updated_at = hr_employees.updated_at AND o.employee_id > hr_employees.employee_id))
          );
        CREATE UNIQUE INDEX hr_employees_key ON hr_employees (employee_key);
        DROP INDEX hr_actions_employee;
        CREATE INDEX hr_actions_employee_key ON hr_actions (lower(employee_id), state);
      `);
    },
  },
  {
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
  },
];
