import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRecognizer } from '../../bot/nlu';
import { findDuration } from '../../bot/nlu/duration';
import { editDistance } from '../../bot/nlu/distance';
import { loadLabelled } from '../../bot/nlu/evaluate';
import { fold, toWords } from '../../bot/nlu/normalize';
import { findPeople } from '../../bot/nlu/people';
import { DEFAULT_THRESHOLDS, loadCorpus, Recognizer } from '../../bot/nlu/recognizer';
import { loadResources, ResourceMatcher } from '../../bot/nlu/resources';
import { ACTION_INTENTS, INTENTS, type Recognition } from '../../bot/nlu/types';
import { loadCatalog } from '../../directory/catalog';

const recognizer = defaultRecognizer();
const intentOf = (text: string) => recognizer.recognize(text).intent;
/** Wednesday 10 June 2026, 10:00 UTC (11:00 in London, summer time). */
const NOW = new Date('2026-06-10T10:00:00Z');

describe('intents', () => {
  const sample: Array<[string, (typeof INTENTS)[number]]> = [
    ['I forgot my password yet again', 'password.reset'],
    ['my new phone does not have the authenticator on it', 'mfa.reset'],
    ['I locked my account, can you unlock it', 'account.unlock'],
    ['I can not sign in to my laptop today', 'signin.help'],
    ['I need access to the CRM for two weeks', 'access.request'],
    ['has REQ-1042 been approved yet', 'access.status'],
    ['please cancel REQ-1042', 'access.cancel'],
    ['which groups am I a member of at the moment', 'access.list'],
    ['what is waiting for my approval today', 'approvals.pending'],
    ['what can you do for me', 'help'],
    ['good morning bot', 'greeting'],
    ['thanks a lot for that', 'thanks'],
    ['the coffee machine on floor 3 is broken again', 'none'],
  ];
  it.each(sample)('%s -> %s', (text, intent) => {
    expect(intentOf(text)).toBe(intent);
  });

  it('covers every intent label, and only those', () => {
    expect(new Set(sample.map(([, i]) => i))).toEqual(new Set(INTENTS));
    expect(INTENTS).toHaveLength(13);
  });

  it('understands typos and chat spelling', () => {
    expect(intentOf('pasword resett pls')).toBe('password.reset');
    expect(intentOf('i forgott my passwrd')).toBe('password.reset');
    expect(intentOf('cancle my requst')).toBe('access.cancel');
    expect(intentOf('my acount is lockd')).toBe('account.unlock');
    expect(intentOf('2fa reset, new fone')).toBe('mfa.reset');
    expect(intentOf('thnx!!!')).toBe('thanks');
  });

  it('answers out-of-scope messages with none', () => {
    for (const text of ['what is the weather in Paris', 'book a meeting room for 4pm', 'qwertyuiop', '', '   ', '42']) {
      expect(intentOf(text)).toBe('none');
    }
  });

  it('reads a lone question mark as help', () => {
    expect(recognizer.recognize('?')).toMatchObject({ intent: 'help', confidence: 1 });
  });

  it('returns every intent with a confidence, best first, summing to 1', () => {
    const r = recognizer.recognize('I forgot my password');
    expect(r.alternatives.map((a) => a.intent).sort()).toEqual([...INTENTS].sort());
    expect(r.alternatives[0]!.intent).toBe(r.intent);
    for (let i = 1; i < r.alternatives.length; i++) expect(r.alternatives[i - 1]!.confidence).toBeGreaterThanOrEqual(r.alternatives[i]!.confidence);
    expect(r.alternatives.reduce((s, a) => s + a.confidence, 0)).toBeCloseTo(1, 2);
  });
});

describe('resources', () => {
  const resourcesOf = (text: string) => recognizer.recognize(text).entities.resources.map((r) => r.id);

  it('finds resources by name and alias', () => {
    expect(resourcesOf('I need the payroll reports')).toEqual(['payroll-reports']);
    expect(resourcesOf('give me remote access')).toEqual(['vpn']);
    expect(resourcesOf('access to the general ledger')).toEqual(['erp-finance']);
    expect(resourcesOf('add me to App - Source Code')).toEqual(['source-code']);
  });

  it('tolerates typos in longer words, but never in short ones', () => {
    expect(recognizer.recognize('need acess to payrol reprots').entities.resources[0]).toMatchObject({ id: 'payroll-reports', name: 'Payroll Reports' });
    expect(recognizer.recognize('need acess to payrol reprots').entities.resources[0]!.score).toBeLessThan(1);
    expect(resourcesOf('the warehuose scanners')).toEqual(['warehouse-devices']);
    expect(resourcesOf('I drive a van')).toEqual([]);
    expect(resourcesOf('my crn')).toEqual([]);
  });

  it('prefers the longest alias and lists each resource once, in order', () => {
    expect(resourcesOf('erp finance')).toEqual(['erp-finance']);
    expect(resourcesOf('the VPN and the CRM, and the vpn again')).toEqual(['vpn', 'crm']);
  });

  it('hides resources from the classifier behind a placeholder', () => {
    expect(recognizer.prepare('I need the expense reporting tool').words).toEqual(['i', 'need', 'the', 'xresource', 'tool']);
  });

  it('takes its resources from the access catalog, validated as the catalog is', () => {
    const resources = loadResources();
    expect(resources).toEqual(loadCatalog().resources);
    expect(resources.find((r) => r.id === 'payroll-reports')?.groupId).toBe('2dd0f164-92e0-42a8-ac67-573fc1637c65');
    // Every catalog name and alias is understood in chat, with the catalog's name.
    for (const r of resources) {
      for (const alias of [r.name, ...r.aliases]) expect(recognizer.prepare(`I need ${alias} for a week`).entities.resources.map((e) => [e.id, e.name]), alias).toEqual([[r.id, r.name]]);
    }
    const bad = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'nlu-')), 'r.json');
    fs.writeFileSync(bad, JSON.stringify({ resources: [{ id: 'Bad Id', name: 'x', aliases: [] }] }));
    expect(() => loadResources(bad)).toThrow(/Invalid access catalog/);
  });

  it('follows the catalog it is given: an alias added there is understood', () => {
    const base = loadCatalog().resources;
    const custom = base.map((r) => (r.id === 'crm' ? { ...r, aliases: [...r.aliases, 'salesforce'] } : r));
    expect(Recognizer.create({ resources: custom }).recognize('I need salesforce for a week').entities.resources.map((e) => e.id)).toEqual(['crm']);
    expect(recognizer.recognize('I need salesforce for a week').entities.resources).toEqual([]);
    // One training per resource list: the bot's catalog is the bundled one in tests.
    expect(defaultRecognizer(base)).toBe(defaultRecognizer(loadCatalog().resources));
  });

  it('works with any resource list (the catalog can supply it)', () => {
    const matcher = new ResourceMatcher([{ id: 'data-lake', name: 'Data Lake', aliases: ['lakehouse'] }]);
    expect(matcher.match(toWords('please add me to the data laek')).map((m) => m.id)).toEqual(['data-lake']);
    expect(matcher.match(toWords('the payroll reports'))).toEqual([]);
  });
});

describe('durations', () => {
  const duration = (text: string, ctx: Parameters<Recognizer['recognize']>[1] = { timeZone: 'Europe/London', now: NOW }) =>
    recognizer.recognize(text, ctx).entities.duration;

  it('reads relative spans as hours', () => {
    expect(duration('I need the CRM for two weeks')).toMatchObject({ hours: 336 });
    expect(duration('erp finance 3d')).toMatchObject({ hours: 72, text: '3d' });
    expect(duration('vpn for a fortnight')).toMatchObject({ hours: 336 });
    expect(duration('vpn for 48 hours')).toMatchObject({ hours: 48 });
    expect(duration('crm for the next couple of days')).toMatchObject({ hours: 48 });
    expect(duration('payroll permanently')).toMatchObject({ permanent: true });
  });

  it('reads calendar ends as the last day in the user time zone, with its offset', () => {
    expect(duration('can I get into the payroll reports until friday?')).toEqual({
      text: 'until friday',
      untilDate: '2026-06-12',
      until: '2026-06-12T23:59:59+01:00',
      timeZone: 'Europe/London',
    });
    expect(duration('crm till end of month')).toMatchObject({ untilDate: '2026-06-30' });
    expect(duration('vpn until the end of next week')).toMatchObject({ untilDate: '2026-06-19' });
    expect(duration('vpn until next friday')).toMatchObject({ untilDate: '2026-06-19' });
    expect(duration('crm by the 15th')).toMatchObject({ untilDate: '2026-06-15' });
    expect(duration('crm until 3 July')).toMatchObject({ untilDate: '2026-07-03' });
    expect(duration('crm until 1 March')).toMatchObject({ untilDate: '2027-03-01' });
    expect(duration('crm until 2026-12-31')).toMatchObject({ untilDate: '2026-12-31', until: '2026-12-31T23:59:59+00:00' });
  });

  it('uses the user date, not the server date', () => {
    // 03:00 UTC on Wednesday is still Tuesday evening in Los Angeles.
    expect(duration('vpn until tomorrow', { timeZone: 'America/Los_Angeles', now: new Date('2026-06-10T03:00:00Z') })).toMatchObject({
      untilDate: '2026-06-10',
      until: '2026-06-10T23:59:59-07:00',
    });
    // Without a zone name, the local timestamp gives the date and the offset.
    expect(duration('vpn until friday', { localTimestamp: '2026-01-15T23:30:00.000+05:30', now: new Date('2026-01-15T18:00:00Z') })).toMatchObject({
      untilDate: '2026-01-16',
      until: '2026-01-16T23:59:59+05:30',
    });
    // An unknown zone falls back to UTC rather than failing.
    expect(duration('vpn until friday', { timeZone: 'Mars/Olympus', now: NOW })).toMatchObject({ untilDate: '2026-06-12', until: '2026-06-12T23:59:59+00:00' });
  });

  it('ignores numbers that are not durations', () => {
    expect(findDuration('locked out after 5 tries')).toBeUndefined();
    expect(findDuration('it happened 2 days ago')).toBeUndefined();
    expect(findDuration('access to the third floor')).toBeUndefined();
  });
});

describe('request ids and people', () => {
  it('finds request ids in their usual spellings', () => {
    expect(recognizer.recognize('status of REQ-1042').entities.requestIds).toEqual(['REQ-1042']);
    expect(recognizer.recognize('cancel req 77 and req#0078').entities.requestIds).toEqual(['REQ-77', 'REQ-78']);
    expect(recognizer.recognize('what about request number 2001?').entities.requestIds).toEqual(['REQ-2001']);
    expect(recognizer.recognize('I have 3 requests').entities.requestIds).toEqual([]);
  });

  it('finds my manager, sign-in names and names next to a cue', () => {
    expect(findPeople('did my manager approve the VPN thing')).toEqual([{ kind: 'manager', text: 'my manager' }]);
    expect(findPeople('can you check adele.vance@northwind.example')).toEqual([{ kind: 'upn', text: 'adele.vance@northwind.example', upn: 'adele.vance@northwind.example' }]);
    expect(findPeople('my report Adele can\'t sign in')).toEqual([{ kind: 'name', text: 'Adele', name: 'Adele' }]);
    expect(findPeople('Ravi Shah is unable to sign in')).toEqual([{ kind: 'name', text: 'Ravi Shah', name: 'Ravi Shah' }]);
    expect(findPeople('did rajesh approve my request')).toEqual([{ kind: 'name', text: 'rajesh', name: 'Rajesh' }]);
    expect(findPeople('I can\'t sign in')).toEqual([]);
    expect(findPeople('Teams can\'t connect')).toEqual([]);
  });

  it.each([
    ['reset the password for thomas berg', 'Thomas Berg'],
    ['can you unlock the account of Ravi Shah', 'Ravi Shah'],
    ["reset Olivia's password please", 'Olivia'],
    ['reset mfa for adele', 'Adele'],
  ])('finds the person a recovery is asked for: %j', (text, name) => {
    expect(recognizer.recognize(text).entities.people).toEqual([expect.objectContaining({ kind: 'name', name })]);
  });

  it.each(['reset my password for two weeks', 'unlock my account for work', 'reset my MFA for my new phone', 'reset the password for the vpn', 'reset password for me'])(
    'finds nobody in %j',
    (text) => {
      expect(recognizer.recognize(text).entities.people).toEqual([]);
    },
  );

  it('passes people to the flow and routes a colleague sign-in problem to signin.help', () => {
    const r = recognizer.recognize('my colleague Emily Chen cannot log in');
    expect(r.intent).toBe('signin.help');
    expect(r.entities.people).toEqual([{ kind: 'name', text: 'Emily Chen', name: 'Emily Chen' }]);
  });
});

describe('the clarifying path', () => {
  const rec = (alternatives: Array<[string, number]>): Recognition => ({
    intent: alternatives[0]![0] as Recognition['intent'],
    confidence: alternatives[0]![1],
    entities: { resources: [], requestIds: [], people: [] },
    alternatives: alternatives.map(([intent, confidence]) => ({ intent: intent as Recognition['intent'], confidence })),
  });

  it('acts on a clear winner only', () => {
    expect(recognizer.decide(rec([['password.reset', 0.95], ['account.unlock', 0.03], ['none', 0.02]]))).toEqual({ kind: 'act', intent: 'password.reset' });
  });

  it('asks when two intents are close, offering the likely ones', () => {
    expect(recognizer.decide(rec([['account.unlock', 0.5], ['password.reset', 0.4], ['none', 0.1]]))).toEqual({ kind: 'clarify', options: ['account.unlock', 'password.reset'] });
    expect(recognizer.decide(rec([['access.request', 0.45], ['access.status', 0.3], ['access.cancel', 0.2], ['access.list', 0.05]]))).toEqual({
      kind: 'clarify',
      options: ['access.request', 'access.status', 'access.cancel'],
    });
  });

  it('asks when the best guess is not confident enough, even without a close second', () => {
    expect(recognizer.decide(rec([['access.request', 0.6], ['none', 0.38], ['access.list', 0.02]]))).toEqual({ kind: 'clarify', options: ['access.request'] });
  });

  it('answers harmless intents on a fair guess and gives up below the floor', () => {
    expect(recognizer.decide(rec([['greeting', 0.55], ['none', 0.45]]))).toEqual({ kind: 'act', intent: 'greeting' });
    expect(recognizer.decide(rec([['password.reset', 0.2], ['mfa.reset', 0.19], ['none', 0.61]]))).toEqual({ kind: 'none' });
    expect(recognizer.decide(rec([['none', 1]]))).toEqual({ kind: 'none' });
  });

  it.each(["don't reset my password", 'please do not unlock my account', 'I never want to reset my MFA', 'I no longer need the vpn', 'I don’t want VPN access'])(
    'asks, never acts, when the message says not to: %j',
    (text) => {
      const r = recognizer.recognize(text);
      expect(r.negated).toBe(true);
      expect(recognizer.decide(r).kind).toBe('clarify');
    },
  );

  it.each([
    ["I don't remember my password", 'password.reset'],
    ["I can't sign in", 'signin.help'],
    ["I'm not able to reset my password", 'password.reset'],
    ["my password doesn't work", 'password.reset'],
    ["I don't have access to payroll, I need it", 'access.request'],
  ])('inability or a missing thing is not a negated wish: %j acts', (text, intent) => {
    const r = recognizer.recognize(text);
    expect(r.negated).toBeUndefined();
    expect(recognizer.decide(r)).toEqual({ kind: 'act', intent });
  });

  it('reads a word mixing look-alike Cyrillic or Greek letters as the Latin word it looks like, and leaves other scripts alone', () => {
    // "pаssword" with a Cyrillic а, "rеsеt" with Cyrillic е, "pοrtal" with a Greek ο.
    expect(recognizer.recognize('p\u0430ssword r\u0435s\u0435t').intent).toBe('password.reset');
    expect(fold('p\u03bfrtal')).toBe('portal');
    expect(fold('пароль')).toBe('пароль');
    expect(fold('Ваня vpn')).toBe('ваня vpn');
  });

  it('asks about a real ambiguous message', () => {
    const r = recognizer.recognize('locked out, forgot password');
    expect(recognizer.decide(r)).toEqual({ kind: 'clarify', options: ['account.unlock', 'password.reset'] });
  });

  it('never acts on an action intent below the thresholds (development set)', () => {
    const t = recognizer.thresholds;
    for (const row of loadLabelled(devSet)) {
      const r = recognizer.recognize(row.text);
      const d = recognizer.decide(r);
      if (d.kind === 'act' && ACTION_INTENTS.has(d.intent)) {
        expect(r.confidence).toBeGreaterThanOrEqual(t.act);
        expect(r.confidence - (r.alternatives[1]?.confidence ?? 0)).toBeGreaterThanOrEqual(t.margin);
      }
    }
  });

  it('uses the documented default thresholds', () => {
    expect(recognizer.thresholds).toEqual(DEFAULT_THRESHOLDS);
  });
});

const devSet = path.resolve(__dirname, '..', '..', 'nlu-eval', 'dev.jsonl');

describe('corpus, development set and speed', () => {
  it('keeps the development set separate from the training corpus, with at least 300 sentences', () => {
    const canon = (t: string) => t.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
    const corpus = loadCorpus();
    const training = new Set(Object.values(corpus).flat().map(canon));
    const dev = loadLabelled(devSet);
    expect(dev.length).toBeGreaterThanOrEqual(300);
    expect(dev.filter((r) => training.has(canon(r.text))).map((r) => r.text)).toEqual([]);
    for (const intent of INTENTS) expect(dev.some((r) => r.intent === intent)).toBe(true);
  });

  it('refuses a corpus with a missing or unknown intent', () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'nlu-'));
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ intents: { help: ['help', 'menu', 'what can you do', 'commands', 'options'] } }));
    expect(() => loadCorpus(file)).toThrow(/missing intents/);
  });

  it('trains in well under a second and answers in under a millisecond', () => {
    const fresh = Recognizer.create();
    expect(fresh.trainingMs).toBeLessThan(1500);
    const texts = loadLabelled(devSet).map((r) => r.text);
    const started = process.hrtime.bigint();
    for (const t of texts) fresh.recognize(t);
    const perMessageMs = Number(process.hrtime.bigint() - started) / 1e6 / texts.length;
    expect(perMessageMs).toBeLessThan(1);
  });

  it('reaches 95% intent accuracy on the development set', () => {
    const dev = loadLabelled(devSet);
    const correct = dev.filter((r) => recognizer.recognize(r.text).intent === r.intent).length;
    expect(correct / dev.length).toBeGreaterThanOrEqual(0.95);
  });
});

describe('edit distance', () => {
  it('counts a swap of neighbours as one typo', () => {
    expect(editDistance('hlep', 'help')).toBe(1);
    expect(editDistance('pasword', 'password')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('kitten', 'sitting', 1)).toBe(2);
  });
});
