import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { APP_ID, BOT_PASSWORD, startProductionFakes, type ProductionFakes } from '../support/production-rig';
import { startBot, type RunningBot } from '../../bot/main';
import { FakeConnector } from '../support/fake-connector';
import type { FakeGraph } from '../support/fake-graph';
import { FakeBotFrameworkIssuer } from '../support/fake-token-issuer';
import { demoPersona, demoTenant as tenant, jsonLogSink } from '../support/graph-setup';
import { TeamsClient, cardOf, cardText, findById, type TestUser } from '../support/teams-client';

/**
 * Production mode end to end, offline: `startBot` with a production environment, Bot
 * Framework tokens from a fake issuer, and the directory on a fake Microsoft Graph (HTTPS,
 * its own token endpoint) seeded with the demo tenant. The bot's Graph app is its own
 * registration (GRAPH_CLIENT_ID and the secret default to BOT_ID and BOT_PASSWORD).
 *
 * The bot's replies carry a Bot Connector token that Entra ID would issue; offline, that
 * token is put in the SDK's app-token cache, as in the production authentication tests.
 */
/** The app's id in the organisation's Teams app catalog (its manifest id is the bot's app id). */
const CATALOG_APP_ID = '5e8a1f3c-2b4d-4c6e-9f0a-1b2c3d4e5f60';

const person = demoPersona;
let fakes: ProductionFakes;
let offline: ProductionFakes['offline'];
let graph: FakeGraph;
let issuer: FakeBotFrameworkIssuer;
let connector: FakeConnector;
let bot: RunningBot;
let client: TeamsClient;
const logs: any[] = [];

beforeAll(async () => {
  fakes = await startProductionFakes({
    dirPrefix: 'helpdesk-graph-',
    graph: { teamsApps: [{ id: CATALOG_APP_ID, externalId: APP_ID, displayName: 'Northwind IAM Helpdesk' }] },
  });
  ({ graph, issuer, connector, offline } = fakes);
  bot = await startBot(fakes.env, { logDestination: jsonLogSink(logs) });
  client = fakes.clientFor(bot);
});

afterAll(async () => {
  await bot?.close();
  await fakes?.stop();
});

beforeEach(() => {
  connector.clear();
  graph.clearRecords();
});

async function lastCardTo(user: TestUser): Promise<any> {
  await connector.waitFor((c) => (c.kind === 'send' || c.kind === 'reply') && c.conversationId === client.personalConversationId(user));
  const sent = connector.sentTo(client.personalConversationId(user));
  return cardOf(sent[sent.length - 1]);
}

describe('production mode on Microsoft Graph', () => {
  it('starts with the Graph directory and reports it in /healthz', async () => {
    expect(bot.config.mode).toBe('production');
    expect(bot.directory.kind).toBe('graph');
    const res = await fetch(`${bot.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ mode: 'production', directory: { kind: 'graph', reachable: true } });
  });

  it("answers an employee's help with the welcome card, resolving them through Graph", async () => {
    const employee = person('employee');
    expect((await client.message(employee, 'help')).status).toBe(200);
    const card = await lastCardTo(employee);
    expect(findById(card, 'title').text).toBe('Northwind IAM Helpdesk');
    expect(findById(card, 'identity').text).toContain(employee.upn);
    expect(findById(card, 'section-manager')).toBeUndefined();
    expect(findById(card, 'section-technician')).toBeUndefined();

    // Who is acting, their reports and the technicians group: all asked of Graph, with a token.
    expect(graph.calls('GET', new RegExp(`^/users/${employee.id}$`)).length).toBeGreaterThan(0);
    expect(graph.calls('GET', new RegExp(`^/users/${employee.id}/directReports`)).length).toBeGreaterThan(0);
    const check = graph.calls('POST', new RegExp(`^/users/${employee.id}/checkMemberGroups$`));
    expect(check.at(-1)!.body).toEqual({ groupIds: [tenant.technicianGroupId] });
    expect(graph.requests.every((r) => r.authorized && r.status < 400)).toBe(true);
  });

  it('got its Graph token with the bot credential, from the configured authority', async () => {
    await client.message(person('employee'), 'help');
    await lastCardTo(person('employee'));
    // Cached by MSAL since the first call: this turn needed no new token.
    expect(graph.tokenRequests).toEqual([]);
    expect(logs.some((l) => JSON.stringify(l).includes(BOT_PASSWORD))).toBe(false);
  });

  it('shows "who am I" with the manager read from Graph', async () => {
    const employee = person('employee');
    await client.message(employee, 'who am I');
    const card = await lastCardTo(employee);
    expect(cardText(card)).toContain(employee.upn);
    expect(cardText(card)).toContain(person('manager').displayName);
    expect(graph.calls('GET', new RegExp(`^/users/${employee.id}/manager$`))).toHaveLength(1);
  });

  it("lists a manager's team from Graph, following its pages", async () => {
    const manager = person('manager');
    await client.message(manager, 'my team');
    const card = await lastCardTo(manager);
    expect(cardText(card)).toContain(person('employee').displayName);
    const reports = tenant.users.filter((u) => u.managerId === manager.id);
    for (const r of reports) expect(cardText(card)).toContain(r.displayName);
  });

  it('shows a technician the technician items (membership checked in Graph)', async () => {
    const tech = person('technician');
    await client.message(tech, 'help');
    const card = await lastCardTo(tech);
    expect(findById(card, 'section-technician')).toBeDefined();
  });

  it('refuses someone Graph does not know, and a disabled account', async () => {
    const stranger = { id: '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f', displayName: 'Mallory' };
    await client.message(stranger, 'help');
    expect(cardText(await lastCardTo(stranger))).toMatch(/cannot find your account/);
    expect(graph.calls('GET', new RegExp(`^/users/${stranger.id}$`)).map((r) => r.status)).toEqual([404]);

    const disabled = tenant.users.find((u) => !u.accountEnabled)!;
    await client.message({ id: disabled.id, displayName: disabled.displayName }, 'help');
    expect(cardText(await lastCardTo({ id: disabled.id, displayName: disabled.displayName }))).toMatch(/account is disabled/);
  });

  it('a Graph outage shows the person a short message with a reference, not a stack', async () => {
    const employee = person('employee');
    graph.inject({ status: 503, times: 50, path: new RegExp(`^/users/${employee.id}`) });
    try {
      await client.message(employee, 'who am I');
      const card = await lastCardTo(employee);
      expect(cardText(card)).toMatch(/reference/i);
      expect(cardText(card)).not.toMatch(/at .*\.ts:\d+/);
    } finally {
      graph.reset();
    }
  });

  it('resolved no host name but the loopback', () => {
    expect(offline.reachedOut).toEqual([]);
  });
});

describe('an access request end to end, in production mode on Microsoft Graph', () => {
  const VPN_GROUP = 'd11bbede-af0a-472e-ba7c-b905d2e3e4db';

  afterAll(() => graph.reset());

  /** Every card the connector was given for a conversation (new messages and updates), in order. */
  function cardsIn(conversationId: string): any[] {
    return connector.calls.filter((c) => (c.kind === 'send' || c.kind === 'reply' || c.kind === 'update') && c.conversationId === conversationId).map((c) => cardOf(c.body)).filter(Boolean);
  }

  it('employee asks in plain words, the manager approves on the card, Graph adds the member, the employee is told', async () => {
    const employee = person('employee');
    const manager = person('manager');
    expect(tenant.groups.find((g) => g.id === VPN_GROUP)!.members).not.toContain(employee.id);

    // 1. The employee asks; the confirmation card shows the policy read from Graph (his manager).
    expect((await client.message(employee, 'I need the VPN for two weeks')).status).toBe(200);
    const confirm = await lastCardTo(employee);
    expect(cardText(findById(confirm, 'confirm-facts'))).toMatch(/VPN[\s\S]*low risk[\s\S]*2 weeks from approval[\s\S]*Thomas Berg/);
    const submitted = await client.invoke(employee, 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    expect(submitted.status).toBe(200);
    const requestId = /^Submitted: (REQ-\d+)$/.exec(findById(submitted.body.value, 'notice-title').text)![1]!;
    expect(bot.store.requests.get(requestId)).toMatchObject({ state: 'pending', resourceId: 'vpn', groupId: VPN_GROUP, context: { managerId: manager.id } });

    // 2. The approval card goes proactively to the manager's 1:1 chat (created if he never talked to the bot).
    await bot.scheduler.idle();
    const managerChat = bot.store.conversations.findPersonal(manager.id)!.conversationId;
    const approval = cardsIn(managerChat).find((c) => findById(c, 'access-approve'));
    expect(findById(approval, 'access-title').text).toBe(`${requestId} · VPN for ${employee.displayName}`);

    // 3. He approves on the card: an invoke with a valid channel token, checked against Graph.
    const approved = await client.invoke(manager, 'access.approve', findById(approval, 'access-approve').data);
    expect(approved.status).toBe(200);
    expect(findById(approved.body.value, 'access-banner').text).toMatch(new RegExp(`You approved ${requestId}`));
    expect(graph.calls('GET', new RegExp(`^/users/${employee.id}/manager$`)).length).toBeGreaterThan(0);

    // 4. The provisioning job adds the membership through Graph.
    await bot.scheduler.idle();
    const added = graph.calls('POST', new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`));
    expect(added).toHaveLength(1);
    expect(added[0]!.status).toBe(204);
    expect(String(added[0]!.body['@odata.id'])).toMatch(new RegExp(`/directoryObjects/${employee.id}$`));
    expect(await bot.directory.checkMemberGroups(employee.id, [VPN_GROUP])).toEqual([VPN_GROUP]);
    const granted = bot.store.requests.get(requestId)!;
    expect(granted.state).toBe('granted');
    expect(new Date(granted.expiresAt!).getTime() - new Date(granted.grantedAt!).getTime()).toBe(14 * 24 * 3_600_000);

    // 5. The employee is told, with the end date; his copy of the request card shows the grant.
    const employeeChat = client.personalConversationId(employee);
    const toEmployee = cardsIn(employeeChat);
    const told = toEmployee.find((c) => findById(c, 'notice-title')?.text === 'Access granted: VPN');
    expect(findById(told, 'notice-text').text).toMatch(new RegExp(`${requestId} was approved and you now have VPN until .+ UTC`));
    expect(findById(toEmployee.filter((c) => findById(c, 'access-title')).at(-1), 'access-status').text).toMatch(/^Granted until/);
    // And the manager's card no longer offers the buttons.
    const managerLatest = cardsIn(managerChat).filter((c) => findById(c, 'access-title')).at(-1);
    expect(findById(managerLatest, 'access-approve')).toBeUndefined();
    expect(findById(managerLatest, 'access-status').text).toMatch(/^Granted until/);

    // "What access do I have" now lists VPN with its end, from the memberships Graph reports.
    connector.clear();
    await client.message(employee, 'what access do I have');
    const held = await lastCardTo(employee);
    expect(findById(held, 'held-until-vpn').text).toMatch(new RegExp(`^Until .+ UTC \\(${requestId}\\)$`));
    expect(findById(held, 'held-erp-finance')).toBeDefined();

    // Every step is in the audit trail, and Graph saw only authorised, successful calls.
    expect(bot.store.audit.query({ correlationId: requestId }).map((e) => e.action)).toEqual(['access.requested', 'access.approved', 'access.grant-attempted', 'access.provisioned']);
    expect(graph.requests.filter((r) => !r.authorized || r.status >= 400)).toEqual([]);
    expect(offline.reachedOut).toEqual([]);
  });

  it('reaches an approver who never opened the bot by installing the app for her through Graph', async () => {
    const user = (name: string) => {
      const u = tenant.users.find((x) => x.displayName === name)!;
      return { id: u.id, displayName: u.displayName };
    };
    // Hannah's manager, Olivia Hart, has never talked to the bot: Teams would refuse to create a chat with her.
    const hannah = user('Hannah Kowalski');
    const olivia = user('Olivia Hart');
    expect(bot.store.conversations.findPersonal(olivia.id)).toBeNull();

    await client.message(hannah, 'I need the VPN for a week');
    const confirm = await lastCardTo(hannah);
    const submitted = await client.invoke(hannah, 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    const requestId = /^Submitted: (REQ-\d+)$/.exec(findById(submitted.body.value, 'notice-title').text)![1]!;
    await bot.scheduler.idle();

    // The app is installed for her through Graph, and the chat that created carries the card.
    const installs = graph.calls('POST', new RegExp(`^/users/${olivia.id}/teamwork/installedApps$`));
    expect(installs.map((r) => [r.status, r.body['teamsApp@odata.bind']])).toEqual([[201, `${graph.url}/v1.0/appCatalogs/teamsApps/${CATALOG_APP_ID}`]]);
    const chatId = `19:${olivia.id}_${APP_ID}@unq.gbl.spaces`;
    expect(bot.store.conversations.findPersonal(olivia.id)?.conversationId).toBe(chatId);
    expect(connector.calls.filter((c) => c.kind === 'createConversation')).toEqual([]);
    const approval = cardsIn(chatId).find((c) => findById(c, 'access-approve'));
    expect(findById(approval, 'access-title').text).toBe(`${requestId} · VPN for Hannah Kowalski`);

    await client.invoke(olivia, 'access.approve', findById(approval, 'access-approve').data);
    await bot.scheduler.idle();
    expect(bot.store.requests.get(requestId)!.state).toBe('granted');
    expect(graph.calls('POST', new RegExp(`^/groups/${VPN_GROUP}/members/\\$ref$`))).toHaveLength(1);
  });

  it('falls back to the Bot Connector when Graph may not install the app', async () => {
    const chloe = tenant.users.find((u) => u.displayName === 'Chloe Martin')!;
    const lukas = tenant.users.find((u) => u.displayName === 'Lukas Novak')!;
    graph.inject({ status: 403, times: 5, path: new RegExp(`^/users/${lukas.id}/teamwork/installedApps`) });
    await client.message({ id: chloe.id, displayName: chloe.displayName }, 'I need the VPN for a week');
    const confirm = await lastCardTo({ id: chloe.id, displayName: chloe.displayName });
    await client.invoke({ id: chloe.id, displayName: chloe.displayName }, 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
    await bot.scheduler.idle();
    expect(graph.calls('POST', new RegExp(`^/users/${lukas.id}/teamwork/installedApps$`)).map((r) => r.status)).toEqual([403]);
    expect(connector.calls.filter((c) => c.kind === 'createConversation').map((c) => c.body.members)).toEqual([[expect.objectContaining({ id: lukas.id })]]);
    const chat = bot.store.conversations.findPersonal(lukas.id)!.conversationId;
    expect(cardsIn(chat).some((c) => findById(c, 'access-approve'))).toBe(true);
    expect(logs.some((l) => l.userId === lukas.id && /could not install the app/.test(l.msg))).toBe(true);
  });
});
