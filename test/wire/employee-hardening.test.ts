import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { click, demoUser, expectSentCardsValidAndChainIntact, lastCardIn, requestAccess, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { click as press, channelCards, openTechniciansChannel, recoveryAudit, say, sessionOf } from '../support/signin';
import { cardOf, cardText, findById, TEST_CHANNEL_ID, type TestUser } from '../support/teams-client';

/**
 * Employee flows hardened after review: odd durations are refused with the reason (never
 * replaced by another), outsiders see a request's state without names, confirming someone's
 * identity happens only in a 1:1 chat (or a technician's card in the technicians' channel),
 * and the second of two clicks at once shows what it did instead of an error.
 */

let h: Harness;
let clock: TestClock;
beforeEach(async () => {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({}, { clock: clock.now });
});
afterEach(async () => {
  if (h) expectSentCardsValidAndChainIntact(h);
  await h?.stop();
});

const emily = () => h.user('employee');
const thomas = () => h.user('manager');
const sarah = () => h.user('technician');
// Sales: neither the requester, nor her manager, nor an owner of anything she asks for.
const outsider = () => demoUser(h, 'Lukas Novak');

/** Sends a message written on the test clock's day (Monday 2 March 2026 in London). */
async function write(user: TestUser, text: string): Promise<any> {
  const res = await h.client.post({ ...h.client.base(user), localTimestamp: clock.now().toISOString(), type: 'message', text, textFormat: 'plain' });
  expect(res.status).toBe(200);
  return lastCardIn(h, h.client.personalConversationId(user));
}

function noRequests(user: TestUser): void {
  expect(h.bot.store.requests.listForRequester(user.id, 10)).toEqual([]);
}

describe('durations that cannot be granted are refused with the reason', () => {
  it.each(['I need the VPN for -3 days', 'request access to vpn for -3 days', 'I need VPN for minus 2 weeks'])('"%s": a negative duration is said so, never read as its opposite', async (text) => {
    const card = await write(emily(), text);
    expect(findById(card, 'confirm-facts'), 'no confirmation card').toBeUndefined();
    expect(findById(card, 'form-error').text).toMatch(/^You asked for a negative duration \(-(3 days|2 weeks)\), which cannot be granted/);
    expect(findById(card, 'resource').value).toBe('vpn');
    // Nothing else was put in its place: not the default, not 3 days.
    expect(findById(card, 'duration').value).toBe('default');
    expect(findById(card, 'justification').value ?? '').not.toMatch(/days|weeks/);
    noRequests(emily());
  });

  it.each(['I need VPN for 0 days', 'request access to vpn for zero days'])('"%s": no time at all is said so', async (text) => {
    const card = await write(emily(), text);
    expect(findById(card, 'confirm-facts')).toBeUndefined();
    expect(findById(card, 'form-error').text).toMatch(/^You asked for no time at all, which cannot be granted: access lasts at least one hour/);
    noRequests(emily());
  });

  it('"for 99999 years" is refused as longer than allowed, with the maximum one click away', async () => {
    const card = await write(emily(), 'I need the payroll reports for 99999 years because of the audit');
    expect(findById(card, 'notice-title').text).toBe('Too long for Payroll Reports');
    expect(findById(card, 'notice-text').text).toMatch(/^You asked for 99999 years, but Payroll Reports is granted for at most 30 days\./);
    const offer = findById(card, 'access-use-max');
    expect(offer).toMatchObject({ title: 'Request 30 days', verb: 'access.use-max' });
    const res = await h.client.invoke(emily(), 'access.use-max', offer.data);
    expect(cardText(findById(res.body.value, 'confirm-facts'))).toContain('30 days from approval');
    noRequests(emily());

    // The command form too: never the reason "for 99999 years" with the default duration.
    const command = await write(emily(), 'request access to vpn for 99999 years');
    expect(findById(command, 'notice-text').text).toMatch(/^You asked for 99999 years, but VPN is granted for at most 365 days\./);
    expect(findById(command, 'access-use-max').title).toBe('Request 365 days');
  });

  it('"until yesterday": that date has passed, and nothing else is offered in its place', async () => {
    const card = await write(emily(), 'I need the VPN until yesterday');
    expect(findById(card, 'confirm-facts')).toBeUndefined();
    expect(findById(card, 'form-error').text).toBe('The end date you gave, end of Sunday 1 March 2026 (Europe/London), has already passed. Pick how long you need the access.');
    expect(findById(card, 'resource').value).toBe('vpn');
    noRequests(emily());
  });

  it('"until 2026-02-30" is not a day: the bot asks what was meant', async () => {
    const card = await write(emily(), 'I need the VPN until 2026-02-30');
    expect(findById(card, 'clarify-title').text).toMatch(/Did you mean/);
    noRequests(emily());
  });
});

describe("an outsider's view of someone else's request", () => {
  it('shows a denied or cancelled request without who denied or cancelled it', async () => {
    const denied = await requestAccess(h, emily(), 'I need VPN for a week');
    await click(h, thomas(), 'access.deny', denied, 1, { comment: 'Not needed for your role' });
    await settle(h);
    const deniedCard = (await h.client.invoke(outsider(), 'access.refresh', { requestId: denied, stage: 1 })).body.value;
    expect(findById(deniedCard, 'access-status').text).toBe('Denied');
    expect(cardText(deniedCard)).not.toMatch(/Thomas|Berg|Emily|Chen|Not needed/);
    // The people involved still see who decided.
    expect(findById((await h.client.invoke(emily(), 'access.refresh', { requestId: denied, stage: 1 })).body.value, 'access-status').text).toBe('Denied by Thomas Berg');

    const cancelled = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.client.invoke(emily(), 'access.cancel', { requestId: cancelled });
    await settle(h);
    for (const verb of ['access.refresh', 'access.approve', 'access.deny']) {
      const card = (await h.client.invoke(outsider(), verb, { requestId: cancelled, stage: 1, comment: 'x' })).body.value;
      expect(findById(card, 'access-status').text, verb).toBe('Cancelled');
      expect(cardText(card), verb).not.toMatch(/Emily|Chen|Thomas|Berg/);
    }
  });
});

describe('confirming who someone is', () => {
  const NAMES = /Emily|Chen|Thomas|Berg|Sarah|Mitchell|MFA|sign-in methods|Authenticator|pass/i;

  /** Emily lost her phone and asks her manager, Thomas, to confirm it is her. */
  async function askThomas(): Promise<string> {
    const session = sessionOf(await say(h, emily(), 'recover my MFA'));
    await press(h, emily(), 'signin.ask', { session, method: 'manager', lost: '' });
    await h.bot.scheduler.idle();
    expect(h.bot.store.recovery.verification(session, 'manager')?.state).toBe('pending');
    return session;
  }

  it("a manager's answer from a channel or a group chat decides nothing, names nobody and is audited", async () => {
    const session = await askThomas();
    const inChannel = await h.client.invoke(thomas(), 'signin.confirm', { session, method: 'manager' }, { where: 'channel' });
    const groupChat = { ...h.client.base(thomas()), conversation: { id: '19:group-chat@unq.gbl.spaces', conversationType: 'groupChat', isGroup: true, tenantId: h.tenant.tenantId } };
    const inGroup = await h.client.post({
      ...groupChat,
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', id: 'x', verb: 'signin.decline', data: { session, method: 'manager' } }, trigger: 'manual' },
    });
    for (const res of [inChannel, inGroup]) {
      expect(res.status).toBe(200);
      const card = res.body.value;
      expect(findById(card, 'signin-title').text).toBe('Only in your 1:1 chat');
      expect(cardText(card)).not.toMatch(NAMES);
    }
    // Nothing went to the channel either.
    expect(h.connector.sentTo(h.client.channelConversationId()).map(cardOf).filter(Boolean)).toEqual([]);
    expect(h.bot.store.recovery.get(session)!.state).toBe('verifying');
    expect(h.bot.store.recovery.verification(session, 'manager')?.state).toBe('pending');
    const refused = h.bot.store.audit.query({ correlationId: session }).filter((e) => e.action === 'signin.verification-refused');
    expect(refused.map((e) => [e.actorId, JSON.parse(e.details).reason, JSON.parse(e.details).where])).toEqual([
      [thomas().id, 'not-personal-chat', 'channel'],
      [thomas().id, 'not-personal-chat', 'groupChat'],
    ]);
    // In his own chat the same card works.
    const confirmed = (await h.client.invoke(thomas(), 'signin.confirm', { session, method: 'manager' })).body.value;
    expect(findById(confirmed, 'attest-status').text).toMatch(/^Confirmed by Thomas Berg/);
    expect(h.bot.store.recovery.get(session)!.state).toBe('verified');
  });

  it("every card action of the user's own recovery is refused outside the 1:1 chat, naming nobody", async () => {
    const session = await askThomas();
    for (const [verb, data] of [
      ['signin.start', { flow: 'password' }],
      ['signin.code', { session, code: '123456' }],
      ['signin.ask', { session, method: 'technician' }],
      ['signin.complete', { session }],
      ['signin.hide', { session }],
      ['signin.cancel', { session }],
      ['signin.step-up', { session }],
      ['signin.diagnose', {}],
      ['signin.technician', {}],
      ['signin.report', { who: 'Adele Vance' }],
      ['signin.request-access', { resource: 'vpn' }],
    ] as const) {
      const res = await h.client.invoke(emily(), verb, data, { where: 'channel' });
      expect(findById(res.body.value, 'signin-title').text, verb).toBe('Only in a 1:1 chat');
      expect(cardText(res.body.value), verb).not.toMatch(NAMES);
    }
    expect(h.bot.store.recovery.get(session)!.state).toBe('verifying');
  });

  it("a technician's card still works in the technicians' channel", async () => {
    await openTechniciansChannel(h);
    const session = sessionOf(await say(h, emily(), 'recover my MFA'));
    await press(h, emily(), 'signin.ask', { session, method: 'technician', lost: '' });
    await h.bot.scheduler.idle();
    expect(channelCards(h).some((c) => findById(c, 'attest-title')?.text === "Verify Emily Chen's identity")).toBe(true);
    const res = await h.client.invoke(sarah(), 'signin.confirm', { session, method: 'technician' }, { where: 'channel' });
    expect(findById(res.body.value, 'attest-status').text).toMatch(/^Confirmed by Sarah Mitchell/);
    expect(h.bot.store.recovery.get(session)!.state).toBe('verified');
    expect(recoveryAudit(h, session)).not.toContain('signin.verification-refused');
  });
});

describe("a technician's card outside the configured technicians' channels", () => {
  it('is refused there, naming nobody, and works in the technicians channel', async () => {
    await h.stop();
    h = await startHarness({ TECHNICIAN_CHANNEL_IDS: TEST_CHANNEL_ID }, { clock: clock.now });
    await openTechniciansChannel(h);
    const session = sessionOf(await say(h, emily(), 'recover my MFA'));
    await press(h, emily(), 'signin.ask', { session, method: 'technician', lost: '' });
    await h.bot.scheduler.idle();
    const elsewhere = h.client.base(sarah(), { where: 'channel' });
    const other = '19:general@thread.tacv2';
    const res = await h.client.post({
      ...elsewhere,
      conversation: { ...elsewhere.conversation, id: `${other};messageid=1` },
      channelData: { ...elsewhere.channelData, teamsChannelId: other, channel: { id: other, name: 'General' } },
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', id: 'x', verb: 'signin.confirm', data: { session, method: 'technician' } }, trigger: 'manual' },
    });
    expect(findById(res.body.value, 'signin-title').text).toBe('Only in your 1:1 chat');
    expect(cardText(res.body.value)).not.toMatch(/Emily|Chen/);
    expect(h.bot.store.recovery.get(session)!.state).toBe('verifying');
    const ok = await h.client.invoke(sarah(), 'signin.confirm', { session, method: 'technician' }, { where: 'channel' });
    expect(findById(ok.body.value, 'attest-status').text).toMatch(/^Confirmed by Sarah Mitchell/);
  });
});

describe('two clicks of one chat at once', () => {
  /** Makes every directory call that reads memberships slow, as a remote directory is. */
  function slowDirectory(ms: number): () => void {
    const dir = h.bot.directory as any;
    const original = dir.checkMemberGroups.bind(dir);
    dir.checkMemberGroups = async (...args: any[]) => {
      await new Promise((r) => setTimeout(r, ms));
      return original(...args);
    };
    return () => {
      dir.checkMemberGroups = original;
    };
  }

  it('a double click on Submit: the click that created the request says so, the other one is no error either', async () => {
    await h.client.message(emily(), 'I need VPN for a week');
    const draft = findById(lastCardIn(h, h.client.personalConversationId(emily())), 'access-submit').data.draft;
    const restore = slowDirectory(40);
    const answers = await Promise.all([h.client.invoke(emily(), 'access.submit', { draft }), h.client.invoke(emily(), 'access.submit', { draft })]);
    restore();
    await settle(h);
    const [request] = h.bot.store.requests.listForRequester(emily().id, 10);
    expect(h.bot.store.requests.listForRequester(emily().id, 10)).toHaveLength(1);
    const titles = answers.map((a) => String(findById(a.body.value, 'notice-title')?.text));
    expect(titles.filter((t) => /Something went wrong/.test(t))).toEqual([]);
    expect(titles).toContain(`Submitted: ${request!.id}`);
    expect(h.logs.filter((l) => l.msg === 'turn failed')).toEqual([]);
    // Both turns' changes to the chat's state were kept: a third click knows the request.
    const third = await h.client.invoke(emily(), 'access.submit', { draft });
    expect(findById(third.body.value, 'notice-title').text).toBe(`Already submitted as ${request!.id}`);
  });
});
