import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { findById, sarah, say, title } from '../technician/support';

/**
 * Auditors ask about people long after they left: the trail of someone no longer in the
 * directory stays reachable by object id, and asking about them changes nothing else.
 */

let h: Harness;
const clock = new TestClock('2026-03-02T09:00:00.000Z');

beforeAll(async () => {
  h = await startHarness({}, { clock: clock.now });
});
afterAll(async () => {
  await h?.stop();
});

describe('audit of a user who is no longer in the directory', () => {
  it('audit <object id> shows the events about them, a lookup is audited, whois still says nobody has that id', async () => {
    const gone = randomUUID();
    expect(await h.bot.directory.getUser(gone)).toBeNull();
    // What a leaver leaves behind: events about them, by another person, before the account was deleted.
    h.bot.store.audit.append({ actor: { id: sarah(h).id, name: sarah(h).displayName }, action: 'technician.account-disabled', target: gone, outcome: 'success', correlationId: 'PLN-9001', details: { reason: 'left the company' } });
    h.bot.store.audit.append({ actor: { id: gone, name: 'Former Employee' }, action: 'signin.password-reset', target: gone, outcome: 'success', correlationId: null, details: {} });
    const before = h.bot.store.audit.count();

    const { cards, texts } = await say(h, sarah(h), `audit ${gone.toUpperCase()}`);
    expect(texts).toEqual([]);
    expect(title(cards[0])).toBe(`Audit: ${gone} (no longer in the directory)`);
    const facts = (findById(cards[0], 'tech-facts')?.facts ?? []).map((f: any) => f.value as string);
    expect(facts).toHaveLength(2);
    expect(facts[0]).toMatch(/^technician\.account-disabled · success · Sarah Mitchell → .*no longer in the directory.*\[PLN-9001\]$/);
    expect(facts[1]).toMatch(/^signin\.password-reset · success · Former Employee/);

    // One lookup event, about that id; nothing else written.
    const after = h.bot.store.audit.query({}, { afterSeq: before });
    const added = after.filter((e) => e.seq > before);
    expect(added.map((e) => [e.action, e.target])).toEqual([['technician.lookup', gone]]);

    // Commands that act still need a person in the directory.
    expect((await say(h, sarah(h), `whois ${gone}`)).texts[0]).toBe(`No user has the object id ${gone}. Nothing was changed.`);
    expect((await say(h, sarah(h), `disable ${gone} --reason x`)).texts[0]).toBe(`No user has the object id ${gone}. Nothing was changed.`);
  });

  it('an id nobody ever had gives an empty listing, not an error', async () => {
    const never = randomUUID();
    const { cards } = await say(h, sarah(h), `audit ${never} --since 7d`);
    expect(title(cards[0])).toBe(`Audit: ${never} (no longer in the directory)`);
    expect(findById(cards[0], 'tech-text')?.text).toBe('No audit events about this.');
  });
});
