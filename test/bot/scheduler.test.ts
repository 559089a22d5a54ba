import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIRECTORY_LANE, PermanentJobError, Scheduler, type TechnicianNotice } from '../../bot/scheduler';
import { ThrottledError } from '../../directory/directory';
import { openStore, type Store } from '../../store/store';
import { TestClock } from '../support/harness';

let dir: string;
let store: Store;
let clock: TestClock;
let notices: TechnicianNotice[];
let scheduler: Scheduler;

function makeScheduler(concurrency?: number): Scheduler {
  return new Scheduler({
    concurrency,
    jobs: store.jobs,
    clock: clock.now,
    logger: pino({ level: 'silent' }),
    technicians: { raise: async (n) => void notices.push(n) },
    retryBaseMs: 1_000,
    retryMaxMs: 10_000,
    pollMs: 60_000,
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-sched-'));
  clock = new TestClock('2026-05-01T00:00:00.000Z');
  store = openStore(path.join(dir, 'h.db'), clock.now);
  notices = [];
  scheduler = makeScheduler();
});
afterEach(async () => {
  await scheduler.stop(0);
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const at = (ms: number) => new Date(clock.now().getTime() + ms);

describe('Scheduler', () => {
  it('runs due jobs in due order, and none before they are due', async () => {
    const ran: string[] = [];
    scheduler.register('t', { run: async (job) => void ran.push(job.payload.name as string) });
    store.jobs.schedule({ kind: 't', payload: { name: 'later' }, runAt: at(2_000), maxAttempts: 1 });
    store.jobs.schedule({ kind: 't', payload: { name: 'first' }, runAt: at(-1_000), maxAttempts: 1 });
    store.jobs.schedule({ kind: 't', payload: { name: 'now' }, runAt: at(0), maxAttempts: 1 });
    await scheduler.runDue();
    expect(ran).toEqual(['first', 'now']);
    clock.advance(2_000);
    await scheduler.runDue();
    expect(ran).toEqual(['first', 'now', 'later']);
    expect(store.jobs.withState('done')).toHaveLength(3);
  });

  it('schedules a job with a used dedupe key only once', () => {
    expect(store.jobs.schedule({ kind: 't', dedupeKey: 'k', runAt: at(0), maxAttempts: 1 })).toBeTypeOf('number');
    expect(store.jobs.schedule({ kind: 't', dedupeKey: 'k', runAt: at(0), maxAttempts: 1 })).toBeNull();
    expect(store.jobs.withState('pending')).toHaveLength(1);
  });

  it('retries with exponential backoff, honours Retry-After, and gives up after the last attempt', async () => {
    const attempts: number[] = [];
    let gaveUp: string | null = null;
    scheduler.register('flaky', {
      run: async (job) => {
        attempts.push(job.attempts);
        if (job.attempts === 3) throw new ThrottledError('slow down', 7);
        throw new Error(`fault ${job.attempts}`);
      },
      onGiveUp: async (_job, err) => {
        gaveUp = err.message;
      },
    });
    const id = store.jobs.schedule({ kind: 'flaky', requestId: 'REQ-7', runAt: at(0), maxAttempts: 4 })!;
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await scheduler.runDue();
      const job = store.jobs.get(id)!;
      if (job.state !== 'pending') break;
      const delay = new Date(job.nextRunAt).getTime() - clock.now().getTime();
      delays.push(delay);
      clock.advance(delay - 1);
      await scheduler.runDue();
      expect(store.jobs.get(id)!.attempts).toBe(i + 1);
      clock.advance(1);
    }
    // 1 s, 2 s, then the directory's 7 s (longer than 4 s).
    expect(delays).toEqual([1_000, 2_000, 7_000]);
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(store.jobs.get(id)).toMatchObject({ state: 'failed', attempts: 4, lastError: 'fault 4' });
    expect(gaveUp).toBe('fault 4');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ title: 'A helpdesk job failed: flaky', requestId: 'REQ-7' });
  });

  it('caps the backoff', () => {
    expect(scheduler.backoffMs(1)).toBe(1_000);
    expect(scheduler.backoffMs(4)).toBe(8_000);
    expect(scheduler.backoffMs(20)).toBe(10_000);
    expect(scheduler.backoffMs(1, new ThrottledError('x', 3600))).toBe(10_000);
  });

  it('does not retry a permanent failure; the handler can word the technician notice', async () => {
    let runs = 0;
    scheduler.register('doomed', {
      run: async () => {
        runs += 1;
        throw new PermanentJobError('group deleted');
      },
      onGiveUp: async () => ({ title: 'Custom', text: 'Do this by hand' }),
    });
    const id = store.jobs.schedule({ kind: 'doomed', runAt: at(0), maxAttempts: 5 })!;
    await scheduler.runDue();
    expect(runs).toBe(1);
    expect(store.jobs.get(id)).toMatchObject({ state: 'failed', attempts: 1 });
    expect(notices).toEqual([{ title: 'Custom', text: 'Do this by hand' }]);
  });

  it('at start, runs jobs that fell due while stopped and those a stop cut short', async () => {
    const ran: number[] = [];
    scheduler.register('t', { run: async (job) => void ran.push(job.id) });
    const due = store.jobs.schedule({ kind: 't', runAt: at(-3_600_000), maxAttempts: 3 })!;
    const interrupted = store.jobs.schedule({ kind: 't', runAt: at(-60_000), maxAttempts: 3 })!;
    // A previous process claimed this one and died.
    expect(store.jobs.claimNext(clock.now())!.id).toBe(due);
    expect(store.jobs.get(due)!.state).toBe('running');
    scheduler.start();
    await scheduler.idle();
    expect(ran.sort()).toEqual([due, interrupted].sort());
    expect(store.jobs.get(due)).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('a job scheduled by a running job runs in the same pass', async () => {
    const ran: string[] = [];
    scheduler.register('parent', {
      run: async () => {
        ran.push('parent');
        store.jobs.schedule({ kind: 'child', runAt: clock.now(), maxAttempts: 1 });
        scheduler.kick();
      },
    });
    scheduler.register('child', {
      run: async () => {
        await new Promise((r) => setTimeout(r, 5));
        ran.push('child');
      },
    });
    store.jobs.schedule({ kind: 'parent', runAt: at(0), maxAttempts: 1 });
    await scheduler.runDue();
    expect(ran).toEqual(['parent', 'child']);
  });

  it('runs one job at a time', async () => {
    let running = 0;
    let most = 0;
    scheduler.register('t', {
      run: async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 2));
        running -= 1;
      },
    });
    for (let i = 0; i < 5; i++) store.jobs.schedule({ kind: 't', runAt: at(0), maxAttempts: 1 });
    scheduler.kick();
    scheduler.kick();
    await scheduler.runDue();
    expect(most).toBe(1);
    expect(store.jobs.withState('done')).toHaveLength(5);
  });

  it('stop waits for a running job only up to the grace period; nothing starts after it', async () => {
    let release!: () => void;
    scheduler.register('slow', { run: () => new Promise<void>((r) => (release = r)) });
    const id = store.jobs.schedule({ kind: 'slow', runAt: at(0), maxAttempts: 2 })!;
    scheduler.kick();
    await new Promise((r) => setTimeout(r, 20));
    expect(store.jobs.get(id)!.state).toBe('running');
    const t0 = Date.now();
    await scheduler.stop(50);
    expect(Date.now() - t0).toBeLessThan(1_000);
    store.jobs.schedule({ kind: 'slow', runAt: at(0), maxAttempts: 2 });
    scheduler.kick();
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(store.jobs.withState('pending')).toHaveLength(1);
  });

  it('an unknown job kind fails without retries', async () => {
    const id = store.jobs.schedule({ kind: 'nobody', runAt: at(0), maxAttempts: 5 })!;
    await scheduler.runDue();
    expect(store.jobs.get(id)).toMatchObject({ state: 'failed', lastError: 'no handler for nobody' });
  });

  describe('several at once', () => {
    /** A job that runs until `release(name)` is called; `log` says when each started and ended. */
    function gated() {
      const log: string[] = [];
      const gates = new Map<string, () => void>();
      let now = 0;
      let peak = 0;
      const handler = {
        run: async (job: { payload: Record<string, unknown> }) => {
          const name = job.payload.name as string;
          log.push(`start ${name}`);
          peak = Math.max(peak, ++now);
          await new Promise<void>((resolve) => gates.set(name, resolve));
          now--;
          log.push(`end ${name}`);
        },
      };
      const started = async (name: string) => {
        for (let i = 0; i < 200 && !gates.has(name); i++) await new Promise((r) => setTimeout(r, 5));
        return gates.has(name);
      };
      return { log, handler, started, release: (name: string) => gates.get(name)!(), peak: () => peak };
    }

    it('a slow job of one request does not hold up another request; one request runs one job at a time, in order', async () => {
      scheduler = makeScheduler(4);
      const g = gated();
      scheduler.register('t', g.handler);
      store.jobs.schedule({ kind: 't', requestId: 'REQ-1', payload: { name: 'a1' }, runAt: at(0), maxAttempts: 1 });
      store.jobs.schedule({ kind: 't', requestId: 'REQ-1', payload: { name: 'a2' }, runAt: at(0), maxAttempts: 1 });
      store.jobs.schedule({ kind: 't', requestId: 'REQ-2', payload: { name: 'b1' }, runAt: at(0), maxAttempts: 1 });
      scheduler.kick();
      expect(await g.started('a1')).toBe(true);
      expect(await g.started('b1')).toBe(true);
      // REQ-2 finishes while REQ-1's first job is still running; REQ-1's second waits for its first.
      g.release('b1');
      await new Promise((r) => setTimeout(r, 30));
      expect(g.log).toEqual(['start a1', 'start b1', 'end b1']);
      g.release('a1');
      expect(await g.started('a2')).toBe(true);
      g.release('a2');
      await scheduler.idle();
      expect(g.log).toEqual(['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
      expect(store.jobs.withState('done')).toHaveLength(3);
    });

    it('never more than the limit at once; a job scheduled while others run starts without waiting for them', async () => {
      scheduler = makeScheduler(2);
      const g = gated();
      scheduler.register('t', g.handler);
      for (const name of ['x', 'y', 'z']) store.jobs.schedule({ kind: 't', requestId: name, payload: { name }, runAt: at(0), maxAttempts: 1 });
      scheduler.kick();
      expect(await g.started('x')).toBe(true);
      expect(await g.started('y')).toBe(true);
      await new Promise((r) => setTimeout(r, 30));
      expect(g.log).toEqual(['start x', 'start y']);
      g.release('x');
      expect(await g.started('z')).toBe(true);
      // y and z run; w, scheduled now, waits for a free place, then runs while z still does.
      store.jobs.schedule({ kind: 't', requestId: 'w', payload: { name: 'w' }, runAt: at(0), maxAttempts: 1 });
      scheduler.kick();
      g.release('y');
      expect(await g.started('w')).toBe(true);
      g.release('w');
      g.release('z');
      await scheduler.idle();
      expect(g.peak()).toBe(2);
      expect(store.jobs.withState('done')).toHaveLength(4);
    });

    it('jobs of no request run one at a time per kind', async () => {
      scheduler = makeScheduler(4);
      const g = gated();
      scheduler.register('anchor', g.handler);
      scheduler.register('other', g.handler);
      store.jobs.schedule({ kind: 'anchor', payload: { name: 'k1' }, runAt: at(0), maxAttempts: 1 });
      store.jobs.schedule({ kind: 'anchor', payload: { name: 'k2' }, runAt: at(0), maxAttempts: 1 });
      store.jobs.schedule({ kind: 'other', payload: { name: 'o1' }, runAt: at(0), maxAttempts: 1 });
      scheduler.kick();
      expect(await g.started('k1')).toBe(true);
      expect(await g.started('o1')).toBe(true);
      await new Promise((r) => setTimeout(r, 30));
      expect(g.log).toEqual(['start k1', 'start o1']);
      g.release('k1');
      expect(await g.started('k2')).toBe(true);
      g.release('k2');
      g.release('o1');
      await scheduler.idle();
      expect(store.jobs.withState('done')).toHaveLength(3);
    });

    it('jobs of one lane run one after the other, whatever their requests; the others go on beside them', async () => {
      scheduler = makeScheduler(4);
      const g = gated();
      scheduler.register('grant', { ...g.handler, lane: DIRECTORY_LANE });
      scheduler.register('remove', { ...g.handler, lane: DIRECTORY_LANE });
      scheduler.register('tell', g.handler);
      store.jobs.schedule({ kind: 'grant', requestId: 'REQ-2', payload: { name: 'grant2' }, runAt: at(0), maxAttempts: 1 });
      store.jobs.schedule({ kind: 'remove', requestId: 'REQ-1', payload: { name: 'remove1' }, runAt: at(0), maxAttempts: 1 });
      store.jobs.schedule({ kind: 'tell', requestId: 'REQ-3', payload: { name: 'tell3' }, runAt: at(0), maxAttempts: 1 });
      scheduler.kick();
      expect(await g.started('grant2')).toBe(true);
      expect(await g.started('tell3')).toBe(true);
      await new Promise((r) => setTimeout(r, 30));
      // REQ-1's removal waits for REQ-2's grant: two changes of the directory never interleave.
      expect(g.log).toEqual(['start grant2', 'start tell3']);
      g.release('grant2');
      expect(await g.started('remove1')).toBe(true);
      g.release('remove1');
      g.release('tell3');
      await scheduler.idle();
      expect(g.log.filter((l) => !l.includes('tell3'))).toEqual(['start grant2', 'end grant2', 'start remove1', 'end remove1']);
    });

    it('stop waits for every running job within the grace', async () => {
      scheduler = makeScheduler(4);
      const g = gated();
      scheduler.register('t', g.handler);
      for (const name of ['p', 'q']) store.jobs.schedule({ kind: 't', requestId: name, payload: { name }, runAt: at(0), maxAttempts: 1 });
      scheduler.kick();
      expect(await g.started('p')).toBe(true);
      expect(await g.started('q')).toBe(true);
      const stopped = scheduler.stop(5_000);
      g.release('p');
      g.release('q');
      await stopped;
      expect(store.jobs.withState('done')).toHaveLength(2);
    });
  });
});
