import type { Migration } from '../db';
import { updateToSchemaVersion1 } from './001-audit-trail';
import { updateToSchemaVersion2 } from './002-bot-state';
import { updateToSchemaVersion3 } from './003-conversation-references';
import { updateToSchemaVersion4 } from './004-access-requests';
import { updateToSchemaVersion5 } from './005-jobs';
import { updateToSchemaVersion6 } from './006-card-references';
import { updateToSchemaVersion7 } from './007-sign-in-recovery';
import { updateToSchemaVersion8 } from './008-access-request-end-date';
import { updateToSchemaVersion9 } from './009-technician-commands';
import { updateToSchemaVersion10 } from './010-access-reviews';
import { updateToSchemaVersion11 } from './011-drift-detection';
import { updateToSchemaVersion12 } from './012-hr-feed';
import { updateToSchemaVersion13 } from './013-drift-exception-approval';
import { updateToSchemaVersion14 } from './014-hr-webhook-signatures';
import { updateToSchemaVersion15 } from './015-hr-employee-keys';
import { updateToSchemaVersion16 } from './016-audit-append-only-inserts';

/**
 * The helpdesk database's schema, one numbered step per file (`NNN-name.ts`), applied in this
 * order by `openDatabase` (store/db.ts), which records each in `user_version`. Never edit a
 * released step: add a new file and append it here. Each step has a test that opens a database
 * at N-1 and migrates it to N. The SQL of a step keeps the indentation it was released with
 * (it is inside the string), so a released step's text never changes.
 */
export const migrations: readonly Migration[] = [
  updateToSchemaVersion1,
  updateToSchemaVersion2,
  updateToSchemaVersion3,
  updateToSchemaVersion4,
  updateToSchemaVersion5,
  updateToSchemaVersion6,
  updateToSchemaVersion7,
  updateToSchemaVersion8,
  updateToSchemaVersion9,
  updateToSchemaVersion10,
  updateToSchemaVersion11,
  updateToSchemaVersion12,
  updateToSchemaVersion13,
  updateToSchemaVersion14,
  updateToSchemaVersion15,
  updateToSchemaVersion16,
];
