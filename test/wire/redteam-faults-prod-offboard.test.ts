import { describe, expect, it } from 'vitest';
import { useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, cardText, findById, type TestUser } from '../support/teams-client';
import { actions, planOf, problems, status, steps } from '../technician/support';

/**
 * Production mode on the fake Graph: a technician's offboarding, confirmed over HTTP, meets
 * Graph answering 503 to the membership removals and the MFA method removals. The plan ends
 * "Finished with problems" with Run again; the bot is stopped and started on the same
 * database; Graph recovers; the rerun does only what is left, every change happens once and
 * is on record once, and the card ends Done.
 */
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({ dirPrefix: 'helpdesk-faults-offboard-', clock, env: { GRAPH_RETRY_MAX_SECONDS: '1', RECOVERY_PRIVILEGED_GROUP_IDS: demoTenant.privilegedGroupIds.join(',') } });

const sarah = () => demoPersona('technician');
const lukas = demoTenant.users.find((u) => u.displayName === 'Lukas Novak')!;

async function say(user: TestUser, text: string): Promise<any[]> {
  const client = rig.client();
  const conv = client.channelConversationId();
  const before = rig.connector.sentTo(conv).length;
  expect((await client.message(user, text, { where: 'channel' })).status).toBe(200);
  return rig.connector.sentTo(conv).slice(before).map(cardOf).filter(Boolean);
}

async function press(user: TestUser, verb: string, data: Record<string, unknown>): Promise<any> {
  const res = await rig.client().invoke(user, verb, data, { where: 'channel' });
  expect(res.status).toBe(200);
  expect(problems(res.body?.value)).toEqual([]);
  return res.body.value;
}

/** The latest version of each posted copy of a plan's card. */
function planCopies(planId: string): any[] {
  return rig.bot.store.technician.cards.forOwner(planId, 'plan').map((ref) => {
    const updates = rig.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === ref.conversationId && c.activityId === ref.activityId);
    return cardOf(updates[updates.length - 1]?.body);
  });
}

const memberOf = () => [...rig.graph.groups.values()].filter((g) => g.members.includes(lukas.id)).map((g) => g.id);
const mfaOf = () => rig.graph.users.get(lukas.id)!.methods.filter((m) => m.kind !== 'password').map((m) => m.id);
const MEMBER_REMOVAL = new RegExp(`^/groups/[^/]+/members/${lukas.id}/\\$ref$`);
const METHOD_REMOVAL = new RegExp(`^/users/${lukas.id}/authentication/.+Methods/[^/]+$`);

describe('an offboarding stopped half-way by Graph faults and a restart', () => {
  it('does every step once when Graph recovers: Run again, a restart, the rerun, one event per change, the card Done', async () => {
    const groups = memberOf();
    const methods = mfaOf();
    expect(groups.length).toBeGreaterThan(0);
    expect(methods.length).toBeGreaterThan(0);

    const [proposed] = await say(sarah(), `offboard ${lukas.userPrincipalName} --reason last working day`);
    const plan = planOf(proposed);

    rig.graph.inject({ status: 503, times: 10_000, method: 'DELETE', path: MEMBER_REMOVAL });
    rig.graph.inject({ status: 503, times: 10_000, method: 'DELETE', path: METHOD_REMOVAL });
    await press(sarah(), 'tech.confirm', { plan });
    await rig.bot.scheduler.idle();

    const [partial] = planCopies(plan);
    expect(status(partial)).toBe('Finished with problems: run it again to finish what is left');
    expect(actions(partial)).toEqual(['tech-rerun']);
    const first = steps(partial);
    expect(first[0]).toBe('Step 1: Disable the account = done: disabled');
    expect(first[1]).toBe('Step 2: Sign out everywhere = done: every session revoked');
    expect(first[2]).toMatch(/^Step 3: Remove from groups \(\d+\) = FAILED/);
    expect(first[3]).toMatch(/^Step 4: Remove MFA methods \(\d+\) = FAILED/);
    // What failed is still there; what was done is done.
    expect(rig.graph.users.get(lukas.id)!.accountEnabled).toBe(false);
    expect(memberOf().sort()).toEqual([...groups].sort());
    expect(mfaOf().sort()).toEqual([...methods].sort());
    // Changes on record only when made: the failures are on record as failures.
    const trail = () => rig.bot.store.audit.query({ target: lukas.id }).filter((e) => e.outcome === 'success').map((e) => e.action);
    expect(trail().filter((a) => a === 'technician.memberships-removed')).toEqual([]);
    expect(trail().filter((a) => a === 'technician.mfa-removed')).toEqual([]);
    expect(rig.bot.store.audit.query({ correlationId: plan, action: 'technician.mfa-removed' }).map((e) => [e.outcome, JSON.parse(e.details).removed])).toEqual([['failure', []]]);
    expect(rig.bot.store.audit.query({ correlationId: plan, action: 'technician.plan-finished' })).toHaveLength(1);

    // Stopped and started on the same database; Graph recovers meanwhile.
    await rig.restart(() => rig.graph.clearFaults());
    await rig.bot.scheduler.idle();
    // The start did not run the finished plan again.
    expect(memberOf().sort()).toEqual([...groups].sort());

    const rerun = await press(sarah(), 'tech.rerun', { plan });
    expect(findById(rerun, 'tech-text').text).toMatch(/ran it again/);
    const next = rig.connector.sentTo(rig.client().channelConversationId()).map(cardOf).filter(Boolean).pop();
    const plan2 = planOf(next);
    expect(plan2).not.toBe(plan);
    // Only what is left: the account is already disabled.
    expect(steps(next).some((s) => s.startsWith('Step 1: Disable the account'))).toBe(false);
    await press(sarah(), 'tech.confirm', { plan: plan2 });
    await rig.bot.scheduler.idle();

    const [done] = planCopies(plan2);
    expect(status(done)).toBe('Done');
    expect(actions(done)).toEqual([]);
    expect(memberOf()).toEqual([]);
    expect(mfaOf()).toEqual([]);
    // Each group and each method was removed by exactly one successful call.
    const removedCalls = rig.graph.requests.filter((r) => r.method === 'DELETE' && MEMBER_REMOVAL.test(r.path) && r.status === 204);
    expect(removedCalls.map((r) => r.path.split('/')[2]).sort()).toEqual([...groups].sort());
    const methodCalls = rig.graph.requests.filter((r) => r.method === 'DELETE' && METHOD_REMOVAL.test(r.path) && r.status === 204);
    expect(methodCalls).toHaveLength(methods.length);
    // One event per change over both runs.
    expect(trail().filter((a) => a === 'technician.account-disabled')).toHaveLength(1);
    expect(trail().filter((a) => a === 'technician.memberships-removed')).toHaveLength(1);
    expect(trail().filter((a) => a === 'technician.mfa-removed')).toHaveLength(1);
    expect(rig.bot.store.audit.query({ correlationId: plan2, action: 'technician.plan-finished' })).toHaveLength(1);
    expect(rig.bot.store.audit.verify().ok).toBe(true);
  });
});

describe("a technician's pass and password reset when Graph answers 503", () => {
  it('shows no secret and nothing as done, says what failed, and the same command works once Graph answers, each secret shown once', async () => {
    const chloe = demoTenant.users.find((u) => u.displayName === 'Chloe Martin')!;
    const tapPath = new RegExp(`^/users/${chloe.id}/authentication/temporaryAccessPassMethods$`);
    const userPath = new RegExp(`^/users/${chloe.id}$`);
    // Secrets go to the technician's 1:1 chat only (created by the bot when she has none).
    const secretsShown = () => {
      const chat = rig.bot.store.conversations.findPersonal(sarah().id)?.conversationId;
      return chat ? rig.connector.sentTo(chat).map(cardOf).filter((c) => c && findById(c, 'tech-secret-value')) : [];
    };
    const shownBefore = secretsShown().length;
    const plansFor = () => rig.bot.store.audit.query({ target: chloe.id });

    for (const [command, path, method, done] of [
      ['tap', tapPath, 'POST', 'signin.tap-issued'],
      ['reset-password', userPath, 'PATCH', 'signin.password-reset'],
    ] as const) {
      rig.graph.inject({ status: 503, times: 10_000, method, path });
      const before = plansFor().length;
      const shown = secretsShown().length;
      const answer = await say(sarah(), `${command} ${chloe.userPrincipalName}`);
      let card = answer.at(-1);
      // A confirmation first, when the command asks for one.
      const confirm = findById(card, 'tech-confirm');
      if (confirm) {
        card = await press(sarah(), 'tech.confirm', confirm.data);
        await rig.bot.scheduler.idle();
        card = planCopies(planOf(card)).at(-1) ?? card;
      }
      const text = cardText(card);
      expect(status(card), command).toBe('Finished with problems: run it again to finish what is left');
      expect(steps(card)[0], command).toMatch(/FAILED: .*could not .* right now \(HTTP 503\); try again later/);
      expect(text, command).not.toMatch(/\bat .+\.(ts|js):\d+/);
      expect(secretsShown(), command).toHaveLength(shown);
      expect(plansFor().slice(before).filter((e) => e.action === done), command).toEqual([]);

      rig.graph.clearFaults();
      const again = await say(sarah(), `${command} ${chloe.userPrincipalName}`);
      let result = again.at(-1);
      const confirm2 = findById(result, 'tech-confirm');
      if (confirm2) {
        result = await press(sarah(), 'tech.confirm', confirm2.data);
        await rig.bot.scheduler.idle();
      }
      expect(plansFor().slice(before).filter((e) => e.action === done), command).toHaveLength(1);
      expect(secretsShown(), command).toHaveLength(shown + 1);
    }
    expect(secretsShown()).toHaveLength(shownBefore + 2);
    expect(rig.graph.users.get(chloe.id)!.methods.filter((m) => m.kind === 'temporaryAccessPass')).toHaveLength(1);
  });
});
