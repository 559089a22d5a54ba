import { AccessRequests } from './access-requests';
import { AuditTrail } from './audit-trail';
import { SqliteStorage } from './bot-storage';
import { CardRefs } from './card-refs';
import { ConversationRefs } from './conversation-refs';
import { openDatabase, type Db } from './db';
import { JobStore } from './jobs';
import { migrations } from './migrations';
import { RecoveryStore } from './recovery';
import { TechnicianStore } from './technician';

/** The helpdesk's own database: audit trail, bot state, conversation references. */
export interface Store {
  readonly file: string;
  readonly db: Db;
  readonly audit: AuditTrail;
  readonly botStorage: SqliteStorage;
  readonly conversations: ConversationRefs;
  /** Access requests, their approvers and decisions. */
  readonly requests: AccessRequests;
  /** Durable jobs the scheduler runs. */
  readonly jobs: JobStore;
  /** Where every copy of a request's card was sent. */
  readonly cards: CardRefs;
  /** Self-service sign-in recoveries, their verifications and the throttling memory. */
  readonly recovery: RecoveryStore;
  /** Tickets, technician command plans, pick-one prompts, audit search. */
  readonly technician: TechnicianStore;
  /** Runs `fn` in one transaction: a state change and its audit event commit together. */
  transaction<T>(fn: () => T): T;
  /** A cheap query that proves the file is readable. */
  health(): { ok: boolean; detail?: string };
  close(): void;
}

/** Opens (and migrates) the store at `file`. */
export function openStore(file: string, clock: () => Date = () => new Date()): Store {
  const db = openDatabase(file, { migrations });
  return {
    file,
    db,
    audit: new AuditTrail(db, clock),
    botStorage: new SqliteStorage(db, clock),
    conversations: new ConversationRefs(db, clock),
    requests: new AccessRequests(db, clock),
    jobs: new JobStore(db, clock),
    cards: new CardRefs(db, clock),
    recovery: new RecoveryStore(db, clock),
    technician: new TechnicianStore(db, clock),
    transaction: <T>(fn: () => T) => db.transaction(fn).immediate(),
    health: () => {
      try {
        db.prepare('SELECT 1').get();
        return { ok: true };
      } catch (err) {
        return { ok: false, detail: (err as Error).message };
      }
    },
    close: () => {
      if (!db.open) return;
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        db.close();
      }
    },
  };
}
