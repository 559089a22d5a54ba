import { describe, expect, it } from 'vitest';
import { useProductionBot } from '../support/production-rig';
import { cardProblems } from '../cards/validate';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, cardText, findById, type TestUser } from '../support/teams-client';

/**
 * Production mode on the fake Graph: an employee's MFA recovery, verified by her manager,
 * meets Graph answering 503 when the pass is created, and when her account is read again at
 * the moment of the change. Nothing half-done is shown as done, no pass is shown twice, she
 * gets a clear message, the trail says what happened, and she can try again.
 */
const TAP_PATH = /^\/users\/[^/]+\/authentication\/temporaryAccessPassMethods$/;

const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({ dirPrefix: 'helpdesk-faults-signin-', clock, env: { GRAPH_RETRY_MAX_SECONDS: '1', RECOVERY_PRIVILEGED_GROUP_IDS: demoTenant.privilegedGroupIds.join(',') } });

const emily = () => demoPersona('employee');
const thomas = () => demoPersona('manager');

async function say(user: TestUser, text: string): Promise<any> {
  const client = rig.client();
  const conv = client.personalConversationId(user);
  const before = rig.connector.sentTo(conv).length;
  expect((await client.message(user, text)).status).toBe(200);
  const card = rig.connector.sentTo(conv).slice(before).map(cardOf).filter(Boolean).pop();
  expect(cardProblems(card)).toEqual([]);
  return card;
}

async function click(user: TestUser, verb: string, data: Record<string, unknown>): Promise<any> {
  const res = await rig.client().invoke(user, verb, data);
  expect(res.status).toBe(200);
  expect(cardProblems(res.body?.value)).toEqual([]);
  return res.body.value;
}

/** Cards in Emily's chat that carry a pass (the secret's message). */
function passCards(): any[] {
  const conv = rig.client().personalConversationId(emily());
  return rig.connector.sentTo(conv).map(cardOf).filter((c) => c && findById(c, 'secret-hide'));
}

/** Emily asks to recover her MFA, says her phone is lost, and Thomas confirms it is her. */
async function verifiedByThomas(): Promise<string> {
  const card = await say(emily(), 'recover my mfa');
  const session = findById(card, 'signin-cancel').data.session as string;
  const phone = demoTenant.users.find((u) => u.id === emily().id)!.authMethods.find((m) => m.kind === 'phone')!;
  await click(emily(), 'signin.ask', { session, method: 'manager', lost: phone.id });
  await rig.bot.scheduler.idle();
  const confirmed = await click(thomas(), 'signin.confirm', { session, method: 'manager' });
  expect(findById(confirmed, 'attest-status').text).toMatch(/^Confirmed by Thomas Berg/);
  await rig.bot.scheduler.idle();
  expect(rig.bot.store.recovery.get(session)!.state).toBe('verified');
  return session;
}

const tapsOf = (id: string) => rig.graph.users.get(id)!.methods.filter((m) => m.kind === 'temporaryAccessPass');

describe('MFA recovery when Graph is unavailable after verification', () => {
  it('a 503 on creating the pass: no pass shown, the removed phone on record, a clear message, and a new recovery works', async () => {
    const session = await verifiedByThomas();
    rig.graph.inject({ status: 503, times: 1, method: 'POST', path: TAP_PATH });
    const failed = await click(emily(), 'signin.complete', { session });
    const text = cardText(failed);
    expect(text).not.toMatch(/^Done/);
    expect(text).toMatch(/not done/i);
    expect(text).toMatch(/did not answer/i);
    expect(text).toMatch(/try again/i);
    // The phone removed before the failure is not hidden behind "not made".
    expect(text).toMatch(/lost methods you named were removed/i);
    expect(text).not.toMatch(/so it was not made/);
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
    expect(passCards()).toEqual([]);
    expect(tapsOf(emily().id)).toEqual([]);
    expect(rig.bot.store.recovery.get(session)!.state).toBe('failed');
    const actions = rig.bot.store.audit.query({ correlationId: session }).map((e) => e.action);
    // The phone was removed before the failure: that is on record, the pass is not.
    expect(actions.filter((a) => a === 'signin.methods-removed')).toHaveLength(1);
    expect(actions).not.toContain('signin.tap-issued');
    expect(actions.filter((a) => a === 'signin.recovery-failed')).toHaveLength(1);
    // A second click on the same card does not try again behind her back.
    const again = await click(emily(), 'signin.complete', { session });
    expect(cardText(again)).not.toMatch(/Done: MFA recovery/);
    expect(rig.graph.calls('POST', TAP_PATH).map((r) => r.status)).toEqual([503]);

    // A new recovery (verified again) gives her one pass.
    await rig.bot.scheduler.idle();
    const second = await verifiedByThomas();
    const done = await click(emily(), 'signin.complete', { session: second });
    expect(findById(done, 'signin-title').text).toBe('Done: MFA recovery');
    expect(passCards()).toHaveLength(1);
    expect(tapsOf(emily().id)).toHaveLength(1);
    expect(rig.bot.store.audit.query({ correlationId: second, action: 'signin.tap-issued' })).toHaveLength(1);
  });

  it('a 503 when her account is read again at the change: nothing changed, the recovery not stuck, and the same card works once Graph answers', async () => {
    clock.advance(60 * 60_000);
    await rig.bot.scheduler.runDue();
    const passesBefore = passCards().length;
    const tapPostsBefore = rig.graph.calls('POST', TAP_PATH).length;
    const session = await verifiedByThomas();
    const reads = new RegExp(`^/users/${emily().id}$`);
    // The turn's own read of the acting user goes through; the read at the change fails.
    const before = rig.graph.calls('GET', reads).length;
    await click(emily(), 'signin.hide', { session: 'SR-NONE' });
    const readsPerClick = rig.graph.calls('GET', reads).length - before;
    rig.graph.inject({ status: 503, times: 1, method: 'GET', path: reads, skip: readsPerClick });
    const failed = await click(emily(), 'signin.complete', { session });
    // The read at the change is the one that failed.
    expect(rig.graph.calls('GET', reads).filter((r) => r.status === 503)).toHaveLength(1);
    expect(cardText(failed)).toMatch(/could not reach the company directory/i);
    expect(cardText(failed)).toMatch(/nothing was changed/i);
    expect(cardText(failed)).not.toMatch(/Done: MFA recovery/);
    expect(passCards()).toHaveLength(passesBefore);
    expect(rig.graph.calls('POST', TAP_PATH)).toHaveLength(tapPostsBefore);
    expect(rig.bot.store.recovery.get(session)!.state).not.toBe('completing');

    const done = await click(emily(), 'signin.complete', { session });
    expect(findById(done, 'signin-title').text).toBe('Done: MFA recovery');
    expect(passCards()).toHaveLength(passesBefore + 1);
    expect(rig.bot.store.audit.query({ correlationId: session, action: 'signin.tap-issued' })).toHaveLength(1);
  });
});
