import type { Migration } from '../db';

/** Schema step 8: access-request-end-date. */
export const updateToSchemaVersion8: Migration = {
  version: 8,
  name: 'access-request-end-date',
  up: (db) => {
    // "Until Friday": a request may ask for a fixed end instead of a number of hours from
    // the grant. Existing requests keep their duration (NULL).
    db.exec(`ALTER TABLE access_requests ADD COLUMN ends_at TEXT;`);
  },
};
