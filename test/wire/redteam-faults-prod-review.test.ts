import { describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { useProductionBot } from '../support/production-rig';
import { TestClock, type Harness } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, cardText, findById } from '../support/teams-client';
import { problems } from '../technician/support';
import { currentReviewCard, currentStatusCard, decide, lineOf, parseEvidence, reviewCardsSent, reviewStore } from './reviews-support';

/**
 * Production mode on the fake Graph: an access review closes with removals (one a reviewer
 * decided, the others auto-applied) while Graph answers 503 and 429 to the removals. The bot
 * is stopped and started on the same database; Graph recovers (and one membership is removed
 * by hand in the portal meanwhile). Each removal takes effect once, is on record once, and
 * the evidence and the cards end right.
 */
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({
  dirPrefix: 'helpdesk-faults-review-',
  clock,
  env: { GRAPH_RETRY_MAX_SECONDS: '1', DRIFT_CHECK_INTERVAL_HOURS: '0', JOB_MAX_ATTEMPTS: '4', JOB_RETRY_BASE_SECONDS: '1', JOB_RETRY_MAX_SECONDS: '1' },
});

const PAYROLL = findResourceById(loadCatalog(), 'payroll-reports')!.groupId;
const REMOVAL = new RegExp(`^/groups/${PAYROLL}/members/[^/]+/\\$ref$`);
const sarah = () => demoPersona('technician');
const thomas = () => demoPersona('manager');
const person = (name: string) => demoTenant.users.find((u) => u.displayName === name)!;
/** The review helpers' view of the running bot (a new one after a restart). */
const h = (): Harness => ({ bot: rig.bot, connector: rig.connector, client: rig.client() }) as unknown as Harness;

const say = (text: string) => rig.sayInChannel(sarah(), text);

const membersOfPayroll = () => [...rig.graph.groups.get(PAYROLL)!.members];

describe('an access review closed while Graph fails the removals', () => {
  it('removes each member once after Graph recovers and a restart: one event each, the evidence and the cards right', async () => {
    const jonas = person('Jonas Weber');
    const grace = person('Grace Mwangi');
    const rebecca = person('Rebecca Stone');
    expect(membersOfPayroll().sort()).toEqual([jonas.id, grace.id, rebecca.id].sort());

    const started = await say('review start "Payroll Reports" --reviewer manager --auto-apply deny --reason quarterly SOX');
    const id = /^(REV-\d+) /.exec(String(findById(started.cards[0], 'review-status-title')?.text))![1]!;
    await rig.bot.scheduler.idle();
    const card = reviewCardsSent(h(), thomas().id, id)[0];
    expect(card).toBeDefined();
    const jonasLine = lineOf(card, 'Jonas Weber');
    await decide(h(), thomas(), id, jonasLine, 'remove', 'moved to sales, no longer runs payroll');
    await rig.bot.scheduler.idle();

    // Graph fails every removal: 503 for Jonas and Rebecca, 429 (Retry-After 1, past the budget) for Grace.
    rig.graph.inject({ status: 503, times: 10_000, method: 'DELETE', path: new RegExp(`^/groups/${PAYROLL}/members/(${jonas.id}|${rebecca.id})/\\$ref$`) });
    rig.graph.inject({ status: 429, retryAfter: 1, times: 10_000, method: 'DELETE', path: new RegExp(`^/groups/${PAYROLL}/members/${grace.id}/\\$ref$`) });
    const closed = await say(`review close ${id}`);
    expect(closed.texts.join('\n')).toMatch(new RegExp(`^${id} is closed: 0 kept, 3 removed \\(2 auto-applied\\), 0 not decided\\. 3 removal\\(s\\) are being applied\\.`));
    await rig.bot.scheduler.idle();

    // Nothing removed, nothing on record as removed, nothing given up yet; the evidence says pending.
    expect(membersOfPayroll()).toHaveLength(3);
    expect(rig.graph.calls('DELETE', REMOVAL).filter((r) => r.status === 204)).toEqual([]);
    expect(rig.bot.store.audit.query({ correlationId: id, action: 'access.membership-removed' })).toEqual([]);
    expect(rig.bot.store.audit.query({ correlationId: id, action: 'access.membership-removal-failed' })).toEqual([]);
    for (const item of reviewStore(h()).items(id)) expect(item).toMatchObject({ decision: 'remove', removalState: 'requested' });
    expect(cardText(currentStatusCard(h(), id, 'report'))).toMatch(/3 removal\(s\) pending/);
    expect(cardText(currentStatusCard(h(), id, 'report'))).toMatch(/0 done, 3 pending, 0 failed/);

    // Stopped and started on the same database; meanwhile Graph recovers and an administrator removes Grace by hand.
    await rig.restart(() => {
      rig.graph.clearFaults();
      rig.graph.groups.get(PAYROLL)!.members = membersOfPayroll().filter((m) => m !== grace.id);
    });
    clock.advance(5_000);
    await rig.bot.scheduler.runDue();
    await rig.bot.scheduler.idle();

    expect(membersOfPayroll()).toEqual([]);
    // One successful call per membership still there; Grace's is found gone, not removed twice.
    const removedPaths = rig.graph.calls('DELETE', REMOVAL).filter((r) => r.status === 204).map((r) => r.path.split('/')[4]);
    expect(removedPaths.sort()).toEqual([jonas.id, rebecca.id].sort());
    const events = rig.bot.store.audit.query({ correlationId: id, action: 'access.membership-removed' });
    expect(events.map((e) => e.target).sort()).toEqual([jonas.id, grace.id, rebecca.id].sort());
    expect(Object.fromEntries(events.map((e) => [e.target, JSON.parse(e.details).result]))).toEqual({ [jonas.id]: 'removed', [rebecca.id]: 'removed', [grace.id]: 'not-member' });
    expect(rig.bot.store.audit.query({ correlationId: id, action: 'access.membership-removal-failed' })).toEqual([]);
    expect(rig.bot.store.technician.tickets.listOpen().filter((t) => t.title.startsWith('Access not removed'))).toEqual([]);
    for (const item of reviewStore(h()).items(id)) expect(item).toMatchObject({ removalState: 'removed' });

    // More time and another restart change nothing.
    clock.advance(60_000);
    await rig.restart();
    await rig.bot.scheduler.runDue();
    await rig.bot.scheduler.idle();
    expect(rig.bot.store.audit.query({ correlationId: id, action: 'access.membership-removed' })).toHaveLength(3);
    expect(rig.graph.calls('DELETE', REMOVAL).filter((r) => r.status === 204)).toHaveLength(2);

    // The evidence: the report card in the channel and the CSV.
    const report = currentStatusCard(h(), id, 'report');
    expect(cardText(report)).toMatch(/3 done, 0 pending, 0 failed/);
    expect(cardText(report)).not.toMatch(/pending:|FAILED/);
    expect(cardText(report)).toMatch(/chain intact/);
    const evidence = parseEvidence((await say(`review report ${id} --csv`)).texts);
    expect(evidence.rows).toHaveLength(3);
    for (const row of evidence.rows) {
      expect(row).toMatchObject({ decision: 'remove', removal_failed: '' });
      expect(row.removal_effective_at).not.toBe('');
    }
    expect(evidence.rows.find((r) => r.member === 'Jonas Weber')).toMatchObject({ decided_by: 'Thomas Berg', auto_applied: 'no' });
    // The reviewer's card: the line removed, nothing left to click.
    const thomasNow = currentReviewCard(h(), thomas().id, id);
    expect(findById(thomasNow, `review-item-decision-${jonasLine}`).text).toMatch(/^Removed by Thomas Berg.*removed /);
    expect(findById(thomasNow, `review-remove-${jonasLine}`)).toBeUndefined();
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });
});

describe('an access review started while Graph fails in the middle of the member list', () => {
  it('starts nothing from a list read in part, says the directory did not answer, and starts in full once it answers', async () => {
    const VPN = findResourceById(loadCatalog(), 'vpn')!.groupId;
    const vpnMembers = rig.graph.groups.get(VPN)!.members.length;
    expect(vpnMembers).toBeGreaterThan(8);
    const campaigns = () => rig.bot.store.audit.query({ action: 'review.started' }).length;
    const before = campaigns();
    rig.graph.inject({ status: 503, times: 10_000, method: 'GET', path: new RegExp(`^/groups/${VPN}/members/microsoft\\.graph\\.user$`), skip: 2 });
    const refused = await say('review start vpn --reviewer manager --reason yearly');
    await rig.bot.scheduler.idle();
    const text = [...refused.texts, ...refused.cards.map(cardText)].join('\n');
    expect(text).toMatch(/did not answer|could not reach|unavailable/i);
    expect(text).toMatch(/nothing was started|try again/i);
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
    expect(campaigns()).toBe(before);

    rig.graph.clearFaults();
    const started = await say('review start vpn --reviewer manager --reason yearly');
    const id = /^(REV-\d+) /.exec(String(findById(started.cards[0], 'review-status-title')?.text))![1]!;
    expect(reviewStore(h()).items(id)).toHaveLength(vpnMembers);
    expect(campaigns()).toBe(before + 1);
  });
});

describe('an access review closed twice at once while Graph throttles', () => {
  it('closes once, and each removal throttled with Retry-After 0 is retried at once and takes effect once', async () => {
    const ahmed = person('Ahmed Farouk');
    const HR = findResourceById(loadCatalog(), 'hr-portal-admin')!.groupId;
    const members = [...rig.graph.groups.get(HR)!.members];
    expect(members.length).toBeGreaterThan(1);
    const started = await say('review start "HR Portal Administrators" --reviewer manager --auto-apply deny --reason yearly');
    const id = /^(REV-\d+) /.exec(String(findById(started.cards[0], 'review-status-title')?.text))![1]!;
    await rig.bot.scheduler.idle();
    const removal = new RegExp(`^/groups/${HR}/members/[^/]+/\\$ref$`);
    rig.graph.inject({ status: 429, retryAfter: 0, times: members.length, method: 'DELETE', path: removal });

    const client = rig.client();
    const conv = client.channelConversationId();
    const mark = rig.connector.sentTo(conv).length;
    const [a, b] = await Promise.all([
      client.message(sarah(), `review close ${id}`, { where: 'channel' }),
      client.message(ahmed, `review close ${id}`, { where: 'channel' }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await rig.bot.scheduler.idle();
    // One close; the other technician is told it is closed already.
    const texts = rig.connector.sentTo(conv).slice(mark).map((x) => x.text).filter((t): t is string => typeof t === 'string');
    expect(texts.filter((t) => t.startsWith(`${id} is closed: 0 kept, ${members.length} removed`))).toHaveLength(1);
    expect(texts.filter((t) => t.startsWith(`${id} is already closed`))).toHaveLength(1);

    expect(rig.bot.store.audit.query({ correlationId: id, action: 'review.closed' })).toHaveLength(1);
    expect(rig.bot.store.audit.query({ correlationId: id, action: 'review.auto-applied' })).toHaveLength(members.length);
    expect(rig.graph.groups.get(HR)!.members).toEqual([]);
    const calls = rig.graph.calls('DELETE', removal);
    expect(calls.filter((r) => r.status === 429)).toHaveLength(members.length);
    expect(calls.filter((r) => r.status === 204).map((r) => r.path.split('/')[4]).sort()).toEqual([...members].sort());
    const events = rig.bot.store.audit.query({ correlationId: id, action: 'access.membership-removed' });
    expect(events.map((e) => e.target).sort()).toEqual([...members].sort());
    for (const e of events) expect(JSON.parse(e.details)).toMatchObject({ result: 'removed', attempt: 1 });
    expect(cardText(currentStatusCard(h(), id, 'report'))).toMatch(new RegExp(`${members.length} done, 0 pending, 0 failed`));
  });
});

describe('an access review whose removals Graph keeps refusing across a restart', () => {
  it('gives up once after the last attempt: one failure event and one ticket per removal, the evidence says failed', async () => {
    const PROD = findResourceById(loadCatalog(), 'production-admin')!.groupId;
    const members = [...rig.graph.groups.get(PROD)!.members];
    expect(members.length).toBeGreaterThan(0);
    const started = await say('review start "Production Administrators" --reviewer manager --auto-apply deny --reason quarterly');
    const id = /^(REV-\d+) /.exec(String(findById(started.cards[0], 'review-status-title')?.text))![1]!;
    await rig.bot.scheduler.idle();
    const removal = new RegExp(`^/groups/${PROD}/members/[^/]+/\\$ref$`);
    rig.graph.inject({ status: 503, times: 10_000, method: 'DELETE', path: removal });
    await say(`review close ${id}`);
    await rig.bot.scheduler.idle();
    // Attempt 1 failed; the bot stops and starts; attempts 2 to 4 fail too (JOB_MAX_ATTEMPTS 4).
    await rig.restart();
    for (let i = 0; i < 4; i++) {
      clock.advance(2_000);
      await rig.bot.scheduler.runDue();
      await rig.bot.scheduler.idle();
    }
    expect(rig.graph.groups.get(PROD)!.members.sort()).toEqual([...members].sort());
    expect(rig.graph.calls('DELETE', removal)).toHaveLength(members.length * 4);
    const failures = rig.bot.store.audit.query({ correlationId: id, action: 'access.membership-removal-failed' });
    expect(failures.map((e) => e.target).sort()).toEqual([...members].sort());
    expect(rig.bot.store.audit.query({ correlationId: id, action: 'access.membership-removed' })).toEqual([]);
    const tickets = rig.bot.store.technician.tickets.listOpen().filter((t) => t.sourceRef === id && t.title.startsWith('Access not removed'));
    expect(tickets).toHaveLength(members.length);
    for (const item of reviewStore(h()).items(id)) expect(item).toMatchObject({ removalState: 'failed' });
    expect(cardText(currentStatusCard(h(), id, 'report'))).toMatch(new RegExp(`${members.length} removal\\(s\\) FAILED`));
    const evidence = parseEvidence((await say(`review report ${id} --csv`)).texts);
    for (const row of evidence.rows) {
      expect(row.removal_effective_at).toBe('');
      expect(row.removal_failed).toMatch(/503|could not|unavailable/i);
    }
    // Graph recovers later: nothing runs again behind the technicians' backs.
    rig.graph.clearFaults();
    clock.advance(3_600_000);
    await rig.bot.scheduler.runDue();
    await rig.bot.scheduler.idle();
    expect(rig.graph.calls('DELETE', removal)).toHaveLength(members.length * 4);
    expect(rig.bot.store.technician.tickets.listOpen().filter((t) => t.sourceRef === id && t.title.startsWith('Access not removed'))).toHaveLength(members.length);
  });
});
