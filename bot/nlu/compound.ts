import { fold } from './normalize';
import type { Recognizer } from './recognizer';
import { ACTION_INTENTS, type Entities, type Intent, type Recognition, type RecognizeContext } from './types';

/**
 * Two wishes in one message ("reset my password and give me VPN access"). Each change needs
 * its own confirmation or identity check, so the bot starts only the first and tells the user
 * what it did not act on and how to ask for it.
 *
 * The message is cut where people join two requests: "and", "also", "then", "plus", "as well
 * as", ";", "+", "&", a new line or a new sentence. A cut inside a requestable resource's name
 * ("Sales and Marketing", when the access catalog has it) is undone, so such a name stays one
 * wish. Each part is then recognized on its own; a part is a wish only when the recognizer
 * would act on it alone (a clear action intent) and it says nothing negative ("and don't
 * touch my MFA" is an instruction, not a wish). Parts asking the same thing twice count once.
 */

/** One part of a message that asks for something the bot does. */
export interface Wish {
  intent: Intent;
  /** The part's own recognition (its entities only, not the rest of the message's). */
  recognition: Recognition;
  /** The words of the message this wish was read from. */
  text: string;
}

/** A message cut into parts: act on `first`, tell the user about `others` (none acted on). */
export interface CompoundMessage {
  first: Wish;
  /** The further wishes, in message order, none acted on. */
  others: Wish[];
}

/**
 * Words and marks that join two requests. The spans between them are the candidate parts.
 * A run of end marks is tried from its first mark only (the lookbehind): tried from each mark
 * of a long run of full stops it was quadratic.
 */
export const JOINERS =
  /(?:[;+&\n]|(?<![.!?])[.!?]+(?=\s+\S)|\b(?:and\s+then|and\s+also|and|also|then|plus|as\s+well\s+as|additionally|after\s+that|besides\s+that)\b)/giu;

/** A part that says not to do something, or that something is not wanted. */
const NEGATIVE =
  /\b(?:don'?t|do\s+not|does\s+not|doesn'?t|never|no\s+longer|not|no|nothing|leave|without|except|instead\s+of|rather\s+than|keep)\b/;
/** Inability is no negation: "I can't sign in", "my password does not work" still ask for help. */
const INABILITY =
  /\b(?:can(?:'?t|not|\s+not)|could(?:n'?t|\s+not)|won'?t|isn'?t|is\s+not|doesn'?t\s+work|does\s+not\s+work|not\s+(?:able|working|work)|unable)\b/g;

/** Longest message looked at for a second wish (the recognizer reads 2000 characters). */
const MAX_TEXT = 2000;
/** A message is cut into at most this many parts; the rest stays with the last one. */
const MAX_PARTS = 6;

/** A piece of the message between two joiners, with where it starts and ends in the text. */
interface Piece {
  start: number;
  end: number;
}

/**
 * The parts of a message between joiners, trimmed, empty ones dropped ({@link findCompound}
 * also keeps resource names whole).
 */
export function splitParts(text: string): string[] {
  const s = text.slice(0, MAX_TEXT);
  return pieces(s).map((p) => s.slice(p.start, p.end).trim());
}

function pieces(s: string): Piece[] {
  const out: Piece[] = [];
  let start = 0;
  for (const m of s.matchAll(JOINERS)) {
    const at = m.index ?? 0;
    // A full stop that ends "e.g." or "i.e." ends no sentence.
    if (m[0] === '.' && /(?:^|[^a-z])[a-z]\.[a-z]$/i.test(s.slice(Math.max(0, at - 4), at))) continue;
    if (s.slice(start, at).trim()) out.push({ start, end: at });
    start = at + m[0].length;
  }
  if (s.slice(start).trim()) out.push({ start, end: s.length });
  // Leading and trailing spaces off, so that a piece is the words it holds.
  const trimmed = out.map((p) => {
    const text = s.slice(p.start, p.end);
    const lead = text.length - text.trimStart().length;
    return { start: p.start + lead, end: p.start + lead + text.trim().length };
  });
  if (trimmed.length <= MAX_PARTS) return trimmed;
  return [...trimmed.slice(0, MAX_PARTS - 1), { start: trimmed[MAX_PARTS - 1]!.start, end: trimmed[trimmed.length - 1]!.end }];
}

/**
 * The wishes of a message cut into parts, or null when it has only one part. `wishes` has
 * two or more entries when the message asks for several things; one entry and `refused` when
 * the rest of it says what not to do ("reset my password, and don't touch my MFA").
 */
export function readWishes(recognizer: Recognizer, text: string, ctx: RecognizeContext = {}): MessageWishes | null {
  const s = text.slice(0, MAX_TEXT);
  let parts = pieces(s);
  if (parts.length < 2) return null;
  parts = keepNamesWhole(recognizer, s, parts, ctx);
  if (parts.length < 2) return null;

  const wishes: Wish[] = [];
  const refused: Intent[] = [];
  for (const p of parts) {
    const partText = s.slice(p.start, p.end);
    const recognition = recognizer.recognize(partText, ctx);
    if (saysNo(partText) || recognition.negated) {
      refused.push(recognition.intent);
      continue;
    }
    const intent = wishOf(recognizer, recognition, partText, wishes[wishes.length - 1], ctx);
    if (!intent) continue;
    const wish: Wish = { intent, recognition: { ...recognition, intent }, text: partText };
    if (wishes.some((w) => sameWish(w, wish))) continue;
    const previous = wishes[wishes.length - 1];
    if (previous && sameProblem(previous, wish)) continue;
    wishes.push(wish);
  }
  return { wishes, refused, parts: parts.length };
}

/**
 * What to act on when the message carries more than one part, or null to answer the whole
 * message as usual. Two or more wishes: the first in the message is `first`, the others are
 * only reported. One wish and parts that say not to do something else ("reset my password,
 * and don't touch my MFA"): that wish alone. A part that says not to do what another part
 * asks, or not to do something unclear ("reset my password. no, don't reset it"), leaves the
 * message to its usual answer, which asks.
 */
export function findCompound(recognizer: Recognizer, text: string, ctx: RecognizeContext = {}): CompoundMessage | null {
  const read = readWishes(recognizer, text, ctx);
  if (!read || read.wishes.length === 0) return null;
  // Every "don't" must be about something else than the wishes ("don't touch my MFA"); one
  // about a wish, or about nothing the bot can tell ("no, don't do it"), may take it back.
  if (read.refused.some((intent) => !ACTION_INTENTS.has(intent) || read.wishes.some((w) => w.intent === intent))) return null;
  if (read.wishes.length === 1) return read.refused.length > 0 ? { first: read.wishes[0]!, others: [] } : null;
  return { first: read.wishes[0]!, others: read.wishes.slice(1) };
}

/** What one message part asks for, when it clearly asks for something the bot does. */
export interface MessageWishes {
  /** In message order, each different. */
  wishes: Wish[];
  /** What each part that says not to do something is about ("don't touch my MFA": `mfa.reset`); never wishes. */
  refused: Intent[];
  /** How many parts the message was cut into (resource names kept whole). */
  parts: number;
}

/** Intents that take a resource or a request id, so "and payroll reports" can continue them. */
const TARGETED: ReadonlySet<Intent> = new Set<Intent>(['access.request', 'access.status', 'access.cancel']);
/** The sign-in intents: two of them in one message are often one problem told twice. */
const SIGN_IN: ReadonlySet<Intent> = new Set<Intent>(['password.reset', 'mfa.reset', 'account.unlock', 'signin.help']);
/** Words that ask for something rather than describe it ("unlock my account" vs "got locked"). */
const ASKING = /\b(?:reset|unlock|recover|restore|change|replace|re-?register|set\s+up|need|want|give|grant|request|please|pls|can\s+you|could\s+you|would\s+you|help\s+me|also)\b/;

/**
 * The intent of a part when it is a clear wish: one the recognizer would act on alone, or, after
 * a first wish, a part that names its own resource or request for an access intent ("and
 * request the VPN"), or only names one ("and payroll reports", continuing the wish before it).
 */
function wishOf(recognizer: Recognizer, r: Recognition, text: string, previous: Wish | undefined, ctx: RecognizeContext): Intent | null {
  const decision = recognizer.decide(r);
  const targets = r.entities.resources.length + r.entities.requestIds.length;
  // Nothing but names ("payroll reports", "REQ-1004"): the same wish again, for another target.
  if (previous && targets > 0 && recognizer.prepare(text, ctx).content.every((w) => /^x(?:resource|requestid|duration)$/.test(w))) {
    return TARGETED.has(previous.intent) ? previous.intent : null;
  }
  if (decision.kind === 'act') {
    if (!ACTION_INTENTS.has(decision.intent)) return null;
    // After a first wish, "I need to reset it" is no request for access: one must name what.
    if (previous && decision.intent === 'access.request' && r.entities.resources.length === 0) return null;
    return decision.intent;
  }
  if (!previous || targets === 0) return null;
  const best = r.alternatives[0];
  if (best && TARGETED.has(best.intent) && best.confidence >= recognizer.thresholds.floor && decision.kind === 'clarify' && decision.options[0] === best.intent) return best.intent;
  return null;
}

/**
 * Two sign-in intents where the second only describes the trouble ("forgot my password. I got
 * locked out", "my password expired and I can't log in"): one problem, which the first flow
 * handles. "Reset my password and unlock my account" asks for both.
 */
function sameProblem(previous: Wish, wish: Wish): boolean {
  if (!SIGN_IN.has(previous.intent) || !SIGN_IN.has(wish.intent)) return false;
  if (wish.intent === 'signin.help') return true;
  return !ASKING.test(fold(wish.text));
}

/**
 * Undoes the cuts that split a resource name: every resource the whole message names must be
 * named by one part, else the parts around it are joined again ("Sales and Marketing").
 */
function keepNamesWhole(recognizer: Recognizer, s: string, parts: Piece[], ctx: RecognizeContext): Piece[] {
  const named = new Set(recognizer.prepare(s, ctx).entities.resources.map((r) => r.id));
  if (named.size === 0) return parts;
  const idsOf = (p: Piece) => new Set(recognizer.prepare(s.slice(p.start, p.end), ctx).entities.resources.map((r) => r.id));
  let current = parts;
  for (const id of named) {
    if (current.some((p) => idsOf(p).has(id))) continue;
    // The shortest run of neighbouring parts that names it, joined into one part.
    let joined: Piece[] | null = null;
    for (let width = 2; width <= current.length && !joined; width++) {
      for (let i = 0; i + width <= current.length && !joined; i++) {
        const piece = { start: current[i]!.start, end: current[i + width - 1]!.end };
        if (idsOf(piece).has(id)) joined = [...current.slice(0, i), piece, ...current.slice(i + width)];
      }
    }
    // Named only by the whole message (spread over every part): nothing to cut.
    if (!joined) return [{ start: current[0]!.start, end: current[current.length - 1]!.end }];
    current = joined;
  }
  return current;
}

/** The part says not to do something ("and don't touch my MFA"); "I can't sign in" does not. */
export function saysNo(part: string): boolean {
  return NEGATIVE.test(fold(part).replace(/[\u2019\u2018`]/g, "'").replace(INABILITY, ' '));
}

/** The same intent about the same things (or about nothing new) is one wish said twice. */
function sameWish(a: Wish, b: Wish): boolean {
  if (a.intent !== b.intent) return false;
  const targets = (e: Entities) => [...e.resources.map((r) => `r:${r.id}`), ...e.requestIds.map((id) => `q:${id}`)];
  const bTargets = targets(b.recognition.entities);
  if (bTargets.length === 0) return true;
  const aTargets = new Set(targets(a.recognition.entities));
  return bTargets.every((t) => aTargets.has(t));
}
