import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { ThrottledError, type MembershipChange } from '../../directory/directory';
import { LocalDirectory } from '../../directory/local-directory';
import { requestAccess } from '../support/access';
import { startHarness, type Harness } from '../support/harness';
import { cardOf, TEST_CHANNEL_ID } from '../support/teams-client';
import { actions, ahmed, cardText, findById, groupsOf, person, planCopies, planOf, planUpdates, press, problems, sarah, say, status, steps } from '../technician/support';

/**
 * Offboarding a leaver with hundreds of groups, open requests, approvals waiting for them and
 * direct reports; a directory fault in the middle of the membership removal; then running it
 * again until nothing is left.
 */

const EXTRA_GROUPS = 250;
let h: Harness;
let dir: string;
let batchCalls: MembershipChange[][];

beforeAll(async () => {
  // The demo tenant, with Lukas Novak (Sales Manager, EMEA) in 250 more project groups.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-offboard-'));
  const tenant = loadDemoTenant();
  const lukas = tenant.users.find((u) => u.displayName === 'Lukas Novak')!;
  for (let i = 1; i <= EXTRA_GROUPS; i++) {
    tenant.groups.push({ id: randomUUID(), displayName: `Project ${String(i).padStart(3, '0')}`, description: `Project team ${i}`, mail: null, owners: [], members: [lukas.id] });
  }
  const file = path.join(dir, 'directory.db');
  LocalDirectory.open(file, tenant).close();
  h = await startHarness({ LOCAL_DIRECTORY_PATH: file });
  const original = h.bot.directory.batchMembershipChanges.bind(h.bot.directory);
  batchCalls = [];
  h.bot.directory.batchMembershipChanges = async (changes) => {
    batchCalls.push([...changes]);
    return original(changes);
  };
});

afterAll(async () => {
  await h?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('offboard', () => {
  it('plans the leaver checklist, runs it with progress, survives a fault in the middle, and finishes when run again', async () => {
    const lukas = person(h, 'Lukas Novak');
    const oliver = person(h, 'Oliver Bennett');
    // Oliver's request waits for Lukas (his manager); Lukas has a request of his own.
    const waiting = await requestAccess(h, oliver, 'I need VPN for a week');
    const own = await requestAccess(h, lukas, 'I need source code access for 30 days', { justification: 'reviewing the integration' });
    expect(h.bot.store.requests.pendingForApprover(lukas.id).map((r) => r.id)).toEqual([waiting]);
    expect(await groupsOf(h, lukas.id)).toHaveLength(5 + EXTRA_GROUPS);

    const { cards } = await say(h, sarah(h), 'offboard "Lukas Novak" --reason last working day 2026-03-02');
    const plan = planOf(cards[0]);
    expect(status(cards[0])).toBe("Waiting for Sarah Mitchell's confirmation");
    expect(steps(cards[0]).map((s) => s.split(' = ')[0])).toEqual([
      'Step 1: Disable the account',
      'Step 2: Sign out everywhere',
      `Step 3: Remove from groups (${5 + EXTRA_GROUPS})`,
      'Step 4: Remove MFA methods (1)',
      'Step 5: Cancel open requests (1)',
      'Step 6: Hand pending approvals to the manager (1)',
      'Step 7: Direct reports needing a new manager (4)',
    ]);
    expect(steps(cards[0])[5]).toBe(`Step 6: Hand pending approvals to the manager (1) = ${waiting} to Amara Nwosu`);
    expect(steps(cards[0])[6]).toBe('Step 7: Direct reports needing a new manager (4) = Chloe Martin, Fatima Haddad, Oliver Bennett, Samuel Osei: a ticket will track it');
    expect(batchCalls).toHaveLength(0);

    // The directory throttles the second batch of the membership removal.
    const original = h.bot.directory.batchMembershipChanges;
    let calls = 0;
    h.bot.directory.batchMembershipChanges = async (changes) => {
      calls += 1;
      if (calls === 2) throw new ThrottledError('Too many requests', 30);
      return original(changes);
    };
    const started = Date.now();
    await press(h, sarah(h), 'tech.confirm', { plan });
    await h.bot.scheduler.idle();
    h.bot.directory.batchMembershipChanges = original;
    expect(Date.now() - started).toBeLessThan(10_000);

    // Batches, not a call per group: three calls of at most 100 changes for 255 groups.
    expect(calls).toBe(3);
    const [partial] = planCopies(h, plan);
    expect(problems(partial)).toEqual([]);
    expect(status(partial)).toBe('Finished with problems: run it again to finish what is left');
    expect(steps(partial)).toEqual([
      'Step 1: Disable the account = done: disabled',
      'Step 2: Sign out everywhere = done: every session revoked',
      `Step 3: Remove from groups (${5 + EXTRA_GROUPS}) = PARTLY DONE: removed from 155 group(s), 100 failed`,
      'Step 4: Remove MFA methods (1) = done: removed Microsoft Authenticator',
      `Step 5: Cancel open requests (1) = done: cancelled ${own}`,
      `Step 6: Hand pending approvals to the manager (1) = done: ${waiting} to Amara Nwosu`,
      expect.stringMatching(/^Step 7: Direct reports needing a new manager \(4\) = done: Chloe Martin, Fatima Haddad, Oliver Bennett, Samuel Osei: TKT-\d+$/),
    ]);
    expect(cardText(findById(partial, 'tech-section-failures'))).toMatch(/Throttled: Too many requests/);
    expect(actions(partial)).toEqual(['tech-rerun']);

    // The progress card was updated step by step, with the batches of step 3.
    const seen = planUpdates(h, plan).map((c) => steps(c)[2]);
    expect(seen).toContain(`Step 3: Remove from groups (${5 + EXTRA_GROUPS}) = running…: 100 of ${5 + EXTRA_GROUPS} groups`);
    expect(seen).toContain(`Step 3: Remove from groups (${5 + EXTRA_GROUPS}) = running…: 200 of ${5 + EXTRA_GROUPS} groups, 100 failed`);
    expect(planUpdates(h, plan).length).toBeGreaterThanOrEqual(2 * 7);

    // What was done: the account, the requests, the approvals, the reports' ticket.
    expect((await h.bot.directory.getUser(lukas.id))!.accountEnabled).toBe(false);
    expect(await groupsOf(h, lukas.id)).toHaveLength(100);
    expect((await h.bot.directory.listAuthMethods(lukas.id)).map((m) => m.kind)).toEqual(['password']);
    expect(h.bot.store.requests.get(own)).toMatchObject({ state: 'cancelled', closedByName: 'Sarah Mitchell' });
    expect(h.bot.store.requests.approvers(waiting, 1).map((a) => [a.approverName, a.source])).toEqual([
      ['Lukas Novak', 'policy'],
      ['Amara Nwosu', 'delegate'],
    ]);
    const ticket = h.bot.store.technician.tickets.listOpen().find((t) => t.type === 'offboarding')!;
    expect(ticket).toMatchObject({ title: 'New manager needed for 4 report(s) of Lukas Novak', subject: { id: lukas.id } });
    expect(h.connector.sentTo(TEST_CHANNEL_ID).map(cardOf).some((c) => findById(c, 'notice-title')?.text === ticket.title)).toBe(true);
    // Amara got the request to decide.
    await h.bot.scheduler.idle();
    const amara = person(h, 'Amara Nwosu');
    const amaraConv = h.bot.store.conversations.findPersonal(amara.id)!.conversationId;
    expect(h.connector.sentTo(amaraConv).map(cardOf).some((c) => String(findById(c, 'access-title')?.text).startsWith(`${waiting} `))).toBe(true);

    // Run again: only what is left, with a fresh confirmation.
    const rerun = await press(h, sarah(h), 'tech.rerun', { plan });
    expect(findById(rerun, 'tech-text').text).toMatch(/ran it again: see the new plan below/);
    const next = h.connector.sentTo(h.client.channelConversationId()).map(cardOf).filter(Boolean).pop();
    const plan2 = planOf(next);
    expect(plan2).not.toBe(plan);
    const left = steps(next);
    expect([left[0], ...left.slice(2)]).toEqual([
      'Step 1: Sign out everywhere = Revokes every sign-in session and refresh token.',
      'Step 3: Remove MFA methods (0) = nothing to remove',
      'Step 4: Cancel open requests (0) = none open',
      'Step 5: Hand pending approvals to the manager (0) = none waiting',
      'Step 6: Direct reports needing a new manager (4) = Chloe Martin, Fatima Haddad, Oliver Bennett, Samuel Osei: a ticket will track it',
    ]);
    // The batch that failed: the second hundred in name order.
    expect(left[1]).toMatch(/^Step 2: Remove from groups \(100\) = Project 097, Project 098, .* and 88 more$/);
    await press(h, sarah(h), 'tech.confirm', { plan: plan2 });
    await h.bot.scheduler.idle();
    const [done] = planCopies(h, plan2);
    expect(status(done)).toBe('Done');
    expect(steps(done)[1]).toBe('Step 2: Remove from groups (100) = done: removed from 100 group(s)');
    expect(await groupsOf(h, lukas.id)).toEqual([]);
    // The reports' ticket is not opened twice.
    expect(h.bot.store.technician.tickets.listOpen().filter((t) => t.type === 'offboarding')).toHaveLength(1);
    expect(h.bot.store.technician.tickets.history(ticket.id).map((e) => e.action)).toEqual(['opened', 'raised-again']);

    // A third run finds nothing to disable or remove.
    const third = await say(h, sarah(h), `offboard ${lukas.id} --reason check`);
    expect(steps(third.cards[0]).slice(0, 2)).toEqual(['Step 1: Sign out everywhere = Revokes every sign-in session and refresh token.', 'Step 2: Remove from groups (0) = none']);
    await press(h, sarah(h), 'tech.cancel', { plan: planOf(third.cards[0]) });

    // Every change is in the audit trail under the plan ids.
    const trail = h.bot.store.audit.query({ correlationId: plan }).map((e) => e.action);
    expect(trail).toEqual(
      expect.arrayContaining([
        'technician.plan-proposed',
        'technician.plan-confirmed',
        'technician.plan-started',
        'technician.account-disabled',
        'technician.sessions-revoked',
        'technician.memberships-removed',
        'technician.memberships-remove-failed',
        'technician.mfa-removed',
        'technician.requests-cancelled',
        'technician.approvals-reassigned',
        'technician.reports-listed',
        'technician.plan-finished',
      ]),
    );
    expect(trail.filter((a) => a === 'technician.memberships-removed')).toHaveLength(2);
    expect(h.bot.store.audit.query({ correlationId: own }).map((e) => e.action)).toContain('access.cancelled');
    expect(h.bot.store.audit.query({ correlationId: waiting }).map((e) => e.action)).toContain('access.forwarded');
    expect(h.bot.store.audit.verify().ok).toBe(true);
  });

  it('a second technician cannot confirm another technician’s offboarding, and nothing happens', async () => {
    const chloe = person(h, 'Chloe Martin');
    const { cards } = await say(h, sarah(h), 'offboard chloe.martin@northwind.example --reason leaving');
    const refused = await press(h, ahmed(h), 'tech.confirm', { plan: planOf(cards[0]) });
    expect(findById(refused, 'tech-text').text).toMatch(/Only Sarah Mitchell/);
    await h.bot.scheduler.idle();
    expect((await h.bot.directory.getUser(chloe.id))!.accountEnabled).toBe(true);
    expect(await groupsOf(h, chloe.id)).toHaveLength(4);
  });
});
