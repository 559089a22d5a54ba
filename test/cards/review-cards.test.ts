import { describe, expect, it } from 'vitest';
import { renderReviewerCard, renderReviewStatusCard, type ReviewerCardData, type ReviewLine } from '../../adaptive-cards/reviews';
import { cardText, findById } from '../support/teams-client';
import { cardProblems } from './validate';

/** The access review cards: valid Adaptive Cards 1.5, elements found by id, buttons carrying ids only. */

const line = (id: number, over: Partial<ReviewLine> = {}): ReviewLine => ({
  id,
  heading: `Person ${id} · Payroll Reports`,
  facts: [
    { title: 'Sign-in name', value: `person.${id}@northwind.example` },
    { title: 'Granted', value: 'No record: added outside the bot' },
  ],
  decided: '',
  canDecide: true,
  reasonLabel: 'Reason (required: no record of how this was granted)',
  ...over,
});

const base: ReviewerCardData = {
  campaignId: 'REV-1001',
  title: 'REV-1001 · Access review: Payroll Reports',
  subtitle: 'Due Mon 16 Mar 2026, 09:00 UTC · started by Sarah Mitchell',
  status: '0 of 12 decided · page 1 of 2',
  tone: 'warning',
  intro: 'Does each person still need this access?',
  lines: Array.from({ length: 10 }, (_, i) => line(i + 1)),
  page: 1,
  pages: 2,
  showKeepAll: true,
};

describe('the reviewer card', () => {
  it('has a line per item with its helpers, a reason box and Keep / Remove carrying only the campaign, the item and the page', () => {
    const card = renderReviewerCard(base);
    expect(cardProblems(card)).toEqual([]);
    expect(card.version).toBe('1.5');
    for (let i = 1; i <= 10; i++) {
      expect(findById(card, `review-item-title-${i}`).text).toBe(`Person ${i} · Payroll Reports`);
      expect(findById(card, `review-item-facts-${i}`).facts[1]).toEqual({ title: 'Granted', value: 'No record: added outside the bot' });
      expect(findById(card, `reason-${i}`)).toMatchObject({ type: 'Input.Text', maxLength: 500, label: 'Reason (required: no record of how this was granted)' });
      expect(findById(card, `review-keep-${i}`)).toMatchObject({ type: 'Action.Execute', verb: 'review.keep', data: { campaign: 'REV-1001', item: i, page: 1 } });
      expect(findById(card, `review-remove-${i}`)).toMatchObject({ type: 'Action.Execute', verb: 'review.remove', style: 'destructive', data: { campaign: 'REV-1001', item: i, page: 1 } });
    }
    expect(findById(card, 'review-next').data).toEqual({ campaign: 'REV-1001', page: 2 });
    expect(findById(card, 'review-prev')).toBeUndefined();
    expect(findById(card, 'review-keep-all')).toMatchObject({ verb: 'review.keep-all', data: { campaign: 'REV-1001', page: 1 } });
    expect(findById(card, 'review-confirm')).toBeUndefined();
    // A full page stays well under the size Teams accepts for a card (about 28 KB).
    expect(JSON.stringify(card).length).toBeLessThan(20_000);
  });

  it('a decided line says what was decided and has no buttons; the last page has Previous only', () => {
    const card = renderReviewerCard({
      ...base,
      page: 2,
      status: '1 of 12 decided · page 2 of 2',
      lines: [line(11, { canDecide: false, decided: 'Removed by Thomas Berg, Tue 3 Mar 2026, 10:00 UTC: "left"', decidedTone: 'attention' }), line(12)],
    });
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'review-item-decision-11')).toMatchObject({ text: 'Removed by Thomas Berg, Tue 3 Mar 2026, 10:00 UTC: "left"', color: 'Attention' });
    expect(findById(card, 'review-keep-11')).toBeUndefined();
    expect(findById(card, 'reason-11')).toBeUndefined();
    expect(findById(card, 'review-keep-12').data).toEqual({ campaign: 'REV-1001', item: 12, page: 2 });
    expect(findById(card, 'review-prev').data).toEqual({ campaign: 'REV-1001', page: 1 });
    expect(findById(card, 'review-next')).toBeUndefined();
  });

  it('"keep all remaining" asks first: the confirmation replaces the button, with the count and a reason box', () => {
    const card = renderReviewerCard({ ...base, confirm: { count: 12, text: 'Keep all 12 item(s) you have not decided yet?', reasonLabel: 'Reason (required)' } });
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'review-keep-all')).toBeUndefined();
    expect(findById(card, 'review-confirm-text').text).toBe('Keep all 12 item(s) you have not decided yet?');
    expect(findById(card, 'keepAllReason')).toMatchObject({ type: 'Input.Text', label: 'Reason (required)' });
    expect(findById(card, 'review-keep-all-confirm')).toMatchObject({ title: 'Yes, keep 12', verb: 'review.keep-all-confirm', data: { campaign: 'REV-1001', count: 12, page: 1 } });
    expect(findById(card, 'review-keep-all-back')).toMatchObject({ verb: 'review.page', data: { campaign: 'REV-1001', page: 1 } });
  });

  it('shows a banner, keeps a typed reason, and binds people’s text as text', () => {
    const card = renderReviewerCard({
      ...base,
      banner: 'Add a reason to remove Person 1’s Payroll Reports.',
      bannerTone: 'attention',
      lines: [line(1, { reason: '${campaignId} {{DATE(x)}}', heading: 'Kevin O’Brien · ${title}' })],
      pages: 1,
      showKeepAll: false,
    });
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'review-banner')).toMatchObject({ text: 'Add a reason to remove Person 1’s Payroll Reports.', color: 'Attention' });
    expect(findById(card, 'reason-1').value).toBe('$\u200b{campaignId} {{DATE(x)}}');
    expect(findById(card, 'review-item-title-1').text).toBe('Kevin O’Brien · $\u200b{title}');
    expect(findById(card, 'review-keep-all')).toBeUndefined();
    expect(findById(card, 'review-next')).toBeUndefined();
  });
});

describe('the technicians’ progress and report card', () => {
  it('has the summary, per-reviewer sections and at most five buttons carrying ids only', () => {
    const card = renderReviewStatusCard({
      title: 'REV-1001 · Access review: Payroll Reports',
      subtitle: 'Started by Sarah Mitchell',
      status: 'In progress: 1 of 3 decided (33%)',
      tone: 'accent',
      facts: [{ title: 'Items', value: '3' }],
      sections: [{ key: 'reviewers', title: 'Reviewers (2)', facts: [{ title: 'Thomas Berg', value: '1 of 1 decided' }] }],
      footer: 'audit REV-1001',
      actions: Array.from({ length: 7 }, (_, i) => ({ id: `review-a${i}`, title: `A${i}`, verb: 'review.report', data: { campaign: 'REV-1001' } })),
    });
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'review-status-state')).toMatchObject({ text: 'In progress: 1 of 3 decided (33%)', color: 'Default' });
    expect(findById(card, 'review-section-facts-reviewers').facts).toEqual([{ title: 'Thomas Berg', value: '1 of 1 decided' }]);
    expect((card.actions as unknown[]).length).toBe(5);
    expect(findById(card, 'review-a0').data).toEqual({ campaign: 'REV-1001' });
    expect(cardText(card)).toContain('audit REV-1001');
  });
});
