import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { click, demoCode, demoUser, expectSentCardsValidAndChainIntact, requestAccess } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { findById } from '../support/teams-client';

/**
 * Fresh MFA on approvals (local mode, over HTTP), as an attacker tries it: one approver's
 * code typed by another, and two instances of the same card clicking Approve at once with
 * one code. Both held on the code before this file; kept so they keep holding.
 */
const PAYROLL = 'I need the payroll reports for two weeks because of the year-end audit';
let h: Harness;
let clock: TestClock;
beforeEach(async () => {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({}, { clock: clock.now });
});
afterEach(async () => {
  if (h) expectSentCardsValidAndChainIntact(h);
  await h?.stop();
});

describe('fresh MFA on approvals, attacked', () => {
  it("one approver's current code, typed by another approver, proves nothing for the second", async () => {
    const id = await requestAccess(h, h.user('employee'), PAYROLL);
    await click(h, h.user('manager'), 'access.approve', id, 1);
    expect(h.bot.store.requests.get(id)!.stage).toBe(2);
    const owner = demoUser(h, 'Olivia Hart');
    // Thomas's code of this very time step, which he has not used for anything yet.
    clock.advance(31_000);
    const stolen = demoCode(h, h.user('manager'));
    expect(stolen).not.toBe(demoCode(h, owner));
    const res = await click(h, owner, 'access.approve', id, 2, { mfaCode: stolen });
    expect(findById(res, 'access-banner').text).toMatch(/not right/);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });
    expect(h.bot.store.audit.query({ correlationId: id, action: 'signin.mfa-proven' }).filter((e) => e.actorId === owner.id)).toEqual([]);
  });

  it('two instances of the card approve at once with one code: one approval, one proof, the stage advanced once', async () => {
    const id = await requestAccess(h, h.user('employee'), PAYROLL);
    const thomas = h.user('manager');
    const code = demoCode(h, thomas);
    const [a, b] = await Promise.all([
      h.client.invoke(thomas, 'access.approve', { requestId: id, stage: 1, mfaCode: code }),
      h.client.invoke(thomas, 'access.approve', { requestId: id, stage: 1, mfaCode: code }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.approved' })).toHaveLength(1);
    expect(h.bot.store.requests.decisions(id)).toHaveLength(1);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });
    expect(h.bot.store.audit.query({ action: 'signin.mfa-proven' }).filter((e) => e.actorId === thomas.id)).toHaveLength(1);
    // The second click is not a failed verification of Thomas.
    expect(h.bot.store.recovery.countEvents(thomas.id, 'verification-failed', new Date(0))).toBe(0);
  });
});
