import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG_FILE, findResourceById, loadCatalog } from '../../directory/catalog';
import { cardProblems } from '../cards/validate';
import { demoUser, isMember, lastCardIn, requestAccess } from '../support/access';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf, findById, type TestUser } from '../support/teams-client';

/**
 * Plain words the recognizer used to half-understand: two wishes in one message (the first is
 * started, the others are named with the words that start them, none is acted on), and
 * messages in another language (answered in English with examples, never acted on). The bot's
 * clock and the users' clocks say Wednesday 10 June 2026, 11:00 in London.
 */
const catalog = loadCatalog();
const group = (id: string) => findResourceById(catalog, id)!.groupId;

let h: Harness;
let clock: TestClock;
beforeEach(async () => {
  clock = new TestClock('2026-06-10T10:00:00.000Z');
  h = await startHarness({}, { clock: clock.now });
});
afterEach(async () => {
  await h?.stop();
});

const emily = () => h.user('employee');
/** Locked in the demo directory, so the unlock flow has work to do. */
const oliver = () => demoUser(h, 'Oliver Bennett');

function say(user: TestUser, text: string, on: Harness = h) {
  return on.client.post({ ...on.client.base(user), type: 'message', text, textFormat: 'plain', localTimestamp: '2026-06-10T11:00:00.000+01:00', localTimezone: 'Europe/London' });
}

function sentTo(user: TestUser, on: Harness = h): any[] {
  return on.connector.sentTo(on.client.personalConversationId(user));
}

function texts(user: TestUser, on: Harness = h): string[] {
  return sentTo(user, on)
    .filter((a) => !cardOf(a))
    .map((a) => String(a.text));
}

function cards(user: TestUser, on: Harness = h): any[] {
  return sentTo(user, on).map(cardOf).filter(Boolean);
}

/** What the store holds that a request or a change would have written. */
function storeState(on: Harness = h) {
  return { audit: on.bot.store.audit.query({}, { limit: 10_000 }).map((e) => e.action), requests: on.bot.store.requests.listForRequester(emily().id).length };
}

function recognizedLogs(): any[] {
  return h.logs.filter((l) => l.action === 'nlu.recognized');
}

describe('two wishes in one message', () => {
  it('"reset my password and give me VPN access": starts the reset, names the VPN with the words to ask, requests nothing', async () => {
    const res = await say(emily(), 'reset my password and give me VPN access');
    expect(res.status).toBe(200);
    const [note] = texts(emily());
    expect(note).toBe(
      'You asked for more than one thing. I\'ll start with your password reset; nothing has been done about the rest yet. Once this is done, ask me for VPN access ("**I need access to VPN**").',
    );
    // The first wish exactly as on its own: the password reset's card, and no access card.
    const sent = cards(emily());
    expect(sent).toHaveLength(1);
    expect(cardProblems(sent[0])).toEqual([]);
    expect(findById(sent[0], 'signin-title').text).toBe('Reset your password');
    expect(findById(sent[0], 'form-title')).toBeUndefined();
    expect(findById(sent[0], 'access-submit')).toBeUndefined();
    // Nothing for the VPN: no request, no audit event of one, no membership.
    expect(h.bot.store.requests.listForRequester(emily().id)).toHaveLength(0);
    expect(storeState().audit.filter((a) => a.startsWith('access.'))).toEqual([]);
    expect(await isMember(h, emily().id, group('vpn'))).toBe(false);
    // The log says what was left, never the words.
    const [log] = recognizedLogs();
    expect(log).toMatchObject({ decision: 'act:password.reset', notActedOn: 'access.request' });
    expect(JSON.stringify(h.logs)).not.toContain('give me VPN');

    // The words offered do start the second wish, on their own.
    h.connector.clear();
    await say(emily(), 'I need access to VPN');
    expect(texts(emily())).toEqual([]);
    const [confirm] = cards(emily());
    expect(findById(confirm, 'resource')?.value ?? findById(confirm, 'confirm-facts')).toBeTruthy();
    expect(JSON.stringify(confirm)).toContain('VPN');
  });

  it('"unlock my account and also I need access to Payroll Reports": starts the unlock, names Payroll Reports, changes nothing else', async () => {
    const before = await h.bot.directory.getSignInState(oliver().id);
    expect(before.locked).toBe(true);
    await say(oliver(), 'unlock my account and also I need access to Payroll Reports');
    expect(texts(oliver())[0]).toMatch(
      /^You asked for more than one thing\. I'll start with unlocking your account; nothing has been done about the rest yet\. Once this is done, ask me for Payroll Reports access \("\*\*I need access to Payroll Reports\*\*"\)\.$/,
    );
    const sent = cards(oliver());
    expect(sent).toHaveLength(1);
    expect(findById(sent[0], 'signin-title').text).toBe('Unlock your account');
    expect(h.bot.store.requests.listForRequester(oliver().id)).toHaveLength(0);
    expect(await isMember(h, oliver().id, group('payroll-reports'))).toBe(false);
    // The unlock waits for its own verification: still locked.
    expect((await h.bot.directory.getSignInState(oliver().id)).locked).toBe(true);
  });

  it('"cancel REQ-… and request the VPN": offers the Cancel button of that request only, and requests nothing', async () => {
    const id = await requestAccess(h, emily(), 'I need access to the CRM for a week because of the customer audit');
    h.connector.clear();
    const auditBefore = storeState().audit;
    await say(emily(), `cancel ${id} and request the VPN`);
    expect(texts(emily())[0]).toBe(
      `You asked for more than one thing. I'll start with cancelling ${id}; nothing has been done about the rest yet. Once this is done, ask me for VPN access ("**I need access to VPN**").`,
    );
    const sent = cards(emily());
    expect(sent).toHaveLength(1);
    expect(findById(sent[0], 'access-cancel')).toMatchObject({ verb: 'access.cancel', data: { requestId: id } });
    // Only the click cancels; the VPN is not requested.
    expect(h.bot.store.requests.get(id)!.state).toBe('pending');
    const requests = h.bot.store.requests.listForRequester(emily().id);
    expect(requests.map((r) => r.id)).toEqual([id]);
    expect(storeState().audit).toEqual(auditBefore);
    expect(await isMember(h, emily().id, group('vpn'))).toBe(false);
  });

  it('a reason in the first wish is its own: the second wish\'s words are not in the request', async () => {
    await say(emily(), 'I need access to the CRM because of the customer audit, and also unlock my account');
    expect(texts(emily())[0]).toMatch(/I'll start with your request for CRM;.*ask me to unlock your account \("\*\*unlock my account\*\*"\)/);
    const [form] = cards(emily());
    const justification = findById(form, 'justification')?.value ?? JSON.stringify(form);
    expect(justification).toContain('because of the customer audit');
    expect(justification).not.toMatch(/unlock/);
    expect(h.bot.store.requests.listForRequester(emily().id)).toHaveLength(0);
  });

  it('never acts on both: two sign-in changes start one, and the second is only named', async () => {
    await say(oliver(), 'reset my password and then unlock my account');
    expect(texts(oliver())[0]).toMatch(/I'll start with your password reset;.*ask me to unlock your account/);
    expect(cards(oliver()).map((c) => findById(c, 'signin-title')?.text)).toEqual(['Reset your password']);
    expect((await h.bot.directory.getSignInState(oliver().id)).locked).toBe(true);
  });

  it('a negated second part is no wish: "reset my password, and don\'t touch my MFA" starts the reset alone', async () => {
    const before = storeState();
    await say(emily(), "reset my password, and don't touch my MFA");
    expect(texts(emily())).toEqual([]);
    expect(cards(emily()).map((c) => findById(c, 'signin-title')?.text)).toEqual(['Reset your password']);
    expect(storeState().requests).toBe(before.requests);
  });

  it('a message that takes its wish back starts nothing and asks', async () => {
    await say(emily(), "reset my password. no, don't reset it");
    expect(texts(emily())).toEqual([]);
    const [card] = cards(emily());
    expect(findById(card, 'signin-title')).toBeUndefined();
    expect(JSON.stringify(card)).toContain('Did you mean');
  });

  it('a resource named "X and Y" in the catalog stays one wish, in plain words and as a command', async () => {
    const file = path.join(h.dir, 'catalog.json');
    const data = JSON.parse(fs.readFileSync(DEFAULT_CATALOG_FILE, 'utf8'));
    const crm = data.resources.find((r: { id: string }) => r.id === 'crm');
    crm.name = 'Sales and Marketing';
    crm.aliases.push('sales & marketing');
    fs.writeFileSync(file, JSON.stringify(data));
    const custom = await startHarness({ ACCESS_CATALOG_PATH: file }, { clock: clock.now });
    try {
      for (const text of ['I need access to Sales and Marketing', 'request access to Sales and Marketing', 'can I get into sales & marketing']) {
        custom.connector.clear();
        await say(emily(), text, custom);
        expect(texts(emily(), custom)).toEqual([]);
        const [form] = cards(emily(), custom);
        expect(findById(form, 'resource').value).toBe('crm');
      }
      // Joined to another wish, the name is still whole.
      custom.connector.clear();
      await say(emily(), 'I need access to Sales and Marketing and reset my password', custom);
      expect(texts(emily(), custom)[0]).toMatch(/I'll start with your request for Sales and Marketing;.*ask me to reset your password/);
      expect(findById(cards(emily(), custom)[0], 'resource').value).toBe('crm');
      expect(custom.bot.store.requests.listForRequester(emily().id)).toHaveLength(0);
    } finally {
      await custom.stop();
    }
  });

  it('one wish said in two sentences gets no note', async () => {
    await say(emily(), 'I forgot my password. I need to reset it');
    expect(texts(emily())).toEqual([]);
    expect(findById(cards(emily())[0], 'signin-title').text).toBe('Reset your password');
  });
});

describe('messages in another language', () => {
  it.each([
    ["J'ai oublié mon mot de passe", 'fr', "Je ne comprends que l'anglais.", 'French'],
    ['Necesito acceso a la VPN, por favor', 'es', 'Solo entiendo inglés.', 'Spanish'],
    ['Ho dimenticato la password, potete aiutarmi?', 'it', "Capisco solo l'inglese.", 'Italian'],
    ['Ik ben mijn wachtwoord vergeten', 'nl', 'Ik begrijp alleen Engels.', 'Dutch'],
    ['Esqueci minha senha', 'pt', 'Só entendo inglês.', 'Portuguese'],
    ['Moje konto jest zablokowane', 'pl', 'Rozumiem tylko po angielsku.', 'Polish'],
    // Read as English words, this one used to start a password reset.
    ['Passwort vergessen', 'de', 'Ich verstehe nur Englisch.', 'German'],
  ])('%j gets the English-only answer with examples and the menu, and nothing else', async (text, language, native, name) => {
    const before = storeState();
    const res = await say(emily(), text);
    expect(res.status).toBe(200);
    const sent = sentTo(emily());
    expect(sent).toHaveLength(2);
    expect(sent[0].text).toBe(
      `${native} Your message looks like ${name}, and I understand English only, so nothing has been done. ` +
        'Please write in English, for example "**I forgot my password**", "**unlock my account**" or "**I need access to the VPN**", or pick from the menu below (type **help** to see it again).',
    );
    // The menu, as help shows it.
    const menu = cardOf(sent[1]);
    expect(cardProblems(menu)).toEqual([]);
    expect(findById(menu, 'title').text).toBe('Northwind IAM Helpdesk');
    // No flow started, nothing stored.
    expect(findById(menu, 'signin-title')).toBeUndefined();
    expect(storeState()).toEqual(before);
    // Logged as the fallback is: the decision and the language, not the words.
    const logs = recognizedLogs();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ action: 'nlu.recognized', intent: 'none', decision: 'none', language });
    expect(JSON.stringify(h.logs)).not.toContain(text.slice(0, 12));
  });

  it('an English message with foreign names or a borrowed word is still understood', async () => {
    await say(emily(), 'I need access to the VPN for my trip to Paris, por favor');
    expect(texts(emily())).toEqual([]);
    expect(JSON.stringify(cards(emily())[0])).toContain('VPN');
    h.connector.clear();
    await say(emily(), 'hola');
    expect(texts(emily())[0]).toMatch(/^Hi Emily! I am the identity and access helpdesk/);
  });

  it('the examples it offers are understood', async () => {
    await say(emily(), 'Olvidé mi contraseña');
    h.connector.clear();
    await say(emily(), 'I forgot my password');
    expect(findById(cards(emily())[0], 'signin-title').text).toBe('Reset your password');
  });
});
