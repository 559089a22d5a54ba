import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Attribute, Change, type Client } from 'ldapts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bindFailureReason } from '../../directory/ad/errors';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { passwordWeakness } from '../../directory/rules';
import { cardProblems } from '../cards/validate';
import { demoUser } from '../support/access';
import { DEMO_PASSWORD, ORG_DN, POLICY, ldapClient, resetDemoState, startDemoSamba, tryBind } from '../support/ad-setup';
import { startHarness, TestClock, type Harness } from '../support/harness';
import type { SambaDc } from '../support/samba';
import {
  MINUTE,
  cardText,
  channelCards,
  click,
  currentVersion,
  findById,
  lastCardFor,
  openTechniciansChannel,
  recoveryAudit,
  say,
  secretLeaks,
  secretMessage,
  sessionOf,
} from '../support/signin';

/**
 * Sign-in recovery in chat with the bot configured for Active Directory as docs/deploy.md's local
 * demo is (`DIRECTORY=ad` or `hybrid`, `AD_*` pointing at a Samba DC seeded with the demo
 * tenant), each change proved by a bind against Samba as the user.
 */

const tenant = loadDemoTenant();
let dc: SambaDc;
let admin: Client;
let tmp: string;
let caFile: string;
let h: Harness;
let clock: TestClock;

beforeAll(async () => {
  dc = await startDemoSamba(tenant);
  admin = await ldapClient(dc);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ad-recovery-'));
  caFile = path.join(tmp, 'samba-ca.pem');
  fs.writeFileSync(caFile, dc.ca);
}, 120_000);

afterAll(async () => {
  await admin?.unbind().catch(() => undefined);
  await dc?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  await resetDemoState(admin, dc, tenant);
  // Samba keeps real time (lockout, password age): the bot's clock starts at now.
  clock = new TestClock(new Date());
});

afterEach(async () => {
  for (const c of h?.connector.calls ?? []) {
    const card = c.body?.attachments?.find((a: any) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
    if (card) expect(cardProblems(card), JSON.stringify(card).slice(0, 300)).toEqual([]);
  }
  await h?.stop();
});

/** The bot configured as "The local demo against a Samba DC" in docs/deploy.md says. */
function start(directory: 'ad' | 'hybrid'): Promise<Harness> {
  return startHarness(
    {
      DIRECTORY: directory,
      AD_URL: dc.url,
      AD_TLS_SERVER_NAME: dc.serverName,
      AD_CA_FILE: caFile,
      AD_BIND_DN: dc.service!.bindDn,
      AD_BIND_PASSWORD: dc.service!.password,
      AD_BASE_DN: ORG_DN,
    },
    { clock: clock.now },
  );
}

/** The user's manager confirms the open recovery from their own chat; returns the user's card that follows. */
async function managerConfirms(user: ReturnType<Harness['user']>, manager: ReturnType<Harness['user']>, session: string): Promise<any> {
  const asked = await click(h, user, 'signin.ask', { session, method: 'manager' });
  expect(findById(asked, 'signin-banner').text).toContain(`I asked ${manager.displayName}`);
  await h.bot.scheduler.idle();
  const attest = lastCardFor(h, manager.id);
  expect(findById(attest, 'attest-title').text).toBe(`Verify ${user.displayName}'s identity`);
  const confirmed = await click(h, manager, 'signin.confirm', { session, method: 'manager' });
  expect(findById(confirmed, 'attest-status').text).toMatch(new RegExp(`^Confirmed by ${manager.displayName}`));
  await h.bot.scheduler.idle();
  return lastCardFor(h, user.id);
}

/**
 * `user` resets their password in chat, verified by `manager`; then the temporary password
 * shown in their chat is proved against Samba with binds, hidden, and searched for everywhere else.
 */
async function resetInChatAndBind(user: ReturnType<Harness['user']>, manager: ReturnType<Harness['user']>): Promise<void> {
  await openTechniciansChannel(h);
  expect(await tryBind(dc, user.userPrincipalName, DEMO_PASSWORD)).toBeNull();

  const card = await say(h, user, 'reset my password');
  expect(findById(card, 'signin-title').text).toBe('Reset your password');
  const session = sessionOf(card);
  const ready = await managerConfirms(user, manager, session);
  // Nothing changed in AD before the user asks for it.
  expect(await tryBind(dc, user.userPrincipalName, DEMO_PASSWORD)).toBeNull();
  expect(findById(ready, 'signin-complete').title).toBe('Show my temporary password');
  const done = await click(h, user, 'signin.complete', { session });
  expect(findById(done, 'signin-title').text).toBe('Done: password reset');
  expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.verification-requested', 'signin.verified', 'signin.password-reset-attempted', 'signin.password-reset']);
  // No ticket: the bot did it in AD.
  expect(channelCards(h).some((c) => /Ticket: password reset/.test(String(findById(c, 'notice-title')?.text)))).toBe(false);

  const shown = secretMessage(h, user.id);
  expect(shown.sessionId).toBe(session);
  expect(passwordWeakness(shown.secret)).toBeNull();

  // AD holds it, with "must change at next sign-in": the DC says "must change" only to the right password.
  expect(bindFailureReason(await tryBind(dc, user.userPrincipalName, shown.secret))).toBe('must-change-password');
  expect(bindFailureReason(await tryBind(dc, user.userPrincipalName, DEMO_PASSWORD))).toBe('invalid-credentials');
  expect((await h.bot.directory.getSignInState(user.id)).passwordChangeRequired).toBe(true);
  // With the change prompt out of the way, the temporary password signs the user in.
  await admin.modify(dc.objects[user.id]!.dn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'pwdLastSet', values: ['-1'] }) })]);
  expect(await tryBind(dc, user.userPrincipalName, shown.secret)).toBeNull();

  // Shown once: "I have it" hides it, and it stays hidden after the timer.
  const hidden = await click(h, user, 'signin.hide', { session });
  expect(findById(hidden, 'secret-title').text).toBe('Temporary password: shown and hidden');
  expect(findById(hidden, 'secret-value')).toBeUndefined();
  expect(cardText(hidden)).not.toContain(shown.secret);
  clock.advance(11 * MINUTE);
  await h.bot.scheduler.runDue();
  // The click's answer replaced the message; the timer found it hidden and sent nothing back.
  expect(currentVersion(h, shown.conversationId, shown.activityId)).toBeUndefined();
  expect(recoveryAudit(h, session).filter((a) => a === 'signin.secret-hidden')).toHaveLength(1);
  // Nowhere else: logs, databases, bot state, other conversations, the DC's own output.
  expect(secretLeaks(h, shown.secret, shown.conversationId)).toEqual([]);
  expect(dc.log()).not.toContain(shown.secret);
}

describe('DIRECTORY=ad: the local demo against Samba', () => {
  it('an employee locked out in AD by wrong passwords unlocks the account in chat, then signs in', async () => {
    h = await start('ad');
    expect(h.bot.directory.kind).toBe('ad');
    const emily = h.user('employee');
    const thomas = h.user('manager');
    expect(await tryBind(dc, emily.userPrincipalName, DEMO_PASSWORD)).toBeNull();
    for (let i = 0; i < POLICY.lockoutThreshold; i++) {
      expect(bindFailureReason(await tryBind(dc, emily.userPrincipalName, `Wrong-Passw0rd-${i}`))).toBe('invalid-credentials');
    }
    expect(bindFailureReason(await tryBind(dc, emily.userPrincipalName, DEMO_PASSWORD))).toBe('locked');

    const diagnosis = await say(h, emily, "why can't I sign in");
    expect(findById(diagnosis, 'signin-start-unlock')).toBeDefined();

    const card = await say(h, emily, 'unlock my account');
    expect(findById(card, 'signin-title').text).toBe('Unlock your account');
    // AD keeps no authenticator apps: a person who knows her confirms.
    expect(findById(card, 'code')).toBeUndefined();
    expect(findById(card, 'signin-ask-manager').title).toBe(`Ask my manager, ${thomas.displayName}`);
    const session = sessionOf(card);
    const ready = await managerConfirms(emily, thomas, session);
    // Verified, not yet done: AD still locks her out.
    expect(bindFailureReason(await tryBind(dc, emily.userPrincipalName, DEMO_PASSWORD))).toBe('locked');
    expect(findById(ready, 'signin-complete').title).toBe('Unlock my account now');

    const done = await click(h, emily, 'signin.complete', { session });
    expect(findById(done, 'signin-title').text).toBe('Your account is unlocked');
    expect(await tryBind(dc, emily.userPrincipalName, DEMO_PASSWORD)).toBeNull();
    expect((await h.bot.directory.getSignInState(emily.id)).locked).toBe(false);
    expect(recoveryAudit(h, session)).toEqual(['signin.recovery-started', 'signin.verification-requested', 'signin.verified', 'signin.unlock-attempted', 'signin.unlocked']);

    const again = await say(h, emily, 'unlock my account');
    expect(findById(again, 'signin-title').text).toBe('Your account is not locked');
  });

  it('an employee resets their password in chat; the temporary password, shown once, is the one AD holds', async () => {
    h = await start('ad');
    // Carlos Mendes, like every account here, is mastered in AD; his manager Thomas Berg verifies him.
    await resetInChatAndBind(demoUser(h, 'Carlos Mendes'), h.user('manager'));
  });

  it("the demo tenant's privileged groups apply: a privileged account without an authenticator is refused", async () => {
    h = await start('ad');
    // Jonas Weber is a member of Payroll Reports, a privileged group of the demo tenant (and of its AD).
    const jonas = demoUser(h, 'Jonas Weber');
    const card = await say(h, jonas, 'reset my password');
    expect(findById(card, 'signin-title').text).toBe('Reset your password: a second check is needed');
    const [refused] = h.bot.store.audit.query({ action: 'signin.recovery-refused', actor: jonas.id });
    expect(JSON.parse(refused!.details)).toMatchObject({ reason: 'second-method-missing', privileged: true });
    expect(h.logs.some((l) => /RECOVERY_PRIVILEGED_GROUP_IDS is not set/.test(String(l.msg)))).toBe(false);
  });
});

describe('DIRECTORY=hybrid: the demo tenant for identities, AD for synced users', () => {
  it('a synced user resets their password in chat; the temporary password, shown once, is the one AD holds', async () => {
    h = await start('hybrid');
    expect(h.bot.directory.kind).toBe('hybrid');
    const liam = demoUser(h, 'Liam Murphy');
    expect(tenant.users.find((u) => u.id === liam.id)!.onPremisesSyncEnabled).toBe(true);
    await resetInChatAndBind(liam, demoUser(h, 'Victor Almeida'));
    // Cloud-only Emily keeps the demo phone's code, from the demo tenant's authenticators.
    expect(findById(await say(h, h.user('employee'), 'reset my password'), 'code')).toMatchObject({ type: 'Input.Text' });
  });
});
