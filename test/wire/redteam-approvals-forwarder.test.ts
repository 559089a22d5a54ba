import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { click, demoUser, expectSentCardsValidAndChainIntact, requestAccess, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardText } from '../support/teams-client';

/**
 * Two stages, two people, over the real server: whoever forwarded an earlier stage chose who
 * decided it, so they may not approve a later stage of the same request either (a manager who
 * is also the resource's owner cannot hand stage 1 to someone and approve stage 2 themselves).
 */
let h: Harness;

beforeEach(async () => {
  h = await startHarness({}, { clock: new TestClock('2026-03-02T09:00:00.000Z').now });
});
afterEach(async () => {
  if (h) expectSentCardsValidAndChainIntact(h);
  await h?.stop();
});

const PAYROLL = 'I need the payroll reports for two weeks because of the year-end audit';

describe('a forwarder of an earlier stage', () => {
  it('cannot approve a later stage as its policy approver; the other owner still can', async () => {
    // Mateo's manager is Olivia Hart, who is also an owner of Payroll Reports (its stage 2).
    const mateo = demoUser(h, 'Mateo Alvarez');
    const olivia = demoUser(h, 'Olivia Hart');
    const rajesh = demoUser(h, 'Rajesh Iyer');
    const rebecca = demoUser(h, 'Rebecca Stone');
    const id = await requestAccess(h, mateo, PAYROLL);
    await click(h, olivia, 'access.forward', id, 1, { delegate: rajesh.userPrincipalName });
    await click(h, rajesh, 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });

    const own = await click(h, olivia, 'access.approve', id, 2);
    expect(cardText(own)).toMatch(/earlier stage/);
    await settle(h);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.approved' }).map((e) => e.actorId)).toEqual([rajesh.id]);

    await click(h, rebecca, 'access.approve', id, 2);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).not.toBe('pending');
  });
});
