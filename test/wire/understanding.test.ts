import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf, cardText, findById } from '../support/teams-client';
import { cardProblems } from '../cards/validate';

let h: Harness;
beforeAll(async () => {
  // The bot's clock agrees with the users' clocks below (Wednesday 10 June 2026).
  h = await startHarness({}, { clock: new TestClock('2026-06-10T10:00:00.000Z').now });
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(() => h.connector.clear());

function sentTo(user: { id: string }): any[] {
  return h.connector.sentTo(h.client.personalConversationId(user as any));
}

/** A message with the user's clock: Wednesday 10 June 2026, 11:00 in London. */
function messageAt(user: any, text: string, localTimestamp = '2026-06-10T11:00:00.000+01:00', localTimezone = 'Europe/London') {
  return h.client.post({ ...h.client.base(user), type: 'message', text, textFormat: 'plain', localTimestamp, localTimezone });
}

describe('free text', () => {
  it('starts an access request with the resource and the end date it understood, asking only for what is missing', async () => {
    const employee = h.user('employee');
    const res = await messageAt(employee, 'could I get the source code repos till end of month?');
    expect(res.status).toBe(200);
    const sent = sentTo(employee);
    expect(sent).toHaveLength(1);
    // Source Code needs a justification: the form, with the resource and the end date chosen.
    const form = cardOf(sent[0]);
    expect(cardProblems(form)).toEqual([]);
    expect(findById(form, 'resource').value).toBe('source-code');
    expect(findById(form, 'duration').value).toBe('until');
    expect(findById(form, 'duration').choices).toContainEqual({ title: 'Until end of Tuesday 30 June 2026 (Europe/London)', value: 'until' });
    expect(findById(form, 'form-error').text).toMatch(/Source Code needs a justification/);
    // Nothing is requested from the words alone.
    expect(h.bot.store.requests.listForRequester(employee.id)).toHaveLength(0);
  });

  it('uses the user time zone for "until Friday", not the server clock', async () => {
    const employee = h.user('employee');
    await messageAt(employee, 'could I get into the payroll reports until friday', '2026-06-10T11:00:00.000+01:00');
    const form = cardOf(sentTo(employee)[0]);
    expect(findById(form, 'resource').value).toBe('payroll-reports');
    expect(findById(form, 'duration').choices).toContainEqual({ title: 'Until end of Friday 12 June 2026 (Europe/London)', value: 'until' });
    h.connector.clear();
    // The same words in New York: the end of Friday there.
    await messageAt(employee, 'could I get into the payroll reports until friday', '2026-06-10T06:00:00.000-04:00', 'America/New_York');
    expect(findById(cardOf(sentTo(employee)[0]), 'duration').choices).toContainEqual({ title: 'Until end of Friday 12 June 2026 (America/New_York)', value: 'until' });
  });

  it('routes sign-in trouble, password and MFA problems to their intents, with the people named', async () => {
    const manager = h.user('manager');
    // Sign-in recovery serves these intents: a colleague's problem goes to the technicians
    // (Adele is not in the directory, so the manager is asked who it is).
    await h.client.message(manager, 'my report Adele can not sign in since this morning');
    expect(findById(cardOf(sentTo(manager)[0]), 'signin-text').text).toMatch(/could not find "Adele"/);
    h.connector.clear();
    await h.client.message(manager, 'forgot my pw again');
    expect(findById(cardOf(sentTo(manager)[0]), 'signin-title').text).toBe('Reset your password');
    h.connector.clear();
    await h.client.message(manager, 'new phone, authenticator gone');
    expect(findById(cardOf(sentTo(manager)[0]), 'signin-title').text).toBe('Recover your sign-in methods (MFA)');
  });

  it('answers help with the welcome card, greetings and thanks briefly', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'what kind of stuff can you help me with');
    expect(findById(cardOf(sentTo(employee)[0]), 'title')?.text).toBe('Northwind IAM Helpdesk');
    h.connector.clear();
    await h.client.message(employee, 'good afternoon bot');
    expect(sentTo(employee)[0].text).toMatch(/^Hi .+! .*help/);
    h.connector.clear();
    await h.client.message(employee, 'thanks so much, that sorted it');
    expect(sentTo(employee)[0].text).toMatch(/welcome/);
  });

  it('answers out-of-scope text with the fallback, without acting', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'the coffee machine on the second floor is leaking');
    const sent = sentTo(employee);
    expect(sent).toHaveLength(1);
    expect(sent[0].text).toMatch(/did not understand/);
  });

  it('leaves exact commands to their own routes', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'who am I');
    expect(cardText(cardOf(sentTo(employee)[0]))).toContain(employee.userPrincipalName);
    h.connector.clear();
    // A technician command with a bad argument keeps its grammar and its refusal.
    await h.client.message(employee, 'audit verify everything now');
    expect(sentTo(employee)[0].text).toMatch(/identity technicians only/);
    h.connector.clear();
    // Unknown audit subcommands are not guessed at by the recognizer.
    await h.client.message(employee, 'audit my access please');
    expect(sentTo(employee)[0].text).toMatch(/did not understand/);
  });

  it('does not read technicians\' channel messages as requests', async () => {
    const tech = h.user('technician');
    await h.client.message(tech, 'reset the password for adele', { where: 'channel' });
    const sent = h.connector.sentTo(h.client.channelConversationId());
    expect(sent).toHaveLength(1);
    expect(sent[0].text).toMatch(/did not understand/);
  });

  it('never logs what the user typed', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'my password Sup3rSecret! stopped working');
    const line = h.logs.filter((l) => l.action === 'nlu.recognized').pop();
    expect(line).toMatchObject({ intent: 'password.reset' });
    expect(JSON.stringify(h.logs)).not.toContain('Sup3rSecret');
  });
});

describe('clarifying questions', () => {
  it('asks with buttons when two meanings are close, and the card is valid', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'locked out, forgot password');
    const sent = sentTo(employee);
    expect(sent).toHaveLength(1);
    const card = cardOf(sent[0]);
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'clarify-title').text).toMatch(/Did you mean/);
    const unlock = findById(card, 'clarify-account-unlock');
    const reset = findById(card, 'clarify-password-reset');
    expect(unlock).toMatchObject({ type: 'Action.Execute', verb: 'understanding.choose', data: { intent: 'account.unlock' } });
    expect(reset).toMatchObject({ type: 'Action.Execute', verb: 'understanding.choose', data: { intent: 'password.reset' } });
    expect(findById(card, 'clarify-none')).toMatchObject({ data: { intent: 'none' } });
    // Card data is only the intent key.
    for (const a of card.actions) expect(Object.keys(a.data)).toEqual(['intent']);
    expect(card.actions.length).toBeGreaterThanOrEqual(3);
    expect(card.actions.length).toBeLessThanOrEqual(4);
  });

  it('routes a click to the chosen intent with the entities of the original message', async () => {
    const employee = h.user('employee');
    await messageAt(employee, 'the vpn, until friday');
    const card = cardOf(sentTo(employee)[0]);
    expect(cardProblems(card)).toEqual([]);
    expect(cardText(findById(card, 'clarify-entities'))).toContain('VPN');
    expect(findById(card, 'clarify-access-request')).toBeDefined();
    h.connector.clear();

    const res = await h.client.invoke(employee, 'understanding.choose', { intent: 'access.request' });
    expect(res.status).toBe(200);
    expect(findById(res.body.value, 'notice-title').text).toBe('You chose: Request access');
    // The request's confirmation card, with what the first message said: nothing is requested yet.
    const confirm = cardOf(sentTo(employee)[0]);
    expect(cardProblems(confirm)).toEqual([]);
    const facts = cardText(findById(confirm, 'confirm-facts'));
    expect(facts).toContain('VPN');
    expect(facts).toContain('until end of Friday 12 June 2026 (Europe/London)');
    expect(findById(confirm, 'access-submit')).toBeDefined();
    expect(h.bot.store.requests.listForRequester(employee.id)).toHaveLength(0);

    // One answer per question: a second click is stale.
    h.connector.clear();
    const again = await h.client.invoke(employee, 'understanding.choose', { intent: 'access.request' });
    expect(cardText(again.body.value)).toMatch(/no longer active/);
    expect(sentTo(employee)).toHaveLength(0);
  });

  it('refuses an intent the question did not offer, or nonsense, decided from the state', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'locked out, forgot password');
    for (const intent of ['approvals.pending', 'rm -rf', 42, null]) {
      const res = await h.client.invoke(employee, 'understanding.choose', { intent });
      expect(res.status).toBe(200);
      expect(cardText(res.body.value)).toMatch(/no longer active/);
    }
    // The question is still open for a real answer.
    h.connector.clear();
    const res = await h.client.invoke(employee, 'understanding.choose', { intent: 'password.reset' });
    expect(findById(res.body.value, 'notice-title').text).toBe('You chose: Reset my password');
    expect(findById(cardOf(sentTo(employee)[0]), 'signin-title').text).toBe('Reset your password');
  });

  it('treats a click on another card than the open question as stale', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'locked out, forgot password');
    const stale = await h.client.post({
      ...h.client.base(employee),
      type: 'invoke',
      name: 'adaptiveCard/action',
      replyToId: 'activity-does-not-exist',
      value: { action: { type: 'Action.Execute', verb: 'understanding.choose', data: { intent: 'password.reset' } }, trigger: 'manual' },
    });
    expect(cardText(stale.body.value)).toMatch(/no longer active/);
  });

  it('answers "something else" with the fallback', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'locked out, forgot password');
    h.connector.clear();
    const res = await h.client.invoke(employee, 'understanding.choose', { intent: 'none' });
    expect(findById(res.body.value, 'notice-title').text).toBe('You chose: Something else');
    expect(sentTo(employee)[0].text).toMatch(/did not understand/);
  });

  it('forgets the question when the user writes something else', async () => {
    const employee = h.user('employee');
    await h.client.message(employee, 'locked out, forgot password');
    await h.client.message(employee, 'thanks');
    const res = await h.client.invoke(employee, 'understanding.choose', { intent: 'password.reset' });
    expect(cardText(res.body.value)).toMatch(/no longer active/);
  });
});
