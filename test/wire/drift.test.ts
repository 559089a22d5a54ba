import { plainText } from '../../adaptive-cards/plain-text';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { ThrottledError } from '../../directory/directory';
import { DriftStore, fingerprintOf, type DriftFinding, type DriftKind } from '../../store/drift';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf } from '../support/teams-client';
import { actions, ahmed, cardText, findById, HOUR, person, press, problems, sarah, say, title } from '../technician/support';

/**
 * Drift detection over the wire: the demo directory is changed behind the bot's back (through
 * the directory itself, or its database file), then a technician types `drift` in the
 * technicians' channel. Each finding is one ticket whose card has Remove, Accept and the
 * ticket's buttons; it is not raised again until something changes.
 */

let h: Harness;
let drift: DriftStore;
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const catalog = loadCatalog();
const group = (resourceId: string) => findResourceById(catalog, resourceId)!.groupId;
const GLOBAL_ADMINS = 'b1a9926b-e1c0-4b72-aed0-6ec2cc9e8a1a';

beforeAll(async () => {
  // No scheduled check here: every run below is a technician's `drift`. Two attempts per job keep the removal failure short.
  h = await startHarness({ DRIFT_CHECK_INTERVAL_HOURS: '0', JOB_MAX_ATTEMPTS: '2' }, { clock: clock.now });
  drift = new DriftStore(h.bot.store.db, clock.now);
  // The technicians' channel becomes known when a technician talks there; the demo tenant's own drift is the baseline.
  await say(h, sarah(h), 'pending');
  await runDrift();
});
afterAll(async () => {
  await h?.stop();
});

const settle = () => h.bot.scheduler.idle();
const emily = () => h.user('employee');

/** `drift` in the channel as Sarah; the summary card once its tickets are posted. */
async function runDrift(line = 'drift'): Promise<any> {
  const said = await say(h, sarah(h), line);
  await settle();
  expect(said.cards).toHaveLength(1);
  return said.cards[0];
}

function finding(kind: DriftKind, groupId: string, userId: string, combination?: string): DriftFinding | null {
  return drift.byFingerprint(fingerprintOf({ kind, groupId, userId, combination }));
}

/** Tickets raised by a finding, oldest first. */
function ticketsOf(findingId: string) {
  return h.bot.store.technician.tickets.openedBetween('2000-01-01', '2100-01-01').filter((t) => t.sourceRef === findingId && !t.title.startsWith('Access not removed'));
}

/** The latest version of a drift ticket's card in the channel: its last update, or the card as posted. */
function ticketCard(ticketId: string): any {
  const [ref] = h.bot.store.technician.cards.forOwner(`drift:${ticketId}`, 'ticket');
  if (!ref) throw new Error(`no card posted for ${ticketId}`);
  const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === ref.conversationId && c.activityId === ref.activityId);
  const card = updates.length
    ? cardOf(updates[updates.length - 1]!.body)
    : h.connector.sentTo(ref.conversationId).map(cardOf).find((c) => String(findById(c, 'drift-heading')?.text ?? '').startsWith(`${ticketId} `));
  expect(problems(card)).toEqual([]);
  return card;
}

function newTickets(summary: any): string[] {
  return (findById(summary, 'tech-section-facts-new')?.facts ?? []).map((f: any) => `${f.title} = ${f.value}`);
}

/** Text messages the bot sent to the channel after `from`. */
function channelTexts(from: number): string[] {
  return h.connector.sentTo(h.client.channelConversationId()).slice(from).map((a) => a.text).filter((t): t is string => typeof t === 'string');
}

async function isMember(groupId: string, userId: string): Promise<boolean> {
  return (await h.bot.directory.checkMemberGroups(userId, [groupId])).length === 1;
}

describe('drift findings, one of each kind, after the demo directory was changed behind the bot', () => {
  it('a member added directly in the directory: one ticket with its card, not raised again on the next run', async () => {
    await h.bot.directory.addGroupMember(group('crm'), emily().id);
    const summary = await runDrift();
    const f = finding('unapproved', group('crm'), emily().id)!;
    expect(f).toMatchObject({ state: 'open', occurrence: 1, groupName: 'CRM', userName: 'Emily Chen', userUpn: 'emily.chen@northwind.example' });
    const [ticket] = ticketsOf(f.id);
    expect(ticketsOf(f.id)).toHaveLength(1);
    expect(ticket).toMatchObject({ id: f.ticketId, type: 'general', title: 'Added outside the helpdesk: Emily Chen in CRM', subject: { id: emily().id }, state: 'open' });
    expect(newTickets(summary)).toEqual([`${ticket!.id} · ${f.id} = Added outside the helpdesk: Emily Chen in CRM`]);
    expect(findById(summary, 'tech-status').text).toMatch(/^1 new · \d+ already known · 0 accepted as exceptions · 0 resolved$/);

    const card = ticketCard(ticket!.id);
    expect(findById(card, 'drift-heading').text).toBe(`${ticket!.id} · ${f.id} · Drift: Added outside the helpdesk`);
    expect(findById(card, 'drift-text').text).toMatch(/^Emily Chen is a member of CRM, but no grant through the helpdesk, birthright rule or accepted exception says so/);
    expect(findById(card, 'drift-status').text).toBe('Open, not assigned');
    expect(actions(card)).toEqual(['drift-remove', 'drift-review', 'drift-accept', 'drift-assign', 'drift-close']);
    expect(findById(card, 'drift-remove').data).toEqual({ finding: f.id });
    expect(h.bot.store.audit.query({ action: 'drift.finding-opened', correlationId: f.id })).toHaveLength(1);
    expect(h.bot.store.audit.query({ action: 'ticket.opened', correlationId: ticket!.id })).toHaveLength(1);

    const ticketsBefore = h.bot.store.technician.tickets.countOpen();
    const again = await runDrift();
    expect(newTickets(again)).toEqual([]);
    expect(findById(again, 'tech-status').text).toMatch(/^0 new · \d+ already known/);
    expect(h.bot.store.technician.tickets.countOpen()).toBe(ticketsBefore);
    expect(ticketsOf(f.id)).toHaveLength(1);
  });

  it('a grant whose time is up while the membership stayed', async () => {
    const said = await say(h, sarah(h), 'grant emily.chen@northwind.example vpn --for 1d --reason customer visit');
    expect(title(said.cards[0])).toMatch(/^PLN-\d+: grant access to Emily Chen$/);
    await settle();
    const [request] = h.bot.store.requests.grantedFor(emily().id, 'vpn');
    expect(request).toBeDefined();
    expect(await isMember(group('vpn'), emily().id)).toBe(true);
    // The removal at the end never happens (its job is gone, as after a failure nobody fixed).
    expect(h.bot.store.jobs.cancelForRequest(request!.id, 'access.revoke')).toBe(1);
    // While the grant stands, Emily is expected in VPN.
    await runDrift();
    expect(finding('expired-grant', group('vpn'), emily().id)).toBeNull();
    expect(finding('unapproved', group('vpn'), emily().id)).toBeNull();

    clock.advance(25 * HOUR);
    const summary = await runDrift();
    const f = finding('expired-grant', group('vpn'), emily().id)!;
    expect(f).toMatchObject({ state: 'open', details: { requestId: request!.id, expiresAt: request!.expiresAt } });
    expect(ticketsOf(f.id)).toHaveLength(1);
    expect(ticketsOf(f.id)[0]).toMatchObject({ type: 'provisioning', title: 'Access ended but still a member: Emily Chen in VPN' });
    expect(newTickets(summary)).toEqual([`${f.ticketId} · ${f.id} = Access ended, membership stayed: Emily Chen in VPN`]);
    expect(findById(ticketCard(f.ticketId!), 'drift-text').text).toMatch(new RegExp(`^Emily Chen's access to VPN \\(${request!.id}\\) ended .*, but they are still a member`));
  });

  it('a disabled account still in its groups: one ticket per group', async () => {
    const ravi = person(h, 'Ravi Shah');
    await h.bot.directory.setAccountEnabled(ravi.id, false);
    const summary = await runDrift();
    const inVpn = finding('disabled', group('vpn'), ravi.id)!;
    const inCode = finding('disabled', group('source-code'), ravi.id)!;
    expect(ticketsOf(inVpn.id).map((t) => t.title)).toEqual(['Disabled account still a member: Ravi Shah in VPN']);
    expect(ticketsOf(inCode.id).map((t) => t.title)).toEqual(['Disabled account still a member: Ravi Shah in Source Code']);
    expect(newTickets(summary)).toHaveLength(2);
    await runDrift();
    expect(ticketsOf(inVpn.id)).toHaveLength(1);
    expect(ticketsOf(inCode.id)).toHaveLength(1);
  });

  it('someone who left the directory while holding a grant', async () => {
    const mei = person(h, 'Mei Tanaka');
    await say(h, sarah(h), 'grant mei.tanaka@northwind.example source code --for 14d --reason integration project');
    await settle();
    const [request] = h.bot.store.requests.grantedFor(mei.id, 'source-code');
    expect(request).toBeDefined();
    // Deleted from the demo directory's own database, as an administrator deleting the account would.
    const raw = new Database(path.join(h.dir, 'directory.db'));
    raw.pragma('foreign_keys = ON');
    expect(raw.prepare('DELETE FROM users WHERE id = ?').run(mei.id).changes).toBe(1);
    raw.close();
    expect(await h.bot.directory.getUser(mei.id)).toBeNull();

    const summary = await runDrift();
    const f = finding('left', group('source-code'), mei.id)!;
    expect(f).toMatchObject({ userName: 'Mei Tanaka', details: { requestIds: [request!.id] } });
    expect(ticketsOf(f.id).map((t) => t.title)).toEqual(['No longer in the directory, still holds access: Mei Tanaka in Source Code']);
    expect(newTickets(summary)).toEqual([`${f.ticketId} · ${f.id} = No longer in the directory: Mei Tanaka in Source Code`]);
    await runDrift();
    expect(ticketsOf(f.id)).toHaveLength(1);
  });

  it('incompatible resources held together (separation of duties)', async () => {
    const noah = person(h, 'Noah Williams');
    // Noah already administers the HR portal; now someone adds him to Payroll Reports by hand.
    await h.bot.directory.addGroupMember(group('payroll-reports'), noah.id);
    const summary = await runDrift();
    const sod = finding('sod', group('hr-portal-admin'), noah.id, 'hr-portal-admin+payroll-reports')!;
    expect(sod).toMatchObject({ groupName: 'HR Portal Administrators', otherGroupName: 'Payroll Reports', otherGroupId: group('payroll-reports') });
    expect(ticketsOf(sod.id).map((t) => [t.type, t.title])).toEqual([['security', 'Separation of duties: Noah Williams holds HR Portal Administrators and Payroll Reports']]);
    // Payroll Reports is privileged too: that is its own finding.
    expect(finding('privileged', group('payroll-reports'), noah.id)).toMatchObject({ state: 'open' });
    expect(newTickets(summary)).toHaveLength(2);
    // Remove offers the choice of which membership goes.
    const card = ticketCard(sod.ticketId!);
    const choices = findById(card, 'group').choices.map((c: any) => [c.title, c.value]);
    expect(choices).toEqual([
      ['HR Portal Administrators', group('hr-portal-admin')],
      ['Payroll Reports', group('payroll-reports')],
    ]);
    await runDrift();
    expect(ticketsOf(sod.id)).toHaveLength(1);
  });

  it('an unexpected member of a privileged group', async () => {
    const carlos = person(h, 'Carlos Mendes');
    await h.bot.directory.addGroupMember(GLOBAL_ADMINS, carlos.id);
    const summary = await runDrift();
    const f = finding('privileged', GLOBAL_ADMINS, carlos.id)!;
    expect(f).toMatchObject({ groupName: 'Global Admins', details: { privilegedGroup: true } });
    expect(ticketsOf(f.id).map((t) => [t.type, t.title])).toEqual([['security', 'Unexpected member of a privileged group: Carlos Mendes in Global Admins']]);
    expect(newTickets(summary)).toEqual([`${f.ticketId} · ${f.id} = Unexpected member of a privileged group: Carlos Mendes in Global Admins`]);
  });

  it('two checks at once raise a new finding once and take nothing for gone', async () => {
    const yuki = person(h, 'Yuki Sato');
    await h.bot.directory.addGroupMember(group('crm'), yuki.id);
    const before = h.bot.store.audit.count();
    const [a, b] = await Promise.all([h.client.message(sarah(h), 'drift', { where: 'channel' }), h.client.message(ahmed(h), 'drift', { where: 'channel' })]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await settle();
    const f = finding('unapproved', group('crm'), yuki.id)!;
    expect(ticketsOf(f.id)).toHaveLength(1);
    const events = h.bot.store.audit.query({}, { afterSeq: before }).map((e) => e.action);
    expect(events.filter((e) => e === 'drift.checked')).toHaveLength(2);
    expect(events.filter((e) => e === 'drift.finding-opened')).toHaveLength(1);
    expect(events).not.toContain('drift.finding-resolved');
    await h.bot.directory.removeGroupMember(group('crm'), yuki.id);
    await runDrift();
    expect(drift.get(f.id)!.state).toBe('resolved');
  });

  it('a dry run reports and records nothing', async () => {
    const lena = person(h, 'Lena Hoffmann');
    await h.bot.directory.addGroupMember(group('crm'), lena.id);
    const tickets = h.bot.store.technician.tickets.countOpen();
    const audit = h.bot.store.audit.count();
    const summary = await runDrift('drift --dry-run');
    expect(title(summary)).toMatch(/^Drift check \(dry run\): \d+ findings$/);
    expect(findById(summary, 'tech-text').text).toBe('Nothing was recorded and no ticket was opened.');
    expect(cardText(findById(summary, 'tech-section-new'))).toContain('Added outside the helpdesk: Lena Hoffmann in CRM');
    expect(finding('unapproved', group('crm'), lena.id)).toBeNull();
    expect(h.bot.store.technician.tickets.countOpen()).toBe(tickets);
    // Only the check itself is recorded.
    expect(h.bot.store.audit.query({}, { afterSeq: audit }).map((e) => e.action)).toEqual(['drift.checked']);
    await h.bot.directory.removeGroupMember(group('crm'), lena.id);
  });

  it('--group checks one resource and the resources it must not be held with', async () => {
    const summary = await runDrift('drift --group payroll reports');
    expect(findById(summary, 'tech-subtitle').text).toMatch(/^Payroll Reports, HR Portal Administrators · /);
    const [event] = h.bot.store.audit.query({ action: 'drift.checked' }).slice(-1);
    expect(JSON.parse(event!.details).scope).toEqual([group('payroll-reports'), group('hr-portal-admin')]);
    expect((await say(h, sarah(h), 'drift --group Finance Department')).texts[0]).toBe('Finance Department is neither a catalog resource’s group nor a privileged group: drift checks only those. Nothing was checked.');
    expect((await say(h, sarah(h), 'drift --group Nonexistent Team')).texts[0]).toMatch(/^No group matches "Nonexistent Team"\..* Nothing was checked\.$/);
    expect((await say(h, sarah(h), 'drift --dry-run=yes')).texts[0]).toMatch(/^--dry-run takes no value\.\n\nUsage: `drift \[--group ‹group\|resource›\] \[--dry-run\]`/);
    expect((await say(h, sarah(h), 'drift now')).texts[0]).toMatch(/^`drift` takes no words besides its flags/);
    expect((await say(h, sarah(h), 'help drift')).texts[0]).toMatch(/^\*\*drift\*\*: Compares the members/);
  });
});

describe('a group the directory cannot read', () => {
  it('is reported; the other groups are checked; its findings are not taken for gone', async () => {
    const lena = person(h, 'Lena Hoffmann');
    const emilyInCrm = finding('unapproved', group('crm'), emily().id)!;
    await h.bot.directory.addGroupMember(group('warehouse-devices'), lena.id);
    const original = h.bot.directory.listGroupMembers.bind(h.bot.directory);
    h.bot.directory.listGroupMembers = async (groupId: string) => {
      if (groupId === group('crm')) throw new ThrottledError('too many requests', 30);
      return original(groupId);
    };
    let summary: any;
    try {
      summary = await runDrift();
    } finally {
      h.bot.directory.listGroupMembers = original;
    }
    expect(findById(summary, 'tech-status').text).toMatch(/ · 1 group\(s\) not read$/);
    expect(findById(summary, 'tech-section-facts-failures').facts).toEqual([{ title: 'CRM', value: 'Throttled: too many requests' }]);
    expect(newTickets(summary)).toEqual([expect.stringMatching(/= Added outside the helpdesk: Lena Hoffmann in Warehouse Floor Devices$/)]);
    expect(drift.get(emilyInCrm.id)).toMatchObject({ state: 'open', occurrence: 1, ticketId: emilyInCrm.ticketId });
    const [event] = h.bot.store.audit.query({ action: 'drift.checked' }).slice(-1);
    expect(event!.outcome).toBe('failure');
    expect(JSON.parse(event!.details).failed).toEqual([{ groupId: group('crm'), error: 'Throttled: too many requests' }]);
    await h.bot.directory.removeGroupMember(group('warehouse-devices'), lena.id);
  });
});

describe('a finding comes back only when something changed', () => {
  it('gone: resolved and its ticket closed; back: raised again with a new ticket, the old card says so', async () => {
    const f1 = finding('unapproved', group('crm'), emily().id)!;
    const firstTicket = f1.ticketId!;
    await h.bot.directory.removeGroupMember(group('crm'), emily().id);
    const gone = await runDrift();
    expect(cardText(findById(gone, 'tech-section-resolved'))).toContain(`${firstTicket} · ${f1.id}\nAdded outside the helpdesk: Emily Chen in CRM`);
    expect(drift.get(f1.id)).toMatchObject({ state: 'resolved', resolution: 'gone' });
    expect(h.bot.store.technician.tickets.get(firstTicket)).toMatchObject({ state: 'closed', closedBy: { id: 'system' } });
    expect(findById(ticketCard(firstTicket), 'drift-text').text).toMatch(/Resolved: the drift check no longer finds it/);
    expect(actions(ticketCard(firstTicket))).toEqual([]);

    await h.bot.directory.addGroupMember(group('crm'), emily().id);
    const back = await runDrift();
    const f2 = drift.get(f1.id)!;
    expect(f2).toMatchObject({ state: 'open', occurrence: 2 });
    expect(f2.ticketId).not.toBe(firstTicket);
    expect(newTickets(back)).toEqual([`${f2.ticketId} · ${f1.id} = Added outside the helpdesk: Emily Chen in CRM`]);
    expect(ticketsOf(f1.id).map((t) => t.id)).toEqual([firstTicket, f2.ticketId]);
    expect(findById(ticketCard(firstTicket), 'drift-text').text).toMatch(new RegExp(`This occurrence is over: it was raised again as ${f2.ticketId}\\.$`));
    expect(JSON.parse(h.bot.store.audit.query({ action: 'drift.finding-reopened', correlationId: f1.id })[0]!.details)).toMatchObject({ reason: 'came-back', occurrence: 2, previousTicket: firstTicket });
  });

  it('a ticket closed by hand while the finding is still there is raised again at the next check', async () => {
    const ravi = person(h, 'Ravi Shah');
    const f = finding('disabled', group('vpn'), ravi.id)!;
    await say(h, sarah(h), `close ${f.ticketId} --note will look at it later`);
    await settle();
    await runDrift();
    const after = drift.get(f.id)!;
    expect(after.occurrence).toBe(2);
    expect(ticketsOf(f.id)).toHaveLength(2);
    expect(JSON.parse(h.bot.store.audit.query({ action: 'drift.finding-reopened', correlationId: f.id })[0]!.details)).toMatchObject({ reason: 'ticket-closed-while-still-there' });
  });
});

describe('one-click actions on a drift ticket', () => {
  it('only technicians: an employee’s click is refused and audited, and changes nothing', async () => {
    const f = finding('privileged', GLOBAL_ADMINS, person(h, 'Carlos Mendes').id)!;
    const before = h.bot.store.audit.count();
    const refused = await press(h, emily(), 'drift.accept', { finding: f.id, reason: 'looks fine to me' });
    expect(title(refused)).toBe('Not available');
    expect(cardText(refused)).toContain('Sorry, that command is for identity technicians only.');
    const [event] = h.bot.store.audit.query({ action: 'drift.action-refused' }, { afterSeq: before });
    expect(event).toMatchObject({ actorId: emily().id, outcome: 'refused', correlationId: f.id });
    expect(JSON.parse(event!.details)).toMatchObject({ verb: 'drift.accept', reason: 'not-a-technician' });
    expect(title(await press(h, emily(), 'drift.remove', { finding: f.id }))).toBe('Not available');
    expect(drift.get(f.id)).toMatchObject({ state: 'open', removal: null, acceptedReason: null });
  });

  it('accept needs a reason; with one it closes the ticket and silences the finding until the exception is revoked', async () => {
    const carlos = person(h, 'Carlos Mendes');
    const f = finding('privileged', GLOBAL_ADMINS, carlos.id)!;
    let from = h.connector.sentTo(h.client.channelConversationId()).length;
    const noReason = await press(h, sarah(h), 'drift.accept', { finding: f.id, reason: '   ' });
    expect(actions(noReason)).toContain('drift-accept');
    expect(channelTexts(from)).toEqual(['Say why this is acceptable: the reason stays with the exception and in the audit trail. Nothing was changed.']);
    expect(drift.get(f.id)!.state).toBe('open');

    // Global Admins is privileged: the exception takes effect when a second technician approves it.
    // The reason shows on the cards as typed: its Markdown does nothing there.
    const reason = 'Break-glass account holder during the ERP migration, see [CHG-42](https://example.invalid/chg/42)';
    await press(h, sarah(h), 'drift.accept', { finding: f.id, reason });
    expect(drift.get(f.id)!.state).toBe('open');
    const accepted = await press(h, ahmed(h), 'drift.accept-approve', { finding: f.id });
    expect(findById(accepted, 'drift-status').text).toBe(`Closed by Ahmed Farouk: Accepted as an exception proposed by Sarah Mitchell: ${plainText(reason)}`);
    expect(findById(accepted, 'drift-text').text).toMatch(/Accepted as an exception by Sarah Mitchell, approved by Ahmed Farouk \(.*\): /);
    expect(findById(accepted, 'drift-text').text.endsWith(`: ${plainText(reason)}`)).toBe(true);
    expect(drift.get(f.id)!.acceptedReason).toBe(reason);
    expect(actions(accepted)).toEqual(['drift-unaccept']);
    expect(drift.get(f.id)).toMatchObject({ state: 'accepted', acceptedReason: reason, acceptedBy: { id: sarah(h).id, name: 'Sarah Mitchell' } });
    const [event] = h.bot.store.audit.query({ action: 'drift.finding-accepted', correlationId: f.id });
    expect(event).toMatchObject({ actorId: ahmed(h).id, target: carlos.id });
    expect(JSON.parse(event!.details)).toMatchObject({ reason, kind: 'privileged' });
    expect(h.bot.store.technician.tickets.get(f.ticketId!)!.state).toBe('closed');

    const quiet = await runDrift();
    expect(newTickets(quiet)).toEqual([]);
    expect(findById(quiet, 'tech-status').text).toMatch(/ · 1 accepted as exceptions · /);
    expect(ticketsOf(f.id)).toHaveLength(1);

    // Revoked: checked again at once, still there, so raised again.
    from = h.connector.sentTo(h.client.channelConversationId()).length;
    const revoked = await press(h, sarah(h), 'drift.unaccept', { finding: f.id });
    await settle();
    const again = drift.get(f.id)!;
    expect(again).toMatchObject({ state: 'open', occurrence: 2, acceptedReason: null });
    expect(channelTexts(from)).toEqual([`The exception is revoked. It is still there, so it was raised again: ${again.ticketId}.`]);
    expect(actions(revoked)).toEqual(['drift-remove', 'drift-review', 'drift-accept', 'drift-assign', 'drift-close']);
    expect(ticketsOf(f.id)).toHaveLength(2);
    expect(h.bot.store.audit.query({ action: 'drift.exception-revoked', correlationId: f.id })).toHaveLength(1);
  });

  it('remove: confirmed by the technician who proposed it, then the membership is removed by the durable job and the ticket closed', async () => {
    const f = finding('unapproved', group('crm'), emily().id)!;
    const proposed = await press(h, sarah(h), 'drift.remove', { finding: f.id });
    expect(findById(proposed, 'drift-removal').text).toMatch(/^Removal of Emily Chen from CRM proposed by Sarah Mitchell: waiting for Sarah Mitchell's confirmation\. Confirm by /);
    expect(actions(proposed)).toEqual(['drift-remove-confirm', 'drift-remove-cancel', 'drift-assign', 'drift-close']);
    expect(await isMember(group('crm'), emily().id)).toBe(true);
    // Nobody else confirms it for her.
    expect(findById(await press(h, ahmed(h), 'drift.remove-confirm', { finding: f.id }), 'drift-removal').text).toMatch(/waiting for Sarah Mitchell's confirmation/);
    expect(await isMember(group('crm'), emily().id)).toBe(true);
    const refusal = h.bot.store.audit.query({ action: 'drift.action-refused', correlationId: f.id }).pop()!;
    expect(JSON.parse(refusal.details)).toMatchObject({ reason: 'not-the-proposer' });

    const confirmed = await press(h, sarah(h), 'drift.remove-confirm', { finding: f.id });
    expect(findById(confirmed, 'drift-removal').text).toMatch(/^Removing Emily Chen from CRM/);
    await settle();
    expect(await isMember(group('crm'), emily().id)).toBe(false);
    expect(drift.get(f.id)).toMatchObject({ state: 'resolved', resolution: 'removed', removal: { state: 'done' } });
    const card = ticketCard(f.ticketId!);
    expect(findById(card, 'drift-removal').text).toBe('Removed from CRM (proposed by Sarah Mitchell).');
    expect(findById(card, 'drift-status').text).toBe('Closed by Sarah Mitchell: Removed Emily Chen from CRM.');
    expect(h.bot.store.audit.query({ correlationId: f.id }).map((e) => e.action)).toEqual(
      expect.arrayContaining(['drift.removal-proposed', 'drift.removal-confirmed', 'drift.removal-started', 'access.membership-removed', 'drift.membership-removed']),
    );
    // Gone for good: the next check neither raises nor resolves it again.
    const next = await runDrift();
    expect(cardText(next)).not.toContain('Emily Chen in CRM');
  });

  it('remove from a privileged group takes a second technician; the proposer cannot be it', async () => {
    const carlos = person(h, 'Carlos Mendes');
    const f = finding('privileged', GLOBAL_ADMINS, carlos.id)!;
    await press(h, sarah(h), 'drift.remove', { finding: f.id });
    const confirmed = await press(h, sarah(h), 'drift.remove-confirm', { finding: f.id });
    expect(findById(confirmed, 'drift-removal').text).toMatch(/waiting for a second technician's approval \(privileged\)/);
    expect(actions(confirmed)).toContain('drift-remove-approve');
    const self = await press(h, sarah(h), 'drift.remove-approve', { finding: f.id });
    expect(actions(self)).toContain('drift-remove-approve');
    await settle();
    expect(await isMember(GLOBAL_ADMINS, carlos.id)).toBe(true);

    await press(h, ahmed(h), 'drift.remove-approve', { finding: f.id });
    await settle();
    expect(await isMember(GLOBAL_ADMINS, carlos.id)).toBe(false);
    expect(drift.get(f.id)!.removal).toMatchObject({ state: 'done', proposedBy: { name: 'Sarah Mitchell' }, approvedBy: { name: 'Ahmed Farouk' } });
    expect(findById(ticketCard(f.ticketId!), 'drift-removal').text).toBe('Removed from Global Admins (proposed by Sarah Mitchell, approved by Ahmed Farouk).');
  });

  it('a separation-of-duties removal takes the membership picked on the card', async () => {
    const noah = person(h, 'Noah Williams');
    const f = finding('sod', group('hr-portal-admin'), noah.id, 'hr-portal-admin+payroll-reports')!;
    const from = h.connector.sentTo(h.client.channelConversationId()).length;
    await press(h, sarah(h), 'drift.remove', { finding: f.id });
    expect(channelTexts(from)).toEqual(['Pick which membership to remove: HR Portal Administrators or Payroll Reports. Nothing was changed.']);
    await press(h, sarah(h), 'drift.remove', { finding: f.id, group: group('payroll-reports') });
    await press(h, sarah(h), 'drift.remove-confirm', { finding: f.id });
    // Payroll Reports is privileged: Ahmed approves.
    await press(h, ahmed(h), 'drift.remove-approve', { finding: f.id });
    await settle();
    expect(await isMember(group('payroll-reports'), noah.id)).toBe(false);
    expect(await isMember(group('hr-portal-admin'), noah.id)).toBe(true);
    await runDrift();
    expect(drift.get(f.id)!.state).toBe('resolved');
    expect(finding('privileged', group('payroll-reports'), noah.id)).toMatchObject({ state: 'resolved', resolution: 'gone' });
  });

  it('a removal the directory keeps refusing ends in a ticket, and the card says so', async () => {
    const ravi = person(h, 'Ravi Shah');
    const f = finding('disabled', group('source-code'), ravi.id)!;
    const original = h.bot.directory.removeGroupMember.bind(h.bot.directory);
    h.bot.directory.removeGroupMember = async () => {
      throw new Error('the directory is unavailable');
    };
    try {
      await press(h, sarah(h), 'drift.remove', { finding: f.id });
      await press(h, sarah(h), 'drift.remove-confirm', { finding: f.id });
      await settle();
      expect(drift.get(f.id)!.removal!.state).toBe('running');
      clock.advance(31_000);
      await h.bot.scheduler.runDue();
      await settle();
    } finally {
      h.bot.directory.removeGroupMember = original;
    }
    expect(drift.get(f.id)).toMatchObject({ state: 'open', removal: { state: 'failed', error: 'the directory is unavailable' } });
    expect(await isMember(group('source-code'), ravi.id)).toBe(true);
    const failed = h.bot.store.technician.tickets.listOpen(200).find((t) => t.sourceRef === f.id && t.title === 'Access not removed: Ravi Shah from Source Code');
    expect(failed).toBeDefined();
    expect(h.bot.store.audit.query({ action: 'drift.removal-failed', correlationId: f.id })).toHaveLength(1);
    const card = ticketCard(f.ticketId!);
    expect(findById(card, 'drift-removal').text).toBe('Removing Ravi Shah from Source Code failed: the directory is unavailable. A ticket tracks it; Remove tries again.');
    // Remove is offered again.
    expect(actions(card)).toContain('drift-remove');
  });

  it('take, assign and close from the card keep the drift card', async () => {
    const ravi = person(h, 'Ravi Shah');
    const f = finding('disabled', group('vpn'), ravi.id)!;
    const taken = await press(h, sarah(h), 'drift.take', { ticket: f.ticketId });
    expect(findById(taken, 'drift-status').text).toBe('In progress: Sarah Mitchell');
    expect(actions(taken)).toContain('drift-remove');
    const assigned = await press(h, sarah(h), 'drift.assign', { ticket: f.ticketId, assignee: 'ahmed.farouk@northwind.example' });
    expect(findById(assigned, 'drift-status').text).toBe('In progress: Ahmed Farouk');
    // A typed command on the same ticket updates the posted card too.
    await say(h, ahmed(h), `take ${f.ticketId}`);
    await say(h, sarah(h), `take ${f.ticketId}`);
    await settle();
    expect(findById(ticketCard(f.ticketId!), 'drift-status').text).toBe('In progress: Sarah Mitchell');
  });

  it('open a review: an access review of the group starts, linked to the finding', async () => {
    const noah = person(h, 'Noah Williams');
    const f = finding('unapproved', group('hr-portal-admin'), noah.id)!;
    expect(f.state).toBe('open');
    const from = h.connector.sentTo(h.client.channelConversationId()).length;
    const card = await press(h, sarah(h), 'drift.review', { finding: f.id });
    const after = drift.get(f.id)!;
    expect(after.reviewId).toMatch(/^REV-\d+$/);
    expect(channelTexts(from)).toEqual([`Access review ${after.reviewId} started for HR Portal Administrators.`]);
    expect(findById(card, 'drift-text').text).toMatch(new RegExp(`Access review: ${after.reviewId}\\.$`));
    // One review per finding: the button is gone; the finding stays open until the review decides.
    expect(actions(card)).toEqual(['drift-remove', 'drift-accept', 'drift-assign', 'drift-close']);
    const campaign = h.bot.store.db.prepare('SELECT scope, started_by_id, state FROM review_campaigns WHERE id = ?').get(after.reviewId) as { scope: string; started_by_id: string; state: string };
    expect(JSON.parse(campaign.scope)).toMatchObject({ kind: 'group', groupId: group('hr-portal-admin') });
    expect(campaign).toMatchObject({ started_by_id: sarah(h).id, state: 'active' });
    const [event] = h.bot.store.audit.query({ action: 'drift.review-opened', correlationId: f.id });
    expect(event).toMatchObject({ actorId: sarah(h).id, outcome: 'success' });
    expect(JSON.parse(event!.details)).toMatchObject({ reviews: [after.reviewId] });
  });

  it('the finding’s events are found with audit DRF-…', async () => {
    const f = finding('privileged', GLOBAL_ADMINS, person(h, 'Carlos Mendes').id)!;
    const { cards } = await say(h, sarah(h), `audit ${f.id}`);
    expect(title(cards[0])).toBe(`Audit: ${f.id}`);
    expect(cardText(cards[0])).toMatch(/drift\.finding-opened · success/);
    expect(cardText(cards[0])).toMatch(/drift\.exception-proposed · success · Sarah Mitchell/);
    expect(cardText(cards[0])).toMatch(/drift\.finding-accepted · success · Ahmed Farouk/);
  });
});

describe('the scheduled check', () => {
  let s: Harness;
  const clock2 = new TestClock('2026-04-06T08:00:00.000Z');
  beforeAll(async () => {
    s = await startHarness({ DRIFT_CHECK_INTERVAL_HOURS: '6' }, { clock: clock2.now });
    await say(s, s.user('technician'), 'pending');
  });
  afterAll(async () => {
    await s?.stop();
  });

  const runs = () => s.bot.store.db.prepare(`SELECT trigger, summary FROM drift_runs ORDER BY id`).all() as Array<{ trigger: string; summary: string }>;
  const summaries = () =>
    s.connector
      .sent()
      .map(cardOf)
      .filter((c) => /^Drift check: /.test(String(findById(c, 'tech-title')?.text ?? '')));

  it('runs every interval as a durable job, and posts its summary only when something new was found', async () => {
    const pending = () => (s.bot.store.db.prepare(`SELECT next_run_at FROM jobs WHERE kind = 'drift.check' AND state = 'pending'`).all() as Array<{ next_run_at: string }>).map((r) => r.next_run_at);
    expect(pending()).toEqual(['2026-04-06T14:00:00.000Z']);
    clock2.advance(5 * HOUR);
    await s.bot.scheduler.runDue();
    expect(runs()).toEqual([]);

    clock2.advance(1 * HOUR);
    await s.bot.scheduler.runDue();
    await s.bot.scheduler.idle();
    expect(runs().map((r) => r.trigger)).toEqual(['schedule']);
    const first = JSON.parse(runs()[0]!.summary);
    expect(first.new).toBeGreaterThan(0);
    expect(summaries()).toHaveLength(1);
    expect(problems(summaries()[0])).toEqual([]);
    expect(findById(summaries()[0], 'tech-title').text).toBe(`Drift check: ${first.findings} findings`);
    expect(pending()).toEqual(['2026-04-06T20:00:00.000Z']);

    // Nothing new: a run, no post.
    clock2.advance(6 * HOUR);
    await s.bot.scheduler.runDue();
    await s.bot.scheduler.idle();
    expect(runs().map((r) => r.trigger)).toEqual(['schedule', 'schedule']);
    expect(JSON.parse(runs()[1]!.summary)).toMatchObject({ new: 0, known: first.findings });
    expect(summaries()).toHaveLength(1);

    // Something new: posted again.
    await s.bot.directory.addGroupMember(findResourceById(catalog, 'crm')!.groupId, s.user('employee').id);
    clock2.advance(6 * HOUR);
    await s.bot.scheduler.runDue();
    await s.bot.scheduler.idle();
    expect(summaries()).toHaveLength(2);
    expect(cardText(summaries()[1])).toContain('Added outside the helpdesk: Emily Chen in CRM');
    expect(pending()).toEqual(['2026-04-07T08:00:00.000Z']);
  });

  it('survives a restart: the pending check is kept, not doubled', async () => {
    await s.restart();
    const jobs = s.bot.store.db.prepare(`SELECT count(*) AS n FROM jobs WHERE kind = 'drift.check' AND state = 'pending'`).get() as { n: number };
    expect(jobs.n).toBe(1);
  });
});

