import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG_FILE, findResourceById, loadCatalog } from '../../directory/catalog';
import { cardProblems } from '../cards/validate';
import { click, DAY, demoUser, isMember, lastCardIn, requestAccess, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf, cardText, findById, type TestUser } from '../support/teams-client';

/**
 * The example sentences of the understanding issue, in chat: plain words reach the access
 * flows (and the sign-in flows) through the recognizer, with what they name pre-filled, and
 * nothing happens on the words alone. The bot's clock and the users' clocks say Wednesday
 * 10 June 2026, 11:00 in London.
 */
const catalog = loadCatalog();
const group = (id: string) => findResourceById(catalog, id)!.groupId;

let h: Harness;
let clock: TestClock;
beforeEach(async () => {
  clock = new TestClock('2026-06-10T10:00:00.000Z');
  h = await startHarness({}, { clock: clock.now });
});
afterEach(async () => {
  await h?.stop();
});

const emily = () => h.user('employee');
const thomas = () => h.user('manager');

function say(user: TestUser, text: string, localTimestamp = '2026-06-10T11:00:00.000+01:00', localTimezone = 'Europe/London') {
  return h.client.post({ ...h.client.base(user), type: 'message', text, textFormat: 'plain', localTimestamp, localTimezone });
}

function sentTo(user: TestUser): any[] {
  return h.connector.sentTo(h.client.personalConversationId(user));
}

function lastCard(user: TestUser): any {
  return lastCardIn(h, h.client.personalConversationId(user));
}

/** Asks in plain words and submits the confirmation card (low-risk resources need nothing else). */
async function askAndSubmit(user: TestUser, text: string): Promise<string> {
  await say(user, text);
  const confirm = lastCard(user);
  const res = await h.client.invoke(user, 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
  const id = /Submitted: (REQ-\d+)/.exec(findById(res.body.value, 'notice-title').text)![1]!;
  await settle(h);
  return id;
}

describe('"can I get into the payroll reports until friday?"', () => {
  it('ends at the confirmation card with Payroll Reports and the end of Friday in the user time zone', async () => {
    const res = await say(emily(), 'can I get into the payroll reports until friday?');
    expect(res.status).toBe(200);
    // Payroll Reports needs a justification: the form, with the resource and the end already chosen.
    const form = lastCard(emily());
    expect(cardProblems(form)).toEqual([]);
    expect(findById(form, 'resource').value).toBe('payroll-reports');
    expect(findById(form, 'duration').value).toBe('until');
    expect(findById(form, 'form-error').text).toMatch(/needs a justification/);

    // The form's "until" is the end this conversation was offered, held on the server.
    const review = await h.client.invoke(emily(), 'access.review', { resource: 'payroll-reports', duration: 'until', justification: 'Month-end close' });
    const confirm = review.body.value;
    expect(cardProblems(confirm)).toEqual([]);
    const facts = cardText(findById(confirm, 'confirm-facts'));
    expect(facts).toContain('Payroll Reports');
    expect(facts).toContain('until end of Friday 12 June 2026 (Europe/London)');
    expect(facts).toContain('Month-end close');
    expect(h.bot.store.requests.listForRequester(emily().id)).toEqual([]);

    await h.client.invoke(emily(), 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    const [request] = h.bot.store.requests.listForRequester(emily().id);
    // 23:59:59 on Friday in London (summer time) is 22:59:59 UTC.
    expect(request).toMatchObject({ resourceId: 'payroll-reports', state: 'pending', endsAt: '2026-06-12T22:59:59.000Z', durationHours: 61, justification: 'Month-end close' });
    expect(cardText(findById(lastCard(emily()), 'access-facts'))).toContain('until Fri 12 Jun 2026, 22:59 UTC');
  });

  it('reads "because ..." as the justification, so a sensitive request goes straight to its confirmation card', async () => {
    await say(emily(), 'I need the payroll reports for two weeks because of the year-end audit');
    const confirm = lastCard(emily());
    const facts = cardText(findById(confirm, 'confirm-facts'));
    expect(facts).toContain('Payroll Reports');
    expect(facts).toContain('2 weeks from approval');
    expect(facts).toContain('because of the year-end audit');
    expect(findById(confirm, 'access-submit')).toBeDefined();
  });

  it('takes the end of Friday where the user is: New York', async () => {
    await say(emily(), 'can I get the vpn until friday?', '2026-06-10T06:00:00.000-04:00', 'America/New_York');
    const confirm = lastCard(emily());
    expect(cardText(findById(confirm, 'confirm-facts'))).toContain('until end of Friday 12 June 2026 (America/New_York)');
    await h.client.invoke(emily(), 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    expect(h.bot.store.requests.listForRequester(emily().id)[0]!.endsAt).toBe('2026-06-13T03:59:59.000Z');
  });

  it('a fixed end holds whenever the approval comes, and the access is removed then', async () => {
    const id = await askAndSubmit(emily(), 'can I get the vpn until friday?');
    // Approved a day later: the access still ends on Friday, not 61 hours after the approval.
    clock.advance(DAY);
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'granted', expiresAt: '2026-06-12T22:59:59.000Z' });
    expect(await isMember(h, emily().id, group('vpn'))).toBe(true);
    clock.set('2026-06-12T23:00:00.000Z');
    await h.bot.scheduler.runDue();
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('revoked');
    expect(await isMember(h, emily().id, group('vpn'))).toBe(false);
  });

  it('an end that passes before anyone decides expires the request then, and says why', async () => {
    const id = await askAndSubmit(emily(), 'can I get the vpn until friday?');
    clock.set('2026-06-12T23:00:00.000Z');
    await h.bot.scheduler.runDue();
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('expired');
    const told = h.connector.sentTo(h.client.personalConversationId(emily())).map(cardOf).filter(Boolean).map(cardText).join('\n');
    expect(told).toMatch(new RegExp(`Nobody decided on ${id} before the end you asked for`));
  });
});

describe('"did my manager approve the VPN thing"', () => {
  it("shows the requester's request for that resource, as it stands", async () => {
    await say(emily(), 'did my manager approve the VPN thing');
    expect(sentTo(emily()).at(-1).text).toMatch(/You have not asked me for VPN/);

    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    h.connector.clear();
    await say(emily(), 'did my manager approve the VPN thing');
    let card = lastCard(emily());
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'access-title').text).toBe(`${id} · VPN for Emily Chen`);
    expect(findById(card, 'access-status').text).toMatch(/^Waiting for approval/);

    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    h.connector.clear();
    await say(emily(), 'did my manager approve the VPN thing');
    card = lastCard(emily());
    expect(findById(card, 'access-status').text).toMatch(/^Granted until/);
    expect(cardText(findById(card, 'access-history-facts'))).toContain('Thomas Berg');
  });

  it('lists several requests for the resource, and only the requester\'s own', async () => {
    const first = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.client.invoke(emily(), 'access.cancel', { requestId: first });
    const second = await requestAccess(h, emily(), 'I need VPN for two weeks');
    await requestAccess(h, emily(), 'I need the warehouse scanners for a week');
    h.connector.clear();
    await say(emily(), 'whats the status of my vpn request');
    const list = lastCard(emily());
    expect(cardProblems(list)).toEqual([]);
    expect(findById(list, 'list-title').text).toBe('My requests for VPN');
    expect(findById(list, `request-status-${second}`).text).toMatch(/Waiting for approval/);
    expect(findById(list, `request-status-${first}`).text).toBe('Cancelled by Emily Chen');
    expect(cardText(list)).not.toContain('Warehouse');
    h.connector.clear();
    await say(thomas(), 'did my manager approve the VPN thing');
    expect(sentTo(thomas()).at(-1).text).toMatch(/You have not asked me for VPN/);
  });
});

describe('"what\'s waiting for me" and other ways to ask it', () => {
  it('gives the manager the approval cards, whichever words he uses', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    for (const text of ["what's waiting for me", 'anything I need to approve?']) {
      h.connector.clear();
      await say(thomas(), text);
      const sent = sentTo(thomas());
      expect(sent[0].text, text).toBe('One request waits for your decision:');
      expect(findById(cardOf(sent[1]), 'access-approve').data).toEqual({ requestId: id, stage: 1 });
    }
    // Not an approver: nothing waits.
    h.connector.clear();
    await say(emily(), 'anything I need to approve?');
    expect(sentTo(emily())[0].text).toBe('Nothing is waiting for your decision.');
  });
});

describe('"what access do I have"', () => {
  it('lists the catalog resources the user holds, with the end of time-bound grants', async () => {
    await say(emily(), 'what access do I have');
    let card = lastCard(emily());
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'held-title').text).toBe('Your access');
    // The demo employee is in the ERP Finance and Expense Reporting groups, granted outside the bot.
    expect(findById(card, 'held-name-erp-finance').text).toBe('ERP Finance');
    expect(findById(card, 'held-until-expense-reporting').text).toBe('No end date set here');
    expect(findById(card, 'held-vpn')).toBeUndefined();
    expect(findById(card, 'held-waiting')).toBeUndefined();

    const vpn = await askAndSubmit(emily(), 'can I get the vpn until friday?');
    const crm = await requestAccess(h, emily(), 'I need the CRM for a week because of the customer audit');
    await click(h, thomas(), 'access.approve', vpn, 1);
    await settle(h);
    h.connector.clear();
    await say(emily(), 'which groups am I in?');
    card = lastCard(emily());
    expect(findById(card, 'held-until-vpn').text).toBe(`Until Fri 12 Jun 2026, 22:59 UTC (${vpn})`);
    expect(findById(card, 'held-waiting').text).toContain(`CRM (${crm})`);
    expect(findById(card, 'held-intro').text).toMatch(/^You have 3 of the 9 things/);
    // Its buttons lead to the menu items.
    expect(findById(card, 'held-request-access')).toMatchObject({ verb: 'menu.run', data: { item: 'request-access' } });
  });

  it('is also on the welcome card for everyone', async () => {
    await say(emily(), 'help');
    expect(findById(lastCard(emily()), 'menu-my-access')).toMatchObject({ verb: 'menu.run', data: { item: 'my-access' } });
    h.connector.clear();
    await h.client.invoke(emily(), 'menu.run', { item: 'my-access' });
    expect(findById(lastCard(emily()), 'held-title')).toBeDefined();
  });
});

describe('cancelling in plain words', () => {
  it('offers the request with its Cancel button; only the click cancels', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    h.connector.clear();
    await say(emily(), 'cancel my vpn request');
    const card = lastCard(emily());
    expect(findById(card, 'access-banner').text).toBe(`To withdraw ${id}, press Cancel request. Nothing is cancelled until you do.`);
    expect(findById(card, 'access-cancel')).toMatchObject({ verb: 'access.cancel', data: { requestId: id } });
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');

    const res = await h.client.invoke(emily(), 'access.cancel', findById(card, 'access-cancel').data);
    expect(findById(res.body.value, 'access-status').text).toBe('Cancelled by Emily Chen');
    expect(h.bot.store.requests.get(id)!.state).toBe('cancelled');

    // Nothing left to cancel, by resource or by id.
    h.connector.clear();
    await say(emily(), 'cancel my vpn request');
    expect(sentTo(emily())[0].text).toMatch(/no request for VPN waiting for approval/);
    h.connector.clear();
    await say(emily(), `please withdraw ${id}, no longer needed`);
    expect(findById(lastCard(emily()), 'access-banner').text).toMatch(new RegExp(`${id} cannot be cancelled: it is cancelled by Emily Chen`));
    expect(findById(lastCard(emily()), 'access-cancel')).toBeUndefined();
  });

  it("never offers someone else's request", async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    h.connector.clear();
    await say(thomas(), `please withdraw ${id}, no longer needed`);
    expect(sentTo(thomas()).map((a) => a.text)).toEqual([`You have no request ${id}. Type **my requests** to see yours.`]);
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
  });
});

describe('when it is not sure', () => {
  it('asks, and the chosen flow gets what the message named', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    h.connector.clear();
    await say(emily(), 'vpn request');
    const question = lastCard(emily());
    expect(findById(question, 'clarify-title').text).toMatch(/Did you mean/);
    expect(findById(question, 'clarify-access-status')).toBeDefined();
    expect(h.bot.store.requests.listForRequester(emily().id)).toHaveLength(1);
    h.connector.clear();
    await h.client.invoke(emily(), 'understanding.choose', { intent: 'access.status' });
    expect(findById(lastCard(emily()), 'access-title').text).toBe(`${id} · VPN for Emily Chen`);
  });
});

describe('one list of resources', () => {
  it('understands the names of the catalog the bot loaded (ACCESS_CATALOG_PATH), not a list of its own', async () => {
    const file = path.join(h.dir, 'catalog.json');
    const data = JSON.parse(fs.readFileSync(DEFAULT_CATALOG_FILE, 'utf8'));
    data.resources.find((r: { id: string }) => r.id === 'crm').aliases.push('salesforce');
    fs.writeFileSync(file, JSON.stringify(data));
    const custom = await startHarness({ ACCESS_CATALOG_PATH: file }, { clock: clock.now });
    try {
      await custom.client.post({ ...custom.client.base(emily()), type: 'message', text: 'I need salesforce for a week because of the customer audit', textFormat: 'plain' });
      const confirm = lastCardIn(custom, custom.client.personalConversationId(emily()));
      expect(cardText(findById(confirm, 'confirm-facts'))).toMatch(/CRM[\s\S]*1 week from approval/);
    } finally {
      await custom.stop();
    }
    // The bundled catalog has no such alias: the same words name nothing there.
    await say(emily(), 'I need salesforce for a week because of the customer audit');
    expect(findById(lastCard(emily()), 'confirm-facts')).toBeUndefined();
  });
});

describe('the sign-in sentences', () => {
  it.each([
    ['forgot my pw again', 'Reset your password'],
    ['new phone, authenticator gone', 'Recover your sign-in methods (MFA)'],
    ['locked out of my laptop', 'Unlock your account'],
  ])('"%s" starts "%s"', async (text, title) => {
    // Oliver Bennett's account is locked in the demo directory, so the unlock flow has work to do.
    const oliver = demoUser(h, 'Oliver Bennett');
    await say(oliver, text);
    expect(findById(lastCard(oliver), 'signin-title').text).toBe(title);
  });
});
