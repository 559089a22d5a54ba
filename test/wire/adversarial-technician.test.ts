import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { DriftStore, fingerprintOf } from '../../store/drift';
import { settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf, TEST_CHANNEL_ID } from '../support/teams-client';
import { ahmed, cardText, findById, person, planOf, press, problems, sarah, say } from '../technician/support';
import { banner, lineOf, reviewCardsSent, reviewStore } from './reviews-support';

/**
 * The identity technicians' features attacked over the wire: forged card data on review cards,
 * the subject of a plan or a drift finding trying to stop what is done about their own account,
 * and commands and clicks in a channel that is not on the allow-list. Every refusal changes
 * nothing, is audited, and the audit chain still verifies.
 */

const catalog = loadCatalog();
const group = (resourceId: string) => findResourceById(catalog, resourceId)!.groupId;

/** The audit chain verifies, as `audit verify` says. */
async function chainIntact(h: Harness): Promise<void> {
  const said = await say(h, sarah(h), 'audit verify');
  expect(cardText(said.cards[0])).toMatch(/hash chain is unbroken/);
}

describe('review cards with forged data', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ DRIFT_CHECK_INTERVAL_HOURS: '0' }, { clock: new TestClock('2026-03-02T09:00:00.000Z').now });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('someone with no line in a campaign learns nothing of its lines, states or decisions; refusals on real lines are audited', async () => {
    const thomas = h.user('manager');
    const emily = h.user('employee');
    const said = await say(h, sarah(h), 'review start "Payroll Reports" --due 14d');
    const id = /^(REV-\d+) /.exec(String(findById(said.cards[0], 'review-status-title')?.text))![1]!;
    await settle(h);
    const card = reviewCardsSent(h, thomas.id, id)[0];
    const jonasLine = lineOf(card, 'Jonas Weber');
    await press(h, thomas, 'review.remove', { campaign: id, item: jonasLine, page: 1, [`reason-${jonasLine}`]: 'confidential: under investigation' });
    const others = reviewStore(h).items(id).filter((i) => i.id !== jonasLine);
    expect(others.length).toBeGreaterThan(0);

    const before = h.bot.store.audit.count();
    const decisions = () => reviewStore(h).items(id).map((i) => [i.id, i.decision, i.reason]);
    const snapshot = JSON.stringify(decisions());
    const forged: Array<Record<string, unknown>> = [
      { campaign: id, item: jonasLine, page: 1, [`reason-${jonasLine}`]: 'keep it' },
      ...others.map((i) => ({ campaign: id, item: i.id, page: 1, [`reason-${i.id}`]: 'fine' })),
      { campaign: id, item: [others[0]!.id], page: 1 },
      { campaign: id, item: null, page: null },
      { campaign: id, item: 'x'.repeat(50_000), page: 1 },
      { campaign: id, item: others[0]!.id, page: -1, __proto__: { decision: 'keep' } },
    ];
    for (const data of forged) {
      for (const verb of ['review.keep', 'review.remove']) {
        const answer = await press(h, emily, verb, data);
        const text = cardText(answer);
        // Nobody's name, access or decision; not even the campaign's subject.
        expect(text).not.toMatch(/Jonas Weber|confidential|Removed by|Payroll Reports|Grace Mwangi|Rebecca Stone/);
        expect(text).toMatch(/nothing to review/);
      }
    }
    // Keep all remaining and paging: the same answer, nothing kept.
    for (const [verb, data] of [
      ['review.keep-all', { campaign: id, page: 1 }],
      ['review.keep-all-confirm', { campaign: id, page: 1, count: 0, keepAllReason: 'all fine' }],
      ['review.keep-all-confirm', { campaign: id, page: 1, count: others.length, keepAllReason: 'all fine' }],
      ['review.page', { campaign: id, page: 2 }],
    ] as const) {
      const text = cardText(await press(h, emily, verb, data));
      expect(text).not.toMatch(/Jonas Weber|Payroll Reports|Grace Mwangi|Rebecca Stone/);
      expect(text).toMatch(/nothing to review/);
    }
    expect(JSON.stringify(decisions())).toBe(snapshot);
    // Every click on a real line is refused and audited, the decided one too.
    const refusals = h.bot.store.audit.query({ action: 'review.decision-refused', correlationId: id }, { afterSeq: before });
    expect(refusals.filter((e) => JSON.parse(e.details).item === jonasLine)).toHaveLength(2);
    expect(refusals.length).toBe(2 * (1 + others.length) + 2);
    expect(refusals.every((e) => e.actorId === emily.id && JSON.parse(e.details).reason === 'not-a-reviewer')).toBe(true);
    expect(h.bot.store.audit.query({ action: 'review.decided' }, { afterSeq: before })).toHaveLength(0);
    await chainIntact(h);
  });

  it('the member of a decided line who forges a click on it is refused as self-review, audited, and does not see the reviewer’s reason', async () => {
    const thomas = h.user('manager');
    const jonas = person(h, 'Jonas Weber');
    const said = await say(h, sarah(h), 'review start "Payroll Reports" --due 14d');
    const id = /^(REV-\d+) /.exec(String(findById(said.cards[0], 'review-status-title')?.text))![1]!;
    await settle(h);
    const jonasLine = lineOf(reviewCardsSent(h, thomas.id, id)[0], 'Jonas Weber');
    await press(h, thomas, 'review.remove', { campaign: id, item: jonasLine, page: 1, [`reason-${jonasLine}`]: 'performance review pending' });
    const before = h.bot.store.audit.count();
    const answer = await press(h, jonas, 'review.keep', { campaign: id, item: jonasLine, page: 1, [`reason-${jonasLine}`]: 'I need it' });
    expect(banner(answer)).toMatch(/cannot review your own access/);
    expect(cardText(answer)).not.toMatch(/performance review pending|Removed by/);
    const [event] = h.bot.store.audit.query({ action: 'review.decision-refused', correlationId: id }, { afterSeq: before });
    expect(event).toMatchObject({ actorId: jonas.id, outcome: 'refused' });
    expect(JSON.parse(event!.details)).toMatchObject({ reason: 'self-review', item: jonasLine });
    expect(reviewStore(h).item(jonasLine)).toMatchObject({ decision: 'remove', reason: 'performance review pending' });

    // After the cancel, the same forged click is still a refusal, not a glimpse of the state.
    await say(h, sarah(h), `review cancel ${id} --reason started twice`);
    const late = await press(h, person(h, 'Grace Mwangi'), 'review.keep', { campaign: id, item: jonasLine, page: 1 });
    expect(cardText(late)).not.toMatch(/cancelled|Jonas Weber/);
    expect(h.bot.store.audit.query({ action: 'review.decision-refused', correlationId: id }, { afterSeq: before })).toHaveLength(2);
    await chainIntact(h);
  });
});

describe('the subject of a plan or a drift finding has no say in it', () => {
  let h: Harness;
  const clock = new TestClock('2026-03-02T09:00:00.000Z');
  beforeAll(async () => {
    h = await startHarness({ DRIFT_CHECK_INTERVAL_HOURS: '0' }, { clock: clock.now });
    // The technicians' channel becomes known when a technician talks there.
    await say(h, sarah(h), 'pending');
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('a technician cannot cancel the plan that disables their own account', async () => {
    const said = await say(h, sarah(h), 'disable "Ahmed Farouk" --reason suspected account takeover');
    const plan = planOf(said.cards[0]);
    const before = h.bot.store.audit.count();
    const answer = await press(h, ahmed(h), 'tech.cancel', { plan });
    expect(cardText(answer)).toMatch(/about your own account/);
    expect(h.bot.store.technician.plans.get(plan)!.state).toBe('proposed');
    const [event] = h.bot.store.audit.query({ action: 'technician.plan-refused', correlationId: plan }, { afterSeq: before });
    expect(event).toMatchObject({ actorId: ahmed(h).id, outcome: 'refused' });
    expect(JSON.parse(event!.details)).toMatchObject({ reason: 'own-account' });
    expect(h.bot.store.audit.query({ action: 'technician.plan-cancelled', correlationId: plan })).toHaveLength(0);
    // The proposer still can.
    await press(h, sarah(h), 'tech.cancel', { plan });
    expect(h.bot.store.technician.plans.get(plan)!.state).toBe('cancelled');
    await chainIntact(h);
  });

  it('a technician cannot cancel the removal of their own membership found by drift, nor close its ticket', async () => {
    const a = ahmed(h);
    await h.bot.directory.addGroupMember(group('crm'), a.id);
    await say(h, sarah(h), 'drift --group crm');
    await settle(h);
    const drift = new DriftStore(h.bot.store.db, clock.now);
    const f = drift.byFingerprint(fingerprintOf({ kind: 'unapproved', groupId: group('crm'), userId: a.id }))!;
    expect(f).toMatchObject({ state: 'open' });
    await press(h, sarah(h), 'drift.remove', { finding: f.id });
    expect(drift.get(f.id)!.removal).toMatchObject({ state: 'proposed' });

    const before = h.bot.store.audit.count();
    await press(h, a, 'drift.remove-cancel', { finding: f.id });
    expect(drift.get(f.id)!.removal).toMatchObject({ state: 'proposed', proposedBy: { name: 'Sarah Mitchell' } });
    const refused = h.bot.store.audit.query({ action: 'drift.action-refused', correlationId: f.id }, { afterSeq: before });
    expect(refused.map((e) => JSON.parse(e.details))).toEqual([expect.objectContaining({ verb: 'drift.remove-cancel', reason: 'own-account' })]);
    expect(h.bot.store.audit.query({ action: 'drift.removal-cancelled', correlationId: f.id })).toHaveLength(0);

    // Its ticket is about him: neither the card's Close nor the typed command closes it.
    await press(h, a, 'drift.close', { ticket: f.ticketId, note: 'not needed' });
    const typed = await say(h, a, `close ${f.ticketId} --note not needed`);
    expect(typed.texts.join('\n')).toMatch(/about your own account/);
    expect(h.bot.store.technician.tickets.get(f.ticketId!)!.state).not.toBe('closed');
    expect(h.bot.store.audit.query({ action: 'ticket.closed', correlationId: f.ticketId! })).toHaveLength(0);
    expect(h.bot.store.audit.query({ action: 'technician.command-refused', correlationId: f.ticketId! }).map((e) => JSON.parse(e.details).reason)).toEqual(['own-account', 'own-account']);
    // The proposer confirms; the membership is still there until the second technician approves (privileged).
    expect(await h.bot.directory.checkMemberGroups(a.id, [group('crm')])).toEqual([group('crm')]);
    await chainIntact(h);
  });
});

describe('a channel that is not on the allow-list', () => {
  const ALLOWED = '19:another-channel@thread.tacv2';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ TECHNICIAN_CHANNEL_IDS: ALLOWED, DRIFT_CHECK_INTERVAL_HOURS: '0' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('takes no review or drift command and no click on their cards there; each refusal is audited; the 1:1 chat still works', async () => {
    const before = h.bot.store.audit.count();
    for (const line of ['review start "Payroll Reports" --due 14d', 'review list', 'drift', 'drift --group crm --dry-run']) {
      const said = await say(h, sarah(h), line);
      expect(said.texts).toEqual([expect.stringMatching(/not taken in this channel/)]);
    }
    for (const [verb, data] of [
      ['review.report', { campaign: 'REV-1001' }],
      ['drift.remove', { finding: 'DRF-1001' }],
      ['drift.accept', { finding: 'DRF-1001', reason: 'fine' }],
      ['tech.cancel', { plan: 'PLN-1001' }],
    ] as const) {
      const res = await h.client.invoke(sarah(h), verb, data, { where: 'channel' });
      expect(res.status).toBe(200);
      expect(problems(res.body.value)).toEqual([]);
      expect(cardText(res.body.value)).toMatch(/not taken in this channel/);
    }
    expect(reviewStore(h).list(10)).toEqual([]);
    expect(h.bot.store.audit.query({ action: 'review.started' })).toHaveLength(0);
    expect(h.bot.store.audit.query({ action: 'drift.checked' })).toHaveLength(0);
    const refusals = h.bot.store.audit.query({}, { afterSeq: before }).filter((e) => e.outcome === 'refused');
    expect(refusals.length).toBeGreaterThanOrEqual(8);
    expect(refusals.every((e) => e.actorId === sarah(h).id)).toBe(true);

    await h.client.message(sarah(h), 'review start "Payroll Reports" --due 14d');
    await settle(h);
    expect(reviewStore(h).list(10)).toHaveLength(1);
    // Started in the 1:1 chat, its copy for the technicians' channel does not go to a channel
    // that is not on the list, though it is the only one the bot has seen.
    expect(h.connector.sentTo(TEST_CHANNEL_ID).map(cardOf).filter(Boolean)).toEqual([]);

    // Once a technician used the allowed channel, that is where the copies go.
    const activity: Record<string, any> = { ...h.client.base(sarah(h), { where: 'channel', conversationId: `${ALLOWED};messageid=1700000000001` }), type: 'message' };
    activity.channelData = { ...activity.channelData, teamsChannelId: ALLOWED, channel: { id: ALLOWED, name: 'Identity desk' } };
    activity.text = '<at>Northwind IAM Helpdesk</at> pending';
    activity.entities = [{ type: 'mention', text: '<at>Northwind IAM Helpdesk</at>', mentioned: { id: '28:helpdesk-bot', name: 'Northwind IAM Helpdesk' } }];
    expect((await h.client.post(activity)).status).toBe(200);
    // Then someone talks in the other channel again: it is the latest, but still not the technicians'.
    await say(h, h.user('employee'), 'whois Thomas Berg');
    await h.client.message(sarah(h), 'review start "Expense Reporting" --reviewer owner --due 14d');
    await settle(h);
    expect(h.connector.sentTo(TEST_CHANNEL_ID).map(cardOf).filter(Boolean)).toEqual([]);
    const posted = h.connector.sentTo(ALLOWED).map(cardOf).filter(Boolean);
    expect(posted.map((c) => String(findById(c, 'review-status-title')?.text ?? ''))).toEqual([expect.stringMatching(/^REV-1002 /)]);
  });
});
