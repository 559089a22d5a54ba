import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../dialogs/technician/grammar';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf, type TestUser } from '../support/teams-client';
import { press, sarah, say } from '../technician/support';

/**
 * Placeholders in what the bot shows (`whois ‹user›`) are written without angle brackets:
 * Teams and the local chat read card text and message text as Markdown with some HTML, so
 * `<user>` vanished from cards as an unknown tag and showed as `&lt;user&gt;` inside code in
 * text replies. Every welcome and menu card, every usage line and every `help` text is
 * checked here, so an angle-bracket placeholder cannot come back.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { clock: new TestClock('2026-03-02T09:00:00.000Z').now });
});
afterAll(async () => {
  await h?.stop();
});

/** Every string in a card or an activity's text that an angle-bracket placeholder or its entity would show up in. */
function bracketed(value: unknown, where: string, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (/<[a-zA-Z]|&lt;|&gt;/.test(value)) out.push(`${where}: ${value}`);
  } else if (Array.isArray(value)) value.forEach((v, i) => bracketed(v, `${where}[${i}]`, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) bracketed(v, `${where}.${k}`, out);
  return out;
}

/** What the bot sent to `user` in the personal chat for `text` (texts and cards). */
async function sayPersonal(user: TestUser, text: string): Promise<{ texts: string[]; cards: any[] }> {
  const conv = h.client.personalConversationId(user);
  const before = h.connector.sentTo(conv).length;
  expect((await h.client.message(user, text)).status).toBe(200);
  const sent = h.connector.sentTo(conv).slice(before);
  return { texts: sent.map((a) => a.text).filter((t): t is string => typeof t === 'string' && t.length > 0), cards: sent.map(cardOf).filter(Boolean) };
}

describe('placeholders as the bot shows them', () => {
  it('the welcome card of each role, in the 1:1 chat and the channel, and the menu cards behind its buttons', async () => {
    const seen: unknown[] = [];
    for (const who of ['employee', 'manager', 'technician'] as const) {
      const said = await sayPersonal(h.user(who), 'help');
      expect(said.cards).toHaveLength(1);
      seen.push(said.cards);
    }
    const channel = await say(h, sarah(h), 'help');
    expect(channel.cards).toHaveLength(1);
    seen.push(channel.cards);
    const welcome = JSON.stringify(seen);
    // The placeholders are there, written the one way.
    expect(welcome).toContain("why can't I sign in [to ‹app›]");
    expect(welcome).toContain("my report ‹name› can't sign in");
    expect(welcome).toContain('offboard ‹user› --reason ‹why›');
    expect(welcome).toContain('whois ‹user›');

    // The technicians' command list and the "Can't sign in?" menu.
    const conv = h.client.channelConversationId();
    const before = h.connector.sentTo(conv).length;
    const listed = await press(h, sarah(h), 'menu.run', { item: 'tech-commands' });
    seen.push(listed, h.connector.sentTo(conv).slice(before).map(cardOf));
    const emily = h.user('employee');
    const personal = h.client.personalConversationId(emily);
    const mark = h.connector.sentTo(personal).length;
    const res = await h.client.invoke(emily, 'menu.run', { item: 'signin-help' });
    expect(res.status).toBe(200);
    seen.push(res.body?.value, h.connector.sentTo(personal).slice(mark).map(cardOf));
    expect(JSON.stringify(seen)).toContain('help ‹command›');
    expect(bracketed(seen, 'cards')).toEqual([]);
  });

  it('every command’s help and usage, and the usage replies of the other flows', async () => {
    const texts: string[] = [];
    for (const c of COMMANDS) {
      const help = await say(h, sarah(h), `help ${c.name}`);
      expect(help.texts[0], c.name).toContain(`Usage: \`${c.usage}\``);
      texts.push(...help.texts);
      // The bare command: most answer with what is missing and the usage line.
      const bare = await say(h, sarah(h), c.name);
      texts.push(...bare.texts, JSON.stringify(bare.cards));
    }
    for (const line of ['disable emily.chen@northwind.example --reasn oops --foo', 'audit tail 9999', 'whois', 'move Mei Tanaka', 'close TKT-1001', 'review cancel REV-1001', 'review', 'drift --dry-run=yes']) {
      const said = await say(h, sarah(h), line);
      expect(said.texts.length, line).toBeGreaterThan(0);
      texts.push(...said.texts);
    }
    expect(texts.join('\n')).toContain('Usage: `disable ‹user› --reason ‹why›`');
    expect(texts.join('\n')).toContain('Say which user: `whois ‹user›`.');
    expect(texts.join('\n')).toContain('--since ‹time›');
    const forward = await sayPersonal(h.user('manager'), 'forward REQ-9999 to Ahmed Farouk');
    expect(forward.texts).toEqual(['Usage: `forward REQ-1042 to ‹name or email›`, for a request waiting for your decision.']);
    texts.push(...forward.texts);
    expect(bracketed(texts, 'texts')).toEqual([]);
  });

  it('the access reviews: the empty list, an unknown scope, and a campaign’s status card', async () => {
    const seen: unknown[] = [];
    const empty = await say(h, sarah(h), 'review list');
    seen.push(empty.texts, empty.cards);
    const unknown = await say(h, sarah(h), 'review start nobody-has-this-name');
    seen.push(unknown.texts, unknown.cards);
    const started = await say(h, sarah(h), 'review start "Payroll Reports"');
    seen.push(started.texts, started.cards);
    const id = /REV-\d+/.exec(JSON.stringify(started))![0];
    const status = await say(h, sarah(h), `review status ${id}`);
    seen.push(status.texts, status.cards);
    expect(JSON.stringify(seen)).toContain(`review cancel ${id} --reason ‹why›`);
    expect(JSON.stringify(seen)).toContain('review start ‹group|resource|department›');
    expect(bracketed(seen, 'reviews')).toEqual([]);
  });
});
