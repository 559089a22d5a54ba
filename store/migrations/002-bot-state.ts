import type { Migration } from '../db';

/** Schema step 2: bot-state. */
export const updateToSchemaVersion2: Migration = {
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
};
