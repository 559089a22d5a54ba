import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { TECHNICIAN_CHANNEL_NAME, TECHNICIAN_TEAM_NAME } from '../../bot/playground';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { ReviewStore } from '../../store/reviews';
import {
  cardsWith,
  openPlayground,
  postMentioningBot,
  selectConversation,
  settledCount,
  shootCard as shoot,
  startBrowserRig,
  waitForChannelReply,
  waitForCount,
  type BrowserRig,
} from './chromium';

/**
 * An access review of a sensitive group through Microsoft's local Teams-like client: the
 * technician starts it in the Helpdesk channel, the manager decides on the card in his own
 * chat, the technician closes it, the removals are applied and the evidence report comes
 * back. Screenshots go to `test-results/`.
 */

const APP_TITLE = 'Northwind IAM Helpdesk';
const LONG = 240_000;
const CHANNEL = `${TECHNICIAN_TEAM_NAME} - ${TECHNICIAN_CHANNEL_NAME}`;

let rig: BrowserRig | undefined;

beforeAll(async () => {
  rig = await startBrowserRig({ name: 'review', personas: ['manager', 'technician'], viewport: { width: 1400, height: 1400 } });
}, LONG);

afterAll(async () => {
  await rig?.close();
}, LONG);

/** Posts a channel thread that @mentions the bot and waits for a new card whose `elementId` shows `text`. */
async function ask(page: Page, line: string, elementId: string, text: string | RegExp): Promise<Locator> {
  const cards = cardsWith(page, elementId, text);
  const before = await cards.count();
  await postMentioningBot(page, APP_TITLE, line);
  await waitForChannelReply(page, CHANNEL, cards, (n) => n > before, 30_000);
  return cards.last();
}

describe('an access review in the playground', () => {
  it(
    'the technician reviews Payroll Reports, the manager removes one member on his card, the close applies it and the evidence comes back',
    async () => {
      const { bot, browser, tenant, urlOf } = rig!;
      const payroll = findResourceById(loadCatalog(), 'payroll-reports')!.groupId;
      const thomas = tenant.users.find((u) => u.id === tenant.personas.manager)!;
      const jonas = tenant.users.find((u) => u.displayName === 'Jonas Weber')!;
      expect(jonas.managerId).toBe(thomas.id);
      expect(await bot.directory.checkMemberGroups(jonas.id, [payroll])).toEqual([payroll]);

      // The manager's chat is open first: loading it is how the bot learns where his chat is.
      const managerPage = await browser.newPage();
      await openPlayground(managerPage, urlOf('manager'));
      await settledCount(cardsWith(managerPage, 'title', APP_TITLE), 2_000);
      const techPage = await browser.context.newPage();
      await openPlayground(techPage, urlOf('technician'));
      await settledCount(cardsWith(techPage, 'title', APP_TITLE), 2_000);
      await selectConversation(techPage, CHANNEL);
      await settledCount(cardsWith(techPage, 'title', APP_TITLE), 2_000);

      // 1. The technician starts the campaign: the answer is its progress card.
      const progress = await ask(techPage, 'review start "Payroll Reports" --reviewer manager --due 14d --auto-apply deny', 'review-status-title', /^REV-\d+ · /);
      const id = /^(REV-\d+)/.exec(await progress.locator('[id="review-status-title"]').innerText())![1]!;
      expect(await progress.locator('[id="review-status-state"]').innerText()).toMatch(/0 of \d+ decided/);
      await shoot(progress, 'review-1-technician-started.png');

      // 2. The manager's review card arrives in his chat, with a line for Jonas and its helpers.
      const review = cardsWith(managerPage, 'review-title', new RegExp(`^${id} · `));
      await review.first().waitFor({ timeout: 60_000 });
      const card = review.first();
      const line = card.locator('[id^="review-item-title-"]').filter({ hasText: 'Jonas Weber' });
      await line.first().waitFor({ timeout: 10_000 });
      const itemId = /^review-item-title-(.+)$/.exec((await line.first().getAttribute('id'))!)![1]!;
      // The decision helpers of his line (a FactSet keeps no DOM id; the card's text has them).
      const text = await card.innerText();
      for (const s of ['Jonas Weber', 'No record: added outside the bot', 'Last sign-in', 'Department']) expect(text).toContain(s);
      await shoot(card, 'review-2-manager-card.png');

      // 3. He gives a reason and removes Jonas: the card shows the decision in place.
      // Inputs and buttons keep no DOM id in the renderer: the line is the innermost
      // container with his name and a Remove button.
      const row = card
        .locator('.ac-container')
        .filter({ has: managerPage.locator(`[id="review-item-title-${itemId}"]`) })
        .filter({ has: managerPage.getByRole('button', { name: 'Remove' }) })
        .last();
      await row.getByRole('textbox').fill('Moved to sales, no longer runs payroll');
      await row.getByRole('button', { name: 'Remove' }).click();
      await waitForCount(cardsWith(managerPage, `review-item-decision-${itemId}`, /^Removed by Thomas Berg/), (n) => n > 0, 60_000);
      expect(await card.getByRole('button', { name: 'Remove' }).count()).toBe(0);
      await shoot(card, 'review-3-manager-removed.png');

      // 4. The technician closes it now: undecided lines follow --auto-apply deny, and the
      //    evidence report card comes back.
      const report = await ask(techPage, `review close ${id}`, 'review-status-title', new RegExp(`^${id} · Evidence report`));
      await bot.scheduler.idle();
      expect(await bot.directory.checkMemberGroups(jonas.id, [payroll])).toEqual([]);
      const reviews = new ReviewStore(bot.store.db);
      const items = reviews.items(id);
      expect(items.length).toBeGreaterThan(1);
      const jonasItem = items.find((i) => i.memberId === jonas.id)!;
      expect(jonasItem).toMatchObject({ decision: 'remove', decidedBy: { name: 'Thomas Berg' }, autoApplied: false });
      expect(items.filter((i) => i.memberId !== jonas.id).every((i) => i.autoApplied)).toBe(true);
      for (const i of items) expect(await bot.directory.checkMemberGroups(i.memberId, [payroll])).toEqual([]);
      expect(await report.innerText()).toContain('Thomas Berg');
      await shoot(report, 'review-4-technician-evidence.png');

      // 5. Every step is in the audit trail under the campaign id, and the chain verifies.
      const actions = bot.store.audit.query({ correlationId: id }).map((e) => e.action);
      expect(actions[0]).toBe('review.started');
      expect(actions).toContain('review.decided');
      expect(actions).toContain('review.closed');
      expect(bot.store.audit.verify().ok).toBe(true);
      await managerPage.close();
      await techPage.close();
    },
    LONG,
  );
});
