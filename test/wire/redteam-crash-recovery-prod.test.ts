import { describe, expect, it } from 'vitest';
import { APP_ID, useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, cardText, findById, type TestUser } from '../support/teams-client';

/**
 * Production mode on the fake Graph: the process stops while Graph is making an employee's
 * password reset (the PATCH is on its way, its outcome not yet recorded). The intent is on
 * record before the call; the next start re-reads the directory and records what actually
 * happened - done (the password was set, never shown: she starts again) or not done - and
 * never "failed" for a reset that was made.
 */
const CONNECTION = 'helpdesk-step-up';
const clock = new TestClock(new Date());
const rig = useProductionBot({
  dirPrefix: 'helpdesk-crash-recovery-',
  clock,
  tokenService: true,
  env: (fakes) => ({
    GRAPH_RETRY_MAX_SECONDS: '1',
    SHUTDOWN_GRACE_SECONDS: '1',
    STEP_UP_CONNECTION_NAME: CONNECTION,
    STEP_UP_OPENID_METADATA_URL: fakes.tokens!.metadataUrl,
    STEP_UP_ACRS: 'c1',
    RECOVERY_PRIVILEGED_GROUP_IDS: demoTenant.privilegedGroupIds.join(','),
  }),
});

const emily = () => demoPersona('employee');
const sarah = () => demoPersona('technician');
const RESET = new RegExp(`^/users/${demoPersona('employee').id}$`);
const chat = (user: TestUser) => rig.client().personalConversationId(user);
const cardsIn = (user: TestUser, from = 0) => rig.connector.sentTo(chat(user)).slice(from).map(cardOf).filter(Boolean);
const secretCards = () => cardsIn(emily()).filter((c) => findById(c, 'secret-value'));

async function until(what: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Emily verifies with a fresh MFA sign-in; the turn that resets her password is left running. Returns the recovery id. */
async function verifiedResetInFlight(code: string): Promise<string> {
  expect((await rig.client().message(emily(), 'reset my password')).status).toBe(200);
  const session = findById(cardsIn(emily()).at(-1), 'signin-step-up').data.session as string;
  expect((await rig.client().invoke(emily(), 'signin.step-up', { session })).status).toBe(200);
  const token = rig.fakes.tokens!.sign({ oid: emily().id, aud: APP_ID, amr: ['pwd', 'mfa'], auth_time: Math.floor(clock.now().getTime() / 1000) - 60 });
  rig.fakes.tokens!.completeSignIn({ userId: `29:${emily().id}`, connectionName: CONNECTION, channelId: 'msteams', code, token });
  const patches = rig.graph.calls('PATCH', RESET).length;
  // Not awaited: the process stops while this turn waits for Graph.
  void rig
    .client()
    .post({ ...rig.client().base(emily()), type: 'invoke', name: 'signin/verifyState', value: { state: code } })
    .catch(() => undefined);
  await until(() => rig.graph.calls('PATCH', RESET).length > patches);
  return session;
}

const trail = (session: string) => rig.bot.store.audit.query({ correlationId: session });
const actions = (session: string) => trail(session).map((e) => e.action);

describe('a stop while the directory makes a password reset', () => {
  it('the reset was made: the restart records it as done, shows no password, tells her to start again and the technicians', async () => {
    expect((await rig.client().message(sarah(), 'pending', { where: 'channel' })).status).toBe(200);
    const before = rig.graph.users.get(emily().id)!.lastPasswordChangeDateTime;
    // Graph takes 2.5 s to make the change: the bot stops (1 s grace) before the answer.
    rig.graph.delay(2_500, { method: 'PATCH', path: RESET });
    const session = await verifiedResetInFlight('482913');
    expect(actions(session)).toContain('signin.password-reset-attempted');
    expect(actions(session)).not.toContain('signin.password-reset');

    await rig.restart(async () => {
      // The directory made the change while the bot was down.
      await until(() => rig.graph.users.get(emily().id)!.lastPasswordChangeDateTime !== before);
      rig.graph.clearDelays();
    });
    await rig.bot.scheduler.idle();

    const events = trail(session);
    const intent = events.find((e) => e.action === 'signin.password-reset-attempted')!;
    const reconciled = events.filter((e) => e.action === 'signin.effect-reconciled');
    expect(reconciled).toHaveLength(1);
    expect(JSON.parse(reconciled[0]!.details)).toMatchObject({ attempt: intent.seq, effect: 'signin.password-reset', outcome: 'done' });
    expect(reconciled[0]!.seq).toBeGreaterThan(intent.seq);
    const ended = events.filter((e) => e.action === 'signin.recovery-reconciled');
    expect(ended).toHaveLength(1);
    expect(JSON.parse(ended[0]!.details)).toMatchObject({ flow: 'password', outcome: 'done', shownToUser: false });
    // Never "failed" for a reset that was made.
    expect(actions(session)).not.toContain('signin.recovery-failed');
    expect(events.filter((e) => e.outcome === 'failure')).toEqual([]);
    expect(rig.bot.store.recovery.get(session)).toMatchObject({ state: 'completed', outcome: 'secret-not-shown' });

    // No password was shown or kept; her card says to start again (a new one is issued then).
    expect(secretCards()).toEqual([]);
    const set = rig.graph.users.get(emily().id)!.lastPasswordSet!;
    expect(set).toBeTruthy();
    expect(rig.bot.store.audit.query({}).some((e) => e.details.includes(set))).toBe(false);
    expect(rig.logs.some((l) => JSON.stringify(l).includes(set))).toBe(false);
    const updates = rig.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === chat(emily())).map((c) => cardOf(c.body));
    const last = updates.filter((c) => c && cardText(c).includes(session)).at(-1);
    expect(cardText(last)).toMatch(/never shown/);
    expect(findById(last, 'signin-again')).toMatchObject({ verb: 'signin.start', data: { flow: 'password' } });
    // The technicians have one ticket that says the change was made.
    const ticket = rig.bot.store.technician.tickets.openFromSource(session, 'Sign-in recovery interrupted: Emily Chen');
    expect(ticket?.text).toMatch(/shows the change was made/);

    // Another start changes nothing more.
    await rig.restart();
    await rig.bot.scheduler.idle();
    expect(trail(session).filter((e) => e.action === 'signin.effect-reconciled')).toHaveLength(1);
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });

  it('the reset was not made: the restart records it as not done, and the recovery as failed for that reason', async () => {
    // Past the first test's change (the directory keeps whole seconds).
    await new Promise((r) => setTimeout(r, 1_100));
    clock.set(new Date());
    const before = rig.graph.users.get(emily().id)!.lastPasswordChangeDateTime;
    // Graph never answers while the bot runs.
    rig.graph.delay(600_000, { method: 'PATCH', path: RESET });
    const session = await verifiedResetInFlight('773104');
    await rig.restart(() => rig.graph.clearDelays());
    await rig.bot.scheduler.idle();

    expect(rig.graph.users.get(emily().id)!.lastPasswordChangeDateTime).toBe(before);
    const events = trail(session);
    const intent = events.find((e) => e.action === 'signin.password-reset-attempted')!;
    const reconciled = events.filter((e) => e.action === 'signin.effect-reconciled');
    expect(reconciled.map((e) => JSON.parse(e.details))).toEqual([expect.objectContaining({ attempt: intent.seq, outcome: 'not-done' })]);
    expect(JSON.parse(events.find((e) => e.action === 'signin.recovery-failed')!.details)).toMatchObject({ reason: 'interrupted', reconciled: 1 });
    expect(actions(session)).not.toContain('signin.recovery-reconciled');
    expect(rig.bot.store.recovery.get(session)).toMatchObject({ state: 'failed', outcome: 'interrupted-not-done' });
    expect(secretCards()).toEqual([]);
  });
});
