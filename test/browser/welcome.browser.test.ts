import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { TECHNICIAN_CHANNEL_NAME, TECHNICIAN_TEAM_NAME, type PersonaKey } from '../../bot/playground';
import type { DemoTenant } from '../../directory/demo-tenant';
import {
  adaptiveCards,
  cardsWith,
  openPlayground,
  postMentioningBot,
  selectConversation,
  sendChatMessage,
  settledCount,
  startBrowserRig,
  waitForChannelReply,
  waitForCount,
  RESULTS_DIR,
  type BrowserRig,
  type ChromiumSession,
} from './chromium';

/**
 * End to end through Microsoft's local Teams-like client: the real bot, one Microsoft 365
 * Agents Playground per persona pointed at it, and Chromium typing into the playground's
 * web UI. Covers what the wire tests cannot: the mock data the playground accepts, the
 * activities it really sends (ids, channel data, mentions), and that the cards render.
 */

const APP_TITLE = 'Northwind IAM Helpdesk';
const LONG = 120_000;

let tenant: DemoTenant;
let rig: BrowserRig | undefined;
let browser: ChromiumSession | undefined;

async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, name);
  await page.screenshot({ path: file });
  return file;
}

/** Welcome cards on screen, once the bot has finished answering the page load's install events. */
async function welcomeCardsAfterLoad(page: Page): Promise<number> {
  return settledCount(cardsWith(page, 'title', APP_TITLE), 2_000);
}

beforeAll(async () => {
  rig = await startBrowserRig({ name: 'welcome', personas: ['employee', 'technician'] });
  ({ tenant, browser } = rig);
}, LONG);

afterAll(async () => {
  await rig?.close();
}, LONG);

const urlOf = (key: PersonaKey): string => rig!.urlOf(key);

describe('the welcome card in the Microsoft 365 Agents Playground', () => {
  it('gives each persona its own identity in the mock data', async () => {
    for (const key of ['employee', 'technician'] as const) {
      const res = await fetch(`${urlOf(key)}/_internal/v1/config`);
      expect(res.status).toBe(200);
      const { config } = (await res.json()) as {
        config: {
          tenantId: string;
          currentUser: { aadObjectId: string };
          users: Array<{ aadObjectId: string }>;
          teams: Array<{ name: string; aadGroupId: string; channels: Array<{ name: string }> }>;
        };
      };
      expect(config.tenantId).toBe(tenant.tenantId);
      expect(config.currentUser.aadObjectId).toBe(tenant.personas[key]);
      expect(config.users).toHaveLength(5);
      expect(config.users.map((u) => u.aadObjectId)).not.toContain(tenant.personas[key]);
      const technicianTeam = config.teams.find((t) => t.aadGroupId === tenant.technicianGroupId);
      if (key === 'technician') {
        expect(technicianTeam?.name).toBe(TECHNICIAN_TEAM_NAME);
        expect(technicianTeam?.channels.map((c) => c.name)).toEqual(['General', TECHNICIAN_CHANNEL_NAME]);
      } else {
        expect(technicianTeam).toBeUndefined();
      }
    }
  });

  it(
    'shows the employee the welcome card for "help", and "Who am I?" answers from the directory',
    async () => {
      const page = await browser!.newPage();
      await openPlayground(page, urlOf('employee'));
      const before = await welcomeCardsAfterLoad(page);

      await sendChatMessage(page, 'help');
      const welcome = cardsWith(page, 'title', APP_TITLE);
      await waitForCount(welcome, (n) => n > before);
      const card = welcome.last();
      const employee = tenant.users.find((u) => u.id === tenant.personas.employee)!;
      await expect(card.locator('#identity').innerText()).resolves.toContain(employee.userPrincipalName);
      await expect(card.locator('#section-title-everyone').innerText()).resolves.toBe('For you');
      // Sections follow the directory's roles: an employee sees no technician tools.
      expect(await card.locator('#section-title-technician').count()).toBe(0);
      await card.scrollIntoViewIfNeeded();
      await screenshot(page, 'welcome-employee.png');

      // An Action.Execute button: the playground sends an adaptiveCard/action invoke.
      const cardsBefore = await adaptiveCards(page).count();
      await card.getByRole('button', { name: 'Who am I?' }).click();
      const profile = cardsWith(page, 'notice-title', employee.displayName);
      await profile.first().waitFor({ timeout: 30_000 });
      expect(await adaptiveCards(page).count()).toBeGreaterThan(cardsBefore);
      const manager = tenant.users.find((u) => u.id === employee.managerId)!;
      const text = await profile.first().innerText();
      expect(text).toContain(employee.userPrincipalName);
      expect(text).toContain(manager.displayName);
      await profile.first().scrollIntoViewIfNeeded();
      await screenshot(page, 'whoami-employee.png');
      await page.close();
    },
    LONG,
  );

  it(
    'answers the technician in the Helpdesk channel of the Identity Operations team when @mentioned',
    async () => {
      const page = await browser!.newPage();
      await openPlayground(page, urlOf('technician'));
      await welcomeCardsAfterLoad(page);

      // Personal chat first: the technician sees the technician section.
      const before = await cardsWith(page, 'title', APP_TITLE).count();
      await sendChatMessage(page, 'help');
      await waitForCount(cardsWith(page, 'title', APP_TITLE), (n) => n > before);
      const personal = cardsWith(page, 'title', APP_TITLE).last();
      expect(await personal.locator('[id^="section-title-"]').count()).toBeGreaterThan(1);

      await selectConversation(page, `${TECHNICIAN_TEAM_NAME} - ${TECHNICIAN_CHANNEL_NAME}`);
      await welcomeCardsAfterLoad(page);
      const channelCards = cardsWith(page, 'title', APP_TITLE);
      const channelCardsBefore = await channelCards.count();
      let thread = await postMentioningBot(page, APP_TITLE, 'help');
      // "help" changes nothing: if the page missed the reply, the thread asked again is the one checked.
      await waitForChannelReply(page, `${TECHNICIAN_TEAM_NAME} - ${TECHNICIAN_CHANNEL_NAME}`, channelCards, (n) => n > channelCardsBefore, 30_000, async () => {
        thread = await postMentioningBot(page, APP_TITLE, 'help');
      });
      const reply = cardsWith(thread, 'title', APP_TITLE);
      await reply.first().waitFor({ timeout: 30_000 });
      const technician = tenant.users.find((u) => u.id === tenant.personas.technician)!;
      await expect(reply.first().locator('#identity').innerText()).resolves.toContain(technician.userPrincipalName);
      await thread.scrollIntoViewIfNeeded();
      await screenshot(page, 'welcome-technician-channel.png');
      await page.close();
    },
    LONG,
  );
});
