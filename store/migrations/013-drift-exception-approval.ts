import type { Migration } from '../db';

/** Schema step 13: drift-exception-approval. */
export const updateToSchemaVersion13: Migration = {
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
};
