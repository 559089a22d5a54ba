import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersonaKey } from '../../bot/playground';
import { DemoAuthenticatorCodes } from '../../directory/demo-authenticator';
import type { DemoTenant } from '../../directory/demo-tenant';
import { cardsWith, openPlayground, sendChatMessage, settledCount, shootPage as shoot, startBrowserRig, waitForCount, type BrowserRig, type ChromiumSession } from './chromium';

/**
 * Sign-in recovery in Microsoft's local Teams-like client: the employee resets her password
 * with the code of her demo phone, then recovers her MFA after her manager confirms in his
 * own chat. Screenshots of each card go to `test-results/`.
 */

const LONG = 180_000;

let tenant: DemoTenant;
let bot: BrowserRig['bot'] | undefined;
let rig: BrowserRig | undefined;
let browser: ChromiumSession | undefined;

beforeAll(async () => {
  rig = await startBrowserRig({ name: 'signin', personas: ['employee', 'manager'] });
  ({ tenant, bot, browser } = rig);
}, LONG);

afterAll(async () => {
  await rig?.close();
}, LONG);

const urlOf = (key: PersonaKey): string => rig!.urlOf(key);

describe('sign-in recovery in the playground', () => {
  it(
    'a password reset with the demo phone code, then MFA recovery confirmed by the manager in his chat',
    async () => {
      const employee = tenant.users.find((u) => u.id === tenant.personas.employee)!;
      const managerPage = await browser!.newPage();
      await openPlayground(managerPage, urlOf('manager'));
      await settledCount(cardsWith(managerPage, 'title', 'Northwind IAM Helpdesk'), 2_000);
      const employeePage = await browser!.context.newPage();
      await openPlayground(employeePage, urlOf('employee'));
      await settledCount(cardsWith(employeePage, 'title', 'Northwind IAM Helpdesk'), 2_000);

      // 1. "reset my password": the card asks for the code of her authenticator app.
      await sendChatMessage(employeePage, 'reset my password');
      const verify = cardsWith(employeePage, 'signin-title', 'Reset your password').last();
      await verify.waitFor({ timeout: 30_000 });
      await shoot(employeePage, verify, 'signin-1-employee-verify.png');
      // What `npm run demo:otp -- emily.chen@northwind.example` prints.
      const code = new DemoAuthenticatorCodes(tenant).codeFor(employee.id, new Date())!;
      await verify.getByRole('textbox').first().fill(code);
      await verify.getByRole('button', { name: 'Verify code' }).click();

      // 2. The temporary password, once, in her chat; "I have it" hides it.
      const secret = cardsWith(employeePage, 'secret-title', 'Your temporary password').last();
      await secret.waitFor({ timeout: 30_000 });
      const password = await secret.locator('[id="secret-value"]').innerText();
      expect(password.trim()).toHaveLength(16);
      expect((await bot!.directory.getSignInState(employee.id)).passwordChangeRequired).toBe(true);
      await shoot(employeePage, secret, 'signin-2-employee-password.png');
      await secret.getByRole('button', { name: 'I have it' }).click();
      await waitForCount(cardsWith(employeePage, 'secret-title', 'Temporary password: shown and hidden'), (n) => n === 1, 30_000);
      expect(await employeePage.locator('[id="secret-value"]').count()).toBe(0);

      // 3. "recover my MFA": she ticks her lost phone's methods and asks her manager.
      await sendChatMessage(employeePage, 'recover my MFA');
      const mfa = cardsWith(employeePage, 'signin-title', 'Recover your sign-in methods (MFA)').last();
      await mfa.waitFor({ timeout: 30_000 });
      for (const box of await mfa.getByRole('checkbox').all()) await box.check();
      await shoot(employeePage, mfa, 'signin-3-employee-mfa.png');
      await mfa.getByRole('button', { name: 'Ask my manager, Thomas Berg' }).click();

      // 4. Thomas confirms on the card in his own chat.
      const attest = cardsWith(managerPage, 'attest-title', "Verify Emily Chen's identity").last();
      await attest.waitFor({ timeout: 30_000 });
      await shoot(managerPage, attest, 'signin-4-manager-attest.png');
      await attest.getByRole('button', { name: 'Confirm' }).click();
      await waitForCount(cardsWith(managerPage, 'attest-status', /^Confirmed by Thomas Berg/), (n) => n > 0, 30_000);

      // 5. She goes on, and gets the Temporary Access Pass with the steps.
      const ready = cardsWith(employeePage, 'signin-title', /^Verified: /).last();
      await ready.waitFor({ timeout: 30_000 });
      await ready.getByRole('button', { name: /give me a pass/ }).click();
      const pass = cardsWith(employeePage, 'secret-title', 'Your Temporary Access Pass').last();
      await pass.waitFor({ timeout: 30_000 });
      expect((await pass.locator('[id="secret-value"]').innerText()).trim()).toMatch(/^[A-Za-z2-9]{16}$/);
      await shoot(employeePage, pass, 'signin-5-employee-pass.png');
      expect((await bot!.directory.listAuthMethods(employee.id)).map((m) => m.kind)).toEqual(['password', 'temporaryAccessPass']);
      await employeePage.close();
      await managerPage.close();
    },
    LONG,
  );
});
