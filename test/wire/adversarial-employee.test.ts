import { describe, expect, it } from 'vitest';
import { auditActions, click, demoUser, freshHarnessPerTest, lastCardIn, requestAccess, settle } from '../support/access';
import { TestClock, type Harness } from '../support/harness';
import { cardText, findById, type TestUser } from '../support/teams-client';

/**
 * Employee and manager features under attack: forged card data, outsiders, races and odd
 * input. Every refusal changes nothing and the audit chain still verifies.
 */

let h: Harness;
let clock: TestClock;
freshHarnessPerTest((bot, c) => ((h = bot), (clock = c)), { chainIntact: true });

const emily = () => h.user('employee');
const thomas = () => h.user('manager');
// Sales: neither the requester, nor her manager, nor an owner of anything she asks for.
const outsider = () => demoUser(h, 'Lukas Novak');

function reply(user: TestUser): any {
  return lastCardIn(h, h.client.personalConversationId(user));
}

/** Makes every directory call that reads memberships slow, as a remote directory is. */
function slowDirectory(ms: number): () => void {
  const dir = h.bot.directory as any;
  const original = dir.checkMemberGroups.bind(dir);
  dir.checkMemberGroups = async (...args: any[]) => {
    await new Promise((r) => setTimeout(r, ms));
    return original(...args);
  };
  return () => {
    dir.checkMemberGroups = original;
  };
}

describe('someone else\'s access request', () => {
  const SECRET_REASON = 'the confidential merger with Contoso';

  it('an outsider refreshing the card by its id sees its status, never the justification or the requester\'s access', async () => {
    const id = await requestAccess(h, emily(), `I need the payroll reports for 3 days because of ${SECRET_REASON}`);
    const res = await h.client.invoke(outsider(), 'access.refresh', { requestId: id, stage: 1 });
    expect(res.status).toBe(200);
    const card = res.body.value;
    expect(findById(card, 'access-status').text).toMatch(/Waiting for approval/);
    const text = cardText(card);
    expect(text).not.toContain(SECRET_REASON);
    expect(text).not.toContain('Finance');
    expect(findById(card, 'access-approve')).toBeUndefined();
    expect(findById(card, 'access-cancel')).toBeUndefined();
    // The people involved still see everything.
    expect(cardText((await h.client.invoke(emily(), 'access.refresh', { requestId: id, stage: 1 })).body.value)).toContain(SECRET_REASON);
    expect(cardText((await h.client.invoke(thomas(), 'access.refresh', { requestId: id, stage: 1 })).body.value)).toContain(SECRET_REASON);
  });

  it('a forged Approve, Deny or Forward from an outsider changes nothing, is audited, and reveals neither the reason nor the comments', async () => {
    const id = await requestAccess(h, emily(), `I need the payroll reports for 3 days because of ${SECRET_REASON}`);
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    const before = h.bot.store.requests.get(id)!;
    for (const [verb, extra] of [
      ['access.approve', {}],
      ['access.deny', { comment: 'no' }],
      ['access.forward', { delegate: 'Mei Tanaka' }],
      // The stage the manager decided: its decision and comment are not the outsider's business either.
      ['access.approve', { stage: 1 }],
    ] as const) {
      const card = await click(h, outsider(), verb, id, 2, extra);
      const text = cardText(card);
      expect(text).not.toContain(SECRET_REASON);
      expect(text).not.toContain('Thomas Berg');
      expect(findById(card, 'access-banner').text).toMatch(/not an approver/);
    }
    const after = h.bot.store.requests.get(id)!;
    expect(after).toMatchObject({ state: before.state, stage: before.stage });
    expect(h.bot.store.requests.approvers(id, 2).map((a) => a.approverId)).not.toContain(outsider().id);
    expect(auditActions(h, id).filter((a) => a === 'access.decision-refused').length).toBeGreaterThanOrEqual(3);
  });
});

describe('durations people should not be able to ask for', () => {
  it('less than an hour is one hour, never a grant that ends as it starts', async () => {
    for (const text of ['I need VPN for 0.2 hours', 'I need the VPN for 0.4 h']) {
      await h.client.message(emily(), text);
      const confirm = reply(emily());
      const duration = cardText(findById(confirm, 'confirm-facts'));
      expect(duration, text).toContain('1 hour from approval');
      expect(duration).not.toMatch(/\b0 (weeks|days|hours)\b/);
    }
    const id = await requestAccess(h, emily(), 'I need VPN for 0.2 hours');
    expect(h.bot.store.requests.get(id)!.durationHours).toBe(1);
  });
});

describe('two submissions at once', () => {
  it('a double click on Submit creates one request, however slow the directory is', async () => {
    await h.client.message(emily(), 'I need VPN for a week');
    const draft = findById(reply(emily()), 'access-submit').data.draft;
    const restore = slowDirectory(40);
    await Promise.all([h.client.invoke(emily(), 'access.submit', { draft }), h.client.invoke(emily(), 'access.submit', { draft })]);
    restore();
    await settle(h);
    const mine = h.bot.store.requests.listForRequester(emily().id, 10);
    expect(mine.map((r) => r.resourceId)).toEqual(['vpn']);
    expect(h.bot.store.audit.query({ action: 'access.requested' })).toHaveLength(1);
  });

  it('two incompatible requests submitted together from two chats: only one is created', async () => {
    const second = { conversationId: `a:personal-second-${emily().id}` };
    await h.client.message(emily(), 'I need the payroll reports for 3 days because of the audit');
    const payroll = findById(reply(emily()), 'access-submit').data.draft;
    await h.client.message(emily(), 'I need the HR portal administrators for 3 days because of the audit', second);
    const hrCard = lastCardIn(h, second.conversationId);
    const hr = findById(hrCard, 'access-submit').data.draft;
    const restore = slowDirectory(40);
    await Promise.all([h.client.invoke(emily(), 'access.submit', { draft: payroll }), h.client.invoke(emily(), 'access.submit', { draft: hr }, second)]);
    restore();
    await settle(h);
    expect(h.bot.store.requests.listForRequester(emily().id, 10)).toHaveLength(1);
  });
});

describe('very long messages', () => {
  /** Sends a message and returns how long the bot took to answer it. */
  async function timed(user: TestUser, text: string): Promise<number> {
    const started = Date.now();
    const res = await h.client.message(user, text);
    expect(res.status).toBe(200);
    return Date.now() - started;
  }

  it('a message padded with thousands of spaces is answered at once, whatever command it looks like', { timeout: 120_000 }, async () => {
    const pad = ' '.repeat(2500);
    for (const text of [
      `why can't I sign in to the${pad}\nx`,
      `forward REQ-1001 to Mei${pad}\nx`,
      `request access to vpn for a${pad}\nx`,
      `please cancel request${pad}now`,
    ]) {
      const before = h.connector.sentTo(h.client.personalConversationId(emily())).length;
      const ms = await timed(emily(), text);
      expect(ms, JSON.stringify(text.slice(0, 30))).toBeLessThan(1500);
      // Answered, and nothing was requested or changed.
      expect(h.connector.sentTo(h.client.personalConversationId(emily())).length).toBeGreaterThan(before);
    }
    expect(h.bot.store.requests.listForRequester(emily().id, 10)).toEqual([]);
  });
});
