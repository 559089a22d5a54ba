import { describe, expect, it } from 'vitest';
import { ForbiddenError } from '../../directory/directory';
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
} from '../support/signin';
import { cardProblems } from '../cards/validate';

let h: Harness;
let clock: TestClock;
freshHarnessPerTest((bot, c) => ((h = bot), (clock = c)));

const emily = () => h.user('employee');
const thomas = () => h.user('manager');
const sarah = () => h.user('technician');

/** Emily's methods in the demo tenant. */
function emilyMethods() {
  const u = h.tenant.users.find((x) => x.id === emily().id)!;
  return {
    authenticator: u.authMethods.find((m) => m.kind === 'microsoftAuthenticator')!,
    phone: u.authMethods.find((m) => m.kind === 'phone')!,
  };
}

/** Emily says she lost her phone (authenticator and phone number) and asks Thomas. */
async function askThomas(): Promise<string> {
  const card = await say(h, emily(), 'recover my mfa');
  const session = sessionOf(card);
  const { authenticator, phone } = emilyMethods();
  const asked = await click(h, emily(), 'signin.ask', { session, method: 'manager', lost: `${authenticator.id},${phone.id}` });
  expect(findById(asked, 'signin-banner').text).toMatch(/I asked Thomas Berg to confirm it is you/);
  await h.bot.scheduler.idle();
  return session;
}

describe('MFA recovery with the manager', () => {
  it('lists the methods, the manager confirms in his own chat, the lost methods go and a pass is shown once', async () => {
    const card = await say(h, emily(), 'recover my MFA');
    expect(findById(card, 'signin-title').text).toBe('Recover your sign-in methods (MFA)');
    // Never the lost factor: no code box for MFA recovery.
    expect(findById(card, 'code')).toBeUndefined();
    const lost = findById(card, 'lost');
    expect(lost).toMatchObject({ type: 'Input.ChoiceSet', isMultiSelect: true });
    expect(lost.choices.map((c: any) => c.title)).toEqual(['Microsoft Authenticator (iPhone 16), default', 'Phone (+44 **** ****49)']);
    expect(cardText(card)).not.toMatch(/password/i);
    const session = await (async () => {
      const s = sessionOf(card);
      const { authenticator, phone } = emilyMethods();
      await click(h, emily(), 'signin.ask', { session: s, method: 'manager', lost: `${authenticator.id},${phone.id}` });
      await h.bot.scheduler.idle();
      return s;
    })();

    // Thomas never talked to the bot: his chat is created for the card.
    const attest = lastCardFor(h, thomas().id);
    expect(cardProblems(attest)).toEqual([]);
    expect(findById(attest, 'attest-title').text).toBe("Verify Emily Chen's identity");
    const facts = cardText(findById(attest, 'attest-facts'));
    for (const s of ['Emily Chen (emily.chen@northwind.example)', 'Accountant', 'Temporary Access Pass', 'Microsoft Authenticator (iPhone 16)', session]) expect(facts).toContain(s);
    expect(findById(attest, 'attest-statement').text).toBe('I confirmed this with them in person or by a call:');
    expect(findById(attest, 'attest-confirm')).toMatchObject({ verb: 'signin.confirm', data: { session, method: 'manager' } });
    expect(findById(attest, 'attest-decline')).toMatchObject({ verb: 'signin.decline', data: { session, method: 'manager' } });

    const confirmed = await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    expect(findById(confirmed, 'attest-status').text).toMatch(/^Confirmed by Thomas Berg at /);
    expect(findById(confirmed, 'attest-confirm')).toBeUndefined();
    await h.bot.scheduler.idle();

    // Emily is told and goes on herself, in her chat.
    const ready = lastCardFor(h, emily().id);
    expect(findById(ready, 'signin-complete').title).toBe('Remove the 2 lost methods and give me a pass');
    expect(findById(ready, 'signin-text').text).toMatch(/Thomas Berg/);
    const done = await click(h, emily(), 'signin.complete', { session });
    expect(findById(done, 'signin-title').text).toBe('Done: MFA recovery');

    const shown = secretMessage(h, emily().id);
    expect(shown.secret).toMatch(/^[A-Za-z2-9]{16}$/);
    expect(findById(shown.card, 'secret-title').text).toBe('Your Temporary Access Pass');
    expect(cardText(findById(shown.card, 'secret-steps'))).toMatch(/mysignins\.microsoft\.com[\s\S]*Add sign-in method[\s\S]*works only once/);
    // The default method is removed last.
    expect(cardText(findById(shown.card, 'secret-facts'))).toMatch(/Removed\nPhone \(\+44 \*\*\*\* \*\*\*\*49\); Microsoft Authenticator \(iPhone 16\), default/);
    const methods = await h.bot.directory.listAuthMethods(emily().id);
    expect(methods.map((m) => m.kind)).toEqual(['password', 'temporaryAccessPass']);
    expect(methods[1]!.hint).toMatch(/^one-time, expires /);

    expect(recoveryAudit(h, session)).toEqual([
      'signin.recovery-started',
      'signin.verification-requested',
      'signin.verified',
      // Each change on record before it is made, its outcome naming it.
      'signin.methods-removal-attempted',
      'signin.tap-attempted',
      'signin.sessions-revoke-attempted',
      'signin.methods-removed',
      'signin.tap-issued',
    ]);
    const events = h.bot.store.audit.query({ correlationId: session });
    expect(events[2]).toMatchObject({ actorName: 'Thomas Berg', outcome: 'success' });
    expect(JSON.parse(events[6]!.details)).toMatchObject({
      removed: ['Phone (+44 **** ****49)', 'Microsoft Authenticator (iPhone 16), default'],
      sessionsRevoked: true,
      attempts: [events[3]!.seq, events[5]!.seq],
    });
    expect(JSON.parse(events[7]!.details)).toMatchObject({ lifetimeMinutes: 60, oneTime: true, verifiedBy: [{ method: 'manager', by: 'Thomas Berg' }], attempt: events[4]!.seq });

    // The old phone's codes stop working with the method gone.
    const pw = await say(h, emily(), 'reset my password');
    expect(findById(pw, 'code')).toBeUndefined();

    // Hidden after ten minutes; the pass was never anywhere else.
    clock.advance(10 * MINUTE);
    await h.bot.scheduler.runDue();
    const hidden = currentVersion(h, shown.conversationId, shown.activityId);
    expect(findById(hidden, 'secret-title').text).toBe('Temporary Access Pass: shown and hidden');
    expect(findById(hidden, 'secret-intro').text).toMatch(/The pass works until/);
    expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('a second click on an already used card does nothing more', async () => {
    const session = await askThomas();
    await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    const again = await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    expect(findById(again, 'attest-status').text).toMatch(/^Confirmed by Thomas Berg at /);
    const decline = await click(h, thomas(), 'signin.decline', { session, method: 'manager' });
    expect(findById(decline, 'attest-status').text).toMatch(/^Confirmed by Thomas Berg/);
    await h.bot.scheduler.idle();
    await click(h, emily(), 'signin.complete', { session });
    const twice = await click(h, emily(), 'signin.complete', { session });
    expect(findById(twice, 'signin-title').text).toBe('Done: MFA recovery');
    expect(h.bot.store.audit.query({ correlationId: session, action: 'signin.verified' })).toHaveLength(1);
    expect(h.bot.store.audit.query({ correlationId: session, action: 'signin.tap-issued' })).toHaveLength(1);
    expect(cardsFor(h, emily().id).filter((c) => findById(c, 'secret-value'))).toHaveLength(1);
  });

  it('the manager declines: nothing changes, Emily is told, and it counts as a failed verification', async () => {
    const session = await askThomas();
    const declined = await click(h, thomas(), 'signin.decline', { session, method: 'manager' });
    expect(findById(declined, 'attest-status').text).toMatch(/^Declined by Thomas Berg/);
    await h.bot.scheduler.idle();
    const told = lastCardFor(h, emily().id);
    expect(findById(told, 'signin-title').text).toBe('Not confirmed: MFA recovery');
    expect(findById(told, 'signin-technician')).toBeDefined();
    expect(h.bot.store.recovery.get(session)).toMatchObject({ state: 'refused', outcome: 'declined' });
    expect((await h.bot.directory.listAuthMethods(emily().id)).map((m) => m.kind)).toEqual(['password', 'microsoftAuthenticator', 'phone']);
    expect(h.bot.store.recovery.countEvents(emily().id, 'verification-failed', new Date(0))).toBe(1);
    const complete = await click(h, emily(), 'signin.complete', { session });
    expect(findById(complete, 'signin-title').text).toMatch(/not done/);
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.verification-requested', 'signin.verification-failed', 'signin.recovery-refused']);
  });

  it('only the manager the directory names can confirm, never the user', async () => {
    const session = await askThomas();
    const bySarah = await click(h, sarah(), 'signin.confirm', { session, method: 'manager' });
    expect(findById(bySarah, 'attest-intro').text).toMatch(/Only Emily Chen's manager/);
    const byEmily = await click(h, emily(), 'signin.confirm', { session, method: 'manager' });
    expect(findById(byEmily, 'attest-intro').text).toMatch(/cannot verify your own identity/);
    // Card data cannot make anyone the manager.
    await click(h, sarah(), 'signin.confirm', { session, method: 'manager', managerId: sarah().id, userId: emily().id });
    expect(h.bot.store.recovery.get(session)!.state).toBe('verifying');
    expect(h.bot.store.audit.query({ correlationId: session, action: 'signin.verification-refused' }).map((e) => JSON.parse(e.details).reason)).toEqual([
      'not-the-manager',
      'self',
      'not-the-manager',
    ]);
  });

  it('an expired verification: the manager card and Emily are told, a late confirmation changes nothing', async () => {
    const session = await askThomas();
    const attestRef = h.bot.store.cards.forRequest(session).find((r) => r.role === 'approver')!;
    clock.advance(16 * MINUTE);
    await h.bot.scheduler.runDue();
    expect(h.bot.store.recovery.get(session)!.state).toBe('expired');
    const updated = currentVersion(h, attestRef.conversationId, attestRef.activityId);
    expect(findById(updated, 'attest-status').text).toMatch(/expired/);
    expect(findById(updated, 'attest-confirm')).toBeUndefined();
    expect(findById(lastCardFor(h, emily().id), 'signin-title').text).toBe('Recover your sign-in methods (MFA): timed out');
    const late = await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    expect(findById(late, 'attest-status').text).toMatch(/expired/);
    expect((await h.bot.directory.listAuthMethods(emily().id)).map((m) => m.kind)).toEqual(['password', 'microsoftAuthenticator', 'phone']);
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.verification-requested', 'signin.recovery-expired']);
  });

  it('a restart in the middle: the manager confirms after it and Emily gets her pass', async () => {
    const session = await askThomas();
    await h.restart();
    await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    await h.bot.scheduler.idle();
    await h.restart();
    expect(findById(lastCardFor(h, emily().id), 'signin-complete')).toBeDefined();
    await click(h, emily(), 'signin.complete', { session });
    const shown = secretMessage(h, emily().id);
    expect(shown.secret).toHaveLength(16);
    // The timer to hide it survives a restart too.
    await h.restart();
    clock.advance(10 * MINUTE);
    await h.bot.scheduler.runDue();
    expect(findById(currentVersion(h, shown.conversationId, shown.activityId), 'secret-value')).toBeUndefined();
    expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('the default method is removed last, and only with the methods that could replace it', async () => {
    const card = await say(h, emily(), 'recover my mfa');
    const session = sessionOf(card);
    expect(findById(card, 'signin-lost-note').text).toMatch(/default method: it can only be removed together with the other methods/);
    const { authenticator } = emilyMethods();
    const onlyDefault = await click(h, emily(), 'signin.ask', { session, method: 'manager', lost: authenticator.id });
    expect(findById(onlyDefault, 'signin-banner').text).toMatch(/Microsoft Authenticator \(iPhone 16\) is your default sign-in method\. It can only be removed together with Phone/);
    expect(h.bot.store.recovery.verifications(session)).toEqual([]);
    // Just the phone number: fine, the default stays.
    const { phone } = emilyMethods();
    await click(h, emily(), 'signin.ask', { session, method: 'manager', lost: phone.id });
    await h.bot.scheduler.idle();
    await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    await click(h, emily(), 'signin.complete', { session });
    expect((await h.bot.directory.listAuthMethods(emily().id)).map((m) => m.kind)).toEqual(['password', 'microsoftAuthenticator', 'temporaryAccessPass']);
  });

  it('a directory failure: nothing shown, the failure audited, the technicians told', async () => {
    await openTechniciansChannel(h);
    const session = await askThomas();
    await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    await h.bot.scheduler.idle();
    const original = h.bot.directory.createTemporaryAccessPass.bind(h.bot.directory);
    h.bot.directory.createTemporaryAccessPass = async () => {
      throw new ForbiddenError('Authorization_RequestDenied', 'UserAuthenticationMethod.ReadWrite.All');
    };
    const res = await click(h, emily(), 'signin.complete', { session });
    h.bot.directory.createTemporaryAccessPass = original;
    expect(findById(res, 'signin-title').text).toBe('Recover your sign-in methods (MFA): not done');
    expect(cardsFor(h, emily().id).filter((c) => findById(c, 'secret-value'))).toHaveLength(0);
    expect(h.bot.store.recovery.get(session)).toMatchObject({ state: 'failed' });
    expect(recoveryAudit(h, session).slice(-3)).toEqual(['signin.methods-removed', 'signin.effect-error', 'signin.recovery-failed']);
    expect(channelCards(h).some((c) => findById(c, 'notice-title')?.text === 'Sign-in recovery failed: Emily Chen')).toBe(true);
  });

  it('a disabled account is refused when the manager confirms, and the technicians are told', async () => {
    await openTechniciansChannel(h);
    const session = await askThomas();
    await h.bot.directory.setAccountEnabled(emily().id, false);
    const res = await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
    expect(findById(res, 'attest-intro').text).toMatch(/account is disabled, so nothing can be recovered here/);
    expect(h.bot.store.recovery.get(session)).toMatchObject({ state: 'refused', outcome: 'disabled' });
    expect(channelCards(h).some((c) => findById(c, 'notice-title')?.text === 'Disabled account asked for recovery: Emily Chen')).toBe(true);
    expect((await h.bot.directory.listAuthMethods(emily().id))).toHaveLength(3);
  });
});

describe('MFA recovery with a technician', () => {
  it('a technician takes it in the channel; a privileged user needs the manager and a technician', async () => {
    await openTechniciansChannel(h);
    // Sarah (Identity Technicians, privileged) lost her phone: Michael Grant and another technician.
    const card = await say(h, sarah(), 'recover my mfa');
    const session = sessionOf(card);
    expect(cardText(findById(card, 'signin-status'))).toMatch(/Your manager, and an identity technician/);
    await click(h, sarah(), 'signin.ask', { session, method: 'technician', lost: '' });
    await click(h, sarah(), 'signin.ask', { session, method: 'manager' });
    await h.bot.scheduler.idle();
    const posted = channelCards(h).find((c) => findById(c, 'attest-title')?.text === "Verify Sarah Mitchell's identity");
    expect(posted).toBeDefined();
    expect(cardProblems(posted)).toEqual([]);
    // Sarah cannot take her own; Ahmed can.
    const self = await click(h, sarah(), 'signin.confirm', { session, method: 'technician' }, 'channel');
    expect(findById(self, 'attest-intro').text).toMatch(/cannot verify your own identity/);
    const ahmed = demoUser(h, 'Ahmed Farouk');
    const notTech = await click(h, thomas(), 'signin.confirm', { session, method: 'technician' }, 'channel');
    expect(findById(notTech, 'attest-intro').text).toMatch(/Only identity technicians/);
    // Michael Grant, Sarah's manager, is made a technician too: he still counts as one person.
    const michael = demoUser(h, 'Michael Grant');
    await h.bot.directory.addGroupMember(h.tenant.technicianGroupId, michael.id);
    await click(h, michael, 'signin.confirm', { session, method: 'manager' });
    expect(h.bot.store.recovery.get(session)!.state).toBe('verifying');
    const twice = await click(h, michael, 'signin.confirm', { session, method: 'technician' }, 'channel');
    expect(findById(twice, 'attest-intro').text).toMatch(/a second person must confirm/);
    expect(h.bot.store.recovery.get(session)!.state).toBe('verifying');
    await click(h, ahmed, 'signin.confirm', { session, method: 'technician' }, 'channel');
    expect(h.bot.store.recovery.get(session)!.state).toBe('verified');
    await h.bot.scheduler.idle();
    await click(h, sarah(), 'signin.complete', { session });
    const shown = secretMessage(h, sarah().id);
    // Nothing was chosen to remove: the methods stay, a pass is added.
    expect((await h.bot.directory.listAuthMethods(sarah().id)).map((m) => m.kind)).toEqual(['password', 'microsoftAuthenticator', 'fido2', 'temporaryAccessPass']);
    // The channel saw the verification cards, never the pass.
    expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
    const copies = h.bot.store.cards.forRequest(session).filter((r) => r.role === 'approver');
    expect(copies.map((r) => r.userId).sort()).toEqual([demoUser(h, 'Michael Grant').id, 'technicians'].sort());
  });
});

describe('someone who cannot reach Teams', () => {
  it('a manager reports a disabled report: the technicians get a ticket with the diagnosis, nothing is changed', async () => {
    await openTechniciansChannel(h);
    const aisha = demoUser(h, 'Aisha Khan');
    const card = await say(h, thomas(), "my report Aisha can't sign in");
    expect(findById(card, 'signin-title').text).toBe('The identity technicians have it: Aisha Khan');
    expect(cardText(card)).toMatch(/Nothing was changed on your word alone/);
    // The reporter is not shown account details.
    expect(cardText(card)).not.toMatch(/[Dd]isabled/);
    const ticket = channelCards(h).find((c) => findById(c, 'notice-title')?.text === 'Sign-in problem reported: Aisha Khan');
    expect(ticket).toBeDefined();
    const text = cardText(ticket);
    expect(text).toMatch(/Thomas Berg \(their manager\) reports that Aisha Khan cannot sign in/);
    expect(text).toMatch(/Disabled: nobody can sign in with it/);
    const [event] = h.bot.store.audit.query({ action: 'signin.reported' });
    expect(event).toMatchObject({ actorId: thomas().id, target: aisha.id });
    expect(JSON.parse(event!.details)).toMatchObject({ relation: 'their manager', findings: expect.arrayContaining(['disabled']) });
    // Reported again within the hour: not sent twice.
    const again = await say(h, thomas(), "my report Aisha can't sign in");
    expect(findById(again, 'signin-title').text).toBe('Already reported: Aisha Khan');
    expect(channelCards(h).filter((c) => findById(c, 'notice-title')?.text === 'Sign-in problem reported: Aisha Khan')).toHaveLength(1);
  });

  it('nothing is reset on a colleague\'s word: "reset Emily\'s password" becomes a ticket', async () => {
    await openTechniciansChannel(h);
    const before = await h.bot.directory.getSignInState(emily().id);
    const carlos = demoUser(h, 'Carlos Mendes');
    const card = await say(h, carlos, 'Emily Chen cannot sign in, she forgot her password');
    expect(findById(card, 'signin-title').text).toBe('The identity technicians have it: Emily Chen');
    expect(await h.bot.directory.getSignInState(emily().id)).toEqual(before);
    expect(h.bot.store.recovery.latestFor(emily().id)).toBeNull();
    const ticket = channelCards(h).find((c) => findById(c, 'notice-title')?.text === 'Sign-in problem reported: Emily Chen');
    expect(cardText(ticket)).toMatch(/Carlos Mendes \(a colleague\)/);
  });

  it('asks who, for an unknown name or none, and takes a sign-in name', async () => {
    await openTechniciansChannel(h);
    const who = await say(h, thomas(), "my colleague can't sign in");
    expect(findById(who, 'signin-title').text).toBe('Someone cannot sign in');
    expect(findById(who, 'who')).toBeDefined();
    const unknown = await say(h, thomas(), "my report Adele can't sign in");
    expect(findById(unknown, 'signin-text').text).toMatch(/could not find "Adele"/);
    expect(findById(unknown, 'who')).toMatchObject({ type: 'Input.Text' });
    const res = await click(h, thomas(), 'signin.report', { who: 'priya.raman@northwind.example' });
    expect(findById(res, 'signin-title').text).toBe('The identity technicians have it: Priya Raman');
  });

  it('prefers the reporter\'s own reports, and lets them pick among several', async () => {
    await openTechniciansChannel(h);
    // "J" starts several names, but only one of Thomas's reports: Jonas Weber.
    const mine = await say(h, thomas(), "my report J can't sign in");
    expect(findById(mine, 'signin-title').text).toBe('The identity technicians have it: Jonas Weber');
    const pick = await say(h, thomas(), "my colleague Ma can't sign in");
    expect(findById(pick, 'signin-title').text).toBe('Who do you mean?');
    const first = findById(pick, 'signin-report-pick-0');
    expect(first).toMatchObject({ verb: 'signin.report' });
    expect(findById(pick, 'signin-report-pick-1')).toBeDefined();
    const res = await click(h, thomas(), 'signin.report', first.data);
    expect(findById(res, 'signin-title').text).toMatch(/^The identity technicians have it: /);
    expect(h.bot.store.audit.query({ action: 'signin.reported' })).toHaveLength(2);
  });
});

describe('the secret search itself', () => {
  it('finds a secret planted in a log line, a table, the bot state and another conversation', async () => {
    const planted = 'Pl4nted$ecret!xyz';
    await say(h, emily(), 'help');
    const own = h.client.personalConversationId(emily());
    expect(secretLeaks(h, planted, own)).toEqual([]);
    h.bot.logger.info({ note: planted }, 'planted');
    h.bot.store.audit.append({ actor: { id: null, name: null }, action: 'test.planted', outcome: 'success', details: { note: planted } });
    await h.bot.store.botStorage.write({ 'planted/state': { value: planted } });
    const leaks = secretLeaks(h, planted, own);
    expect(leaks.some((l) => l.startsWith('log line'))).toBe(true);
    expect(leaks).toEqual(expect.arrayContaining(['helpdesk.db table audit_events', 'helpdesk.db table bot_state']));
    expect(leaks.some((l) => l.startsWith('file helpdesk.db'))).toBe(true);
    h.connector.calls.push({ kind: 'send', method: 'POST', path: '/x', conversationId: 'a:elsewhere', activityId: null, body: { text: planted }, headers: {} });
    expect(secretLeaks(h, planted, own)).toContain('send to a:elsewhere');
  });
});
