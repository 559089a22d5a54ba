import { beforeAll, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { DriftStore, fingerprintOf, type DriftFinding, type DriftKind } from '../../store/drift';
import { useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, cardText, findById } from '../support/teams-client';
import { problems } from '../technician/support';

/**
 * Production mode on the fake Graph (pages of four members): the drift check meets Graph
 * throttling (429 with Retry-After 0 or 1) and answering 503 in the middle of the paged
 * membership reads and the look-ups of grant holders. A group read only in part raises
 * nothing and resolves nothing; a throttled read that recovers within the budget counts; once
 * Graph recovers (and the bot restarts on the same database) each finding is raised once.
 */
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({
  dirPrefix: 'helpdesk-faults-drift-',
  clock,
  env: { GRAPH_RETRY_MAX_SECONDS: '2', DRIFT_CHECK_INTERVAL_HOURS: '24', RECOVERY_PRIVILEGED_GROUP_IDS: demoTenant.privilegedGroupIds.join(',') },
});

const catalog = loadCatalog();
const group = (resourceId: string) => findResourceById(catalog, resourceId)!.groupId;
const VPN = group('vpn');
const CRM = group('crm');
const EXPENSES = group('expense-reporting');
const PAYROLL = group('payroll-reports');
const membersPath = (groupId: string) => new RegExp(`^/groups/${groupId}/members/microsoft\\.graph\\.user$`);
const sarah = () => demoPersona('technician');
const person = (name: string) => demoTenant.users.find((u) => u.displayName === name)!;

let store: { db: unknown; drift: DriftStore } | undefined;
/** The findings in the running bot's database (a new connection after a restart). */
const drift = (): DriftStore => {
  if (store?.db !== rig.bot.store.db) store = { db: rig.bot.store.db, drift: new DriftStore(rig.bot.store.db, clock.now) };
  return store.drift;
};
beforeAll(async () => {
  // The technicians' channel becomes known when a technician talks there; the tenant's own drift is the baseline.
  await say('pending');
  await runDrift();
});

const say = (text: string) => rig.sayInChannel(sarah(), text);

/** `drift` in the channel; the summary card once the tickets are posted. */
async function runDrift(): Promise<any> {
  const said = await say('drift');
  await rig.bot.scheduler.idle();
  expect(said.cards).toHaveLength(1);
  return said.cards[0];
}

function finding(kind: DriftKind, groupId: string, userId: string): DriftFinding | null {
  return drift().byFingerprint(fingerprintOf({ kind, groupId, userId }));
}
const newTickets = (summary: any): string[] => (findById(summary, 'tech-section-facts-new')?.facts ?? []).map((f: any) => String(f.value));
const notRead = (summary: any): Array<{ title: string; value: string }> => findById(summary, 'tech-section-facts-failures')?.facts ?? [];
/** Tickets a finding raised (its removal's tickets aside). */
const ticketsOf = (findingId: string) => rig.bot.store.technician.tickets.openedBetween('2000-01-01', '2100-01-01').filter((t) => t.sourceRef === findingId && !t.title.startsWith('Access not removed'));
const lastChecked = () => rig.bot.store.audit.query({ action: 'drift.checked' }).at(-1)!;

describe('a drift check when Graph fails in the middle of the membership reads', () => {
  it('a group read in part raises and resolves nothing; throttled reads that recover count; after Graph recovers and a restart each finding is raised once', async () => {
    const ines = person('Inès Moreau');
    const noah = person('Noah Williams');
    const fatima = person('Fatima Haddad');
    const fatimaInVpn = finding('unapproved', VPN, fatima.id)!;
    expect(fatimaInVpn).toMatchObject({ state: 'open' });
    const payrollFindings = drift().listActive().filter((f) => f.groupId === PAYROLL || f.otherGroupId === PAYROLL);
    expect(payrollFindings.length).toBeGreaterThan(0);
    // Behind the bot's back: Inès added to the VPN group (on its last page), Noah to CRM's, Fatima out of VPN.
    rig.graph.groups.get(VPN)!.members.push(ines.id);
    rig.graph.groups.get(CRM)!.members.push(noah.id);
    rig.graph.groups.get(VPN)!.members.splice(rig.graph.groups.get(VPN)!.members.indexOf(fatima.id), 1);
    expect(rig.graph.groups.get(VPN)!.members.length).toBeGreaterThan(12);

    // VPN: three pages read, then 503 on every later page; Payroll: 503; CRM and Expense Reporting: throttled, then answered.
    rig.graph.inject({ status: 503, times: 10_000, method: 'GET', path: membersPath(VPN), skip: 3 });
    rig.graph.inject({ status: 503, times: 10_000, method: 'GET', path: membersPath(PAYROLL) });
    rig.graph.inject({ status: 429, retryAfter: 0, times: 1, method: 'GET', path: membersPath(CRM), skip: 2 });
    rig.graph.inject({ status: 429, retryAfter: 1, times: 1, method: 'GET', path: membersPath(EXPENSES), skip: 1 });
    const faulty = await runDrift();

    expect(findById(faulty, 'tech-status').text).toMatch(/^1 new · \d+ already known · 0 accepted as exceptions · 0 resolved · 2 group\(s\) not read$/);
    expect(notRead(faulty).map((f) => f.title).sort()).toEqual(['Payroll Reports', 'VPN'].sort());
    for (const f of notRead(faulty)) expect(f.value).toMatch(/503|unavailable|did not answer/i);
    expect(cardText(faulty)).not.toMatch(/\bat .+\.(ts|js):\d+/);
    // Nothing from the half-read VPN group: Inès not raised, Fatima not taken for gone.
    expect(finding('unapproved', VPN, ines.id)).toBeNull();
    expect(drift().get(fatimaInVpn.id)).toMatchObject({ state: 'open', occurrence: 1, ticketId: fatimaInVpn.ticketId });
    // Payroll not read: its findings (the separation of duties with it too) stay as they were.
    for (const f of payrollFindings) expect(drift().get(f.id)).toMatchObject({ state: 'open', occurrence: f.occurrence, ticketId: f.ticketId });
    // CRM was throttled once and read in full: Noah raised, once.
    expect(newTickets(faulty)).toEqual(['Added outside the helpdesk: Noah Williams in CRM']);
    const noahInCrm = finding('unapproved', CRM, noah.id)!;
    expect(ticketsOf(noahInCrm.id)).toHaveLength(1);
    expect(rig.graph.calls('GET', membersPath(CRM)).filter((r) => r.status === 429)).toHaveLength(1);
    expect(rig.graph.calls('GET', membersPath(EXPENSES)).filter((r) => r.status === 429)).toHaveLength(1);
    // The run is on record as a failure naming the groups not read.
    const event = lastChecked();
    expect(event.outcome).toBe('failure');
    expect(JSON.parse(event.details).failed.map((f: { groupId: string }) => f.groupId).sort()).toEqual([PAYROLL, VPN].sort());
    expect(rig.bot.store.audit.query({ correlationId: fatimaInVpn.id, action: 'drift.finding-resolved' })).toEqual([]);

    // Stopped and started on the same database; Graph recovers meanwhile.
    await rig.restart(() => rig.graph.clearFaults());
    await rig.bot.scheduler.idle();
    const recovered = await runDrift();
    expect(notRead(recovered)).toEqual([]);
    expect(newTickets(recovered)).toEqual(['Added outside the helpdesk: Inès Moreau in VPN']);
    expect(findById(recovered, 'tech-section-facts-resolved').facts.map((f: any) => f.value)).toEqual(['Added outside the helpdesk: Fatima Haddad in VPN']);
    expect(lastChecked().outcome).toBe('success');
    const inesInVpn = finding('unapproved', VPN, ines.id)!;
    expect(ticketsOf(inesInVpn.id)).toHaveLength(1);
    expect(drift().get(fatimaInVpn.id)).toMatchObject({ state: 'resolved', resolution: 'gone' });
    expect(rig.bot.store.technician.tickets.get(fatimaInVpn.ticketId!)).toMatchObject({ state: 'closed' });
    for (const f of payrollFindings) expect(drift().get(f.id)).toMatchObject({ state: 'open', occurrence: f.occurrence, ticketId: f.ticketId });
    expect(ticketsOf(noahInCrm.id)).toHaveLength(1);

    // Once more: nothing new, nothing doubled, one event per change.
    const quiet = await runDrift();
    expect(newTickets(quiet)).toEqual([]);
    for (const f of [inesInVpn, noahInCrm]) expect(rig.bot.store.audit.query({ correlationId: f.id, action: 'drift.finding-opened' })).toHaveLength(1);
    expect(rig.bot.store.audit.query({ correlationId: fatimaInVpn.id, action: 'drift.finding-resolved' })).toHaveLength(1);
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });
});

describe('a drift check when Graph fails to look up a grant holder', () => {
  it('someone no longer in the directory stays a finding while the look-up fails, and is not raised twice when it answers', async () => {
    const mei = person('Mei Tanaka');
    await say(`grant ${mei.userPrincipalName} source code --for 14d --reason integration project`);
    await rig.bot.scheduler.idle();
    const [request] = rig.bot.store.requests.grantedFor(mei.id, 'source-code');
    expect(request).toBeDefined();
    // Deleted in the portal: gone from the directory and from its groups.
    rig.graph.users.delete(mei.id);
    for (const g of rig.graph.groups.values()) g.members = g.members.filter((m) => m !== mei.id);
    await runDrift();
    const left = finding('left', group('source-code'), mei.id)!;
    expect(left).toMatchObject({ state: 'open', occurrence: 1 });

    rig.graph.inject({ status: 503, times: 10_000, method: 'GET', path: new RegExp(`^/users/${mei.id}$`) });
    const faulty = await runDrift();
    expect(rig.graph.calls('GET', new RegExp(`^/users/${mei.id}$`)).some((r) => r.status === 503)).toBe(true);
    expect(drift().get(left.id)).toMatchObject({ state: 'open', occurrence: 1, ticketId: left.ticketId });
    expect(rig.bot.store.audit.query({ correlationId: left.id, action: 'drift.finding-resolved' })).toEqual([]);
    expect(findById(faulty, 'tech-section-facts-resolved')).toBeUndefined();
    // The summary says what could not be checked, and why.
    expect(notRead(faulty)).toEqual([{ title: 'Source Code', value: expect.stringMatching(/^could not look up Mei Tanaka, who holds a grant of it: .*(503|unavailable)/i) }]);
    expect(lastChecked().outcome).toBe('failure');

    rig.graph.clearFaults();
    const recovered = await runDrift();
    expect(newTickets(recovered)).toEqual([]);
    expect(drift().get(left.id)).toMatchObject({ state: 'open', occurrence: 1, ticketId: left.ticketId });
    expect(ticketsOf(left.id)).toHaveLength(1);
    expect(lastChecked().outcome).toBe('success');
  });
});

describe('a scheduled drift check when Graph does not answer', () => {
  it('tells the technicians which groups were not read, changes no finding, and the next check after a restart finds everything once', async () => {
    const channelRoot = rig.client().channelConversationId().split(';')[0]!;
    const posts = () => rig.connector.calls.filter((c) => c.kind === 'reply' && c.conversationId?.split(';')[0] === channelRoot).map((c) => cardOf(c.body)).filter(Boolean);
    const summaries = () => posts().filter((c) => /^Drift check: /.test(String(findById(c, 'tech-title')?.text ?? '')));
    const active = drift().listActive().map((f) => [f.id, f.state, f.occurrence, f.ticketId]);
    const before = summaries().length;
    const openTickets = rig.bot.store.technician.tickets.listOpen().length;

    rig.graph.inject({ status: 503, times: 10_000, method: 'GET', path: /^\/groups\/[^/]+\/members\/microsoft\.graph\.user$/ });
    clock.advance(24 * 3_600_000 + 60_000);
    await rig.bot.scheduler.runDue();
    await rig.bot.scheduler.idle();
    expect(lastChecked().outcome).toBe('failure');
    expect(JSON.parse(lastChecked().details)).toMatchObject({ trigger: 'schedule', new: 0, resolved: 0 });
    // The technicians are told the check could not read the groups: a silent failure would look like no drift.
    const [told] = summaries().slice(before);
    expect(told).toBeDefined();
    expect(findById(told, 'tech-status').text).toMatch(/· \d+ group\(s\) not read$/);
    expect(notRead(told).length).toBeGreaterThan(5);
    expect(cardText(told)).not.toMatch(/\bat .+\.(ts|js):\d+/);
    // Nothing raised, nothing resolved.
    expect(drift().listActive().map((f) => [f.id, f.state, f.occurrence, f.ticketId])).toEqual(active);
    expect(rig.bot.store.technician.tickets.listOpen()).toHaveLength(openTickets);

    // Stopped and started; Graph answers again; the next scheduled check finds the same, once.
    await rig.restart(() => rig.graph.clearFaults());
    clock.advance(24 * 3_600_000 + 60_000);
    await rig.bot.scheduler.runDue();
    await rig.bot.scheduler.idle();
    expect(lastChecked().outcome).toBe('success');
    expect(drift().listActive().map((f) => [f.id, f.state, f.occurrence, f.ticketId])).toEqual(active);
    expect(rig.bot.store.technician.tickets.listOpen()).toHaveLength(openTickets);
    // Nothing new, nothing failed: no summary.
    expect(summaries().slice(before)).toHaveLength(1);
  });
});
