import { describe, expect, it } from 'vitest';
import { auditActions, click as clickRequest, freshHarnessPerTest, lastCardIn, requestAccess, settle } from '../support/access';
import { TestClock, type Harness } from '../support/harness';
import { cardText, findById, type TestUser } from '../support/teams-client';
import { MINUTE, channelCards, click, openTechniciansChannel } from '../support/signin';

/**
 * Employee flows under attack, second pass: repeated clicks that would flood the technicians,
 * reasons that say nothing, durations said in two parts, and forwarding without end.
 */

let h: Harness;
let clock: TestClock;
freshHarnessPerTest((bot, c) => ((h = bot), (clock = c)), { chainIntact: true });

const emily = () => h.user('employee');
const thomas = () => h.user('manager');

function reply(user: TestUser): any {
  return lastCardIn(h, h.client.personalConversationId(user));
}

function helpNotices(): any[] {
  return channelCards(h).filter((c) => String(findById(c, 'notice-title')?.text ?? '').startsWith('Sign-in help requested: Emily Chen'));
}

describe('"Talk to a technician" clicked again and again', () => {
  it('sends the technicians one notice an hour, and says so to the user each time', async () => {
    await openTechniciansChannel(h);
    const first = await click(h, emily(), 'signin.technician', {});
    expect(findById(first, 'signin-title').text).toBe('The identity technicians have your request');
    for (let i = 0; i < 4; i++) {
      const again = await click(h, emily(), 'signin.technician', {});
      expect(findById(again, 'signin-title').text).toBe('The identity technicians have your request');
      expect(findById(again, 'signin-text').text).toMatch(/You asked at .*Nothing was sent again\./);
    }
    expect(helpNotices()).toHaveLength(1);
    expect(h.bot.store.audit.query({ action: 'signin.technician-requested', actor: emily().id })).toHaveLength(1);

    // An hour later it is a new request for help.
    clock.advance(61 * MINUTE);
    await click(h, emily(), 'signin.technician', {});
    expect(helpNotices()).toHaveLength(2);
    expect(h.bot.store.audit.query({ action: 'signin.technician-requested', actor: emily().id })).toHaveLength(2);
  });
});

describe('a justification that says nothing', () => {
  it.each([
    ['zero-width characters', '\u200b\u200c\u2060'],
    ['punctuation only', ' ... !!! '],
    ['whitespace only', ' \u3000\t '],
  ])('%s: the form asks for a reason and nothing is requested', async (_what, reason) => {
    await h.client.message(emily(), 'request access');
    const res = await h.client.invoke(emily(), 'access.review', { resource: 'crm', duration: 'default', justification: reason });
    expect(res.status).toBe(200);
    const card = res.body.value;
    expect(findById(card, 'form-title')).toBeDefined();
    expect(findById(card, 'form-error').text).toBe('CRM needs a justification: say why you need it.');
    expect(findById(card, 'access-submit')).toBeUndefined();
    expect(h.bot.store.requests.listForRequester(emily().id, 10)).toEqual([]);
  });

  it('a real reason is still accepted, in any script', async () => {
    const id = await requestAccess(h, emily(), 'request access', { resource: 'crm', duration: 'default', justification: '顧客対応のため' });
    expect(h.bot.store.requests.get(id)!.justification).toBe('顧客対応のため');
  });
});

describe('durations said in more than one part, or in minutes', () => {
  it.each([
    ['request access to VPN for two weeks and a day', '15 days from approval', 360],
    ['request access to VPN for 1 week, 2 days', '9 days from approval', 216],
    ['request access to VPN for 1 day and 12 hours', '36 hours from approval', 36],
    ['request access to VPN for 20 minutes', '1 hour from approval', 1],
    ['request access to VPN for 90 minutes', '2 hours from approval', 2],
  ])('"%s" is %s, never the default with the duration taken for a reason', async (text, shown, hours) => {
    await h.client.message(emily(), text);
    const confirm = reply(emily());
    const facts = findById(confirm, 'confirm-facts').facts as Array<{ title: string; value: string }>;
    expect(facts.find((f) => f.title === 'Duration')!.value).toBe(shown);
    expect(facts.find((f) => f.title === 'Justification')!.value).toBe('(none)');
    const res = await h.client.invoke(emily(), 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    expect(findById(res.body.value, 'notice-title').text).toMatch(/^Submitted: REQ-\d+$/);
    expect(h.bot.store.requests.listForRequester(emily().id, 1)[0]!.durationHours).toBe(hours);
  });

  it('a sum longer than allowed is refused as too long, with the maximum offered', async () => {
    await h.client.message(emily(), 'request access to VPN for 300 days and 100 days');
    const card = reply(emily());
    expect(findById(card, 'notice-title').text).toBe('Too long for VPN');
    expect(findById(card, 'access-use-max').title).toBe('Request 365 days');
  });

  it('"for the audit and the close" is still a reason, not a duration', async () => {
    await h.client.message(emily(), 'request access to VPN for the audit and the close');
    const facts = findById(reply(emily()), 'confirm-facts').facts as Array<{ title: string; value: string }>;
    expect(facts.find((f) => f.title === 'Justification')!.value).toBe('for the audit and the close');
  });
});

describe('forwarding a request again and again', () => {
  it('stops at the most approvers a stage may have: nothing added, every card within what Teams accepts', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const others = h.tenant.users.filter((u) => u.accountEnabled && u.id !== emily().id && u.id !== thomas().id);
    expect(others.length).toBeGreaterThan(25);
    let refusal: any;
    for (const u of others) {
      const card = await clickRequest(h, thomas(), 'access.forward', id, 1, { delegate: u.userPrincipalName });
      if (/not forwarded/.test(findById(card, 'access-banner')?.text ?? '')) {
        refusal = card;
        break;
      }
    }
    await settle(h);
    expect(refusal, 'a forward beyond 25 approvers is refused').toBeDefined();
    expect(findById(refusal, 'access-banner').text).toBe(`Stage 1 of ${id} already has 25 approvers, the most a stage may have, so it was not forwarded. One of them can decide.`);
    expect(h.bot.store.requests.approvers(id, 1)).toHaveLength(25);
    expect(auditActions(h, id).filter((a) => a === 'access.forwarded')).toHaveLength(24);
    const refreshed = h.connector.calls.map((c) => c.body?.attachments?.[0]?.content?.refresh?.userIds).filter(Boolean) as string[][];
    expect(refreshed.length).toBeGreaterThan(0);
    for (const ids of refreshed) expect(ids.length).toBeLessThanOrEqual(60);
    // The request still works: one of the delegates decides.
    const delegate = h.bot.store.requests.approvers(id, 1).find((a) => a.source === 'delegate')!;
    const user = { id: delegate.approverId, displayName: delegate.approverName };
    const done = await clickRequest(h, user, 'access.approve', id, 1);
    expect(cardText(done)).toContain(`You approved ${id}`);
  });

  it('two forwards at once to the last free place: one is added, the other refused', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const others = h.tenant.users.filter((u) => u.accountEnabled && u.id !== emily().id && u.id !== thomas().id);
    // 24 approvers: Thomas and 23 forwards, one after the other.
    for (const u of others.slice(0, 23)) await clickRequest(h, thomas(), 'access.forward', id, 1, { delegate: u.userPrincipalName });
    expect(h.bot.store.requests.approvers(id, 1)).toHaveLength(24);
    const [a, b] = [others[23]!, others[24]!];
    // A directory that answers over the network (Graph): both clicks wait on it at the same time.
    const directory = h.bot.directory as { findUserByUpn: (upn: string) => Promise<unknown> };
    const find = directory.findUserByUpn.bind(directory);
    directory.findUserByUpn = async (upn) => {
      await new Promise((r) => setTimeout(r, 100));
      return find(upn);
    };
    // Two approvers in their own chats, at the same moment.
    const delegate = others[0]!;
    const cards = await Promise.all([
      clickRequest(h, thomas(), 'access.forward', id, 1, { delegate: a.userPrincipalName }),
      clickRequest(h, { id: delegate.id, displayName: delegate.displayName }, 'access.forward', id, 1, { delegate: b.userPrincipalName }),
    ]);
    await settle(h);
    expect(h.bot.store.requests.approvers(id, 1)).toHaveLength(25);
    expect(auditActions(h, id).filter((x) => x === 'access.forwarded')).toHaveLength(24);
    const banners = cards.map((c) => findById(c, 'access-banner')?.text ?? '');
    expect(banners.filter((t) => /not forwarded/.test(t))).toHaveLength(1);
    expect(banners.filter((t) => /^Forwarded to /.test(t))).toHaveLength(1);
  });
});
