import type { ConversationReference } from 'botbuilder';
import type { AuditEvent } from './audit-trail';
import type { Db } from './db';

/**
 * What the technicians' commands keep: tickets and their history, plans waiting for a
 * confirmation (and their progress), short-lived prompts (a pick-one card, the next page of
 * an audit listing) and where their cards were posted. Every method is synchronous, so the
 * caller can run it in `store.transaction(...)` with the audit event of the change. State
 * changes are guarded `UPDATE ... WHERE state = ?` statements that report whether they won.
 *
 * Nothing here holds a secret: a plan that issues a password or a pass keeps only the id of
 * the message that showed it.
 */

// ---- tickets -------------------------------------------------------------------------------

export const TICKET_TYPES = ['signin', 'report', 'security', 'provisioning', 'escalation', 'offboarding', 'job', 'general'] as const;
export type TicketType = (typeof TICKET_TYPES)[number];
export type TicketState = 'open' | 'in-progress' | 'closed';

export interface Person {
  id: string | null;
  name: string | null;
}

export interface Ticket {
  id: string;
  type: TicketType;
  title: string;
  text: string;
  facts: Array<{ title: string; value: string }>;
  requester: Person;
  subject: Person;
  /** What raised it: a request id, a recovery id, a plan id, a turn's correlation id. */
  sourceRef: string | null;
  state: TicketState;
  assignee: Person;
  slaHours: number;
  slaDueAt: string;
  /** When the breach was recorded (and announced, once). */
  slaBreachedAt: string | null;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  closedBy: Person;
  closeNote: string | null;
}

export interface TicketEvent {
  id: number;
  ticketId: string;
  at: string;
  actor: Person;
  action: 'opened' | 'raised-again' | 'taken' | 'assigned' | 'closed' | 'sla-breached' | 'posting-failed';
  note: string | null;
}

export interface NewTicket {
  type: TicketType;
  title: string;
  text: string;
  facts: Array<{ title: string; value: string }>;
  requester: Person;
  subject: Person;
  sourceRef: string | null;
  slaHours: number;
}

const TICKET_COLUMNS = `id, type, title, text, facts, requester_id, requester_name, subject_id, subject_name, source_ref, state, assignee_id, assignee_name,
  sla_hours, sla_due_at, sla_breached_at, created_at, updated_at, closed_at, closed_by_id, closed_by_name, close_note`;

export class Tickets {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date,
  ) {
    this.s = {
      next: db.prepare(`UPDATE sequences SET value = value + 1 WHERE name = 'ticket' RETURNING value`),
      insert: db.prepare(
        `INSERT INTO tickets (id, type, title, text, facts, requester_id, requester_name, subject_id, subject_name, source_ref, state,
           sla_hours, sla_due_at, created_at, updated_at)
         VALUES (@id, @type, @title, @text, @facts, @requesterId, @requesterName, @subjectId, @subjectName, @sourceRef, 'open',
           @slaHours, @slaDueAt, @now, @now)`,
      ),
      get: db.prepare(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE id = ?`),
      openBySource: db.prepare(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE source_ref = ? AND title = ? AND state <> 'closed' ORDER BY created_at LIMIT 1`),
      open: db.prepare(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE state <> 'closed' ORDER BY sla_due_at, id LIMIT ?`),
      countOpen: db.prepare(`SELECT count(*) AS n FROM tickets WHERE state <> 'closed'`),
      take: db.prepare(
        `UPDATE tickets SET state = 'in-progress', assignee_id = @id, assignee_name = @name, updated_at = @now WHERE id = @ticket AND state <> 'closed'`,
      ),
      close: db.prepare(
        `UPDATE tickets SET state = 'closed', closed_at = @now, closed_by_id = @id, closed_by_name = @name, close_note = @note, updated_at = @now
         WHERE id = @ticket AND state <> 'closed'`,
      ),
      breach: db.prepare(`UPDATE tickets SET sla_breached_at = @now, updated_at = @now WHERE id = @ticket AND state <> 'closed' AND sla_breached_at IS NULL`),
      history: db.prepare(`INSERT INTO ticket_history (ticket_id, at, actor_id, actor_name, action, note) VALUES (?, ?, ?, ?, ?, ?)`),
      historyOf: db.prepare(`SELECT id, ticket_id, at, actor_id, actor_name, action, note FROM ticket_history WHERE ticket_id = ? ORDER BY id`),
      inWindow: db.prepare(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE created_at >= ? AND created_at < ? ORDER BY created_at`),
      closedInWindow: db.prepare(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE closed_at >= ? AND closed_at < ? ORDER BY closed_at`),
    };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Opens a ticket (`TKT-1001`, ...) with its first history entry. */
  create(t: NewTicket, by: Person): Ticket {
    const { value } = this.s.next.get() as { value: number };
    const id = `TKT-${value}`;
    const now = this.clock();
    this.s.insert.run({
      id,
      type: t.type,
      title: t.title.slice(0, 300),
      text: t.text.slice(0, 4000),
      facts: JSON.stringify(t.facts.slice(0, 30)),
      requesterId: t.requester.id,
      requesterName: t.requester.name,
      subjectId: t.subject.id,
      subjectName: t.subject.name,
      sourceRef: t.sourceRef,
      slaHours: t.slaHours,
      slaDueAt: new Date(now.getTime() + t.slaHours * 3_600_000).toISOString(),
      now: now.toISOString(),
    });
    this.addHistory(id, by, 'opened', null);
    return this.get(id)!;
  }

  get(id: string): Ticket | null {
    return toTicket(this.s.get.get(id));
  }

  /** An open ticket raised earlier from the same source with the same title (a repeat). */
  openFromSource(sourceRef: string, title: string): Ticket | null {
    return toTicket(this.s.openBySource.get(sourceRef, title.slice(0, 300)));
  }

  /** Open and in-progress tickets, the earliest SLA first. */
  listOpen(limit = 50): Ticket[] {
    return this.s.open.all(limit).map((r) => toTicket(r)!);
  }

  countOpen(): number {
    return (this.s.countOpen.get() as { n: number }).n;
  }

  /** Assigns a ticket that is not closed. False when it is closed. */
  assign(ticketId: string, to: { id: string; name: string }): boolean {
    return this.s.take.run({ ticket: ticketId, id: to.id, name: to.name, now: this.now() }).changes === 1;
  }

  close(ticketId: string, by: { id: string; name: string }, note: string): boolean {
    return this.s.close.run({ ticket: ticketId, id: by.id, name: by.name, note, now: this.now() }).changes === 1;
  }

  /** Records the SLA breach once. False when it was recorded already or the ticket is closed. */
  markBreached(ticketId: string): boolean {
    return this.s.breach.run({ ticket: ticketId, now: this.now() }).changes === 1;
  }

  addHistory(ticketId: string, actor: Person, action: TicketEvent['action'], note: string | null): void {
    this.s.history.run(ticketId, this.now(), actor.id, actor.name, action, note);
  }

  history(ticketId: string): TicketEvent[] {
    return (this.s.historyOf.all(ticketId) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number,
      ticketId: r.ticket_id as string,
      at: r.at as string,
      actor: { id: (r.actor_id as string | null) ?? null, name: (r.actor_name as string | null) ?? null },
      action: r.action as TicketEvent['action'],
      note: (r.note as string | null) ?? null,
    }));
  }

  /** Tickets opened in [from, to). */
  openedBetween(from: string, to: string): Ticket[] {
    return this.s.inWindow.all(from, to).map((r) => toTicket(r)!);
  }

  /** Tickets closed in [from, to). */
  closedBetween(from: string, to: string): Ticket[] {
    return this.s.closedInWindow.all(from, to).map((r) => toTicket(r)!);
  }
}

function toTicket(row: unknown): Ticket | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  const person = (id: unknown, name: unknown): Person => ({ id: (id as string | null) ?? null, name: (name as string | null) ?? null });
  return {
    id: r.id as string,
    type: r.type as TicketType,
    title: r.title as string,
    text: r.text as string,
    facts: JSON.parse(r.facts as string),
    requester: person(r.requester_id, r.requester_name),
    subject: person(r.subject_id, r.subject_name),
    sourceRef: (r.source_ref as string | null) ?? null,
    state: r.state as TicketState,
    assignee: person(r.assignee_id, r.assignee_name),
    slaHours: r.sla_hours as number,
    slaDueAt: r.sla_due_at as string,
    slaBreachedAt: (r.sla_breached_at as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    closedAt: (r.closed_at as string | null) ?? null,
    closedBy: person(r.closed_by_id, r.closed_by_name),
    closeNote: (r.close_note as string | null) ?? null,
  };
}

// ---- plans ---------------------------------------------------------------------------------

export type PlanState = 'proposed' | 'running' | 'done' | 'partial' | 'cancelled' | 'expired';

export interface Plan<S = unknown, A = Record<string, unknown>> {
  id: string;
  command: string;
  actor: { id: string; name: string };
  subject: { id: string; name: string; upn: string };
  /** The command's arguments (reason, resource, minutes): never a secret. */
  args: A;
  steps: S[];
  /** What the plan was computed from; compared again at confirmation. */
  signature: string;
  privileged: boolean;
  state: PlanState;
  confirmedAt: string | null;
  approvedBy: Person;
  approvedAt: string | null;
  progress: StepResult[];
  /** The message that showed a password or a pass (hidden later); never the secret. */
  secretActivityId: string | null;
  secretHiddenAt: string | null;
  correlationId: string | null;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  finishedAt: string | null;
}

export interface StepResult {
  status: 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'partial';
  detail: string;
  failures?: string[];
}

export interface NewPlan {
  command: string;
  actor: { id: string; name: string };
  subject: { id: string; name: string; upn: string };
  args: Record<string, unknown>;
  steps: unknown[];
  signature: string;
  privileged: boolean;
  expiresAt: Date;
  correlationId: string;
  /** Start running at once (no confirmation needed). */
  running?: boolean;
}

const PLAN_COLUMNS = `id, command, actor_id, actor_name, subject_id, subject_name, subject_upn, args, steps, signature, privileged, state,
  confirmed_at, approved_by_id, approved_by_name, approved_at, progress, secret_activity_id, secret_hidden_at, correlation_id,
  created_at, updated_at, expires_at, finished_at`;

export class Plans {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date,
  ) {
    this.s = {
      next: db.prepare(`UPDATE sequences SET value = value + 1 WHERE name = 'technician_plan' RETURNING value`),
      insert: db.prepare(
        `INSERT INTO technician_plans (id, command, actor_id, actor_name, subject_id, subject_name, subject_upn, args, steps, signature, privileged, state,
           progress, correlation_id, created_at, updated_at, expires_at)
         VALUES (@id, @command, @actorId, @actorName, @subjectId, @subjectName, @subjectUpn, @args, @steps, @signature, @privileged, @state,
           @progress, @correlationId, @now, @now, @expiresAt)`,
      ),
      get: db.prepare(`SELECT ${PLAN_COLUMNS} FROM technician_plans WHERE id = ?`),
      running: db.prepare(`SELECT id FROM technician_plans WHERE state = 'running' ORDER BY id`),
      replan: db.prepare(
        `UPDATE technician_plans SET steps = @steps, signature = @signature, privileged = @privileged, progress = @progress, confirmed_at = NULL,
           approved_by_id = NULL, approved_by_name = NULL, approved_at = NULL, expires_at = @expiresAt, updated_at = @now
         WHERE id = @id AND state = 'proposed'`,
      ),
      confirm: db.prepare(`UPDATE technician_plans SET confirmed_at = @now, updated_at = @now WHERE id = @id AND state = 'proposed' AND confirmed_at IS NULL`),
      approve: db.prepare(
        `UPDATE technician_plans SET approved_by_id = @byId, approved_by_name = @byName, approved_at = @now, updated_at = @now
         WHERE id = @id AND state = 'proposed' AND approved_by_id IS NULL AND actor_id <> @byId`,
      ),
      start: db.prepare(`UPDATE technician_plans SET state = 'running', updated_at = @now WHERE id = @id AND state = 'proposed'`),
      end: db.prepare(`UPDATE technician_plans SET state = @to, updated_at = @now WHERE id = @id AND state = 'proposed'`),
      progress: db.prepare(`UPDATE technician_plans SET progress = @progress, updated_at = @now WHERE id = @id AND state = 'running'`),
      finish: db.prepare(`UPDATE technician_plans SET state = @to, progress = @progress, finished_at = @now, updated_at = @now WHERE id = @id AND state = 'running'`),
      secretShown: db.prepare(`UPDATE technician_plans SET secret_activity_id = @activityId, updated_at = @now WHERE id = @id`),
      secretHidden: db.prepare(`UPDATE technician_plans SET secret_hidden_at = @now, updated_at = @now WHERE id = @id AND secret_hidden_at IS NULL`),
    };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  create(p: NewPlan): Plan {
    const { value } = this.s.next.get() as { value: number };
    const id = `PLN-${value}`;
    this.s.insert.run({
      id,
      command: p.command,
      actorId: p.actor.id,
      actorName: p.actor.name,
      subjectId: p.subject.id,
      subjectName: p.subject.name,
      subjectUpn: p.subject.upn,
      args: JSON.stringify(p.args),
      steps: JSON.stringify(p.steps),
      signature: p.signature,
      privileged: p.privileged ? 1 : 0,
      state: p.running ? 'running' : 'proposed',
      progress: JSON.stringify(p.steps.map(() => ({ status: 'pending', detail: '' }))),
      correlationId: p.correlationId,
      expiresAt: p.expiresAt.toISOString(),
      now: this.now(),
    });
    return this.get(id)!;
  }

  get<S = unknown, A = Record<string, unknown>>(id: string): Plan<S, A> | null {
    return toPlan(this.s.get.get(id)) as Plan<S, A> | null;
  }

  /** The plan changed under a proposal: new steps; confirmation and approval start over. */
  replan(id: string, steps: unknown[], signature: string, privileged: boolean, expiresAt: Date): boolean {
    return (
      this.s.replan.run({
        id,
        steps: JSON.stringify(steps),
        signature,
        privileged: privileged ? 1 : 0,
        progress: JSON.stringify(steps.map(() => ({ status: 'pending', detail: '' }))),
        expiresAt: expiresAt.toISOString(),
        now: this.now(),
      }).changes === 1
    );
  }

  /** The proposer confirmed (the plan may still wait for a second technician). */
  markConfirmed(id: string): boolean {
    return this.s.confirm.run({ id, now: this.now() }).changes === 1;
  }

  /** A second technician approved: never the proposer, once. */
  approve(id: string, by: { id: string; name: string }): boolean {
    return this.s.approve.run({ id, byId: by.id, byName: by.name, now: this.now() }).changes === 1;
  }

  /** Proposed -> running: the one-time claim of the execution. */
  start(id: string): boolean {
    return this.s.start.run({ id, now: this.now() }).changes === 1;
  }

  /** Proposed -> cancelled or expired. */
  end(id: string, to: 'cancelled' | 'expired'): boolean {
    return this.s.end.run({ id, to, now: this.now() }).changes === 1;
  }

  /** Ids of the plans left running (at start: cut short by a stop). */
  runningIds(): string[] {
    return (this.s.running.all() as Array<{ id: string }>).map((r) => r.id);
  }

  saveProgress(id: string, progress: StepResult[]): boolean {
    return this.s.progress.run({ id, progress: JSON.stringify(progress), now: this.now() }).changes === 1;
  }

  finish(id: string, to: 'done' | 'partial', progress: StepResult[]): boolean {
    return this.s.finish.run({ id, to, progress: JSON.stringify(progress), now: this.now() }).changes === 1;
  }

  secretShown(id: string, activityId: string): void {
    this.s.secretShown.run({ id, activityId, now: this.now() });
  }

  /** Records that the secret's message was hidden; false when it was already. */
  claimSecretHidden(id: string): boolean {
    return this.s.secretHidden.run({ id, now: this.now() }).changes === 1;
  }
}

function toPlan(row: unknown): Plan | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as string,
    command: r.command as string,
    actor: { id: r.actor_id as string, name: r.actor_name as string },
    subject: { id: r.subject_id as string, name: r.subject_name as string, upn: r.subject_upn as string },
    args: JSON.parse(r.args as string),
    steps: JSON.parse(r.steps as string),
    signature: r.signature as string,
    privileged: r.privileged === 1,
    state: r.state as PlanState,
    confirmedAt: (r.confirmed_at as string | null) ?? null,
    approvedBy: { id: (r.approved_by_id as string | null) ?? null, name: (r.approved_by_name as string | null) ?? null },
    approvedAt: (r.approved_at as string | null) ?? null,
    progress: JSON.parse(r.progress as string),
    secretActivityId: (r.secret_activity_id as string | null) ?? null,
    secretHiddenAt: (r.secret_hidden_at as string | null) ?? null,
    correlationId: (r.correlation_id as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    expiresAt: r.expires_at as string,
    finishedAt: (r.finished_at as string | null) ?? null,
  };
}

// ---- prompts ---------------------------------------------------------------------------------

/** A question a card asks (pick one of these users), or a listing's next page: what a click may continue. */
export interface Prompt<P = Record<string, unknown>> {
  id: string;
  actorId: string;
  kind: 'pick' | 'audit-page';
  payload: P;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

export class Prompts {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date,
  ) {
    this.s = {
      insert: db.prepare(`INSERT INTO technician_prompts (id, actor_id, kind, payload, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
      get: db.prepare(`SELECT id, actor_id, kind, payload, created_at, expires_at, used_at FROM technician_prompts WHERE id = ?`),
      use: db.prepare(`UPDATE technician_prompts SET used_at = ? WHERE id = ? AND used_at IS NULL`),
      purge: db.prepare(`DELETE FROM technician_prompts WHERE expires_at < ?`),
    };
  }

  create(id: string, actorId: string, kind: Prompt['kind'], payload: Record<string, unknown>, expiresAt: Date): Prompt {
    const now = this.clock();
    // Old prompts are of no use to anyone: dropped as new ones come.
    this.s.purge.run(new Date(now.getTime() - 86_400_000).toISOString());
    this.s.insert.run(id, actorId, kind, JSON.stringify(payload), now.toISOString(), expiresAt.toISOString());
    return this.get(id)!;
  }

  get<P = Record<string, unknown>>(id: string): Prompt<P> | null {
    const r = this.s.get.get(id) as Record<string, unknown> | undefined;
    if (!r) return null;
    return {
      id: r.id as string,
      actorId: r.actor_id as string,
      kind: r.kind as Prompt['kind'],
      payload: JSON.parse(r.payload as string),
      createdAt: r.created_at as string,
      expiresAt: r.expires_at as string,
      usedAt: (r.used_at as string | null) ?? null,
    };
  }

  /** One-time use of a pick-one card. */
  claim(id: string): boolean {
    return this.s.use.run(this.clock().toISOString(), id).changes === 1;
  }
}

// ---- where cards went --------------------------------------------------------------------------

export interface TechCardRef {
  id: number;
  ownerId: string;
  purpose: 'plan' | 'ticket' | 'secret';
  conversationId: string;
  activityId: string;
  reference: Partial<ConversationReference>;
  createdAt: string;
}

/** Every posted copy of a plan's or a ticket's card, so each can be updated in place. */
export class TechCards {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date,
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO technician_cards (owner_id, purpose, conversation_id, activity_id, reference, created_at) VALUES (@ownerId, @purpose, @conversationId, @activityId, @reference, @now)
         ON CONFLICT (conversation_id, activity_id) DO NOTHING`,
      ),
      forOwner: db.prepare(`SELECT id, owner_id, purpose, conversation_id, activity_id, reference, created_at FROM technician_cards WHERE owner_id = ? AND purpose = ? ORDER BY id`),
    };
  }

  add(ref: { ownerId: string; purpose: TechCardRef['purpose']; activityId: string; reference: Partial<ConversationReference> }): void {
    const conversationId = ref.reference.conversation?.id;
    if (!conversationId) throw new Error('card reference without a conversation id');
    // Only what an update needs; not tied to whatever was said last.
    const { activityId: _last, ...reference } = ref.reference;
    this.s.insert.run({ ownerId: ref.ownerId, purpose: ref.purpose, conversationId, activityId: ref.activityId, reference: JSON.stringify(reference), now: this.clock().toISOString() });
  }

  forOwner(ownerId: string, purpose: TechCardRef['purpose']): TechCardRef[] {
    return (this.s.forOwner.all(ownerId, purpose) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number,
      ownerId: r.owner_id as string,
      purpose: r.purpose as TechCardRef['purpose'],
      conversationId: r.conversation_id as string,
      activityId: r.activity_id as string,
      reference: JSON.parse(r.reference as string),
      createdAt: r.created_at as string,
    }));
  }
}

// ---- audit search ------------------------------------------------------------------------------

/**
 * Audit events about something: acted by it, done to it, or correlated with it (a user id, a
 * request id, a ticket id, a plan id), in sequence order, a page at a time.
 */
export class AuditSearch {
  private readonly pages = new Map<number, { all: (...params: unknown[]) => unknown[] }>();

  constructor(private readonly db: Db) {}

  private statement(keys: number) {
    let st = this.pages.get(keys);
    if (!st) {
      const list = Array.from({ length: keys }, () => '?').join(', ');
      st = this.db
        .prepare(
          `SELECT seq, ts, actor_id, actor_name, action, target, outcome, details, correlation_id, prev_hash, hash FROM audit_events
           WHERE seq > ? AND (? IS NULL OR ts >= ?)
             AND (actor_id IN (${list}) OR target IN (${list}) OR correlation_id IN (${list}))
           ORDER BY seq LIMIT ?`,
        )
        .raw() as unknown as { all: (...params: unknown[]) => unknown[] };
      this.pages.set(keys, st);
    }
    return st;
  }

  /** Events about any of `keys` (at most 200: a user and their requests), oldest first, a page at a time. */
  about(keys: string | readonly string[], options: { since?: string | null; afterSeq?: number; limit?: number } = {}): AuditEvent[] {
    const list = [...new Set(typeof keys === 'string' ? [keys] : keys)].slice(0, 200);
    if (!list.length) return [];
    const limit = Math.max(1, Math.min(options.limit ?? 20, 1000));
    const since = options.since ?? null;
    const rows = this.statement(list.length).all(options.afterSeq ?? 0, since, since, ...list, ...list, ...list, limit) as unknown[][];
    return rows.map((r) => ({
      seq: r[0] as number,
      ts: r[1] as string,
      actorId: r[2] as string | null,
      actorName: r[3] as string | null,
      action: r[4] as string,
      target: r[5] as string | null,
      outcome: r[6] as AuditEvent['outcome'],
      details: r[7] as string,
      correlationId: r[8] as string | null,
      prevHash: r[9] as string,
      hash: r[10] as string,
    }));
  }

  /** The most recent `n` events about `keys`, oldest first. */
  latestAbout(keys: string | readonly string[], n: number): AuditEvent[] {
    const all: AuditEvent[] = [];
    let after = 0;
    // Pages forward and keeps the last n (the trail about one person stays small).
    for (;;) {
      const page = this.about(keys, { afterSeq: after, limit: 500 });
      all.push(...page);
      if (all.length > n) all.splice(0, all.length - n);
      if (page.length < 500) break;
      after = page[page.length - 1]!.seq;
    }
    return all;
  }
}

/** Everything the technicians' commands keep. */
export class TechnicianStore {
  readonly tickets: Tickets;
  readonly plans: Plans;
  readonly prompts: Prompts;
  readonly cards: TechCards;
  readonly auditSearch: AuditSearch;

  constructor(db: Db, clock: () => Date = () => new Date()) {
    this.tickets = new Tickets(db, clock);
    this.plans = new Plans(db, clock);
    this.prompts = new Prompts(db, clock);
    this.cards = new TechCards(db, clock);
    this.auditSearch = new AuditSearch(db);
  }
}
