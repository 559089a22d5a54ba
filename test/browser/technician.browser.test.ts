import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { TECHNICIAN_CHANNEL_NAME, TECHNICIAN_TEAM_NAME, type PersonaKey } from '../../bot/playground';
import type { DemoTenant } from '../../directory/demo-tenant';
import { REFUSAL_TEXT } from '../../dialogs/technician/commands';
import { cardsWith, openPlayground, postMentioningBot, selectConversation, sendChatMessage, settledCount, shootCard as shoot, startBrowserRig, waitForChannelReply, waitForCount, type BrowserRig, type ChromiumSession } from './chromium';

/**
 * The technicians' command line through Microsoft's local Teams-like client: the demo
 * technician @mentions the bot in the Helpdesk channel of the Identity Operations team,
 * looks a user up, offboards an ordinary user (plan card, Confirm, the card updating step by
 * step to the final report), then asks for the queue, the audit trail and the report; an
 * employee typing a command in her 1:1 chat is refused. Screenshots go to `test-results/`.
 */

const APP_TITLE = 'Northwind IAM Helpdesk';
const LONG = 240_000;
const CHANNEL = `${TECHNICIAN_TEAM_NAME} - ${TECHNICIAN_CHANNEL_NAME}`;
/** An ordinary leaver: Sales, several groups, no privileged group, no direct reports. */
const LEAVER_UPN = 'fatima.haddad@northwind.example';
const LOOKUP_UPN = 'thomas.berg@northwind.example';

let tenant: DemoTenant;
let bot: BrowserRig['bot'] | undefined;
let rig: BrowserRig | undefined;
let browser: ChromiumSession | undefined;

/** Lines that change nothing: asked again if the page missed the first reply (see `waitForChannelReply`). */
const READ_ONLY = /^(whois|pending|audit|report)\b/;

/** Posts a new channel thread that @mentions the bot and waits for its card titled `title`. */
async function ask(page: Page, line: string, titleId: string, title: string | RegExp): Promise<Locator> {
  const cards = cardsWith(page, titleId, title);
  const before = await cards.count();
  const post = () => postMentioningBot(page, APP_TITLE, line);
  await post();
  await waitForChannelReply(page, CHANNEL, cards, (n) => n > before, 30_000, READ_ONLY.test(line) ? post : undefined);
  return cards.last();
}

beforeAll(async () => {
  rig = await startBrowserRig({ name: 'technician', personas: ['employee', 'technician'], viewport: { width: 1400, height: 1400 } });
  ({ tenant, bot, browser } = rig);
}, LONG);

afterAll(async () => {
  await rig?.close();
}, LONG);

const urlOf = (key: PersonaKey): string => rig!.urlOf(key);

describe('technician commands in the Helpdesk channel of the playground', () => {
  it(
    'whois, offboard with confirmation and progress, then pending, audit and report, all as cards',
    async () => {
      const leaver = tenant.users.find((u) => u.userPrincipalName === LEAVER_UPN)!;
      const looked = tenant.users.find((u) => u.userPrincipalName === LOOKUP_UPN)!;
      const leaverGroups = tenant.groups.filter((g) => g.members.includes(leaver.id));
      // The premise: ordinary (one confirmation suffices), enabled, with several groups.
      expect(leaver.accountEnabled).toBe(true);
      expect(leaverGroups.length).toBeGreaterThanOrEqual(3);
      expect(leaverGroups.some((g) => tenant.privilegedGroupIds.includes(g.id))).toBe(false);

      const page = await browser!.newPage();
      await openPlayground(page, urlOf('technician'));
      await settledCount(cardsWith(page, 'title', APP_TITLE), 2_000);
      await selectConversation(page, `${TECHNICIAN_TEAM_NAME} - ${TECHNICIAN_CHANNEL_NAME}`);
      await settledCount(cardsWith(page, 'title', APP_TITLE), 2_000);

      // 1. whois: the profile card.
      const whois = await ask(page, `whois ${LOOKUP_UPN}`, 'tech-title', looked.displayName);
      expect(await whois.locator('[id="tech-subtitle"]').innerText()).toBe(LOOKUP_UPN);
      const whoisText = await whois.innerText();
      for (const s of [looked.department!, looked.jobTitle!, 'MFA methods', 'Groups (', 'Recent audit events']) expect(whoisText).toContain(s);
      await shoot(whois, 'technician-whois.png');

      // 2. offboard: the plan card, nothing changed yet.
      const plan = await ask(page, `offboard ${LEAVER_UPN} --reason leaver`, 'tech-title', new RegExp(`^PLN-\\d+: offboard ${leaver.displayName}$`));
      const planId = /^(PLN-\d+)/.exec(await plan.locator('[id="tech-title"]').innerText())![1]!;
      const planText = await plan.innerText();
      expect(planText).toContain('leaver');
      for (const g of leaverGroups) expect(planText).toContain(g.displayName);
      expect(await plan.locator('[id="tech-status"]').innerText()).toMatch(/^Waiting for /);
      expect((await bot!.directory.getUser(leaver.id))!.accountEnabled).toBe(true);
      await shoot(plan, 'technician-offboard-plan.png');

      // 3. Confirm: the same card shows the progress and ends as the final report. A script in
      // the page records every status the plan's card shows, however fast the steps run (a
      // string: the test project has no DOM types).
      await page.evaluate(`(() => {
        const planId = ${JSON.stringify(planId)};
        const seen = (window.techStatuses = []);
        const record = () => {
          for (const el of document.querySelectorAll('[id="tech-status"]')) {
            const title = el.closest('.ac-adaptiveCard')?.querySelector('[id="tech-title"]')?.innerText ?? '';
            if (!title.startsWith(planId + ':')) continue;
            const t = el.innerText.trim();
            if (t && seen[seen.length - 1] !== t) seen.push(t);
          }
        };
        new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
      })()`);
      const cardsWithPlan = cardsWith(page, 'tech-title', new RegExp(`^${planId}: `));
      const copies = await cardsWithPlan.count();
      await plan.getByRole('button', { name: 'Confirm' }).click();
      const done = cardsWith(page, 'tech-status', /^Done$/).filter({ has: page.locator('[id="tech-title"]', { hasText: planId }) });
      await done.first().waitFor({ timeout: 60_000 });
      // Updated in place: no second copy of the plan card was posted.
      expect(await cardsWithPlan.count()).toBe(copies);
      const statuses = (await page.evaluate('window.techStatuses')) as string[];
      // Waiting, then running step by step, then done; never back to an earlier state.
      const firstRunning = statuses.findIndex((s) => /^Running: \d+ of \d+ steps done$/.test(s));
      expect(firstRunning, statuses.join(' | ')).toBeGreaterThanOrEqual(0);
      expect(statuses.slice(firstRunning).every((s) => /^(Running: \d+ of \d+ steps done|Done)$/.test(s)), statuses.join(' | ')).toBe(true);
      expect(statuses.filter((s) => s.startsWith('Running: ')).length, statuses.join(' | ')).toBeGreaterThan(1);
      expect(statuses[statuses.length - 1]).toBe('Done');
      const report = done.first();
      const reportText = await report.innerText();
      expect(reportText).toContain('Progress');
      expect(reportText).toContain('Finished');
      expect(reportText).not.toMatch(/FAILED|PARTLY DONE|running…|^to do$/m);
      expect(await report.getByRole('button', { name: 'Confirm' }).count()).toBe(0);
      await shoot(report, 'technician-offboard-report.png');

      // 4. The directory agrees: disabled, in no group.
      await bot!.scheduler.idle();
      expect((await bot!.directory.getUser(leaver.id))!.accountEnabled).toBe(false);
      expect(await bot!.directory.listUserGroups(leaver.id)).toEqual([]);
      expect(bot!.store.technician.plans.get(planId)!.state).toBe('done');

      // 5. pending, audit <user> and report answer with cards.
      const pending = await ask(page, 'pending', 'tech-title', /^(Open tickets: \d+|No open tickets)$/);
      expect(await pending.locator('[id="tech-subtitle"]').innerText()).toBe('The earliest SLA first');
      await shoot(pending, 'technician-pending.png');

      const audit = await ask(page, `audit ${LEAVER_UPN}`, 'tech-title', `Audit: ${leaver.displayName}`);
      const auditText = await audit.innerText();
      for (const a of ['technician.plan-confirmed', 'technician.account-disabled', 'technician.plan-finished']) expect(auditText).toContain(a);
      await shoot(audit, 'technician-audit.png');

      const summary = await ask(page, 'report', 'report-title', /^Helpdesk report: last \d+ days?$/);
      await shoot(summary, 'technician-report.png');
      const summaryText = await summary.innerText();
      for (const s of ['Time to decision', 'Time to fulfilment', 'Ticket SLA', 'Requests by type', 'Open tickets by age']) expect(summaryText).toContain(s);
      await page.close();
    },
    LONG,
  );

  it(
    'refuses an employee who types a technician command in her 1:1 chat',
    async () => {
      const page = await browser!.newPage();
      await openPlayground(page, urlOf('employee'));
      await settledCount(cardsWith(page, 'title', APP_TITLE), 2_000);
      const refusals = page.getByText(REFUSAL_TEXT, { exact: true });
      const before = await refusals.count();
      await sendChatMessage(page, `whois ${LOOKUP_UPN}`);
      await waitForCount(refusals, (n) => n > before, 30_000);
      expect(await cardsWith(page, 'tech-title', 'Thomas Berg').count()).toBe(0);
      const employee = tenant.users.find((u) => u.id === tenant.personas.employee)!;
      const refused = bot!.store.audit.query({ action: 'helpdesk.command-refused', actor: employee.id });
      expect(refused).toHaveLength(1);
      await page.close();
    },
    LONG,
  );
});
