import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { cardsWith, openPlayground, sendChatMessage, settledCount, shootPage as shoot, startBrowserRig, waitForCount, waitUntil, type BrowserRig } from './chromium';

/**
 * One access request followed through Microsoft's local Teams-like client: the employee asks
 * in her playground, the approval card lands in her manager's playground (a proactive
 * message to his own chat), he approves, and she sees the outcome; a screenshot of each
 * card state goes to `test-results/`.
 */

const LONG = 180_000;

let rig: BrowserRig | undefined;

beforeAll(async () => {
  rig = await startBrowserRig({ name: 'access-request', personas: ['employee', 'manager'] });
}, LONG);

afterAll(async () => {
  await rig?.close();
}, LONG);

describe('an access request from the employee to the manager and back', () => {
  it(
    'the employee asks, the manager approves on the card in his chat, both see the outcome',
    async () => {
      const { bot, browser, tenant, urlOf } = rig!;
      const vpn = findResourceById(loadCatalog(), 'vpn')!.groupId;
      const employee = tenant.users.find((u) => u.id === tenant.personas.employee)!;

      // The manager's chat is open first: loading it installs the app for him, which is
      // how the bot learns where his chat is (his own playground).
      const managerPage = await browser.newPage();
      await openPlayground(managerPage, urlOf('manager'));
      await settledCount(cardsWith(managerPage, 'title', 'Northwind IAM Helpdesk'), 2_000);
      const employeePage = await browser.context.newPage();
      await openPlayground(employeePage, urlOf('employee'));
      await settledCount(cardsWith(employeePage, 'title', 'Northwind IAM Helpdesk'), 2_000);

      // 1. The employee asks in plain words and gets the confirmation card.
      await sendChatMessage(employeePage, 'I need VPN for a week');
      const confirm = cardsWith(employeePage, 'confirm-title', 'Check your request').last();
      await confirm.waitFor({ timeout: 30_000 });
      expect(await confirm.innerText()).toContain('1 week from approval');
      await shoot(employeePage, confirm, 'access-1-employee-confirm.png');

      // 2. Submit: the request gets its id and a status card.
      await confirm.getByRole('button', { name: 'Submit request' }).click();
      const status = cardsWith(employeePage, 'access-title', /^REQ-\d+ · VPN for /);
      await status.first().waitFor({ timeout: 30_000 });
      const id = /^(REQ-\d+)/.exec(await status.first().locator('[id="access-title"]').innerText())![1]!;
      expect(await status.first().locator('[id="access-status"]').innerText()).toMatch(/Waiting for approval/);
      await shoot(employeePage, status.first(), 'access-2-employee-submitted.png');

      // 3. The approval card arrives in the manager's chat, with the buttons.
      const approval = cardsWith(managerPage, 'access-title', `${id} · VPN for ${employee.displayName}`);
      await approval.first().waitFor({ timeout: 30_000 });
      const text = await approval.first().innerText();
      for (const s of [employee.department!, '1 week', 'Low']) expect(text).toContain(s);
      await shoot(managerPage, approval.first(), 'access-3-manager-approval-card.png');

      // 4. He approves: his card shows the decision in place.
      await approval.first().getByRole('button', { name: 'Approve' }).click();
      await waitUntil(() => bot.store.requests.decisions(id).length === 1, 60_000);
      await waitForCount(cardsWith(managerPage, 'access-banner', /You approved/), (n) => n > 0, 60_000);
      expect(await approval.first().getByRole('button', { name: 'Approve' }).count()).toBe(0);
      await shoot(managerPage, approval.first(), 'access-4-manager-approved.png');

      // 5. The employee is a member and is told until when.
      await bot.scheduler.idle();
      expect(await bot.directory.checkMemberGroups(employee.id, [vpn])).toEqual([vpn]);
      const granted = cardsWith(employeePage, 'notice-title', 'Access granted: VPN');
      await granted.first().waitFor({ timeout: 30_000 });
      expect(await granted.first().innerText()).toMatch(/until \w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d UTC/);
      await shoot(employeePage, granted.first(), 'access-5-employee-granted.png');

      // 6. Her status card was updated in place: the same message now says granted.
      await waitForCount(cardsWith(employeePage, 'access-status', /^Granted until /), (n) => n === 1, 60_000);
      expect(await cardsWith(employeePage, 'access-status', /Waiting for approval/).count()).toBe(0);
      await shoot(employeePage, status.first(), 'access-6-employee-status-updated.png');
      const events = bot.store.audit.query({ correlationId: id }).map((e) => e.action);
      expect(events).toEqual(['access.requested', 'access.approved', 'access.grant-attempted', 'access.provisioned']);
      await employeePage.close();
      await managerPage.close();
    },
    LONG,
  );
});
