import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCounts, prepareTurnFixtures, type TurnFixtures } from '../../bench/fixtures';
import { runLoad } from '../../bench/load';
import { Activities, approveClient, messageClient, newTally, writeClient } from '../../bench/scenarios';
import { startHarness, type Harness } from '../support/harness';
import { cardOf, findById } from '../support/teams-client';

/**
 * The benchmark's turns against the real bot over HTTP: what `npm run bench` measures must be
 * what the bot does (every submit accepted, every cancel and approval done, one audit event
 * each), so a change in the flows shows up here and not as a silently wrong benchmark.
 */

let dir: string;
let h: Harness;
let fixtures: TurnFixtures;
let fixtureEvents: Map<string, number>;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-bench-test-'));
  const files = { database: path.join(dir, 'helpdesk.db'), directory: path.join(dir, 'directory.db') };
  fixtures = await prepareTurnFixtures(files, { writePairs: 3, approvers: 2, waitingPerApprover: 3 });
  fixtureEvents = auditCounts(files.database);
  h = await startHarness({ DATABASE_PATH: files.database, LOCAL_DIRECTORY_PATH: files.directory });
});
afterAll(async () => {
  await h?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('benchmark fixtures', () => {
  it('gives each write client its own requester and resource, and each approver requests of their own reports', async () => {
    expect(fixtures.writePairs).toHaveLength(3);
    expect(new Set(fixtures.writePairs.map((p) => `${p.user.id}/${p.resourceId}`)).size).toBe(3);
    expect(fixtures.approvers).toHaveLength(2);
    for (const a of fixtures.approvers) {
      expect(a.requestIds).toHaveLength(3);
      for (const id of a.requestIds) {
        const r = h.bot.store.requests.get(id)!;
        expect(r.state).toBe('pending');
        expect(h.bot.store.requests.approvers(id, 1).map((x) => x.approverId)).toEqual([a.manager.id]);
        expect((await h.bot.directory.getManager(r.requesterId))?.id).toBe(a.manager.id);
      }
    }
    // Requesters of the write turns have nothing waiting that a submit could collide with.
    const seeded = new Set(fixtures.approvers.flatMap((a) => a.requestIds.map((id) => h.bot.store.requests.get(id)!.requesterId)));
    for (const p of fixtures.writePairs) expect(seeded.has(p.user.id)).toBe(false);
    expect(fixtureEvents.get('access.requested')).toBe(6);
  });
});

describe('benchmark turns against the bot', () => {
  it('help, review-submit-cancel cycles and approvals: all answered right, one audit event per state change', async () => {
    const acts = new Activities(h.connector.url, fixtures.tenantId);
    const tally = newTally();
    const result = await runLoad(
      h.bot.port,
      [
        messageClient(acts, fixtures.users, 'help', 4, 2, 'read', 2),
        messageClient(acts, fixtures.users, 'help', 4, 2, 'read', 2),
        ...fixtures.writePairs.map((p, i) => writeClient(acts, p.user, p.resourceId, `a:test-write-${i}`, tally, 2)),
        ...fixtures.approvers.map((a, i) => approveClient(acts, a.manager, [...a.requestIds], `a:test-approve-${i}`, tally)),
      ],
      120,
    );
    expect(result.failureSamples).toEqual([]);
    expect(result.failures).toBe(0);
    expect(result.clientsDone).toBe(7);
    expect(tally).toEqual({ submitted: 6, cancelled: 6, approved: 6 });
    expect(result.byKind.read!.count).toBe(4);
    expect(result.byKind['card-action']!.count).toBe(6);
    expect(result.byKind['write-submit']!.count).toBe(6);

    await h.bot.scheduler.idle();
    const after = auditCounts(h.bot.store.file);
    const added = (action: string) => (after.get(action) ?? 0) - (fixtureEvents.get(action) ?? 0);
    expect(added('access.requested')).toBe(6);
    expect(added('access.cancelled')).toBe(6);
    expect(added('access.approved')).toBe(6);
    expect(added('access.provisioned')).toBe(6);
    expect([...after.keys()].filter((a) => /refused|failed/.test(a))).toEqual([]);
    for (const a of fixtures.approvers) for (const id of a.requestIds) expect(h.bot.store.requests.get(id)!.state).toBe('granted');
    expect(h.bot.store.audit.verify().ok).toBe(true);

    // The help turns were answered with the welcome card, in the users' own chats.
    const welcome = h.connector.sentTo('a:bench-read-0').map(cardOf).filter(Boolean);
    expect(welcome.length).toBeGreaterThan(0);
    expect(findById(welcome[0], 'section-everyone')).toBeDefined();
  });
});
