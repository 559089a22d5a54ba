import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../dialogs/technician/grammar';
import { demoUser, freshHarnessPerTest, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf, cardText, findById, type TestUser } from '../support/teams-client';
import { MINUTE, click as signinClick, lastCardFor, say as sayForCard, secretMessage, sessionOf } from '../support/signin';
import { sarah, say } from '../technician/support';
import { banner, decide, lineOf, press, reviewCardsSent, reviewStore } from './reviews-support';

/**
 * What a newcomer found walking the product in the local chat: employees typing technician
 * commands (reviews, drift, …) must get the technicians-only refusal while their own phrases
 * keep working; a reviewer whose chat lost its history gets his review card back from
 * "what's waiting for me"; a manager's confirmation of an MFA recovery leaves one card with
 * the next step in the employee's chat, not two.
 */

const REFUSAL = 'Sorry, that command is for identity technicians only.';

describe('technician command words typed by employees', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { clock: new TestClock('2026-03-02T09:00:00.000Z').now });
  });
  afterAll(async () => {
    await h?.stop();
  });
  const emily = () => h.user('employee');
  const thomas = () => h.user('manager');

  /** What a refused command must not change: accounts, memberships, methods, locks, and the store's records. */
  async function snapshot(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const u of h.tenant.users) {
      const user = await h.bot.directory.getUser(u.id);
      out[u.displayName] = JSON.stringify({
        enabled: user?.accountEnabled,
        groups: (await h.bot.directory.listUserGroups(u.id)).map((g) => g.id).sort(),
        methods: (await h.bot.directory.listAuthMethods(u.id)).map((m) => m.id).sort(),
        state: await h.bot.directory.getSignInState(u.id),
      });
    }
    const count = (t: string) => String((h.bot.store.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
    for (const t of ['access_requests', 'tickets', 'jobs', 'technician_plans', 'review_campaigns', 'drift_findings', 'recovery_sessions']) out[t] = count(t);
    return out;
  }

  let groupChats = 0;

  function refusalsSince(seq: number) {
    return h.bot.store.audit.query({ action: 'helpdesk.command-refused' }, { afterSeq: seq });
  }

  /** Every example of every command in the grammar (`help` is everyone's word), and what the newcomer typed. */
  const lines = [
    ...COMMANDS.filter((c) => c.name !== 'help').flatMap((c) => c.examples.map((line) => ({ word: c.name, line }))),
    { word: 'review', line: 'review start "Payroll Reports"' },
    { word: 'review', line: 'review start Payroll Reports' },
    { word: 'review', line: 'review close REV-1001' },
    { word: 'review', line: 'review list' },
    { word: 'drift', line: 'drift' },
    { word: 'pending', line: 'pending' },
    { word: 'report', line: 'report' },
    { word: 'unlock', line: 'unlock Thomas Berg' },
    { word: 'tap', line: 'tap thomas.berg@northwind.example' },
    { word: 'revoke', line: 'revoke Thomas Berg payroll reports' },
    { word: 'take', line: 'take TKT-1001' },
  ];

  it('covers every command word of the grammar but help', () => {
    expect(new Set(lines.map((l) => l.word))).toEqual(new Set(COMMANDS.map((c) => c.name).filter((n) => n !== 'help')));
  });

  it.each(lines)('"$line" in an employee’s 1:1 chat: refused, audited with the command word only, nothing changed', async ({ word, line }) => {
    const before = await snapshot();
    const seq = h.bot.store.audit.count();
    const said = await say(h, emily(), line, 'personal');
    expect(said.texts).toEqual([REFUSAL]);
    expect(said.cards).toEqual([]);
    const events = h.bot.store.audit.query({}, { afterSeq: seq });
    expect(events.map((e) => e.action)).toEqual(['helpdesk.command-refused']);
    const details = JSON.parse(events[0]!.details);
    expect(details).toMatchObject({ reason: 'not-a-technician', where: 'personal' });
    expect(details.command === word || details.command.startsWith(`${word} `)).toBe(true);
    expect(events[0]).toMatchObject({ actorId: emily().id, outcome: 'refused' });
    expect(await snapshot()).toEqual(before);
  });

  it.each(['review start "Payroll Reports" --due 14d', 'drift --dry-run', 'review close REV-1001', 'unlock emily.chen@northwind.example', 'mfa Thomas Berg'])(
    '"%s" in a group chat: refused to a manager too, and audited',
    async (line) => {
      const conversation = `19:newcomer-group-${(groupChats += 1)}@thread.v2`;
      const seq = h.bot.store.audit.count();
      const before = await snapshot();
      const activity: any = { ...h.client.base(thomas()), type: 'message', text: line };
      activity.conversation = { id: conversation, conversationType: 'groupChat', isGroup: true, tenantId: h.tenant.tenantId };
      expect((await h.client.post(activity)).status).toBe(200);
      expect(h.connector.sentTo(conversation).map((a) => a.text)).toEqual([REFUSAL]);
      const [event, ...more] = refusalsSince(seq);
      expect(more).toEqual([]);
      expect(JSON.parse(event!.details)).toMatchObject({ reason: 'not-a-technician', where: 'groupChat' });
      expect(event!.details).not.toMatch(/Payroll|emily|Thomas/);
      expect(await snapshot()).toEqual(before);
    },
  );

  // What employees legitimately type, starting with a command word or not: the recognizer's
  // training sentences and the welcome card's employee commands.
  it.each([
    'unlock my account',
    'unlock',
    'unlock me please',
    'mfa is not working on my new phone',
    'mfa reset',
    'grant me access to the crm',
    'enable the vpn for me',
    'take back my request',
    'revoke my request',
    'review my request',
    'report a phishing email',
    'move my meeting to 3pm',
    'pending approvals',
    'pending requests from my team',
    'audit my access please',
    'close my request',
    'members of my team',
    'groups I am in',
    'my requests',
    'status REQ-1001',
    'cancel REQ-1001',
    'help',
    'help offboard',
    'what access do I have',
  ])('"%s" from an employee is not refused', async (line) => {
    const seq = h.bot.store.audit.count();
    const said = await say(h, emily(), line, 'personal');
    expect(said.all.length).toBeGreaterThan(0);
    expect([...said.texts, ...said.cards.map(cardText)].join('\n')).not.toMatch(/technicians only/);
    expect(refusalsSince(seq)).toEqual([]);
  });

  it('the employee phrases still reach their flows', async () => {
    const seq = h.bot.store.audit.count();
    // Emily's account is not locked: the unlock flow says so.
    expect(findById((await say(h, emily(), 'unlock my account', 'personal')).cards[0], 'signin-title').text).toBe('Your account is not locked');
    expect(findById((await say(h, emily(), 'mfa is not working on my new phone', 'personal')).cards[0], 'signin-title').text).toBe('Recover your sign-in methods (MFA)');
    expect(findById((await say(h, emily(), 'help', 'personal')).cards[0], 'section-everyone')).toBeDefined();
    expect(refusalsSince(seq)).toEqual([]);
  });
});

describe('a reviewer gets his review card back', () => {
  let h: Harness;
  let clock: TestClock;
  freshHarnessPerTest((bot, c) => ((h = bot), (clock = c)));
  const emily = () => h.user('employee');
  const thomas = () => h.user('manager');

  async function startReview(): Promise<string> {
    const said = await say(h, sarah(h), 'review start "Payroll Reports" --reviewer manager --due 14d --auto-apply deny');
    const id = /^(REV-\d+) /.exec(String(findById(said.cards[0], 'review-status-title')?.text ?? ''))![1]!;
    await settle(h);
    expect(reviewCardsSent(h, thomas().id, id)).toHaveLength(1);
    return id;
  }

  /** What the bot answered in a user's 1:1 chat to one line. */
  async function ask(user: TestUser, text: string): Promise<{ texts: string[]; cards: any[] }> {
    const conv = h.client.personalConversationId(user);
    const before = h.connector.sentTo(conv).length;
    expect((await h.client.message(user, text)).status).toBe(200);
    const sent = h.connector.sentTo(conv).slice(before);
    return { texts: sent.map((a) => a.text).filter((t): t is string => typeof t === 'string' && t.length > 0), cards: sent.map(cardOf).filter(Boolean) };
  }

  it("after a restart and a lost chat history, \"what's waiting for me\" lists the campaign; its button brings the card back; a decision on it works", async () => {
    const id = await startReview();
    await h.restart();
    h.connector.clear();

    const waiting = await ask(thomas(), "what's waiting for me");
    expect(waiting.texts).not.toContain('Nothing is waiting for your decision.');
    const list = waiting.cards.find((c) => findById(c, 'review-waiting-title'));
    expect(findById(list, 'review-waiting-title').text).toBe('Access reviews waiting for you: 1');
    expect(findById(list, `review-waiting-heading-${id}`).text).toBe(`${id} · Access review: Payroll Reports`);
    expect(cardText(findById(list, `review-waiting-facts-${id}`))).toMatch(/To decide\n1 of your 1 line\(s\)/);
    const button = findById(list, `review-waiting-send-${id}`);
    // The button carries the verb and the campaign id, nothing else.
    expect(button).toMatchObject({ type: 'Action.Execute', verb: 'review.resend', data: { campaign: id } });
    expect(Object.keys(button.data)).toEqual(['campaign']);

    const answer = await press(h, thomas(), 'review.resend', button.data);
    expect(findById(answer, 'review-waiting-banner').text).toMatch(new RegExp(`Your review card for ${id} is on its way`));
    await settle(h);
    const back = reviewCardsSent(h, thomas().id, id);
    expect(back).toHaveLength(1);
    expect(banner(back[0])).toMatch(/^Your review card, as you asked: 1 of your 1 item\(s\) still need your decision by /);
    const requested = h.bot.store.audit.query({ correlationId: id, action: 'review.card-requested' });
    expect(requested).toHaveLength(1);
    expect(requested[0]).toMatchObject({ actorId: thomas().id, outcome: 'success' });

    // A decision on the card that came back works, and the stored copies follow it.
    const jonasLine = lineOf(back[0], 'Jonas Weber');
    const decided = await decide(h, thomas(), id, jonasLine, 'remove', 'moved to sales, no longer needs payroll');
    expect(banner(decided)).toMatch(/You removed Jonas Weber’s Payroll Reports/);
    expect(reviewStore(h).item(jonasLine)).toMatchObject({ decision: 'remove', decidedBy: { id: thomas().id } });
    expect(reviewStore(h).cardsOf(id, thomas().id).length).toBeGreaterThanOrEqual(2);

    // Nothing is left for him: the answer says so.
    expect((await ask(thomas(), 'my reviews')).texts).toEqual(['Nothing is waiting for your decision.']);
  });

  it('"my reviews", "my access reviews" and "reviews waiting for me" give the same answer', async () => {
    const id = await startReview();
    for (const line of ['my reviews', 'my access reviews', 'reviews waiting for me', 'My reviews?']) {
      const said = await ask(thomas(), line);
      expect(said.cards.some((c) => findById(c, `review-waiting-send-${id}`)), line).toBe(true);
    }
    // Someone with nothing to review hears so.
    expect((await ask(emily(), 'my reviews')).texts).toEqual(['Nothing is waiting for your decision.']);
  });

  it("another user's click on the button gets nothing of the campaign, and is audited", async () => {
    const id = await startReview();
    h.connector.clear();
    const seq = h.bot.store.audit.count();
    for (const data of [{ campaign: id }, { campaign: 'REV-9999' }, { campaign: id, userId: thomas().id }]) {
      const answer = await press(h, emily(), 'review.resend', data);
      expect(findById(answer, 'notice-title').text).toBe('Nothing for you here');
      expect(findById(answer, 'notice-text').text).toBe('You have no access review to decide under that reference. Nothing was sent.');
      expect(cardText(answer)).not.toMatch(/Payroll|Jonas|Thomas|Sarah/);
    }
    await settle(h);
    expect(h.connector.calls.filter((c) => c.kind === 'send' || c.kind === 'reply' || c.kind === 'update')).toEqual([]);
    const refused = h.bot.store.audit.query({ action: 'review.decision-refused' }, { afterSeq: seq });
    expect(refused.map((e) => JSON.parse(e.details))).toEqual([
      expect.objectContaining({ verb: 'review.resend', reason: 'not-a-reviewer' }),
      expect.objectContaining({ verb: 'review.resend', reason: 'not-a-reviewer' }),
    ]);
    expect(h.bot.store.audit.query({ action: 'review.card-requested' })).toEqual([]);
    // Rebecca reviews other lines of the same campaign: her click sends her own card, never Thomas's lines.
    const rebecca = demoUser(h, 'Rebecca Stone');
    await press(h, rebecca, 'review.resend', { campaign: id });
    await settle(h);
    const hers = reviewCardsSent(h, rebecca.id, id);
    expect(hers).toHaveLength(1);
    expect(cardText(hers[0])).not.toMatch(/Jonas Weber/);
  });

  it('a closed campaign sends nothing more', async () => {
    const id = await startReview();
    await say(h, sarah(h), `review close ${id}`);
    await settle(h);
    h.connector.clear();
    const answer = await press(h, thomas(), 'review.resend', { campaign: id });
    expect(cardText(answer)).toMatch(new RegExp(`${id} is closed: nothing can be decided there any more, so no card was sent`));
    await settle(h);
    expect(reviewCardsSent(h, thomas().id, id)).toEqual([]);
  });
});

describe('one card with the next step after a manager confirms an MFA recovery', () => {
  let h: Harness;
  let clock: TestClock;
  freshHarnessPerTest((bot, c) => ((h = bot), (clock = c)));
  const emily = () => h.user('employee');
  const thomas = () => h.user('manager');

  async function lostPhone(): Promise<string> {
    const card = await sayForCard(h, emily(), 'I lost my phone');
    expect(findById(card, 'signin-title').text).toBe('Recover your sign-in methods (MFA)');
    const session = sessionOf(card);
    const lost = findById(card, 'lost').choices.map((c: any) => c.value).join(',');
    await signinClick(h, emily(), 'signin.ask', { session, method: 'manager', lost });
    await settle(h);
    return session;
  }

  /** Messages in Emily's chat carrying a button with this id: sent, and the ids of the messages updated to carry one. */
  function withButton(buttonId: string): { sent: any[]; updated: Set<string> } {
    const conv = h.client.personalConversationId(emily());
    const calls = h.connector.calls.filter((c) => c.conversationId === conv && findById(cardOf(c.body), buttonId));
    return { sent: calls.filter((c) => c.kind === 'send' || c.kind === 'reply'), updated: new Set(calls.filter((c) => c.kind === 'update').map((c) => c.activityId!)) };
  }

  it('the waiting card becomes the next step in place; a short message points at it; the pass comes once', async () => {
    const session = await lostPhone();
    const conv = h.client.personalConversationId(emily());
    const waitingId = h.bot.store.cards.forRequest(session).find((r) => r.role === 'requester')!.activityId;
    const before = h.connector.calls.length;
    await signinClick(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    await settle(h);

    const buttons = withButton('signin-complete');
    expect(buttons.sent).toEqual([]);
    expect([...buttons.updated]).toEqual([waitingId]);
    const toEmily = h.connector.calls.slice(before).filter((c) => c.conversationId === conv && (c.kind === 'send' || c.kind === 'reply'));
    expect(toEmily).toHaveLength(1);
    expect(cardOf(toEmily[0]!.body)).toBeUndefined();
    expect(toEmily[0]!.body.text).toMatch(new RegExp(`^\\*\\*Verified: MFA recovery\\.\\*\\* Thomas Berg confirmed it is you\\. Go on with the card above, before .* \\(reference ${session}\\)\\.$`));
    const ready = lastCardFor(h, emily().id);
    expect(findById(ready, 'signin-title').text).toBe('Verified: MFA recovery');
    expect(findById(ready, 'signin-complete').title).toMatch(/give me a pass$/);

    const done = await signinClick(h, emily(), 'signin.complete', { session });
    expect(findById(done, 'signin-title').text).toBe('Done: MFA recovery');
    await settle(h);
    expect(secretMessage(h, emily().id).sessionId).toBe(session);
    expect(withButton('signin-complete').sent).toEqual([]);
    expect(withButton('secret-value').sent).toHaveLength(1);
  });

  it('a recovery that times out: the waiting card says so in place, with one Start again', async () => {
    const session = await lostPhone();
    const waitingId = h.bot.store.cards.forRequest(session).find((r) => r.role === 'requester')!.activityId;
    clock.advance(16 * MINUTE);
    await h.bot.scheduler.runDue();
    await settle(h);
    expect(h.bot.store.recovery.get(session)!.state).toBe('expired');
    const again = withButton('signin-again');
    expect(again.sent).toEqual([]);
    expect([...again.updated]).toEqual([waitingId]);
    const texts = h.connector.sentTo(h.client.personalConversationId(emily())).filter((a) => !cardOf(a)).map((a) => a.text);
    expect(texts.filter((t) => /timed out/.test(t))).toHaveLength(1);
  });
});
