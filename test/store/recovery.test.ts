import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../store/store';
import { isRecoveryId } from '../../store/recovery';

const USER = '957e5a6d-0c8b-4f46-aca9-a39f53ef71e8';
let dir: string;
let store: Store;
let now = new Date('2026-03-02T09:00:00Z');
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-recovery-'));
  now = new Date('2026-03-02T09:00:00Z');
  store = openStore(path.join(dir, 'helpdesk.db'), () => now);
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function create() {
  return store.recovery.create({ userId: USER, userName: 'Emily Chen', flow: 'password', privileged: false, requirement: { slots: [['code', 'manager']] }, expiresAt: new Date(now.getTime() + 15 * 60_000) });
}

describe('recovery store', () => {
  it('creates recoveries with unguessable, well-formed ids', () => {
    const ids = new Set(Array.from({ length: 50 }, () => create().id));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(isRecoveryId(id)).toBe(true);
    expect(isRecoveryId("SR-AAAA' OR 1=1")).toBe(false);
    expect(isRecoveryId('SR-0OOOOOOO')).toBe(false);
    expect(store.recovery.activeFor(USER)).toHaveLength(50);
  });

  it('moves state by one-time claims', () => {
    const s = create();
    expect(store.recovery.transition(s.id, 'verifying', 'verified')).toBe(true);
    expect(store.recovery.transition(s.id, 'verifying', 'verified')).toBe(false);
    expect(store.recovery.transition(s.id, 'verified', 'completing')).toBe(true);
    expect(store.recovery.transition(s.id, 'verified', 'completing')).toBe(false);
    expect(store.recovery.transition(s.id, 'completing', 'completed', { outcome: 'done' })).toBe(true);
    expect(store.recovery.get(s.id)).toMatchObject({ state: 'completed', outcome: 'done', completedAt: now.toISOString() });
    expect(store.recovery.activeFor(USER)).toEqual([]);
  });

  it('decides a verification once', () => {
    const s = create();
    expect(store.recovery.addVerification({ sessionId: s.id, method: 'manager', verifierId: 'm', verifierName: 'Thomas Berg' })).toBe(true);
    expect(store.recovery.addVerification({ sessionId: s.id, method: 'manager' })).toBe(false);
    expect(store.recovery.decideVerification(s.id, 'manager', 'confirmed', { id: 'm', name: 'Thomas Berg' })).toBe(true);
    expect(store.recovery.decideVerification(s.id, 'manager', 'declined', { id: 'x', name: 'X' })).toBe(false);
    expect(store.recovery.verification(s.id, 'manager')).toMatchObject({ state: 'confirmed', verifierName: 'Thomas Berg' });
  });

  it('keeps the message id of a secret once, and claims its hiding once', () => {
    const s = create();
    expect(store.recovery.claimSecretHidden(s.id)).toBe(false);
    expect(store.recovery.secretShown(s.id, 'activity-1', null)).toBe(true);
    expect(store.recovery.secretShown(s.id, 'activity-2', null)).toBe(false);
    expect(store.recovery.claimSecretHidden(s.id)).toBe(true);
    expect(store.recovery.claimSecretHidden(s.id)).toBe(false);
  });

  it('counts events in a window and keeps lockouts', () => {
    for (let i = 0; i < 3; i++) store.recovery.recordEvent(USER, 'verification-failed', 'password');
    now = new Date(now.getTime() + 25 * 3_600_000);
    store.recovery.recordEvent(USER, 'verification-failed', 'password');
    expect(store.recovery.countEvents(USER, 'verification-failed', new Date(now.getTime() - 24 * 3_600_000))).toBe(1);
    expect(store.recovery.countEvents(USER, 'completed', new Date(0))).toBe(0);
    const until = new Date(now.getTime() + 24 * 3_600_000);
    store.recovery.lockOut(USER, until);
    expect(store.recovery.lockedUntil(USER, now)).toBe(until.toISOString());
    expect(store.recovery.lockedUntil(USER, new Date(until.getTime() + 1))).toBeNull();
  });

  it('accepts each authenticator time step once (no replay, no going back)', () => {
    expect(store.recovery.useTotpStep(USER, 'm1', 100)).toBe(true);
    expect(store.recovery.useTotpStep(USER, 'm1', 100)).toBe(false);
    expect(store.recovery.useTotpStep(USER, 'm1', 99)).toBe(false);
    expect(store.recovery.useTotpStep(USER, 'm2', 99)).toBe(true);
    expect(store.recovery.useTotpStep(USER, 'm1', 101)).toBe(true);
    expect(store.recovery.lastTotpStep(USER, 'm1')).toBe(101);
  });
});
