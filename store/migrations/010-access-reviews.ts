import type { Migration } from '../db';

/** Schema step 10: access-reviews. */
export const updateToSchemaVersion10: Migration = {
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
};
