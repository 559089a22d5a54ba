/**
 * Text preparation for the recognizer: one lowercase, accent-free word list with contractions
 * expanded and chat spelling ("pw", "2fa", "cant", "thx") mapped to one canonical word, so
 * the classifier learns each idea once instead of once per spelling.
 */

/** Contractions and run-together forms, written out. */
const CONTRACTIONS: Record<string, string> = {
  "can't": 'can not',
  cant: 'can not',
  cannot: 'can not',
  "won't": 'will not',
  wont: 'will not',
  "don't": 'do not',
  dont: 'do not',
  "doesn't": 'does not',
  doesnt: 'does not',
  "didn't": 'did not',
  didnt: 'did not',
  "isn't": 'is not',
  isnt: 'is not',
  "aren't": 'are not',
  "wasn't": 'was not',
  wasnt: 'was not',
  "haven't": 'have not',
  havent: 'have not',
  "hasn't": 'has not',
  "couldn't": 'could not',
  couldnt: 'could not',
  "shouldn't": 'should not',
  "i'm": 'i am',
  im: 'i am',
  "i've": 'i have',
  ive: 'i have',
  "i'd": 'i would',
  "i'll": 'i will',
  "it's": 'it is',
  "what's": 'what is',
  whats: 'what is',
  "where's": 'where is',
  wheres: 'where is',
  "who's": 'who is',
  "how's": 'how is',
  "that's": 'that is',
  thats: 'that is',
  "there's": 'there is',
  "let's": 'let us',
  "you're": 'you are',
  "they're": 'they are',
  "he's": 'he is',
  "she's": 'she is',
  gimme: 'give me',
  lemme: 'let me',
  wanna: 'want to',
  gonna: 'going to',
  gotta: 'have to',
  "y'all": 'you all',
};

/**
 * Chat spellings and synonyms of the words that matter to this helpdesk. Multi-word keys are
 * matched before single words. Values are what the training corpus uses.
 */
const PHRASES: Array<[RegExp, string]> = [
  [/\b(?:multi|two|2|second|dual)[\s-]*(?:factor|fa|step|stage)(?:\s+(?:authentication|auth|verification))?\b/g, 'mfa'],
  [/\b(?:2fa|2sv|mfa|tfa)\b/g, 'mfa'],
  [/\bmultifactor\b/g, 'mfa'],
  [/\b(?:log|sign)(?:ging|ing)?[\s-]*(?:in|on)(?:to)?\b/g, 'signin'],
  [/\b(?:login|logon|signin|signon|logins|signins)\b/g, 'signin'],
  [/\b(?:one[\s-]*time|verification|security|sms|text)\s+(?:code|codes|pin|passcode)\b/g, 'code'],
  [/\b(?:temporary|temp)\s+access\s+pass(?:es)?\b/g, 'tap'],
  [/\b(?:line\s+manager|supervisor|boss|mgr|manger|manageer)\b/g, 'manager'],
  [/\b(?:direct\s+report|team\s+member|teammate|co[\s-]?worker|colleague|collegue|new\s+starter|new\s+joiner|new\s+hire)\b/g, 'colleague'],
];

/** Single words: chat spelling -> canonical word. */
const WORDS: Record<string, string> = {
  pw: 'password',
  pwd: 'password',
  pword: 'password',
  passwd: 'password',
  passw: 'password',
  passwort: 'password',
  psswd: 'password',
  passwords: 'password',
  pass: 'password',
  passcode: 'password',
  credentials: 'password',
  creds: 'password',
  otp: 'code',
  totp: 'code',
  codes: 'code',
  authenticater: 'authenticator',
  authenticator: 'authenticator',
  authy: 'authenticator',
  yubikey: 'key',
  fido: 'key',
  fido2: 'key',
  token: 'key',
  iphone: 'phone',
  android: 'phone',
  mobile: 'phone',
  smartphone: 'phone',
  cellphone: 'phone',
  cell: 'phone',
  handy: 'phone',
  laptop: 'computer',
  pc: 'computer',
  desktop: 'computer',
  workstation: 'computer',
  macbook: 'computer',
  mac: 'computer',
  acct: 'account',
  acc: 'account',
  accnt: 'account',
  u: 'you',
  ya: 'you',
  ur: 'your',
  r: 'are',
  pls: 'please',
  plz: 'please',
  plse: 'please',
  pl: 'please',
  thx: 'thanks',
  thnx: 'thanks',
  thnks: 'thanks',
  thanx: 'thanks',
  tks: 'thanks',
  tx: 'thanks',
  ty: 'thanks',
  tyvm: 'thanks',
  thank: 'thanks',
  thankyou: 'thanks',
  thanku: 'thanks',
  cheers: 'thanks',
  hii: 'hi',
  hiya: 'hi',
  heya: 'hi',
  heyo: 'hi',
  hai: 'hi',
  howdy: 'hi',
  hey: 'hi',
  hallo: 'hello',
  helo: 'hello',
  hullo: 'hello',
  yo: 'hi',
  perms: 'permissions',
  permission: 'permissions',
  privs: 'permissions',
  priviledges: 'permissions',
  privileges: 'permissions',
  rights: 'permissions',
  approval: 'approvals',
  reqs: 'requests',
  asap: 'urgently',
  teh: 'the',
  abt: 'about',
  cuz: 'because',
  coz: 'because',
  b4: 'before',
  nvm: 'nevermind',
  msg: 'message',
  ok: 'ok',
  okay: 'ok',
  k: 'ok',
};

/** Writes out contractions ("can't" -> "can not") and maps multi-word chat phrases to one word. */
export function expand(folded: string): string {
  let s = folded.replace(/[\u2019\u2018`\u00b4]/g, "'");
  // Words with an apostrophe first, so that "can't" never becomes "can t".
  s = s.replace(/[a-z]+'[a-z]+|[a-z]+/g, (w) => CONTRACTIONS[w] ?? w);
  for (const [re, value] of PHRASES) s = s.replace(re, value);
  return s;
}

/** Splits expanded text into words and maps each chat spelling to its canonical word. */
export function splitWords(expanded: string): string[] {
  return expanded
    .replace(/'s\b/g, '')
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0)
    .map(canonicalWord);
}

/** The canonical form of one word ("pwd" -> "password", "hellooo" -> "hello"). */
export function canonicalWord(word: string): string {
  return WORDS[word] ?? WORDS[collapseRepeats(word)] ?? (/([a-z])\1{2,}/.test(word) ? collapseRepeats(word) : word);
}

/** All of it: folded, expanded, split and canonical. */
export function toWords(text: string): string[] {
  return splitWords(expand(fold(text)));
}

/** Lowercase, without accents and without markup a chat client may add. */
export function fold(text: string): string {
  return text
    .replace(/<[^>]{1,200}>/g, ' ')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(MIXED_SCRIPT_WORD, (word) => (/[a-z]/.test(word) ? word.replace(LOOKALIKE, (c) => LOOKALIKES[c]!) : word));
}

/**
 * Cyrillic and Greek letters drawn like Latin ones. A word that mixes them with Latin letters
 * ("pаssword" with a Cyrillic а) is read as the Latin word it looks like; a word written
 * wholly in another script is left alone.
 */
const LOOKALIKES: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', і: 'i', ј: 'j', ѕ: 's', ԁ: 'd', ԛ: 'q', ԝ: 'w', ѵ: 'v',
  α: 'a', β: 'b', ε: 'e', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', γ: 'y',
};
const LOOKALIKE = new RegExp(`[${Object.keys(LOOKALIKES).join('')}]`, 'g');
const LATIN_OR_LOOKALIKE = `a-z${Object.keys(LOOKALIKES).join('')}`;
// Tried from the first letter of a word only (the lookbehind): from every letter of a long
// Latin word, `[..]*[look-alike][..]*` backtracked quadratically.
const MIXED_SCRIPT_WORD = new RegExp(`(?<![${LATIN_OR_LOOKALIKE}])[a-z]*[${Object.keys(LOOKALIKES).join('')}][${LATIN_OR_LOOKALIKE}]*`, 'g');
/** The patterns of text preparation, for the test that runs them over adversarial text. */
export const NORMALIZE_PATTERNS: readonly RegExp[] = [...PHRASES.map(([re]) => re), LOOKALIKE, MIXED_SCRIPT_WORD];

/** "hellooo" -> "hello", "thanksss" -> "thanks": three or more of a letter become one. */
export function collapseRepeats(word: string): string {
  return word.replace(/([a-z])\1{2,}/g, '$1');
}
