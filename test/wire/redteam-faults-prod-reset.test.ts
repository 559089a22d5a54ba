import { describe, expect, it } from 'vitest';
import { cardProblems } from '../cards/validate';
import { APP_ID, useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, cardText, findById, type TestUser } from '../support/teams-client';

/**
 * Production mode on the fake Graph and the fake Bot Framework token service: an employee
 * verifies a password reset by signing in again with MFA (step-up), and Graph answers 503 to
 * the reset itself. No password is shown, the card says the directory did not answer and to
 * try again, the technicians get a ticket, the trail says what happened; a replay of the
 * sign-in changes nothing, and a new attempt once Graph answers shows the password once.
 */
const CONNECTION = 'helpdesk-step-up';
// Step-up tokens are checked against the bot's clock: it starts at the real time.
const clock = new TestClock(new Date());
const rig = useProductionBot({
  dirPrefix: 'helpdesk-faults-reset-',
  clock,
  tokenService: true,
  env: (fakes) => ({
    GRAPH_RETRY_MAX_SECONDS: '1',
    STEP_UP_CONNECTION_NAME: CONNECTION,
    STEP_UP_OPENID_METADATA_URL: fakes.tokens!.metadataUrl,
    STEP_UP_ACRS: 'c1',
    RECOVERY_PRIVILEGED_GROUP_IDS: demoTenant.privilegedGroupIds.join(','),
  }),
});

const emily = () => demoPersona('employee');
const sarah = () => demoPersona('technician');
const RESET = new RegExp(`^/users/${demoPersona('employee').id}$`);
const tokens = () => rig.fakes.tokens!;
const chat = (user: TestUser) => rig.client().personalConversationId(user);
const cardsIn = (user: TestUser, from = 0) => rig.connector.sentTo(chat(user)).slice(from).map(cardOf).filter(Boolean);
const secretCards = () => cardsIn(emily()).filter((c) => findById(c, 'secret-value'));

/** Emily asks for a reset and clicks "Sign in again with MFA"; the recovery's id. */
async function stepUp(): Promise<string> {
  expect((await rig.client().message(emily(), 'reset my password')).status).toBe(200);
  const session = findById(cardsIn(emily()).at(-1), 'signin-step-up').data.session as string;
  const res = await rig.client().invoke(emily(), 'signin.step-up', { session });
  expect(res.status).toBe(200);
  expect(cardText(res.body.value)).toMatch(/Use the sign-in card below/);
  return session;
}

/** She signs in with fresh MFA; Teams sends `signin/verifyState` with the magic code: the cards she then got. */
async function signInWithMfa(code: string): Promise<any[]> {
  const token = tokens().sign({ oid: emily().id, aud: APP_ID, amr: ['pwd', 'mfa'], auth_time: Math.floor(clock.now().getTime() / 1000) - 60 });
  tokens().completeSignIn({ userId: `29:${emily().id}`, connectionName: CONNECTION, channelId: 'msteams', code, token });
  return verifyState(code);
}

async function verifyState(code: string): Promise<any[]> {
  const before = rig.connector.sentTo(chat(emily())).length;
  const res = await rig.client().post({ ...rig.client().base(emily()), type: 'invoke', name: 'signin/verifyState', value: { state: code } });
  expect(res.status).toBe(200);
  const cards = cardsIn(emily(), before);
  for (const c of cards) expect(cardProblems(c)).toEqual([]);
  return cards;
}

describe("an employee's own password reset when Graph answers 503 after the step-up sign-in", () => {
  it('shows no password, says the directory did not answer, tells the technicians, and a new attempt shows the password once', async () => {
    // The technicians' channel is known (a technician talked there).
    expect((await rig.client().message(sarah(), 'pending', { where: 'channel' })).status).toBe(200);
    const channel = rig.client().channelConversationId();
    const stateBefore = await rig.bot.directory.getSignInState(emily().id);

    rig.graph.inject({ status: 503, times: 10_000, method: 'PATCH', path: RESET });
    const session = await stepUp();
    const answer = await signInWithMfa('482913');
    await rig.bot.scheduler.idle();

    // The PATCH was tried and failed; no password anywhere.
    expect(rig.graph.calls('PATCH', RESET).map((r) => r.status).every((s) => s === 503)).toBe(true);
    expect(rig.graph.calls('PATCH', RESET).length).toBeGreaterThan(0);
    expect(secretCards()).toEqual([]);
    expect(rig.graph.users.get(emily().id)!.lastPasswordSet).toBeUndefined();
    expect(await rig.bot.directory.getSignInState(emily().id)).toEqual(stateBefore);
    // The card: not done, the directory did not answer, try again; no stack.
    const text = answer.map(cardText).join('\n');
    expect(text).toMatch(/not done/i);
    expect(text).toMatch(/directory did not answer/i);
    expect(text).toMatch(/try again/i);
    expect(text).toMatch(/technicians were told/i);
    expect(text).not.toMatch(/Done: password reset/);
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
    // The trail: verified, then failed; no reset.
    expect(rig.bot.store.recovery.get(session)).toMatchObject({ state: 'failed' });
    const trail = rig.bot.store.audit.query({ correlationId: session });
    expect(trail.filter((e) => e.action === 'signin.verified')).toHaveLength(1);
    const failed = trail.filter((e) => e.action === 'signin.recovery-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.outcome).toBe('failure');
    expect(trail.filter((e) => e.action === 'signin.password-reset')).toEqual([]);
    // The technicians have a ticket, and its card is in their channel.
    const ticket = rig.bot.store.technician.tickets.listOpen().find((t) => t.sourceRef === session || t.title === 'Sign-in recovery failed: Emily Chen');
    expect(ticket).toBeDefined();
    expect(ticket!.text).toMatch(/HTTP 503/);
    const channelPosts = () => rig.connector.calls.filter((c) => c.kind === 'reply' && c.conversationId?.split(';')[0] === channel.split(';')[0]);
    expect(channelPosts().map((c) => cardOf(c.body)).filter((c) => c && cardText(c).includes('Sign-in recovery failed: Emily Chen'))).toHaveLength(1);
    // Not counted as a failed verification of her.
    expect(rig.bot.store.recovery.countEvents(emily().id, 'verification-failed', new Date(0))).toBe(0);

    // Graph recovers. A replay of the same sign-in answer resets nothing.
    rig.graph.clearFaults();
    const replay = await verifyState('482913');
    expect(replay.map(cardText).join('\n')).not.toMatch(/Done: password reset/);
    expect(secretCards()).toEqual([]);
    expect(rig.graph.calls('PATCH', RESET).filter((r) => r.status === 204 || r.status === 200)).toEqual([]);

    // A new attempt: verified again, the password shown once.
    const second = await stepUp();
    const done = await signInWithMfa('773104');
    await rig.bot.scheduler.idle();
    expect(done.some((c) => findById(c, 'signin-title')?.text === 'Done: password reset')).toBe(true);
    expect(secretCards()).toHaveLength(1);
    const shown = String(findById(secretCards()[0], 'secret-value').text);
    expect(rig.graph.users.get(emily().id)!.lastPasswordSet).toBe(shown);
    expect(rig.bot.store.recovery.get(second)).toMatchObject({ state: 'completed' });
    expect(rig.bot.store.audit.query({ correlationId: second, action: 'signin.password-reset' })).toHaveLength(1);
    expect(rig.bot.store.audit.query({ action: 'signin.password-reset' })).toHaveLength(1);
    expect((await rig.bot.directory.getSignInState(emily().id)).passwordChangeRequired).toBe(true);
    // The password is nowhere but her card: not in the logs, the trail or the technicians' channel.
    expect(rig.logs.some((l) => JSON.stringify(l).includes(shown))).toBe(false);
    expect(rig.bot.store.audit.query({}).some((e) => e.details.includes(shown))).toBe(false);
    expect(JSON.stringify(channelPosts())).not.toContain(shown);
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });
});

describe("an employee's own password reset when Graph throttles it once", () => {
  it('is retried after Retry-After 0: done, the password shown once, one reset on record', async () => {
    clock.advance(60_000);
    const secretsBefore = secretCards().length;
    rig.graph.inject({ status: 429, retryAfter: 0, times: 1, method: 'PATCH', path: RESET });
    const callsBefore = rig.graph.calls('PATCH', RESET).length;
    const session = await stepUp();
    const done = await signInWithMfa('551207');
    await rig.bot.scheduler.idle();
    expect(done.some((c) => findById(c, 'signin-title')?.text === 'Done: password reset')).toBe(true);
    expect(rig.graph.calls('PATCH', RESET).slice(callsBefore).map((r) => r.status)).toEqual([429, 204]);
    expect(secretCards()).toHaveLength(secretsBefore + 1);
    expect(rig.graph.users.get(emily().id)!.lastPasswordSet).toBe(String(findById(secretCards().at(-1), 'secret-value').text));
    expect(rig.bot.store.audit.query({ correlationId: session, action: 'signin.password-reset' })).toHaveLength(1);
    expect(rig.bot.store.audit.query({ correlationId: session, action: 'signin.recovery-failed' })).toEqual([]);
  });
});

describe("an employee's own password reset when Graph does not answer the reads at the sign-in's answer", () => {
  it('tells her in the chat that the directory did not answer, changes nothing, and signing in again works once Graph answers', async () => {
    clock.advance(60_000);
    const secretsBefore = secretCards().length;
    const patchesBefore = rig.graph.calls('PATCH', RESET).length;
    const session = await stepUp();
    rig.graph.inject({ status: 503, times: 10_000, method: 'GET', path: RESET });
    const answer = await signInWithMfa('604411');
    await rig.bot.scheduler.idle();
    // Teams shows nothing of the sign-in invoke's own answer: the notice is in her chat.
    expect(answer).toHaveLength(1);
    expect(findById(answer[0], 'notice-title').text).toBe('The directory is not available');
    expect(cardText(answer[0])).toMatch(/could not reach the company directory just now, so nothing was changed\. Please try again/);
    expect(cardText(answer[0])).not.toMatch(/\bat .+\.(ts|js):\d+/);
    expect(secretCards()).toHaveLength(secretsBefore);
    expect(rig.graph.calls('PATCH', RESET)).toHaveLength(patchesBefore);
    expect(rig.bot.store.recovery.get(session)).toMatchObject({ state: 'verifying' });
    expect(rig.bot.store.audit.query({ correlationId: session }).map((e) => e.action)).toEqual(['signin.recovery-started']);

    rig.graph.clearFaults();
    const res = await rig.client().invoke(emily(), 'signin.step-up', { session });
    expect(cardText(res.body.value)).toMatch(/Use the sign-in card below/);
    const done = await signInWithMfa('604412');
    expect(done.some((c) => findById(c, 'signin-title')?.text === 'Done: password reset')).toBe(true);
    expect(secretCards()).toHaveLength(secretsBefore + 1);
    expect(rig.bot.store.audit.query({ correlationId: session, action: 'signin.password-reset' })).toHaveLength(1);
  });
});
