import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { auditActions, cardsSentTo, click, demoUser, isMember, requestAccess, settle } from '../support/access';
import { startHarness, type Harness } from '../support/harness';
import { cardText, findById } from '../support/teams-client';
import { channelCards, openTechniciansChannel } from '../support/signin';

/**
 * What held when an employee asked is checked again when approved access is granted: the
 * account can still sign in, and nothing incompatible was added meanwhile by other means.
 */

const catalog = loadCatalog();
const group = (id: string) => findResourceById(catalog, id)!.groupId;

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await openTechniciansChannel(h);
});
afterEach(async () => {
  await h?.stop();
});

const emily = () => h.user('employee');
const thomas = () => h.user('manager');

async function approveBothStages(id: string): Promise<void> {
  await click(h, thomas(), 'access.approve', id, 1);
  await settle(h);
  await click(h, demoUser(h, 'Rebecca Stone'), 'access.approve', id, 2);
  await settle(h);
}

describe('granting approved access checks again', () => {
  it('an incompatible group added behind the bot’s back while the request waited: not granted, everyone told why', async () => {
    const id = await requestAccess(h, emily(), 'I need the payroll reports for two weeks because of the year-end audit');
    // Someone adds her to HR Portal Admin in the portal while the request waits.
    await h.bot.directory.addGroupMember(group('hr-portal-admin'), emily().id);
    await approveBothStages(id);

    expect(h.bot.store.requests.get(id)!.state).toBe('failed');
    expect(await isMember(h, emily().id, group('payroll-reports'))).toBe(false);
    // Payroll Reports is high risk: each approver proved a fresh MFA before approving.
    expect(auditActions(h, id)).toEqual([
      'access.requested',
      'access.mfa-required',
      'signin.mfa-proven',
      'access.approved',
      'access.mfa-required',
      'signin.mfa-proven',
      'access.approved',
      'access.grant-refused',
    ]);
    const event = h.bot.store.audit.query({ correlationId: id, action: 'access.grant-refused' })[0]!;
    expect(JSON.parse(event.details)).toMatchObject({ reason: 'conflict', userId: emily().id });

    const told = cardsSentTo(h, emily().id).find((c) => findById(c, 'notice-title')?.text === 'Access approved but not granted: Payroll Reports');
    expect(findById(told, 'notice-text').text).toMatch(/you were not added to Payroll Reports: you now have HR Portal Administrators, which cannot be combined with Payroll Reports \(separation of duties\)/);
    const notice = channelCards(h).find((c) => cardText(c).includes(`Access approved but not granted: ${id}`));
    expect(cardText(notice)).toContain('Nothing was changed');
    // Not retried: one attempt, no job left.
    expect(h.bot.store.jobs.forRequest(id).filter((j) => j.state === 'pending')).toEqual([]);
  });

  it('an account disabled while the request waited: not granted, the technicians told', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await h.bot.directory.setAccountEnabled(emily().id, false);
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);

    expect(h.bot.store.requests.get(id)!.state).toBe('failed');
    expect(await isMember(h, emily().id, group('vpn'))).toBe(false);
    const event = h.bot.store.audit.query({ correlationId: id, action: 'access.grant-refused' })[0]!;
    expect(JSON.parse(event.details)).toMatchObject({ reason: 'account-disabled' });
    const notice = channelCards(h).find((c) => cardText(c).includes(`Access approved but not granted: ${id}`));
    expect(cardText(notice)).toMatch(/the account of Emily Chen is disabled/);
  });

  it('nothing changed meanwhile: granted as before', async () => {
    const id = await requestAccess(h, emily(), 'I need VPN for a week');
    await click(h, thomas(), 'access.approve', id, 1);
    await settle(h);
    expect(h.bot.store.requests.get(id)!.state).toBe('granted');
    expect(auditActions(h, id)).toEqual(['access.requested', 'access.approved', 'access.grant-attempted', 'access.provisioned']);
  });
});
