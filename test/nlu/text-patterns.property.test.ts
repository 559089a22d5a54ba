import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { defaultRecognizer } from '../../bot/nlu';
import { findCompound, splitParts } from '../../bot/nlu/compound';
import { DURATION_PATTERNS, findDuration } from '../../bot/nlu/duration';
import { detectLanguage } from '../../bot/nlu/language';
import { NORMALIZE_PATTERNS, toWords } from '../../bot/nlu/normalize';
import { findPeople, PEOPLE_PATTERNS } from '../../bot/nlu/people';
import { RECOGNIZER_PATTERNS } from '../../bot/nlu/recognizer';
import { DURATION_TEXT_PATTERNS, justificationIn, parseDuration } from '../../dialogs/access-duration';
import { ACCESS_ROUTE_PATTERNS } from '../../dialogs/access-requests';
import { MY_TEAM_TEXT } from '../../dialogs/my-team';
import { SIGNIN_ROUTE_PATTERNS } from '../../dialogs/signin-recovery';
import { parseCommand, tokenize } from '../../dialogs/technician/grammar';
import { HELP_TEXT, WHOAMI_TEXT } from '../../dialogs/welcome';
import { loadCatalog, resolveResource } from '../../directory/catalog';

/**
 * No slow pattern: every pattern that reads user text (the message routes, the recognizer's
 * and the duration reader's, the technicians' grammar, the HR feed's) runs over 30,000
 * characters of adversarial text (long runs of spaces, tabs and new lines, repeated words,
 * nested quotes and brackets, a known prefix followed by whitespace, look-alike letters) in
 * a fixed budget. A backtracking pattern takes seconds on such text; a linear one well under
 * a millisecond, so the budget is generous for a busy shared machine and still far below.
 */

const ROOT = path.resolve(__dirname, '../..');
const LENGTH = 30_000;
/** Per match of one pattern over one 30,000-character string. */
const BUDGET_MS = 50;
const NOW = new Date('2026-03-02T09:00:00.000Z');

/** Where patterns read user text: every regex literal in these folders is checked. */
const SCANNED = ['dialogs', 'bot/nlu', 'bot/intents.ts', 'bot/message-length.ts', 'directory/catalog.ts'];

/**
 * Files that build patterns at run time (`new RegExp`), and the list each exports so that
 * those are checked too. A new such file must add its list here.
 */
const BUILT: Record<string, readonly RegExp[]> = {
  'bot/nlu/people.ts': PEOPLE_PATTERNS,
  'bot/nlu/duration.ts': DURATION_PATTERNS,
  'bot/nlu/normalize.ts': NORMALIZE_PATTERNS,
  // Its one built pattern masks a person's name it found itself (escaped, at most a few words): run via `recognize` below.
  'bot/nlu/recognizer.ts': RECOGNIZER_PATTERNS,
};

interface Pattern {
  where: string;
  re: RegExp;
}

function filesUnder(rel: string): string[] {
  const abs = path.join(ROOT, rel);
  if (fs.statSync(abs).isFile()) return [rel];
  return fs.readdirSync(abs, { withFileTypes: true }).flatMap((e) => {
    const child = path.join(rel, e.name);
    if (e.isDirectory()) return filesUnder(child);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [child] : [];
  });
}

/** Every regex literal in the scanned sources, and the files that call `new RegExp`. */
function scanSources(): { literals: Pattern[]; builders: string[] } {
  const literals: Pattern[] = [];
  const builders = new Set<string>();
  for (const file of SCANNED.flatMap(filesUnder)) {
    const source = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
        const text = node.getText(source);
        const slash = text.lastIndexOf('/');
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        literals.push({ where: `${file}:${line}`, re: new RegExp(text.slice(1, slash), text.slice(slash + 1)) });
      }
      if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') builders.add(file.split(path.sep).join('/'));
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { literals, builders: [...builders].sort() };
}

const { literals, builders } = scanSources();
const exported: Pattern[] = [
  ...Object.entries(BUILT).flatMap(([file, list]) => list.map((re, i) => ({ where: `${file} (exported #${i})`, re }))),
  ...[...SIGNIN_ROUTE_PATTERNS, ...ACCESS_ROUTE_PATTERNS, HELP_TEXT, WHOAMI_TEXT, MY_TEAM_TEXT, ...DURATION_TEXT_PATTERNS].map((re, i) => ({ where: `route (exported #${i})`, re })),
];
const PATTERNS: Pattern[] = [...literals, ...exported];

/** Words that start the commands and phrases people type, each a known prefix to pump after. */
const PHRASES = [
  'my report x', 'my colleague', 'report Adele', 'reset my password', 'recover my mfa', 'unlock my account please',
  'request access to payroll for', 'forward REQ-1042 to', 'cancel request REQ-1', 'status of REQ-1', 'my requests',
  "what's waiting for me", "why can't I sign in to", 'i need the vpn because', 'for 5', 'for the next', 'until',
  'my team', 'who am i', 'help', 'whois', 'review start department', 'offboard a@b.c --reason', 'did Rajesh',
  'Ravi Shah', 'reset thomas', 'req', 'temp access', 'two factor', 'log', 'a@b', 'x@y.', 'multi', 'one time', 'and',
];
const PUMPS = [' ', '\t', '\n', '\r\n', '\u00a0', '.', '!?', 'a', 'a ', 'aA', 'Ab ', '1', '1.', '-', '--a', '"', "'", '"(\'[', '(', '<', 'a@', '@a', ', and ', 'my report x ', 'please ', 'Adele ', 'а', 'pаss '];
const SUFFIXES = ['', 'x', '!', '\u0000', '@', ' can', '?x'];

/** Words of a pattern's own source, as prefixes: what it looks for, followed by a long run. */
function ownWords(re: RegExp): string[] {
  return [...new Set(re.source.match(/[A-Za-z][A-Za-z'’-]+/g) ?? [])].slice(0, 16);
}

function adversarial(prefix: string, pump: string, suffix: string): string {
  const room = LENGTH - prefix.length - suffix.length;
  return prefix + pump.repeat(Math.ceil(room / pump.length)).slice(0, room) + suffix;
}

/** Milliseconds one full use of the pattern takes: every match of a global one, else one `exec`. */
function timeMatch(re: RegExp, text: string): number {
  const started = process.hrtime.bigint();
  if (re.global || re.sticky) {
    re.lastIndex = 0;
    for (const m of text.matchAll(new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`))) void m;
  } else {
    re.exec(text);
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** The slowest of two tries: a single hiccup of a busy machine does not count, a slow pattern does. */
function fastestOfTwo(re: RegExp, text: string): number {
  const first = timeMatch(re, text);
  return first < BUDGET_MS ? first : Math.min(first, timeMatch(re, text));
}

describe('every pattern that reads user text is linear (30,000 adversarial characters each)', () => {
  it('finds the patterns: the route, recognizer, duration, grammar and HR feed files, and every built pattern is exported', () => {
    const files = new Set(literals.map((p) => p.where.split(':')[0]!.split(path.sep).join('/')));
    for (const f of ['dialogs/signin-recovery.ts', 'dialogs/access-requests.ts', 'dialogs/welcome.ts', 'dialogs/technician/grammar.ts', 'dialogs/hr-feed/records.ts', 'bot/nlu/compound.ts', 'dialogs/access-duration.ts']) {
      expect(files.has(f), f).toBe(true);
    }
    expect(builders).toEqual(Object.keys(BUILT).sort());
    expect(PATTERNS.length).toBeGreaterThan(100);
  });

  it('a pattern\'s own words, then a long run of spaces, marks, letters or quotes, then an ending it cannot take', () => {
    const slow: string[] = [];
    for (const { where, re } of PATTERNS) {
      const prefixes = ['', ...ownWords(re).map((w) => `${w} `)];
      check: for (const prefix of prefixes) {
        for (const pump of [' ', '\t', '.', 'a', '"']) {
          for (const suffix of ['x', '']) {
            const ms = fastestOfTwo(re, adversarial(prefix, pump, suffix));
            if (ms > BUDGET_MS) {
              slow.push(`${where} ${re} took ${ms.toFixed(0)} ms on ${JSON.stringify(prefix)} + ${JSON.stringify(pump)} * n + ${JSON.stringify(suffix)}`);
              break check;
            }
          }
        }
      }
    }
    expect(slow).toEqual([]);
  }, 240_000);

  it('any known phrase, pumped with any adversarial unit (fast-check)', () => {
    const slow: string[] = [];
    fc.assert(
      fc.property(
        fc.constantFrom(...PATTERNS),
        fc.constantFrom(...PHRASES).chain((p) => fc.constantFrom(p, `${p} `, p.toUpperCase(), `  ${p}`)),
        fc.array(fc.constantFrom(...PUMPS), { minLength: 1, maxLength: 3 }).map((units) => units.join('')),
        fc.constantFrom(...SUFFIXES),
        ({ where, re }, prefix, pump, suffix) => {
          const ms = fastestOfTwo(re, adversarial(prefix, pump, suffix));
          if (ms > BUDGET_MS) slow.push(`${where} ${re} took ${ms.toFixed(0)} ms on ${JSON.stringify(prefix)} + ${JSON.stringify(pump)} * n`);
          return ms <= BUDGET_MS;
        },
      ),
      {
        numRuns: 3000,
        // The message that stalled every user for seconds, first.
        examples: [
          [PATTERNS.find((p) => p.re === SIGNIN_ROUTE_PATTERNS[4])!, 'my report x', ' ', ''],
          [PATTERNS.find((p) => p.re === SIGNIN_ROUTE_PATTERNS[4])!, 'my report x', ' ', 'y'],
        ],
      },
    );
    expect(slow).toEqual([]);
  }, 240_000);
});

describe('the whole reading of a message over 30,000 adversarial characters', () => {
  const recognizer = defaultRecognizer();
  const catalog = loadCatalog();
  /** A whole message path does more than one match: a few patterns and the classifier. */
  const PATH_BUDGET_MS = 400;

  const messages = fc
    .tuple(fc.constantFrom(...PHRASES), fc.array(fc.constantFrom(...PUMPS), { minLength: 1, maxLength: 3 }), fc.constantFrom(...SUFFIXES))
    .map(([prefix, units, suffix]) => adversarial(prefix, units.join(''), suffix));

  it('recognizer, several wishes, people, durations, language, reasons, catalog names, technician grammar', () => {
    const timings: Array<[string, number]> = [];
    const run = (name: string, f: () => unknown) => {
      const started = process.hrtime.bigint();
      f();
      timings.push([name, Number(process.hrtime.bigint() - started) / 1e6]);
    };
    fc.assert(
      fc.property(messages, (text) => {
        timings.length = 0;
        run('recognize', () => recognizer.decide(recognizer.recognize(text, { now: NOW, timeZone: 'Europe/London' })));
        run('findCompound', () => findCompound(recognizer, text, { now: NOW }));
        run('splitParts', () => splitParts(text));
        run('findPeople', () => findPeople(text));
        run('findDuration', () => findDuration(text, { now: NOW }));
        run('toWords', () => toWords(text));
        run('detectLanguage', () => detectLanguage(text));
        run('justificationIn', () => justificationIn(text));
        run('parseDuration', () => parseDuration(text));
        run('resolveResource', () => resolveResource(catalog, text));
        run('tokenize', () => tokenize(text));
        run('parseCommand', () => parseCommand(text, NOW));
        const slow = timings.filter(([, ms]) => ms > PATH_BUDGET_MS);
        if (slow.length) throw new Error(`slow on ${JSON.stringify(text.slice(0, 30))}…: ${slow.map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`).join(', ')}`);
      }),
      { numRuns: 60, examples: [[`my report x${' '.repeat(27_000)}`], [`i need the vpn because${' '.repeat(29_000)}x`], [`${'.'.repeat(29_000)} x`], ['a'.repeat(LENGTH)]] },
    );
  }, 240_000);
});
