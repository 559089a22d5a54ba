import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftStore, type DriftFinding } from '../../store/drift';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { ahmed, findById, sarah, say } from '../technician/support';
import { cardProblems } from '../cards/validate';

/**
 * Drift tickets' buttons clicked the way a busy channel clicks them: two technicians at once
 * on the same finding. "Open a review" starts one review per finding, whoever clicks first.
 */

let h: Harness;
let drift: DriftStore;
const clock = new TestClock('2026-03-02T09:00:00.000Z');

beforeAll(async () => {
  h = await startHarness({ DRIFT_CHECK_INTERVAL_HOURS: '0' }, { clock: clock.now });
  drift = new DriftStore(h.bot.store.db, clock.now);
  await say(h, sarah(h), 'pending');
  await say(h, sarah(h), 'drift');
  await h.bot.scheduler.idle();
});
afterAll(async () => {
  await h?.stop();
});

function campaigns(): number {
  return (h.bot.store.db.prepare('SELECT count(*) AS n FROM review_campaigns').get() as { n: number }).n;
}

function openUnapproved(): DriftFinding[] {
  const rows = h.bot.store.db.prepare("SELECT id FROM drift_findings WHERE kind = 'unapproved' AND state = 'open' ORDER BY id").all() as Array<{ id: string }>;
  return rows.map((r) => drift.get(r.id)!).filter((f) => f.userId !== sarah(h).id && f.userId !== ahmed(h).id);
}

describe('drift: concurrent clicks', () => {
  it('two technicians opening a review of the same finding at once start one review', async () => {
    const [f] = openUnapproved();
    expect(f).toBeDefined();
    const before = campaigns();
    // The directory answers after a while, as Graph does over the network.
    const original = h.bot.directory.listGroupMembers.bind(h.bot.directory);
    h.bot.directory.listGroupMembers = async (groupId: string) => {
      await new Promise((r) => setTimeout(r, 150));
      return original(groupId);
    };
    let answers;
    try {
      answers = await Promise.all([
        h.client.invoke(sarah(h), 'drift.review', { finding: f!.id }, { where: 'channel' }),
        h.client.invoke(ahmed(h), 'drift.review', { finding: f!.id }, { where: 'channel' }),
      ]);
    } finally {
      h.bot.directory.listGroupMembers = original;
    }
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(cardProblems(a.body?.value)).toEqual([]);
    }
    await h.bot.scheduler.idle();
    expect(campaigns()).toBe(before + 1);
    const after = drift.get(f!.id)!;
    expect(after.reviewId).toMatch(/^REV-\d+$/);
    const opened = h.bot.store.audit.query({ action: 'drift.review-opened', correlationId: f!.id });
    expect(opened.filter((e) => e.outcome === 'success')).toHaveLength(1);
    expect(JSON.parse(opened.find((e) => e.outcome === 'success')!.details).reviews).toEqual([after.reviewId]);
    // The card no longer offers it.
    const texts = answers.map((a) => String(findById(a.body.value, 'drift-text')?.text ?? ''));
    expect(texts.some((t) => t.includes(`Access review: ${after.reviewId}`))).toBe(true);
  });
});
