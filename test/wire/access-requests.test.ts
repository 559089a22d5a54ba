import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { cardProblems } from '../cards/validate';
import {
  auditActions,
  cardsSentTo,
  click,
  currentCopies,
  demoUser,
  isMember,
  lastCardIn,
  personalConversation,
  requestAccess,
  requestCardsSentTo,
  settle,
} from '../support/access';
import { startHarness, type Harness } from '../support/harness';
import { cardOf, cardText, findById } from '../support/teams-client';

const catalog = loadCatalog();
const group = (id: string) => findResourceById(catalog, id)!.groupId;

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h?.stop();
});

function emily() {
  return h.user('employee');
}
function thomas() {
  return h.user('manager');
}
function sarah() {
  return h.user('technician');
}

/** The card the bot answered the user's last message with. */
function reply(user: { id: string }): any {
  return lastCardIn(h, h.client.personalConversationId(user as any));
}

describe('asking for access', () => {
  it('"I need VPN for a week" gives a confirmation card with the policy, then a request with an id', async () => {
    await h.client.message(emily(), 'I need VPN for a week');
    const confirm = reply(emily());
    expect(cardProblems(confirm)).toEqual([]);
    const facts = cardText(findById(confirm, 'confirm-facts'));
    expect(facts).toContain('VPN');
    expect(facts).toContain('1 week');
    expect(facts).toContain('low risk');
    expect(facts).toContain('Thomas Berg');
    // Nothing exists until it is submitted.
    expect(h.bot.store.requests.listForRequester(emily().id)).toHaveLength(0);
    expect(Object.keys(findById(confirm, 'access-submit').data)).toEqual(['draft']);

    const res = await h.client.invoke(emily(), 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    expect(findById(res.body.value, 'notice-title').text).toMatch(/^Submitted: REQ-\d{4}$/);
    const [request] = h.bot.store.requests.listForRequester(emily().id);
    expect(request).toMatchObject({ id: 'REQ-1001', state: 'pending', resourceId: 'vpn', durationHours: 168, stage: 1, stageCount: 1 });
    expect(auditActions(h, 'REQ-1001')).toEqual(['access.requested']);

    // The requester's own status card, with a cancel button, kept as a copy to update.
    const status = lastCardIn(h, h.client.personalConversationId(emily()));
    expect(findById(status, 'access-title').text).toBe('REQ-1001 · VPN for Emily Chen');
    expect(findById(status, 'access-cancel')).toMatchObject({ verb: 'access.cancel', data: { requestId: 'REQ-1001' } });
    expect(findById(status, 'access-approve')).toBeUndefined();
    expect(cardProblems(status)).toEqual([]);
    expect(h.bot.store.cards.forRequest('REQ-1001').map((c) => c.role)).toEqual(['requester']);

    // A second click on the same confirmation does not make a second request.
    const again = await h.client.invoke(emily(), 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    expect(findById(again.body.value, 'notice-title').text).toBe('Already submitted as REQ-1001');
    expect(h.bot.store.requests.listForRequester(emily().id)).toHaveLength(1);
  });

  it('"request access" shows the form; the form needs a justification for medium and high risk', async () => {
    await h.client.message(emily(), 'request access');
    const form = reply(emily());
    expect(cardProblems(form)).toEqual([]);
    expect(findById(form, 'resource')).toMatchObject({ type: 'Input.ChoiceSet', style: 'filtered' });
    expect(findById(form, 'resource').choices.map((c: any) => c.value)).toContain('payroll-reports');
    const noReason = await h.client.invoke(emily(), 'access.review', { resource: 'crm', duration: 'default', justification: '' });
    expect(findById(noReason.body.value, 'form-error').text).toMatch(/CRM needs a justification/);
    expect(findById(noReason.body.value, 'resource').value).toBe('crm');
    const ok = await h.client.invoke(emily(), 'access.review', { resource: 'crm', duration: '336', justification: 'Customer audit' });
    expect(cardText(findById(ok.body.value, 'confirm-facts'))).toMatch(/2 weeks from approval[\s\S]*Customer audit[\s\S]*Owners of CRM \(Amara Nwosu, Michael Grant\)/);
  });

  it('finds the resource by name or alias and reads the duration and reason from the sentence', async () => {
    await h.client.message(emily(), 'I need the payroll reports for two weeks because of the year-end audit');
    const confirm = reply(emily());
    const facts = cardText(findById(confirm, 'confirm-facts'));
    expect(facts).toContain('Payroll Reports');
    expect(facts).toContain('2 weeks');
    expect(facts).toContain('because of the year-end audit');
    expect(facts).toMatch(/high risk/);
  });

  it('offers the catalog when the name is unknown, and never requests on a loose reading of "I need ..."', async () => {
    await h.client.message(emily(), 'request access to the moon base');
    const form = reply(emily());
    expect(findById(form, 'form-error').text).toMatch(/could not find "the moon base"/);
    h.connector.clear();
    // Plain words are the recognizer's ("payroll" is an alias): whatever card it leads to, nothing is requested.
    await h.client.message(emily(), 'I need help with payroll shipping');
    expect(h.connector.sent()).not.toEqual([]);
    expect(h.bot.store.requests.listForRequester(emily().id)).toEqual([]);
  });

  it('refuses access already held', async () => {
    await h.client.message(emily(), 'I need ERP Finance for a month');
    const card = reply(emily());
    expect(findById(card, 'notice-title').text).toBe('You cannot request ERP Finance now');
    expect(findById(card, 'notice-text').text).toMatch(/already have ERP Finance/);
    expect(findById(card, 'access-submit')).toBeUndefined();
  });

  it('refuses a pending duplicate, naming the request', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.client.message(emily(), 'request access to vpn');
    const card = reply(emily());
    expect(findById(card, 'notice-text').text).toBe(`You already asked for VPN: ${id} is waiting for approval.`);
    expect(h.bot.store.requests.listForRequester(emily().id)).toHaveLength(1);
  });

  it('refuses separation-of-duties conflicts with access requested or held, naming the conflict', async () => {
    const hr = await requestAccess(h, emily(), 'I need the HR portal for a week because I cover for Noah');
    await h.client.message(emily(), 'I need payroll reports for a week because of the audit');
    const text = findById(reply(emily()), 'notice-text').text;
    expect(text).toContain('HR Portal Administrators');
    expect(text).toContain(hr);
    expect(cardText(reply(emily()))).toContain('Separation of duties');

    // Noah Williams holds HR Portal Administrators.
    const noah = demoUser(h, 'Noah Williams');
    await h.client.message(noah, 'I need payroll reports for a week because of the audit');
    expect(findById(lastCardIn(h, h.client.personalConversationId(noah)), 'notice-text').text).toMatch(/cannot be combined with HR Portal Administrators, which you have/);
    expect(h.bot.store.requests.listForRequester(noah.id)).toHaveLength(0);
  });

  it('refuses a duration over the maximum and offers the maximum', async () => {
    await h.client.message(emily(), 'I need payroll reports for 3 months because of the audit');
    const card = reply(emily());
    expect(findById(card, 'notice-text').text).toMatch(/at most 30 days/);
    const offer = findById(card, 'access-use-max');
    expect(offer).toMatchObject({ title: 'Request 30 days', verb: 'access.use-max' });
    expect(cardProblems(card)).toEqual([]);
    const res = await h.client.invoke(emily(), 'access.use-max', offer.data);
    expect(cardText(findById(res.body.value, 'confirm-facts'))).toContain('30 days from approval');
  });

  it('grants no permanent access where the policy does not allow it, and does where it does', async () => {
    await h.client.message(emily(), 'I need CRM permanently because I joined sales');
    expect(findById(reply(emily()), 'notice-text').text).toMatch(/only granted for a limited time/);
    const id = await requestAccess(h, emily(), 'I need VPN permanently');
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'granted', durationHours: null, expiresAt: null });
    expect(h.bot.store.jobs.forRequest(id).filter((j) => j.kind === 'access.revoke')).toHaveLength(0);
  });

  it('is only done in a 1:1 chat', async () => {
    await h.client.message(sarah(), 'request access', { where: 'channel' });
    expect(cardText(lastCardIn(h, h.client.channelConversationId()))).toMatch(/1:1 chat/);
  });
});

describe('one approval stage (the manager)', () => {
  it('the manager gets the card in a chat created for him, approves, the employee is a member and told the expiry', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    // Thomas never talked to the bot: the chat is created with his Entra object id and the tenant.
    const created = h.connector.calls.find((c) => c.kind === 'createConversation');
    expect(created?.body).toMatchObject({ isGroup: false, tenantId: h.tenant.tenantId, members: [{ aadObjectId: thomas().id }] });
    const [card] = requestCardsSentTo(h, thomas().id, id);
    expect(cardProblems(card)).toEqual([]);
    const text = cardText(card);
    for (const s of ['Emily Chen, Accountant', 'Finance', 'Thomas Berg', 'VPN', 'Low', '1 week', 'ERP Finance', 'Expense Reporting']) expect(text).toContain(s);
    expect(findById(card, 'access-approve')).toMatchObject({ type: 'Action.Execute', verb: 'access.approve', data: { requestId: id, stage: 1 } });
    expect(Object.keys(findById(card, 'access-deny').data).sort()).toEqual(['requestId', 'stage']);
    expect(card.refresh).toMatchObject({ action: { verb: 'access.refresh' } });
    expect(card.refresh.userIds).toEqual(expect.arrayContaining([`8:orgid:${thomas().id}`, `29:${emily().id}`]));

    const response = await click(h, thomas(), 'access.approve', id, 1);
    expect(findById(response, 'access-banner').text).toMatch(/You approved/);
    expect(findById(response, 'access-approve')).toBeUndefined();
    await settle(h);

    expect(await isMember(h, emily().id, group('vpn'))).toBe(true);
    const request = h.bot.store.requests.get(id)!;
    expect(request.state).toBe('granted');
    expect(new Date(request.expiresAt!).getTime() - new Date(request.grantedAt!).getTime()).toBe(168 * 3_600_000);
    expect(auditActions(h, id)).toEqual(['access.requested', 'access.approved', 'access.grant-attempted', 'access.provisioned']);

    // Both copies show the outcome; the employee got a message with the expiry.
    const copies = currentCopies(h, id);
    expect(copies.map((c) => c.role).sort()).toEqual(['approver', 'requester']);
    for (const c of copies) {
      expect(findById(c.card, 'access-status').text).toMatch(/^Granted until /);
      expect(cardText(findById(c.card, 'access-history'))).toMatch(/Stage 1 approved[\s\S]*Thomas Berg/);
      expect(findById(c.card, 'access-approve')).toBeUndefined();
      expect(findById(c.card, 'access-cancel')).toBeUndefined();
      expect(cardProblems(c.card)).toEqual([]);
    }
    const told = cardsSentTo(h, emily().id).find((c) => findById(c, 'notice-title')?.text === 'Access granted: VPN');
    expect(findById(told, 'notice-text').text).toContain(`until ${formatUtc(request.expiresAt!)}`);
  });

  it('a second notification reuses the chat it created', async () => {
    await requestAccess(h, emily(), 'I need VPN for a week');
    await requestAccess(h, demoUser(h, 'Carlos Mendes'), 'I need VPN for a week');
    expect(h.connector.calls.filter((c) => c.kind === 'createConversation')).toHaveLength(1);
    expect(h.connector.sentTo(personalConversation(h, thomas().id)!)).toHaveLength(2);
  });

  it('deny needs a comment; with one, the request is denied and the employee sees the comment', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const without = await click(h, thomas(), 'access.deny', id, 1, { comment: '   ' });
    expect(findById(without, 'access-banner').text).toMatch(/Add a comment to deny/);
    expect(findById(without, 'access-deny')).toBeDefined();
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
    expect(h.bot.store.requests.decisions(id)).toEqual([]);

    const denied = await click(h, thomas(), 'access.deny', id, 1, { comment: 'Use the office network this month' });
    expect(findById(denied, 'access-status').text).toBe('Denied by Thomas Berg');
    await settle(h);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'denied', closeComment: 'Use the office network this month' });
    expect(await isMember(h, emily().id, group('vpn'))).toBe(false);
    const events = h.bot.store.audit.query({ correlationId: id });
    expect(events.map((e) => e.action)).toEqual(['access.requested', 'access.denied']);
    expect(JSON.parse(events[1]!.details)).toMatchObject({ comment: 'Use the office network this month', stage: 1 });
    const told = cardsSentTo(h, emily().id).find((c) => findById(c, 'notice-title')?.text === 'Request denied: VPN');
    expect(findById(told, 'notice-text').text).toContain('"Use the office network this month"');
    for (const c of currentCopies(h, id)) expect(cardText(c.card)).toContain('Use the office network this month');
    expect(h.bot.store.jobs.forRequest(id).filter((j) => j.state === 'pending')).toEqual([]);
  });

  it("refuses a non-approver's click: nothing changes, the refusal is audited", async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const card = await click(h, sarah(), 'access.approve', id, 1);
    expect(findById(card, 'access-banner').text).toMatch(/not an approver/);
    expect(findById(card, 'access-approve')).toBeUndefined();
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
    expect(h.bot.store.requests.decisions(id)).toEqual([]);
    const [refused] = h.bot.store.audit.query({ correlationId: id, action: 'access.decision-refused' });
    expect(refused).toMatchObject({ actorId: sarah().id, outcome: 'refused' });
    expect(JSON.parse(refused!.details)).toMatchObject({ reason: 'not-an-approver', verb: 'approve' });
    // Card data cannot make someone an approver.
    await h.client.invoke(sarah(), 'access.approve', { requestId: id, stage: 1, approverId: sarah().id, approver: true });
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
  });

  it('a manager who is no longer the manager in the directory cannot decide', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const original = h.bot.directory.getManager.bind(h.bot.directory);
    h.bot.directory.getManager = async (userId: string) => (userId === emily().id ? original(demoUser(h, 'Olivia Hart').id) : original(userId));
    const card = await click(h, thomas(), 'access.approve', id, 1);
    h.bot.directory.getManager = original;
    expect(findById(card, 'access-banner').text).toMatch(/not an approver/);
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
  });

  it('approve after cancel: the request stays cancelled and the manager sees who cancelled it', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.client.message(emily(), `cancel ${id}`);
    expect(findById(reply(emily()), 'notice-title').text).toBe(`Cancelled ${id}`);
    await settle(h);
    const card = await click(h, thomas(), 'access.approve', id, 1);
    expect(findById(card, 'access-banner').text).toMatch(new RegExp(`${id} was cancelled by Emily Chen at `));
    expect(h.bot.store.requests.get(id)!.state).toBe('cancelled');
    expect(h.bot.store.requests.decisions(id)).toEqual([]);
    expect(auditActions(h, id)).toEqual(['access.requested', 'access.cancelled']);
    expect(await isMember(h, emily().id, group('vpn'))).toBe(false);
    const copies = currentCopies(h, id);
    for (const c of copies) expect(findById(c.card, 'access-status').text).toBe('Cancelled by Emily Chen');
  });

  it('only the requester can cancel, and only while pending', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.client.message(thomas(), `cancel ${id}`);
    expect(cardText(reply(thomas()))).toMatch(/You have no request/);
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.cancel-refused' })).toHaveLength(1);
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    await h.client.message(emily(), `cancel ${id.toLowerCase()}`);
    expect(cardText(reply(emily()))).toMatch(/cannot be cancelled any more: it is granted until/);
    await h.client.message(emily(), 'cancel request everything');
    expect(h.connector.sentTo(h.client.personalConversationId(emily())).at(-1).text).toMatch(/Usage: `cancel REQ-1042`/);
  });

  it('forwards to a named delegate, who gets the card and may decide', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const olivia = demoUser(h, 'Olivia Hart');
    const notFound = await click(h, thomas(), 'access.forward', id, 1, { delegate: 'Nobody Atall' });
    expect(findById(notFound, 'access-banner').text).toMatch(/Nobody who can sign in matches/);
    const self = await click(h, thomas(), 'access.forward', id, 1, { delegate: 'Emily Chen' });
    expect(findById(self, 'access-banner').text).toMatch(/is the requester/);
    const res = await click(h, thomas(), 'access.forward', id, 1, { delegate: 'olivia.hart@northwind.example' });
    expect(findById(res, 'access-banner').text).toMatch(/Forwarded to Olivia Hart/);
    await settle(h);
    const [card] = requestCardsSentTo(h, olivia.id, id);
    expect(findById(card, 'access-banner').text).toMatch(/Thomas Berg forwarded this request to you/);
    expect(findById(card, 'access-approve')).toBeDefined();
    expect(h.bot.store.requests.approvers(id, 1).map((a) => [a.approverName, a.source])).toEqual([
      ['Thomas Berg', 'policy'],
      ['Olivia Hart', 'delegate'],
    ]);
    await click(h, olivia, 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'granted', closedByName: 'Olivia Hart' });
    // Naming the requester is refused and audited as such.
    expect(auditActions(h, id)).toEqual(['access.requested', 'access.forward-refused', 'access.forwarded', 'access.approved', 'access.grant-attempted', 'access.provisioned']);
  });

  it('forward also works as text', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.client.message(thomas(), `forward ${id} to Rajesh Iyer`);
    expect(findById(reply(thomas()), 'notice-title').text).toBe(`Forwarded ${id}`);
    await settle(h);
    expect(requestCardsSentTo(h, demoUser(h, 'Rajesh Iyer').id, id)).toHaveLength(1);
  });
});

describe('two approval stages', () => {
  it('payroll reports: the manager, then the owners; every copy and the employee see the outcome', async () => {
    const id = await requestAccess(h, emily(), 'I need the payroll reports for two weeks because of the year-end audit');
    const olivia = demoUser(h, 'Olivia Hart');
    const rebecca = demoUser(h, 'Rebecca Stone');
    expect(requestCardsSentTo(h, olivia.id, id)).toHaveLength(0);
    const [first] = requestCardsSentTo(h, thomas().id, id);
    expect(cardText(first)).toMatch(/High/);
    expect(cardText(first)).toContain("The requester's manager → Owners of Payroll Reports");

    await click(h, thomas(), 'access.approve', id, 1, { comment: 'Audit season' });
    await settle(h);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });
    expect(await isMember(h, emily().id, group('payroll-reports'))).toBe(false);
    for (const owner of [olivia, rebecca]) {
      const [card] = requestCardsSentTo(h, owner.id, id);
      expect(findById(card, 'access-approve').data).toEqual({ requestId: id, stage: 2 });
      expect(cardText(findById(card, 'access-history'))).toMatch(/Stage 1 approved[\s\S]*Thomas Berg[\s\S]*Audit season/);
      expect(cardProblems(card)).toEqual([]);
    }
    // Thomas's copy was updated: stage 1 decided, no buttons for him any more.
    const thomasCopy = currentCopies(h, id).find((c) => c.userId === thomas().id)!;
    expect(findById(thomasCopy.card, 'access-status').text).toMatch(/stage 2 of 2/);
    expect(findById(thomasCopy.card, 'access-approve')).toBeUndefined();
    // Updates of every copy keep telling the approver what he decided; nobody else sees "You".
    expect(findById(thomasCopy.card, 'access-banner').text).toMatch(new RegExp(`^You approved ${id} \\(stage 1\\) at `));
    for (const c of currentCopies(h, id).filter((x) => x.userId !== thomas().id)) expect(findById(c.card, 'access-banner')).toBeUndefined();

    await click(h, rebecca, 'access.approve', id, 2);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
    expect(await isMember(h, emily().id, group('payroll-reports'))).toBe(true);
    // Payroll Reports is high risk: each approver proved a fresh MFA (their demo phone's code) first.
    expect(auditActions(h, id)).toEqual([
      'access.requested',
      'access.mfa-required',
      'signin.mfa-proven',
      'access.approved',
      'access.mfa-required',
      'signin.mfa-proven',
      'access.approved',
      'access.grant-attempted',
      'access.provisioned',
    ]);
    const copies = currentCopies(h, id);
    expect(copies.map((c) => c.userId).sort()).toEqual([emily().id, thomas().id, olivia.id, rebecca.id].sort());
    for (const c of copies) {
      expect(findById(c.card, 'access-status').text).toMatch(/^Granted until/);
      expect(cardText(c.card)).toMatch(/Stage 2 approved[\s\S]*Rebecca Stone/);
      expect(findById(c.card, 'access-approve')).toBeUndefined();
    }
    // Olivia, who did not decide, is told who did if she clicks her stale card.
    const late = await click(h, olivia, 'access.approve', id, 2);
    expect(findById(late, 'access-banner').text).toMatch(/^Already approved by Rebecca Stone at /);
    expect(h.bot.store.requests.decisions(id)).toHaveLength(2);
  });

  it('a card from an older stage cannot act on the newer one', async () => {
    const id = await requestAccess(h, emily(), 'I need production admin for a day because of the release');
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    // Stage 2 is the Identity Technicians group; Sarah clicks on an old stage-1 card.
    const stale = await click(h, sarah(), 'access.approve', id, 1);
    expect(findById(stale, 'access-banner').text).toMatch(/^Already approved by Thomas Berg/);
    const forged = await click(h, sarah(), 'access.deny', id, 3, { comment: 'x' });
    expect(findById(forged, 'access-banner').text).toMatch(/This card was for stage 3; the request is now at stage 2/);
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.decision-refused' }).map((e) => JSON.parse(e.details).reason)).toEqual(['stale-card']);
    // Thomas approved stage 1: stage 2 needs someone else.
    const notHis = await click(h, thomas(), 'access.approve', id, 2);
    expect(findById(notHis, 'access-banner').text).toMatch(/You approved an earlier stage .* needs another approver/);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });
    await click(h, sarah(), 'access.approve', id, 2);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
  });
});

describe('a different person for every stage', () => {
  it('the manager who is also an owner approves stage 1 only; stage 2 goes to the other owner', async () => {
    const mateo = demoUser(h, 'Mateo Alvarez');
    const olivia = demoUser(h, 'Olivia Hart'); // his manager, and an owner of Payroll Reports
    const rebecca = demoUser(h, 'Rebecca Stone');
    const id = await requestAccess(h, mateo, 'I need the payroll reports for two weeks because of the quarter close');
    await settle(h);
    await click(h, olivia, 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.approvers(id, 2).map((a) => a.approverName)).toEqual(['Rebecca Stone']);
    expect(requestCardsSentTo(h, olivia.id, id).some((c) => findById(c, 'access-approve')?.data?.stage === 2)).toBe(false);

    // Her stage 1 card, replayed for stage 2: refused, audited, nothing changed.
    const refused = await click(h, olivia, 'access.approve', id, 2);
    expect(findById(refused, 'access-banner').text).toMatch(/approved an earlier stage/);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.decision-refused' }).map((e) => JSON.parse(e.details!).reason)).toEqual(['approved-earlier-stage']);

    await click(h, rebecca, 'access.approve', id, 2);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
    expect(h.bot.store.requests.decisions(id).map((d) => d.decidedByName)).toEqual(['Olivia Hart', 'Rebecca Stone']);
  });

  it('when the only owner approved stage 1 as manager, stage 2 goes to the next manager up', async () => {
    const ines = demoUser(h, 'Inès Moreau');
    const rebecca = demoUser(h, 'Rebecca Stone'); // her manager and the only owner of HR Portal Admin
    const id = await requestAccess(h, ines, 'I need HR portal admin for 3 days', { justification: 'Fix the onboarding forms' });
    await settle(h);
    await click(h, rebecca, 'access.approve', id, 1);
    await settle(h);
    const stage2 = h.bot.store.requests.approvers(id, 2);
    expect(stage2.map((a) => [a.approverName, a.source])).toEqual([['Daniel Whitaker', 'fallback']]);
    expect(requestCardsSentTo(h, demoUser(h, 'Daniel Whitaker').id, id)).toHaveLength(1);
  });
});

describe('no self-approval', () => {
  it('the sole owner requesting their own resource is routed to the next manager up', async () => {
    // Victor Almeida is the only owner of Warehouse Floor Devices (approved by its owners).
    const victor = demoUser(h, 'Victor Almeida');
    const daniel = demoUser(h, 'Daniel Whitaker');
    const id = await requestAccess(h, victor, 'I need the warehouse scanners for a week');
    expect(h.bot.store.requests.approvers(id, 1).map((a) => [a.approverName, a.source])).toEqual([['Daniel Whitaker', 'fallback']]);
    expect(requestCardsSentTo(h, victor.id, id).every((c) => !findById(c, 'access-approve'))).toBe(true);
    const self = await click(h, victor, 'access.approve', id, 1);
    expect(findById(self, 'access-banner').text).toMatch(/cannot decide on your own request/);
    expect(JSON.parse(h.bot.store.audit.query({ correlationId: id, action: 'access.decision-refused' })[0]!.details).reason).toBe('self-approval');
    expect(requestCardsSentTo(h, daniel.id, id)).toHaveLength(1);
    await click(h, daniel, 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
  });

  it('an owner requesting a resource they own leaves the other owners to decide', async () => {
    const olivia = demoUser(h, 'Olivia Hart');
    const id = await requestAccess(h, olivia, 'I need payroll reports for a week because I cover the payroll run');
    await click(h, demoUser(h, 'Rajesh Iyer'), 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.approvers(id, 2).map((a) => a.approverName)).toEqual(['Rebecca Stone']);
  });

  it('someone with no manager goes to the fallback group', async () => {
    const helena = demoUser(h, 'Helena Brandt');
    const id = await requestAccess(h, helena, 'I need payroll reports for a week because of the board review');
    expect(h.bot.store.requests.approvers(id, 1).map((a) => [a.approverName, a.source])).toEqual([
      ['Ahmed Farouk', 'fallback'],
      ['Sarah Mitchell', 'fallback'],
    ]);
  });
});

describe('two approvers at once', () => {
  it('exactly one decision wins, every time; the other is told who decided', async () => {
    const amara = demoUser(h, 'Amara Nwosu');
    const michael = demoUser(h, 'Michael Grant');
    // Both clicks pass the approver check before either claims: the claim alone decides.
    const original = h.bot.directory.listGroupOwners.bind(h.bot.directory);
    let waiting: Array<() => void> = [];
    let armed = false;
    h.bot.directory.listGroupOwners = async (groupId: string) => {
      const owners = await original(groupId);
      if (!armed || groupId !== group('crm')) return owners;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === 2) {
          for (const w of waiting) w();
          waiting = [];
        }
      });
      return owners;
    };
    const ROUNDS = 15;
    for (let round = 0; round < ROUNDS; round++) {
      const id = await requestAccess(h, emily(), 'I need the crm for a week because of the customer audit');
      const denyToo = round % 2 === 1;
      armed = true;
      const [a, b] = await Promise.all([
        click(h, amara, 'access.approve', id, 1),
        click(h, michael, denyToo ? 'access.deny' : 'access.approve', id, 1, { comment: 'No' }),
      ]);
      armed = false;
      await settle(h);
      const decisions = h.bot.store.requests.decisions(id);
      expect(decisions).toHaveLength(1);
      const winner = decisions[0]!.decidedByName;
      const events = h.bot.store.audit.query({ correlationId: id }).filter((e) => e.action === 'access.approved' || e.action === 'access.denied');
      expect(events).toHaveLength(1);
      expect(events[0]!.actorName).toBe(winner);
      const loser = winner === 'Amara Nwosu' ? b : a;
      expect(findById(loser, 'access-banner').text).toMatch(new RegExp(`^Already (approved|denied) by ${winner} at `));
      const state = h.bot.store.requests.get(id)!.state;
      expect(state).toBe(decisions[0]!.decision === 'approved' ? 'granted' : 'denied');
      expect(h.bot.store.audit.query({ correlationId: id, action: 'access.provisioned' })).toHaveLength(state === 'granted' ? 1 : 0);
      // Ready for the next round.
      await h.bot.directory.removeGroupMember(group('crm'), emily().id);
    }
    h.bot.directory.listGroupOwners = original;
  });
});

describe('views', () => {
  it('"my requests" lists status with a cancel button on pending ones; cancelling from the list refreshes it', async () => {
    await h.client.message(emily(), 'my requests');
    expect(findById(reply(emily()), 'list-intro').text).toMatch(/not requested any access yet/);
    const vpn = await requestAccess(h, emily(), 'I need VPN for a week');
    const exp = await requestAccess(h, emily(), 'I need the CRM for a week because of the customer audit');
    await click(h, demoUser(h, 'Amara Nwosu'), 'access.approve', exp, 1);
    await settle(h);
    await h.client.message(emily(), 'My requests');
    const list = reply(emily());
    expect(cardProblems(list)).toEqual([]);
    expect(findById(list, `request-status-${vpn}`).text).toMatch(/Waiting for approval/);
    expect(findById(list, `request-status-${exp}`).text).toMatch(/Granted until/);
    expect(findById(list, `cancel-${vpn}`)).toMatchObject({ verb: 'access.list-cancel', data: { requestId: vpn } });
    expect(findById(list, `cancel-${exp}`)).toBeUndefined();
    const res = await h.client.invoke(emily(), 'access.list-cancel', { requestId: vpn });
    expect(findById(res.body.value, 'list-banner').text).toMatch(new RegExp(`${vpn} is cancelled`));
    expect(findById(res.body.value, `request-status-${vpn}`).text).toBe('Cancelled by Emily Chen');
  });

  it('"what\'s waiting for me" gives the manager a card with buttons per pending request', async () => {
    await h.client.message(thomas(), "what's waiting for me?");
    expect(h.connector.sentTo(h.client.personalConversationId(thomas())).at(-1).text).toBe('Nothing is waiting for your decision.');
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    h.connector.clear();
    await h.client.message(thomas(), 'waiting for me');
    const sent = h.connector.sentTo(h.client.personalConversationId(thomas()));
    expect(sent[0].text).toBe('One request waits for your decision:');
    const card = cardOf(sent[1]);
    expect(findById(card, 'access-approve').data).toEqual({ requestId: id, stage: 1 });
    // This copy is kept too, and updated after the decision.
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    const copies = currentCopies(h, id).filter((c) => c.userId === thomas().id);
    expect(copies).toHaveLength(2);
    for (const c of copies) expect(findById(c.card, 'access-status').text).toMatch(/Granted until/);
  });

  it('"status REQ-1042" shows the card to the requester and the approvers, nobody else', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.client.message(emily(), `status ${id}`);
    expect(findById(reply(emily()), 'access-cancel')).toBeDefined();
    await h.client.message(thomas(), id.toLowerCase());
    expect(findById(reply(thomas()), 'access-approve')).toBeDefined();
    h.connector.clear();
    await h.client.message(sarah(), `status of ${id}?`);
    expect(h.connector.sent()[0].text).toMatch(/You have no request/);
  });

  it('"status" still answers the approver of an earlier stage once the request moved on', async () => {
    const id = await requestAccess(h, emily(), 'I need the payroll reports for two weeks because of the year-end audit');
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.stage).toBe(2);
    await h.client.message(thomas(), `status ${id}`);
    const card = reply(thomas());
    expect(findById(card, 'access-status').text).toMatch(/stage 2 of 2/);
    expect(findById(card, 'access-approve')).toBeUndefined();
  });

  it('the refresh verb gives approvers the buttons and everyone else the status', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const forThomas = (await h.client.invoke(thomas(), 'access.refresh', { requestId: id, stage: 1 })).body.value;
    expect(findById(forThomas, 'access-approve')).toBeDefined();
    expect(forThomas.refresh).toBeUndefined();
    const forEmily = (await h.client.invoke(emily(), 'access.refresh', { requestId: id, stage: 1 })).body.value;
    expect(findById(forEmily, 'access-approve')).toBeUndefined();
    expect(findById(forEmily, 'access-cancel')).toBeDefined();
    const forSarah = (await h.client.invoke(sarah(), 'access.refresh', { requestId: id, stage: 1 })).body.value;
    expect(findById(forSarah, 'access-approve')).toBeUndefined();
    expect(findById(forSarah, 'access-cancel')).toBeUndefined();
    expect(findById(forSarah, 'access-status').text).toMatch(/Waiting for approval/);
  });

  it('the welcome card offers the items by role', async () => {
    await h.client.message(emily(), 'help');
    const employeeCard = reply(emily());
    expect(findById(employeeCard, 'menu-request-access')).toMatchObject({ verb: 'menu.run', data: { item: 'request-access' } });
    expect(findById(employeeCard, 'menu-my-requests')).toBeDefined();
    expect(findById(employeeCard, 'menu-approvals')).toBeUndefined();
    await h.client.message(thomas(), 'help');
    const managerCard = reply(thomas());
    expect(cardText(findById(managerCard, 'section-manager'))).toContain("what's waiting for me");
    expect(findById(managerCard, 'menu-approvals')).toBeDefined();
    expect(cardProblems(managerCard)).toEqual([]);
    const res = await h.client.invoke(emily(), 'menu.run', { item: 'request-access' });
    expect(res.status).toBe(200);
    expect(findById(reply(emily()), 'form-title')).toBeDefined();
  });

  it('nonsense card data gets "no longer active", never an error', async () => {
    for (const data of [{}, { requestId: 'REQ-1' }, { requestId: "REQ-1' OR 1=1", stage: 1 }, { requestId: 'REQ-99999', stage: 1 }, { requestId: 'REQ-1001', stage: 9 }]) {
      const res = await h.client.invoke(thomas(), 'access.approve', data);
      expect(res.status).toBe(200);
      expect(cardText(res.body.value)).toMatch(/no longer active|There is no request/);
    }
  });
});

function formatUtc(iso: string): string {
  const d = new Date(iso);
  const day = d.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).replace(/,/g, '');
  const time = d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
  return `${day}, ${time} UTC`;
}
