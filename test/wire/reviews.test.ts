import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { main as reviewReportCli } from '../../store/cli/review-cli';
import { click, DAY, demoUser, isMember, requestAccess, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardText, findById } from '../support/teams-client';
import { sarah, say, status } from '../technician/support';
import { banner, currentReviewCard, currentStatusCard, decide, lineFacts, lineOf, parseEvidence, press, reviewCardsSent, reviewStore } from './reviews-support';

/**
 * Access review campaigns over the wire, as the demo personas: a technician starts one in the
 * technicians' channel, reviewers decide on the cards in their 1:1 chats, reminders and the
 * close run on a clock the tests move, removals go through the durable removal job, and the
 * evidence (card, CSV, audit trail) matches what was decided.
 */

const catalog = loadCatalog();
const PAYROLL = findResourceById(catalog, 'payroll-reports')!.groupId;
const MINUTE = 60_000;

let h: Harness;
let clock: TestClock;

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += String(chunk);
    cb();
  }
}

async function start(env: Record<string, string> = {}, at = '2026-03-02T09:00:00.000Z'): Promise<Harness> {
  clock = new TestClock(at);
  h = await startHarness({ SHUTDOWN_GRACE_SECONDS: '1', ...env }, { clock: clock.now });
  return h;
}
afterEach(async () => {
  await h?.stop();
});

/** Moves the clock and runs what fell due. */
async function later(ms: number): Promise<void> {
  clock.advance(ms);
  await h.bot.scheduler.runDue();
  await settle(h);
}

const emily = () => h.user('employee');
const thomas = () => h.user('manager');

function campaignOf(card: any): string {
  const id = /^(REV-\d+) /.exec(String(findById(card, 'review-status-title')?.text ?? ''))?.[1];
  if (!id) throw new Error(`not a review progress card: ${JSON.stringify(card).slice(0, 400)}`);
  return id;
}

describe('a campaign from start to close', () => {
  it('a technician reviews a sensitive group; managers decide on their cards; reminders; the close removes what was decided and auto-applied; the evidence matches', async () => {
    await start();
    const olivia = demoUser(h, 'Olivia Hart');
    const rebecca = demoUser(h, 'Rebecca Stone');
    const daniel = demoUser(h, 'Daniel Whitaker');
    const jonas = demoUser(h, 'Jonas Weber');
    const grace = demoUser(h, 'Grace Mwangi');

    // Emily holds Payroll Reports through the bot: her manager, then an owner approved it.
    const req = await requestAccess(h, emily(), 'I need the payroll reports for 4 weeks because of the year-end audit');
    await click(h, thomas(), 'access.approve', req, 1);
    await settle(h);
    await click(h, olivia, 'access.approve', req, 2);
    await settle(h);
    expect(await isMember(h, emily().id, PAYROLL)).toBe(true);

    // Sarah starts the review in the technicians' channel: the answer is the progress card.
    const said = await say(h, sarah(h), 'review start "Payroll Reports" --reviewer manager --due 14d --auto-apply deny');
    expect(said.cards).toHaveLength(1);
    const id = campaignOf(said.cards[0]);
    expect(id).toBe('REV-1001');
    expect(status(said.cards[0]) || String(findById(said.cards[0], 'review-status-state')?.text)).toContain('0 of 4 decided');
    await settle(h);

    // Each member's manager got one card: Thomas has Emily and Jonas, Rebecca Stone has Grace, Daniel Whitaker has Rebecca.
    expect(reviewCardsSent(h, thomas().id, id)).toHaveLength(1);
    expect(reviewCardsSent(h, rebecca.id, id)).toHaveLength(1);
    expect(reviewCardsSent(h, daniel.id, id)).toHaveLength(1);
    expect(reviewCardsSent(h, sarah(h).id, id)).toHaveLength(0);
    const card = reviewCardsSent(h, thomas().id, id)[0];
    const emilyLine = lineOf(card, 'Emily Chen');
    const jonasLine = lineOf(card, 'Jonas Weber');
    // Decision helpers: how it was granted (request and approvers), when it ends, department and manager.
    expect(lineFacts(card, emilyLine)).toMatchObject({ Granted: expect.stringMatching(new RegExp(`^${req}, approved by Thomas Berg, Olivia Hart`)), Manager: 'Thomas Berg' });
    expect(lineFacts(card, emilyLine).Expires).toMatch(/2026/);
    expect(lineFacts(card, emilyLine).Department).toContain('Finance');
    expect(lineFacts(card, jonasLine)).toMatchObject({ Granted: 'No record: added outside the bot', Expires: 'unknown (no record)' });
    // The buttons carry the campaign, the line and the page, nothing else.
    expect(findById(card, `review-remove-${jonasLine}`).data).toEqual({ campaign: id, item: jonasLine, page: 1 });

    // Remove needs a reason; Keep needs one where there is no record.
    let after = await decide(h, thomas(), id, jonasLine, 'remove');
    expect(banner(after)).toMatch(/Add a reason to remove/);
    after = await decide(h, thomas(), id, jonasLine, 'keep', '  ');
    expect(banner(after)).toMatch(/no record of how it was granted/);
    expect(reviewStore(h).item(jonasLine)!.decision).toBeNull();
    after = await decide(h, thomas(), id, jonasLine, 'remove', 'moved to sales, no longer runs payroll');
    expect(banner(after)).toMatch(/You removed Jonas Weber/);
    expect(findById(after, `review-remove-${jonasLine}`)).toBeUndefined();
    expect(findById(after, `review-item-decision-${jonasLine}`).text).toMatch(/^Removed by Thomas Berg.*moved to sales/);
    after = await decide(h, thomas(), id, emilyLine, 'keep');
    expect(banner(after)).toMatch(/You kept Emily Chen/);
    expect(findById(after, 'review-status').text).toMatch(/^2 of 2 decided/);
    // Once decided, a second click changes nothing.
    after = await decide(h, thomas(), id, jonasLine, 'keep', 'changed my mind');
    expect(banner(after)).toMatch(/already decided/);
    expect(reviewStore(h).item(jonasLine)!.decision).toBe('remove');
    await settle(h);

    // The technicians' progress card follows.
    expect(cardText(currentStatusCard(h, id))).toMatch(/In progress: 2 of 4 decided/);
    expect(cardText(currentStatusCard(h, id))).toMatch(/Thomas Berg[\s\S]*2 of 2 decided/);

    // Rebecca Stone keeps Grace (no record: with a reason); Daniel Whitaker does nothing.
    const rebeccaCard = reviewCardsSent(h, rebecca.id, id)[0];
    await decide(h, rebecca, id, lineOf(rebeccaCard, 'Grace Mwangi'), 'keep', 'runs the payroll close');

    // Reminders three days and one day before the due date go only to whoever still has something to decide.
    await later(11 * DAY + MINUTE);
    expect(reviewCardsSent(h, daniel.id, id)).toHaveLength(2);
    expect(banner(reviewCardsSent(h, daniel.id, id)[1])).toMatch(/^Reminder: 1 of your 1 item/);
    expect(reviewCardsSent(h, thomas().id, id)).toHaveLength(1);
    expect(reviewCardsSent(h, rebecca.id, id)).toHaveLength(1);
    await later(2 * DAY);
    expect(reviewCardsSent(h, daniel.id, id)).toHaveLength(3);
    expect(h.bot.store.audit.query({ correlationId: id, action: 'review.reminded' })).toHaveLength(2);

    // The due date: the close auto-applies deny to Daniel's undecided line, and the removals take effect.
    expect(await isMember(h, jonas.id, PAYROLL)).toBe(true);
    await later(DAY);
    const c = reviewStore(h).get(id)!;
    expect(c).toMatchObject({ state: 'closed', closeReason: 'due' });
    expect(await isMember(h, jonas.id, PAYROLL)).toBe(false);
    expect(await isMember(h, rebecca.id, PAYROLL)).toBe(false);
    expect(await isMember(h, emily().id, PAYROLL)).toBe(true);
    expect(await isMember(h, grace.id, PAYROLL)).toBe(true);
    const items = reviewStore(h).items(id);
    const rebeccaItem = items.find((i) => i.memberId === rebecca.id)!;
    expect(rebeccaItem).toMatchObject({ decision: 'remove', autoApplied: true, removalState: 'removed' });
    expect(items.find((i) => i.memberId === jonas.id)).toMatchObject({ decision: 'remove', autoApplied: false, removalState: 'removed', removalResult: 'removed' });

    // Daniel's card says it closed; nobody can decide any more.
    const danielNow = currentReviewCard(h, daniel.id, id);
    expect(findById(danielNow, `review-keep-${rebeccaItem.id}`)).toBeUndefined();
    expect(findById(danielNow, `review-item-decision-${rebeccaItem.id}`).text).toMatch(/^Removed automatically at the close.*removed /);
    expect(banner(await decide(h, daniel, id, rebeccaItem.id, 'keep', 'too late'))).toMatch(/closed/);

    // The evidence report in the channel, updated once the removals took effect.
    const report = currentStatusCard(h, id, 'report');
    expect(findById(report, 'review-status-title').text).toMatch(new RegExp(`^${id} · Evidence report`));
    expect(cardText(report)).toMatch(/Completion: 3 of 4 item\(s\) decided by reviewers \(75%\)/);
    expect(cardText(report)).toMatch(/Removals[\s\S]*2 done, 0 pending, 0 failed/);
    expect(cardText(report)).toMatch(/chain intact/);

    // The CSV for auditors matches every decision.
    const csv = await say(h, sarah(h), `review report ${id} --csv`);
    const evidence = parseEvidence(csv.texts);
    expect(evidence.comments.join('\n')).toMatch(/chain: intact/);
    const row = (name: string) => evidence.rows.find((r) => r.member === name)!;
    expect(evidence.rows).toHaveLength(4);
    expect(row('Jonas Weber')).toMatchObject({ campaign: id, decision: 'remove', decided_by: 'Thomas Berg', reason: 'moved to sales, no longer runs payroll', auto_applied: 'no', removal_failed: '' });
    expect(row('Jonas Weber').removal_effective_at).toBe(items.find((i) => i.memberId === jonas.id)!.removalEffectiveAt);
    expect(row('Emily Chen')).toMatchObject({ decision: 'keep', decided_by: 'Thomas Berg', reason: '', removal_requested_at: '' });
    expect(row('Grace Mwangi')).toMatchObject({ decision: 'keep', decided_by: 'Rebecca Stone', reason: 'runs the payroll close' });
    expect(row('Rebecca Stone')).toMatchObject({ decision: 'remove', decided_by: 'auto-apply', auto_applied: 'yes', reviewers: 'Daniel Whitaker' });
    expect(row('Rebecca Stone').removal_effective_at).not.toBe('');
    for (const r of evidence.rows) {
      const item = items.find((i) => i.memberName === r.member)!;
      expect(r.decided_at).toBe(item.decidedAt);
      expect(r.member_upn).toBe(h.tenant.users.find((u) => u.id === item.memberId)!.userPrincipalName);
    }
    // `npm run review-report` writes the same file.
    const out = new Collect();
    expect(await reviewReportCli([id, '--db', h.bot.config.databasePath], {}, out, new Collect())).toBe(0);
    expect(out.text.trimEnd()).toBe(csv.texts.map((t) => t.replace(/^```\n/, '').replace(/\n```$/, '')).join('\n'));

    // Every step is in the audit trail under the campaign id, and the chain verifies.
    const actions = h.bot.store.audit.query({ correlationId: id }).map((e) => e.action);
    expect(actions.filter((a) => a === 'review.decided')).toHaveLength(3);
    expect(actions).toEqual(expect.arrayContaining(['review.started', 'review.card-sent', 'review.reminded', 'review.auto-applied', 'review.closed', 'access.membership-removed', 'review.report']));
    expect(h.bot.store.audit.verify().ok).toBe(true);
    const auditCard = await say(h, sarah(h), `audit ${id}`);
    expect(cardText(auditCard.cards[0])).toMatch(/review\.closed/);
  });
});

describe('who reviews what', () => {
  it('nobody reviews their own access: it goes to the fallback reviewers; a click on someone else’s line through card data is refused and audited', async () => {
    await start();
    const rebecca = demoUser(h, 'Rebecca Stone');
    const noah = demoUser(h, 'Noah Williams');
    const ahmed = demoUser(h, 'Ahmed Farouk');
    const hrAdmins = findResourceById(catalog, 'hr-portal-admin')!.groupId;
    // Rebecca Stone owns HR Portal Administrators and is a member of it.
    const said = await say(h, sarah(h), 'review start "HR Portal Administrators" --reviewer owner --auto-apply none');
    const id = campaignOf(said.cards[0]);
    await settle(h);
    const rebeccaCard = reviewCardsSent(h, rebecca.id, id)[0];
    expect([...linesOfNames(rebeccaCard)]).toEqual(['Grace Mwangi', 'Noah Williams']);
    // Her own line went to the identity technicians, Sarah (who started it) and Ahmed.
    const ownItem = reviewStore(h).items(id).find((i) => i.memberId === rebecca.id)!;
    expect(reviewStore(h).reviewersOf(ownItem.id).map((r) => [r.reviewerName, r.source])).toEqual([
      ['Ahmed Farouk', 'fallback'],
      ['Sarah Mitchell', 'fallback'],
    ]);
    expect([...linesOfNames(reviewCardsSent(h, ahmed.id, id)[0])]).toEqual(['Rebecca Stone']);
    const started = h.bot.store.audit.query({ correlationId: id, action: 'review.started' })[0]!;
    expect(JSON.parse(started.details).selfReviewRouted).toEqual([{ member: 'Rebecca Stone', to: ['Ahmed Farouk', 'Sarah Mitchell'] }]);

    // Rebecca tries her own line with forged card data; Sarah tries Noah's line, which is not hers.
    const before = h.bot.store.audit.count();
    expect(banner(await decide(h, rebecca, id, ownItem.id, 'keep', 'I still need it'))).toMatch(/cannot review your own access/);
    const noahItem = reviewStore(h).items(id).find((i) => i.memberId === noah.id)!;
    const refused = await decide(h, sarah(h), id, noahItem.id, 'remove', 'not needed');
    expect(banner(refused)).toMatch(/not a reviewer of Noah Williams/);
    // Sarah's answer shows her own line only.
    expect([...linesOfNames(refused)]).toEqual(['Rebecca Stone']);
    const refusals = h.bot.store.audit.query({ action: 'review.decision-refused' }, { afterSeq: before });
    expect(refusals.map((e) => [e.actorId, JSON.parse(e.details).reason])).toEqual([
      [rebecca.id, 'self-review'],
      [sarah(h).id, 'not-a-reviewer'],
    ]);
    expect(reviewStore(h).counts(id).decided).toBe(0);

    // Ahmed decides Rebecca's line; Sarah's copy follows. Rebecca decides hers; everything decided closes the campaign.
    await decide(h, ahmed, id, ownItem.id, 'remove', 'owner should not hold admin rights herself');
    await settle(h);
    expect(findById(currentReviewCard(h, sarah(h).id, id), `review-item-decision-${ownItem.id}`).text).toMatch(/^Removed by Ahmed Farouk/);
    expect(findById(currentReviewCard(h, sarah(h).id, id), `review-keep-${ownItem.id}`)).toBeUndefined();
    await decide(h, rebecca, id, noahItem.id, 'keep', 'HR portal administrator');
    await decide(h, rebecca, id, lineOf(rebeccaCard, 'Grace Mwangi'), 'keep', 'backup administrator');
    await settle(h);
    expect(reviewStore(h).get(id)).toMatchObject({ state: 'closed', closeReason: 'all-decided' });
    expect(await isMember(h, rebecca.id, hrAdmins)).toBe(false);
    expect(await isMember(h, noah.id, hrAdmins)).toBe(true);
  });

  it('two reviewers of the same line click at once: exactly one decision counts', async () => {
    await start();
    const olivia = demoUser(h, 'Olivia Hart');
    const rebecca = demoUser(h, 'Rebecca Stone');
    const said = await say(h, sarah(h), 'review start "Payroll Reports" --reviewer owner');
    const id = campaignOf(said.cards[0]);
    await settle(h);
    const jonasLine = lineOf(reviewCardsSent(h, olivia.id, id)[0], 'Jonas Weber');
    expect(lineOf(reviewCardsSent(h, rebecca.id, id)[0], 'Jonas Weber')).toBe(jonasLine);
    const [a, b] = await Promise.all([decide(h, olivia, id, jonasLine, 'remove', 'left the team'), decide(h, rebecca, id, jonasLine, 'keep', 'still needed')]);
    const banners = [banner(a), banner(b)];
    expect(banners.filter((t) => /^You (kept|removed) Jonas Weber/.test(t))).toHaveLength(1);
    expect(banners.filter((t) => /already decided/i.test(t))).toHaveLength(1);
    const decided = h.bot.store.audit.query({ correlationId: id, action: 'review.decided' });
    expect(decided).toHaveLength(1);
    const item = reviewStore(h).item(jonasLine)!;
    expect(item.decidedBy.id).toBe(decided[0]!.actorId);
  });
});

describe('a reviewer with many lines', () => {
  it('pages ten at a time; "keep all remaining" asks first, wants a reason where there is no record, and keeps every page', async () => {
    await start();
    // Thomas Berg owns Expense Reporting: 28 members, one of them himself (that line goes to the technicians).
    const said = await say(h, sarah(h), 'review start expense reporting --reviewer owner --auto-apply keep');
    const id = campaignOf(said.cards[0]);
    await settle(h);
    const first = reviewCardsSent(h, thomas().id, id)[0];
    expect(findById(first, 'review-status').text).toBe('0 of 27 decided · page 1 of 3');
    // A full page with every helper stays within what Teams takes for a card (about 28 KB).
    expect(JSON.stringify(first).length).toBeLessThan(24_000);
    expect(linesOfNames(first).size).toBe(10);
    expect(findById(first, 'review-prev')).toBeUndefined();
    expect(findById(first, 'review-next').data).toEqual({ campaign: id, page: 2 });
    const second = await press(h, thomas(), 'review.page', { campaign: id, page: 2 });
    expect(findById(second, 'review-status').text).toBe('0 of 27 decided · page 2 of 3');
    const pageTwo = [...linesOfNames(second)];
    expect(pageTwo).toHaveLength(10);
    expect(pageTwo.some((n) => linesOfNames(first).has(n))).toBe(false);
    const third = await press(h, thomas(), 'review.page', { campaign: id, page: 3 });
    expect(linesOfNames(third).size).toBe(7);
    expect(findById(third, 'review-next')).toBeUndefined();
    expect(reviewStore(h).cardsOf(id, thomas().id)[0]!.page).toBe(3);
    // Someone who has nothing in this campaign gets no lines by paging.
    expect(cardText(await press(h, emily(), 'review.page', { campaign: id, page: 1 }))).toMatch(/nothing to review/);

    // One decided by hand, then "keep all remaining".
    const emilyLine = lineOf(first, 'Emily Chen');
    await decide(h, thomas(), id, emilyLine, 'remove', 'moved to treasury');
    const ask = await press(h, thomas(), 'review.keep-all', { campaign: id, page: 1 });
    expect(findById(ask, 'review-confirm-text').text).toMatch(/^Keep all 26 item\(s\).*26 of them have no record.*a reason is required/);
    expect(findById(ask, 'review-keep-all-confirm').data).toEqual({ campaign: id, count: 26, page: 1 });
    expect(reviewStore(h).counts(id).decided).toBe(1);
    // Without the reason, nothing; with a count that is no longer true, asked again.
    expect(banner(await press(h, thomas(), 'review.keep-all-confirm', { campaign: id, count: 26, page: 1 }))).toMatch(/add a reason/);
    const stale = await press(h, thomas(), 'review.keep-all-confirm', { campaign: id, count: 30, page: 1, keepAllReason: 'all still in finance roles' });
    expect(banner(stale)).toMatch(/The list changed: 26 item\(s\) remain now/);
    expect(reviewStore(h).counts(id).decided).toBe(1);
    const done = await press(h, thomas(), 'review.keep-all-confirm', { campaign: id, count: 26, page: 1, keepAllReason: 'all still in finance roles' });
    expect(banner(done)).toBe('You kept 26 item(s).');
    expect(findById(done, 'review-status').text).toMatch(/^27 of 27 decided/);
    expect(findById(done, 'review-keep-all')).toBeUndefined();
    const bulk = h.bot.store.audit.query({ correlationId: id, action: 'review.decided' }, { limit: 100 }).filter((e) => JSON.parse(e.details).bulk);
    expect(bulk).toHaveLength(26);
    expect(reviewStore(h).items(id).filter((i) => i.decision === 'keep').every((i) => i.reason === 'all still in finance roles')).toBe(true);
    // Thomas's own line is still open (the technicians'): the campaign runs on.
    expect(reviewStore(h).get(id)!.state).toBe('active');
    const own = reviewStore(h).items(id).find((i) => i.memberId === thomas().id)!;
    expect(own.decision).toBeNull();
    expect(reviewStore(h).reviewersOf(own.id).every((r) => r.source === 'fallback')).toBe(true);
  });
});

describe('removals and their failures', () => {
  it('a technician closes early; a removal the directory keeps refusing is retried, then becomes a ticket and is in the evidence', async () => {
    await start({ JOB_MAX_ATTEMPTS: '2', JOB_RETRY_BASE_SECONDS: '1', JOB_RETRY_MAX_SECONDS: '1' });
    const jonas = demoUser(h, 'Jonas Weber');
    const said = await say(h, sarah(h), 'review start "Payroll Reports" --auto-apply deny --reason quarterly SOX');
    const id = campaignOf(said.cards[0]);
    await settle(h);
    const original = h.bot.directory.removeGroupMember.bind(h.bot.directory);
    let refusedCalls = 0;
    h.bot.directory.removeGroupMember = async (groupId: string, userId: string) => {
      if (userId === jonas.id) {
        refusedCalls += 1;
        throw new Error('the directory is unavailable');
      }
      return original(groupId, userId);
    };
    const closed = await say(h, sarah(h), `review close ${id}`);
    expect(closed.texts.join('\n')).toMatch(new RegExp(`^${id} is closed: 0 kept, 3 removed \\(3 auto-applied\\), 0 not decided\\. 3 removal\\(s\\) are being applied\\.`));
    await settle(h);
    expect(refusedCalls).toBe(1);
    await later(2_000);
    expect(refusedCalls).toBe(2);
    const item = reviewStore(h).items(id).find((i) => i.memberId === jonas.id)!;
    expect(item).toMatchObject({ removalState: 'failed', removalResult: 'the directory is unavailable' });
    expect(await isMember(h, jonas.id, PAYROLL)).toBe(true);
    expect(await isMember(h, demoUser(h, 'Grace Mwangi').id, PAYROLL)).toBe(false);
    const ticket = h.bot.store.technician.tickets.listOpen().find((t) => t.title === 'Access not removed: Jonas Weber from Payroll Reports')!;
    expect(ticket).toMatchObject({ type: 'provisioning', subject: { id: jonas.id, name: 'Jonas Weber' }, sourceRef: id });
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.membership-removal-failed' })).toHaveLength(1);
    expect(reviewStore(h).get(id)).toMatchObject({ closeReason: 'technician', closedBy: { id: sarah(h).id } });
    const evidence = parseEvidence((await say(h, sarah(h), `review report ${id} --csv`)).texts);
    expect(evidence.rows.find((r) => r.member === 'Jonas Weber')).toMatchObject({ removal_failed: 'the directory is unavailable', removal_effective_at: '' });
    expect(evidence.rows.find((r) => r.member === 'Grace Mwangi')!.removal_effective_at).not.toBe('');
    expect(cardText(currentStatusCard(h, id, 'report'))).toMatch(/1 removal\(s\) FAILED/);
  });
});

describe('only inactive people', () => {
  it('--inactive keeps the people the directory says have not signed in for that long, and shows the last sign-in', async () => {
    await start({}, '2026-11-26T09:00:00.000Z');
    const said = await say(h, sarah(h), 'review start "Payroll Reports" --inactive 90');
    const id = campaignOf(said.cards[0]);
    await settle(h);
    expect(reviewStore(h).items(id).map((i) => i.memberName)).toEqual(['Grace Mwangi']);
    const card = reviewCardsSent(h, demoUser(h, 'Rebecca Stone').id, id)[0];
    expect(lineFacts(card, lineOf(card, 'Grace Mwangi'))['Last sign-in']).toMatch(/^Tue 19 May 2026, 08:14 UTC \(19[0-9] days ago\)$/);
    expect(cardText(said.cards[0])).toMatch(/no sign-in for 90 days or more/);
    const none = await say(h, sarah(h), 'review start "HR Portal Administrators" --inactive 3650');
    expect(none.texts.join('\n')).toMatch(/Nobody in HR Portal Administrators has been inactive for 3650 days or more\. No review was started\./);
  });
});

describe('refusals, bad input and cancelling', () => {
  it('employees are refused; bad input starts nothing; a cancelled campaign applies nothing and its cards say so', async () => {
    await start();
    const count = () => reviewStore(h).list(100).length;
    const refused = await say(h, emily(), 'review list');
    expect(refused.texts).toEqual(['Sorry, that command is for identity technicians only.']);
    for (const line of ['review start', 'review start nobody-has-this-name', 'review start "Payroll Reports" --due 0d', 'review start "Payroll Reports" --auto-apply maybe', 'review start "Payroll Reports" --reviewer "No Such Group"', 'review status REV-9999', 'review start department Nowhere']) {
      const said = await say(h, sarah(h), line);
      expect(said.cards, line).toHaveLength(0);
      expect(said.texts.join('\n'), line).toMatch(/Nothing was (changed|started)|No review was started|There is no access review/);
    }
    expect(count()).toBe(0);
    expect(h.bot.store.jobs.withState('pending').filter((j) => j.kind.startsWith('review.') && j.kind !== 'review.schedule')).toHaveLength(0);

    const said = await say(h, sarah(h), 'review start "Payroll Reports" --auto-apply deny');
    const id = campaignOf(said.cards[0]);
    await settle(h);
    // Forged or stale card data gets an answer and changes nothing.
    expect(cardText(await press(h, thomas(), 'review.keep', { campaign: 'REV-9999', item: 1 }))).toMatch(/no such access review/);
    expect(banner(await press(h, thomas(), 'review.remove', { campaign: id, item: 'all', 'reason-1': 'x' }))).toMatch(/not part of this review/);
    expect(banner(await press(h, thomas(), 'review.remove', { campaign: id, item: 999_999, 'reason-999999': 'x' }))).toMatch(/not part of this review/);
    // The progress card's report button is for technicians.
    expect(cardText(await press(h, emily(), 'review.report', { campaign: id }))).toMatch(/for identity technicians only/);
    expect(findById(await press(h, sarah(h), 'review.report', { campaign: id }, 'channel'), 'review-status-title').text).toMatch(new RegExp(`^${id} · Evidence report: Payroll Reports`));
    expect(reviewStore(h).counts(id).decided).toBe(0);
    const cancelled = await say(h, sarah(h), `review cancel ${id} --reason started on the wrong group`);
    expect(cancelled.texts.join('\n')).toMatch(/is cancelled: nothing was applied/);
    await settle(h);
    expect(reviewStore(h).get(id)).toMatchObject({ state: 'cancelled', closeReason: 'started on the wrong group' });
    const thomasCard = currentReviewCard(h, thomas().id, id);
    expect(findById(thomasCard, 'review-status').text).toMatch(/^Cancelled by Sarah Mitchell/);
    expect(findById(thomasCard, 'review-keep-all')).toBeUndefined();
    // The due date passes: nothing is closed, reminded or removed.
    await later(15 * DAY);
    expect(reviewStore(h).get(id)!.state).toBe('cancelled');
    expect(await isMember(h, demoUser(h, 'Jonas Weber').id, PAYROLL)).toBe(true);
    expect(h.bot.store.audit.query({ correlationId: id }).map((e) => e.action)).not.toContain('review.reminded');
    expect((await say(h, sarah(h), `review close ${id}`)).texts.join('\n')).toMatch(/is already cancelled/);
  });
});

function linesOfNames(card: any): Set<string> {
  const names = new Set<string>();
  for (const heading of linesOfHeadings(card)) names.add(heading.split(' · ')[0]!);
  return names;
}

function linesOfHeadings(card: any): string[] {
  const out: string[] = [];
  const walk = (n: any) => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      if (typeof n.id === 'string' && /^review-item-title-\d+$/.test(n.id)) out.push(String(n.text));
      Object.values(n).forEach(walk);
    }
  };
  walk(card?.body ?? []);
  return out;
}
