import type { PersonEntity } from './types';

/**
 * People a message is about: "my manager", a sign-in name (UPN) or e-mail address, or a
 * name next to a cue ("my report Adele", "Ravi Shah can't sign in", "did Rajesh approve").
 * Only the words are found here; who that is gets resolved in the directory by the flow.
 */

const UPN = /\b[a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b/gi;
const MANAGER = /\bmy\s+(?:line\s+)?(?:manager|boss|supervisor|mgr)\b/i;

/** Capitalised words that start sentences or name products, never people. */
const NOT_NAMES = new Set(
  (
    'i my me the a an he she it they we you this that these those there here his her their our your ' +
    'hi hello hey hiya yo dear thanks thank please pls can could would should will why what who how when where which ' +
    'did does do has have had is are was were am be been not no yes ok okay so and or but if then also just still ' +
    'anyone someone somebody everyone everybody nobody noone none all any some each every nothing something everything ' +
    'teams outlook windows office microsoft excel word powerpoint sharepoint onedrive azure entra google apple iphone android ' +
    'mfa vpn crm erp hr it sso password account login signin authenticator phone laptop computer admin access request ' +
    'monday tuesday wednesday thursday friday saturday sunday january february march april may june july august ' +
    'september october november december today tomorrow yesterday morning afternoon evening night ' +
    'new old good great sorry urgent help unlock reset cancel status approve approved ' +
    'from in at on with for to of by about since after before over under into via whom whose ' +
    'needs wants asked requested got gets keeps cant cannot doesnt isnt wont didnt still also really ' +
    'me myself him her them us mine one two three four five six seven eight nine ten ' +
    'day days week weeks hour hours minute minutes month months year years now asap work home'
  ).split(/\s+/),
);

const CUE_NOUN = '(?:direct\\s+report|report|colleague|collegue|co-?worker|teammate|team\\s+member|new\\s+starter|new\\s+joiner|new\\s+hire|starter|employee|staff\\s+member|intern|contractor|apprentice|trainee)';
const NAME_WORD = "[A-Za-z][a-z'\\-]{1,30}";
const CAP_WORD = "[A-Z][a-z'\\-]{1,30}";

/** "my report Adele", "new starter Tom Baker", "our intern sam". */
const AFTER_CUE = new RegExp(`\\b(?:my|our|the|a)?\\s*${CUE_NOUN}\\s+(${NAME_WORD}(?:\\s+${CAP_WORD})?)`, 'g');
/** "Ravi Shah is unable to sign in", "Adele can't log in". */
const BEFORE_PROBLEM = new RegExp(
  `\\b(${CAP_WORD}(?:\\s+${CAP_WORD})?)\\s+(?:can(?:'|’)?t|cannot|can\\s+not|could\\s*n(?:'|’)?t|is\\s+(?:unable|not\\s+able|locked|having|stuck)|isn(?:'|’)?t\\s+able|has\\s+(?:trouble|problems|issues|been|lost|forgotten)|forgot|lost|needs|got\\s+locked|keeps)\\b`,
  'g',
);
/** "did Rajesh approve", "has priya asked for anything". */
const BEFORE_DECISION = new RegExp(`\\b(?:did|has|have|will|would)\\s+(${NAME_WORD}(?:\\s+${CAP_WORD})?)\\s+(?:approve|approved|decide|decided|reject|rejected|deny|denied|sign|signed|ask|asked|request|requested|look|looked)\\b`, 'g');

/** "reset the password for thomas berg", "unlock the account of Ravi Shah". */
const RECOVERY_FOR = new RegExp(
  `\\b(?:reset|unlock|unblock|recover|fix|change)\\b[^.?!\\n]{0,40}?\\b(?:for|of)\\s+(${NAME_WORD}(?:\\s+${NAME_WORD})?)`,
  'gi',
);
/** "reset Thomas's password", "unlock ravi's account". */
const RECOVERY_OF = new RegExp(
  `\\b(?:reset|unlock|unblock|recover|fix|change)\\s+(${NAME_WORD}(?:\\s+${NAME_WORD})?)(?:'|’)s\\s+(?:password|account|mfa|authenticator|login|log-?in|sign-?in|phone)\\b`,
  'gi',
);

/** The patterns people are found with, for the test that runs them over adversarial text. */
export const PEOPLE_PATTERNS: readonly RegExp[] = [UPN, MANAGER, AFTER_CUE, BEFORE_PROBLEM, BEFORE_DECISION, RECOVERY_FOR, RECOVERY_OF];

/** People named in `text` (as written, with its capitals), in order, each once. */
export function findPeople(text: string): PersonEntity[] {
  const out: PersonEntity[] = [];
  const seen = new Set<string>();
  const add = (p: PersonEntity, key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push(p);
  };
  const manager = MANAGER.exec(text);
  if (manager) add({ kind: 'manager', text: manager[0] }, 'manager');
  for (const m of text.matchAll(UPN)) add({ kind: 'upn', text: m[0], upn: m[0].toLowerCase() }, `upn:${m[0].toLowerCase()}`);
  for (const re of [AFTER_CUE, BEFORE_PROBLEM, BEFORE_DECISION, RECOVERY_FOR, RECOVERY_OF]) {
    for (const m of text.matchAll(re)) {
      const name = cleanName(m[1]!);
      if (name) add({ kind: 'name', text: name, name: titleCase(name) }, `name:${name.toLowerCase()}`);
    }
  }
  return out;
}

/** Drops words that cannot be part of a name ("Please Adele" -> "Adele"); undefined when none is left. */
function cleanName(candidate: string): string | undefined {
  const words = candidate.split(/\s+/);
  while (words.length && NOT_NAMES.has(words[0]!.toLowerCase())) words.shift();
  const kept: string[] = [];
  for (const w of words) {
    if (NOT_NAMES.has(w.toLowerCase())) break;
    kept.push(w);
  }
  return kept.length ? kept.join(' ') : undefined;
}

function titleCase(name: string): string {
  return name.replace(/(^|[\s'-])([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
}
