import { describe, expect, it } from 'vitest';
import { freshHarnessPerTest } from '../support/access';
import { TestClock, type Harness } from '../support/harness';
import { cardText, channelCards, click, findById, lastCardFor, openTechniciansChannel, recoveryAudit, say, sessionOf } from '../support/signin';

/**
 * A stop between the claim of a verified recovery ("go on") and its outcome: no turn is left
 * to finish it (its secret could only be shown in that turn), so the next start ends it,
 * once, on the record, and tells the user and the technicians.
 */
let h: Harness;
let clock: TestClock;
freshHarnessPerTest((bot, c) => ((h = bot), (clock = c)));

const emily = () => h.user('employee');
const thomas = () => h.user('manager');

/** Emily loses her phone, Thomas confirms: her recovery is verified, her card offers to go on. */
async function verifiedMfaRecovery(): Promise<string> {
  await openTechniciansChannel(h);
  const card = await say(h, emily(), 'recover my MFA');
  const session = sessionOf(card);
  const lost = h.tenant.users.find((u) => u.id === emily().id)!.authMethods.find((m) => m.kind === 'phone')!;
  await click(h, emily(), 'signin.ask', { session, method: 'manager', lost: lost.id });
  await h.bot.scheduler.idle();
  await click(h, thomas(), 'signin.confirm', { session, method: 'manager' });
  await h.bot.scheduler.idle();
  expect(findById(lastCardFor(h, emily().id), 'signin-complete')).toBeDefined();
  return session;
}

describe('a sign-in recovery cut short by a stop', () => {
  it('ends as interrupted at the next start, once: audited, the card says so, the technicians are told, no second pass', async () => {
    const session = await verifiedMfaRecovery();
    // The click's claim committed, the directory issued the pass, then the process died before the outcome was written.
    expect(h.bot.store.transaction(() => h.bot.store.recovery.transition(session, 'verified', 'completing'))).toBe(true);
    await h.bot.directory.createTemporaryAccessPass(emily().id, { lifetimeInMinutes: 60, isUsableOnce: true });
    const channelBefore = channelCards(h).length;

    await h.restart();
    await h.bot.scheduler.idle();

    expect(h.bot.store.recovery.get(session)).toMatchObject({ state: 'failed', outcome: 'interrupted' });
    expect(recoveryAudit(h, session).filter((a) => a === 'signin.recovery-failed')).toHaveLength(1);
    const failed = h.bot.store.audit.query({ correlationId: session, action: 'signin.recovery-failed' })[0]!;
    expect(JSON.parse(failed.details)).toEqual({ flow: 'mfa', reason: 'interrupted' });

    // Her card no longer says "working on it" or offers to go on: it says what happened and offers to start again.
    const card = lastCardFor(h, emily().id);
    expect(findById(card, 'signin-complete')).toBeUndefined();
    expect(cardText(card)).toMatch(/stopped while making the change/);
    expect(findById(card, 'signin-again')).toMatchObject({ verb: 'signin.start', data: { flow: 'mfa' } });

    // The technicians know the directory may have changed.
    const notices = channelCards(h).slice(channelBefore).map(cardText);
    expect(notices.filter((t) => t.includes('Sign-in recovery interrupted: Emily Chen') && t.includes(session))).toHaveLength(1);
    // As a ticket in the queue, raised by a durable job (a channel out of reach at start loses nothing).
    expect(h.bot.store.technician.tickets.openFromSource(session, 'Sign-in recovery interrupted: Emily Chen')).toMatchObject({ type: 'signin', subject: { id: emily().id } });
    const noticeJobs = h.bot.store.db.prepare(`SELECT state FROM jobs WHERE kind = 'signin.notice-interrupted' AND request_id = ?`).all(session) as Array<{ state: string }>;
    expect(noticeJobs.map((j) => j.state)).toEqual(['done']);

    // The old button does nothing more: no second pass.
    const again = await click(h, emily(), 'signin.complete', { session });
    expect(findById(again, 'signin-complete')).toBeUndefined();
    expect((await h.bot.directory.listAuthMethods(emily().id)).filter((m) => m.kind === 'temporaryAccessPass')).toHaveLength(1);

    // Another start changes nothing more.
    await h.restart();
    await h.bot.scheduler.idle();
    expect(recoveryAudit(h, session).filter((a) => a === 'signin.recovery-failed')).toHaveLength(1);
    expect(channelCards(h).slice(channelBefore).map(cardText).filter((t) => t.includes('Sign-in recovery interrupted'))).toHaveLength(1);

    // She can start again.
    const fresh = await say(h, emily(), 'recover my MFA');
    expect(sessionOf(fresh)).not.toBe(session);
  });

  it('a recovery still waiting for verification is not touched by a restart', async () => {
    const session = await verifiedMfaRecovery();
    await h.restart();
    await h.bot.scheduler.idle();
    expect(h.bot.store.recovery.get(session)!.state).toBe('verified');
    expect(recoveryAudit(h, session)).not.toContain('signin.recovery-failed');
    const done = await click(h, emily(), 'signin.complete', { session });
    expect(findById(done, 'signin-title').text).toBe('Done: MFA recovery');
  });
});
