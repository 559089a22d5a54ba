import type { Migration } from '../db';

/** Schema step 6: card-references. */
export const updateToSchemaVersion6: Migration = {
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
};
