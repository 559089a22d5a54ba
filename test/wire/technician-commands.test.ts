import { DemoAuthenticatorCodes } from '../../directory/demo-authenticator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { secretLeaks } from '../support/signin';
import { cardOf, TEST_CHANNEL_ID } from '../support/teams-client';
import { actions, ahmed, cardText, findById, groupsOf, MINUTE, person, planCopies, planOf, press, problems, sarah, say, status, steps, title } from '../technician/support';

/**
 * Technician commands over the wire: the demo technician Sarah Mitchell (and Ahmed Farouk,
 * the second technician) in the technicians' channel and in 1:1 chats, and employees who
 * are refused.
 */

let h: Harness;
const clock = new TestClock('2026-03-02T09:00:00.000Z');

beforeAll(async () => {
  h = await startHarness({}, { clock: clock.now });
});
afterAll(async () => {
  await h?.stop();
});

const settle = () => h.bot.scheduler.idle();
const emily = () => h.user('employee');

/** What a command must not change: every account, membership, method and lock in the directory, and the store's records. */
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
  const db = h.bot.store.db;
  const count = (t: string) => String((db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
  out.requests = count('access_requests');
  out.tickets = count('tickets');
  out.jobs = count('jobs');
  out['plans run'] = count("technician_plans WHERE state NOT IN ('proposed', 'cancelled', 'expired')");
  return out;
}

/** What differs between two snapshots (empty: nothing changed). */
function changes(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]).map((k) => `${k}: ${before[k]} -> ${after[k]}`);
}

function personalCards(userId: string): any[] {
  const conv = h.bot.store.conversations.findPersonal(userId)?.conversationId;
  return conv ? h.connector.sentTo(conv).map(cardOf).filter(Boolean) : [];
}

function refusals(after: number) {
  return h.bot.store.audit.query({ action: 'helpdesk.command-refused' }, { afterSeq: after });
}

describe('pick-one cards', () => {
  it('offers at most five candidates, one button each, for a query that matches many groups', async () => {
    // "-" matches every group with a dash in its name ("App - VPN Access", ...).
    const said = await say(h, sarah(h), 'members -');
    expect(said.cards).toHaveLength(1);
    const buttons = (said.cards[0].actions ?? []) as unknown[];
    expect(buttons.length).toBeGreaterThan(1);
    expect(buttons.length).toBeLessThanOrEqual(5);
  });
});

describe('who may run commands', () => {
  it('refuses an employee in the channel, briefly, and audits it without the rest of the line', async () => {
    const before = h.bot.store.audit.count();
    const said = await say(h, emily(), 'whois Thomas Berg');
    expect(said.texts).toEqual(['Sorry, that command is for identity technicians only.']);
    const [event] = refusals(before);
    expect(event).toMatchObject({ actorId: emily().id, outcome: 'refused' });
    expect(JSON.parse(event!.details)).toEqual({ command: 'whois', reason: 'not-a-technician', where: 'channel' });
    expect(event!.details).not.toContain('Thomas');
  });

  it('refuses an employee in a 1:1 chat for words that are only commands, and leaves their English to the recognizer', async () => {
    const before = h.bot.store.audit.count();
    expect((await say(h, emily(), 'offboard Thomas Berg --reason x', 'personal')).texts).toEqual(['Sorry, that command is for identity technicians only.']);
    expect((await say(h, emily(), 'audit verify', 'personal')).texts).toEqual(['Sorry, that command is for identity technicians only.']);
    expect(refusals(before)).toHaveLength(2);
    // "mfa ..." and "report ..." are ordinary words: no refusal, the recognizer answers.
    const mfa = await say(h, emily(), 'mfa is not working on my new phone', 'personal');
    expect(mfa.texts.join(' ')).not.toMatch(/technicians only/);
    expect(mfa.all.length).toBeGreaterThan(0);
    expect(refusals(before)).toHaveLength(2);
  });

  it('works in the technician’s 1:1 chat, where the recognizer does not read commands as requests', async () => {
    const said = await say(h, sarah(h), 'mfa Emily Chen', 'personal');
    expect(title(said.cards[0])).toBe('Sign-in methods of Emily Chen');
    const report = await say(h, sarah(h), 'report --days 7', 'personal');
    expect(findById(report.cards[0], 'report-title').text).toBe('Helpdesk report: last 7 days');
    const groups = await say(h, sarah(h), 'groups emily.chen@northwind.example', 'personal');
    expect(title(groups.cards[0])).toBe('Groups of Emily Chen: 4');
  });

  it('decides from the directory at command time: a technician removed from the group is refused', async () => {
    await h.bot.directory.removeGroupMember(h.tenant.technicianGroupId, ahmed(h).id);
    try {
      const before = h.bot.store.audit.count();
      expect((await say(h, ahmed(h), 'whois Emily Chen')).texts).toEqual(['Sorry, that command is for identity technicians only.']);
      expect(refusals(before)).toHaveLength(1);
    } finally {
      await h.bot.directory.addGroupMember(h.tenant.technicianGroupId, ahmed(h).id);
    }
    expect(title((await say(h, ahmed(h), 'whois Emily Chen')).cards[0])).toBe('Emily Chen');
  });

  it('refuses commands in a group chat', async () => {
    const before = h.bot.store.audit.count();
    const activity: any = { ...h.client.base(sarah(h)), type: 'message', text: 'whois Emily Chen' };
    activity.conversation = { id: '19:group-chat@thread.v2', conversationType: 'groupChat', isGroup: true, tenantId: h.tenant.tenantId };
    await h.client.post(activity);
    expect(h.connector.sentTo('19:group-chat@thread.v2')[0].text).toMatch(/not in group chats/);
    expect(JSON.parse(refusals(before)[0]!.details)).toMatchObject({ reason: 'group-chat' });
  });

  it('a technician cannot act on their own account', async () => {
    const before = await snapshot();
    const said = await say(h, sarah(h), 'disable sarah.mitchell@northwind.example --reason test');
    expect(said.texts[0]).toMatch(/cannot run `disable` on your own account/);
    expect(changes(before, await snapshot())).toEqual([]);
  });
});

describe('lookups', () => {
  it('whois: profile, account, MFA types, groups, requests and recent audit events; audited as a lookup', async () => {
    const before = h.bot.store.audit.count();
    const { cards } = await say(h, sarah(h), 'whois emily.chen@northwind.example');
    const c = cards[0];
    expect(title(c)).toBe('Emily Chen');
    expect(status(c)).toBe('Enabled');
    const text = cardText(c);
    expect(text).toMatch(/Department\nFinance/);
    expect(text).toMatch(/Manager\nThomas Berg \(thomas\.berg@northwind\.example\)/);
    expect(text).toMatch(/MFA methods\nMicrosoft Authenticator, Phone/);
    expect(findById(c, 'tech-section-title-groups').text).toBe('Groups (4)');
    expect(findById(c, 'tech-section-text-groups').text).toBe('All Staff, App - ERP Finance, App - Expense Reporting, Finance Department');
    // Types only: no phone number hint in a channel.
    expect(text).not.toMatch(/\*\*\*/);
    const [lookup] = h.bot.store.audit.query({ action: 'technician.lookup' }, { afterSeq: before });
    expect(lookup).toMatchObject({ actorId: sarah(h).id, target: emily().id });
    // The lookup itself shows up in the next profile's recent events.
    const again = await say(h, sarah(h), `whois ${emily().id}`);
    expect(cardText(findById(again.cards[0], 'tech-section-audit'))).toMatch(/technician\.lookup · success · Sarah Mitchell/);
  });

  it('marks privileged groups and members', async () => {
    const jonas = await say(h, sarah(h), 'groups Jonas Weber');
    expect(cardText(jonas.cards[0])).toMatch(/Payroll Reports\nPRIVILEGED/);
    const members = await say(h, sarah(h), 'members "Payroll Reports"');
    expect(title(members.cards[0])).toBe('Members of Payroll Reports: 3');
    expect(findById(members.cards[0], 'tech-subtitle').text).toMatch(/^Privileged group/);
    expect((await say(h, sarah(h), 'whois Jonas Weber')).cards[0]).toSatisfy((c: any) => status(c) === 'Enabled · privileged');
  });

  it('several matches give a pick-one card, never a guess; only the asker picks, once', async () => {
    const before = await snapshot();
    const { cards } = await say(h, sarah(h), 'unlock ma');
    const pick = cards[0];
    expect(title(pick)).toMatch(/^Which one\? "ma" matches/);
    expect(changes(before, await snapshot())).toEqual([]);
    const i = pick.actions.findIndex((a: any) => a.title === 'Mateo Alvarez');
    expect(i).toBeGreaterThanOrEqual(0);
    const { prompt, choice } = pick.actions[i].data;
    // Someone else's click does nothing.
    const other = await press(h, ahmed(h), 'tech.pick', { prompt, choice });
    expect(title(other)).toBe('Not your question');
    h.connector.clear();
    const picked = await press(h, sarah(h), 'tech.pick', { prompt, choice });
    expect(title(picked)).toBe('Picked: Mateo Alvarez');
    const answer = h.connector.sentTo(h.client.channelConversationId()).map((a) => a.text).join(' ');
    expect(answer).toMatch(/Mateo Alvarez is not locked\. Nothing was changed\./);
    expect(title(await press(h, sarah(h), 'tech.pick', { prompt, choice }))).toBe('This question is no longer active');
    expect(title(await press(h, sarah(h), 'tech.pick', { prompt: 'PICK-forged', choice: 0 }))).toBe('This question is no longer active');
  });

  it('unknown users and groups are a clear message, and nothing changes', async () => {
    const before = await snapshot();
    expect((await say(h, sarah(h), 'whois nobody.here@northwind.example')).texts[0]).toMatch(/No user has the sign-in name or mail nobody\.here@northwind\.example/);
    expect((await say(h, sarah(h), 'disable Zebedee Quux --reason x')).texts[0]).toMatch(/No user matches "Zebedee Quux".*Nothing was changed\./s);
    expect((await say(h, sarah(h), 'members Nonexistent Team')).texts[0]).toMatch(/No group matches "Nonexistent Team"/);
    expect((await say(h, sarah(h), 'grant emily.chen@northwind.example teleporter --reason x')).texts[0]).toMatch(/The catalog has no resource "teleporter"/);
    expect(changes(before, await snapshot())).toEqual([]);
  });

  it('bad input gets usage and nothing changes; a near miss gets "did you mean"', async () => {
    const before = await snapshot();
    const lines: Array<[string, RegExp]> = [
      ['whoiss emily', /There is no command "whoiss"\. Did you mean `whois`\?/],
      ['offboard Chloe Martin', /needs --reason/],
      ['grant emily.chen@northwind.example crm --for 9999d --reason x', /is not a duration/],
      ['tap emily.chen@northwind.example --minutes 5', /out of range/],
      ['disable emily.chen@northwind.example emily.chen@northwind.example --reason x', /given twice/],
      [`whois ${'x'.repeat(1200)}`, /at most 1000/],
      ['whois emily\u0000\u0007', /control or binary characters/],
      ['audit tail 9999', /Usage: `audit/],
    ];
    for (const [line, expected] of lines) {
      const said = await say(h, sarah(h), line);
      expect(said.texts.join('\n'), line).toMatch(expected);
      expect(said.cards, line).toHaveLength(0);
    }
    expect(changes(before, await snapshot())).toEqual([]);
  });

  it('help lists every command; help <command> gives usage and examples', async () => {
    const grant = await say(h, sarah(h), 'help grant');
    expect(grant.cards).toHaveLength(0);
    expect(grant.texts[0]).toMatch(/^\*\*grant\*\*: .*\n\nUsage: `grant ‹user› ‹resource› \[--for ‹duration›\] --reason ‹why›`\n\nExamples:\n- `grant /s);
    const welcome = await say(h, sarah(h), 'help');
    expect(cardText(findById(welcome.cards[0], 'section-technician'))).toMatch(/offboard ‹user› --reason ‹why›[\s\S]*pending[\s\S]*report \[--days N\]/);
    const menu = await press(h, sarah(h), 'menu.run', { item: 'tech-commands' });
    expect(menu).toBeDefined();
    const listCard = h.connector.sentTo(h.client.channelConversationId()).map(cardOf).filter(Boolean).pop();
    expect(title(listCard)).toBe('Technician commands');
    expect(findById(listCard, 'tech-facts').facts.map((f: any) => f.title.split(' ')[0])).toEqual(['help', 'whois', 'groups', 'members', 'unlock', 'reset-password', 'tap', 'mfa', 'mfa-reset', 'disable', 'enable', 'onboard', 'move', 'offboard', 'grant', 'revoke', 'pending', 'take', 'assign', 'close', 'audit', 'report', 'drift', 'review']);
  });
});

describe('immediate actions and secrets', () => {
  it('unlock clears a lock at once and is audited; an unlocked account is left alone', async () => {
    const oliver = person(h, 'Oliver Bennett');
    expect((await h.bot.directory.getSignInState(oliver.id)).locked).toBe(true);
    const { cards } = await say(h, sarah(h), 'unlock oliver.bennett@northwind.example');
    expect(status(cards[0])).toBe('Done');
    expect(steps(cards[0])).toEqual(['Step 1: Unlock the account = done: unlocked']);
    expect((await h.bot.directory.getSignInState(oliver.id)).locked).toBe(false);
    const plan = planOf(cards[0]);
    // The unlock is the sign-in recovery's own action and event, with the technician as the verifier.
    expect(h.bot.store.audit.query({ correlationId: plan }).map((e) => e.action)).toEqual([
      'technician.plan-started',
      'technician.step-attempted',
      'signin.unlock-attempted',
      'signin.unlocked',
      'technician.plan-finished',
    ]);
    const [unlocked] = h.bot.store.audit.query({ correlationId: plan, action: 'signin.unlocked' });
    expect(unlocked).toMatchObject({ actorId: sarah(h).id, target: oliver.id, outcome: 'success' });
    expect(JSON.parse(unlocked!.details)).toEqual({ verifiedBy: [{ method: 'technician', by: 'Sarah Mitchell' }], attempt: expect.any(Number) });
    expect((await say(h, sarah(h), 'unlock oliver.bennett@northwind.example')).texts[0]).toBe('Oliver Bennett is not locked. Nothing was changed.');
  });

  it('tap: the pass goes only to the technician’s 1:1 chat, never the channel, a log, the audit or the database; hidden later', async () => {
    const { cards } = await say(h, sarah(h), 'tap emily.chen@northwind.example --minutes 120');
    expect(status(cards[0])).toBe('Done');
    expect(steps(cards[0])[0]).toMatch(/^Step 1: Issue a Temporary Access Pass = done: valid until .*; sent to Sarah Mitchell's 1:1 chat$/);
    const plan = planOf(cards[0]);
    const conv = h.bot.store.conversations.findPersonal(sarah(h).id)!.conversationId;
    const secretCard = personalCards(sarah(h).id).filter((c) => findById(c, 'tech-secret-value')).pop();
    expect(problems(secretCard)).toEqual([]);
    const pass = findById(secretCard, 'tech-secret-value').text as string;
    expect(pass.length).toBeGreaterThanOrEqual(8);
    expect(secretLeaks(h, pass, conv)).toEqual([]);
    const [issued] = h.bot.store.audit.query({ action: 'signin.tap-issued', correlationId: plan });
    expect(JSON.parse(issued!.details)).toMatchObject({ lifetimeMinutes: 120, oneTime: true, verifiedBy: [{ method: 'technician', by: 'Sarah Mitchell' }] });
    expect((await h.bot.directory.listAuthMethods(emily().id)).map((m) => m.kind)).toContain('temporaryAccessPass');
    // Hidden by the timer (the message is replaced), once.
    const activityId = h.bot.store.technician.plans.get(plan)!.secretActivityId!;
    clock.advance(11 * MINUTE);
    await h.bot.scheduler.runDue();
    const update = h.connector.calls.filter((c) => c.kind === 'update' && c.activityId === activityId).pop();
    expect(findById(cardOf(update!.body), 'tech-secret-value')).toBeUndefined();
    expect(findById(cardOf(update!.body), 'tech-secret-title').text).toMatch(/: hidden$/);
    expect(h.bot.store.audit.query({ action: 'signin.secret-hidden', correlationId: plan }).map((e) => JSON.parse(e.details))).toEqual([{ by: 'timer' }]);
  });

  it('enable turns a disabled account on at once; an enabled one is left alone', async () => {
    const samuel = person(h, 'Samuel Osei');
    const { cards } = await say(h, sarah(h), 'enable Samuel Osei');
    expect(status(cards[0])).toBe('Done');
    expect((await h.bot.directory.getUser(samuel.id))!.accountEnabled).toBe(true);
    expect((await say(h, sarah(h), 'enable Samuel Osei')).texts[0]).toBe('Samuel Osei is already enabled. Nothing was changed.');
  });
});

describe('confirmation and four eyes', () => {
  it('disable shows a plan and acts only when the same technician confirms', async () => {
    const diego = person(h, 'Diego Torres');
    const before = await snapshot();
    const { cards } = await say(h, sarah(h), 'disable diego.torres@northwind.example --reason suspected account takeover');
    const plan = planOf(cards[0]);
    expect(status(cards[0])).toBe("Waiting for Sarah Mitchell's confirmation");
    expect(steps(cards[0])).toEqual(['Step 1: Disable the account = Nobody can sign in with it any more.', 'Step 2: Sign out everywhere = Revokes every sign-in session and refresh token.']);
    expect(actions(cards[0])).toEqual(['tech-confirm', 'tech-cancel']);
    expect(changes(before, await snapshot())).toEqual([]);
    // Another technician cannot confirm someone else's plan.
    const refused = await press(h, ahmed(h), 'tech.confirm', { plan });
    expect(findById(refused, 'tech-text').text).toMatch(/Only Sarah Mitchell, who proposed this plan, can confirm it/);
    expect(h.bot.store.audit.query({ action: 'technician.plan-refused', correlationId: plan })).toHaveLength(1);
    expect(changes(before, await snapshot())).toEqual([]);
    // An employee's click is refused before anything else.
    expect(title(await press(h, emily(), 'tech.confirm', { plan }))).toBe('Not available');
    const running = await press(h, sarah(h), 'tech.confirm', { plan });
    expect(status(running)).toMatch(/^Running/);
    await settle();
    expect((await h.bot.directory.getUser(diego.id))!.accountEnabled).toBe(false);
    const [final] = planCopies(h, plan);
    expect(status(final)).toBe('Done');
    expect(steps(final)).toEqual(['Step 1: Disable the account = done: disabled', 'Step 2: Sign out everywhere = done: every session revoked']);
    const [disabled] = h.bot.store.audit.query({ action: 'technician.account-disabled', correlationId: plan });
    expect(JSON.parse(disabled!.details)).toEqual({ reason: 'suspected account takeover' });
    // A second click is no second run.
    await press(h, sarah(h), 'tech.confirm', { plan });
    await settle();
    expect(h.bot.store.audit.query({ action: 'technician.plan-started', correlationId: plan })).toHaveLength(1);
    await say(h, sarah(h), 'enable diego.torres@northwind.example');
  });

  it('a run cut short right after signing the user out does not sign them out again when it resumes', async () => {
    const diego = person(h, 'Diego Torres');
    const { cards } = await say(h, sarah(h), 'disable diego.torres@northwind.example --reason second device lost');
    const plan = planOf(cards[0]);
    // The bot stops after step 2's change and event, before its progress is saved.
    const plans = h.bot.store.technician.plans;
    const save = plans.saveProgress.bind(plans);
    let stopped = false;
    plans.saveProgress = (id, progress) => {
      if (id === plan && !stopped && progress[1]?.status === 'done') {
        stopped = true;
        throw new Error('the bot stopped');
      }
      return save(id, progress);
    };
    const revoke = h.bot.directory.revokeSessions.bind(h.bot.directory);
    let revokes = 0;
    h.bot.directory.revokeSessions = async (userId) => {
      revokes++;
      return revoke(userId);
    };
    try {
      await press(h, sarah(h), 'tech.confirm', { plan });
      await settle();
      expect(stopped).toBe(true);
      expect(plans.get(plan)!.progress.map((p) => p.status)).toEqual(['done', 'running']);
      // The job is taken up again, as after a restart.
      clock.advance(10 * MINUTE);
      await h.bot.scheduler.runDue();
      await settle();
    } finally {
      plans.saveProgress = save;
      h.bot.directory.revokeSessions = revoke;
    }
    expect(plans.get(plan)!.state).toBe('done');
    expect(revokes).toBe(1);
    expect(h.bot.store.audit.query({ action: 'technician.sessions-revoked', correlationId: plan })).toHaveLength(1);
    const [final] = planCopies(h, plan);
    expect(steps(final)).toEqual(['Step 1: Disable the account = done: disabled', 'Step 2: Sign out everywhere = done: every session revoked (before the bot stopped)']);
    await say(h, sarah(h), `enable ${diego.userPrincipalName}`);
  });

  it('cancel leaves everything as it was', async () => {
    const before = await snapshot();
    const { cards } = await say(h, sarah(h), 'mfa-reset Lena Hoffmann');
    const plan = planOf(cards[0]);
    const cancelled = await press(h, sarah(h), 'tech.cancel', { plan });
    expect(status(cancelled)).toBe('Cancelled: nothing was changed');
    expect(title(await press(h, sarah(h), 'tech.confirm', { plan }))).toBe(title(cancelled));
    await settle();
    expect(changes(before, await snapshot())).toEqual([]);
  });

  it('a member of a privileged group needs a second, different technician: the proposer cannot be the second pair of eyes', async () => {
    const jonas = person(h, 'Jonas Weber');
    const { cards } = await say(h, sarah(h), 'disable Jonas Weber --reason leaves today');
    const plan = planOf(cards[0]);
    expect(status(cards[0])).toBe("Waiting for Sarah Mitchell's confirmation and a second technician's approval (privileged account)");
    expect(actions(cards[0])).toEqual(['tech-confirm', 'tech-approve', 'tech-cancel']);
    const self = await press(h, sarah(h), 'tech.approve', { plan });
    expect(findById(self, 'tech-text').text).toMatch(/You proposed this plan: a second, different identity technician must approve it/);
    const [refusal] = h.bot.store.audit.query({ action: 'technician.plan-refused', correlationId: plan });
    expect(JSON.parse(refusal!.details)).toMatchObject({ reason: 'same-technician' });
    const confirmed = await press(h, sarah(h), 'tech.confirm', { plan });
    expect(findById(confirmed, 'tech-text').text).toMatch(/runs as soon as a second identity technician approves/);
    await settle();
    expect((await h.bot.directory.getUser(jonas.id))!.accountEnabled).toBe(true);
    const approved = await press(h, ahmed(h), 'tech.approve', { plan });
    expect(status(approved)).toMatch(/^Running/);
    await settle();
    expect((await h.bot.directory.getUser(jonas.id))!.accountEnabled).toBe(false);
    expect(h.bot.store.audit.query({ correlationId: plan }).map((e) => e.action)).toEqual([
      'technician.plan-proposed',
      'technician.plan-refused',
      'technician.plan-confirmed',
      // The second pair of eyes proved a fresh MFA (Ahmed's demo phone code) before approving.
      'technician.mfa-required',
      'signin.mfa-proven',
      'technician.plan-approved',
      'technician.plan-started',
      'technician.step-attempted',
      'technician.account-disabled',
      'technician.step-attempted',
      'technician.sessions-revoked',
      'technician.plan-finished',
    ]);
    const [started] = h.bot.store.audit.query({ action: 'technician.plan-started', correlationId: plan });
    expect(JSON.parse(started!.details).approvedBy).toEqual({ id: ahmed(h).id, name: 'Ahmed Farouk' });
  });

  it("the second technician's approval of a privileged plan needs their fresh MFA: asked, a wrong code refused, the right code approves with its assurance", async () => {
    const grace = person(h, 'Grace Mwangi');
    const { cards } = await say(h, ahmed(h), 'disable Grace Mwangi --reason leaves today');
    const plan = planOf(cards[0]);
    await press(h, ahmed(h), 'tech.confirm', { plan });
    const asked = await press(h, sarah(h), 'tech.approve', { plan, mfaCode: undefined });
    expect(findById(asked, 'tech-text').text).toMatch(/Approving a plan for a privileged account needs proof of your MFA/);
    expect(findById(asked, 'mfaCode')).toMatchObject({ type: 'Input.Text' });
    const codes = new DemoAuthenticatorCodes(h.tenant);
    const right = codes.codeFor(sarah(h).id, h.clock())!;
    const wrong = right === '000000' ? '000001' : '000000';
    const refused = await press(h, sarah(h), 'tech.approve', { plan, mfaCode: wrong });
    expect(findById(refused, 'tech-text').text).toMatch(/That code is not right.*Nothing was changed/);
    await settle();
    expect(h.bot.store.technician.plans.get(plan)).toMatchObject({ state: 'proposed', approvedBy: { id: null } });
    expect((await h.bot.directory.getUser(grace.id))!.accountEnabled).toBe(true);
    const approved = await press(h, sarah(h), 'tech.approve', { plan, mfaCode: right });
    expect(status(approved)).toMatch(/^Running/);
    await settle();
    expect((await h.bot.directory.getUser(grace.id))!.accountEnabled).toBe(false);
    const [approval] = h.bot.store.audit.query({ action: 'technician.plan-approved', correlationId: plan });
    expect(JSON.parse(approval!.details).assurance).toEqual({ method: 'demo-totp', at: expect.any(String) });
  });

  it('approval first, then the proposer’s confirmation; from a 1:1 chat the plan is also posted in the channel', async () => {
    const marcus = person(h, 'Marcus Johnson');
    await say(h, sarah(h), 'help', 'channel');
    const said = await say(h, sarah(h), 'reset-password marcus.johnson@northwind.example', 'personal');
    const plan = planOf(said.cards[0]);
    expect(said.texts[0]).toMatch(/also posted in the technicians’ channel for a second technician to approve/);
    const posted = h.connector.sentTo(TEST_CHANNEL_ID).map(cardOf).find((c) => title(c).startsWith(`${plan}:`));
    expect(actions(posted)).toContain('tech-approve');
    const approved = await press(h, ahmed(h), 'tech.approve', { plan });
    expect(findById(approved, 'tech-text').text).toBe('Approved by Ahmed Farouk. It runs when Sarah Mitchell confirms.');
    const before = (await h.bot.directory.getSignInState(marcus.id)).lastPasswordChange;
    await press(h, sarah(h), 'tech.confirm', { plan }, 'personal');
    await settle();
    expect((await h.bot.directory.getSignInState(marcus.id)).lastPasswordChange).not.toBe(before);
    expect((await h.bot.directory.getSignInState(marcus.id)).passwordChangeRequired).toBe(true);
    // Both copies show the outcome; the password is only in Sarah's chat.
    for (const copy of planCopies(h, plan)) expect(status(copy)).toBe('Done');
    const conv = h.bot.store.conversations.findPersonal(sarah(h).id)!.conversationId;
    const secret = personalCards(sarah(h).id).filter((c) => findById(c, 'tech-secret-value') && findById(c, 'tech-secret-title').text === 'Temporary password for Marcus Johnson').pop();
    expect(secretLeaks(h, findById(secret, 'tech-secret-value').text, conv)).toEqual([]);
    // "I have it" hides it at once, for its owner only.
    expect(title(await press(h, ahmed(h), 'tech.secret-hide', { plan }))).toBe('This card is no longer active');
    const hidden = await press(h, sarah(h), 'tech.secret-hide', { plan }, 'personal');
    expect(findById(hidden, 'tech-secret-value')).toBeUndefined();
  });

  it('a grant to a member of a privileged group waits for a second technician too', async () => {
    const julia = person(h, 'Julia Santos');
    const { cards } = await say(h, sarah(h), 'grant julia.santos@northwind.example crm --for 7d --reason incident review');
    const plan = planOf(cards[0]);
    expect(steps(cards[0])).toEqual(['Step 1: Grant CRM = 1 week']);
    expect(actions(cards[0])).toEqual(['tech-confirm', 'tech-approve', 'tech-cancel']);
    await press(h, sarah(h), 'tech.confirm', { plan });
    await settle();
    expect(h.bot.store.requests.listForRequester(julia.id)).toHaveLength(0);
    await press(h, ahmed(h), 'tech.approve', { plan });
    await settle();
    const [r] = h.bot.store.requests.listForRequester(julia.id);
    expect(r).toMatchObject({ state: 'granted', resourceId: 'crm', durationHours: 168 });
    expect(await groupsOf(h, julia.id)).toContain('App - CRM');
  });

  it('the plan is checked again at confirmation: a change shows the new plan to confirm again', async () => {
    const kevin = person(h, "Kevin O'Brien");
    const { cards } = await say(h, sarah(h), "offboard \"Kevin O'Brien\" --reason end of contract");
    const plan = planOf(cards[0]);
    expect(steps(cards[0])[2]).toBe('Step 3: Remove from groups (4) = All Staff, App - CRM, App - Expense Reporting, Sales Team');
    await h.bot.directory.addGroupMember('d11bbede-af0a-472e-ba7c-b905d2e3e4db', kevin.id);
    const changed = await press(h, sarah(h), 'tech.confirm', { plan });
    expect(findById(changed, 'tech-text').text).toMatch(/The directory changed since this plan was made/);
    expect(steps(changed)[2]).toBe('Step 3: Remove from groups (5) = All Staff, App - CRM, App - Expense Reporting, App - VPN Access, Sales Team');
    expect(h.bot.store.audit.query({ action: 'technician.plan-changed', correlationId: plan })).toHaveLength(1);
    await settle();
    expect(await groupsOf(h, kevin.id)).toHaveLength(5);
    await press(h, sarah(h), 'tech.confirm', { plan });
    await settle();
    expect(await groupsOf(h, kevin.id)).toEqual([]);
    expect((await h.bot.directory.getUser(kevin.id))!.accountEnabled).toBe(false);
  });

  it('a plan not confirmed in time expires and changes nothing', async () => {
    const before = await snapshot();
    const { cards } = await say(h, sarah(h), 'disable Carlos Mendes --reason test');
    const plan = planOf(cards[0]);
    clock.advance(31 * MINUTE);
    const expired = await press(h, sarah(h), 'tech.confirm', { plan });
    expect(status(expired)).toBe('Expired before it was confirmed: nothing was changed');
    await settle();
    expect(changes(before, await snapshot())).toEqual([]);
  });
});

describe('lifecycle and access', () => {
  it('mfa-reset removes every method but the password after confirmation', async () => {
    const fatima = person(h, 'Fatima Haddad');
    const { cards } = await say(h, sarah(h), 'mfa-reset fatima.haddad@northwind.example');
    // One step now: the sign-in recovery's removal, which revokes the sessions itself.
    expect(steps(cards[0])).toEqual(['Step 1: Remove MFA methods (2) and sign out everywhere = Microsoft Authenticator (default), Phone']);
    const plan = planOf(cards[0]);
    await press(h, sarah(h), 'tech.confirm', { plan });
    await settle();
    expect((await h.bot.directory.listAuthMethods(fatima.id)).map((m) => m.kind)).toEqual(['password']);
    expect(steps(planCopies(h, plan)[0])).toEqual(['Step 1: Remove MFA methods (2) and sign out everywhere = done: removed Phone, Microsoft Authenticator; every session revoked']);
    const [removed] = h.bot.store.audit.query({ action: 'signin.methods-removed', correlationId: plan });
    expect(JSON.parse(removed!.details)).toEqual({
      removed: [expect.stringMatching(/^Phone/), expect.stringMatching(/^Microsoft Authenticator/)],
      kept: [],
      sessionsRevoked: true,
      attempts: [expect.any(Number), expect.any(Number)],
    });
    expect((await say(h, sarah(h), 'mfa-reset fatima.haddad@northwind.example')).texts[0]).toMatch(/has no MFA methods to remove/);
  });

  it('onboard: birthright groups from the rules, as a plan, applied on confirmation', async () => {
    const zoe = person(h, 'Zoe Adams');
    expect(await groupsOf(h, zoe.id)).toEqual(['App - Source Code', 'App - VPN Access', 'Engineering']);
    const { cards } = await say(h, sarah(h), 'onboard zoe.adams@northwind.example');
    expect(steps(cards[0])).toEqual(['Step 1: Add to groups (1) = All Staff']);
    expect(await groupsOf(h, zoe.id)).toHaveLength(3);
    await press(h, sarah(h), 'tech.confirm', { plan: planOf(cards[0]) });
    await settle();
    expect(await groupsOf(h, zoe.id)).toEqual(['All Staff', 'App - Source Code', 'App - VPN Access', 'Engineering']);
    expect((await say(h, sarah(h), 'onboard zoe.adams@northwind.example')).texts[0]).toMatch(/already has every birthright group/);
  });

  it('move: department and title set and the new birthright groups added at once, the old ones listed and removed on confirmation', async () => {
    const mei = person(h, 'Mei Tanaka');
    const { cards } = await say(h, sarah(h), 'move "Mei Tanaka" --department Finance --title Financial Analyst');
    expect(findById(cards[0], 'tech-text').text).toMatch(
      /^Done now \(PLN-\d+\): department Sales → Finance, title Sales Operations Analyst → Financial Analyst; added to App - ERP Finance, Finance Department \(added to 2 group\(s\)\)\./,
    );
    expect(await h.bot.directory.getUser(mei.id)).toMatchObject({ department: 'Finance', jobTitle: 'Financial Analyst' });
    const related = /^Done now \((PLN-\d+)\)/.exec(findById(cards[0], 'tech-text').text)![1]!;
    expect(h.bot.store.audit.query({ correlationId: related }).map((e) => e.action)).toEqual([
      'technician.plan-started',
      'technician.step-attempted',
      'technician.profile-updated',
      'technician.step-attempted',
      'technician.memberships-added',
      'technician.plan-finished',
    ]);
    const [updated] = h.bot.store.audit.query({ correlationId: related, action: 'technician.profile-updated' });
    expect(JSON.parse(updated!.details)).toEqual({
      department: 'Finance',
      jobTitle: 'Financial Analyst',
      manager: null,
      from: { department: 'Sales', jobTitle: 'Sales Operations Analyst', manager: null },
      reason: null,
    });
    expect(steps(cards[0])).toEqual(['Step 1: Remove from groups (2) = App - CRM, Sales Team']);
    expect(await groupsOf(h, mei.id)).toEqual(['All Staff', 'App - CRM', 'App - ERP Finance', 'App - Expense Reporting', 'Finance Department', 'Sales Team']);
    await press(h, sarah(h), 'tech.confirm', { plan: planOf(cards[0]) });
    await settle();
    expect(await groupsOf(h, mei.id)).toEqual(['All Staff', 'App - ERP Finance', 'App - Expense Reporting', 'Finance Department']);
  });

  it('grant: catalog policy applies; medium risk is granted by the technician, time-bound, and the user is told', async () => {
    const ravi = person(h, 'Ravi Shah');
    expect((await say(h, sarah(h), 'grant ravi.shah@northwind.example crm --for 120d --reason pilot')).texts[0]).toBe('CRM is granted for at most 90 days. Nothing was changed.');
    const { cards } = await say(h, sarah(h), 'grant ravi.shah@northwind.example crm --for 14d --reason quarter-end pilot');
    expect(status(cards[0])).toBe('Done');
    const requestId = /(REQ-\d+)/.exec(steps(cards[0])[0]!)![1]!;
    await settle();
    const r = h.bot.store.requests.get(requestId)!;
    expect(r).toMatchObject({ state: 'granted', requesterId: ravi.id, durationHours: 14 * 24, justification: 'quarter-end pilot', closedByName: 'Sarah Mitchell' });
    expect(await groupsOf(h, ravi.id)).toContain('App - CRM');
    expect(personalCards(ravi.id).some((c) => findById(c, 'notice-title')?.text === 'Access granted: CRM')).toBe(true);
    expect(h.bot.store.audit.query({ correlationId: requestId }).map((e) => e.action)).toEqual(['access.requested', 'access.approved', 'access.grant-attempted', 'access.provisioned']);
    expect((await say(h, sarah(h), 'grant Emily Chen erp finance --reason x')).texts[0]).toBe('Emily Chen already has ERP Finance (a member of its group). Nothing was changed.');
  });

  it('grant of high-risk access still goes to its approvers', async () => {
    const nadia = person(h, 'Nadia Petrova');
    const { cards } = await say(h, sarah(h), 'grant "Nadia Petrova" payroll reports --for 7d --reason audit support');
    expect(title(cards[0])).toMatch(/^REQ-\d+: Payroll Reports for Nadia Petrova needs approval$/);
    const requestId = /^(REQ-\d+)/.exec(title(cards[0]))![1]!;
    await settle();
    expect(h.bot.store.requests.get(requestId)).toMatchObject({ state: 'pending', requesterId: nadia.id, stage: 1 });
    expect(await groupsOf(h, nadia.id)).not.toContain('Payroll Reports');
    expect(h.bot.store.audit.query({ action: 'technician.grant-requested', correlationId: requestId })).toHaveLength(1);
  });

  it('revoke removes catalog access after confirmation and ends its grant', async () => {
    const carlos = person(h, 'Carlos Mendes');
    const { cards } = await say(h, sarah(h), 'revoke carlos.mendes@northwind.example erp finance --reason moved to sales');
    expect(steps(cards[0])).toEqual(['Step 1: Remove ERP Finance = Removes the group membership now and ends any time-bound grant of it.']);
    await press(h, sarah(h), 'tech.confirm', { plan: planOf(cards[0]) });
    await settle();
    expect(await groupsOf(h, carlos.id)).not.toContain('App - ERP Finance');
    expect((await say(h, sarah(h), 'revoke carlos.mendes@northwind.example erp finance')).texts[0]).toBe('Carlos Mendes does not have ERP Finance (not a member of its group). Nothing was changed.');
  });
});

describe('audit in chat', () => {
  it('audit <user>, <REQ-id> and <plan>, with --since, a page at a time with More', async () => {
    const about = await say(h, sarah(h), 'audit Ravi Shah');
    expect(title(about.cards[0])).toBe('Audit: Ravi Shah');
    expect(cardText(about.cards[0])).toMatch(/access\.provisioned/);
    // The person looked up is named, not shown by object id.
    const ravi = h.tenant.users.find((u) => u.displayName === 'Ravi Shah')!;
    expect(cardText(about.cards[0])).not.toContain(ravi.id);
    clock.advance(2 * MINUTE);
    const since = await say(h, sarah(h), 'audit ravi.shah@northwind.example --since 1m');
    expect(findById(since.cards[0], 'tech-text').text).toBe('No audit events about this.');
    // More than a page about Emily by now (lookups, a pass, its hiding...).
    for (let i = 0; i < 20; i++) await say(h, sarah(h), 'mfa emily.chen@northwind.example');
    const first = await say(h, sarah(h), 'audit emily.chen@northwind.example');
    expect(findById(first.cards[0], 'tech-facts').facts).toHaveLength(20);
    const more = findById(first.cards[0], 'tech-more');
    const next = await press(h, sarah(h), 'tech.more', more.data);
    const seqs = (c: any) => findById(c, 'tech-facts').facts.map((f: any) => Number(/^#(\d+)/.exec(f.title)![1]));
    expect(Math.min(...seqs(next))).toBeGreaterThan(Math.max(...seqs(first.cards[0])));
  });

  it('audit verify, tail and export: the chain result heads the CSV, and More gives the next rows', async () => {
    expect(findById((await say(h, sarah(h), 'audit verify')).cards[0], 'notice-title').text).toBe('Audit trail intact');
    expect(findById((await say(h, sarah(h), 'audit tail 3')).cards[0], 'notice-title').text).toBe('Latest 3 audit events');
    const exp = await say(h, sarah(h), 'audit export');
    expect(status(exp.cards[0])).toMatch(/^Chain intact: \d+ events, head \d+:[0-9a-f]{16}…$/);
    const csv = exp.texts[0]!.replace(/^```\n|\n```$/g, '').split('\n');
    expect(csv[0]).toBe('# Northwind IAM Helpdesk audit export');
    expect(csv[1]).toMatch(/^# chain: intact, \d+ events, head \d+:[0-9a-f]{64}$/);
    expect(csv[3]).toBe('seq,ts,actor_id,actor_name,action,target,outcome,details,correlation_id,prev_hash,hash');
    expect(csv[4]).toMatch(/^1,/);
    expect(csv).toHaveLength(4 + 25);
    h.connector.clear();
    const next = await press(h, sarah(h), 'tech.more', findById(exp.cards[0], 'tech-more').data);
    expect(findById(next, 'tech-subtitle').text).toMatch(/rows 26–50/);
    const page2 = h.connector.sentTo(h.client.channelConversationId())[0].text.replace(/^```\n|\n```$/g, '').split('\n');
    expect(page2[0]).toMatch(/^26,/);
  });
});

describe('a channel allow-list', () => {
  let g: Harness;
  beforeAll(async () => {
    g = await startHarness({ TECHNICIAN_CHANNEL_IDS: '19:another-channel@thread.tacv2' });
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('refuses commands in a channel not on the list, and audits it; the 1:1 chat still works', async () => {
    const before = g.bot.store.audit.count();
    await g.client.message(g.user('technician'), 'whois Emily Chen', { where: 'channel' });
    expect(g.connector.sentTo(g.client.channelConversationId())[0].text).toMatch(/not taken in this channel/);
    const [event] = g.bot.store.audit.query({ action: 'helpdesk.command-refused' }, { afterSeq: before });
    expect(JSON.parse(event!.details)).toMatchObject({ reason: 'channel-not-allowed', where: 'channel' });
    await g.client.message(g.user('technician'), 'whois Emily Chen');
    expect(findById(cardOf(g.connector.sentTo(g.client.personalConversationId(g.user('technician')))[0]), 'tech-title').text).toBe('Emily Chen');
  });
});

