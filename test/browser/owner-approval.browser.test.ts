import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { DemoAuthenticatorCodes } from '../../directory/demo-authenticator';
import { cardsWith, openPlayground, sendChatMessage, settledCount, shootPage as shoot, startBrowserRig, waitForCount, waitUntil, type BrowserRig } from './chromium';

/**
 * A two-stage request through the local chats of three personas: the employee asks for the
 * payroll reports, her manager approves stage 1 in his window, the resource owner approves
 * stage 2 in hers, and the employee is told the access is granted.
 */

const LONG = 240_000;

let rig: BrowserRig | undefined;

beforeAll(async () => {
  rig = await startBrowserRig({ name: 'owner-approval', personas: ['employee', 'manager', 'owner'] });
}, LONG);

afterAll(async () => {
  await rig?.close();
}, LONG);

/**
 * Payroll Reports is high risk: Approve asks the approver for their fresh MFA on the card, and
 * they type what their demo phone shows (`npm run demo:otp -- <upn>`), then Approve again.
 */
async function approveWithCode(card: import('playwright-core').Locator, codes: DemoAuthenticatorCodes, approverId: string): Promise<void> {
  await card.getByRole('button', { name: 'Approve' }).click();
  const box = card.getByRole('textbox', { name: /Code from your authenticator app/ });
  await box.waitFor({ timeout: 30_000 });
  await box.fill(codes.codeFor(approverId, new Date())!);
  await card.getByRole('button', { name: 'Approve' }).click();
}

describe('the resource owner decides the last stage in her own chat', () => {
  it(
    'payroll reports: the manager approves stage 1, the owner stage 2, the employee gets the access',
    async () => {
      const { bot, browser, tenant, urlOf } = rig!;
      const payroll = findResourceById(loadCatalog(), 'payroll-reports')!;
      const employee = tenant.users.find((u) => u.id === tenant.personas.employee)!;
      const owner = tenant.users.find((u) => u.id === tenant.personas.owner)!;
      expect(tenant.groups.find((g) => g.id === payroll.groupId)?.owners).toContain(owner.id);

      // Every window is opened first: loading it is how the bot learns where that chat is.
      const pages = {} as Record<'employee' | 'manager' | 'owner', Awaited<ReturnType<typeof browser.newPage>>>;
      for (const key of ['manager', 'owner', 'employee'] as const) {
        pages[key] = await browser.newPage();
        await openPlayground(pages[key], urlOf(key));
        await settledCount(cardsWith(pages[key], 'title', 'Northwind IAM Helpdesk'), 2_000);
      }

      await sendChatMessage(pages.employee, 'I need the payroll reports for two weeks because of the year-end audit');
      const confirm = cardsWith(pages.employee, 'confirm-title', 'Check your request').last();
      await confirm.waitFor({ timeout: 30_000 });
      await confirm.getByRole('button', { name: 'Submit request' }).click();
      const status = cardsWith(pages.employee, 'access-title', /^REQ-\d+ · Payroll Reports for /);
      await status.first().waitFor({ timeout: 30_000 });
      const id = /^(REQ-\d+)/.exec(await status.first().locator('[id="access-title"]').innerText())![1]!;

      // Stage 1: the manager.
      const first = cardsWith(pages.manager, 'access-title', `${id} · Payroll Reports for ${employee.displayName}`);
      await first.first().waitFor({ timeout: 30_000 });
      const codes = new DemoAuthenticatorCodes(tenant);
      await approveWithCode(first.first(), codes, tenant.personas.manager);
      await waitUntil(() => bot.store.requests.get(id)?.stage === 2, 60_000);

      // Stage 2: the owner, in her own window.
      const second = cardsWith(pages.owner, 'access-title', `${id} · Payroll Reports for ${employee.displayName}`);
      await second.first().waitFor({ timeout: 60_000 });
      const text = await second.first().innerText();
      expect(text).toContain('stage 2 of 2');
      expect(text).toMatch(/Stage 1 approved[\s\S]*Thomas Berg/);
      await shoot(pages.owner, second.first(), 'owner-1-stage-2-card.png');
      await approveWithCode(second.first(), codes, owner.id);
      await waitUntil(() => bot.store.requests.get(id)?.state === 'granted', 60_000);
      await waitForCount(cardsWith(pages.owner, 'access-banner', /You approved/), (n) => n > 0, 60_000);
      await shoot(pages.owner, second.first(), 'owner-2-approved.png');

      const granted = cardsWith(pages.employee, 'notice-title', 'Access granted: Payroll Reports');
      await granted.first().waitFor({ timeout: 60_000 });
      expect(await bot.directory.checkMemberGroups(employee.id, [payroll.groupId])).toEqual([payroll.groupId]);
      const decided = bot.store.requests.decisions(id).map((d) => [d.stage, d.decision, d.decidedById]);
      expect(decided).toEqual([
        [1, 'approved', tenant.personas.manager],
        [2, 'approved', owner.id],
      ]);
      // Each approval records how the approver's MFA was proven.
      const assurances = bot.store.audit.query({ correlationId: id, action: 'access.approved' }).map((e) => JSON.parse(e.details).assurance?.method);
      expect(assurances).toEqual(['demo-totp', 'demo-totp']);
      for (const page of Object.values(pages)) await page.close();
    },
    LONG,
  );
});
