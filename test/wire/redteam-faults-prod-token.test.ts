import { describe, expect, it } from 'vitest';
import { BOT_PASSWORD, useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona } from '../support/graph-setup';
import { cardOf, cardText, findById, type TestUser } from '../support/teams-client';

/**
 * Production mode on the fake Graph whose token endpoint (the Entra ID authority) fails for a
 * while: 503, 500, then no answer at all. Tokens live a minute, so the bot must ask for one
 * on every call. A turn gets a clear message (no stack, no secret, nothing changed),
 * `/healthz` says the directory is unreachable and then reachable again, and a durable job
 * that met the outage finishes once when the authority answers again.
 */
const VPN_GROUP = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';

const clock = new TestClock('2026-03-02T09:00:00.000Z');
const rig = useProductionBot({ dirPrefix: 'helpdesk-faults-token-', clock, env: { GRAPH_RETRY_MAX_SECONDS: '1', GRAPH_REQUEST_TIMEOUT_SECONDS: '1' }, graph: { tokenLifetimeSeconds: 60 } });

function chatOf(user: TestUser): string {
  return rig.client().personalConversationId(user);
}

/** What the bot answered to one message: the cards' text. */
async function answerTo(user: TestUser, text: string): Promise<string> {
  const before = rig.connector.sentTo(chatOf(user)).length;
  const res = await rig.client().message(user, text);
  expect(res.status).toBe(200);
  const sent = rig.connector.sentTo(chatOf(user)).slice(before);
  expect(sent.length).toBeGreaterThan(0);
  return sent.map((a) => (cardOf(a) ? cardText(cardOf(a)) : String(a.text ?? ''))).join('\n');
}

async function health(): Promise<{ status: number; body: any }> {
  const res = await fetch(`${rig.bot.url}/healthz`);
  return { status: res.status, body: await res.json() };
}

async function grantVpn(employee: TestUser, manager: TestUser): Promise<string> {
  const client = rig.client();
  const { requestId, approval } = await rig.submitRequest(employee, manager, 'I need the VPN for 2 days');
  await client.invoke(manager, 'access.approve', findById(approval, 'access-approve').data);
  await rig.bot.scheduler.idle();
  expect(rig.bot.store.requests.get(requestId)!.state).toBe('granted');
  return requestId;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function expectNoLeak(text: string): void {
  expect(text).not.toContain(BOT_PASSWORD);
  expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  expect(text).not.toMatch(/AADSTS|server_error|temporarily_unavailable|oauth2/);
}

describe('the token endpoint fails for a while', () => {
  it('turns get a clear message, /healthz says unreachable then reachable, and a revocation that met the outage is done once', async () => {
    const employee = demoPersona('employee');
    const manager = demoPersona('manager');
    const requestId = await grantVpn(employee, manager);
    const expiresAt = new Date(rig.bot.store.requests.get(requestId)!.expiresAt!).getTime();

    // The authority answers 503 (MSAL then waits out the Retry-After before it asks again).
    rig.graph.injectToken({ status: 503, retryAfter: 1, times: 1000 });
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body.directory).toMatchObject({ kind: 'graph', reachable: false });
    expect(down.body.directory.detail).toMatch(/token/i);
    expectNoLeak(JSON.stringify(down.body));

    const auditBefore = rig.bot.store.audit.query({}).length;
    const answer = await answerTo(employee, 'who am I');
    expect(answer).toMatch(/directory/i);
    expect(answer).toMatch(/try again/i);
    expect(answer).toMatch(/nothing was changed/i);
    expectNoLeak(answer);
    // Nothing was refused as an unknown account: the directory was not asked, it did not answer.
    expect(rig.bot.store.audit.query({ action: 'helpdesk.access-refused' })).toEqual([]);
    expect(rig.bot.store.audit.query({}).length).toBe(auditBefore);

    // The expiry falls due during the outage: the removal is retried, not lost, not marked done.
    clock.advance(expiresAt - clock.now().getTime() + 1_000);
    await rig.bot.scheduler.runDue();
    const job = rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.revoke')!;
    expect(job).toMatchObject({ state: 'pending', attempts: 1 });
    // The technicians' record of the failure says what the authority answered, never the secret.
    expect(job.lastError).toMatch(/token/i);
    expect(job.lastError).not.toContain(BOT_PASSWORD);
    expect(rig.bot.store.requests.get(requestId)!.state).toBe('granted');
    expect(rig.graph.calls('DELETE')).toEqual([]);

    // Then 500, then no answer at all (a timeout): the same for the user.
    rig.graph.clearTokenFaults();
    rig.graph.injectToken({ status: 500, retryAfter: 1, times: 1 });
    rig.graph.injectToken({ hang: true, times: 1000 });
    await pause(1_100);
    expect(await answerTo(employee, 'who am I')).toMatch(/could not reach the company directory/i);
    expect(rig.graph.tokenRequests.at(-1)).toMatchObject({ status: 500, error: 'server_error' });
    await pause(1_100);
    const started = Date.now();
    const timedOut = await answerTo(employee, 'who am I');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(timedOut).toMatch(/directory/i);
    expectNoLeak(timedOut);
    expect(rig.graph.tokenRequests.at(-1)).toMatchObject({ error: 'timeout' });
    expect((await health()).body.directory).toMatchObject({ reachable: false });

    // The authority answers again.
    rig.graph.clearTokenFaults();
    const up = await health();
    expect(up.status).toBe(200);
    expect(up.body.directory).toMatchObject({ kind: 'graph', reachable: true });
    expect(await answerTo(employee, 'who am I')).toContain(employee.upn);

    clock.advance(new Date(job.nextRunAt).getTime() - clock.now().getTime() + 1_000);
    await rig.bot.scheduler.runDue();
    await rig.bot.scheduler.idle();
    expect(rig.bot.store.requests.get(requestId)!.state).toBe('revoked');
    expect(rig.graph.groups.get(VPN_GROUP)!.members).not.toContain(employee.id);
    expect(rig.graph.calls('DELETE').map((r) => r.status)).toEqual([204]);
    expect(rig.graph.tokenRequests.filter((t) => t.status !== 200).map((t) => t.status)).toEqual([503, 500, 0, 0]);
    expect(rig.bot.store.audit.query({ correlationId: requestId, action: 'access.revoked' })).toHaveLength(1);
    expect(rig.bot.store.jobs.forRequest(requestId).find((j) => j.kind === 'access.revoke')).toMatchObject({ state: 'done', attempts: 2 });

    // The secret never reached the logs.
    expect(JSON.stringify(rig.logs)).not.toContain(BOT_PASSWORD);
    expect(rig.fakes.offline.reachedOut).toEqual([]);
  });
});
