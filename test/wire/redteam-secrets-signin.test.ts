import { afterEach, describe, expect, it } from 'vitest';
import { demoUser, expectSentCardsValid } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import {
  MINUTE,
  cardText,
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

/**
 * Sign-in recovery under attack: the secrets at the most verbose log level, the hiding of
 * the secret across a restart, forged and replayed card actions, and code guessing with
 * parallel clicks.
 */
let h: Harness | undefined;
let clock: TestClock;

async function start(env: Record<string, string> = {}): Promise<Harness> {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness(env, { clock: clock.now });
  return h;
}

afterEach(async () => {
  if (h) expectSentCardsValid(h);
  await h?.stop();
  h = undefined;
});

const emily = (x: Harness) => x.user('employee');
const thomas = (x: Harness) => x.user('manager');

async function resetWithCode(x: Harness): Promise<string> {
  const card = await say(x, emily(x), 'reset my password');
  const session = sessionOf(card);
  const done = await click(x, emily(x), 'signin.code', { session, code: phoneCode(x, emily(x), clock.now()) });
  expect(findById(done, 'signin-title').text).toBe('Done: password reset');
  return session;
}

async function mfaVerifiedByThomas(x: Harness): Promise<string> {
  const card = await say(x, emily(x), 'recover my mfa');
  const session = sessionOf(card);
  const u = x.tenant.users.find((m) => m.id === emily(x).id)!;
  const phone = u.authMethods.find((m) => m.kind === 'phone')!;
  await click(x, emily(x), 'signin.ask', { session, method: 'manager', lost: phone.id });
  await x.bot.scheduler.idle();
  const confirmed = await click(x, thomas(x), 'signin.confirm', { session, method: 'manager' });
  expect(findById(confirmed, 'attest-status').text).toMatch(/^Confirmed by Thomas Berg/);
  await x.bot.scheduler.idle();
  return session;
}

describe('the secrets at the most verbose log level', () => {
  it('with LOG_LEVEL=trace the temporary password and the pass are in no log line, no database byte (WAL included) and no other conversation', async () => {
    const x = await start({ LOG_LEVEL: 'trace' });
    await openTechniciansChannel(x);
    await resetWithCode(x);
    const password = secretMessage(x, emily(x).id);
    // The most verbose level is on: debug lines (the turns, the jobs) are written.
    expect(x.logs.some((l) => l.level <= 20)).toBe(true);
    expect(secretLeaks(x, password.secret, password.conversationId)).toEqual([]);
    await click(x, emily(x), 'signin.hide', { session: password.sessionId });

    clock.advance(MINUTE);
    const session = await mfaVerifiedByThomas(x);
    const done = await click(x, emily(x), 'signin.complete', { session });
    expect(findById(done, 'signin-title').text).toBe('Done: MFA recovery');
    const pass = secretMessage(x, emily(x).id);
    expect(pass.sessionId).toBe(session);
    clock.advance(11 * MINUTE);
    await x.bot.scheduler.runDue();
    expect(secretLeaks(x, pass.secret, pass.conversationId)).toEqual([]);
    // Nor is the password found anywhere once the pass was issued too.
    expect(secretLeaks(x, password.secret, password.conversationId)).toEqual([]);
    for (const e of x.bot.store.audit.query({})) expect(`${e.details}`).not.toMatch(new RegExp(`${pass.secret}|${password.secret}`));
  });
});

describe('the secret message is replaced on time', () => {
  it('after a restart between showing and hiding, the durable job still replaces the message', async () => {
    const x = await start();
    const session = await resetWithCode(x);
    const shown = secretMessage(x, emily(x).id);
    await x.restart();
    clock.advance(5 * MINUTE);
    await x.bot.scheduler.runDue();
    expect(currentVersion(x, shown.conversationId, shown.activityId)).toBeUndefined();
    await x.restart();
    clock.advance(6 * MINUTE);
    await x.bot.scheduler.runDue();
    const hidden = currentVersion(x, shown.conversationId, shown.activityId);
    expect(findById(hidden, 'secret-value')).toBeUndefined();
    expect(findById(hidden, 'secret-title').text).toBe('Temporary password: shown and hidden');
    expect(x.bot.store.audit.query({ correlationId: session, action: 'signin.secret-hidden' })).toHaveLength(1);
    expect(secretLeaks(x, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('"I have it" hides at once, and the timer later does not update the message again nor audit twice', async () => {
    const x = await start();
    const session = await resetWithCode(x);
    const shown = secretMessage(x, emily(x).id);
    const hidden = await click(x, emily(x), 'signin.hide', { session });
    expect(findById(hidden, 'secret-value')).toBeUndefined();
    expect(cardText(hidden)).not.toContain(shown.secret);
    clock.advance(11 * MINUTE);
    await x.bot.scheduler.runDue();
    expect(currentVersion(x, shown.conversationId, shown.activityId)).toBeUndefined();
    expect(x.bot.store.audit.query({ correlationId: session, action: 'signin.secret-hidden' })).toHaveLength(1);
  });
});

describe('forged and replayed card actions', () => {
  it("another user's session id, a completed one and a channel click change nothing and reveal nothing", async () => {
    const x = await start();
    const session = await resetWithCode(x);
    const shown = secretMessage(x, emily(x).id);
    const carlos = demoUser(x, 'Carlos Mendes');
    await x.bot.scheduler.idle();
    const seq = x.bot.store.audit.count();
    const sent = x.connector.calls.length;
    for (const verb of ['signin.hide', 'signin.complete', 'signin.code', 'signin.cancel', 'signin.ask']) {
      const res = await click(x, carlos, verb, { session, code: '123456', method: 'manager' });
      expect(findById(res, 'signin-title').text, verb).toBe('This card is no longer active');
      expect(cardText(res), verb).not.toContain(shown.secret);
      expect(cardText(res), verb).not.toContain('Emily');
    }
    // Emily replays her own completion and her hide: no second reset, no secret again.
    const again = await click(x, emily(x), 'signin.complete', { session });
    expect(cardText(again)).not.toContain(shown.secret);
    expect(findById(again, 'secret-value')).toBeUndefined();
    // From a channel, even her own session: only in a 1:1 chat.
    const inChannel = await click(x, emily(x), 'signin.complete', { session }, 'channel');
    expect(cardText(inChannel)).toMatch(/Only in a 1:1 chat/);
    expect(x.bot.store.audit.query({}, { afterSeq: seq })).toEqual([]);
    expect(x.connector.calls.slice(sent).filter((c) => c.kind === 'send' || c.kind === 'update')).toEqual([]);
    expect(x.bot.store.recovery.countEvents(emily(x).id, 'completed', new Date(0))).toBe(1);
    expect(secretLeaks(x, shown.secret, shown.conversationId)).toEqual([]);
  });

  it('an expired or cancelled recovery cannot be completed, and MFA recovery never takes a code of the lost factor', async () => {
    const x = await start();
    const session = await mfaVerifiedByThomas(x);
    // The phone Emily says she lost still shows codes: not a way to verify MFA recovery.
    const code = await click(x, emily(x), 'signin.code', { session, code: phoneCode(x, emily(x), clock.now()) });
    expect(findById(code, 'secret-value')).toBeUndefined();
    expect(x.bot.store.recovery.get(session)!.state).toBe('verified');
    // Past its 15 minutes the verified recovery is over.
    clock.advance(16 * MINUTE);
    const late = await click(x, emily(x), 'signin.complete', { session });
    expect(findById(late, 'secret-value')).toBeUndefined();
    expect(x.bot.store.recovery.get(session)!.state).toBe('expired');
    expect(recoveryAudit(x, session)).not.toContain('signin.tap-issued');
    expect((await x.bot.directory.listAuthMethods(emily(x).id)).some((m) => m.kind === 'temporaryAccessPass')).toBe(false);

    // A fresh MFA recovery: a code click does nothing, the user cannot confirm for herself.
    const card = await say(x, emily(x), 'recover my mfa');
    const s2 = sessionOf(card);
    expect(findById(card, 'code')).toBeUndefined();
    const typed = await click(x, emily(x), 'signin.code', { session: s2, code: phoneCode(x, emily(x), new Date(clock.now().getTime() + 30_000)) });
    expect(findById(typed, 'signin-banner').text).toMatch(/not needed/);
    const self = await click(x, emily(x), 'signin.confirm', { session: s2, method: 'manager' });
    expect(cardText(self)).toMatch(/cannot verify your own identity/);
    const forged = await click(x, emily(x), 'signin.ask', { session: s2, method: 'code' });
    expect(findById(forged, 'signin-banner')).toBeUndefined();
    expect(x.bot.store.recovery.get(s2)!.state).toBe('verifying');
    expect(x.bot.store.recovery.verifications(s2).filter((v) => v.state === 'confirmed')).toEqual([]);
  });
});

describe('code guessing', () => {
  it('eight wrong codes clicked at once lock self-service exactly once, with one alert, and the lock holds across a restart', async () => {
    const x = await start();
    await openTechniciansChannel(x);
    const card = await say(x, emily(x), 'reset my password');
    const session = sessionOf(card);
    const wrong = wrongCode(x, emily(x), clock.now());
    const answers = await Promise.all(Array.from({ length: 8 }, () => x.client.invoke(emily(x), 'signin.code', { session, code: wrong })));
    for (const a of answers) expect(a.status).toBe(200);
    expect(x.bot.store.audit.query({ action: 'signin.self-service-locked' })).toHaveLength(1);
    expect(x.bot.store.recovery.get(session)).toMatchObject({ state: 'refused', outcome: 'locked-out' });
    const alerts = channelCards(x).filter((c) => findById(c, 'notice-title')?.text === 'Self-service locked: Emily Chen');
    expect(alerts).toHaveLength(1);
    // At most the four answers before the lock still take a code; none after it.
    expect(answers.filter((a) => findById(a.body.value, 'code')).length).toBeLessThanOrEqual(4);
    expect(answers.filter((a) => /locked/.test(cardText(a.body.value))).length).toBeGreaterThanOrEqual(1);
    // Every failure counted is audited.
    expect(x.bot.store.audit.query({ action: 'signin.verification-failed' }).length).toBe(x.bot.store.recovery.countEvents(emily(x).id, 'verification-failed', new Date(0)));

    await x.restart();
    clock.advance(23 * 60 * MINUTE);
    const locked = await say(x, emily(x), 'reset my password');
    expect(findById(locked, 'signin-title').text).toBe('Self-service is locked for now');
    expect((await x.bot.directory.getSignInState(emily(x).id)).passwordChangeRequired).toBe(false);
    expect(lastCardFor(x, emily(x).id)).toBeDefined();
  });
});
