import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { main } from '../../store/cli/review-cli';
import { isCampaignId, ReviewStore, type NewCampaign } from '../../store/reviews';
import { openStore, type Store } from '../../store/store';
import { TestClock } from '../support/harness';

/** The access review store on a real SQLite file: ids, one-time decisions, the close's auto-apply, removals, cards, schedule runs. */

let dir: string;
let store: Store;
let reviews: ReviewStore;
let clock: TestClock;
const sarah = { id: 'e41b629b-bea9-48c7-87aa-7659b7d30756', name: 'Sarah Mitchell' };
const thomas = { id: 'fe5cfa98-49ed-4c05-9964-13867dd481e6', name: 'Thomas Berg' };
const olivia = { id: '0b4c5f53-3f0b-4c57-8f3e-5d0e3a1b2c44', name: 'Olivia Hart' };
const GROUP = '2dd0f164-92e0-42a8-ac67-573fc1637c65';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-reviews-'));
  clock = new TestClock();
  store = openStore(path.join(dir, 'helpdesk.db'), clock.now);
  reviews = new ReviewStore(store.db, clock.now);
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const campaign = (over: Partial<NewCampaign> = {}): NewCampaign => ({
  title: 'Access review: Payroll Reports',
  scope: { kind: 'group', groupId: GROUP, name: 'Payroll Reports' },
  reviewer: { kind: 'manager' },
  autoApply: 'deny',
  inactiveDays: null,
  startedBy: sarah,
  reason: null,
  dueAt: new Date('2026-03-16T09:00:00Z'),
  ...over,
});

function item(campaignId: string, memberId: string, memberName: string) {
  return reviews.addItem({
    campaignId,
    memberId,
    memberName,
    memberUpn: `${memberName.toLowerCase().replace(' ', '.')}@northwind.example`,
    groupId: GROUP,
    accessName: 'Payroll Reports',
    resourceId: 'payroll-reports',
    helpers: { department: 'Finance', jobTitle: null, managerName: 'Thomas Berg', accountEnabled: true, grant: null, lastSignIn: null },
  });
}

describe('review store', () => {
  it('numbers campaigns from REV-1001 and keeps what was resolved at the start', () => {
    const a = reviews.create(campaign());
    const b = reviews.create(campaign({ autoApply: 'none', reviewer: { kind: 'group', groupId: GROUP, name: 'Identity Technicians' } }));
    expect([a.id, b.id]).toEqual(['REV-1001', 'REV-1002']);
    expect(isCampaignId(a.id)).toBe(true);
    expect(isCampaignId('REV-1; DROP')).toBe(false);
    expect(reviews.get(b.id)).toMatchObject({ state: 'active', autoApply: 'none', reviewer: { kind: 'group', name: 'Identity Technicians' }, createdAt: '2026-03-02T09:00:00.000Z', dueAt: '2026-03-16T09:00:00.000Z' });
    expect(reviews.list().map((c) => c.id)).toEqual(['REV-1002', 'REV-1001']);
  });

  it('an item per person and access, once; reviewers listed per item; progress per reviewer', () => {
    const c = reviews.create(campaign());
    const jonas = item(c.id, 'u-jonas', 'Jonas Weber')!;
    const grace = item(c.id, 'u-grace', 'Grace Mwangi')!;
    expect(item(c.id, 'u-jonas', 'Jonas Weber')).toBeNull();
    reviews.addReviewer({ itemId: jonas, reviewerId: thomas.id, reviewerName: thomas.name, source: 'manager' });
    reviews.addReviewer({ itemId: jonas, reviewerId: olivia.id, reviewerName: olivia.name, source: 'owner' });
    reviews.addReviewer({ itemId: grace, reviewerId: olivia.id, reviewerName: olivia.name, source: 'owner' });
    expect(reviews.itemsFor(c.id, olivia.id).map((i) => i.memberName)).toEqual(['Grace Mwangi', 'Jonas Weber']);
    expect(reviews.itemsFor(c.id, thomas.id).map((i) => i.memberName)).toEqual(['Jonas Weber']);
    expect(reviews.reviewer(jonas, olivia.id)).toMatchObject({ source: 'owner' });
    expect(reviews.reviewer(grace, thomas.id)).toBeNull();
    reviews.decide({ itemId: jonas, campaignId: c.id, decision: 'remove', reason: 'left', by: thomas });
    expect(reviews.progress(c.id)).toEqual([
      { reviewerId: olivia.id, reviewerName: 'Olivia Hart', total: 2, decided: 1 },
      { reviewerId: thomas.id, reviewerName: 'Thomas Berg', total: 1, decided: 1 },
    ]);
  });

  it('a decision is one guarded update: once per item, only while the campaign is active, only for its own campaign', () => {
    const c = reviews.create(campaign());
    const other = reviews.create(campaign());
    const jonas = item(c.id, 'u-jonas', 'Jonas Weber')!;
    const grace = item(c.id, 'u-grace', 'Grace Mwangi')!;
    expect(reviews.decide({ itemId: jonas, campaignId: other.id, decision: 'keep', reason: null, by: thomas })).toBe(false);
    expect(reviews.decide({ itemId: jonas, campaignId: c.id, decision: 'remove', reason: 'left', by: thomas })).toBe(true);
    expect(reviews.decide({ itemId: jonas, campaignId: c.id, decision: 'keep', reason: 'no', by: olivia })).toBe(false);
    expect(reviews.item(jonas)).toMatchObject({ decision: 'remove', reason: 'left', decidedBy: thomas, decidedAt: '2026-03-02T09:00:00.000Z', autoApplied: false });
    expect(reviews.end(c.id, 'closed', sarah, 'technician')).toBe(true);
    expect(reviews.end(c.id, 'cancelled', sarah, 'again')).toBe(false);
    expect(reviews.decide({ itemId: grace, campaignId: c.id, decision: 'keep', reason: null, by: thomas })).toBe(false);
    expect(reviews.get(c.id)).toMatchObject({ state: 'closed', closedBy: sarah, closeReason: 'technician' });
  });

  it('the close auto-applies only to undecided items; counts and removals follow', () => {
    const c = reviews.create(campaign());
    const jonas = item(c.id, 'u-jonas', 'Jonas Weber')!;
    const grace = item(c.id, 'u-grace', 'Grace Mwangi')!;
    const emily = item(c.id, 'u-emily', 'Emily Chen')!;
    reviews.decide({ itemId: emily, campaignId: c.id, decision: 'keep', reason: null, by: thomas });
    reviews.decide({ itemId: jonas, campaignId: c.id, decision: 'remove', reason: 'left', by: thomas });
    reviews.end(c.id, 'closed', sarah, 'due');
    expect(reviews.autoDecide({ itemId: jonas, campaignId: c.id, decision: 'keep', reason: 'auto', byName: 'auto-apply' })).toBe(false);
    expect(reviews.autoDecide({ itemId: grace, campaignId: c.id, decision: 'remove', reason: 'auto', byName: 'auto-apply' })).toBe(true);
    expect(reviews.item(grace)).toMatchObject({ decision: 'remove', autoApplied: true, decidedBy: { id: null, name: 'auto-apply' } });
    expect(reviews.requestRemoval(emily)).toBe(false);
    expect(reviews.requestRemoval(jonas)).toBe(true);
    expect(reviews.requestRemoval(jonas)).toBe(false);
    expect(reviews.requestRemoval(grace)).toBe(true);
    expect(reviews.markRemoved(emily, clock.now(), 'removed')).toBe(false);
    clock.advance(60_000);
    expect(reviews.markRemoved(jonas, clock.now(), 'removed')).toBe(true);
    expect(reviews.markRemoved(jonas, clock.now(), 'removed')).toBe(false);
    expect(reviews.markRemovalFailed(grace, 'x'.repeat(400))).toBe(true);
    expect(reviews.markRemoved(grace, clock.now(), 'removed')).toBe(false);
    expect(reviews.item(jonas)).toMatchObject({ removalState: 'removed', removalRequestedAt: '2026-03-02T09:00:00.000Z', removalEffectiveAt: '2026-03-02T09:01:00.000Z', removalResult: 'removed' });
    expect(reviews.item(grace)!.removalResult).toHaveLength(300);
    expect(reviews.counts(c.id)).toEqual({
      total: 3,
      decided: 3,
      reviewed: 2,
      kept: 1,
      removed: 2,
      autoApplied: 1,
      undecided: 0,
      removalsRequested: 2,
      removalsDone: 1,
      removalsFailed: 1,
    });
  });

  it('remembers where cards were posted and the page each reviewer looks at', () => {
    const c = reviews.create(campaign());
    const ref = (n: number) => ({ conversation: { id: `a:conv-${n}` }, serviceUrl: 'http://127.0.0.1:1', activityId: 'last-said' }) as never;
    reviews.addCard({ campaignId: c.id, purpose: 'reviewer', userId: thomas.id, activityId: 'm1', reference: ref(1) });
    reviews.addCard({ campaignId: c.id, purpose: 'reviewer', userId: thomas.id, activityId: 'm1', reference: ref(1) });
    reviews.addCard({ campaignId: c.id, purpose: 'reviewer', userId: thomas.id, activityId: 'm2', reference: ref(1) });
    reviews.addCard({ campaignId: c.id, purpose: 'progress', userId: null, activityId: 'm3', reference: ref(2) });
    expect(reviews.cardsOf(c.id, thomas.id).map((r) => r.activityId)).toEqual(['m1', 'm2']);
    reviews.setPage(c.id, thomas.id, 3);
    expect(reviews.cardsOf(c.id, thomas.id).map((r) => r.page)).toEqual([3, 3]);
    const [progress] = reviews.cards(c.id, 'progress');
    expect(progress).toMatchObject({ userId: null, conversationId: 'a:conv-2', activityId: 'm3' });
    // Not tied to whatever was said last in that conversation.
    expect((progress!.reference as { activityId?: string }).activityId).toBeUndefined();
  });

  it('an occurrence of a schedule is recorded once; the first sighting of a schedule stays', () => {
    expect(reviews.firstSeen('q')).toBe('2026-03-02T09:00:00.000Z');
    clock.advance(86_400_000);
    expect(reviews.firstSeen('q')).toBe('2026-03-02T09:00:00.000Z');
    expect(reviews.recordRun({ scheduleId: 'q', occurrence: '2026-03-02T10:00:00.000Z', outcome: 'started', campaignId: 'REV-1001', detail: null })).toBe(true);
    expect(reviews.recordRun({ scheduleId: 'q', occurrence: '2026-03-02T10:00:00.000Z', outcome: 'skipped', campaignId: null, detail: 'again' })).toBe(false);
    expect(reviews.run('q', '2026-03-02T10:00:00.000Z')).toMatchObject({ outcome: 'started', campaignId: 'REV-1001' });
    expect(reviews.run('q', '2026-03-09T10:00:00.000Z')).toBeNull();
    expect(reviews.lastRun('q')).toBe('2026-03-02T10:00:00.000Z');
    expect(reviews.lastRun('other')).toBeNull();
  });
});

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += String(chunk);
    cb();
  }
}

describe('npm run review-report', () => {
  it('writes the evidence CSV of one campaign; unknown campaigns and bad usage are refused', async () => {
    const c = reviews.create(campaign());
    const jonas = item(c.id, 'u-jonas', 'Jonas Weber')!;
    item(c.id, 'u-grace', 'Grace Mwangi');
    reviews.addReviewer({ itemId: jonas, reviewerId: thomas.id, reviewerName: thomas.name, source: 'manager' });
    reviews.decide({ itemId: jonas, campaignId: c.id, decision: 'remove', reason: '=HYPERLINK("x"), "quoted"', by: thomas });
    store.audit.append({ actor: sarah, action: 'review.started', target: c.id, outcome: 'success', correlationId: c.id, details: {} });
    const file = path.join(dir, 'helpdesk.db');
    const out = new Collect();
    const err = new Collect();
    expect(await main(['rev-1001', '--db', file], {}, out, err)).toBe(0);
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toBe('# Northwind IAM Helpdesk access review evidence');
    expect(lines.find((l) => l.startsWith('# completion:'))).toBe('# completion: 1 of 2 decided by reviewers (50%); kept 0, removed 1, auto-applied 0, not decided 1');
    expect(lines.find((l) => l.startsWith('# chain:'))).toMatch(/^# chain: intact, 1 events, head 1:/);
    const header = lines.findIndex((l) => l.startsWith('campaign,'));
    expect(lines[header]).toBe('campaign,item,member,member_upn,access,group_id,reviewers,decided_by,decision,reason,decided_at,auto_applied,removal_requested_at,removal_effective_at,removal_failed');
    // Sorted by member; a reason a spreadsheet would run as a formula is defused.
    expect(lines.slice(header + 1)).toEqual([
      `REV-1001,2,Grace Mwangi,grace.mwangi@northwind.example,Payroll Reports,${GROUP},,,not decided,,,no,,,`,
      `REV-1001,1,Jonas Weber,jonas.weber@northwind.example,Payroll Reports,${GROUP},Thomas Berg,Thomas Berg,remove,"'=HYPERLINK(""x""), ""quoted""",2026-03-02T09:00:00.000Z,no,,,`,
    ]);
    expect(await main(['REV-4242', '--db', file], {}, new Collect(), err)).toBe(1);
    expect(err.text).toMatch(/There is no access review REV-4242/);
    expect(await main([], {}, new Collect(), err)).toBe(2);
    expect(await main(['REV-1001', '--bogus'], {}, new Collect(), err)).toBe(2);
    expect(await main(['REV-1001', '--db', path.join(dir, 'none.db')], {}, new Collect(), err)).toBe(2);
    expect(err.text).toMatch(/No database at .*none\.db/);
  });
});
