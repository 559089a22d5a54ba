import { createHash, hash as cryptoHash } from 'node:crypto';
import type { Db } from './db';
import { isSecretKey, REDACTED } from './secret-keys';

/** How an audited step ended. */
export type AuditOutcome = 'success' | 'failure' | 'refused';
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'refused'];

/** Who acted: a directory user, the bot itself (`system`), or someone the directory does not know. */
export interface AuditActor {
  id: string | null;
  name: string | null;
}

export interface AuditEventInput {
  actor: AuditActor;
  /** Dotted verb, e.g. `welcome.shown`, `access.requested`. */
  action: string;
  /** What the action was about: a user id, a request id, a group id. */
  target?: string | null;
  outcome: AuditOutcome;
  /** Facts worth keeping. Keys that look like secrets are redacted before storage. */
  details?: Record<string, unknown>;
  /** Ties the events of one turn or one request together. */
  correlationId?: string | null;
}

export interface AuditEvent {
  seq: number;
  ts: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  /** Canonical JSON text, exactly as hashed. */
  details: string;
  correlationId: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  /** Inclusive lower bound, ISO 8601. */
  since?: string;
  /** Exclusive upper bound, ISO 8601. */
  until?: string;
  /**
   * Actor id (exact) or display name (case-insensitive). A directory object id (a GUID)
   * matches the actor id only, through the actor index; other text may read through the
   * trail for names.
   */
  actor?: string;
  /** Exact action, or a prefix when it ends with `*` (`access.*`). */
  action?: string;
  correlationId?: string;
  target?: string;
}

export type VerifyResult =
  | { ok: true; count: number; headSeq: number; headHash: string }
  | { ok: false; count: number; firstBadSeq: number; reason: string };

/** The `prev_hash` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);


/**
 * The tamper-evident audit trail: an append-only SQLite table (triggers refuse UPDATE and
 * DELETE) in which every event carries the SHA-256 of its canonical encoding and of the
 * previous event's hash. Editing, deleting, inserting or reordering events breaks the chain
 * at the first affected sequence number, which {@link AuditTrail.verify} reports.
 *
 * `append` is synchronous so that callers can write the event in the same transaction as
 * the state change it records (`db.transaction(() => { change(); audit.append(...) })`).
 */
export class AuditTrail {
  private readonly insert;
  private readonly head;
  private readonly tailStmt;
  private readonly write: { immediate: (input: AuditEventInput) => AuditEvent };

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.insert = db.prepare(
      `INSERT INTO audit_events (seq, ts, actor_id, actor_name, action, target, outcome, details, correlation_id, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.head = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').raw();
    this.tailStmt = db.prepare(`SELECT ${COLUMNS} FROM audit_events ORDER BY seq DESC LIMIT ?`).raw();
    this.write = db.transaction((input: AuditEventInput) => this.insertNext(input));
  }

  /** Appends one event and returns it as stored. */
  append(input: AuditEventInput): AuditEvent {
    if (!input.action || typeof input.action !== 'string') throw new Error('audit event needs an action');
    if (!AUDIT_OUTCOMES.includes(input.outcome)) throw new Error(`audit outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`);
    return this.db.inTransaction ? this.insertNext(input) : this.write.immediate(input);
  }

  /** Reads the head and inserts the next event; runs inside the append transaction. */
  private insertNext(input: AuditEventInput): AuditEvent {
    const last = this.head.get() as [number, string] | undefined;
    const seq = last ? last[0] + 1 : 1;
    const prevHash = last ? last[1] : GENESIS_HASH;
    const event: Omit<AuditEvent, 'hash'> = {
      seq,
      ts: this.clock().toISOString(),
      actorId: input.actor.id ?? null,
      actorName: input.actor.name ?? null,
      action: input.action,
      target: input.target ?? null,
      outcome: input.outcome,
      details: canonicalJson(redactSecrets(input.details ?? {})),
      correlationId: input.correlationId ?? null,
      prevHash,
    };
    const hash = hashEvent(event);
    this.insert.run(
      event.seq,
      event.ts,
      event.actorId,
      event.actorName,
      event.action,
      event.target,
      event.outcome,
      event.details,
      event.correlationId,
      event.prevHash,
      hash,
    );
    return { ...event, hash };
  }

  /**
   * Walks the whole chain in sequence order and names the first event that does not fit:
   * a gap or a duplicate in the numbering, a `prev_hash` that is not the previous event's
   * hash, or a hash that does not match the event's content.
   *
   * The chain alone cannot tell a wholesale rewrite (every hash recomputed) or a cut-off
   * end from the truth: pass an `anchor`, a head (`seq`, `hash`) printed by an earlier
   * verify and kept elsewhere, to prove the trail still contains it. Pass every anchor of
   * an anchor file, not just the newest: a chain rewritten and then anchored again (the
   * scheduled job writes whatever head it finds) still fails at the older ones, and so does
   * an anchor line edited in the file.
   *
   * `since`, an anchor, checks only what came after it: the anchored event still has its hash
   * and every later event follows from it (what the anchors job checks before it writes a
   * new head, without reading the whole trail).
   */
  verify(anchorOrAnchors?: { seq: number; hash: string } | readonly { seq: number; hash: string }[], options: { since?: { seq: number; hash: string } } = {}): VerifyResult {
    const list = anchorOrAnchors === undefined ? [] : Array.isArray(anchorOrAnchors) ? anchorOrAnchors : [anchorOrAnchors as { seq: number; hash: string }];
    const anchors = list.length ? new Map(list.map((a) => [a.seq, a.hash])) : null;
    const lastAnchor = list.reduce((m, a) => Math.max(m, a.seq), 0);
    // Pages by sequence number: faster than a row iterator, and memory stays bounded. SQLite
    // builds each event's canonical encoding itself: json_array escapes text exactly as
    // JSON.stringify does (a test compares every character), seq is the integer rowid and
    // the other columns have TEXT affinity, so the encoding is the same text `append`
    // hashed. A row arrives as four values instead of eleven and no array is built per
    // event. A row that does not check out this way is read again in full and judged by the
    // JavaScript encoding, as is a page SQLite cannot encode (a BLOB where text belongs).
    const encodedPage = this.db
      .prepare(
        `SELECT seq, prev_hash, hash, json_array(seq, ts, actor_id, actor_name, action, target, outcome, details, correlation_id, prev_hash)
         FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ${VERIFY_PAGE}`,
      )
      .raw();
    const fullPage = this.db.prepare(`SELECT ${COLUMNS} FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ${VERIFY_PAGE}`).raw();
    const fullRow = this.db.prepare(`SELECT ${COLUMNS} FROM audit_events WHERE seq = ?`).raw();
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let count = 0;
    const since = options.since;
    if (since) {
      // Only the events after an anchor: the anchored event must still be there with its hash.
      const at = this.db.prepare('SELECT hash FROM audit_events WHERE seq = ?').pluck().get(since.seq) as string | undefined;
      if (at === undefined) return { ok: false, count: 0, firstBadSeq: since.seq, reason: `the trail no longer holds the anchored event ${since.seq}: events were removed` };
      if (at !== since.hash) return { ok: false, count: 0, ...rewritten(since.seq, since.hash) };
      expectedSeq = since.seq + 1;
      prevHash = since.hash;
      count = since.seq;
    }
    for (;;) {
      let page: unknown[][];
      let encoded = true;
      try {
        page = encodedPage.all(expectedSeq - 1) as unknown[][];
      } catch {
        page = fullPage.all(expectedSeq - 1) as unknown[][];
        encoded = false;
      }
      if (page.length === 0) break;
      for (const row of page) {
        let problem: { firstBadSeq: number; reason: string } | null;
        let hash: string;
        if (encoded) {
          // [seq, prev_hash, hash, encoding]
          hash = row[2] as string;
          if (row[0] === expectedSeq && row[1] === prevHash && sha256Hex(row[3] as string) === hash) {
            const recorded = anchors?.get(expectedSeq);
            problem = recorded !== undefined && hash !== recorded ? rewritten(expectedSeq, recorded) : null;
          } else {
            // Something is off: judge the row from its columns, with the encoding `append` hashed.
            const full = fullRow.get(row[0]) as unknown[] | undefined;
            problem = full ? this.checkRow(full, expectedSeq, prevHash, anchors) : { firstBadSeq: expectedSeq, reason: `event ${String(row[0])} changed while it was being verified` };
          }
        } else {
          hash = row[10] as string;
          problem = this.checkRow(row, expectedSeq, prevHash, anchors);
        }
        if (problem) return { ok: false, count, ...problem };
        prevHash = hash;
        expectedSeq += 1;
        count += 1;
      }
    }
    if (lastAnchor > count) {
      return { ok: false, count, firstBadSeq: count + 1, reason: `the trail ends at event ${count}, before the recorded event ${lastAnchor}: events were removed from its end` };
    }
    return { ok: true, count, headSeq: count, headHash: prevHash };
  }

  /** The first problem with one stored row, given what the chain expects at this point. */
  private checkRow(row: unknown[], expectedSeq: number, prevHash: string, anchors: Map<number, string> | null): { firstBadSeq: number; reason: string } | null {
    const seq = row[0] as number;
    const rowHash = row[10] as string;
    if (seq !== expectedSeq) return { firstBadSeq: Math.min(seq, expectedSeq), reason: `sequence ${expectedSeq} is missing (next event is ${seq})` };
    if (row[9] !== prevHash) return { firstBadSeq: seq, reason: `event ${seq} does not follow event ${seq - 1} (prev_hash differs)` };
    // The row's first ten columns are the canonical encoding's fields, in order.
    if (sha256Hex(JSON.stringify(row.slice(0, 10))) !== rowHash) return { firstBadSeq: seq, reason: `event ${seq} was altered (its hash does not match its content)` };
    const recorded = anchors?.get(seq);
    if (recorded !== undefined && rowHash !== recorded) return rewritten(seq, recorded);
    return null;
  }

  /**
   * What is wrong with the triggers that make the trail append-only: each one of
   * {@link APPEND_ONLY_GUARDS} must be there with its SQL (whitespace aside), and no other
   * trigger may sit on the table. While a guard is missing or altered, the file can be
   * changed without SQLite refusing, so `verify` reports this beside the chain. Empty when
   * all is in place.
   */
  guardProblems(): GuardProblem[] {
    const found = new Map(
      (this.db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'`).all() as Array<{ name: string; sql: string | null }>).map((r) => [r.name, r.sql ?? '']),
    );
    const problems: GuardProblem[] = [];
    for (const g of APPEND_ONLY_GUARDS) {
      const sql = found.get(g.name);
      if (sql === undefined) problems.push({ trigger: g.name, problem: 'missing' });
      else if (normalSql(sql) !== normalSql(g.sql)) problems.push({ trigger: g.name, problem: 'altered' });
    }
    for (const name of found.keys()) if (!APPEND_ONLY_GUARDS.some((g) => g.name === name)) problems.push({ trigger: name, problem: 'unexpected' });
    return problems;
  }

  /**
   * Puts back the triggers that make the trail append-only (migrations 1 and 16) when someone
   * removed or rewrote them in the file, drops triggers on the trail that are not ours, and
   * records that in the trail itself, in the same transaction: while they were off, events
   * could have been changed without SQLite refusing, so `verify` (and the anchors) are what
   * to run next. Returns the triggers that were missing or altered.
   */
  restoreGuards(): string[] {
    const problems = this.guardProblems();
    if (!problems.length) return [];
    const names = (kind: GuardProblem['problem']) => problems.filter((p) => p.problem === kind).map((p) => p.trigger);
    this.db.transaction(() => {
      for (const p of problems) {
        // Names come from sqlite_master or our own list; quoted as identifiers all the same.
        if (p.problem !== 'missing') this.db.exec(`DROP TRIGGER IF EXISTS "${p.trigger.replace(/"/g, '""')}"`);
        const guard = APPEND_ONLY_GUARDS.find((g) => g.name === p.trigger);
        if (guard) this.db.exec(guard.sql);
      }
      this.insertNext({
        actor: { id: null, name: 'Helpdesk bot' },
        action: 'audit.guards-restored',
        target: null,
        outcome: 'failure',
        details: {
          missing: names('missing'),
          ...(names('altered').length ? { altered: names('altered') } : {}),
          ...(names('unexpected').length ? { dropped: names('unexpected') } : {}),
          note: 'the append-only triggers had been removed from the database file or changed: run audit verify with the anchors',
        },
      });
    }).immediate();
    return problems.map((p) => p.trigger);
  }

  /** The last `n` events, oldest first. */
  tail(n: number): AuditEvent[] {
    const limit = Math.max(0, Math.min(Math.floor(n), 10_000));
    return (this.tailStmt.all(limit) as unknown[][]).map(fromRow).reverse();
  }

  /** One page of events matching `filter`, in sequence order, after `afterSeq`. */
  query(filter: AuditFilter = {}, page: { afterSeq?: number; limit?: number } = {}): AuditEvent[] {
    const { where, params } = buildWhere(filter);
    const limit = Math.max(1, Math.min(page.limit ?? 100, 10_000));
    const sql = `SELECT ${COLUMNS} FROM audit_events WHERE seq > ?${where} ORDER BY seq LIMIT ?`;
    return (this.db.prepare(sql).raw().all(page.afterSeq ?? 0, ...params, limit) as unknown[][]).map(fromRow);
  }

  /**
   * Every matching event in sequence order, fetched a page at a time by sequence number,
   * so memory stays constant however long the trail is.
   */
  *stream(filter: AuditFilter = {}, pageSize = 2_000): Generator<AuditEvent> {
    let after = 0;
    for (;;) {
      const page = this.query(filter, { afterSeq: after, limit: pageSize });
      if (page.length === 0) return;
      yield* page;
      after = page[page.length - 1]!.seq;
      if (page.length < pageSize) return;
    }
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  }
}

const COLUMNS = 'seq, ts, actor_id, actor_name, action, target, outcome, details, correlation_id, prev_hash, hash';

/** One way a guard trigger of the trail is not as the migrations made it. */
export interface GuardProblem {
  trigger: string;
  /** Gone; there with other SQL; or a trigger on the trail that is none of ours. */
  problem: 'missing' | 'altered' | 'unexpected';
}

/**
 * The triggers that keep the trail append-only, as migrations 1 and 16 create them: UPDATE
 * and DELETE refused (also the delete a `REPLACE` makes, on connections with
 * recursive_triggers), and an INSERT taken only as the next event of the chain, which refuses
 * `INSERT OR REPLACE`, `REPLACE` and UPSERT of an existing event whatever the connection's pragmas.
 */
export const APPEND_ONLY_GUARDS: ReadonlyArray<{ name: string; sql: string }> = [
  {
    name: 'audit_events_no_update',
    sql: `CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
          BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END;`,
  },
  {
    name: 'audit_events_no_delete',
    sql: `CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
          BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END;`,
  },
  {
    name: 'audit_events_append_only',
    sql: `CREATE TRIGGER audit_events_append_only BEFORE INSERT ON audit_events
          WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events)
            OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '${GENESIS_HASH}')
          BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: only the next event of the chain may be inserted'); END;`,
  },
];

/** A trigger's SQL as SQLite keeps it, compared without layout: runs of whitespace and a final `;`. */
function normalSql(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim().replace(/\s*;$/, '');
}

/** Events per page when verifying: a few megabytes of memory whatever the length of the trail. */
const VERIFY_PAGE = 5000;

function rewritten(seq: number, anchorHash: string): { firstBadSeq: number; reason: string } {
  return { firstBadSeq: seq, reason: `event ${seq} no longer has the recorded hash ${anchorHash}: the chain was rewritten` };
}

function fromRow(r: unknown[]): AuditEvent {
  return {
    seq: r[0] as number,
    ts: r[1] as string,
    actorId: r[2] as string | null,
    actorName: r[3] as string | null,
    action: r[4] as string,
    target: r[5] as string | null,
    outcome: r[6] as AuditOutcome,
    details: r[7] as string,
    correlationId: r[8] as string | null,
    prevHash: r[9] as string,
    hash: r[10] as string,
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function buildWhere(f: AuditFilter): { where: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.since) {
    parts.push('ts >= ?');
    params.push(f.since);
  }
  if (f.until) {
    parts.push('ts < ?');
    params.push(f.until);
  }
  if (f.actor) {
    // A directory object id is nobody's display name: matched on the actor id alone, the
    // query walks the actor index instead of reading the trail for names (milliseconds, not
    // a scan, on millions of events).
    if (GUID.test(f.actor)) {
      parts.push('actor_id = ?');
      params.push(f.actor);
    } else {
      parts.push('(actor_id = ? OR actor_name = ? COLLATE NOCASE)');
      params.push(f.actor, f.actor);
    }
  }
  if (f.action) {
    if (f.action.endsWith('*')) {
      // Prefix match without LIKE wildcards from user input: compare a substring.
      const prefix = f.action.slice(0, -1);
      parts.push('substr(action, 1, ?) = ?');
      params.push(prefix.length, prefix);
    } else {
      parts.push('action = ?');
      params.push(f.action);
    }
  }
  if (f.correlationId) {
    parts.push('correlation_id = ?');
    params.push(f.correlationId);
  }
  if (f.target) {
    parts.push('target = ?');
    params.push(f.target);
  }
  return { where: parts.length ? ` AND ${parts.join(' AND ')}` : '', params };
}

/**
 * SHA-256 over the canonical encoding of an event: a JSON array of every field in a fixed
 * order, `prev_hash` last. The details are already canonical JSON text.
 */
export function hashEvent(e: Omit<AuditEvent, 'hash'>): string {
  return sha256Hex(JSON.stringify([
    e.seq,
    e.ts,
    e.actorId,
    e.actorName,
    e.action,
    e.target,
    e.outcome,
    e.details,
    e.correlationId,
    e.prevHash,
  ]));
}

/**
 * SHA-256 of the UTF-8 text, hex. The one-shot `crypto.hash` (Node 20.12 and later) skips
 * creating a Hash object per event, which is most of the cost for texts this short.
 */
const sha256Hex: (text: string) => string =
  typeof cryptoHash === 'function' ? (text) => cryptoHash('sha256', text, 'hex') : (text) => createHash('sha256').update(text, 'utf8').digest('hex');

/** JSON with object keys sorted at every depth, so equal values always encode the same way. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Replaces the value of any key that names a secret, at every depth. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? REDACTED : redactSecrets(v);
    return out;
  }
  return value;
}
