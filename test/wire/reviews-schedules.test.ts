import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBot } from '../../bot/main';
import { ReviewScheduleError } from '../../directory/review-schedules';
import { DAY, demoUser, HOUR, settle } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardText } from '../support/teams-client';
import { sarah, say } from '../technician/support';
import { currentStatusCard, reviewCardsSent, reviewStore } from './reviews-support';

/**
 * Campaigns that start by themselves, from the schedules file: each occurrence once, across
 * restarts; an occurrence missed while the bot was down starts when it is back (only the latest
 * of several); a bad file stops the start with the line at fault.
 */

const PAYROLL_GROUP = '2dd0f164-92e0-42a8-ac67-573fc1637c65';
const dirs: string[] = [];
let h: Harness | null = null;
let clock: TestClock;

afterEach(async () => {
  await h?.stop();
  h = null;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function schedulesFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-schedules-'));
  dirs.push(dir);
  const file = path.join(dir, 'review-schedules.json');
  fs.writeFileSync(file, text);
  return file;
}

const weekly = (start: string) =>
  JSON.stringify(
    {
      schedules: [
        {
          id: 'payroll-weekly',
          name: 'Weekly review of Payroll Reports',
          scope: { kind: 'group', groupId: PAYROLL_GROUP },
          reviewer: { kind: 'owner' },
          recurrence: 'weekly',
          start,
          dueInDays: 3,
          autoApply: 'none',
        },
      ],
    },
    null,
    2,
  );

async function later(ms: number): Promise<void> {
  clock.advance(ms);
  await h!.bot.scheduler.runDue();
  await settle(h!);
}

describe('scheduled campaigns', () => {
  it('start at each occurrence, once, also across a restart; the technicians get the progress card', async () => {
    clock = new TestClock('2026-03-02T09:00:00.000Z');
    h = await startHarness({ REVIEW_SCHEDULES_PATH: schedulesFile(weekly('2026-03-02T10:00:00Z')), SHUTDOWN_GRACE_SECONDS: '1' }, { clock: clock.now });
    // The technicians' channel becomes known when someone talks there.
    await say(h, sarah(h), 'review list');
    await later(59 * 60_000);
    expect(reviewStore(h).list()).toHaveLength(0);
    await later(2 * 60_000);
    const [first] = reviewStore(h).list();
    expect(first).toMatchObject({ id: 'REV-1001', title: 'Weekly review of Payroll Reports', scheduleId: 'payroll-weekly', occurrence: '2026-03-02T10:00:00.000Z', startedBy: { id: 'system' } });
    expect(reviewStore(h).run('payroll-weekly', '2026-03-02T10:00:00.000Z')).toMatchObject({ outcome: 'started', campaignId: 'REV-1001' });
    expect(reviewCardsSent(h, demoUser(h, 'Olivia Hart').id, 'REV-1001')).toHaveLength(1);
    expect(cardText(currentStatusCard(h, 'REV-1001'))).toMatch(/Weekly review of Payroll Reports/);

    // A restart does not start the same occurrence again.
    await h.restart();
    await h.bot.scheduler.runDue();
    await settle(h);
    expect(reviewStore(h).list()).toHaveLength(1);

    // The next week's occurrence starts the next campaign.
    await later(7 * DAY);
    expect(reviewStore(h).list().map((c) => [c.id, c.occurrence])).toEqual([
      ['REV-1002', '2026-03-09T10:00:00.000Z'],
      ['REV-1001', '2026-03-02T10:00:00.000Z'],
    ]);
    const started = h.bot.store.audit.query({ action: 'review.started' });
    expect(started.map((e) => e.actorName)).toEqual(['Northwind IAM Helpdesk', 'Northwind IAM Helpdesk']);
  });

  it('an occurrence missed while the bot was down starts when it is back; of several missed, only the latest', async () => {
    clock = new TestClock('2026-03-02T09:00:00.000Z');
    h = await startHarness({ REVIEW_SCHEDULES_PATH: schedulesFile(weekly('2026-03-02T10:00:00Z')), SHUTDOWN_GRACE_SECONDS: '1' }, { clock: clock.now });
    await h.bot.close();
    // Down over three occurrences (2, 9 and 16 March).
    clock.advance(15 * DAY + 2 * HOUR);
    await h.restart();
    await h.bot.scheduler.runDue();
    await settle(h);
    expect(reviewStore(h).list().map((c) => c.occurrence)).toEqual(['2026-03-16T10:00:00.000Z']);
    expect(reviewStore(h).run('payroll-weekly', '2026-03-02T10:00:00.000Z')).toMatchObject({ outcome: 'skipped', detail: 'superseded by 2026-03-16T10:00:00.000Z' });
    expect(reviewStore(h).run('payroll-weekly', '2026-03-09T10:00:00.000Z')).toBeNull();
    expect(h.bot.store.audit.query({ action: 'review.schedule-skipped' })).toHaveLength(1);
    // The next one is on time.
    await later(7 * DAY);
    expect(reviewStore(h).list().map((c) => c.occurrence)).toEqual(['2026-03-23T10:00:00.000Z', '2026-03-16T10:00:00.000Z']);
  });

  it('a schedule the bot sees for the first time does not start occurrences from before', async () => {
    clock = new TestClock('2026-03-20T09:00:00.000Z');
    h = await startHarness({ REVIEW_SCHEDULES_PATH: schedulesFile(weekly('2026-03-02T10:00:00Z')) }, { clock: clock.now });
    await h.bot.scheduler.runDue();
    await settle(h);
    expect(reviewStore(h).list()).toHaveLength(0);
    await later(4 * DAY);
    expect(reviewStore(h).list().map((c) => c.occurrence)).toEqual(['2026-03-23T10:00:00.000Z']);
  });

  it('a bad schedules file stops the start, naming the line and the field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-badsched-'));
    dirs.push(dir);
    const bad = weekly('2026-03-02T10:00:00Z').replace('"weekly"', '"fortnightly"');
    const line = bad.split('\n').findIndex((l) => l.includes('fortnightly')) + 1;
    const env = { PORT: '0', DATABASE_PATH: path.join(dir, 'h.db'), LOCAL_DIRECTORY_PATH: path.join(dir, 'd.db'), PLAYGROUND: 'false', LOG_LEVEL: 'silent' };
    const attempt = startBot({ ...env, REVIEW_SCHEDULES_PATH: schedulesFile(bad) });
    await expect(attempt).rejects.toThrow(ReviewScheduleError);
    await expect(startBot({ ...env, REVIEW_SCHEDULES_PATH: schedulesFile(bad) })).rejects.toThrow(new RegExp(`line ${line}, schedules\\[0\\]\\.recurrence: Invalid enum value`));
    await expect(startBot({ ...env, REVIEW_SCHEDULES_PATH: schedulesFile('{ "schedules": [ }') })).rejects.toThrow(/line 1: not valid JSON/);
    // Nothing was started on the way: the database opens again for a good start.
    const ok = await startBot({ ...env, REVIEW_SCHEDULES_PATH: schedulesFile(weekly('2026-03-02T10:00:00Z')) });
    await ok.close();
  });
});
