import { afterEach, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { ThrottledError } from '../../directory/directory';
import { cardProblems } from '../cards/validate';
import { auditActions, cardsSentTo, click, currentCopies, DAY, demoUser, HOUR, isMember, lastCardIn, requestAccess, requestCardsSentTo, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardText, findById, TEST_CHANNEL_ID } from '../support/teams-client';

/** Durable jobs through the real bot, with a clock the tests move: provisioning, expiry, reminders, escalation. */

const catalog = loadCatalog();
const VPN = findResourceById(catalog, 'vpn')!.groupId;

let h: Harness;
let clock: TestClock;

async function start(env: Record<string, string> = {}): Promise<Harness> {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({ SHUTDOWN_GRACE_SECONDS: '1', ...env }, { clock: clock.now });
  return h;
}
afterEach(async () => {
  await h?.stop();
});

const emily = () => h.user('employee');
const thomas = () => h.user('manager');

/** Moves the clock and runs what fell due. */
async function later(ms: number): Promise<void> {
  clock.advance(ms);
  await h.bot.scheduler.runDue();
}

function titlesSentTo(userId: string): string[] {
  return cardsSentTo(h, userId).map((c) => findById(c, 'notice-title')?.text ?? findById(c, 'access-title')?.text ?? '');
}

async function waitFor(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('provisioning', () => {
  it('retries a directory fault with backoff, then grants', async () => {
    await start();
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const original = h.bot.directory.addGroupMember.bind(h.bot.directory);
    let calls = 0;
    h.bot.directory.addGroupMember = async (groupId: string, userId: string) => {
      calls += 1;
      if (calls === 1) throw new ThrottledError('Too many requests', 10);
      return original(groupId, userId);
    };
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    const [job] = h.bot.store.jobs.forRequest(id).filter((j) => j.kind === 'access.provision');
    expect(job).toMatchObject({ state: 'pending', attempts: 1, lastError: 'Too many requests' });
    expect(new Date(job!.nextRunAt).getTime() - clock.now().getTime()).toBe(30_000);
    expect(h.bot.store.requests.get(id)!.state).toBe('approved');
    expect(await isMember(h, emily().id, VPN)).toBe(false);
    // The cards already say it is approved and being granted.
    for (const c of currentCopies(h, id)) expect(findById(c.card, 'access-status').text).toMatch(/Approved by Thomas Berg: access is being granted/);

    await later(29_000);
    expect(calls).toBe(1);
    await later(2_000);
    expect(calls).toBe(2);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
    expect(await isMember(h, emily().id, VPN)).toBe(true);
    const [provisioned] = h.bot.store.audit.query({ correlationId: id, action: 'access.provisioned' });
    expect(JSON.parse(provisioned!.details)).toMatchObject({ attempt: 2, result: 'added' });
    expect(titlesSentTo(emily().id)).toContain('Access granted: VPN');
  });

  it('after the last retry: a technician notice in the channel, the requester told, the request failed', async () => {
    await start({ JOB_MAX_ATTEMPTS: '3', JOB_RETRY_BASE_SECONDS: '60' });
    await h.client.message(h.user('technician'), 'help', { where: 'channel' });
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    h.bot.directory.addGroupMember = async () => {
      throw new Error('directory unavailable');
    };
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    const job = () => h.bot.store.jobs.forRequest(id).find((j) => j.kind === 'access.provision')!;
    expect(new Date(job().nextRunAt).getTime() - clock.now().getTime()).toBe(60_000);
    await later(60_000);
    expect(new Date(job().nextRunAt).getTime() - clock.now().getTime()).toBe(120_000);
    await later(120_000);
    expect(job()).toMatchObject({ state: 'failed', attempts: 3 });
    expect(h.bot.store.requests.get(id)!.state).toBe('failed');
    // Each run put the grant on record first; giving up read the membership (not a member) before saying failed.
    expect(auditActions(h, id)).toEqual([
      'access.requested',
      'access.approved',
      'access.grant-attempted',
      'access.grant-attempted',
      'access.grant-attempted',
      'access.grant-reconciled',
      'access.provisioning-failed',
    ]);

    const notices = h.connector.sentTo(TEST_CHANNEL_ID).map((a) => a.attachments?.[0]?.content);
    expect(notices).toHaveLength(1);
    expect(findById(notices[0], 'notice-title').text).toBe(`Access approved but not granted: ${id}`);
    expect(cardText(notices[0])).toContain('emily.chen@northwind.example');
    expect(cardProblems(notices[0])).toEqual([]);
    expect(titlesSentTo(emily().id)).toContain('Access approved but not granted yet: VPN');
    for (const c of currentCopies(h, id)) expect(findById(c.card, 'access-status').text).toMatch(/granting failed/);
  });

  it('a crash in the middle of provisioning resumes at start; access is granted once', async () => {
    await start();
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    // The directory call never returns: the process dies with the job running.
    h.bot.directory.addGroupMember = () => new Promise(() => undefined);
    await click(h, thomas(), 'access.approve', id, 1);
    await waitFor(() => h.bot.store.jobs.forRequest(id).some((j) => j.kind === 'access.provision' && j.state === 'running'));
    expect(h.bot.store.requests.get(id)!.state).toBe('approved');
    await h.restart();
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
    expect(await isMember(h, emily().id, VPN)).toBe(true);
    expect(h.bot.store.jobs.forRequest(id).find((j) => j.kind === 'access.provision')).toMatchObject({ state: 'done', attempts: 2 });
    await h.bot.scheduler.runDue();
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.provisioned' })).toHaveLength(1);
    expect(titlesSentTo(emily().id).filter((t) => t === 'Access granted: VPN')).toHaveLength(1);
  });

  it('an approval whose job never ran (stopped right after the commit) is provisioned at the next start', async () => {
    await start();
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.bot.scheduler.stop(0);
    await click(h, thomas(), 'access.approve', id, 1);
    expect(h.bot.store.jobs.forRequest(id).find((j) => j.kind === 'access.provision')).toMatchObject({ state: 'pending', attempts: 0 });
    await h.restart();
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
    expect(await isMember(h, emily().id, VPN)).toBe(true);
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.provisioned' })).toHaveLength(1);
  });
});

describe('time-bound access', () => {
  it('reminds a day before with an extension button, then removes the membership at expiry', async () => {
    await start();
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.expiresAt).toBe(new Date(clock.now().getTime() + 7 * DAY).toISOString());

    await later(6 * DAY - HOUR);
    expect(titlesSentTo(emily().id)).not.toContain('Your access to VPN ends soon');
    await later(2 * HOUR);
    const notice = cardsSentTo(h, emily().id).find((c) => findById(c, 'notice-title')?.text === 'Your access to VPN ends soon');
    expect(notice).toBeDefined();
    expect(cardProblems(notice)).toEqual([]);
    const extend = findById(notice, 'access-extend');
    expect(extend).toMatchObject({ verb: 'access.extend', data: { requestId: id } });
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.reminded' }).map((e) => JSON.parse(e.details).kind)).toEqual(['expiry']);
    const confirm = (await h.client.invoke(emily(), 'access.extend', extend.data)).body.value;
    expect(findById(confirm, 'confirm-note').text).toContain(`extends your current access (${id})`);

    expect(await isMember(h, emily().id, VPN)).toBe(true);
    await later(DAY);
    expect(await isMember(h, emily().id, VPN)).toBe(false);
    expect(h.bot.store.requests.get(id)!.state).toBe('revoked');
    expect(auditActions(h, id)).toEqual([
      'access.requested',
      'access.approved',
      'access.grant-attempted',
      'access.provisioned',
      'access.reminded',
      'access.membership-removal-attempted',
      'access.revoked',
    ]);
    expect(titlesSentTo(emily().id)).toContain('Access ended: VPN');
    for (const c of currentCopies(h, id)) expect(findById(c.card, 'access-status').text).toMatch(/^Ended: access removed/);
  });

  it('an extension approved before the end replaces the old grant; access does not lapse', async () => {
    await start();
    const first = await requestAccess(h, emily(), 'I need VPN for a week');
    await click(h, thomas(), 'access.approve', first, 1);
    await settle(h);
    await later(6 * DAY + HOUR);
    // An extension is allowed although she is a member: her access is time-bound.
    const second = await requestAccess(h, emily(), 'I need VPN for two weeks');
    expect(h.bot.store.requests.get(second)!.extendsRequestId).toBe(first);
    await click(h, thomas(), 'access.approve', second, 1);
    await settle(h);
    expect(h.bot.store.requests.get(first)!.state).toBe('superseded');
    expect(h.bot.store.jobs.forRequest(first).filter((j) => j.kind === 'access.revoke').map((j) => j.state)).toEqual(['cancelled']);
    await later(2 * DAY);
    expect(await isMember(h, emily().id, VPN)).toBe(true);
    expect(h.bot.store.requests.get(second)!.state).toBe('granted');
    await later(14 * DAY);
    expect(await isMember(h, emily().id, VPN)).toBe(false);
  });

  it('an expiry that fell due while the bot was down runs at start', async () => {
    await start();
    const id = await requestAccess(h, emily(), 'I need VPN for 2 days');
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    await h.bot.close();
    clock.advance(3 * DAY);
    await h.restart();
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('revoked');
    expect(await isMember(h, emily().id, VPN)).toBe(false);
  });
});

describe('reminders, escalation and expiry of requests', () => {
  it('reminds the approver after 24 hours and escalates to his manager after 72; the original approver may still decide', async () => {
    await start();
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const rajesh = demoUser(h, 'Rajesh Iyer');
    await later(23 * HOUR);
    expect(requestCardsSentTo(h, thomas().id, id)).toHaveLength(1);
    await later(2 * HOUR);
    const cards = requestCardsSentTo(h, thomas().id, id);
    expect(cards).toHaveLength(2);
    expect(findById(cards[1], 'access-banner').text).toMatch(/^Reminder: this has been waiting for a decision since/);
    expect(findById(cards[1], 'access-approve')).toBeDefined();
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.reminded' })).toHaveLength(1);

    await later(46 * HOUR);
    expect(requestCardsSentTo(h, rajesh.id, id)).toHaveLength(0);
    await later(2 * HOUR);
    const [escalated] = requestCardsSentTo(h, rajesh.id, id);
    expect(findById(escalated, 'access-banner').text).toMatch(/^Escalated to you: nobody decided within 72 hours/);
    expect(findById(escalated, 'access-approve').data).toEqual({ requestId: id, stage: 1 });
    expect(h.bot.store.requests.approvers(id, 1).map((a) => [a.approverName, a.source])).toEqual([
      ['Thomas Berg', 'policy'],
      ['Rajesh Iyer', 'escalation'],
    ]);
    const [event] = h.bot.store.audit.query({ correlationId: id, action: 'access.escalated' });
    expect(JSON.parse(event!.details).to).toEqual([{ id: rajesh.id, name: 'Rajesh Iyer' }]);
    expect(titlesSentTo(emily().id)).toContain(`Your request moved up: ${id}`);

    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
    const rajeshCopy = currentCopies(h, id).find((c) => c.userId === rajesh.id)!;
    expect(findById(rajeshCopy.card, 'access-status').text).toMatch(/^Granted until/);
    expect(findById(rajeshCopy.card, 'access-approve')).toBeUndefined();
    // Nothing more is scheduled for a decided request.
    await later(30 * DAY);
    expect(h.bot.store.requests.get(id)!.state).toBe('revoked');
    expect(auditActions(h, id).filter((a) => a === 'access.escalated' || a === 'access.expired')).toEqual(['access.escalated']);
  });

  it('takes the timings from the configuration', async () => {
    await start({ ACCESS_REMIND_AFTER_HOURS: '2', ACCESS_ESCALATE_AFTER_HOURS: '4', ACCESS_REQUEST_EXPIRY_DAYS: '1' });
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await later(2 * HOUR + 1);
    expect(auditActions(h, id)).toContain('access.reminded');
    await later(2 * HOUR);
    expect(auditActions(h, id)).toContain('access.escalated');
    await later(20 * HOUR);
    expect(h.bot.store.requests.get(id)!.state).toBe('expired');
  });

  it('expires an undecided request after 14 days and tells the requester', async () => {
    await start();
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await later(14 * DAY - HOUR);
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
    await later(2 * HOUR);
    expect(h.bot.store.requests.get(id)!.state).toBe('expired');
    expect(auditActions(h, id)).toContain('access.expired');
    expect(titlesSentTo(emily().id)).toContain('Request expired: VPN');
    for (const c of currentCopies(h, id)) {
      expect(findById(c.card, 'access-status').text).toBe('Expired without a decision');
      expect(findById(c.card, 'access-approve')).toBeUndefined();
    }
    const late = await click(h, thomas(), 'access.approve', id, 1);
    expect(findById(late, 'access-banner').text).toMatch(new RegExp(`${id} expired at .* without a decision`));
    expect(h.bot.store.requests.decisions(id)).toEqual([]);
    expect(h.bot.store.jobs.forRequest(id).filter((j) => j.state === 'pending')).toEqual([]);
  });

  it('the last card in the chat is the status, not a stale duplicate', async () => {
    await start();
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const card = lastCardIn(h, h.client.personalConversationId(emily()));
    expect(findById(card, 'access-title').text).toBe(`${id} · VPN for Emily Chen`);
  });
});
