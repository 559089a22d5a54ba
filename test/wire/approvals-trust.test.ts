import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditActions, click, demoCode, demoUser, expectSentCardsValidAndChainIntact, requestAccess, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { wrongCode } from '../support/signin';
import { cardOf, cardText, findById } from '../support/teams-client';

/**
 * Trust at the edge, for approvals (local mode, over HTTP): approving high-risk access needs
 * the approver's fresh MFA (the demo authenticator code), recorded as the approval's
 * assurance; a forward may not gather two stages into one pair of hands; delegate, fallback
 * and escalation approvers are checked again at click time; guests are not employees.
 */

const MINUTE = 60_000;
let h: Harness;
let clock: TestClock;

async function boot(env: Record<string, string> = {}): Promise<void> {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness(env, { clock: clock.now });
}
afterEach(async () => {
  if (h) expectSentCardsValidAndChainIntact(h);
  await h?.stop();
});

const emily = () => h.user('employee');
const thomas = () => h.user('manager');
const PAYROLL = 'I need the payroll reports for two weeks because of the year-end audit';

function approvals(requestId: string) {
  return h.bot.store.audit.query({ correlationId: requestId, action: 'access.approved' }).map((e) => ({ actor: e.actorId, details: JSON.parse(e.details) }));
}

describe('fresh MFA to approve high-risk access (demo authenticator code)', () => {
  beforeEach(() => boot());

  it('Approve without a code asks for it; a wrong code is refused and counted; the right code approves, audited with its assurance', async () => {
    const id = await requestAccess(h, emily(), PAYROLL);
    // Asked: the card keeps the buttons and gets a box for the code; nothing changes.
    const asked = await click(h, thomas(), 'access.approve', id, 1, { mfaCode: undefined });
    expect(findById(asked, 'access-banner').text).toMatch(/Approving Payroll Reports \(high risk\) needs proof of your MFA/);
    expect(findById(asked, 'mfaCode')).toMatchObject({ type: 'Input.Text' });
    expect(findById(asked, 'access-approve')).toBeDefined();
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 1 });
    expect(h.bot.store.requests.decisions(id)).toEqual([]);

    // A wrong code: refused, nothing changes, and it counts towards the lockout like a failed recovery check.
    const wrong = await click(h, thomas(), 'access.approve', id, 1, { mfaCode: wrongCode(h, thomas(), clock.now()) });
    expect(findById(wrong, 'access-banner').text).toMatch(/That code is not right\. \d attempts are left .* Nothing was changed\./);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 1 });
    expect(h.bot.store.requests.decisions(id)).toEqual([]);
    expect(h.bot.store.recovery.countEvents(thomas().id, 'verification-failed', new Date(0))).toBe(1);
    const refused = h.bot.store.audit.query({ correlationId: id, action: 'access.decision-refused' }).map((e) => JSON.parse(e.details));
    expect(refused).toMatchObject([{ verb: 'approve', reason: 'mfa-not-proven', detail: 'wrong-code' }]);

    // The right code: stage 1 approved, and the approval says how the MFA was proven.
    const done = await click(h, thomas(), 'access.approve', id, 1, { mfaCode: demoCode(h, thomas()) });
    expect(cardText(done)).toContain(`You approved stage 1 of ${id}`);
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });
    expect(approvals(id)).toEqual([{ actor: thomas().id, details: expect.objectContaining({ stage: 1, assurance: { method: 'demo-totp', at: clock.now().toISOString() } }) }]);
    expect(auditActions(h, id)).toEqual(['access.requested', 'access.mfa-required', 'access.decision-refused', 'signin.mfa-proven', 'access.approved']);
  });

  it('a code counts once: the same code again, by the same approver after the proof ran out, is refused', async () => {
    const first = await requestAccess(h, emily(), PAYROLL);
    const code = demoCode(h, thomas());
    await click(h, thomas(), 'access.approve', first, 1, { mfaCode: code });
    expect(h.bot.store.requests.get(first)!.stage).toBe(2);
    // A proof counts for 10 minutes; 11 minutes later a new one is needed, and the old code (replayed
    // with the clock put back inside its window by nobody) does not do.
    const second = await requestAccess(h, h.user(demoUser(h, 'Carlos Mendes').id), 'I need the payroll reports for two weeks because of the year-end audit');
    clock.advance(11 * MINUTE);
    const replay = await click(h, thomas(), 'access.approve', second, 1, { mfaCode: code });
    expect(findById(replay, 'access-banner').text).toMatch(/not right|used already/);
    expect(h.bot.store.requests.get(second)).toMatchObject({ state: 'pending', stage: 1 });
  });

  it('one proof counts for that approver for 10 minutes, not longer and not for anyone else', async () => {
    const first = await requestAccess(h, emily(), PAYROLL);
    await click(h, thomas(), 'access.approve', first, 1, { mfaCode: demoCode(h, thomas()) });
    const second = await requestAccess(h, h.user(demoUser(h, 'Carlos Mendes').id), 'I need the payroll reports for two weeks because of the year-end audit');
    clock.advance(9 * MINUTE);
    // Within 10 minutes: one click.
    const again = await click(h, thomas(), 'access.approve', second, 1, { mfaCode: undefined });
    expect(cardText(again)).toContain(`You approved stage 1 of ${second}`);
    expect(approvals(second)[0]!.details.assurance).toEqual({ method: 'demo-totp', at: '2026-03-02T09:00:00.000Z' });
    // Stage 2's owner has proven nothing: asked.
    const owner = demoUser(h, 'Olivia Hart');
    const asked = await click(h, owner, 'access.approve', first, 2, { mfaCode: undefined });
    expect(findById(asked, 'mfaCode')).toBeDefined();
    expect(h.bot.store.requests.get(first)).toMatchObject({ state: 'pending', stage: 2 });
    // After 10 minutes Thomas is asked again.
    const third = await requestAccess(h, h.user(demoUser(h, 'Priya Raman').id), 'I need the payroll reports for two weeks because of the year-end audit');
    clock.advance(2 * MINUTE);
    const later = await click(h, thomas(), 'access.approve', third, 1, { mfaCode: undefined });
    expect(findById(later, 'mfaCode')).toBeDefined();
    expect(h.bot.store.requests.get(third)).toMatchObject({ state: 'pending', stage: 1 });
  });

  it('a low-risk resource approves with one click, as before, with no assurance asked', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const done = await click(h, thomas(), 'access.approve', id, 1, { mfaCode: undefined });
    expect(cardText(done)).toContain(`You approved ${id}`);
    expect(findById(done, 'mfaCode')).toBeUndefined();
    expect(approvals(id)[0]!.details.assurance).toBeUndefined();
    expect(auditActions(h, id)).not.toContain('access.mfa-required');
  });

  it('denying a high-risk request needs no MFA (it hands out nothing)', async () => {
    const id = await requestAccess(h, emily(), PAYROLL);
    await click(h, thomas(), 'access.deny', id, 1, { comment: 'Not for this audit.' });
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'denied' });
  });
});

describe('the risk level that needs fresh MFA is a policy setting', () => {
  it('APPROVAL_MFA_RISK=medium: the CRM (medium risk) needs it too', async () => {
    await boot({ APPROVAL_MFA_RISK: 'medium' });
    const id = await requestAccess(h, emily(), 'I need the CRM for a week because of the customer review');
    const approver = h.bot.store.requests.approvers(id, 1)[0]!;
    const asked = await click(h, { id: approver.approverId, displayName: approver.approverName }, 'access.approve', id, 1, { mfaCode: undefined });
    expect(findById(asked, 'mfaCode')).toBeDefined();
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
  });
});

describe('a resource whose group is privileged is high risk whatever the catalog says', () => {
  it('with the VPN group configured as privileged, approving VPN (low risk in the catalog) needs fresh MFA', async () => {
    const demoPrivileged = ['b1a9926b-e1c0-4b72-aed0-6ec2cc9e8a1a', '73d32ec8-68a1-432c-93bc-626fad345206', '2dd0f164-92e0-42a8-ac67-573fc1637c65', '527153bb-809d-4e52-9d3c-5c0c33b126ca'];
    const vpnGroup = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';
    await boot({ RECOVERY_PRIVILEGED_GROUP_IDS: [...demoPrivileged, vpnGroup].join(',') });
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const asked = await click(h, thomas(), 'access.approve', id, 1, { mfaCode: undefined });
    expect(findById(asked, 'mfaCode')).toBeDefined();
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 1 });
    const done = await click(h, thomas(), 'access.approve', id, 1, { mfaCode: demoCode(h, thomas()) });
    expect(cardText(done)).toContain(`You approved ${id}`);
    expect(approvals(id)[0]!.details.assurance).toMatchObject({ method: 'demo-totp' });
  });
});

describe('forwarding never hands a stage to someone who had an earlier one', () => {
  beforeEach(() => boot());

  it('refuses a forward to the approver of stage 1, and to whoever forwarded stage 1: audited as refusals, nothing added', async () => {
    const id = await requestAccess(h, emily(), PAYROLL);
    const rajesh = demoUser(h, 'Rajesh Iyer');
    // Stage 1: Thomas forwards to Rajesh (who stays out of it), then approves himself.
    await click(h, thomas(), 'access.forward', id, 1, { delegate: rajesh.userPrincipalName });
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.stage).toBe(2);
    const olivia = demoUser(h, 'Olivia Hart');

    const toApprover = await click(h, olivia, 'access.forward', id, 2, { delegate: thomas().userPrincipalName });
    expect(findById(toApprover, 'access-banner').text).toBe(`Thomas Berg approved stage 1 of ${id}; stage 2 needs another pair of eyes, so it was not forwarded.`);
    // Rajesh did not decide stage 1, but Thomas forwarded it to him; Thomas himself forwarded stage 1.
    const toForwarder = await click(h, olivia, 'access.forward', id, 2, { delegate: 'Thomas Berg' });
    expect(findById(toForwarder, 'access-banner').text).toMatch(/stage 2 needs another pair of eyes, so it was not forwarded/);
    expect(h.bot.store.requests.approvers(id, 2).map((a) => a.approverName).sort()).toEqual(['Olivia Hart', 'Rebecca Stone']);
    const refusals = h.bot.store.audit.query({ correlationId: id, action: 'access.forward-refused' }).map((e) => JSON.parse(e.details));
    expect(refusals.map((r) => [r.stage, r.to.id, r.reason])).toEqual([
      [2, thomas().id, 'decided-earlier-stage'],
      [2, thomas().id, 'decided-earlier-stage'],
    ]);
  });

  it('refuses a forward to someone who forwarded an earlier stage without deciding it', async () => {
    const id = await requestAccess(h, emily(), PAYROLL);
    const rajesh = demoUser(h, 'Rajesh Iyer');
    // Thomas forwards stage 1 to Rajesh, Rajesh forwards it on to Helena, who approves.
    await click(h, thomas(), 'access.forward', id, 1, { delegate: rajesh.userPrincipalName });
    await click(h, rajesh, 'access.forward', id, 1, { delegate: 'Helena Brandt' });
    await click(h, demoUser(h, 'Helena Brandt'), 'access.approve', id, 1);
    expect(h.bot.store.requests.get(id)!.stage).toBe(2);
    const res = await click(h, demoUser(h, 'Olivia Hart'), 'access.forward', id, 2, { delegate: rajesh.userPrincipalName });
    expect(findById(res, 'access-banner').text).toBe(`Rajesh Iyer forwarded stage 1 of ${id}; stage 2 needs another pair of eyes, so it was not forwarded.`);
    expect(h.bot.store.requests.approver(id, 2, rajesh.id)).toBeNull();
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.forward-refused' }).map((e) => JSON.parse(e.details).reason)).toEqual(['forwarded-earlier-stage']);
  });
});

describe('delegate, fallback and escalation approvers are checked again at click time (forged clicks)', () => {
  beforeEach(() => boot());

  function forgeApprover(id: string, stage: number, user: { id: string; displayName: string }, source: 'delegate' | 'fallback' | 'escalation', addedById: string | null = null) {
    h.bot.store.requests.addApprover({ requestId: id, stage, approverId: user.id, approverName: user.displayName, source, addedById });
  }

  it('a delegate whose forwarder is no longer the manager cannot decide', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const olivia = demoUser(h, 'Olivia Hart');
    await click(h, thomas(), 'access.forward', id, 1, { delegate: olivia.userPrincipalName });
    // Emily moves to Rajesh's team: Thomas is no longer her manager, so his forward carries no authority.
    await h.bot.directory.updateUserProfile(emily().id, { managerId: demoUser(h, 'Rajesh Iyer').id });
    const res = await click(h, olivia, 'access.approve', id, 1);
    expect(findById(res, 'access-banner').text).toMatch(/You are not an approver of/);
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.decision-refused' }).map((e) => JSON.parse(e.details).reason)).toEqual(['not-an-approver']);
  });

  it('a "delegate" row nobody who may decide added (a forged or stale row) cannot decide', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const mei = demoUser(h, 'Mei Tanaka');
    forgeApprover(id, 1, mei, 'delegate', demoUser(h, 'Diego Torres').id);
    const res = await click(h, mei, 'access.approve', id, 1);
    expect(findById(res, 'access-banner').text).toMatch(/You are not an approver of/);
    forgeApprover(id, 1, demoUser(h, 'Kevin O\'Brien'), 'delegate', null);
    await click(h, demoUser(h, "Kevin O'Brien"), 'access.approve', id, 1);
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
  });

  it("a delegate a technician's offboarding plan named (a leaver's approvals handed to their manager) can decide", async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const rajesh = demoUser(h, 'Rajesh Iyer');
    forgeApprover(id, 1, rajesh, 'delegate', h.user('technician').id);
    const ok = await click(h, rajesh, 'access.approve', id, 1);
    expect(cardText(ok)).toContain(`You approved ${id}`);
  });

  it('a fallback approver who is neither above the requester nor in the fallback group cannot decide; one who is, can', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const mei = demoUser(h, 'Mei Tanaka');
    forgeApprover(id, 1, mei, 'fallback');
    const res = await click(h, mei, 'access.approve', id, 1);
    expect(findById(res, 'access-banner').text).toMatch(/You are not an approver of/);
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
    // Rajesh, Thomas's manager, is above Emily: a genuine fallback.
    const rajesh = demoUser(h, 'Rajesh Iyer');
    forgeApprover(id, 1, rajesh, 'fallback');
    const ok = await click(h, rajesh, 'access.approve', id, 1);
    expect(cardText(ok)).toContain(`You approved ${id}`);
  });

  it('an escalation approver the audit trail never escalated to cannot decide; after a real escalation the target can', async () => {
    const forgedId = await requestAccess(h, emily(), 'I need VPN for a week');
    const rajesh = demoUser(h, 'Rajesh Iyer');
    forgeApprover(forgedId, 1, rajesh, 'escalation');
    const forged = await click(h, rajesh, 'access.approve', forgedId, 1);
    expect(findById(forged, 'access-banner').text).toMatch(/You are not an approver of/);
    expect(h.bot.store.requests.get(forgedId)!.state).toBe('pending');
    // Another request: 72 hours later the escalation job names Rajesh (Thomas's manager) for real.
    const id = await requestAccess(h, h.user(demoUser(h, 'Carlos Mendes').id), 'I need VPN for a week');
    clock.advance(73 * 3_600_000);
    await h.bot.scheduler.runDue();
    await settle(h);
    expect(JSON.parse(h.bot.store.audit.query({ correlationId: id, action: 'access.escalated' })[0]!.details).to).toEqual([{ id: rajesh.id, name: rajesh.displayName }]);
    const ok = await click(h, rajesh, 'access.approve', id, 1);
    expect(cardText(ok)).toContain(`You approved ${id}`);
  });

  it('an escalation target who left the management chain since cannot decide', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    clock.advance(73 * 3_600_000);
    await h.bot.scheduler.runDue();
    await settle(h);
    const rajesh = demoUser(h, 'Rajesh Iyer');
    expect(h.bot.store.requests.approver(id, 1, rajesh.id)?.source).toBe('escalation');
    // Thomas now reports to Helena: Rajesh is above no approver of the stage.
    await h.bot.directory.updateUserProfile(thomas().id, { managerId: demoUser(h, 'Helena Brandt').id });
    const res = await click(h, rajesh, 'access.approve', id, 1);
    expect(findById(res, 'access-banner').text).toMatch(/You are not an approver of/);
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
  });
});

describe('guests (Entra userType Guest) are not employees of the helpdesk', () => {
  const guest = () => h.user('3f6c2d8e-5b1a-4c7e-9d2f-8a4b6c1e7f90');

  it('a guest is refused at the door, politely, and the refusal is audited', async () => {
    await boot();
    const res = await h.client.message(guest(), 'I need VPN for a week');
    expect(res.status).toBe(200);
    const sent = h.connector.sentTo(h.client.personalConversationId(guest()));
    expect(cardText(cardOf(sent.at(-1)))).toMatch(/your account is a guest account/);
    const [refusal] = h.bot.store.audit.query({ action: 'helpdesk.access-refused' });
    expect(refusal).toMatchObject({ actorId: guest().id, outcome: 'refused' });
    expect(JSON.parse(refusal!.details)).toMatchObject({ reason: 'guest' });
    expect(h.bot.store.requests.listForRequester(guest().id)).toEqual([]);
  });

  it('ALLOW_GUESTS=true lets guests in, but they are still never forward targets unless ALLOW_GUEST_APPROVERS', async () => {
    await boot({ ALLOW_GUESTS: 'true' });
    await h.client.message(guest(), 'hello');
    expect(h.bot.store.audit.query({ action: 'helpdesk.access-refused' })).toEqual([]);
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    const res = await click(h, thomas(), 'access.forward', id, 1, { delegate: 'jordan.reyes@fabrikam.example' });
    expect(findById(res, 'access-banner').text).toMatch(/is a guest account, not an employee, and cannot approve requests/);
    expect(h.bot.store.requests.approver(id, 1, guest().id)).toBeNull();
    expect(h.bot.store.audit.query({ correlationId: id, action: 'access.forward-refused' }).map((e) => JSON.parse(e.details).reason)).toEqual(['guest']);
  });

  it('a guest in the fallback group, listed as a fallback approver, cannot decide', async () => {
    await boot({ ALLOW_GUESTS: 'true' });
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    // The fallback group is the technicians group here: the guest is put in it behind the bot's back.
    await h.bot.directory.addGroupMember(h.tenant.technicianGroupId, guest().id);
    h.bot.store.requests.addApprover({ requestId: id, stage: 1, approverId: guest().id, approverName: guest().displayName, source: 'fallback', addedById: null });
    const res = await click(h, guest(), 'access.approve', id, 1);
    expect(findById(res, 'access-banner').text).toMatch(/You are not an approver of/);
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
  });
});
