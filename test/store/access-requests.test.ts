import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewRequest } from '../../store/access-requests';
import { openStore, type Store } from '../../store/store';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-req-'));
  store = openStore(path.join(dir, 'h.db'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const input = (stages = 2): NewRequest => ({
  requesterId: 'u-1',
  requesterName: 'Emily Chen',
  resourceId: 'payroll-reports',
  groupId: 'g-1',
  durationHours: 168,
  justification: 'audit',
  policy: { resourceId: 'payroll-reports', name: 'Payroll Reports', description: 'd', risk: 'high', groupId: 'g-1', stages: Array.from({ length: stages }, () => ({ approver: 'manager' as const, title: 'Manager' })) },
  context: { userPrincipalName: 'e@x', department: 'Finance', jobTitle: null, managerId: 'm', managerName: 'Thomas', memberships: [] },
  extendsRequestId: null,
});

const by = { id: 'm', name: 'Thomas Berg' };

describe('access requests in the store', () => {
  it('numbers requests REQ-1001, REQ-1002, ... and survives a reopen', () => {
    expect(store.requests.create(input()).id).toBe('REQ-1001');
    expect(store.requests.create(input()).id).toBe('REQ-1002');
    store.close();
    store = openStore(path.join(dir, 'h.db'));
    expect(store.requests.create(input()).id).toBe('REQ-1003');
  });

  it('a stage advances once: the second claim of the same stage changes nothing', () => {
    const r = store.requests.create(input(2));
    expect(store.requests.advanceStage(r.id, 1)).toBe(true);
    expect(store.requests.advanceStage(r.id, 1)).toBe(false);
    expect(store.requests.get(r.id)!.stage).toBe(2);
    // The last stage cannot advance: it closes.
    expect(store.requests.advanceStage(r.id, 2)).toBe(false);
    expect(store.requests.closePending(r.id, 'approved', by, { stage: 1 })).toBe(false);
    expect(store.requests.closePending(r.id, 'approved', by, { stage: 2 })).toBe(true);
    expect(store.requests.closePending(r.id, 'denied', by, { stage: 2 })).toBe(false);
    expect(store.requests.get(r.id)).toMatchObject({ state: 'approved', closedByName: 'Thomas Berg' });
  });

  it('one decision per stage, enforced by the database too', () => {
    const r = store.requests.create(input(1));
    store.requests.recordDecision({ requestId: r.id, stage: 1, decision: 'approved', by, comment: null });
    expect(() => store.requests.recordDecision({ requestId: r.id, stage: 1, decision: 'denied', by, comment: 'x' })).toThrow(/UNIQUE|PRIMARY/);
  });

  it('only the requester cancels, only while pending', () => {
    const r = store.requests.create(input(1));
    expect(store.requests.closePending(r.id, 'cancelled', by, { requesterId: 'someone-else' })).toBe(false);
    expect(store.requests.closePending(r.id, 'cancelled', { id: 'u-1', name: 'Emily' }, { requesterId: 'u-1' })).toBe(true);
    expect(store.requests.closePending(r.id, 'cancelled', { id: 'u-1', name: 'Emily' }, { requesterId: 'u-1' })).toBe(false);
  });

  it('grant lifecycle: approved -> granted -> revoked, each once', () => {
    const r = store.requests.create(input(1));
    expect(store.requests.markGranted(r.id, '2026-01-01T00:00:00.000Z', null)).toBe(false);
    store.requests.closePending(r.id, 'approved', by);
    expect(store.requests.markGranted(r.id, '2026-01-01T00:00:00.000Z', '2026-01-08T00:00:00.000Z')).toBe(true);
    expect(store.requests.markGranted(r.id, '2026-01-01T00:00:00.000Z', null)).toBe(false);
    expect(store.requests.grantedFor('u-1', 'payroll-reports').map((g) => g.id)).toEqual([r.id]);
    expect(store.requests.endGrant(r.id, 'revoked')).toBe(true);
    expect(store.requests.endGrant(r.id, 'revoked')).toBe(false);
  });

  it('lists pending requests for an approver of the current stage only', () => {
    const r = store.requests.create(input(2));
    store.requests.addApprover({ requestId: r.id, stage: 1, approverId: 'm', approverName: 'Thomas', source: 'policy' });
    store.requests.addApprover({ requestId: r.id, stage: 2, approverId: 'o', approverName: 'Olivia', source: 'policy' });
    expect(store.requests.addApprover({ requestId: r.id, stage: 1, approverId: 'm', approverName: 'Thomas', source: 'policy' })).toBe(false);
    expect(store.requests.pendingForApprover('m').map((x) => x.id)).toEqual([r.id]);
    expect(store.requests.pendingForApprover('o')).toEqual([]);
    store.requests.advanceStage(r.id, 1);
    expect(store.requests.pendingForApprover('m')).toEqual([]);
    expect(store.requests.pendingForApprover('o').map((x) => x.id)).toEqual([r.id]);
  });

  it('keeps every copy of a card, once per message', () => {
    const r = store.requests.create(input(1));
    const ref = { conversation: { id: 'a:1' } } as any;
    store.cards.add({ requestId: r.id, userId: 'm', role: 'approver', stage: 1, activityId: 'act-1', reference: ref });
    store.cards.add({ requestId: r.id, userId: 'm', role: 'approver', stage: 1, activityId: 'act-1', reference: ref });
    store.cards.add({ requestId: r.id, userId: 'u-1', role: 'requester', stage: null, activityId: 'act-2', reference: ref });
    expect(store.cards.forRequest(r.id).map((c) => [c.role, c.activityId])).toEqual([
      ['approver', 'act-1'],
      ['requester', 'act-2'],
    ]);
  });

  it('cancels a request\'s pending jobs, of one kind or all', () => {
    const j = (kind: string) => store.jobs.schedule({ kind, requestId: 'REQ-1', runAt: new Date(), maxAttempts: 1 });
    j('a');
    j('b');
    j('b');
    expect(store.jobs.cancelForRequest('REQ-1', 'b')).toBe(2);
    expect(store.jobs.cancelForRequest('REQ-1')).toBe(1);
    expect(store.jobs.forRequest('REQ-1').map((x) => x.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
  });
});
