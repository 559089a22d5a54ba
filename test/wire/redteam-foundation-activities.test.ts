import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { requestAccess } from '../support/access';
import { cardOf, cardText, findById } from '../support/teams-client';

/**
 * Activities a Teams client could be made to send but that are not well-formed, and plain
 * words that say the opposite of a request: refused or answered without acting.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { clock: new TestClock('2026-06-10T10:00:00.000Z').now });
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(() => h.connector.clear());

const auditCount = () => (h.bot.store.db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;

describe('/api/messages refuses activities without what a turn needs', () => {
  it('answers 400 naming the field, sends nothing, writes nothing and logs no failed turn', async () => {
    const employee = h.user('employee');
    const message = (change: (a: Record<string, any>) => void) => {
      const a: Record<string, any> = { ...h.client.base(employee), type: 'message', text: 'help' };
      change(a);
      return a;
    };
    const cases: Array<[Record<string, any>, RegExp]> = [
      [message((a) => delete a.from), /from\.id/],
      [message((a) => (a.from = 'someone')), /from\.id/],
      [message((a) => (a.from = { id: '', aadObjectId: employee.id })), /from\.id/],
      [message((a) => (a.from = { id: '29:x', aadObjectId: [employee.id] })), /from\.aadObjectId must be a string/],
      [message((a) => delete a.conversation), /conversation\.id/],
      [message((a) => (a.conversation = { id: 5, conversationType: 'personal' })), /conversation\.id/],
      [message((a) => delete a.recipient), /recipient\.id/],
      [message((a) => delete a.serviceUrl), /serviceUrl/],
      [message((a) => (a.serviceUrl = 'not a url')), /serviceUrl/],
      [message((a) => (a.serviceUrl = 'file:///etc/passwd')), /serviceUrl/],
      [message((a) => (a.text = { reset: 'password' })), /text must be a string/],
      [message((a) => (a.text = 42)), /text must be a string/],
      [message((a) => (a.entities = 'mention')), /entities must be a list of objects/],
      [message((a) => (a.attachments = [1, 2])), /attachments must be a list of objects/],
      [message((a) => (a.entities = null)), /entities must be a list of objects/],
      [message((a) => (a.channelData = 'x')), /channelData must be an object/],
      [{ ...h.client.base(employee), type: 'installationUpdate', action: { add: true } }, /action must be a string/],
      [{ ...h.client.base(employee), type: 'invoke', name: 'adaptiveCard/action' }, /value\.action/],
      [{ ...h.client.base(employee), type: 'invoke', name: 'adaptiveCard/action', value: { action: null } }, /value\.action/],
      [{ ...h.client.base(employee), type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'help', data: 'x' } } }, /value\.action\.data must be an object/],
      [{ ...h.client.base(employee), type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: ['help'] } } }, /value\.action\.verb must be a string/],
    ];
    const events = auditCount();
    const failures = () => h.logs.filter((l) => l.level >= 50).length;
    const failed = failures();
    for (const [activity, reason] of cases) {
      const res = await h.client.post(activity);
      expect(res.status, JSON.stringify(activity).slice(0, 200)).toBe(400);
      expect(res.body.error).toMatch(/^Not an activity: /);
      expect(res.body.error).toMatch(reason);
      expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules/);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(h.connector.calls).toHaveLength(0);
    expect(auditCount()).toBe(events);
    expect(failures()).toBe(failed);
    // A well-formed activity from the same user is still answered.
    expect((await h.client.message(employee, 'help')).status).toBe(200);
    expect(cardOf(h.connector.sentTo(h.client.personalConversationId(employee))[0])).toBeTruthy();
  });

  it('still takes what Teams really sends: a message without text, null channel data, a typing activity', async () => {
    const employee = h.user('employee');
    const conversation = h.client.personalConversationId(employee);
    expect((await h.client.post({ ...h.client.base(employee), type: 'message', text: null, channelData: null })).status).toBe(200);
    expect(JSON.stringify(h.connector.sentTo(conversation)[0])).toMatch(/only read text messages/);
    h.connector.clear();
    expect((await h.client.post({ ...h.client.base(employee), type: 'message', text: 'help', from: { id: `29:${employee.id}`, aadObjectId: employee.id } })).status).toBe(200);
    expect(cardOf(h.connector.sentTo(conversation)[0])).toBeTruthy();
    expect((await h.client.post({ ...h.client.base(employee), type: 'typing' })).status).toBe(200);
  });
});

describe('a negated need in plain words', () => {
  /** A message with the user's clock: Wednesday 10 June 2026, 11:00 in London. */
  const say = (user: any, text: string) =>
    h.client.post({ ...h.client.base(user), type: 'message', text, textFormat: 'plain', localTimestamp: '2026-06-10T11:00:00.000+01:00', localTimezone: 'Europe/London' });

  it('"I don\'t need payroll access anymore" starts no request and says there is nothing to cancel', async () => {
    const employee = h.user('employee');
    for (const text of ["I don't need payroll access anymore", "don't need vpn access any more", 'I no longer need the vpn']) {
      h.connector.clear();
      expect((await say(employee, text)).status).toBe(200);
      const [reply] = h.connector.sentTo(h.client.personalConversationId(employee));
      const card = cardOf(reply);
      // Either the answer of the cancel flow, or a question offering it: never the request form.
      if (card) {
        expect(findById(card, 'clarify-access-cancel'), text).toBeDefined();
        expect(findById(card, 'clarify-access-request'), text).toBeUndefined();
      } else {
        expect(reply.text, text).toMatch(/nothing to cancel/);
      }
    }
    expect(h.bot.store.requests.listForRequester(employee.id)).toHaveLength(0);
  });

  it('with a request waiting, offers its Cancel button and cancels nothing by itself', async () => {
    const employee = h.user('employee');
    const id = await requestAccess(h, employee, 'I need the vpn for a week', { justification: 'travelling to the customer' });
    const request = h.bot.store.requests.get(id);
    expect(request?.state).toBe('pending');
    h.connector.clear();
    await say(employee, "I don't need vpn access anymore");
    const [reply] = h.connector.sentTo(h.client.personalConversationId(employee));
    expect(cardText(cardOf(reply))).toMatch(new RegExp(request!.id));
    expect(cardText(cardOf(reply))).toMatch(/Cancel request/);
    expect(h.bot.store.requests.get(request!.id)?.state).toBe('pending');
  });

  it('"reset the password for thomas berg" reports Thomas to the technicians; it never resets the sender\'s own password', async () => {
    const employee = h.user('employee');
    await h.client.message(h.user('technician'), 'help', { where: 'channel' });
    h.connector.clear();
    await say(employee, 'reset the password for thomas berg');
    const [reply] = h.connector.sentTo(h.client.personalConversationId(employee));
    expect(cardText(cardOf(reply))).toContain('Thomas Berg');
    expect(findById(cardOf(reply), 'signin-code')).toBeUndefined();
    const channel = h.connector.calls.filter((c) => (c.kind === 'send' || c.kind === 'reply') && String(c.conversationId).startsWith('19:')).map((c) => cardText(cardOf(c.body)));
    expect(channel.some((t) => t.includes('Thomas Berg') && t.includes('Emily Chen'))).toBe(true);
  });

  it('"don\'t reset my password" asks, and nothing starts until the user picks', async () => {
    const employee = h.user('employee');
    h.connector.clear();
    const before = h.bot.store.audit.query({ actor: employee.id }).length;
    await say(employee, "don't reset my password");
    const [reply] = h.connector.sentTo(h.client.personalConversationId(employee));
    expect(findById(cardOf(reply), 'clarify-password-reset')).toBeDefined();
    expect(h.bot.store.audit.query({ actor: employee.id })).toHaveLength(before);
  });
});
