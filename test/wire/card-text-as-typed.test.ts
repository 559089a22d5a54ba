import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { plainText } from '../../adaptive-cards/plain-text';
import { cardsSentTo, click, currentCopies, requestAccess, requestCardsSentTo, settle } from '../support/access';
import { startHarness, type Harness } from '../support/harness';
import { findById } from '../support/teams-client';

/**
 * Teams reads a card's text and fact values as Markdown. What an employee or an approver
 * typed must show as typed: a justification cannot put a link or bold text on the
 * approver's card, and a deny comment cannot put one on the requester's.
 */

/** What CommonMark shows for a text: a backslash before ASCII punctuation is not shown. */
function shown(markdown: string): string {
  return markdown.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

/** Markdown that would do something in a card's text: a link, emphasis, code, a list, an autolink, a mention tag. */
const ACTIVE = [/(^|[^\\])\[/, /(^|[^\\])\*/, /(^|[^\\])_/, /(^|[^\\])`/, /(^|[^\\])</, /^\s*[-+](\s|$)/m, /^\s*\d+[.)](\s|$)/m];

describe('plainText', () => {
  it.each([
    '[Approve here](https://example.invalid/approve) **urgent**',
    '__bold__ and _italic_ and `code` and ~~gone~~',
    '- first\n+ second\n1. third\n  2) fourth',
    '<https://example.invalid> <at>Thomas Berg</at> # heading | table |',
    'C:\\Users\\emily\\*.txt',
    'Quarter-end close, 3.5 days (see ticket 42).',
    '顧客対応のため — für die Prüfung',
  ])('shows %j exactly as typed, and nothing in it acts as Markdown', (typed) => {
    const escaped = plainText(typed);
    expect(shown(escaped)).toBe(typed);
    for (const pattern of ACTIVE) expect(escaped).not.toMatch(pattern);
  });

  it('drops the characters that would make it read in another direction', () => {
    expect(plainText('invoice\u202Efdp.exe')).toBe('invoicefdp.exe');
    expect(plainText('a\u2066b\u2069c')).toBe('abc');
  });

  it('leaves text without Markdown alone', () => {
    expect(plainText('Need it for the quarter-end close, 3 days (audit).')).toBe('Need it for the quarter-end close, 3 days (audit).');
  });
});

describe('text typed by people on the access request cards', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h?.stop();
  });

  it('the justification reaches the approver as typed, the comment of a denial reaches the requester as typed', async () => {
    const emily = h.user('employee');
    const thomas = h.user('manager');
    const justification = 'Month end: [Approve here](https://example.invalid/approve) **now**';
    const id = await requestAccess(h, emily, 'request access', { resource: 'vpn', duration: 'default', justification });
    expect(h.bot.store.requests.get(id)!.justification).toBe(justification);

    const [approval] = requestCardsSentTo(h, thomas.id, id);
    const facts = findById(approval, 'access-facts').facts as Array<{ title: string; value: string }>;
    const value = facts.find((f) => f.title === 'Justification')!.value;
    expect(value).toBe(plainText(justification));
    expect(shown(value)).toBe(justification);

    const comment = 'No: _see_ [the policy](https://example.invalid/policy)';
    await click(h, thomas, 'access.deny', id, 1, { comment });
    await settle(h);
    // Stored and audited as typed; escaped only where a card shows it.
    expect(h.bot.store.requests.get(id)).toMatchObject({ state: 'denied', closeComment: comment });
    for (const copy of currentCopies(h, id)) {
      const history = findById(copy.card, 'access-history-facts').facts as Array<{ title: string; value: string }>;
      const denied = history.find((f) => f.title === 'Stage 1 denied')!.value;
      expect(denied).toContain(plainText(comment));
      expect(shown(denied)).toContain(comment);
    }
    const told = cardsSentTo(h, emily.id).find((c) => findById(c, 'notice-title')?.text === 'Request denied: VPN');
    expect(shown(findById(told, 'notice-text').text)).toContain(`"${comment}"`);
    expect(findById(told, 'notice-text').text).toContain(plainText(comment));
  });
});
