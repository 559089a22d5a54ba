import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness';
import { cardOf, cardText, findById } from '../support/teams-client';
import { cardProblems } from '../cards/validate';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(() => h.connector.clear());

const UNKNOWN = { id: 'deadbeef-0000-4000-8000-00000000beef', displayName: 'Stranger Danger' };

function disabledUser() {
  const u = h.tenant.users.find((x) => !x.accountEnabled);
  if (!u) throw new Error('demo tenant has no disabled user');
  return { id: u.id, displayName: u.displayName };
}

function lastCard(conversationId: string): any {
  const sent = h.connector.sentTo(conversationId);
  return cardOf(sent[sent.length - 1]);
}

describe('help and the welcome card', () => {
  it('answers help from the employee with a welcome card showing only the employee items', async () => {
    const employee = h.user('employee');
    const res = await h.client.message(employee, 'help');
    expect(res.status).toBe(200);
    const card = lastCard(h.client.personalConversationId(employee));
    expect(card?.type).toBe('AdaptiveCard');
    expect(findById(card, 'title').text).toBe('Northwind IAM Helpdesk');
    expect(findById(card, 'identity').text).toContain(employee.userPrincipalName);
    expect(findById(card, 'section-everyone')).toBeDefined();
    expect(findById(card, 'section-manager')).toBeUndefined();
    expect(findById(card, 'section-technician')).toBeUndefined();
    expect(findById(card, 'menu-whoami')).toMatchObject({ type: 'Action.Execute', verb: 'menu.run', data: { item: 'whoami' } });
    expect(cardProblems(card)).toEqual([]);
  });

  it('adds the manager items for someone with direct reports', async () => {
    const manager = h.user('manager');
    await h.client.message(manager, 'Help');
    const card = lastCard(h.client.personalConversationId(manager));
    expect(findById(card, 'section-manager')).toBeDefined();
    expect(findById(card, 'section-technician')).toBeUndefined();
    expect(findById(card, 'identity').text).toMatch(/Manager of \d+/);
  });

  it('adds the technician items for members of the technicians group, also in the channel', async () => {
    const tech = h.user('technician');
    await h.client.message(tech, 'help', { where: 'channel' });
    const card = lastCard(h.client.channelConversationId());
    expect(findById(card, 'section-technician')).toBeDefined();
    expect(cardText(findById(card, 'section-technician'))).toContain('audit verify');
    expect(findById(card, 'footer').text).toMatch(/@mention/);
    expect(cardProblems(card)).toEqual([]);
  });

  it('accepts help in several forms but not as a substring', async () => {
    const employee = h.user('employee');
    for (const text of ['  HELP  ', 'help!', 'menu', '?']) {
      h.connector.clear();
      await h.client.message(employee, text);
      expect(findById(lastCard(h.client.personalConversationId(employee)), 'title')?.text).toBe('Northwind IAM Helpdesk');
    }
    h.connector.clear();
    // "help" inside a sentence is not the help command: whatever the answer is, it is not the welcome card.
    await h.client.message(employee, 'I need help with payroll shipping');
    const sent = h.connector.sentTo(h.client.personalConversationId(employee));
    expect(sent.length).toBeGreaterThan(0);
    for (const reply of sent) expect(findById(cardOf(reply) ?? {}, 'title')?.text).not.toBe('Northwind IAM Helpdesk');
  });

  it('welcomes on install once, although Teams sends installationUpdate and conversationUpdate', async () => {
    const manager = h.user('manager');
    const conv = 'a:install-test-manager';
    await h.client.installationUpdate(manager, 'add', { conversationId: conv });
    await h.client.botAdded(manager, { conversationId: conv });
    const sent = h.connector.sentTo(conv);
    expect(sent).toHaveLength(1);
    expect(findById(cardOf(sent[0]), 'section-manager')).toBeDefined();
  });

  it('says nothing when someone other than the bot joins a conversation', async () => {
    const tech = h.user('technician');
    await h.client.memberAdded(tech, h.user('employee'), { where: 'channel' });
    expect(h.connector.sent()).toHaveLength(0);
  });

  it('answers unknown text briefly, pointing at help, without echoing it', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'what is the meaning of [life](https://evil.example)');
    const sent = h.connector.sentTo(h.client.personalConversationId(employee));
    expect(sent).toHaveLength(1);
    expect(sent[0].text).toMatch(/help/);
    expect(sent[0].text).not.toContain('evil.example');
  });
});

describe('who may use the bot', () => {
  it('refuses someone the directory does not know, politely, and audits it', async () => {
    const before = h.bot.store.audit.count();
    await h.client.message(UNKNOWN, 'help');
    const sent = h.connector.sentTo(h.client.personalConversationId(UNKNOWN));
    expect(sent).toHaveLength(1);
    expect(cardText(cardOf(sent[0]))).toMatch(/cannot find your account/);
    const events = h.bot.store.audit.query({ action: 'helpdesk.access-refused' }, { afterSeq: before });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorId: UNKNOWN.id, actorName: null, outcome: 'refused' });
    expect(JSON.parse(events[0]!.details)).toMatchObject({ reason: 'unknown-user', claimedName: 'Stranger Danger' });
  });

  it('refuses a disabled account and audits it with the directory identity', async () => {
    const disabled = disabledUser();
    const before = h.bot.store.audit.count();
    await h.client.message(disabled, 'help');
    expect(cardText(cardOf(h.connector.sentTo(h.client.personalConversationId(disabled))[0]))).toMatch(/account is disabled/);
    const [event] = h.bot.store.audit.query({ action: 'helpdesk.access-refused' }, { afterSeq: before });
    expect(event).toMatchObject({ actorId: disabled.id, actorName: disabled.displayName });
    expect(JSON.parse(event!.details).reason).toBe('account-disabled');
  });

  it('refuses an activity without an aadObjectId, or with a malformed one', async () => {
    const employee = h.user('employee');
    for (const aad of [undefined, "x' OR '1'='1", 'a'.repeat(5000)]) {
      const activity: Record<string, any> = { ...h.client.base(employee), type: 'message', text: 'help' };
      activity.from = { id: 'someone', name: 'Who', aadObjectId: aad };
      const res = await h.client.post(activity);
      expect(res.status).toBe(200);
    }
    const sent = h.connector.sent();
    expect(sent).toHaveLength(3);
    for (const a of sent) expect(cardText(cardOf(a))).toMatch(/cannot find your account/);
  });

  it('cannot be fooled by a display name: identity comes from the aadObjectId only', async () => {
    const employee = h.user('employee');
    const tech = h.user('technician');
    await h.client.message({ id: employee.id, displayName: tech.displayName }, 'help');
    const card = lastCard(h.client.personalConversationId(employee));
    expect(findById(card, 'identity').text).toContain(employee.userPrincipalName);
    expect(findById(card, 'section-technician')).toBeUndefined();
  });

  it('answers a card click from an unknown user with a refusal card in the invoke response', async () => {
    const res = await h.client.invoke(UNKNOWN, 'menu.run', { item: 'whoami' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(cardText(res.body.value)).toMatch(/cannot find your account/);
  });
});

describe('card buttons', () => {
  it('runs "who am I" from the welcome card and returns the card for the clicker', async () => {
    const employee = h.user('employee');
    const res = await h.client.invoke(employee, 'menu.run', { item: 'whoami' });
    expect(res.status).toBe(200);
    expect(findById(res.body.value, 'title').text).toBe('Northwind IAM Helpdesk');
    const sent = h.connector.sentTo(h.client.personalConversationId(employee));
    const profile = cardOf(sent[sent.length - 1]);
    expect(cardText(profile)).toContain(employee.userPrincipalName);
    expect(cardText(profile)).toMatch(/Manager/);
    expect(cardText(profile)).toContain(h.user('manager').displayName);
  });

  it('refuses a technician item clicked by an employee (decided on the server) and audits it', async () => {
    const employee = h.user('employee');
    const before = h.bot.store.audit.count();
    const res = await h.client.invoke(employee, 'menu.run', { item: 'audit-verify' });
    expect(cardText(res.body.value)).toMatch(/not available to you/);
    expect(h.bot.store.audit.query({ action: 'helpdesk.menu-refused' }, { afterSeq: before })).toHaveLength(1);
    expect(h.bot.store.audit.query({ action: 'audit.verified' }, { afterSeq: before })).toHaveLength(0);
  });

  it('answers an unknown verb with a card, not an HTTP error', async () => {
    const res = await h.client.invoke(h.user('employee'), 'no.such.verb', { id: 1 });
    expect(res.status).toBe(200);
    expect(cardText(res.body.value)).toMatch(/no longer active/);
  });

  it('refuses nonsense in the card data', async () => {
    for (const item of [null, 42, { $ne: 1 }, 'x'.repeat(10_000)]) {
      const res = await h.client.invoke(h.user('employee'), 'menu.run', { item });
      expect(res.status).toBe(200);
      expect(cardText(res.body.value)).toMatch(/not available/);
    }
  });
});

describe('manager and technician items', () => {
  it('lists a manager direct reports, including the employee', async () => {
    const manager = h.user('manager');
    await h.client.message(manager, 'my team');
    expect(cardText(lastCard(h.client.personalConversationId(manager)))).toContain(h.user('employee').displayName);
  });

  it('tells a non-manager they have no reports', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'my team');
    expect(cardText(lastCard(h.client.personalConversationId(employee)))).toMatch(/no direct reports/);
  });

  it('lets a technician verify the audit trail in the channel, and audits the check', async () => {
    const tech = h.user('technician');
    await h.client.message(tech, 'audit verify', { where: 'channel' });
    const card = lastCard(h.client.channelConversationId());
    expect(findById(card, 'notice-title').text).toBe('Audit trail intact');
    const [event] = h.bot.store.audit.tail(1);
    expect(event).toMatchObject({ action: 'audit.verified', actorId: tech.id, outcome: 'success' });
  });

  it('shows a technician the latest events and validates N', async () => {
    const tech = h.user('technician');
    await h.client.message(tech, 'audit tail 3');
    expect(cardText(lastCard(h.client.personalConversationId(tech)))).toMatch(/Latest \d+ audit events/);
    h.connector.clear();
    await h.client.message(tech, 'audit tail 9999');
    expect(h.connector.sentTo(h.client.personalConversationId(tech))[0].text).toMatch(/Usage/);
  });

  it('refuses audit commands to an employee and audits the refusal', async () => {
    const employee = h.user('employee');
    const before = h.bot.store.audit.count();
    await h.client.message(employee, 'audit verify');
    expect(h.connector.sentTo(h.client.personalConversationId(employee))[0].text).toMatch(/identity technicians only/);
    const [event] = h.bot.store.audit.query({ action: 'helpdesk.command-refused' }, { afterSeq: before });
    expect(event).toMatchObject({ actorId: employee.id, outcome: 'refused' });
  });
});

describe('plumbing', () => {
  it('serves /healthz with status, version, store and directory', async () => {
    const res = await fetch(`${h.bot.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/), mode: 'local', store: { reachable: true }, directory: { kind: 'local', reachable: true } });
  });

  it('keeps a conversation reference for proactive messages', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'help');
    const ref = h.bot.store.conversations.findPersonal(employee.id);
    expect(ref?.conversationId).toBe(h.client.personalConversationId(employee));
    expect(ref?.reference.serviceUrl).toBe(h.connector.url);
  });

  it('ignores activity types it does not handle', async () => {
    const res = await h.client.post({ ...h.client.base(h.user('employee')), type: 'typing' });
    expect(res.status).toBe(200);
    expect(h.connector.sent()).toHaveLength(0);
  });

  it('rejects a body that is not an activity without crashing', async () => {
    const res = await fetch(`${h.bot.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"nope":' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${h.bot.url}/healthz`)).status).toBe(200);
  });

  it('shows a short message with a reference when a turn fails, and logs the same reference', async () => {
    const employee = h.user('employee');
    const original = h.bot.directory.getDirectReports.bind(h.bot.directory);
    h.bot.directory.getDirectReports = async () => {
      throw new Error('directory exploded');
    };
    try {
      await h.client.message(employee, 'help');
    } finally {
      h.bot.directory.getDirectReports = original;
    }
    const text = cardText(cardOf(h.connector.sentTo(h.client.personalConversationId(employee))[0]));
    const ref = /reference: ([0-9a-f-]{36})/.exec(text)?.[1];
    expect(ref).toBeDefined();
    expect(text).not.toContain('exploded');
    expect(h.logs.some((l) => l.correlationId === ref && l.msg === 'turn failed')).toBe(true);
  });

  it('keeps conversation state across a restart', async () => {
    const manager = h.user('manager');
    const conv = 'a:restart-test';
    await h.client.botAdded(manager, { conversationId: conv });
    expect(h.connector.sentTo(conv)).toHaveLength(1);
    await h.restart();
    await h.client.botAdded(manager, { conversationId: conv });
    // The welcome was recorded in the SQLite state: not repeated within a minute, even after a restart.
    expect(h.connector.sentTo(conv)).toHaveLength(1);
  });

  it('lets an in-flight turn finish on shutdown, then closes the database', async () => {
    const employee = h.user('employee');
    const original = h.bot.directory.getUser.bind(h.bot.directory);
    h.bot.directory.getUser = async (id: string) => {
      await new Promise((r) => setTimeout(r, 400));
      return original(id);
    };
    const pending = h.client.message(employee, 'help');
    await new Promise((r) => setTimeout(r, 100));
    const store = h.bot.store;
    await h.bot.close();
    expect((await pending).status).toBe(200);
    expect(cardOf(h.connector.sentTo(h.client.personalConversationId(employee))[0])).toBeDefined();
    expect(store.db.open).toBe(false);
    await h.restart();
  });
});

describe('install events as the playground sends them', () => {
  it('welcomes once when installationUpdate and conversationUpdate arrive at the same moment', async () => {
    const employee = h.user('employee');
    const conv = 'a:concurrent-install';
    await Promise.all([h.client.installationUpdate(employee, 'add', { conversationId: conv }), h.client.botAdded(employee, { conversationId: conv })]);
    expect(h.connector.sentTo(conv)).toHaveLength(1);
  });
});
