import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainText } from '../../adaptive-cards/plain-text';
import { classifyNotice } from '../../dialogs/technician/tickets';
import { buildReport, reportCsv } from '../../store/report';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf } from '../support/teams-client';
import { SEEDED_NOW, seedHistory } from '../technician/seed';
import { actions, ahmed, cardText, channelPosts, findById, HOUR, MINUTE, person, press, problems, sarah, say, status, title } from '../technician/support';

/**
 * Tickets: whatever needs a person arrives as a ticket in the store and a card in the
 * technicians' channel with Take, Assign and Close; the card follows the ticket; a breached
 * SLA is announced once.
 */

let h: Harness;
const clock = new TestClock('2026-03-02T09:00:00.000Z');

beforeAll(async () => {
  h = await startHarness({ TICKET_SLA_HOURS: 'report=2' }, { clock: clock.now });
  // The technicians' channel becomes known when a technician talks there.
  await say(h, sarah(h), 'pending');
});
afterAll(async () => {
  await h?.stop();
});

const settle = () => h.bot.scheduler.idle();

/** The latest version of a ticket's card in the channel. */
function ticketCard(id: string): any {
  const [ref] = h.bot.store.technician.cards.forOwner(id, 'ticket');
  const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.activityId === ref!.activityId && c.conversationId === ref!.conversationId);
  if (updates.length) return cardOf(updates[updates.length - 1]!.body);
  return channelPosts(h).find((c) => findById(c, 'ticket-id')?.text.startsWith(`${id} `));
}

/** Mei asks for a technician from "why can't I sign in": a sign-in ticket. */
async function meiAsksForHelp(): Promise<string> {
  const mei = person(h, 'Mei Tanaka');
  await h.client.message(mei, "why can't I sign in");
  await h.client.invoke(mei, 'signin.technician', {});
  const t = h.bot.store.technician.tickets.listOpen().filter((x) => x.subject.id === mei.id).pop();
  if (!t) throw new Error('no ticket');
  return t.id;
}

describe('the ticket queue', () => {
  it('a flow’s notice becomes a ticket with type, requester, subject and SLA, posted with Take, Assign and Close', async () => {
    const id = await meiAsksForHelp();
    const t = h.bot.store.technician.tickets.get(id)!;
    const mei = person(h, 'Mei Tanaka');
    expect(t).toMatchObject({ type: 'signin', title: 'Sign-in help requested: Mei Tanaka', state: 'open', requester: { id: mei.id }, subject: { id: mei.id, name: 'Mei Tanaka' }, slaHours: 4 });
    expect(t.slaDueAt).toBe(new Date(clock.now().getTime() + 4 * HOUR).toISOString());
    const card = ticketCard(id);
    expect(problems(card)).toEqual([]);
    expect(findById(card, 'ticket-id').text).toBe(`${id} · Sign-in`);
    expect(findById(card, 'notice-title').text).toBe('Sign-in help requested: Mei Tanaka');
    expect(status(card)).toBe('Open, not assigned');
    expect(actions(card)).toEqual(['ticket-take', 'ticket-assign', 'ticket-close']);
    expect(h.bot.store.audit.query({ action: 'ticket.opened', correlationId: id })).toHaveLength(1);
    const queue = await say(h, sarah(h), 'pending');
    expect(title(queue.cards[0])).toMatch(/^Open tickets: \d+$/);
    expect(cardText(queue.cards[0])).toMatch(new RegExp(`${id} · Sign-in\\nSign-in help requested: Mei Tanaka · not assigned · open 0 min · SLA due in 4 h`));
  });

  it('take, assign and close: by card and by command; the card follows; everything is in the history and the audit trail', async () => {
    const id = await meiAsksForHelp();
    // An employee cannot work the queue.
    expect(title(await press(h, person(h, 'Emily Chen'), 'ticket.take', { ticket: id }))).toBe('Not available');
    const taken = await press(h, sarah(h), 'ticket.take', { ticket: id });
    expect(status(taken)).toBe('In progress: Sarah Mitchell');
    await settle();
    expect(status(ticketCard(id))).toBe('In progress: Sarah Mitchell');
    // Only an identity technician can be assigned.
    expect((await say(h, sarah(h), `assign ${id} Emily Chen`)).texts[0]).toBe(`Emily Chen is not an identity technician, so ${id} cannot be assigned to them.`);
    const assigned = await say(h, sarah(h), `assign ${id} Ahmed Farouk`);
    expect(status(assigned.cards[0])).toBe('In progress: Ahmed Farouk');
    expect(assigned.texts[0]).toBe(`${id} is assigned to Ahmed Farouk.`);
    const back = await press(h, ahmed(h), 'ticket.assign', { ticket: id, assignee: 'sarah.mitchell@northwind.example' });
    expect(status(back)).toBe('In progress: Sarah Mitchell');
    // Closing needs a note.
    const noNote = await press(h, sarah(h), 'ticket.close', { ticket: id, note: '  ' });
    expect(status(noNote)).toBe('In progress: Sarah Mitchell');
    const closed = await press(h, sarah(h), 'ticket.close', { ticket: id, note: 'Verified by phone; she chose a new password at the desk.' });
    expect(status(closed)).toBe('Closed by Sarah Mitchell: Verified by phone; she chose a new password at the desk.');
    expect(actions(closed)).toEqual([]);
    await settle();
    expect(status(ticketCard(id))).toMatch(/^Closed by Sarah Mitchell/);
    expect((await say(h, sarah(h), `take ${id}`)).texts[0]).toMatch(new RegExp(`${id} is closed`));
    expect(h.bot.store.technician.tickets.history(id).map((e) => e.action)).toEqual(['opened', 'taken', 'assigned', 'assigned', 'closed']);
    expect(h.bot.store.audit.query({ correlationId: id }).map((e) => e.action)).toEqual(['ticket.opened', 'ticket.taken', 'ticket.assigned', 'ticket.assigned', 'ticket.closed']);
    const [closing] = h.bot.store.audit.query({ action: 'ticket.closed', correlationId: id });
    expect(JSON.parse(closing!.details)).toMatchObject({ slaMet: true });
    expect((await say(h, sarah(h), 'take TKT-99999')).texts[0]).toBe('There is no ticket TKT-99999. Type `pending` for the queue.');
  });

  it('a closing note shows on the card as typed: no link or emphasis from Markdown in it', async () => {
    clock.advance(2 * HOUR);
    const id = await meiAsksForHelp();
    const note = 'Reset at the desk, see [the runbook](https://example.invalid/runbook) **done**';
    const closed = await press(h, sarah(h), 'ticket.close', { ticket: id, note });
    expect(status(closed)).toBe(`Closed by Sarah Mitchell: ${plainText(note)}`);
    expect(cardText(closed)).toContain(plainText(note));
    expect(cardText(closed)).not.toContain('[the runbook](');
    // Stored and audited as typed.
    expect(h.bot.store.technician.tickets.get(id)!.closeNote).toBe(note);
    expect(JSON.parse(h.bot.store.audit.query({ action: 'ticket.closed', correlationId: id })[0]!.details).note).toBe(note);
  });

  it('a breached SLA is announced in the channel once; closing after it records the miss', async () => {
    const reporter = person(h, 'Thomas Berg');
    await h.client.message(reporter, "my report Carlos can't sign in");
    const t = h.bot.store.technician.tickets.listOpen().find((x) => x.type === 'report')!;
    // TICKET_SLA_HOURS=report=2 for this bot.
    expect(t).toMatchObject({ title: 'Sign-in problem reported: Carlos Mendes', slaHours: 2 });
    const announced = () => channelPosts(h).filter((c) => title(c) === `SLA breached: ${t.id}`);
    clock.advance(2 * HOUR - MINUTE);
    await h.bot.scheduler.runDue();
    expect(announced()).toHaveLength(0);
    clock.advance(2 * MINUTE);
    await h.bot.scheduler.runDue();
    expect(announced()).toHaveLength(1);
    expect(problems(announced()[0])).toEqual([]);
    expect(status(announced()[0])).toBe('Nobody has taken it');
    expect(h.bot.store.technician.tickets.get(t.id)!.slaBreachedAt).not.toBeNull();
    expect(status(ticketCard(t.id))).toBe('Open, not assigned · SLA breached');
    // Only once, whatever happens next.
    clock.advance(5 * HOUR);
    await h.bot.scheduler.runDue();
    await h.restart();
    await h.bot.scheduler.runDue();
    expect(announced()).toHaveLength(1);
    expect(h.bot.store.audit.query({ action: 'ticket.sla-breached', correlationId: t.id })).toHaveLength(1);
    const closed = await press(h, sarah(h), 'ticket.close', { ticket: t.id, note: 'Account was disabled on purpose.' });
    expect(cardText(closed)).toMatch(/SLA\n2 h: missed/);
    expect(JSON.parse(h.bot.store.audit.query({ action: 'ticket.closed', correlationId: t.id })[0]!.details)).toMatchObject({ slaMet: false });
  });

  it('a ticket closed in time is never announced', async () => {
    const id = await meiAsksForHelp();
    await press(h, sarah(h), 'ticket.close', { ticket: id, note: 'Helped at the desk.' });
    clock.advance(10 * HOUR);
    await h.bot.scheduler.runDue();
    expect(channelPosts(h).filter((c) => title(c) === `SLA breached: ${id}`)).toHaveLength(0);
  });

  it('notices are typed by what they are about', () => {
    expect(classifyNotice({ title: 'Access approved but not granted: REQ-1001' })).toBe('provisioning');
    expect(classifyNotice({ title: 'Time-bound access not removed: REQ-1001' })).toBe('provisioning');
    expect(classifyNotice({ title: 'REQ-1001 is stuck: nobody to escalate to' })).toBe('escalation');
    expect(classifyNotice({ title: 'REQ-1001 has no approver for stage 2' })).toBe('escalation');
    expect(classifyNotice({ title: 'A helpdesk job failed: access.revoke' })).toBe('job');
    expect(classifyNotice({ title: 'Sign-in problem reported: Aisha Khan' })).toBe('report');
    expect(classifyNotice({ title: 'Self-service locked: Emily Chen' })).toBe('security');
    expect(classifyNotice({ title: 'Ticket: password reset for an on-premises account: Liam Murphy' })).toBe('signin');
    expect(classifyNotice({ title: 'Disabled account asked for recovery: Emily Chen' })).toBe('signin');
    expect(classifyNotice({ title: 'Something else' })).toBe('general');
    expect(classifyNotice({ title: 'Something else', type: 'security' })).toBe('security');
    expect(classifyNotice({ title: 'Something else', type: 'nonsense' })).toBe('general');
  });
});

describe('report in the channel', () => {
  let g: Harness;
  const seedClock = new TestClock(SEEDED_NOW);
  beforeAll(async () => {
    g = await startHarness({}, { clock: seedClock.now });
    seedHistory(g.bot.store, seedClock);
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('answers with the numbers of the seeded history, as a chart card and as CSV', async () => {
    const { cards } = await say(g, sarah(g), 'report --days 30');
    const card = cards[0];
    expect(findById(card, 'report-title').text).toBe('Helpdesk report: last 30 days');
    const summary = Object.fromEntries(findById(card, 'report-summary').facts.map((f: any) => [f.title, f.value]));
    expect(summary.Requests).toBe('Access requests: 6 · Password resets (self-service): 3 · MFA recoveries (self-service): 1 · Unlocks (self-service): 2 · Tickets: 5');
    expect(summary['Time to decision']).toBe('median 4 h, 90th percentile 24 h (4 decided)');
    expect(summary['Ticket SLA']).toBe('1 met, 1 breached, 2 open past target');
    expect(summary['Open tickets']).toBe('3');
    expect(findById(card, 'report-chart-queue').data).toEqual([
      { x: 'under 4 h', y: 1 },
      { x: '1 to 3 days', y: 1 },
      { x: '3 to 7 days', y: 1 },
    ]);
    const csv = await say(g, sarah(g), 'report --days 30 --format csv');
    expect(csv.texts[0]).toBe('```\n' + reportCsv(buildReport(g.bot.store, { days: 30, now: new Date(SEEDED_NOW) })) + '\n```');
    expect(csv.texts[0]).toContain('time to fulfilment,p90 hours,25');
  });
});


