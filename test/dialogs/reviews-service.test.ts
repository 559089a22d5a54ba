import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Activity, ConversationReference } from 'botbuilder';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../bot/config';
import { createLogger } from '../../bot/logger';
import type { Delivered, Notifier } from '../../bot/notifier';
import { Scheduler, type TechnicianNotice } from '../../bot/scheduler';
import { AccessService } from '../../dialogs/access-service';
import { ReviewService, type StartReviewInput } from '../../dialogs/reviews/service';
import { loadCatalog } from '../../directory/catalog';
import { loadDemoTenant } from '../../directory/demo-tenant';
import type { Directory } from '../../directory/directory';
import { LocalDirectory } from '../../directory/local-directory';
import { ReviewStore } from '../../store/reviews';
import { openStore, type Store } from '../../store/store';
import { TestClock } from '../support/harness';

/**
 * The review service as other capabilities call it (`start`): drift's "Open a review" and the
 * HR feed's movers, whose old access the new manager reviews. Real store and demo directory;
 * a notifier that records what it would have sent.
 */

class RecordingNotifier implements Notifier {
  readonly toUsers: Array<{ userId: string; activity: Partial<Activity> }> = [];
  readonly toChannel: Array<Partial<Activity>> = [];
  private n = 0;
  async sendToUser(userId: string, activity: Partial<Activity>): Promise<Delivered> {
    this.toUsers.push({ userId, activity });
    return this.delivered(`a:${userId}`);
  }
  async update(): Promise<void> {}
  async sendToTechnicians(activity: Partial<Activity>): Promise<Delivered | null> {
    this.toChannel.push(activity);
    return this.delivered('19:channel');
  }
  teamsUserId(userId: string): string {
    return `29:${userId}`;
  }
  private delivered(conversationId: string): Delivered {
    this.n += 1;
    return { conversationId, activityId: `m${this.n}`, reference: { conversation: { id: conversationId } } as Partial<ConversationReference> };
  }
}

const tenant = loadDemoTenant();
const catalog = loadCatalog();
const user = (name: string) => tenant.users.find((u) => u.displayName === name)!;
const group = (name: string) => tenant.groups.find((g) => g.displayName === name)!.id;

let dir: string;
let store: Store;
let directory: LocalDirectory;
let notifier: RecordingNotifier;
let notices: TechnicianNotice[];
let scheduler: Scheduler;
let clock: TestClock;

function service(over: { directory?: Directory; technicianGroupId?: string | null } = {}): ReviewService {
  const config = loadConfig({ DATABASE_PATH: path.join(dir, 'h.db'), LOCAL_DIRECTORY_PATH: path.join(dir, 'd.db') });
  const logger = createLogger('silent');
  const technicians = { raise: async (n: TechnicianNotice) => void notices.push(n) };
  scheduler = new Scheduler({ jobs: store.jobs, clock: clock.now, logger, technicians, retryBaseMs: 1000, retryMaxMs: 1000, pollMs: 60_000 });
  const access = new AccessService({ config, store, directory: over.directory ?? directory, logger, clock: clock.now, catalog, notifier, scheduler, technicians, fallbackGroupId: tenant.technicianGroupId });
  access.registerJobs(scheduler);
  const reviews = new ReviewService({
    config,
    store,
    reviews: new ReviewStore(store.db, clock.now),
    directory: over.directory ?? directory,
    logger,
    clock: clock.now,
    catalog,
    notifier,
    scheduler,
    access,
    technicians,
    technicianGroupId: over.technicianGroupId === undefined ? tenant.technicianGroupId : over.technicianGroupId,
    schedules: { schedules: [] },
  });
  reviews.registerJobs(scheduler);
  return reviews;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-revsvc-'));
  clock = new TestClock('2026-11-26T09:00:00.000Z');
  store = openStore(path.join(dir, 'h.db'), clock.now);
  directory = LocalDirectory.open(path.join(dir, 'd.db'), tenant);
  notifier = new RecordingNotifier();
  notices = [];
});
afterEach(async () => {
  await scheduler?.stop(1000);
  directory.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sarah = { id: user('Sarah Mitchell').id, name: 'Sarah Mitchell' };

describe('start, as other capabilities call it', () => {
  it('a mover’s old access, reviewed by the new manager: only what they still hold, one card to the named reviewer', async () => {
    const reviews = service();
    const emily = user('Emily Chen');
    const olivia = user('Olivia Hart');
    const result = await reviews.start({
      scope: { kind: 'user-access', userId: emily.id, groupIds: [group('Payroll Reports'), group('App - ERP Finance'), group('App - Expense Reporting')] },
      reviewer: { kind: 'user', userId: olivia.id },
      startedBy: { id: 'system', name: 'HR feed' },
      correlationId: 'HR-1',
    });
    expect(result).toEqual({ ok: true, campaignId: 'REV-1001', items: 2 });
    await scheduler.runDue();
    expect(notifier.toUsers.map((s) => s.userId)).toEqual([olivia.id]);
    expect(notifier.toChannel).toHaveLength(1);
    const store2 = new ReviewStore(store.db);
    expect(store2.items('REV-1001').map((i) => i.accessName)).toEqual(['ERP Finance', 'Expense Reporting']);
    expect(store2.get('REV-1001')).toMatchObject({ scope: { kind: 'user-access', name: 'the access of Emily Chen' }, reviewer: { kind: 'user', name: 'Olivia Hart' }, autoApply: 'none' });
    const [event] = store.audit.query({ correlationId: 'REV-1001', action: 'review.started' });
    expect(JSON.parse(event!.details)).toMatchObject({ turn: 'HR-1', items: 2 });
  });

  it('a person named as the reviewer of their own access is routed to the technicians', async () => {
    const reviews = service();
    const emily = user('Emily Chen');
    const result = await reviews.start({ scope: { kind: 'user-access', userId: emily.id, groupIds: [group('App - ERP Finance')] }, reviewer: { kind: 'user', userId: emily.id }, startedBy: sarah, correlationId: 'c' });
    expect(result.ok).toBe(true);
    const [item] = new ReviewStore(store.db).items('REV-1001');
    expect(new ReviewStore(store.db).reviewersOf(item!.id).map((r) => [r.reviewerName, r.source])).toEqual([
      ['Ahmed Farouk', 'fallback'],
      ['Sarah Mitchell', 'fallback'],
    ]);
  });

  it('without a technicians group the starter is the fallback; a capability as starter is not, and the line becomes a ticket', async () => {
    const reviews = service({ technicianGroupId: null });
    const rebecca = user('Rebecca Stone');
    const scope = { kind: 'group' as const, groupId: group('App - HR Portal Administrators') };
    expect((await reviews.start({ scope, reviewer: { kind: 'owner' }, startedBy: sarah, correlationId: 'c' })).ok).toBe(true);
    const store2 = new ReviewStore(store.db);
    const own = store2.items('REV-1001').find((i) => i.memberId === rebecca.id)!;
    expect(store2.reviewersOf(own.id).map((r) => [r.reviewerName, r.source])).toEqual([['Sarah Mitchell', 'fallback']]);
    expect(notices).toHaveLength(0);
    expect((await reviews.start({ scope, reviewer: { kind: 'owner' }, startedBy: { id: 'hr-feed', name: 'HR feed' }, correlationId: 'c' })).ok).toBe(true);
    const unassigned = store2.items('REV-1002').find((i) => i.memberId === rebecca.id)!;
    expect(store2.reviewersOf(unassigned.id)).toEqual([]);
    expect(notices.map((n) => n.title)).toEqual(['REV-1002: 1 item(s) have nobody to review them']);
  });

  it('a group by id, as drift opens one: the members’ managers by default', async () => {
    const reviews = service();
    const result = await reviews.start({ scope: { kind: 'group', groupId: group('Production Administrators') }, startedBy: sarah, correlationId: 'DRF-1001' });
    expect(result).toEqual({ ok: true, campaignId: 'REV-1001', items: 2 });
    expect(new ReviewStore(store.db).progress('REV-1001').map((p) => p.reviewerName)).toEqual(['Anna Lindqvist', 'Ethan Park']);
  });

  it('bad input gets a message and changes nothing', async () => {
    const reviews = service();
    const good: StartReviewInput = { scope: { kind: 'group', groupId: group('Payroll Reports') }, startedBy: sarah, correlationId: 'c' };
    const before = { audit: store.audit.count(), jobs: store.jobs.withState('pending').length };
    const cases: Array<[Partial<StartReviewInput>, RegExp]> = [
      [{ dueInDays: 0 }, /due date must be 1 to 180 days away/],
      [{ dueInDays: 181 }, /due date must be 1 to 180 days away/],
      [{ dueInDays: 1.5 }, /due date must be 1 to 180 days away/],
      [{ autoApply: 'maybe' as never }, /Auto-apply is deny, keep or none/],
      [{ inactiveDays: 0 }, /Inactive days must be a whole number from 1 to 3650/],
      [{ scope: { kind: 'group', groupId: 'Payroll Reports' } }, /The group must be given by its id/],
      [{ scope: { kind: 'group', groupId: '00000000-0000-4000-8000-000000000000' } }, /There is no group 00000000-0000-4000-8000-000000000000 in the directory/],
      [{ scope: { kind: 'resource', resourceId: 'nope' } }, /The catalog has no resource "nope"/],
      [{ scope: { kind: 'department', department: 'Astronauts' } }, /Nobody in the Astronauts department holds access from the catalog/],
      [{ scope: { kind: 'user-access', userId: user('Emily Chen').id, groupIds: [] } }, /List 1 to 100 group ids/],
      [{ scope: { kind: 'user-access', userId: user('Emily Chen').id, groupIds: [group('Payroll Reports')] } }, /Emily Chen holds none of that access any more/],
      [{ scope: { kind: 'nothing' } as never }, /a group, a catalog resource, a department or a person’s access/],
      [{ reviewer: { kind: 'user', userId: user('Aisha Khan').id } }, /Aisha Khan cannot sign in/],
      [{ reviewer: { kind: 'boss' } as never }, /The reviewer is manager, owner, a group or a person/],
      [{ startedBy: { id: '', name: '' } }, /Who starts the review is missing/],
      [{ reason: 'x'.repeat(501) }, /The reason takes at most 500 characters/],
    ];
    for (const [over, message] of cases) {
      const result = await reviews.start({ ...good, ...over } as StartReviewInput);
      expect(result.ok, JSON.stringify(over).slice(0, 80)).toBe(false);
      expect((result as { message: string }).message).toMatch(message);
      expect((result as { message: string }).message).toMatch(/No review was started\.$/);
    }
    expect(new ReviewStore(store.db).list()).toHaveLength(0);
    expect({ audit: store.audit.count(), jobs: store.jobs.withState('pending').length }).toEqual(before);
  });

  it('--inactive needs a directory that knows sign-ins', async () => {
    const blind = Object.create(directory, { capabilities: { value: { onPremisesAccounts: false, authenticationMethods: true, signInActivity: false } } }) as Directory;
    const reviews = service({ directory: blind });
    const result = await reviews.start({ scope: { kind: 'group', groupId: group('Payroll Reports') }, inactiveDays: 30, startedBy: sarah, correlationId: 'c' });
    expect(result).toEqual({ ok: false, message: 'This directory does not report when people last signed in, so --inactive cannot be used. No review was started.' });
    // Without the filter it starts, and the cards say the last sign-in is not known.
    expect((await reviews.start({ scope: { kind: 'group', groupId: group('Payroll Reports') }, startedBy: sarah, correlationId: 'c' })).ok).toBe(true);
    expect(new ReviewStore(store.db).items('REV-1001').every((i) => !('lastSignIn' in i.helpers))).toBe(true);
  });
});

describe('review configuration', () => {
  it('has defaults: the bundled schedules, reminders 3 and 1 days before, due in 14 days', () => {
    expect(loadConfig({}).reviews).toEqual({ schedulesPath: null, reminderDays: [3, 1], defaultDueDays: 14 });
  });

  it('reads the schedules file, the reminder days and the default due date; names the variable at fault', () => {
    const c = loadConfig({ REVIEW_SCHEDULES_PATH: 'schedules.json', REVIEW_REMINDER_DAYS: '1, 7,3,7', REVIEW_DUE_DAYS: '30' });
    expect(c.reviews).toEqual({ schedulesPath: path.resolve('schedules.json'), reminderDays: [7, 3, 1], defaultDueDays: 30 });
    expect(() => loadConfig({ REVIEW_REMINDER_DAYS: '3,0' })).toThrow(ConfigError);
    expect(() => loadConfig({ REVIEW_REMINDER_DAYS: 'soon' })).toThrow(/REVIEW_REMINDER_DAYS must be a comma-separated list of days before the due date/);
    expect(() => loadConfig({ REVIEW_DUE_DAYS: '365' })).toThrow(/REVIEW_DUE_DAYS must be between 1 and 180/);
  });
});
