import { describe, expect, it } from 'vitest';
import { freshHarnessPerTest } from '../support/access';
import { TestClock, type Harness } from '../support/harness';
import { cardsFor, click, findById, openTechniciansChannel, phoneCode, recoveryAudit, say, sessionOf } from '../support/signin';

/**
 * Local mode (the demo directory): the directory makes an employee's password reset or
 * unlock and the process stops before the bot hears back. The next start re-reads the
 * directory: the change is on record as done, the recovery is never "failed", no password
 * is shown again; with the directory unchanged, it is not done.
 */
let h: Harness;
let clock: TestClock;
freshHarnessPerTest((bot, c) => ((h = bot), (clock = c)));

const emily = () => h.user('employee');

/** The directory call runs `first` (or not), then never returns: the process stops in between. */
function stopDuring(method: 'resetPassword' | 'createTemporaryAccessPass', makeIt: boolean): { reached: Promise<void> } {
  const dir = h.bot.directory as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const original = dir[method]!.bind(h.bot.directory);
  let reached!: () => void;
  const p = new Promise<void>((r) => (reached = r));
  dir[method] = async (...args: unknown[]) => {
    if (makeIt) await original(...args);
    reached();
    return new Promise(() => undefined);
  };
  return { reached: p };
}

describe('a stop between the directory change and its outcome (local mode)', () => {
  it('a password set but never shown: done on record, never failed, she is told to start again', async () => {
    await openTechniciansChannel(h);
    const before = await h.bot.directory.getSignInState(emily().id);
    const card = await say(h, emily(), 'reset my password');
    const session = sessionOf(card);
    const stop = stopDuring('resetPassword', true);
    void click(h, emily(), 'signin.code', { session, code: phoneCode(h, emily(), clock.now()) }).catch(() => undefined);
    await stop.reached;
    expect(recoveryAudit(h, session)).toContain('signin.password-reset-attempted');

    await h.restart();
    await h.bot.scheduler.idle();
    expect((await h.bot.directory.getSignInState(emily().id)).lastPasswordChange).not.toBe(before.lastPasswordChange);
    const trail = recoveryAudit(h, session);
    expect(trail.slice(trail.indexOf('signin.password-reset-attempted'))).toEqual(['signin.password-reset-attempted', 'signin.effect-reconciled', 'signin.recovery-reconciled']);
    expect(trail).not.toContain('signin.recovery-failed');
    const [r] = h.bot.store.audit.query({ correlationId: session, action: 'signin.effect-reconciled' });
    expect(JSON.parse(r!.details)).toMatchObject({ outcome: 'done', effect: 'signin.password-reset' });
    expect(h.bot.store.recovery.get(session)).toMatchObject({ state: 'completed', outcome: 'secret-not-shown' });
    expect(cardsFor(h, emily().id).filter((c) => findById(c, 'secret-value'))).toEqual([]);
    // She starts again and gets a new one, shown once.
    const again = await say(h, emily(), 'reset my password');
    const fresh = sessionOf(again);
    expect(fresh).not.toBe(session);
    clock.advance(60_000);
    const done = await click(h, emily(), 'signin.code', { session: fresh, code: phoneCode(h, emily(), clock.now()) });
    expect(findById(done, 'signin-title').text).toBe('Done: password reset');
  });

  it('a password not set: not done on record, and the recovery failed for that reason', async () => {
    const before = await h.bot.directory.getSignInState(emily().id);
    const session = sessionOf(await say(h, emily(), 'reset my password'));
    const stop = stopDuring('resetPassword', false);
    void click(h, emily(), 'signin.code', { session, code: phoneCode(h, emily(), clock.now()) }).catch(() => undefined);
    await stop.reached;
    await h.restart();
    await h.bot.scheduler.idle();
    expect((await h.bot.directory.getSignInState(emily().id)).lastPasswordChange).toBe(before.lastPasswordChange);
    const [r] = h.bot.store.audit.query({ correlationId: session, action: 'signin.effect-reconciled' });
    expect(JSON.parse(r!.details)).toMatchObject({ outcome: 'not-done' });
    expect(h.bot.store.recovery.get(session)).toMatchObject({ state: 'failed', outcome: 'interrupted-not-done' });
    expect(recoveryAudit(h, session)).not.toContain('signin.recovery-reconciled');
  });

  it('a pass created but never shown after the lost phone was removed: both done on record, no pass shown, never failed', async () => {
    await openTechniciansChannel(h);
    const thomas = h.user('manager');
    const card = await say(h, emily(), 'recover my MFA');
    const session = sessionOf(card);
    const lost = h.tenant.users.find((u) => u.id === emily().id)!.authMethods.find((m) => m.kind === 'phone')!;
    await click(h, emily(), 'signin.ask', { session, method: 'manager', lost: lost.id });
    await h.bot.scheduler.idle();
    await click(h, thomas, 'signin.confirm', { session, method: 'manager' });
    await h.bot.scheduler.idle();
    const stop = stopDuring('createTemporaryAccessPass', true);
    void click(h, emily(), 'signin.complete', { session }).catch(() => undefined);
    await stop.reached;

    await h.restart();
    await h.bot.scheduler.idle();
    const methods = await h.bot.directory.listAuthMethods(emily().id);
    expect(methods.some((m) => m.id === lost.id)).toBe(false);
    expect(methods.filter((m) => m.kind === 'temporaryAccessPass')).toHaveLength(1);
    const reconciled = h.bot.store.audit.query({ correlationId: session, action: 'signin.effect-reconciled' }).map((e) => JSON.parse(e.details));
    expect(reconciled).toEqual([
      expect.objectContaining({ effect: 'signin.methods-removal', outcome: 'done' }),
      expect.objectContaining({ effect: 'signin.tap', outcome: 'done' }),
    ]);
    expect(recoveryAudit(h, session)).not.toContain('signin.recovery-failed');
    expect(h.bot.store.recovery.get(session)).toMatchObject({ state: 'completed', outcome: 'secret-not-shown' });
    expect(cardsFor(h, emily().id).filter((c) => findById(c, 'secret-value'))).toEqual([]);
    // Another start changes nothing more.
    await h.restart();
    await h.bot.scheduler.idle();
    expect(h.bot.store.audit.query({ correlationId: session, action: 'signin.effect-reconciled' })).toHaveLength(2);
  });
});
