import type { Migration } from '../db';

/** Schema step 3: conversation-references. */
export const updateToSchemaVersion3: Migration = {
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
};
