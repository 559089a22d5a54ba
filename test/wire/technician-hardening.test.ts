import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { DriftStore, fingerprintOf } from '../../store/drift';
import { demoUser, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf } from '../support/teams-client';
import { actions, ahmed, cardText, findById, MINUTE, person, press, sarah, say, status } from '../technician/support';
import { banner, decide, press as pressReview, reviewStore } from './reviews-support';

/**
 * Four eyes and own-account rules of the technicians' features, over the wire: an exception
 * accepted on a privileged drift finding takes a second technician; reviewers who fall back to
 * the technicians, or were named in person, are checked again when they click; nobody takes or
 * is assigned a ticket about their own account.
 */

const catalog = loadCatalog();
const group = (resourceId: string) => findResourceById(catalog, resourceId)!.groupId;
const GLOBAL_ADMINS = 'b1a9926b-e1c0-4b72-aed0-6ec2cc9e8a1a';
const PAYROLL_GROUP = '2dd0f164-92e0-42a8-ac67-573fc1637c65';

/** Every refusal of a ticket command about one's own account, for one ticket: [actor, command]. */
function ownAccountRefusals(h: Harness, ticketId: string): Array<[string, string]> {
  return h.bot.store.audit
    .query({ action: 'technician.command-refused', correlationId: ticketId })
    .filter((e) => JSON.parse(e.details).reason === 'own-account')
    .map((e) => [e.actorId!, JSON.parse(e.details).command]);
}

describe('accepting a drift finding as an exception where Remove takes four eyes', () => {
  let h: Harness;
  let drift: DriftStore;
  const clock = new TestClock('2026-03-02T09:00:00.000Z');
  beforeAll(async () => {
    h = await startHarness({ DRIFT_CHECK_INTERVAL_HOURS: '0', TECHNICIAN_PLAN_MINUTES: '10' }, { clock: clock.now });
    drift = new DriftStore(h.bot.store.db, clock.now);
    // The technicians' channel becomes known when a technician talks there.
    await say(h, sarah(h), 'pending');
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** The latest version of a drift ticket's card in the channel. */
  function ticketCard(ticketId: string): any {
    const [ref] = h.bot.store.technician.cards.forOwner(`drift:${ticketId}`, 'ticket');
    const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === ref!.conversationId && c.activityId === ref!.activityId);
    return cardOf(updates[updates.length - 1]!.body);
  }

  /** Text messages the bot sent to the channel after `from`. */
  const channelTexts = (from: number) =>
    h.connector
      .sentTo(h.client.channelConversationId())
      .slice(from)
      .map((a) => a.text)
      .filter((t): t is string => typeof t === 'string');

  it('on a privileged group: one technician proposes, the same one cannot approve, a second one does; every step audited', async () => {
    const carlos = person(h, 'Carlos Mendes');
    await h.bot.directory.addGroupMember(GLOBAL_ADMINS, carlos.id);
    await say(h, sarah(h), 'drift --group Global Admins');
    await settle(h);
    const f = drift.byFingerprint(fingerprintOf({ kind: 'privileged', groupId: GLOBAL_ADMINS, userId: carlos.id }))!;
    expect(f.state).toBe('open');

    const from = h.connector.sentTo(h.client.channelConversationId()).length;
    const proposed = await press(h, sarah(h), 'drift.accept', { finding: f.id, reason: 'Break-glass account holder during the ERP migration' });
    // Nothing is accepted yet: the finding stays open and its ticket too.
    expect(drift.get(f.id)).toMatchObject({ state: 'open', acceptedReason: null, exception: { proposedBy: { id: sarah(h).id }, reason: 'Break-glass account holder during the ERP migration', approvedBy: null } });
    expect(drift.get(f.id)!.exception!.expiresAt).toBe(new Date(clock.now().getTime() + 10 * MINUTE).toISOString());
    expect(h.bot.store.technician.tickets.get(f.ticketId!)!.state).not.toBe('closed');
    expect(channelTexts(from)).toEqual([expect.stringMatching(/^Recorded\. The exception takes effect when a second, different identity technician approves it/)]);
    expect(findById(proposed, 'drift-exception').text).toMatch(/^Exception proposed by Sarah Mitchell: waiting for a second technician's approval \(privileged\)\. Approve by .*\. Reason: Break-glass/);
    expect(actions(proposed)).toEqual(['drift-accept-approve', 'drift-accept-cancel', 'drift-assign', 'drift-close']);
    await settle(h);
    expect(actions(ticketCard(f.ticketId!))).toEqual(['drift-accept-approve', 'drift-accept-cancel', 'drift-assign', 'drift-close']);
    const [proposal] = h.bot.store.audit.query({ action: 'drift.exception-proposed', correlationId: f.id });
    expect(proposal).toMatchObject({ actorId: sarah(h).id, target: carlos.id, outcome: 'success' });
    expect(JSON.parse(proposal!.details)).toMatchObject({ reason: 'Break-glass account holder during the ERP migration', kind: 'privileged', ticket: f.ticketId });

    // The proposer approving their own exception is refused and audited.
    await press(h, sarah(h), 'drift.accept-approve', { finding: f.id });
    expect(drift.get(f.id)!.state).toBe('open');
    const refused = h.bot.store.audit.query({ action: 'drift.action-refused', correlationId: f.id });
    expect(refused.map((e) => [e.actorId, JSON.parse(e.details).reason])).toEqual([[sarah(h).id, 'same-technician']]);
    // A forged Remove while the exception waits changes nothing.
    await press(h, ahmed(h), 'drift.remove', { finding: f.id });
    expect(drift.get(f.id)!.removal).toBeNull();

    const approved = await press(h, ahmed(h), 'drift.accept-approve', { finding: f.id });
    expect(drift.get(f.id)).toMatchObject({
      state: 'accepted',
      acceptedReason: 'Break-glass account holder during the ERP migration',
      acceptedBy: { id: sarah(h).id },
      exception: { approvedBy: { id: ahmed(h).id, name: 'Ahmed Farouk' } },
    });
    expect(findById(approved, 'drift-text').text).toMatch(/Accepted as an exception by Sarah Mitchell, approved by Ahmed Farouk \(.*\): Break-glass account holder during the ERP migration$/);
    expect(actions(approved)).toEqual(['drift-unaccept']);
    expect(h.bot.store.technician.tickets.get(f.ticketId!)).toMatchObject({ state: 'closed', closedBy: { id: ahmed(h).id } });
    const [accepted] = h.bot.store.audit.query({ action: 'drift.finding-accepted', correlationId: f.id });
    expect(accepted).toMatchObject({ actorId: ahmed(h).id, target: carlos.id });
    expect(JSON.parse(accepted!.details)).toMatchObject({ proposedBy: { id: sarah(h).id }, approvedBy: { id: ahmed(h).id }, kind: 'privileged' });
  });

  it('about a member of a privileged group: the member never approves; a proposal expires after TECHNICIAN_PLAN_MINUTES; cancel is audited', async () => {
    // Ahmed is an identity technician (a privileged group); someone adds him to CRM by hand.
    const a = ahmed(h);
    const lena = person(h, 'Lena Hoffmann');
    await h.bot.directory.addGroupMember(h.tenant.technicianGroupId, lena.id);
    await h.bot.directory.addGroupMember(group('crm'), a.id);
    await say(h, sarah(h), 'drift --group crm');
    await settle(h);
    const f = drift.byFingerprint(fingerprintOf({ kind: 'unapproved', groupId: group('crm'), userId: a.id }))!;
    await press(h, sarah(h), 'drift.accept', { finding: f.id, reason: 'temporary CRM support duty' });
    expect(drift.get(f.id)).toMatchObject({ state: 'open', exception: { approvedBy: null } });

    // The member of the finding cannot approve it.
    const before = h.bot.store.audit.count();
    await press(h, a, 'drift.accept-approve', { finding: f.id });
    expect(drift.get(f.id)!.state).toBe('open');
    const own = h.bot.store.audit.query({ action: 'drift.action-refused', correlationId: f.id }, { afterSeq: before });
    expect(own.map((e) => [e.actorId, JSON.parse(e.details).verb, JSON.parse(e.details).reason])).toEqual([[a.id, 'drift.accept-approve', 'own-account']]);

    // Too late: the approval is refused, the proposal forgotten (audited), nothing accepted.
    clock.advance(11 * MINUTE);
    await press(h, lena, 'drift.accept-approve', { finding: f.id });
    expect(drift.get(f.id)).toMatchObject({ state: 'open', exception: null });
    expect(h.bot.store.audit.query({ action: 'drift.exception-expired', correlationId: f.id })).toHaveLength(1);

    // Proposed again and cancelled by a technician: audited, nothing accepted.
    await press(h, sarah(h), 'drift.accept', { finding: f.id, reason: 'temporary CRM support duty' });
    const cancelled = await press(h, lena, 'drift.accept-cancel', { finding: f.id });
    expect(drift.get(f.id)).toMatchObject({ state: 'open', exception: null });
    expect(actions(cancelled)).toEqual(['drift-remove', 'drift-review', 'drift-accept', 'drift-assign', 'drift-close']);
    expect(h.bot.store.audit.query({ action: 'drift.exception-cancelled', correlationId: f.id }).map((e) => e.actorId)).toEqual([lena.id]);

    // In time, by a second technician who is not the member: accepted.
    await press(h, sarah(h), 'drift.accept', { finding: f.id, reason: 'temporary CRM support duty' });
    clock.advance(9 * MINUTE);
    await press(h, lena, 'drift.accept-approve', { finding: f.id });
    expect(drift.get(f.id)).toMatchObject({ state: 'accepted', acceptedBy: { id: sarah(h).id }, exception: { approvedBy: { id: lena.id } } });
    await h.bot.directory.removeGroupMember(h.tenant.technicianGroupId, lena.id);
  });

  it('elsewhere one technician still accepts alone', async () => {
    const emily = h.user('employee');
    await h.bot.directory.addGroupMember(group('crm'), emily.id);
    await say(h, sarah(h), 'drift --group crm');
    await settle(h);
    const f = drift.byFingerprint(fingerprintOf({ kind: 'unapproved', groupId: group('crm'), userId: emily.id }))!;
    await press(h, sarah(h), 'drift.accept', { finding: f.id, reason: 'CRM pilot user' });
    expect(drift.get(f.id)).toMatchObject({ state: 'accepted', acceptedBy: { id: sarah(h).id }, exception: null });
  });

  it('drift ticket buttons: the member of a finding neither takes its ticket nor is it assigned to them', async () => {
    const a = ahmed(h);
    const f = drift.byFingerprint(fingerprintOf({ kind: 'unapproved', groupId: group('crm'), userId: a.id }))!;
    // Its exception was revoked: the finding is raised again with a new ticket.
    await press(h, sarah(h), 'drift.unaccept', { finding: f.id });
    await settle(h);
    const ticketId = drift.get(f.id)!.ticketId!;
    expect(h.bot.store.technician.tickets.get(ticketId)).toMatchObject({ state: 'open', subject: { id: a.id } });
    const taken = await press(h, a, 'drift.take', { ticket: ticketId });
    expect(findById(taken, 'drift-status').text).toBe('Open, not assigned');
    await press(h, sarah(h), 'drift.assign', { ticket: ticketId, assignee: a.userPrincipalName });
    expect(h.bot.store.technician.tickets.get(ticketId)!.assignee.id).toBeNull();
    expect(ownAccountRefusals(h, ticketId)).toEqual([
      [a.id, 'take'],
      [sarah(h).id, 'assign'],
    ]);
    expect(h.bot.store.audit.query({ correlationId: ticketId }).map((e) => e.action)).not.toContain('ticket.taken');
  });
});

describe('reviewers checked again when they click', () => {
  const dirs: string[] = [];
  let h: Harness;
  const clock = new TestClock('2026-03-02T09:00:00.000Z');
  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-schedules-'));
    dirs.push(dir);
    const file = path.join(dir, 'review-schedules.json');
    // The new manager of a mover, named in person, reviews Payroll Reports once.
    const thomasId = loadDemoTenant().personas.manager;
    fs.writeFileSync(
      file,
      JSON.stringify({
        schedules: [
          {
            id: 'payroll-by-thomas',
            name: 'Payroll Reports by Thomas Berg',
            scope: { kind: 'group', groupId: PAYROLL_GROUP },
            reviewer: { kind: 'user', userId: thomasId },
            recurrence: 'one-time',
            start: '2026-03-02T10:00:00Z',
            dueInDays: 14,
            autoApply: 'none',
          },
        ],
      }),
    );
    h = await startHarness({ DRIFT_CHECK_INTERVAL_HOURS: '0', REVIEW_SCHEDULES_PATH: file }, { clock: clock.now });
    await say(h, sarah(h), 'pending');
  });
  afterAll(async () => {
    await h?.stop();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('a technician taken out of the technicians group no longer decides the lines that fell back to the technicians', async () => {
    const rebecca = demoUser(h, 'Rebecca Stone');
    const a = ahmed(h);
    // Rebecca owns HR Portal Administrators and is a member of it: her own line falls back to the technicians.
    const said = await say(h, sarah(h), 'review start "HR Portal Administrators" --reviewer owner --auto-apply none');
    const id = /^(REV-\d+) /.exec(String(findById(said.cards[0], 'review-status-title')?.text))![1]!;
    await settle(h);
    const ownItem = reviewStore(h).items(id).find((i) => i.memberId === rebecca.id)!;
    expect(reviewStore(h).reviewersOf(ownItem.id).map((r) => [r.reviewerName, r.source])).toEqual([
      ['Ahmed Farouk', 'fallback'],
      ['Sarah Mitchell', 'fallback'],
    ]);

    await h.bot.directory.removeGroupMember(h.tenant.technicianGroupId, a.id);
    try {
      const before = h.bot.store.audit.count();
      expect(banner(await decide(h, a, id, ownItem.id, 'keep', 'still needed'))).toMatch(/not a reviewer of Rebecca Stone.* any more/);
      const confirm = await pressReview(h, a, 'review.keep-all-confirm', { campaign: id, page: 1, count: 1, keepAllReason: 'still needed' });
      expect(banner(confirm)).toMatch(/could not be decided by you any more/);
      expect(reviewStore(h).item(ownItem.id)!.decision).toBeNull();
      const refusals = h.bot.store.audit.query({ action: 'review.decision-refused', correlationId: id }, { afterSeq: before });
      expect(refusals.map((e) => [e.actorId, JSON.parse(e.details).verb, JSON.parse(e.details).reason, JSON.parse(e.details).item])).toEqual([
        [a.id, 'review.keep', 'no-longer-technician', ownItem.id],
        [a.id, 'review.keep-all', 'no-longer-technician', ownItem.id],
      ]);
      expect(h.bot.store.audit.query({ action: 'review.decided', correlationId: id }, { afterSeq: before })).toHaveLength(0);

      // A technician still in the group decides it.
      await decide(h, sarah(h), id, ownItem.id, 'remove', 'owner should not hold admin rights herself');
      expect(reviewStore(h).item(ownItem.id)).toMatchObject({ decision: 'remove', decidedBy: { id: sarah(h).id } });
    } finally {
      await h.bot.directory.addGroupMember(h.tenant.technicianGroupId, a.id);
    }
  });

  it('a reviewer named in person whose account is disabled while the click is on its way decides nothing', async () => {
    clock.advance(61 * MINUTE);
    await h.bot.scheduler.runDue();
    await settle(h);
    const thomas = h.user('manager');
    const campaign = reviewStore(h)
      .list()
      .find((c) => c.scheduleId === 'payroll-by-thomas')!;
    const item = reviewStore(h).items(campaign.id)[0]!;
    expect(reviewStore(h).reviewersOf(item.id).map((r) => [r.reviewerId, r.source])).toEqual([[thomas.id, 'user']]);

    // The turn is let in with the account as it was; by the time the decision is checked, it is disabled.
    const directory = h.bot.directory;
    const original = directory.getUser.bind(directory);
    let reads = 0;
    directory.getUser = async (userId: string) => {
      const u = await original(userId);
      if (u && userId === thomas.id && ++reads > 1) return { ...u, accountEnabled: false };
      return u;
    };
    try {
      const before = h.bot.store.audit.count();
      expect(banner(await decide(h, thomas, campaign.id, item.id, 'keep', 'still in payroll'))).toMatch(/not a reviewer of .* any more/);
      expect(reviewStore(h).item(item.id)!.decision).toBeNull();
      const refusals = h.bot.store.audit.query({ action: 'review.decision-refused', correlationId: campaign.id }, { afterSeq: before });
      expect(refusals.map((e) => [e.actorId, JSON.parse(e.details).reason])).toEqual([[thomas.id, 'no-longer-enabled']]);
    } finally {
      directory.getUser = original;
    }
    // Enabled, the same click decides.
    await decide(h, thomas, campaign.id, item.id, 'keep', 'still in payroll');
    expect(reviewStore(h).item(item.id)).toMatchObject({ decision: 'keep', decidedBy: { id: thomas.id } });
  });
});

describe('tickets about a technician’s own account', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ DRIFT_CHECK_INTERVAL_HOURS: '0' }, { clock: new TestClock('2026-03-02T09:00:00.000Z').now });
    await say(h, sarah(h), 'pending');
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('are neither taken nor assigned by the technician they are about, nor assigned to them, by command or card; each refusal audited', async () => {
    const a = ahmed(h);
    await h.client.message(h.user('manager'), "my report Ahmed Farouk can't sign in");
    const t = h.bot.store.technician.tickets.listOpen().find((x) => x.subject.id === a.id)!;
    expect(t).toMatchObject({ type: 'report', state: 'open', assignee: { id: null } });

    const typedTake = await say(h, a, `take ${t.id}`);
    expect(typedTake.texts).toEqual([`${t.id} is about your own account: another identity technician takes it. Nothing was changed.`]);
    const cardTake = await press(h, a, 'ticket.take', { ticket: t.id });
    expect(status(cardTake)).toBe('Open, not assigned');
    const typedAssign = await say(h, sarah(h), `assign ${t.id} Ahmed Farouk`);
    expect(typedAssign.texts).toEqual([`${t.id} is about Ahmed Farouk’s own account: assign it to another identity technician. Nothing was changed.`]);
    await press(h, sarah(h), 'ticket.assign', { ticket: t.id, assignee: a.userPrincipalName });
    const ownAssign = await say(h, a, `assign ${t.id} Sarah Mitchell`);
    expect(ownAssign.texts).toEqual([`${t.id} is about your own account: another identity technician assigns it. Nothing was changed.`]);
    expect(h.bot.store.technician.tickets.get(t.id)!.assignee.id).toBeNull();
    expect(ownAccountRefusals(h, t.id)).toEqual([
      [a.id, 'take'],
      [a.id, 'take'],
      [sarah(h).id, 'assign'],
      [sarah(h).id, 'assign'],
      [a.id, 'assign'],
    ]);
    expect(h.bot.store.audit.query({ correlationId: t.id }).map((e) => e.action)).toEqual(['ticket.opened', ...Array(5).fill('technician.command-refused')]);

    // Anyone else works it as before.
    const taken = await press(h, sarah(h), 'ticket.take', { ticket: t.id });
    expect(status(taken)).toBe('In progress: Sarah Mitchell');
    expect(cardText(taken)).toContain('Ahmed Farouk');
  });
});
