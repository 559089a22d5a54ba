import { CardFactory, MessageFactory, type Activity } from 'botbuilder';
import { renderTechCard, renderTicketCard, type Fact, type Tone } from '../../adaptive-cards/technician';
import { plainText } from '../../adaptive-cards/plain-text';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import { APP_NAME } from '../../bot/deps';
import type { Logger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import type { Scheduler, TechnicianNotice, TechnicianNotices } from '../../bot/scheduler';
import { PermanentJobError } from '../../bot/scheduler';
import type { TechnicianConfig } from '../../bot/technician-config';
import type { Directory, DirectoryUser } from '../../directory/directory';
import type { Job } from '../../store/jobs';
import { isRecoveryId } from '../../store/recovery';
import type { Store } from '../../store/store';
import { TICKET_TYPES, type Person, type Ticket, type TicketType } from '../../store/technician';
import { formatTime } from '../access-duration';

/** Durable jobs of tickets; payloads hold ticket ids only. */
export const TICKET_JOBS = {
  post: 'ticket.post',
  updateCards: 'ticket.update-cards',
  slaCheck: 'ticket.sla-check',
  announceBreach: 'ticket.announce-breach',
} as const;

const SYSTEM: Person = { id: 'system', name: APP_NAME };
const TICKET_ID = /^TKT-\d{1,9}$/;

export function isTicketId(value: unknown): value is string {
  return typeof value === 'string' && TICKET_ID.test(value);
}

export const TICKET_TYPE_LABELS: Record<TicketType, string> = {
  signin: 'Sign-in',
  report: 'Colleague report',
  security: 'Security',
  provisioning: 'Provisioning',
  escalation: 'Approval escalation',
  offboarding: 'Offboarding follow-up',
  job: 'Failed job',
  general: 'General',
};

/** A notice as a ticket: its type, who asked and who it is about. */
export interface NoticeTicket {
  type: TicketType;
  requester: Person;
  subject: Person;
}

export interface TicketDeps {
  store: Store;
  directory: Directory;
  notifier: Notifier;
  logger: Logger;
  clock: () => Date;
  config: TechnicianConfig;
  maxJobAttempts: number;
  technicianGroupId: string | null;
}

export interface TicketActionResult {
  ok: boolean;
  message: string;
  ticket: Ticket | null;
}

/** Titles of notices the flows raise, and the ticket type each is. Flows may also name the type. */
const NOTICE_TYPES: Array<[RegExp, TicketType]> = [
  [/^Access approved but not granted|^Time-bound access not removed/i, 'provisioning'],
  [/is stuck|has no approver/i, 'escalation'],
  [/^A helpdesk job failed/i, 'job'],
  [/^Sign-in problem reported/i, 'report'],
  [/^Self-service locked/i, 'security'],
  [/^Sign-in|^Ticket:|^Disabled account asked|recovery/i, 'signin'],
];

/** The ticket type of a notice: the one it names, else by its title. */
export function classifyNotice(notice: Pick<TechnicianNotice, 'title'> & { type?: string }): TicketType {
  if (notice.type && (TICKET_TYPES as readonly string[]).includes(notice.type)) return notice.type as TicketType;
  return NOTICE_TYPES.find(([re]) => re.test(notice.title))?.[1] ?? 'general';
}

/**
 * The ticket queue. Everything that needs a person arrives here as a {@link TechnicianNotice}
 * (from every flow, through the scheduler's give-up hook too) and becomes a ticket in the
 * store with a type, requester, subject, SLA target (by type, configurable) and history. Its
 * card goes to the technicians' channel with Take, Assign and Close and is updated in place
 * when the ticket changes. A breached SLA is announced once, by a job due at the target time.
 */
export class TicketService implements TechnicianNotices {
  private scheduler: Scheduler | null = null;

  constructor(private readonly d: TicketDeps) {}

  /** Connects the scheduler (built after this queue, which it reports to) and registers the ticket jobs. */
  attach(scheduler: Scheduler): void {
    this.scheduler = scheduler;
    scheduler.register(TICKET_JOBS.post, { run: (job) => this.runPost(job) });
    scheduler.register(TICKET_JOBS.updateCards, { run: (job) => this.runUpdateCards(job) });
    scheduler.register(TICKET_JOBS.slaCheck, { run: (job) => this.runSlaCheck(job) });
    scheduler.register(TICKET_JOBS.announceBreach, { run: (job) => this.runAnnounceBreach(job) });
  }

  private now(): Date {
    return this.d.clock();
  }

  private kick(): void {
    this.scheduler?.kick();
  }

  // ---- opening -----------------------------------------------------------------------------

  /** A notice from a flow or a failed job becomes a ticket (or, repeated, a line in its history). */
  async raise(notice: TechnicianNotice): Promise<void> {
    const source = notice.requestId ?? null;
    if (isTicketId(source)) {
      // A ticket's own job failed (its card could not be posted): noted on it, no new ticket.
      const t = this.d.store.technician.tickets.get(source);
      if (t) this.d.store.technician.tickets.addHistory(t.id, SYSTEM, 'posting-failed', notice.text.slice(0, 300));
      this.d.logger.error({ correlationId: source, notice: { title: notice.title } }, 'a ticket job failed');
      return;
    }
    const who = await this.describe(notice);
    await this.open({ type: who.type, title: notice.title, text: notice.text, facts: notice.facts ?? [], requester: who.requester, subject: who.subject, sourceRef: source }, SYSTEM);
  }

  /** Opens a ticket (a repeat of an open one from the same source is added to its history) and posts its card. */
  async open(
    t: { type: TicketType; title: string; text: string; facts: Fact[]; requester: Person; subject: Person; sourceRef: string | null },
    by: Person,
  ): Promise<Ticket> {
    const tickets = this.d.store.technician.tickets;
    const repeat = t.sourceRef ? tickets.openFromSource(t.sourceRef, t.title) : null;
    if (repeat) {
      this.d.store.transaction(() => {
        tickets.addHistory(repeat.id, by, 'raised-again', t.text.slice(0, 300));
        this.d.store.audit.append({ actor: by, action: 'ticket.raised-again', target: repeat.id, outcome: 'success', correlationId: repeat.id, details: { sourceRef: t.sourceRef } });
        this.schedule(TICKET_JOBS.updateCards, repeat.id, this.now());
      });
      this.kick();
      return tickets.get(repeat.id)!;
    }
    const slaHours = this.d.config.slaHours[t.type];
    const ticket = this.d.store.transaction(() => {
      const created = tickets.create({ ...t, slaHours }, by);
      this.d.store.audit.append({
        actor: by,
        action: 'ticket.opened',
        target: created.id,
        outcome: 'success',
        correlationId: created.id,
        details: {
          type: created.type,
          title: created.title,
          sourceRef: created.sourceRef,
          requester: created.requester,
          subject: created.subject,
          slaHours,
          slaDueAt: created.slaDueAt,
        },
      });
      this.schedule(TICKET_JOBS.slaCheck, created.id, new Date(created.slaDueAt), {}, `ticket.sla:${created.id}`);
      return created;
    });
    await this.post(ticket);
    this.kick();
    return this.d.store.technician.tickets.get(ticket.id)!;
  }

  private async post(ticket: Ticket): Promise<void> {
    try {
      const delivered = await this.d.notifier.sendToTechnicians(messageWith(this.cardFor(ticket), `${ticket.id}: ${ticket.title}`));
      if (!delivered) {
        // Kept in the queue (`pending` shows it); the log says it was not posted.
        this.d.logger.error({ correlationId: ticket.id, notice: { title: ticket.title } }, 'ticket has no channel to go to');
        return;
      }
      this.d.store.technician.cards.add({ ownerId: ticket.id, purpose: 'ticket', activityId: delivered.activityId, reference: delivered.reference });
      this.d.logger.info({ correlationId: ticket.id, conversationId: delivered.conversationId }, 'ticket posted');
    } catch (err) {
      this.d.logger.warn({ correlationId: ticket.id, err: { name: (err as Error).name, message: (err as Error).message } }, 'posting the ticket failed; will retry');
      this.schedule(TICKET_JOBS.post, ticket.id, this.now(), {}, `ticket.post:${ticket.id}`);
    }
  }

  /** Type, requester and subject of a notice: named by the flow, else from the request or recovery it is about. */
  private async describe(notice: TechnicianNotice): Promise<NoticeTicket> {
    const type = classifyNotice(notice);
    let requester: Person = notice.requester ?? { id: null, name: null };
    let subject: Person = notice.subject ?? { id: null, name: null };
    const ref = notice.requestId ?? null;
    if (ref && /^REQ-\d+$/.test(ref)) {
      const r = this.d.store.requests.get(ref);
      if (r) {
        const person = { id: r.requesterId, name: r.requesterName };
        if (!requester.id) requester = person;
        if (!subject.id) subject = person;
      }
    } else if (ref && isRecoveryId(ref)) {
      const s = this.d.store.recovery.get(ref);
      if (s) {
        const person = { id: s.userId, name: s.userName };
        if (!requester.id) requester = person;
        if (!subject.id) subject = person;
      }
    }
    if (!subject.id) {
      // "Name (upn)" in a User fact, as the flows write it.
      const upn = /\(([^()\s]+@[^()\s]+)\)\s*$/.exec(notice.facts?.find((f) => f.title === 'User')?.value ?? '')?.[1];
      const user = upn ? await this.d.directory.findUserByUpn(upn).catch(() => null) : null;
      if (user) subject = { id: user.id, name: user.displayName };
    }
    // Someone asking for help for themselves is the requester too.
    if (!requester.id && type === 'signin' && subject.id) requester = subject;
    return { type, requester, subject };
  }

  // ---- working on a ticket -------------------------------------------------------------------

  /** The acting technician takes the ticket. */
  take(actor: DirectoryUser, ticketId: string, correlationId: string): TicketActionResult {
    const tickets = this.d.store.technician.tickets;
    const t = tickets.get(ticketId);
    if (!t) return { ok: false, message: `There is no ticket ${ticketId}. Type \`pending\` for the queue.`, ticket: null };
    if (t.state === 'closed') return { ok: false, message: `${t.id} is closed (${t.closedBy.name ?? 'someone'}, ${formatTime(t.closedAt!)}).`, ticket: t };
    if (isAbout(t, actor.id)) return this.refuseOwn(t, actor, 'take', correlationId, `${t.id} is about your own account: another identity technician takes it. Nothing was changed.`);
    if (t.assignee.id === actor.id) return { ok: true, message: `${t.id} is already yours.`, ticket: t };
    const by = { id: actor.id, name: actor.displayName };
    const ok = this.d.store.transaction(() => {
      if (!tickets.assign(t.id, by)) return false;
      tickets.addHistory(t.id, by, 'taken', t.assignee.name ? `from ${t.assignee.name}` : null);
      this.d.store.audit.append({ actor: by, action: 'ticket.taken', target: t.id, outcome: 'success', correlationId: t.id, details: { previous: t.assignee.id ? t.assignee : null, turn: correlationId } });
      this.schedule(TICKET_JOBS.updateCards, t.id, this.now());
      return true;
    });
    this.kick();
    const after = tickets.get(t.id)!;
    return ok ? { ok: true, message: `You took ${t.id}.`, ticket: after } : { ok: false, message: `${t.id} was closed before you could take it.`, ticket: after };
  }

  /** Assigns a ticket to a technician named by UPN, mail, id or name: a member of the technicians group now. */
  async assign(actor: DirectoryUser, ticketId: string, query: string, correlationId: string, resolve: (q: string) => Promise<DirectoryUser | string>): Promise<TicketActionResult> {
    const tickets = this.d.store.technician.tickets;
    const t = tickets.get(ticketId);
    if (!t) return { ok: false, message: `There is no ticket ${ticketId}. Type \`pending\` for the queue.`, ticket: null };
    if (t.state === 'closed') return { ok: false, message: `${t.id} is closed; it cannot be assigned.`, ticket: t };
    // The subject does not pick who works on a ticket about them, nor is it given to them.
    if (isAbout(t, actor.id)) return this.refuseOwn(t, actor, 'assign', correlationId, `${t.id} is about your own account: another identity technician assigns it. Nothing was changed.`);
    const found = await resolve(query);
    if (typeof found === 'string') return { ok: false, message: found, ticket: t };
    if (!found.accountEnabled || !(await this.isTechnician(found.id))) {
      return { ok: false, message: `${found.displayName} is not an identity technician, so ${t.id} cannot be assigned to them.`, ticket: t };
    }
    if (isAbout(t, found.id)) {
      return this.refuseOwn(t, actor, 'assign', correlationId, `${t.id} is about ${found.displayName}’s own account: assign it to another identity technician. Nothing was changed.`, { id: found.id, name: found.displayName });
    }
    if (t.assignee.id === found.id) return { ok: true, message: `${t.id} is already assigned to ${found.displayName}.`, ticket: t };
    const by = { id: actor.id, name: actor.displayName };
    const to = { id: found.id, name: found.displayName };
    const ok = this.d.store.transaction(() => {
      if (!tickets.assign(t.id, to)) return false;
      tickets.addHistory(t.id, by, 'assigned', `to ${found.displayName}`);
      this.d.store.audit.append({ actor: by, action: 'ticket.assigned', target: t.id, outcome: 'success', correlationId: t.id, details: { to, previous: t.assignee.id ? t.assignee : null, turn: correlationId } });
      this.schedule(TICKET_JOBS.updateCards, t.id, this.now());
      return true;
    });
    this.kick();
    const after = tickets.get(t.id)!;
    return ok ? { ok: true, message: `${t.id} is assigned to ${found.displayName}.`, ticket: after } : { ok: false, message: `${t.id} was closed before it could be assigned.`, ticket: after };
  }

  /** Closes a ticket with a note of what was done. */
  close(actor: DirectoryUser, ticketId: string, rawNote: unknown, correlationId: string): TicketActionResult {
    const tickets = this.d.store.technician.tickets;
    const t = tickets.get(ticketId);
    if (!t) return { ok: false, message: `There is no ticket ${ticketId}. Type \`pending\` for the queue.`, ticket: null };
    if (t.state === 'closed') return { ok: false, message: `${t.id} is already closed (${t.closedBy.name ?? 'someone'}, ${formatTime(t.closedAt!)}).`, ticket: t };
    // Nobody closes a ticket about their own account (a drift finding, a security notice): another technician does.
    if (isAbout(t, actor.id)) return this.refuseOwn(t, actor, 'close', correlationId, `${t.id} is about your own account: another identity technician closes it. Nothing was changed.`);
    const note = typeof rawNote === 'string' ? rawNote.trim().slice(0, 1000) : '';
    if (!note) return { ok: false, message: `Say what was done to close ${t.id}: it stays in the ticket and the audit trail.`, ticket: t };
    const by = { id: actor.id, name: actor.displayName };
    const ok = this.d.store.transaction(() => {
      if (!tickets.close(t.id, by, note)) return false;
      tickets.addHistory(t.id, by, 'closed', note);
      const met = this.now().getTime() <= Date.parse(t.slaDueAt);
      this.d.store.audit.append({ actor: by, action: 'ticket.closed', target: t.id, outcome: 'success', correlationId: t.id, details: { note, slaMet: met, turn: correlationId } });
      this.d.store.jobs.cancelForRequest(t.id, TICKET_JOBS.slaCheck);
      this.schedule(TICKET_JOBS.updateCards, t.id, this.now());
      return true;
    });
    this.kick();
    const after = tickets.get(t.id)!;
    return ok ? { ok: true, message: `${t.id} is closed.`, ticket: after } : { ok: false, message: `${t.id} was closed by someone else just now.`, ticket: after };
  }

  /** Take, assign or close refused because the ticket is about the actor's (or the assignee's) own account; audited. */
  private refuseOwn(t: Ticket, actor: DirectoryUser, command: 'take' | 'assign' | 'close', correlationId: string, message: string, assignee?: Person): TicketActionResult {
    this.d.store.audit.append({
      actor: { id: actor.id, name: actor.displayName },
      action: 'technician.command-refused',
      target: t.id,
      outcome: 'refused',
      correlationId: t.id,
      details: { command, reason: 'own-account', ...(assignee ? { assignee } : {}), turn: correlationId },
    });
    return { ok: false, message, ticket: t };
  }

  private async isTechnician(userId: string): Promise<boolean> {
    const g = this.d.technicianGroupId;
    return g !== null && (await this.d.directory.checkMemberGroups(userId, [g])).includes(g);
  }

  // ---- cards ----------------------------------------------------------------------------------

  cardFor(t: Ticket): AdaptiveCardJson {
    const view = ticketView(this.d.store, t, this.now());
    let tone: Tone = t.state === 'closed' ? 'good' : t.state === 'in-progress' ? 'accent' : 'warning';
    if (view.breached && t.state !== 'closed') tone = 'attention';
    const ticketFacts: Fact[] = [
      { title: 'Ticket', value: t.id },
      { title: 'Type', value: TICKET_TYPE_LABELS[t.type] },
      { title: 'Requester', value: t.requester.name ?? 'raised by the helpdesk' },
      { title: 'About', value: t.subject.name ?? 'not a single person' },
      { title: 'Assignee', value: t.assignee.name ?? 'nobody yet' },
      { title: 'Opened', value: formatTime(t.createdAt) },
      view.sla,
    ];
    if (t.closedAt) ticketFacts.push({ title: 'Closed', value: formatTime(t.closedAt) });
    return renderTicketCard({
      id: t.id,
      heading: `${t.id} · ${TICKET_TYPE_LABELS[t.type]}`,
      title: t.title,
      text: t.text,
      status: view.status,
      tone,
      facts: t.facts,
      ticketFacts,
      history: view.history,
      open: t.state !== 'closed',
    });
  }

  /** `pending`: the open queue, the earliest SLA first. */
  queueCard(): AdaptiveCardJson {
    const open = this.d.store.technician.tickets.listOpen(25);
    const total = this.d.store.technician.tickets.countOpen();
    const now = this.now().getTime();
    return renderTechCard({
      title: total ? `Open tickets: ${total}` : 'No open tickets',
      subtitle: 'The earliest SLA first',
      tone: open.some((t) => Date.parse(t.slaDueAt) < now) ? 'attention' : total ? 'warning' : 'good',
      text: total ? '' : 'The queue is empty.',
      facts: open.map((t) => ({
        title: `${t.id} · ${TICKET_TYPE_LABELS[t.type]}`,
        value: `${t.title} · ${t.assignee.name ? `with ${t.assignee.name}` : 'not assigned'} · open ${age(now - Date.parse(t.createdAt))} · ${
          Date.parse(t.slaDueAt) < now ? `SLA BREACHED ${age(now - Date.parse(t.slaDueAt))} ago` : `SLA due in ${age(Date.parse(t.slaDueAt) - now)}`
        }`,
      })),
      footer: `${total > open.length ? `Showing ${open.length} of ${total}. ` : ''}take TKT-… · assign TKT-… ‹technician› · close TKT-… --note ‹what was done›`,
    });
  }

  // ---- jobs -----------------------------------------------------------------------------------

  private ticketOf(job: Job): Ticket {
    const t = job.requestId ? this.d.store.technician.tickets.get(job.requestId) : null;
    if (!t) throw new PermanentJobError(`ticket ${job.requestId} not found`);
    return t;
  }

  private async runPost(job: Job): Promise<void> {
    const t = this.ticketOf(job);
    if (this.d.store.technician.cards.forOwner(t.id, 'ticket').length) return;
    const delivered = await this.d.notifier.sendToTechnicians(messageWith(this.cardFor(t), `${t.id}: ${t.title}`));
    if (!delivered) throw new Error('no technicians channel is known yet');
    this.d.store.technician.cards.add({ ownerId: t.id, purpose: 'ticket', activityId: delivered.activityId, reference: delivered.reference });
  }

  private async runUpdateCards(job: Job): Promise<void> {
    const t = this.ticketOf(job);
    const failures: string[] = [];
    for (const ref of this.d.store.technician.cards.forOwner(t.id, 'ticket')) {
      try {
        await this.d.notifier.update(ref.reference, ref.activityId, messageWith(this.cardFor(t)));
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) continue;
        failures.push((err as Error).message);
      }
    }
    if (failures.length) throw new Error(`${failures.length} ticket card update(s) failed: ${failures[0]}`);
  }

  private async runSlaCheck(job: Job): Promise<void> {
    const t = this.ticketOf(job);
    if (t.state === 'closed' || t.slaBreachedAt) return;
    // A job run early (a restart, a moved clock) waits for the real target.
    if (this.now().getTime() < Date.parse(t.slaDueAt)) {
      this.schedule(TICKET_JOBS.slaCheck, t.id, new Date(t.slaDueAt), {}, `ticket.sla:${t.id}:${t.slaDueAt}`);
      return;
    }
    const breached = this.d.store.transaction(() => {
      if (!this.d.store.technician.tickets.markBreached(t.id)) return false;
      this.d.store.technician.tickets.addHistory(t.id, SYSTEM, 'sla-breached', `${t.slaHours} h target passed`);
      this.d.store.audit.append({
        actor: SYSTEM,
        action: 'ticket.sla-breached',
        target: t.id,
        outcome: 'failure',
        correlationId: t.id,
        details: { type: t.type, slaHours: t.slaHours, slaDueAt: t.slaDueAt, assignee: t.assignee.id ? t.assignee : null },
      });
      // Announced once: the job's key cannot be scheduled again.
      this.schedule(TICKET_JOBS.announceBreach, t.id, this.now(), {}, `ticket.breach:${t.id}`);
      this.schedule(TICKET_JOBS.updateCards, t.id, this.now());
      return true;
    });
    if (breached) this.kick();
  }

  private async runAnnounceBreach(job: Job): Promise<void> {
    const t = this.ticketOf(job);
    if (t.state === 'closed') return;
    const card = renderTechCard({
      title: `SLA breached: ${t.id}`,
      subtitle: `${TICKET_TYPE_LABELS[t.type]} · ${t.slaHours} h target, due ${formatTime(t.slaDueAt)}`,
      status: t.assignee.name ? `With ${t.assignee.name}` : 'Nobody has taken it',
      tone: 'attention',
      text: t.title,
      facts: [
        { title: 'Ticket', value: t.id },
        { title: 'About', value: t.subject.name ?? 'not a single person' },
        { title: 'Opened', value: formatTime(t.createdAt) },
      ],
      footer: `take ${t.id} · assign ${t.id} ‹technician› · close ${t.id} --note ‹what was done›`,
    });
    const delivered = await this.d.notifier.sendToTechnicians(messageWith(card, `SLA breached: ${t.id}`));
    if (!delivered) throw new Error('no technicians channel is known yet');
  }

  private schedule(kind: string, ticketId: string, runAt: Date, payload: Record<string, unknown> = {}, dedupeKey: string | null = null): void {
    this.d.store.jobs.schedule({ kind, requestId: ticketId, runAt, payload, dedupeKey, maxAttempts: this.d.maxJobAttempts });
  }
}

/**
 * What every card of a ticket says about it, the queue's and drift's alike: the status line
 * (with a missed SLA), whether the SLA was missed, the SLA fact and the last six history lines.
 */
export function ticketView(store: Store, t: Ticket, now: Date): { status: string; breached: boolean; sla: Fact; history: Fact[] } {
  const due = Date.parse(t.slaDueAt);
  const breached = t.slaBreachedAt !== null || (t.state !== 'closed' && now.getTime() > due) || (t.closedAt !== null && Date.parse(t.closedAt) > due);
  let status = t.state === 'closed' ? `Closed by ${t.closedBy.name ?? 'someone'}: ${plainText(t.closeNote ?? '')}` : t.state === 'in-progress' ? `In progress: ${t.assignee.name}` : 'Open, not assigned';
  if (breached) status += ' · SLA breached';
  const history = store.technician.tickets
    .history(t.id)
    .slice(-6)
    .map((h) => ({ title: formatTime(h.at), value: `${HISTORY_LABELS[h.action] ?? h.action}${h.actor.name ? ` by ${h.actor.name}` : ''}${h.note ? `: ${h.action === 'closed' ? plainText(h.note.slice(0, 200)) : h.note.slice(0, 200)}` : ''}` }));
  return {
    status,
    breached,
    sla: { title: 'SLA', value: `${t.slaHours} h: ${t.state === 'closed' ? (breached ? 'missed' : 'met') : `due ${formatTime(t.slaDueAt)}`}` },
    history,
  };
}

const HISTORY_LABELS: Record<string, string> = {
  opened: 'Opened',
  'raised-again': 'Raised again',
  taken: 'Taken',
  assigned: 'Assigned',
  closed: 'Closed',
  'sla-breached': 'SLA breached',
  'posting-failed': 'Posting the card failed',
};

/** Whether a ticket is about this person's own account. */
function isAbout(t: Ticket, userId: string): boolean {
  return t.subject.id !== null && t.subject.id.toLowerCase() === userId.toLowerCase();
}

/** "45 min", "3 h", "2 d". */
export function age(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 60) return `${m} min`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.round(h / 24)} d`;
}

export function messageWith(card: AdaptiveCardJson, summary?: string): Partial<Activity> {
  const activity = MessageFactory.attachment(CardFactory.adaptiveCard(card));
  if (summary) activity.summary = summary;
  return activity;
}
