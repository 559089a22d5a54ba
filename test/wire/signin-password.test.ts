import { describe, expect, it } from 'vitest';
import { passwordWeakness } from '../../directory/rules';
import { LOOK_ALIKES } from '../../dialogs/signin/password';
import { demoUser, freshHarnessPerTest } from '../support/access';
import { TestClock, type Harness } from '../support/harness';
import {
  MINUTE,
  cardText,
  cardsFor,
  channelCards,
  click,
  currentVersion,
  findById,
  lastCardFor,
  openTechniciansChannel,
  phoneCode,
  recoveryAudit,
  say,
  secretLeaks,
  secretMessage,
  sessionOf,
  wrongCode,
} from '../support/signin';
import { cardProblems } from '../cards/validate';

let h: Harness;
let clock: TestClock;
freshHarnessPerTest((bot, c) => ((h = bot), (clock = c)));

const emily = () => h.user('employee');
const thomas = () => h.user('manager');
const sarah = () => h.user('technician');

/** Emily resets her password with her phone's code; returns the recovery id. */
async function resetWithCode(user = emily()): Promise<string> {
  const card = await say(h, user, 'reset my password');
  const session = sessionOf(card);
  const done = await click(h, user, 'signin.code', { session, code: phoneCode(h, user, clock.now()) });
  expect(findById(done, 'signin-title').text).toBe('Done: password reset');
  return session;
}

describe('password reset with the authenticator code', () => {
  it('verifies the code, resets with a strong temporary password shown once, and hides it on "I have it"', async () => {
    const card = await say(h, emily(), 'reset my password');
    expect(findById(card, 'signin-title').text).toBe('Reset your password');
    expect(findById(card, 'code')).toMatchObject({ type: 'Input.Text' });
    expect(findById(card, 'signin-code-label').text).toContain('Microsoft Authenticator (iPhone 16)');
    expect(findById(card, 'signin-ask-manager').title).toBe('Ask my manager, Thomas Berg');
    const session = sessionOf(card);
    // The buttons carry the recovery id and nothing about who anyone is.
    expect(findById(card, 'signin-verify-code').data).toEqual({ session });
    const before = await h.bot.directory.getSignInState(emily().id);
    expect(before.passwordChangeRequired).toBe(false);

    const done = await click(h, emily(), 'signin.code', { session, code: phoneCode(h, emily(), clock.now()) });
    expect(findById(done, 'signin-text').text).toMatch(/reset at 09:00 UTC/);

    const shown = secretMessage(h, emily().id);
    expect(shown.secret).toHaveLength(16);
    expect(passwordWeakness(shown.secret)).toBeNull();
    for (const c of LOOK_ALIKES) expect(shown.secret).not.toContain(c);
    expect(cardProblems(shown.card)).toEqual([]);
    expect(findById(shown.card, 'secret-hide')).toMatchObject({ verb: 'signin.hide', data: { session } });
    expect(findById(shown.card, 'secret-footer').text).toMatch(/hidden at 09:10 UTC/);

    const after = await h.bot.directory.getSignInState(emily().id);
    expect(after.passwordChangeRequired).toBe(true);
    expect(after.lastPasswordChange).not.toBe(before.lastPasswordChange);
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.verified', 'signin.password-reset-attempted', 'signin.password-reset']);
    const [verified] = h.bot.store.audit.query({ correlationId: session, action: 'signin.verified' });
    expect(JSON.parse(verified!.details)).toMatchObject({ method: 'code', authenticator: 'iPhone 16', complete: true });
    expect(verified!.actorId).toBe(emily().id);

    const hidden = await click(h, emily(), 'signin.hide', { session });
    expect(findById(hidden, 'secret-value')).toBeUndefined();
    expect(findById(hidden, 'secret-title').text).toBe('Temporary password: shown and hidden');
    expect(cardText(hidden)).not.toContain(shown.secret);
    // A second click on the same card: still hidden, nothing more recorded.
    const again = await click(h, emily(), 'signin.hide', { session });
    expect(findById(again, 'secret-title').text).toBe('Temporary password: shown and hidden');
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.verified', 'signin.password-reset-attempted', 'signin.password-reset', 'signin.secret-hidden']);

    // The timer finds it hidden already and does nothing.
    clock.advance(11 * MINUTE);
    await h.bot.scheduler.runDue();
    expect(recoveryAudit(h, session).filter((a) => a === 'signin.secret-hidden')).toHaveLength(1);
    expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('hides the password after ten minutes by itself, replacing the message', async () => {
    const session = await resetWithCode();
    const shown = secretMessage(h, emily().id);
    clock.advance(9 * MINUTE);
    await h.bot.scheduler.runDue();
    expect(currentVersion(h, shown.conversationId, shown.activityId)).toBeUndefined();
    clock.advance(2 * MINUTE);
    await h.bot.scheduler.runDue();
    const replaced = currentVersion(h, shown.conversationId, shown.activityId);
    expect(findById(replaced, 'secret-title').text).toBe('Temporary password: shown and hidden');
    expect(findById(replaced, 'secret-value')).toBeUndefined();
    expect(cardProblems(replaced)).toEqual([]);
    const [event] = h.bot.store.audit.query({ correlationId: session, action: 'signin.secret-hidden' });
    expect(JSON.parse(event!.details)).toEqual({ by: 'timer' });
    expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('refuses a wrong code, counts it, and keeps the card open with the attempts left', async () => {
    const card = await say(h, emily(), 'reset my password');
    const session = sessionOf(card);
    const wrong = await click(h, emily(), 'signin.code', { session, code: wrongCode(h, emily(), clock.now()) });
    expect(findById(wrong, 'signin-banner').text).toMatch(/That code is not right\. 4 attempts are left/);
    expect(findById(wrong, 'code')).toBeDefined();
    expect(h.bot.store.recovery.countEvents(emily().id, 'verification-failed', new Date(0))).toBe(1);
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.verification-failed']);
    expect((await h.bot.directory.getSignInState(emily().id)).passwordChangeRequired).toBe(false);
    // Not a code at all: not counted.
    const junk = await click(h, emily(), 'signin.code', { session, code: 'abc' });
    expect(findById(junk, 'signin-banner').text).toMatch(/Type the 6 digits/);
    expect(h.bot.store.recovery.countEvents(emily().id, 'verification-failed', new Date(0))).toBe(1);
    // The right code still works.
    const ok = await click(h, emily(), 'signin.code', { session, code: phoneCode(h, emily(), clock.now()) });
    expect(findById(ok, 'signin-title').text).toBe('Done: password reset');
  });

  it('a code is accepted once: the same code again is a failed check', async () => {
    await resetWithCode();
    const card = await say(h, emily(), 'reset my password');
    const res = await click(h, emily(), 'signin.code', { session: sessionOf(card), code: phoneCode(h, emily(), clock.now()) });
    expect(findById(res, 'signin-banner').text).toMatch(/used already/);
    clock.advance(31_000);
    const next = await click(h, emily(), 'signin.code', { session: sessionOf(card), code: phoneCode(h, emily(), clock.now()) });
    expect(findById(next, 'signin-title').text).toBe('Done: password reset');
  });

  it('an expired code prompt asks again without counting a failure; an expired recovery changes nothing', async () => {
    const card = await say(h, emily(), 'reset my password');
    const session = sessionOf(card);
    clock.advance(6 * MINUTE);
    const stale = await click(h, emily(), 'signin.code', { session, code: phoneCode(h, emily(), clock.now()) });
    expect(findById(stale, 'signin-banner').text).toMatch(/code prompt expired after 5 minutes/);
    expect(h.bot.store.recovery.countEvents(emily().id, 'verification-failed', new Date(0))).toBe(0);
    // Past the 15 minutes of the recovery: over, nothing changed.
    clock.advance(10 * MINUTE);
    const late = await click(h, emily(), 'signin.code', { session, code: phoneCode(h, emily(), clock.now()) });
    expect(findById(late, 'signin-title').text).toMatch(/timed out/);
    expect(h.bot.store.recovery.get(session)!.state).toBe('expired');
    expect((await h.bot.directory.getSignInState(emily().id)).passwordChangeRequired).toBe(false);
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.recovery-expired']);
  });

  it('goes on after a restart between the card and the code', async () => {
    const card = await say(h, emily(), 'reset my password');
    await h.restart();
    clock.advance(MINUTE);
    const done = await click(h, emily(), 'signin.code', { session: sessionOf(card), code: phoneCode(h, emily(), clock.now()) });
    expect(findById(done, 'signin-title').text).toBe('Done: password reset');
    const shown = secretMessage(h, emily().id);
    expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('someone else cannot use the recovery: another user with its id gets "no longer active"', async () => {
    const card = await say(h, emily(), 'reset my password');
    const session = sessionOf(card);
    const carlos = demoUser(h, 'Carlos Mendes');
    const res = await click(h, carlos, 'signin.code', { session, code: phoneCode(h, emily(), clock.now()) });
    expect(findById(res, 'signin-title').text).toBe('This card is no longer active');
    expect(h.bot.store.recovery.get(session)!.state).toBe('verifying');
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started']);
  });

  it('only in a 1:1 chat', async () => {
    await h.client.message(sarah(), 'reset my password', { where: 'channel' });
    const sent = h.connector.sentTo(h.client.channelConversationId());
    expect(cardText(sent.map((a: any) => a.attachments?.[0]?.content).pop())).toMatch(/Only in a 1:1 chat/);
  });
});

describe('throttling', () => {
  it('allows three resets in 24 hours, refuses the fourth, and allows again a day later (it survives a restart)', async () => {
    for (let i = 0; i < 3; i++) {
      await resetWithCode();
      clock.advance(MINUTE);
    }
    await h.restart();
    const refused = await say(h, emily(), 'reset my password');
    expect(findById(refused, 'signin-title').text).toBe('Not again today');
    expect(findById(refused, 'signin-technician')).toBeDefined();
    const [event] = h.bot.store.audit.query({ action: 'signin.recovery-refused' });
    expect(JSON.parse(event!.details)).toMatchObject({ reason: 'too-many' });
    clock.advance(24 * 60 * MINUTE);
    await resetWithCode();
  });

  it('five failed verifications lock self-service for 24 hours and alert the technicians', async () => {
    await openTechniciansChannel(h);
    const card = await say(h, emily(), 'reset my password');
    const session = sessionOf(card);
    let last: any;
    for (let i = 0; i < 5; i++) last = await click(h, emily(), 'signin.code', { session, code: wrongCode(h, emily(), clock.now()) });
    expect(findById(last, 'signin-text').text).toMatch(/self-service is locked/);
    expect(h.bot.store.recovery.get(session)).toMatchObject({ state: 'refused', outcome: 'locked-out' });
    const alert = channelCards(h).find((c) => findById(c, 'notice-title')?.text === 'Self-service locked: Emily Chen');
    expect(alert).toBeDefined();
    expect(findById(alert, 'notice-text').text).toMatch(/5 identity verifications for Emily Chen failed/);
    expect(h.bot.store.audit.query({ action: 'signin.self-service-locked' })).toHaveLength(1);

    // Locked, also across a restart; even the right code is no use now.
    await h.restart();
    const locked = await say(h, emily(), 'recover my mfa');
    expect(findById(locked, 'signin-title').text).toBe('Self-service is locked for now');
    const stale = await click(h, emily(), 'signin.code', { session, code: phoneCode(h, emily(), clock.now()) });
    expect(findById(stale, 'signin-title').text).toMatch(/not done/);
    expect((await h.bot.directory.getSignInState(emily().id)).passwordChangeRequired).toBe(false);

    clock.advance(24 * 60 * MINUTE + MINUTE);
    await resetWithCode();
  });
});

describe('refusals with the next step', () => {
  it('a synced account: cannot be reset from the cloud, a ticket goes to the technicians', async () => {
    await openTechniciansChannel(h);
    const liam = demoUser(h, 'Liam Murphy');
    const card = await say(h, liam, 'reset my password');
    expect(findById(card, 'signin-title').text).toBe('Your password is managed on-premises');
    expect(findById(card, 'signin-text').text).toMatch(/cannot be reset from the cloud\. I opened a ticket/);
    const ticket = channelCards(h).find((c) => String(findById(c, 'notice-title')?.text).startsWith('Ticket: password reset for an on-premises account: Liam Murphy'));
    expect(ticket).toBeDefined();
    expect(cardText(ticket)).toContain('liam.murphy@northwind.example');
    const [refused] = h.bot.store.audit.query({ action: 'signin.recovery-refused', actor: liam.id });
    expect(JSON.parse(refused!.details)).toMatchObject({ flow: 'password', reason: 'synced' });
    expect(h.bot.store.recovery.latestFor(liam.id)).toBeNull();
  });

  it('a privileged account needs the code and a person', async () => {
    // Jonas Weber is a member of Payroll Reports, a privileged group.
    const jonas = demoUser(h, 'Jonas Weber');
    const card = await say(h, jonas, 'reset my password');
    expect(findById(card, 'signin-intro').text).toMatch(/privileged \(an admin role or a privileged group\), so two different checks/);
    // The person buttons are the second check, needed as well: not another way to do the first.
    expect(findById(card, 'signin-code-label').text).toMatch(/^First check: open /);
    expect(findById(card, 'signin-ask-label').text).toBe('Second check, needed as well: ask someone who knows you to confirm it is you.');
    const session = sessionOf(card);
    const afterCode = await click(h, jonas, 'signin.code', { session, code: phoneCode(h, jonas, clock.now()) });
    expect(findById(afterCode, 'signin-banner').text).toMatch(/One more check is needed/);
    expect(findById(afterCode, 'code')).toBeUndefined();
    expect((await h.bot.directory.getSignInState(jonas.id)).passwordChangeRequired).toBe(false);

    const asked = await click(h, jonas, 'signin.ask', { session, method: 'manager' });
    expect(findById(asked, 'signin-banner').text).toMatch(/I asked Thomas Berg/);
    await h.bot.scheduler.idle();
    const attest = lastCardFor(h, thomas().id);
    expect(findById(attest, 'attest-title').text).toBe("Verify Jonas Weber's identity");
    const confirmed = await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    expect(findById(confirmed, 'attest-status').text).toMatch(/^Confirmed by Thomas Berg/);
    await h.bot.scheduler.idle();
    const ready = lastCardFor(h, jonas.id);
    expect(findById(ready, 'signin-complete').title).toBe('Show my temporary password');
    await click(h, jonas, 'signin.complete', { session });
    const shown = secretMessage(h, jonas.id);
    expect(passwordWeakness(shown.secret)).toBeNull();
    expect(recoveryAudit(h, session)).toEqual([
      'signin.recovery-started',
      'signin.verified',
      'signin.verification-requested',
      'signin.verified',
      'signin.password-reset-attempted',
      'signin.password-reset',
    ]);
    expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('a privileged account without an authenticator is refused, with MFA recovery as the next step', async () => {
    const carlos = demoUser(h, 'Carlos Mendes');
    const globalAdmins = h.tenant.groups.find((g) => g.displayName === 'Global Admins')!.id;
    await h.bot.directory.addGroupMember(globalAdmins, carlos.id);
    const card = await say(h, carlos, 'reset my password');
    expect(findById(card, 'signin-title').text).toBe('Reset your password: a second check is needed');
    expect(findById(card, 'signin-text').text).toMatch(/You have no registered authenticator app/);
    expect(findById(card, 'signin-start-mfa')).toMatchObject({ verb: 'signin.start', data: { flow: 'mfa' } });
    const [refused] = h.bot.store.audit.query({ action: 'signin.recovery-refused', actor: carlos.id });
    expect(JSON.parse(refused!.details)).toMatchObject({ reason: 'second-method-missing', privileged: true });
  });
});

describe('unlock', () => {
  it('a technician verifies Oliver in the channel; his account is unlocked', async () => {
    await openTechniciansChannel(h);
    const oliver = demoUser(h, 'Oliver Bennett');
    expect((await h.bot.directory.getSignInState(oliver.id)).locked).toBe(true);
    const card = await say(h, oliver, 'unlock my account');
    // Oliver has no authenticator app: a person confirms.
    expect(findById(card, 'code')).toBeUndefined();
    expect(findById(card, 'signin-ask-manager').title).toBe('Ask my manager, Lukas Novak');
    const session = sessionOf(card);
    await click(h, oliver, 'signin.ask', { session, method: 'technician' });
    await h.bot.scheduler.idle();
    const posted = channelCards(h).find((c) => findById(c, 'attest-title')?.text === "Verify Oliver Bennett's identity");
    expect(posted).toBeDefined();
    expect(cardText(findById(posted, 'attest-facts'))).toMatch(/unlocking their account/);
    // Any technician takes it, in the channel; Oliver cannot confirm himself.
    const self = await click(h, oliver, 'signin.confirm', { session, method: 'technician' });
    expect(findById(self, 'attest-intro').text).toMatch(/cannot verify your own identity/);
    const byTech = await click(h, sarah(), 'signin.confirm', { session, method: 'technician' }, 'channel');
    expect(findById(byTech, 'attest-status').text).toMatch(/^Confirmed by Sarah Mitchell/);
    await h.bot.scheduler.idle();
    const ready = lastCardFor(h, oliver.id);
    expect(findById(ready, 'signin-complete').title).toBe('Unlock my account now');
    const done = await click(h, oliver, 'signin.complete', { session });
    expect(findById(done, 'signin-title').text).toBe('Your account is unlocked');
    expect((await h.bot.directory.getSignInState(oliver.id)).locked).toBe(false);
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.verification-requested', 'signin.verification-refused', 'signin.verified', 'signin.unlock-attempted', 'signin.unlocked']);
  });

  it('says so when nothing is locked, and explains smart lockout for cloud accounts', async () => {
    const notLocked = await say(h, emily(), 'unlock my account');
    expect(findById(notLocked, 'signin-title').text).toBe('Your account is not locked');
    const original = h.bot.directory.getSignInState.bind(h.bot.directory);
    h.bot.directory.getSignInState = async (id: string) => ({ ...(await original(id)), lockSupported: false, locked: false });
    const cloud = await say(h, emily(), 'unlock my account');
    // An on-premises account's lockout does not clear in the cloud: a ticket instead.
    const synced = await say(h, demoUser(h, 'Erik Johansson'), 'unlock my account');
    h.bot.directory.getSignInState = original;
    expect(findById(cloud, 'signin-text').text).toMatch(/smart lockout .* lifts the block by itself/);
    expect(findById(cloud, 'signin-start-password')).toBeDefined();
    expect(findById(synced, 'signin-title').text).toBe('Your account is managed on-premises');
  });
});

describe('why can\'t I sign in', () => {
  it('finds a pending password change and no MFA, with the buttons to fix them', async () => {
    const mei = demoUser(h, 'Mei Tanaka');
    const card = await say(h, mei, "why can't I sign in?");
    const facts = cardText(findById(card, 'signin-facts'));
    expect(facts).toMatch(/A new password must be chosen at the next sign-in/);
    expect(facts).toMatch(/No multi-factor sign-in method/);
    expect(findById(card, 'signin-start-password')).toBeDefined();
    expect(findById(card, 'signin-start-mfa')).toBeDefined();
    const [event] = h.bot.store.audit.query({ action: 'signin.diagnosed', actor: mei.id });
    expect(JSON.parse(event!.details).findings).toEqual(['password-change-required', 'no-mfa']);
    // "Talk to a technician": a notice with the diagnosis in the technicians' channel.
    expect(findById(card, 'signin-technician')).toBeDefined();
    const unreachable = await click(h, mei, 'signin.technician', {});
    expect(findById(unreachable, 'signin-title').text).toBe('The technicians cannot be reached here yet');
    await openTechniciansChannel(h);
    const asked = await click(h, mei, 'signin.technician', {});
    expect(findById(asked, 'signin-title').text).toBe('The identity technicians have your request');
    const notice = channelCards(h).find((c) => findById(c, 'notice-title')?.text === 'Sign-in help requested: Mei Tanaka');
    expect(cardText(notice)).toMatch(/A new password must be chosen/);
    expect(h.bot.store.audit.query({ action: 'signin.technician-requested', actor: mei.id })).toHaveLength(1);
  });

  it('finds a lock, a recent reset, and a missing group for the app named', async () => {
    const oliver = demoUser(h, 'Oliver Bennett');
    expect(findById(await say(h, oliver, "why can't I sign in"), 'signin-start-unlock')).toBeDefined();
    await resetWithCode();
    const card = await say(h, emily(), "why can't I log in to the payroll reports");
    const facts = cardText(findById(card, 'signin-facts'));
    expect(facts).toMatch(/The password was changed at .*: the old one no longer works/);
    expect(facts).toMatch(/Not a member of the group that gives access to Payroll Reports/);
    expect(findById(card, 'signin-request-access')).toMatchObject({ verb: 'signin.request-access', data: { resource: 'payroll-reports' } });
    const res = await click(h, emily(), 'signin.request-access', { resource: 'payroll-reports' });
    expect(findById(res, 'signin-title').text).toBe('Request access');
    expect(cardText(lastCardFor(h, emily().id))).toMatch(/Payroll Reports/);
  });
});

describe('entry points', () => {
  it('the welcome card has a "Can\'t sign in?" button that offers the four flows', async () => {
    const welcome = await say(h, emily(), 'help');
    expect(findById(welcome, 'menu-signin-help')).toMatchObject({ verb: 'menu.run', data: { item: 'signin-help' } });
    expect(cardText(findById(welcome, 'section-everyone'))).toMatch(/reset my password[\s\S]*recover my MFA[\s\S]*unlock my account/);
    await click(h, emily(), 'menu.run', { item: 'signin-help' });
    const menu = lastCardFor(h, emily().id);
    expect(cardProblems(menu)).toEqual([]);
    for (const id of ['signin-start-password', 'signin-start-mfa', 'signin-start-unlock', 'signin-diagnose']) expect(findById(menu, id)).toBeDefined();
    await click(h, emily(), 'signin.start', { flow: 'password' });
    expect(findById(lastCardFor(h, emily().id), 'signin-title').text).toBe('Reset your password');
  });

  it('free text goes through the recognizer to the flows', async () => {
    expect(findById(await say(h, emily(), 'forgot my pw again'), 'signin-title').text).toBe('Reset your password');
    expect(findById(await say(h, emily(), 'new phone, authenticator gone'), 'signin-title').text).toBe('Recover your sign-in methods (MFA)');
    // Starting again closes the one before.
    const sessions = cardsFor(h, emily().id).filter((c) => findById(c, 'signin-cancel'));
    expect(h.bot.store.recovery.get(sessionOf(sessions[0]))!.state).toBe('cancelled');
  });
});
