import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewRequest } from '../../store/access-requests';
import { openDatabase, schemaVersion } from '../../store/db';
import { DriftStore, fingerprintOf, isFindingId, type NewFinding } from '../../store/drift';
import { migrations } from '../../store/migrations';
import { openStore, type Store } from '../../store/store';

let dir: string;
let store: Store;
let drift: DriftStore;
let now = new Date('2026-03-02T09:00:00.000Z');
const clock = () => now;

beforeEach(() => {
  now = new Date('2026-03-02T09:00:00.000Z');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-drift-'));
  store = openStore(path.join(dir, 'h.db'), clock);
  drift = new DriftStore(store.db, clock);
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const GROUP = '0EA30C31-661E-4647-BC5D-252C496F3F83';
const USER = '957E5A6D-0C8B-4F46-ACA9-A39F53EF71E8';
const sarah = { id: 'sarah', name: 'Sarah Mitchell' };
const ahmed = { id: 'ahmed', name: 'Ahmed Farouk' };

const found = (over: Partial<NewFinding> = {}): NewFinding => {
  const f = { kind: 'unapproved' as const, groupId: GROUP, groupName: 'CRM', userId: USER, userName: 'Emily Chen', userUpn: 'emily.chen@northwind.example', details: { resourceId: 'crm' }, ...over };
  return { ...f, fingerprint: fingerprintOf(f) };
};

const request = (groupId: string, userId: string): NewRequest => ({
  requesterId: userId,
  requesterName: 'Emily Chen',
  resourceId: 'crm',
  groupId,
  durationHours: 24,
  justification: 'x',
  policy: { resourceId: 'crm', name: 'CRM', description: 'd', risk: 'medium', groupId, stages: [{ approver: 'owners', title: 'Owners' }] },
  context: { userPrincipalName: 'e@x', department: 'Finance', jobTitle: null, managerId: null, managerName: null, memberships: [] },
  extendsRequestId: null,
});

describe('migration 11 (drift detection)', () => {
  it('goes from 10 to 11 keeping what was there, with the findings’ numbering', () => {
    const file = path.join(dir, 'm.db');
    const before = openDatabase(file, { migrations, targetVersion: 10 });
    before.prepare("INSERT INTO sequences (name, value) VALUES ('probe', 7)").run();
    before.close();
    const after = openDatabase(file, { migrations, targetVersion: 11 });
    expect(schemaVersion(after)).toBe(11);
    expect(after.prepare("SELECT value FROM sequences WHERE name = 'probe'").get()).toEqual({ value: 7 });
    expect(after.prepare("SELECT value FROM sequences WHERE name = 'drift_finding'").get()).toEqual({ value: 1000 });
    const columns = (after.prepare('PRAGMA table_info(drift_findings)').all() as Array<{ name: string }>).map((c) => c.name);
    expect(columns).toEqual(expect.arrayContaining(['fingerprint', 'state', 'occurrence', 'ticket_id', 'accepted_reason', 'accepted_by_id', 'removal_state', 'removal_approved_by_id']));
    // The database refuses what the code never writes.
    expect(() =>
      after
        .prepare(`INSERT INTO drift_findings (id, fingerprint, kind, group_id, group_name, user_id, user_name, details, state, occurrence, first_seen_at, last_seen_at, opened_at, updated_at)
                  VALUES ('DRF-1', 'x', 'bogus', 'g', 'G', 'u', 'U', '{}', 'open', 1, 't', 't', 't', 't')`)
        .run(),
    ).toThrow(/CHECK/);
    after.close();
  });
});

describe('drift findings in the store', () => {
  it('fingerprints are stable: the same kind, group and user, whatever the case of the ids', () => {
    expect(fingerprintOf({ kind: 'unapproved', groupId: GROUP, userId: USER })).toBe(fingerprintOf({ kind: 'unapproved', groupId: GROUP.toLowerCase(), userId: USER.toLowerCase() }));
    expect(fingerprintOf({ kind: 'unapproved', groupId: GROUP, userId: USER })).not.toBe(fingerprintOf({ kind: 'privileged', groupId: GROUP, userId: USER }));
    expect(fingerprintOf({ kind: 'sod', groupId: GROUP, userId: USER, combination: 'a+b' })).toBe(`sod:a+b:${USER.toLowerCase()}`);
    expect(isFindingId('DRF-1001')).toBe(true);
    expect(isFindingId('DRF-1001; DROP')).toBe(false);
  });

  it('numbers findings DRF-1001, …; one row per fingerprint, enforced by the database', () => {
    const f = drift.create(found());
    expect(f).toMatchObject({ id: 'DRF-1001', state: 'open', occurrence: 1, ticketId: null, firstSeenAt: now.toISOString(), removal: null, acceptedBy: null });
    expect(drift.create(found({ kind: 'disabled' })).id).toBe('DRF-1002');
    expect(() => drift.create(found())).toThrow(/UNIQUE/);
    drift.setTicket(f.id, 'TKT-1001');
    expect(drift.byTicket('TKT-1001')!.id).toBe(f.id);
    expect(drift.byFingerprint(f.fingerprint)!.id).toBe(f.id);
  });

  it('seen again: touched; gone: resolved once; back: reopened with one more occurrence', () => {
    const f = drift.create(found());
    now = new Date('2026-03-03T09:00:00.000Z');
    drift.touch(f.id, found({ userName: 'Emily Chen-Berg' }));
    expect(drift.get(f.id)).toMatchObject({ lastSeenAt: now.toISOString(), firstSeenAt: '2026-03-02T09:00:00.000Z', userName: 'Emily Chen-Berg', occurrence: 1 });
    // A stale occurrence cannot resolve it.
    expect(drift.resolve(f.id, 2, 'gone')).toBe(false);
    expect(drift.resolve(f.id, 1, 'gone')).toBe(true);
    expect(drift.resolve(f.id, 1, 'gone')).toBe(false);
    expect(drift.get(f.id)).toMatchObject({ state: 'resolved', resolution: 'gone' });
    expect(drift.listActive()).toEqual([]);
    expect(drift.reopen(f.id, 1, found())).toBe(true);
    // The second of two runs reopening the same occurrence loses.
    expect(drift.reopen(f.id, 1, found())).toBe(false);
    expect(drift.get(f.id)).toMatchObject({ state: 'open', occurrence: 2, ticketId: null, resolution: null });
  });

  it('an exception: only an open finding, with who and why; revoked, it is resolved until the next run finds it', () => {
    const f = drift.create(found());
    expect(drift.accept(f.id, 1, sarah, 'break-glass account')).toBe(true);
    expect(drift.accept(f.id, 1, ahmed, 'again')).toBe(false);
    expect(drift.get(f.id)).toMatchObject({ state: 'accepted', acceptedReason: 'break-glass account', acceptedBy: sarah, acceptedAt: now.toISOString() });
    expect(drift.listActive().map((x) => x.id)).toEqual([f.id]);
    expect(drift.revokeException(f.id, 1)).toBe(true);
    expect(drift.revokeException(f.id, 1)).toBe(false);
    expect(drift.get(f.id)).toMatchObject({ state: 'resolved', resolution: 'exception-revoked' });
    // Reopening forgets the old exception.
    drift.reopen(f.id, 1, found());
    expect(drift.get(f.id)).toMatchObject({ state: 'open', acceptedReason: null, acceptedBy: null });
  });

  it('a removal: proposed once, confirmed only by its proposer, approved only by someone else than the proposer and the member, started once', () => {
    const f = drift.create(found());
    const expiresAt = new Date(now.getTime() + 30 * 60_000);
    expect(drift.proposeRemoval(f.id, 1, { groupId: GROUP, groupName: 'CRM', by: sarah, privileged: true, expiresAt })).toBe(true);
    expect(drift.proposeRemoval(f.id, 1, { groupId: GROUP, groupName: 'CRM', by: ahmed, privileged: false, expiresAt })).toBe(false);
    expect(drift.startRemoval(f.id)).toBe(false);
    expect(drift.confirmRemoval(f.id, ahmed.id)).toBe(false);
    expect(drift.confirmRemoval(f.id, sarah.id)).toBe(true);
    expect(drift.confirmRemoval(f.id, sarah.id)).toBe(false);
    // Confirmed, but privileged: not without the second technician.
    expect(drift.startRemoval(f.id)).toBe(false);
    expect(drift.approveRemoval(f.id, sarah)).toBe(false);
    expect(drift.approveRemoval(f.id, { id: USER, name: 'Emily Chen' })).toBe(false);
    expect(drift.approveRemoval(f.id, ahmed)).toBe(true);
    expect(drift.approveRemoval(f.id, { id: 'x', name: 'X' })).toBe(false);
    expect(drift.startRemoval(f.id)).toBe(true);
    expect(drift.startRemoval(f.id)).toBe(false);
    // While it runs, it cannot be accepted or proposed again.
    expect(drift.accept(f.id, 1, ahmed, 'x')).toBe(false);
    expect(drift.proposeRemoval(f.id, 1, { groupId: GROUP, groupName: 'CRM', by: ahmed, privileged: false, expiresAt })).toBe(false);
    expect(drift.markRemoved(f.id)).toBe(true);
    expect(drift.markRemoved(f.id)).toBe(false);
    expect(drift.get(f.id)).toMatchObject({ state: 'resolved', resolution: 'removed', removal: { state: 'done', proposedBy: sarah, approvedBy: ahmed, privileged: true } });
  });

  it('a proposal nobody confirmed in time can be proposed again; a failed removal too', () => {
    const f = drift.create(found());
    const expiresAt = new Date(now.getTime() + 30 * 60_000);
    drift.proposeRemoval(f.id, 1, { groupId: GROUP, groupName: 'CRM', by: sarah, privileged: false, expiresAt });
    now = new Date(now.getTime() + 31 * 60_000);
    expect(drift.confirmRemoval(f.id, sarah.id)).toBe(false);
    expect(drift.proposeRemoval(f.id, 1, { groupId: GROUP, groupName: 'CRM', by: ahmed, privileged: false, expiresAt: new Date(now.getTime() + 30 * 60_000) })).toBe(true);
    expect(drift.confirmRemoval(f.id, ahmed.id)).toBe(true);
    expect(drift.startRemoval(f.id)).toBe(true);
    expect(drift.markRemovalFailed(f.id, 'throttled')).toBe(true);
    expect(drift.get(f.id)).toMatchObject({ state: 'open', removal: { state: 'failed', error: 'throttled' } });
    expect(drift.proposeRemoval(f.id, 1, { groupId: GROUP, groupName: 'CRM', by: sarah, privileged: false, expiresAt: new Date(now.getTime() + 30 * 60_000) })).toBe(true);
    expect(drift.cancelRemoval(f.id)).toBe(true);
    expect(drift.get(f.id)!.removal!.state).toBe('cancelled');
  });

  it('grants of a group: in flight or held, with whether their removal job is still pending', () => {
    const held = store.requests.create(request(GROUP.toLowerCase(), USER));
    store.requests.closePending(held.id, 'approved', sarah, {});
    store.requests.markGranted(held.id, now.toISOString(), '2026-03-03T09:00:00.000Z');
    store.jobs.schedule({ kind: 'access.revoke', requestId: held.id, runAt: '2026-03-03T09:00:00.000Z', maxAttempts: 3 });
    const inFlight = store.requests.create(request(GROUP, 'other-user'));
    store.requests.closePending(inFlight.id, 'approved', sarah, {});
    const pending = store.requests.create(request(GROUP, 'third-user'));
    const ended = store.requests.create(request(GROUP, 'fourth-user'));
    store.requests.closePending(ended.id, 'approved', sarah, {});
    store.requests.markGranted(ended.id, now.toISOString(), now.toISOString());
    store.requests.endGrant(ended.id, 'revoked');

    const grants = drift.grants([GROUP], 'access.revoke');
    expect(grants.map((g) => [g.requestId, g.state, g.expiresAt, g.removalPending])).toEqual([
      [held.id, 'granted', '2026-03-03T09:00:00.000Z', true],
      [inFlight.id, 'approved', null, false],
    ]);
    expect(grants.map((g) => g.requestId)).not.toContain(pending.id);
    expect(drift.endedGrant(GROUP, 'fourth-user')).toMatchObject({ requestId: ended.id, endedAt: now.toISOString() });
    expect(drift.endedGrant(GROUP, USER)).toBeNull();
    // The removal job gave up: no longer pending.
    const job = store.jobs.claimNext(new Date('2026-03-04T00:00:00.000Z'))!;
    store.jobs.fail(job.id, 'gave up');
    expect(drift.grants([GROUP], 'access.revoke')[0]!.removalPending).toBe(false);
    expect(drift.grants([], 'access.revoke')).toEqual([]);
  });

  it('runs: started, finished with their counts; the last real one is remembered', () => {
    const dry = drift.startRun({ trigger: 'command', actor: sarah, scope: [GROUP], dryRun: true });
    drift.finishRun(dry, { findings: 1 });
    expect(drift.lastRun()).toBeNull();
    const run = drift.startRun({ trigger: 'schedule', actor: null, scope: null, dryRun: false });
    expect(drift.getRun(run)).toMatchObject({ trigger: 'schedule', actor: null, scope: null, finishedAt: null });
    drift.finishRun(run, { findings: 3, new: 1 });
    expect(drift.lastRun()).toMatchObject({ id: run, summary: { findings: 3, new: 1 }, finishedAt: now.toISOString() });
  });
});
