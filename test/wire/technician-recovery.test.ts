import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notifier } from '../../bot/notifier';
import { PrivilegedResolver } from '../../dialogs/privileged';
import { LOOK_ALIKES, PASSWORD_ALPHABET } from '../../dialogs/signin/password';
import { RecoveryActions, VerificationRequiredError, type SecretOutlet } from '../../dialogs/signin/recovery-actions';
import { ThrottledError } from '../../directory/directory';
import { passwordWeakness } from '../../directory/rules';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { click, phoneCode, say as sayPersonal, secretLeaks, secretMessage, sessionOf } from '../support/signin';
import { cardOf } from '../support/teams-client';
import { ahmed, cardText, findById, MINUTE, person, planCopies, planOf, press, sarah, say, status, steps } from '../technician/support';

/**
 * One sign-in recovery service for employees and technicians: the technicians' commands make
 * the same passwords and passes, with the same settings, write the same audit events and
 * hide the secret after the same time as the employee's own recovery; the verification
 * (a technician, and a second one for privileged accounts) is the one difference. And a
 * mover's department, title and manager set by `move`, and the last sign-in in `whois`.
 */

let h: Harness;
const clock = new TestClock('2026-11-25T12:00:00.000Z');

beforeAll(async () => {
  h = await startHarness(
    { RECOVERY_PASSWORD_LENGTH: '20', RECOVERY_TAP_MINUTES: '45', RECOVERY_TAP_ONE_TIME: 'false', RECOVERY_SECRET_VISIBLE_MINUTES: '3' },
    { clock: clock.now },
  );
});
afterAll(async () => {
  await h?.stop();
});

const settle = () => h.bot.scheduler.idle();

/** The secret card a technician's plan sent to their own 1:1 chat, and that chat. */
function technicianSecret(planId: string): { secret: string; conversationId: string; activityId: string; card: any } {
  const conversationId = h.bot.store.conversations.findPersonal(sarah(h).id)!.conversationId;
  const card = h.connector
    .sentTo(conversationId)
    .map(cardOf)
    .filter((c) => c && findById(c, 'tech-secret-value') && findById(c, 'tech-secret-hide')?.data?.plan === planId)
    .pop();
  if (!card) throw new Error(`no secret card for ${planId}`);
  return { secret: findById(card, 'tech-secret-value').text, conversationId, activityId: h.bot.store.technician.plans.get(planId)!.secretActivityId!, card };
}

/** The latest version of a message (as sent, or as last updated). */
function latest(conversationId: string, activityId: string): any {
  const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === conversationId && c.activityId === activityId);
  return cardOf(updates.pop()?.body) ?? null;
}

describe('the same recovery action for the employee and the technician', () => {
  it('a temporary password: the same generator and length, set to change at next sign-in, the same audit event; hidden after the same time', async () => {
    const emily = h.user('employee');
    const priya = person(h, 'Priya Raman');

    // The employee's own reset, verified by her phone.
    const card = await sayPersonal(h, emily, 'reset my password');
    const session = sessionOf(card);
    await click(h, emily, 'signin.code', { session, code: phoneCode(h, emily, clock.now()) });
    const own = secretMessage(h, emily.id);

    // The technician's reset of Priya, confirmed on the plan card.
    const said = await say(h, sarah(h), 'reset-password priya.raman@northwind.example');
    const plan = planOf(said.cards[0]);
    await press(h, sarah(h), 'tech.confirm', { plan });
    await settle();
    expect(status(planCopies(h, plan)[0])).toBe('Done');
    const theirs = technicianSecret(plan);

    for (const [who, secret] of [
      ['employee', own.secret],
      ['technician', theirs.secret],
    ] as const) {
      expect(secret, who).toHaveLength(20);
      expect(passwordWeakness(secret), who).toBeNull();
      expect([...secret].every((c) => PASSWORD_ALPHABET.includes(c)), who).toBe(true);
      for (const c of LOOK_ALIKES) expect(secret, who).not.toContain(c);
    }
    expect((await h.bot.directory.getSignInState(priya.id)).passwordChangeRequired).toBe(true);

    // One event, the same shape: only the actor, the correlation id and who verified differ.
    const [self] = h.bot.store.audit.query({ action: 'signin.password-reset', correlationId: session });
    const [tech] = h.bot.store.audit.query({ action: 'signin.password-reset', correlationId: plan });
    expect(self).toMatchObject({ actorId: emily.id, target: emily.id, outcome: 'success' });
    expect(tech).toMatchObject({ actorId: sarah(h).id, target: priya.id, outcome: 'success' });
    // The same details whoever acted, naming the intent written before the directory call.
    const [selfIntent] = h.bot.store.audit.query({ action: 'signin.password-reset-attempted', correlationId: session });
    const [techIntent] = h.bot.store.audit.query({ action: 'signin.password-reset-attempted', correlationId: plan });
    expect(JSON.parse(self!.details)).toEqual({ forceChangeAtNextSignIn: true, verifiedBy: [{ method: 'code', by: null }], attempt: selfIntent!.seq });
    expect(JSON.parse(tech!.details)).toEqual({ forceChangeAtNextSignIn: true, verifiedBy: [{ method: 'technician', by: 'Sarah Mitchell' }], attempt: techIntent!.seq });
    expect(h.bot.store.audit.query({ action: 'technician.password-reset' })).toEqual([]);

    // Both messages are replaced after RECOVERY_SECRET_VISIBLE_MINUTES (3), not before.
    clock.advance(2 * MINUTE);
    await h.bot.scheduler.runDue();
    expect(latest(own.conversationId, own.activityId)).toBeNull();
    expect(latest(theirs.conversationId, theirs.activityId)).toBeNull();
    clock.advance(1.5 * MINUTE);
    await h.bot.scheduler.runDue();
    expect(findById(latest(own.conversationId, own.activityId), 'secret-value')).toBeUndefined();
    expect(findById(latest(theirs.conversationId, theirs.activityId), 'tech-secret-value')).toBeUndefined();
    for (const id of [session, plan]) {
      expect(h.bot.store.audit.query({ action: 'signin.secret-hidden', correlationId: id }).map((e) => [e.actorId, JSON.parse(e.details)])).toEqual([['system', { by: 'timer' }]]);
    }
    expect(secretLeaks(h, own.secret, own.conversationId)).toEqual([]);
    expect(secretLeaks(h, theirs.secret, theirs.conversationId)).toEqual([]);
  });

  it('a Temporary Access Pass: RECOVERY_TAP_MINUTES and RECOVERY_TAP_ONE_TIME unless the technician names a lifetime', async () => {
    const ravi = person(h, 'Ravi Shah');
    const said = await say(h, sarah(h), 'tap ravi.shah@northwind.example');
    expect(steps(said.cards[0])[0]).toMatch(/^Step 1: Issue a Temporary Access Pass = done: valid until .* UTC; sent to Sarah Mitchell's 1:1 chat$/);
    const plan = planOf(said.cards[0]);
    const [issued] = h.bot.store.audit.query({ action: 'signin.tap-issued', correlationId: plan });
    const details = JSON.parse(issued!.details);
    expect(details).toEqual({ lifetimeMinutes: 45, oneTime: false, validUntil: expect.any(String), verifiedBy: [{ method: 'technician', by: 'Sarah Mitchell' }], attempt: expect.any(Number) });
    // The demo directory starts passes on the real clock.
    expect(Math.abs(Date.parse(details.validUntil) - (Date.now() + 45 * MINUTE))).toBeLessThan(MINUTE);
    const pass = (await h.bot.directory.listAuthMethods(ravi.id)).find((m) => m.kind === 'temporaryAccessPass')!;
    expect(pass.hint).toMatch(/^expires /);
    const shown = technicianSecret(plan);
    expect(cardText(findById(shown.card, 'tech-secret-facts'))).toMatch(/any number of times while valid/);
    expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('a privileged account: the second technician is part of the verification, and the event names both', async () => {
    const julia = person(h, 'Julia Santos');
    const said = await say(h, sarah(h), 'tap julia.santos@northwind.example --minutes 30');
    const plan = planOf(said.cards[0]);
    expect(status(said.cards[0])).toMatch(/second technician's approval/);
    await press(h, sarah(h), 'tech.confirm', { plan });
    await press(h, ahmed(h), 'tech.approve', { plan });
    await settle();
    const [issued] = h.bot.store.audit.query({ action: 'signin.tap-issued', correlationId: plan });
    expect(JSON.parse(issued!.details)).toMatchObject({
      lifetimeMinutes: 30,
      verifiedBy: [
        { method: 'technician', by: 'Sarah Mitchell' },
        { method: 'technician', by: 'Ahmed Farouk' },
      ],
    });
    expect((await h.bot.directory.listAuthMethods(julia.id)).some((m) => m.kind === 'temporaryAccessPass')).toBe(true);
  });
});

describe('the verification is a parameter of the service call', () => {
  const notifier: Notifier = {
    sendToUser: async () => {
      throw new Error('not used');
    },
    update: async () => undefined,
    sendToTechnicians: async () => null,
    teamsUserId: (id) => id,
  };
  const actions = () =>
    new RecoveryActions({
      recovery: h.bot.config.recovery,
      maxJobAttempts: 3,
      store: h.bot.store,
      directory: h.bot.directory,
      notifier,
      logger: h.bot.logger,
      clock: clock.now,
      privileged: new PrivilegedResolver({ directory: h.bot.directory, privilegedGroupIds: h.tenant.privilegedGroupIds, technicianGroupId: h.tenant.technicianGroupId, logger: h.bot.logger }),
    });
  const outlet = (shown: string[]): SecretOutlet => ({
    card: (secret) => {
      shown.push(secret.kind);
      return { type: 'AdaptiveCard', version: '1.5', body: [] };
    },
    deliver: async () => ({ activityId: 'm-1', reference: {} }),
    remember: () => undefined,
  });

  it('a privileged account without a second, different technician is refused before anything changes', async () => {
    const jonas = person(h, 'Jonas Weber');
    const before = (await h.bot.directory.listAuthMethods(jonas.id)).map((m) => m.id);
    const auditBefore = h.bot.store.audit.count();
    const me = { id: sarah(h).id, name: 'Sarah Mitchell' };
    const subject = (await h.bot.directory.getUser(jonas.id))!;
    for (const approvedBy of [null, me, { id: jonas.id, name: 'Jonas Weber' }]) {
      const shown: string[] = [];
      const err = await actions()
        .issuePass(subject, { kind: 'technician', technician: me, approvedBy, correlationId: 'PLN-999001' }, {}, outlet(shown))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationRequiredError);
      expect((err as Error).message).toMatch(/privileged account: a second, different identity technician must approve/);
      expect(shown).toEqual([]);
    }
    await expect(actions().unlock(subject, { kind: 'technician', technician: { id: jonas.id, name: 'Jonas Weber' }, approvedBy: null, correlationId: 'PLN-999002' })).rejects.toBeInstanceOf(VerificationRequiredError);
    expect((await h.bot.directory.listAuthMethods(jonas.id)).map((m) => m.id)).toEqual(before);
    expect(h.bot.store.audit.count()).toBe(auditBefore);

    // With Ahmed's approval the same call goes through.
    const shown: string[] = [];
    const done = await actions().issuePass(subject, { kind: 'technician', technician: me, approvedBy: { id: ahmed(h).id, name: 'Ahmed Farouk' }, correlationId: 'PLN-999003' }, {}, outlet(shown));
    expect(done).toMatchObject({ delivered: true, lifetimeMinutes: 45, oneTime: false });
    expect(shown).toEqual(['pass']);
  });

  it('self-service acts only on a recovery claimed for completion, of the same user', async () => {
    const emily = (await h.bot.directory.getUser(h.user('employee').id))!;
    const pending = await sayPersonal(h, h.user('employee'), 'recover my mfa');
    const session = h.bot.store.recovery.get(sessionOf(pending))!;
    expect(session.state).toBe('verifying');
    await expect(actions().issuePass(emily, { kind: 'self-service', session }, {}, outlet([]))).rejects.toBeInstanceOf(VerificationRequiredError);
    const other = (await h.bot.directory.getUser(person(h, 'Ravi Shah').id))!;
    await expect(actions().resetPassword(other, { kind: 'self-service', session: { ...session, state: 'completing' } }, outlet([]))).rejects.toBeInstanceOf(VerificationRequiredError);
  });
});

describe('move sets the profile', () => {
  it('--manager sets the manager with the department and title, audited with what they were', async () => {
    const kevin = person(h, "Kevin O'Brien");
    const ethan = person(h, 'Ethan Park');
    const said = await say(h, sarah(h), `move "Kevin O'Brien" --department Engineering --title Software Engineer --manager ethan.park@northwind.example`);
    const note = findById(said.cards[0], 'tech-text').text as string;
    expect(note).toMatch(/^Done now \(PLN-\d+\): department Sales → Engineering, title Account Executive → Software Engineer, manager Jessica Ramirez → Ethan Park; added to /);
    expect(await h.bot.directory.getUser(kevin.id)).toMatchObject({ department: 'Engineering', jobTitle: 'Software Engineer' });
    expect((await h.bot.directory.getManager(kevin.id))?.id).toBe(ethan.id);
    const related = /^Done now \((PLN-\d+)\)/.exec(note)![1]!;
    const [updated] = h.bot.store.audit.query({ correlationId: related, action: 'technician.profile-updated' });
    expect(JSON.parse(updated!.details)).toMatchObject({ manager: { id: ethan.id, name: 'Ethan Park' }, from: { department: 'Sales', jobTitle: 'Account Executive', manager: 'Jessica Ramirez' } });
    // The old role's groups wait for the confirmation.
    expect(steps(said.cards[0])[0]).toMatch(/^Step 1: Remove from groups \(\d+\) = .*Sales Team/);
    await press(h, sarah(h), 'tech.cancel', { plan: planOf(said.cards[0]) });
  });

  it('a manager that is unknown, ambiguous or the user themself is refused, and nothing changes', async () => {
    const yuki = person(h, 'Yuki Sato');
    const before = await h.bot.directory.getUser(yuki.id);
    expect((await say(h, sarah(h), 'move yuki.sato@northwind.example --department Sales --manager Zebedee Quux')).texts[0]).toMatch(/^--manager: No user matches "Zebedee Quux".*Nothing was changed\.$/s);
    expect((await say(h, sarah(h), 'move yuki.sato@northwind.example --department Sales --manager ma')).texts[0]).toMatch(/^--manager "ma" matches .*Mateo Alvarez.*: give the manager's sign-in name\. Nothing was changed\.$/);
    expect((await say(h, sarah(h), 'move yuki.sato@northwind.example --department Sales --manager yuki.sato@northwind.example')).texts[0]).toBe('Yuki Sato cannot be their own manager. Nothing was changed.');
    expect((await say(h, sarah(h), `move yuki.sato@northwind.example --department ${'D'.repeat(65)}`)).texts[0]).toMatch(/--department is 65 characters long; at most 64/);
    expect(await h.bot.directory.getUser(yuki.id)).toEqual(before);
    expect((await h.bot.directory.getManager(yuki.id))?.displayName).toBe('Ethan Park');
  });

  it('Run again after a failed removal still gives up the old role’s groups', async () => {
    const yuki = person(h, 'Yuki Sato');
    const said = await say(h, sarah(h), 'move yuki.sato@northwind.example --department Sales');
    expect(await h.bot.directory.getUser(yuki.id)).toMatchObject({ department: 'Sales', jobTitle: 'QA Engineer' });
    const plan = planOf(said.cards[0]);
    const removing = steps(said.cards[0])[0]!;
    expect(removing).toMatch(/^Step 1: Remove from groups \(\d+\) = .*Engineering/);
    const original = h.bot.directory.batchMembershipChanges.bind(h.bot.directory);
    h.bot.directory.batchMembershipChanges = async () => {
      throw new ThrottledError('the directory is throttling requests', 5);
    };
    try {
      await press(h, sarah(h), 'tech.confirm', { plan });
      await settle();
    } finally {
      h.bot.directory.batchMembershipChanges = original;
    }
    expect(status(planCopies(h, plan)[0])).toMatch(/^Finished with problems/);
    h.connector.clear();
    await press(h, sarah(h), 'tech.rerun', { plan });
    const again = h.connector.sentTo(h.client.channelConversationId()).map(cardOf).filter(Boolean).pop();
    // The directory says Sales now; the groups given up are still Engineering's.
    expect(steps(again)).toEqual([removing]);
    await press(h, sarah(h), 'tech.confirm', { plan: planOf(again) });
    await settle();
    expect((await h.bot.directory.listUserGroups(yuki.id)).map((g) => g.displayName)).not.toContain('Engineering');
  });

  it('an account mastered on-premises keeps its department here: the step says so, the groups still follow', async () => {
    const liam = person(h, 'Liam Murphy');
    const before = await h.bot.directory.getUser(liam.id);
    const said = await say(h, sarah(h), 'move liam.murphy@northwind.example --department Sales --title Account Executive');
    const note = findById(said.cards[0], 'tech-text').text as string;
    expect(note).toMatch(/^Done now \(PLN-\d+\): mastered in on-premises Active Directory: change it there; added to /);
    expect(await h.bot.directory.getUser(liam.id)).toEqual(before);
    expect((await h.bot.directory.listUserGroups(liam.id)).map((g) => g.displayName)).toContain('Sales Team');
    await press(h, sarah(h), 'tech.cancel', { plan: planOf(said.cards[0]) });
  });
});

describe('whois shows the last sign-in', () => {
  it('the time and how long ago, or never', async () => {
    const emily = await say(h, sarah(h), 'whois emily.chen@northwind.example');
    expect(cardText(emily.cards[0])).toMatch(/Last sign-in\nTue 17 Nov 2026, 17:48 UTC \(7 days ago\)/);
    const mei = await say(h, sarah(h), 'whois Mei Tanaka');
    expect(cardText(mei.cards[0])).toMatch(/Last sign-in\nnever/);
  });
});
