import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startBot, type RunningBot } from '../../bot/main';
import { startPlaygrounds, type PersonaKey, type RunningPlaygrounds } from '../../bot/playground';
import { loadDemoTenant, type DemoTenant } from '../../directory/demo-tenant';
import { startPostLatencyRelay } from './post-latency';

/**
 * Browser tests drive the Debian `chromium` package through playwright-core (no browser
 * download). CI installs it; on a workstation: `apt-get install -y chromium`.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

export interface ChromiumSession {
  context: BrowserContext;
  /** A new tab. */
  newPage(): Promise<Page>;
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

/**
 * Starts headless Chromium with a fresh profile (removed again by `close()`). Requests that
 * leave the machine (the playground asks a CDN for fonts) are refused at once, so pages
 * load offline without waiting on timeouts.
 *
 * Throws, never skips, when Chromium is missing: a browser test that silently does not
 * run is worse than a red one.
 */
export async function launchChromium(options: { viewport?: { width: number; height: number } } = {}): Promise<ChromiumSession> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}, and the browser tests need it. ` +
        'Install it with `apt-get install -y chromium` (or point CHROMIUM_PATH at a Chromium binary).',
    );
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-chromium-'));
  let context: BrowserContext;
  try {
    // A persistent context is how Playwright takes a user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: options.viewport ?? { width: 1400, height: 1000 },
    });
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  await context.route(/^https?:\/\/(?!(localhost|127\.0\.0\.1|\[::1\])[:/])/, (route) => route.abort('internetdisconnected'));
  let closed: Promise<void> | null = null;
  return {
    context,
    async newPage() {
      // The persistent context opens with one blank tab: use it first.
      const blank = context.pages().find((p) => p.url() === 'about:blank');
      return blank ?? context.newPage();
    },
    close: () =>
      (closed ??= (async () => {
        try {
          await context.close();
        } finally {
          fs.rmSync(profile, { recursive: true, force: true });
        }
      })()),
  };
}

// ---------------------------------------------------------------------------------------
// Driving the Microsoft 365 Agents Playground web UI (its markup has few stable hooks:
// these are the ones that are there: roles, aria-labels, the Adaptive Cards renderer's
// `ac-*` classes, and card element ids, which the renderer keeps as DOM ids).

/** Every rendered Adaptive Card within `scope`. */
export function adaptiveCards(scope: Page | Locator): Locator {
  return scope.locator('.ac-adaptiveCard');
}

/** Rendered Adaptive Cards whose element with card id `elementId` contains `text`. */
export function cardsWith(scope: Page | Locator, elementId: string, text: string | RegExp): Locator {
  const page = 'page' in scope ? scope.page() : scope;
  return adaptiveCards(scope).filter({ has: page.locator(`[id="${elementId}"]`, { hasText: text }) });
}

/** Opens a persona's playground and waits until the chat can be typed into. */
export async function openPlayground(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('[role=textbox][data-lexical-editor=true]').first().waitFor({ timeout: 60_000 });
}

/** Selects a conversation in the left rail: "Personal Chat", or "<team> - <channel>". */
export async function selectConversation(page: Page, label: string): Promise<void> {
  await page.locator(`[role=treeitem][aria-label="${label}"]`).click();
}

/** Sends `text` in a chat (personal or group): the composer at the bottom, then Enter. */
export async function sendChatMessage(page: Page, text: string): Promise<void> {
  const box = page.locator('[role=textbox][data-lexical-editor=true]');
  await box.last().click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** Channel threads (posts one can reply to), newest first. */
export function channelThreads(page: Page): Locator {
  return page.getByRole('group').filter({ has: page.getByRole('button', { name: 'Send Message' }) });
}

/**
 * Starts a new post in the open channel that @mentions the bot (a channel bot only hears
 * messages that mention it) and returns the new thread, where the bot's reply appears.
 */
export async function postMentioningBot(page: Page, botName: string, text: string): Promise<Locator> {
  const threads = channelThreads(page);
  const before = await threads.count();
  const composer = page.getByRole('group').filter({ has: page.getByRole('button', { name: 'Post', exact: true }) });
  await composer.getByRole('textbox').click();
  // Typing "@" and part of the name opens the mention picker; picking makes a real mention.
  await page.keyboard.type(`@${botName.split(/\s+/)[0]}`);
  const pick = page.getByRole('menuitem', { name: botName });
  await pick.click();
  // The picker closes once the mention is in the post; typing earlier would land in its search.
  await pick.waitFor({ state: 'detached', timeout: 15_000 });
  await page.keyboard.type(` ${text}`);
  await composer.getByRole('button', { name: 'Post', exact: true }).click();
  await waitForCount(threads, (n) => n > before, 15_000);
  return threads.first();
}

/** Waits until `locator` has not changed its count for `quietMs`, and returns that count. */
export async function settledCount(locator: Locator, quietMs = 1_500, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = await locator.count();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await locator.count();
    if (now !== count) {
      count = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return count;
    }
  }
  throw new Error(`${locator} kept changing for ${timeoutMs} ms`);
}

/**
 * Waits for a bot's reply in a channel. `askAgain`, for a line that changes nothing (a
 * lookup, a list), posts it once more if the first reply has not shown within `timeoutMs`:
 * the page keeps no history to draw again from (a reload empties the channel), so a reply
 * the page missed is only seen by asking again. Whatever the page showed at the first miss
 * is printed, and at the second miss thrown.
 */
export async function waitForChannelReply(page: Page, label: string, locator: Locator, ok: (n: number) => boolean, timeoutMs = 30_000, askAgain?: () => Promise<unknown>): Promise<number> {
  const shot = (suffix: string) => `channel-reply-${suffix}-${label.replace(/[^\w-]+/g, '_')}.png`;
  try {
    return await waitForCount(locator, ok, timeoutMs);
  } catch (err) {
    const seen = await describePage(page, shot('missing'));
    if (!askAgain) throw new Error(`${(err as Error).message}\n${seen}`);
    console.warn(`[waitForChannelReply] no reply within ${timeoutMs} ms; asking again. ${seen}`);
  }
  await askAgain();
  try {
    return await waitForCount(locator, ok, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message} (asked twice)\n${await describePage(page, shot('missing-twice'))}`);
  }
}

/**
 * What a failed wait saw: a screenshot in `test-results/` and the end of the page's text
 * (the conversation and the playground's log panel, which lists every activity the bot sent
 * and its status), so a failure in CI says whether the bot answered.
 */
export async function describePage(page: Page, screenshotName: string): Promise<string> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS_DIR, screenshotName) }).catch(() => undefined);
  const text = await page.locator('body').innerText().catch((e: Error) => `(page text unavailable: ${e.message})`);
  return `screenshot: test-results/${screenshotName}\npage text (last 3000 characters):\n${text.slice(-3000)}`;
}

/** Waits until `check` (of the bot's store, say) holds. */
export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not done within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the number of matches satisfies `ok`. */
export async function waitForCount(locator: Locator, ok: (n: number) => boolean, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await locator.count();
    if (ok(n)) return n;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting on the count of ${locator} (now ${n})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------
// One rig per browser test file: Chromium, the bot in local mode on its own temporary
// store and demo directory, and one playground per persona on free ports.

/** How long a channel post travels to the bot (see `post-latency.ts`). */
const CHANNEL_POST_LATENCY_MS = 1_000;

/** Where browser tests put their screenshots. */
export const RESULTS_DIR = path.resolve(__dirname, '../../test-results');

export interface BrowserRig {
  dir: string;
  tenant: DemoTenant;
  bot: RunningBot;
  playgrounds: RunningPlaygrounds;
  browser: ChromiumSession;
  /** The playground URL of a persona the rig started. */
  urlOf(key: PersonaKey): string;
  /** Stops the browser, the playgrounds and the bot, and removes the temporary folder. */
  close(): Promise<void>;
}

/** A port nobody listens on right now (the playgrounds must not meet a developer's `npm start`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts Chromium first (without it nothing else is worth starting, and its error says what
 * to install), then the bot and the playgrounds of `personas`. Whatever started is stopped
 * again if a later part fails.
 */
export async function startBrowserRig(options: {
  /** Names the bot's log file, `test-results/<name>.log`. */
  name: string;
  personas: readonly PersonaKey[];
  viewport?: { width: number; height: number };
  env?: Record<string, string>;
}): Promise<BrowserRig> {
  const browser = await launchChromium({ viewport: options.viewport });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-browser-'));
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const logFile = path.join(RESULTS_DIR, `${options.name}.log`);
  fs.rmSync(logFile, { force: true });
  let bot: RunningBot | undefined;
  let playgrounds: RunningPlaygrounds | undefined;
  let relay: Awaited<ReturnType<typeof startPostLatencyRelay>> | undefined;
  const close = async () => {
    await Promise.allSettled([browser.close(), playgrounds?.stop()]);
    await relay?.close();
    await bot?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tenant = loadDemoTenant();
    bot = await startBot({
      PORT: '0',
      DATABASE_PATH: path.join(dir, 'helpdesk.db'),
      LOCAL_DIRECTORY_PATH: path.join(dir, 'directory.db'),
      // Warnings and errors go to a file in test-results/, read when a test fails.
      LOG_LEVEL: 'warn',
      PLAYGROUND: 'false',
      SHUTDOWN_GRACE_SECONDS: '2',
      ...options.env,
    }, { logDestination: pino.destination({ dest: logFile, sync: true }) });
    const ports: Partial<Record<PersonaKey, number>> = {};
    for (const key of options.personas) ports[key] = await freePort();
    relay = await startPostLatencyRelay(`${bot.url}/api/messages`, CHANNEL_POST_LATENCY_MS);
    playgrounds = await startPlaygrounds({ tenant, botEndpoint: relay.url, botId: 'helpdesk-bot', dataDir: dir, only: options.personas, ports });
    const running = playgrounds;
    return {
      dir,
      tenant,
      bot,
      playgrounds,
      browser,
      urlOf(key) {
        const p = running.personas.find((x) => x.key === key);
        if (!p) throw new Error(`no ${key} playground`);
        return p.url;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** A screenshot of the window with `card` scrolled into view, in `test-results/`. */
export async function shootPage(page: Page, card: Locator, name: string): Promise<void> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  await card.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(RESULTS_DIR, name) });
}

/** A screenshot of the whole card, however tall (an element screenshot is not clipped to the window). */
export async function shootCard(card: Locator, name: string): Promise<void> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  await card.scrollIntoViewIfNeeded();
  await card.screenshot({ path: path.join(RESULTS_DIR, name) });
}
