import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAnchors } from '../../store/audit-anchors';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardText, channelPosts, HOUR, sarah, say, title } from '../technician/support';

/**
 * The scheduled anchor checks before it writes: events since the newest anchor are anchored;
 * a trail rewritten since (every hash recomputed, so the chain alone looks clean) or an anchor
 * file that no longer reads is never anchored. The refusal is logged, audited and a security
 * ticket for the technicians, once however many slots refuse.
 */

let h: Harness;
let anchors: string;
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const TICKET_TITLE = 'Audit trail: the head was not anchored';

beforeAll(async () => {
  h = await startHarness({ AUDIT_ANCHOR_INTERVAL_HOURS: '6' }, { clock: clock.now });
  anchors = path.join(h.dir, 'audit-anchors.jsonl');
});
afterAll(async () => {
  await h?.stop();
});

async function nextSlot(): Promise<void> {
  clock.advance(6 * HOUR);
  await h.bot.scheduler.runDue();
}

async function someEvents(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await say(h, sarah(h), 'whois emily.chen@northwind.example');
}

/** What someone with the database file would do: change one old event and recompute every hash after it. */
function rewriteFrom(seq: number): void {
  const raw = new Database(path.join(h.dir, 'helpdesk.db'));
  raw.exec('DROP TRIGGER audit_events_no_update');
  const rows = raw.prepare('SELECT seq, ts, actor_id, actor_name, action, target, outcome, details, correlation_id, prev_hash FROM audit_events WHERE seq >= ? ORDER BY seq').raw().all(seq) as unknown[][];
  let prev = (raw.prepare('SELECT hash FROM audit_events WHERE seq = ?').pluck().get(seq - 1) as string | undefined) ?? '0'.repeat(64);
  const update = raw.prepare('UPDATE audit_events SET actor_name = ?, prev_hash = ?, hash = ? WHERE seq = ?');
  raw.transaction(() => {
    for (const row of rows) {
      if (row[0] === seq) row[3] = 'Mallory';
      row[9] = prev;
      const hash = createHash('sha256').update(JSON.stringify(row)).digest('hex');
      update.run(row[3], prev, hash, row[0]);
      prev = hash;
    }
  })();
  raw.close();
}

const refusals = () => h.bot.store.audit.query({ action: 'audit.anchor-refused' });
const tickets = () => h.bot.store.technician.tickets.listOpen().filter((t) => t.title === TICKET_TITLE);

describe('the scheduled anchor', () => {
  it('anchors the head, then only what came since, each slot', async () => {
    await someEvents(3);
    await nextSlot();
    expect(readAnchors(anchors)).toHaveLength(1);
    await someEvents(2);
    await nextSlot();
    const [first, second] = readAnchors(anchors);
    expect(second!.seq).toBeGreaterThan(first!.seq);
    expect(h.bot.store.audit.verify(readAnchors(anchors)).ok).toBe(true);
    expect(refusals()).toEqual([]);
  });

  it('refuses a trail rewritten since the newest anchor, audits it and raises one security ticket', async () => {
    const before = readAnchors(anchors);
    const newest = before[before.length - 1]!;
    await someEvents(2);
    rewriteFrom(newest.seq - 3);
    // The chain alone is clean again: only the anchor tells.
    expect(h.bot.store.audit.verify().ok).toBe(true);
    const posts = channelPosts(h).length;

    await nextSlot();
    expect(readAnchors(anchors)).toEqual(before);
    expect(refusals()).toHaveLength(1);
    expect(JSON.parse(refusals()[0]!.details).reason).toBe(`event ${newest.seq}: event ${newest.seq} no longer has the recorded hash ${newest.hash}: the chain was rewritten`);
    expect(h.logs.some((l) => l.action === 'audit.anchor-refused' && l.level >= 50)).toBe(true);
    const [ticket] = tickets();
    expect(ticket).toMatchObject({ type: 'security' });
    const notice = channelPosts(h).slice(posts).find((c) => title(c) === `${ticket!.id}: ${TICKET_TITLE}` || cardText(c).includes(TICKET_TITLE));
    expect(cardText(notice)).toContain('npm run audit -- verify --anchors');

    // The next slot refuses again: still no anchor, the same ticket.
    await nextSlot();
    expect(readAnchors(anchors)).toEqual(before);
    expect(refusals()).toHaveLength(2);
    expect(tickets()).toHaveLength(1);
    const history = h.bot.store.technician.tickets.history(ticket!.id).map((e) => e.action);
    expect(history.filter((a) => a === 'opened' || a === 'raised-again')).toEqual(['opened', 'raised-again']);
  });

  it('refuses an anchor file that no longer reads, and writes nothing to it', async () => {
    fs.appendFileSync(anchors, '{"seq": "edited"}\n');
    const text = fs.readFileSync(anchors, 'utf8');
    await nextSlot();
    expect(fs.readFileSync(anchors, 'utf8')).toBe(text);
    expect(JSON.parse(refusals().at(-1)!.details).reason).toMatch(/line \d+ is not an anchor/);
  });
});

describe('a deleted anchor file', () => {
  const MISSING_TITLE = 'Audit trail: anchors are missing';
  const missingEvents = () => h.bot.store.audit.query({ action: 'audit.anchor-missing' });
  const missingTickets = () => h.bot.store.technician.tickets.listOpen().filter((t) => t.title === MISSING_TITLE);

  it('is an alarm, not "no anchors yet": audited, logged at error, one security ticket however many slots find it, and no fresh file is started', async () => {
    // The anchors the trail records writing (each `audit.anchor` event) are what the file is held to.
    const recorded = h.bot.store.audit.query({ action: 'audit.anchor' });
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    fs.rmSync(anchors);
    const posts = channelPosts(h).length;

    await nextSlot();
    expect(fs.existsSync(anchors)).toBe(false);
    expect(missingEvents()).toHaveLength(1);
    const reason = JSON.parse(missingEvents()[0]!.details).reason as string;
    expect(reason).toBe(`the anchor file ${anchors} is missing, but the trail records ${recorded.length} anchors written to it, the newest of event ${JSON.parse(recorded.at(-1)!.details).seq}`);
    expect(h.logs.some((l) => l.action === 'audit.anchor-missing' && l.level >= 50)).toBe(true);
    const [ticket] = missingTickets();
    expect(ticket).toMatchObject({ type: 'security' });
    expect(channelPosts(h).slice(posts).some((c) => cardText(c).includes(MISSING_TITLE))).toBe(true);

    await nextSlot();
    expect(fs.existsSync(anchors)).toBe(false);
    expect(missingEvents()).toHaveLength(2);
    expect(missingTickets()).toHaveLength(1);
    const history = h.bot.store.technician.tickets.history(ticket!.id).map((e) => e.action);
    expect(history.filter((a) => a === 'opened' || a === 'raised-again')).toEqual(['opened', 'raised-again']);
  });
});
