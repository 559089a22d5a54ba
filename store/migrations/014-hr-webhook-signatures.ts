import type { Migration } from '../db';

/** Schema step 14: hr-webhook-signatures. */
export const updateToSchemaVersion14: Migration = {
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
};
