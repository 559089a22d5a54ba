import { afterEach, beforeEach, expect } from 'vitest';
import { startHarness, TestClock, type Harness } from './harness';
import { cardOf, findById, type TestUser } from './teams-client';
import { cardProblems } from '../cards/validate';
import { DemoAuthenticatorCodes } from '../../directory/demo-authenticator';

/** Access-request helpers for wire tests: ask, submit, find the cards each person got. */

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** Demo users by name, beyond the three personas. */
export function demoUser(h: Harness, displayName: string): TestUser & { userPrincipalName: string } {
  const u = h.tenant.users.find((x) => x.displayName === displayName);
  if (!u) throw new Error(`no demo user ${displayName}`);
  return { id: u.id, displayName: u.displayName, userPrincipalName: u.userPrincipalName };
}

/** Waits until no job is running and none is due. */
export function settle(h: Harness): Promise<void> {
  return h.bot.scheduler.idle();
}

/** The last card the bot sent to a conversation (new messages and replies, not updates). */
export function lastCardIn(h: Harness, conversationId: string): any {
  const sent = h.connector.sentTo(conversationId).filter((a) => cardOf(a));
  return cardOf(sent[sent.length - 1]);
}

/** The 1:1 conversation the bot has with a user (saved when they talked, or created for a proactive card). */
export function personalConversation(h: Harness, userId: string): string | null {
  return h.bot.store.conversations.findPersonal(userId)?.conversationId ?? null;
}

/** Every card the bot sent to a user's 1:1 chat, in order. */
export function cardsSentTo(h: Harness, userId: string): any[] {
  const conv = personalConversation(h, userId);
  return conv ? h.connector.sentTo(conv).map(cardOf).filter(Boolean) : [];
}

/** Cards of one request (by the title element) sent to a user. */
export function requestCardsSentTo(h: Harness, userId: string, requestId: string): any[] {
  return cardsSentTo(h, userId).filter((c) => String(findById(c, 'access-title')?.text ?? '').startsWith(`${requestId} `));
}

/** The latest version of every stored copy of a request's card: the last update, or the card as sent. */
export function currentCopies(h: Harness, requestId: string): Array<{ userId: string; role: string; card: any }> {
  return h.bot.store.cards.forRequest(requestId).map((ref) => {
    const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === ref.conversationId && c.activityId === ref.activityId);
    const last = updates[updates.length - 1];
    const card = last ? cardOf(last.body) : undefined;
    return { userId: ref.userId, role: ref.role, card };
  });
}

/** Audit actions with the request id as correlation id, in order. */
export function auditActions(h: Harness, requestId: string): string[] {
  return h.bot.store.audit.query({ correlationId: requestId }).map((e) => e.action);
}

/**
 * Asks for access in chat and submits: the text gives the confirmation card (or the form,
 * which is then filled in), `Submit` creates the request. Returns its id.
 */
export async function requestAccess(
  h: Harness,
  user: TestUser,
  text: string,
  fill: { resource?: string; duration?: string; justification?: string } = {},
): Promise<string> {
  await h.client.message(user, text);
  let card = lastCardIn(h, h.client.personalConversationId(user));
  expect(cardProblems(card)).toEqual([]);
  if (findById(card, 'form-title')) {
    const res = await h.client.invoke(user, 'access.review', {
      resource: fill.resource ?? findById(card, 'resource').value,
      duration: fill.duration ?? findById(card, 'duration').value,
      justification: fill.justification ?? findById(card, 'justification').value ?? '',
    });
    card = res.body.value;
  }
  const submit = findById(card, 'access-submit');
  if (!submit) throw new Error(`no confirmation card: ${JSON.stringify(card).slice(0, 600)}`);
  const res = await h.client.invoke(user, 'access.submit', { draft: submit.data.draft });
  expect(res.status).toBe(200);
  const title: string = findById(res.body.value, 'notice-title')?.text ?? '';
  const id = /Submitted: (REQ-\d+)/.exec(title)?.[1];
  if (!id) throw new Error(`not submitted: ${JSON.stringify(res.body.value).slice(0, 600)}`);
  await settle(h);
  return id;
}

/**
 * Clicks a request card's button as `user` (Approve/Deny/...), with the stage the card was for.
 * When approving asks for the approver's fresh MFA (a high-risk resource), they answer as a
 * person would: with the code their demo phone shows, and Approve again. Give `mfaCode` in
 * `extra` (even undefined) to answer it yourself.
 */
export async function click(h: Harness, user: TestUser, verb: string, requestId: string, stage: number, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await h.client.invoke(user, verb, { requestId, stage, ...extra });
  expect(res.status).toBe(200);
  if (verb === 'access.approve' && !('mfaCode' in extra) && findById(res.body.value, 'mfaCode')) {
    return click(h, user, verb, requestId, stage, { ...extra, mfaCode: demoCode(h, user) });
  }
  return res.body.value;
}

/** The code `user`'s demo authenticator shows now, by the bot's clock. */
export function demoCode(h: Harness, user: { id: string }): string {
  const code = new DemoAuthenticatorCodes(h.tenant).codeFor(user.id, h.clock());
  if (!code) throw new Error(`${user.id} has no demo authenticator`);
  return code;
}

export function isMember(h: Harness, userId: string, groupId: string): Promise<boolean> {
  return h.bot.directory.checkMemberGroups(userId, [groupId]).then((g) => g.includes(groupId));
}

/**
 * What every adversarial test ends with: each card the bot sent is a valid card, and the
 * audit chain still verifies after everything that was tried.
 */
export function expectSentCardsValidAndChainIntact(h: Harness): void {
  expectSentCardsValid(h);
  expect(h.bot.store.audit.verify().ok).toBe(true);
}

/** Every card the bot sent or updated in the test is a valid Adaptive Card. */
export function expectSentCardsValid(h: Harness): void {
  for (const c of h.connector.calls) {
    const card = c.body?.attachments?.find((a: any) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
    if (card) expect(cardProblems(card), JSON.stringify(card).slice(0, 300)).toEqual([]);
  }
}


/**
 * A fresh bot for each test of the file (or of the describe block it is called in), its clock
 * at Monday 2 March 2026, 09:00 UTC. `set` receives the bot and its clock before each test;
 * after each, every card the bot sent must be valid (with `chainIntact`, the audit chain must
 * verify too), and the bot stops.
 */
export function freshHarnessPerTest(set: (h: Harness, clock: TestClock) => void, options: { chainIntact?: boolean } = {}): void {
  let h: Harness | undefined;
  beforeEach(async () => {
    h = undefined;
    const clock = new TestClock('2026-03-02T09:00:00.000Z');
    h = await startHarness({}, { clock: clock.now });
    set(h, clock);
  });
  afterEach(async () => {
    if (h) (options.chainIntact ? expectSentCardsValidAndChainIntact : expectSentCardsValid)(h);
    await h?.stop();
  });
}
