import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAnchors } from '../../store/audit-anchors';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { findById, HOUR, sarah, say, title } from '../technician/support';

/**
 * `audit verify` in chat says what `npm run audit -- verify --anchors` says: a trail cut off
 * at its end, or rewritten with recomputed hashes, is found against the anchor file the bot
 * keeps, and an edited anchor file is a finding of its own.
 */

let h: Harness;
let anchors: string;
const clock = new TestClock('2026-03-02T09:00:00.000Z');

beforeAll(async () => {
  h = await startHarness({ AUDIT_ANCHOR_INTERVAL_HOURS: '6' }, { clock: clock.now });
  anchors = path.join(h.dir, 'audit-anchors.jsonl');
});
afterAll(async () => {
  await h?.stop();
});

const verifyText = async () => {
  const { cards, texts } = await say(h, sarah(h), 'audit verify');
  expect(texts).toEqual([]);
  return { title: title(cards[0]), text: String(findById(cards[0], 'notice-text')?.text ?? '') };
};

describe('audit verify in chat against the anchor file', () => {
  it('before any anchor: the chain alone; after the scheduled anchor: every anchor held', async () => {
    expect(fs.existsSync(anchors)).toBe(false);
    expect((await verifyText()).title).toBe('Audit trail intact');
    for (let i = 0; i < 5; i++) await say(h, sarah(h), 'whois emily.chen@northwind.example');
    clock.advance(6 * HOUR);
    await h.bot.scheduler.runDue();
    await h.bot.scheduler.idle();
    expect(readAnchors(anchors)).toHaveLength(1);
    const v = await verifyText();
    expect(v.title).toBe('Audit trail intact');
    expect(v.text).toMatch(/still holds all 1 anchors, the newest of 2026-03-02T1\d:00:00\.000Z \(event \d+\)/);
  });

  it('events cut from the end (triggers dropped first) are found, naming the first missing event', async () => {
    const [anchor] = readAnchors(anchors);
    expect(anchor!.seq).toBeGreaterThan(5);
    const raw = new Database(path.join(h.dir, 'helpdesk.db'));
    raw.exec('DROP TRIGGER audit_events_no_delete');
    raw.prepare('DELETE FROM audit_events WHERE seq > ?').run(anchor!.seq - 2);
    raw.close();
    expect(h.bot.store.audit.verify().ok).toBe(true);
    const v = await verifyText();
    expect(v.title).toBe('Audit trail BROKEN');
    expect(v.text).toContain(`The chain breaks at event ${anchor!.seq - 1}: the trail ends at event ${anchor!.seq - 2}, before the recorded event ${anchor!.seq}`);
    // The trigger dropped to do it is a finding of its own, said on the same card.
    expect(v.text).toContain('The append-only triggers are not in place: audit_events_no_delete is missing.');
    const [last] = h.bot.store.audit.tail(1);
    expect(last).toMatchObject({ action: 'audit.verified', outcome: 'failure' });
    expect(JSON.parse(last!.details)).toMatchObject({ anchors: 1, firstBadSeq: anchor!.seq - 1 });
  });

  it('an anchor file with a line that is not an anchor is refused, naming the line, and the refusal is audited', async () => {
    // The trigger the previous attack dropped, back as the bot's next start puts it.
    expect(h.bot.store.audit.restoreGuards()).toEqual(['audit_events_no_delete']);
    fs.appendFileSync(anchors, '{"seq":"everything is fine"}\n');
    const v = await verifyText();
    expect(v.title).toBe('Audit anchors REFUSED');
    expect(v.text).toMatch(/line 2 is not an anchor/);
    const [last] = h.bot.store.audit.tail(1);
    expect(last).toMatchObject({ action: 'audit.verified', outcome: 'failure' });
    expect(JSON.parse(last!.details)).toMatchObject({ anchorFileRefused: true });
  });
});

describe('audit filters typed in chat', () => {
  it.each([
    ['audit emily.chen@northwind.example --since 2026-02-30', /^--since: "2026-02-30" is not a valid date/],
    ['audit export --since 2026-13-01', /^--since: "2026-13-01" is not a valid date/],
    ["audit emily.chen@northwind.example --since 2026-03-01' OR 1=1 --", /--since: .*is not a time/],
  ])('%s gets a clear message and writes nothing', async (line, message) => {
    const before = h.bot.store.audit.count();
    const { texts, cards } = await say(h, sarah(h), line);
    expect(cards).toEqual([]);
    expect(texts[0]).toMatch(message);
    expect(texts.join('\n')).not.toMatch(/\bat \w+ \(|Error:|stack/i);
    const added = h.bot.store.audit.query({}, { afterSeq: before });
    expect(added).toEqual([]);
  });
});
