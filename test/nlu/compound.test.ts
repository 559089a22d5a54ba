import { describe, expect, it } from 'vitest';
import { defaultRecognizer } from '../../bot/nlu';
import { findCompound, readWishes, saysNo, splitParts } from '../../bot/nlu/compound';
import { loadLabelled } from '../../bot/nlu/evaluate';
import { loadCorpus, Recognizer } from '../../bot/nlu/recognizer';
import { loadResources } from '../../bot/nlu/resources';

const recognizer = defaultRecognizer();
const read = (text: string) => {
  const c = findCompound(recognizer, text);
  return c ? { first: c.first.intent, others: c.others.map((w) => w.intent) } : null;
};

describe('cutting a message where wishes are joined', () => {
  it.each([
    ['reset my password and give me VPN access', ['reset my password', 'give me VPN access']],
    ['unlock my account and also I need access to Payroll Reports', ['unlock my account', 'I need access to Payroll Reports']],
    ['reset my password; unlock my account', ['reset my password', 'unlock my account']],
    ['I need the VPN + reset my pw', ['I need the VPN', 'reset my pw']],
    ['reset my password. Then unlock my account!', ['reset my password', 'unlock my account!']],
    ['what access do I have? plus my MFA is gone', ['what access do I have', 'my MFA is gone']],
    ['reset my password\nunlock my account', ['reset my password', 'unlock my account']],
    ['reset my password', ['reset my password']],
  ])('%j', (text, parts) => {
    expect(splitParts(text)).toEqual(parts);
  });

  it('keeps words that only contain a joiner ("band", "thence", "e.g.")', () => {
    expect(splitParts('the band thence, e.g. later')).toEqual(['the band thence, e.g. later']);
  });
});

describe('two wishes in one message', () => {
  it.each([
    ['reset my password and give me VPN access', 'password.reset', ['access.request']],
    ['unlock my account and also I need access to Payroll Reports', 'account.unlock', ['access.request']],
    ['cancel REQ-1003 and request the VPN', 'access.cancel', ['access.request']],
    ['reset my password and then unlock my account', 'password.reset', ['account.unlock']],
    ['what access do I have? also reset my mfa please', 'access.list', ['mfa.reset']],
    // The same intent for another resource is another request.
    ['I need access to the CRM and the payroll reports', 'access.request', ['access.request']],
  ])('%j starts %s and reports %j', (text, first, others) => {
    expect(read(text)).toEqual({ first, others });
  });

  it('keeps each wish to the words of its own part', () => {
    const c = findCompound(recognizer, 'cancel REQ-1003 and request the VPN')!;
    expect(c.first.recognition.entities.requestIds).toEqual(['REQ-1003']);
    expect(c.first.recognition.entities.resources).toEqual([]);
    expect(c.first.text).toBe('cancel REQ-1003');
    expect(c.others[0]!.recognition.entities.resources.map((r) => r.id)).toEqual(['vpn']);
  });

  it('starts the first wish in the message, whatever the whole message leans to', () => {
    // The whole message reads as a password reset; the VPN comes first, so it is started.
    const text = 'I need VPN access because I travel and reset my password';
    expect(recognizer.decide(recognizer.recognize(text))).toEqual({ kind: 'act', intent: 'password.reset' });
    expect(read(text)).toEqual({ first: 'access.request', others: ['password.reset'] });
  });

  it.each([
    // One wish, said twice or with context.
    'I forgot my password. I need to reset it',
    'hi there. can you reset my password',
    'thanks! also, what access do I have',
    // One sign-in problem told in two parts.
    "I'm locked out. Forgot my password",
    "password has expired and I can't log in",
    'I entered my password wrong too many times and got locked',
    // Nothing but an unclear second part.
    'reset my password; my MFA too',
    'my phone and laptop were stolen',
  ])('%j is not two wishes', (text) => {
    expect(read(text)?.others ?? []).toEqual([]);
  });

  it('never reports a negated part as a wish, and starts the one wish that is left', () => {
    expect(read("reset my password, and don't touch my MFA")).toEqual({ first: 'password.reset', others: [] });
    expect(read('reset my password and do not reset my MFA')).toEqual({ first: 'password.reset', others: [] });
    expect(read("don't reset my password. unlock my account")).toEqual({ first: 'account.unlock', others: [] });
  });

  it('leaves a message that takes a wish back to its usual answer (a question)', () => {
    expect(read("reset my password. no, don't reset it")).toBeNull();
    expect(read("reset my password and unlock my account. actually, don't")).toBeNull();
    expect(recognizer.decide(recognizer.recognize("reset my password. no, don't reset it")).kind).toBe('clarify');
  });

  it('tells negation from inability', () => {
    expect(saysNo("don't touch my MFA")).toBe(true);
    expect(saysNo('leave my MFA alone')).toBe(true);
    expect(saysNo('no longer need the VPN')).toBe(true);
    expect(saysNo("I can't sign in")).toBe(false);
    expect(saysNo('my password does not work')).toBe(false);
    expect(saysNo('I am not able to log in')).toBe(false);
  });

  it('finds no second wish in the labelled sentences but one that really names two resources', () => {
    const found: string[] = [];
    for (const file of ['dev.jsonl', 'holdout.jsonl', 'holdout-2.jsonl']) {
      for (const row of loadLabelled(`nlu-eval/${file}`)) if (findCompound(recognizer, row.text)?.others.length) found.push(row.text);
    }
    expect(found).toEqual(["Hi, I've just joined the finance team and I need access to ERP Finance and the payroll reports"]);
  });
});

describe('resource names with "and" in them', () => {
  // A catalog where a resource is called "Sales and Marketing" (and "Sales & Marketing").
  const resources = loadResources().map((r) => (r.id === 'crm' ? { ...r, name: 'Sales and Marketing', aliases: [...r.aliases, 'sales & marketing'] } : r));
  const custom = Recognizer.create({ corpus: loadCorpus(), resources });

  it.each(['I need access to Sales and Marketing', 'can I get into sales & marketing', 'request access to Sales and Marketing please'])('%j stays one wish', (text) => {
    expect(findCompound(custom, text)).toBeNull();
    expect(custom.recognize(text).entities.resources.map((r) => r.id)).toEqual(['crm']);
  });

  it('cuts next to the name, not inside it', () => {
    const c = findCompound(custom, 'I need access to Sales and Marketing and reset my password')!;
    expect(c.first.intent).toBe('access.request');
    expect(c.first.recognition.entities.resources.map((r) => r.name)).toEqual(['Sales and Marketing']);
    expect(c.others.map((w) => w.intent)).toEqual(['password.reset']);
  });

  it('cuts the same words where the catalog has no such name', () => {
    expect(readWishes(recognizer, 'I need access to Sales and Marketing')?.parts).toBe(2);
    expect(readWishes(custom, 'I need access to Sales and Marketing')?.parts).toBeUndefined();
  });
});
