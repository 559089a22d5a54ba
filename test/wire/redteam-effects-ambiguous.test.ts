import { describe, expect, it } from 'vitest';
import { APP_ID, useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, cardText, findById, type TestUser } from '../support/teams-client';
import { planOf, problems } from '../technician/support';

/**
 * Production mode on the fake Graph: a directory change whose answer is lost (Graph makes
 * the change and then answers 500, or makes none and answers 500) is not "failed": the
 * directory is re-read right away and the trail says what it shows. Only a definite refusal
 * (a 400) is "failed".
 */
const CONNECTION = 'helpdesk-step-up';
const clock = new TestClock(new Date());
const rig = useProductionBot({
  dirPrefix: 'helpdesk-ambiguous-',
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
const lukas = demoTenant.users.find((u) => u.displayName === 'Lukas Novak')!;
const RESET = new RegExp(`^/users/${demoPersona('employee').id}$`);
const chat = (user: TestUser) => rig.client().personalConversationId(user);
const cardsIn = (user: TestUser) => rig.connector.sentTo(chat(user)).map(cardOf).filter(Boolean);
const trail = (id: string) => rig.bot.store.audit.query({ correlationId: id });
const actions = (id: string) => trail(id).map((e) => e.action);

let codes = 100_000;
/** Emily resets her password after a fresh MFA sign-in; returns the recovery id and the answer of the completing turn. */
async function resetPassword(): Promise<{ session: string; body: any }> {
  expect((await rig.client().message(emily(), 'reset my password')).status).toBe(200);
  const session = findById(cardsIn(emily()).at(-1), 'signin-step-up').data.session as string;
  expect((await rig.client().invoke(emily(), 'signin.step-up', { session })).status).toBe(200);
  const code = String(codes++);
  const token = rig.fakes.tokens!.sign({ oid: emily().id, aud: APP_ID, amr: ['pwd', 'mfa'], auth_time: Math.floor(clock.now().getTime() / 1000) - 60 });
  rig.fakes.tokens!.completeSignIn({ userId: `29:${emily().id}`, connectionName: CONNECTION, channelId: 'msteams', code, token });
  const res = await rig.client().post({ ...rig.client().base(emily()), type: 'invoke', name: 'signin/verifyState', value: { state: code } });
  expect(res.status).toBe(200);
  await rig.bot.scheduler.idle();
  return { session, body: res.body };
}

async function until(what: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function secondTick(): Promise<void> {
  // The directory keeps whole seconds: a later reset must be seen as a later change.
  await new Promise((r) => setTimeout(r, 1_100));
  clock.set(new Date());
}

describe('a password reset whose answer is lost', () => {
  it('Graph made it and answered 500: reconciled at once as done, never failed, the password never shown', async () => {
    const before = rig.graph.users.get(emily().id)!.lastPasswordChangeDateTime;
    rig.graph.inject({ status: 500, method: 'PATCH', path: RESET, afterApply: true });
    const { session } = await resetPassword();
    expect(rig.graph.users.get(emily().id)!.lastPasswordChangeDateTime).not.toBe(before);

    const events = trail(session);
    const intent = events.find((e) => e.action === 'signin.password-reset-attempted')!;
    expect(JSON.parse(events.find((e) => e.action === 'signin.effect-reconciled')!.details)).toMatchObject({ attempt: intent.seq, outcome: 'done' });
    expect(JSON.parse(events.find((e) => e.action === 'signin.recovery-reconciled')!.details)).toMatchObject({ outcome: 'done', cause: 'no-answer', shownToUser: false });
    expect(actions(session)).not.toContain('signin.recovery-failed');
    expect(actions(session)).not.toContain('signin.effect-error');
    expect(rig.bot.store.recovery.get(session)).toMatchObject({ state: 'completed', outcome: 'secret-not-shown' });
    expect(cardsIn(emily()).filter((c) => findById(c, 'secret-value'))).toEqual([]);
    const set = rig.graph.users.get(emily().id)!.lastPasswordSet!;
    expect(rig.bot.store.audit.query({}).some((e) => e.details.includes(set))).toBe(false);
    expect(rig.logs.some((l) => JSON.stringify(l).includes(set))).toBe(false);
    const ticket = rig.bot.store.technician.tickets.openFromSource(session, 'Sign-in recovery interrupted: Emily Chen');
    expect(ticket?.text).toMatch(/did not answer.*shows the change was made/s);
  });

  it('Graph did not make it and answered 500: reconciled at once as not done (the directory shows it)', async () => {
    await secondTick();
    const before = rig.graph.users.get(emily().id)!.lastPasswordChangeDateTime;
    rig.graph.inject({ status: 500, method: 'PATCH', path: RESET });
    const { session } = await resetPassword();
    expect(rig.graph.users.get(emily().id)!.lastPasswordChangeDateTime).toBe(before);
    expect(JSON.parse(trail(session).find((e) => e.action === 'signin.effect-reconciled')!.details)).toMatchObject({ outcome: 'not-done' });
    expect(JSON.parse(trail(session).find((e) => e.action === 'signin.recovery-failed')!.details)).toMatchObject({ reconciled: 1 });
    expect(rig.bot.store.recovery.get(session)).toMatchObject({ state: 'failed' });
  });

  it('a definite refusal (400) is failed, with its error on record', async () => {
    await secondTick();
    rig.graph.inject({ status: 400, method: 'PATCH', path: RESET });
    const { session } = await resetPassword();
    expect(actions(session)).toContain('signin.effect-error');
    expect(actions(session)).toContain('signin.recovery-failed');
    expect(actions(session)).not.toContain('signin.effect-reconciled');
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });
  it('Graph made it and the directory cannot be read again: outcome unknown (by the reconcile job), never failed', async () => {
    await secondTick();
    // The PATCH is made and answered 500; every read after it fails too, until the job gives up.
    rig.graph.inject({ status: 500, method: 'PATCH', path: RESET, afterApply: true });
    rig.graph.delay(300, { method: 'PATCH', path: RESET });
    const patches = rig.graph.calls('PATCH', RESET).length;
    const turn = resetPassword();
    await until(() => rig.graph.calls('PATCH', RESET).length > patches);
    rig.graph.inject({ status: 500, method: 'GET', path: RESET, times: 1_000 });
    const { session, body } = await turn;
    rig.graph.clearDelays();
    void body;
    expect(cardsIn(emily()).map((c) => cardText(c)).join('\n')).toMatch(/checking with it/);
    for (let i = 0; i < 12 && rig.bot.store.recovery.get(session)!.state === 'completing'; i++) {
      clock.advance(60 * 60_000);
      await rig.bot.scheduler.runDue();
    }
    rig.graph.clearFaults();
    expect(actions(session)).not.toContain('signin.recovery-failed');
    expect(JSON.parse(trail(session).find((e) => e.action === 'signin.recovery-reconciled')!.details)).toMatchObject({ outcome: 'unknown' });
    expect(rig.bot.store.recovery.get(session)).toMatchObject({ state: 'cancelled', outcome: 'outcome-unknown' });
  });

});

describe("a technician's step whose answer is lost", () => {
  it('disable made by Graph, answered 500: the step is reconciled as done at once, not failed', async () => {
    const client = rig.client();
    const conv = client.channelConversationId();
    const from = rig.connector.sentTo(conv).length;
    expect((await client.message(sarah(), `offboard ${lukas.userPrincipalName} --reason last working day`, { where: 'channel' })).status).toBe(200);
    const plan = planOf(rig.connector.sentTo(conv).slice(from).map(cardOf).filter(Boolean)[0]);
    const DISABLE = new RegExp(`^/users/${lukas.id}$`);
    rig.graph.inject({ status: 500, method: 'PATCH', path: DISABLE, afterApply: true });
    const res = await client.invoke(sarah(), 'tech.confirm', { plan }, { where: 'channel' });
    expect(res.status).toBe(200);
    expect(problems(res.body?.value)).toEqual([]);
    await rig.bot.scheduler.idle();
    expect(rig.graph.users.get(lukas.id)!.accountEnabled).toBe(false);
    const events = trail(plan);
    const intent = events.find((e) => e.action === 'technician.step-attempted' && JSON.parse(e.details).step === 'disable')!;
    expect(JSON.parse(events.find((e) => e.action === 'technician.step-reconciled')!.details)).toMatchObject({ attempt: intent.seq, step: 'disable', outcome: 'done' });
    expect(actions(plan)).not.toContain('technician.step-failed');
    const finished = JSON.parse(events.find((e) => e.action === 'technician.plan-finished')!.details);
    expect(finished.steps[0]).toEqual({ step: 'disable', status: 'done' });
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });

  it("an MFA method's removal made by Graph, answered 500: read back, counted as removed, not failed", async () => {
    const carlos = demoTenant.users.find((u) => u.displayName === 'Carlos Mendes')!;
    const client = rig.client();
    const conv = client.channelConversationId();
    const from = rig.connector.sentTo(conv).length;
    expect((await client.message(sarah(), `offboard ${carlos.userPrincipalName} --reason last working day`, { where: 'channel' })).status).toBe(200);
    const plan = planOf(rig.connector.sentTo(conv).slice(from).map(cardOf).filter(Boolean)[0]);
    const METHOD = new RegExp(`^/users/${carlos.id}/authentication/\\w+Methods/`);
    rig.graph.inject({ status: 500, method: 'DELETE', path: METHOD, afterApply: true, times: 10 });
    const res = await client.invoke(sarah(), 'tech.confirm', { plan }, { where: 'channel' });
    expect(res.status).toBe(200);
    await rig.bot.scheduler.idle();
    rig.graph.clearFaults();
    expect((await rig.bot.directory.listAuthMethods(carlos.id)).filter((m) => m.kind !== 'password')).toEqual([]);
    const events = trail(plan);
    const finished = JSON.parse(events.find((e) => e.action === 'technician.plan-finished')!.details);
    expect(finished.steps.find((s: { step: string }) => s.step === 'remove-mfa')).toEqual({ step: 'remove-mfa', status: 'done' });
    expect(events.find((e) => e.action === 'technician.mfa-removed')).toMatchObject({ outcome: 'success' });
    expect(actions(plan)).not.toContain('technician.step-failed');
  });
});
