import fs from 'node:fs';
import path from 'node:path';
import { NeuralNetwork, type TrainingItem, type TrainingStatus } from '@nlpjs/neural';
import { StemmerEn, StopwordsEn } from '@nlpjs/lang-en-min';
import { z } from 'zod';
import { editDistance, typoAllowance } from './distance';
import { findDuration } from './duration';
import { expand, fold, splitWords } from './normalize';
import { findPeople } from './people';
import { loadResources, ResourceMatcher, type RequestableResource } from './resources';
import { ACTION_INTENTS, INTENTS, type Entities, type Intent, type Recognition, type RecognizeContext, type ResourceEntity, type ScoredIntent } from './types';

/**
 * The intent recognizer: NLP.js's neural intent classifier (the one inside its `NluNeural`)
 * over features this module prepares, plus entity extraction.
 *
 * Each message is folded to lowercase, chat spellings are mapped to one word ("pw" ->
 * "password"), entities are found and replaced by placeholders (`xresource`, `xduration`,
 * `xrequestid`, `xperson`) so the classifier learns "I need xresource xduration" once for
 * every resource and date, unknown words are corrected against the corpus vocabulary
 * (typos), and the rest is stemmed with NLP.js's English stemmer. The corpus is trained at
 * start-up, synchronously, in well under a second; a message takes well under a millisecond.
 */

/** Placeholders that stand for an entity in the corpus (`@resource`) and in a prepared message. */
const MASKS = { resource: 'xresource', duration: 'xduration', requestid: 'xrequestid', person: 'xperson' } as const;

/** The classifier's output for words it never saw (NLP.js's "none feature"). */
const NONE_FEATURE = 'nonefeature';
/** Weight of a word pair against a single word's 1: pairs refine, single words decide. */
const BIGRAM_WEIGHT = 0.5;
/** Share of content words an intent must know for its full score. */
const COVERAGE_FOR_FULL_SUPPORT = 0.7;
/**
 * Training passes of the network. NLP.js trains until the error stops falling (about 150
 * passes on this corpus); 60 passes reach the same accuracy in less than half the time.
 */
const TRAINING_ITERATIONS = 60;
/** Words that say nothing about what is wanted (NLP.js's English stopwords, and a few more). */
const FUNCTION_WORDS = new Set([...Object.keys(new StopwordsEn().dictionary), 'not', 'no', 'please', 'just', 'really', 'again', 'ok']);

/** Decision thresholds. See docs/understanding.md for how they were chosen. */
export interface Thresholds {
  /** An action intent is started only at or above this confidence... */
  act: number;
  /** ...and only when the runner-up is at least this far behind. */
  margin: number;
  /** A best guess below this is not understood at all: the answer is `none`. */
  floor: number;
  /** An intent is offered as a choice in a clarifying question only from this confidence. */
  option: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { act: 0.7, margin: 0.2, floor: 0.3, option: 0.08 };

/** What the bot does with a recognition. */
export type Decision =
  /** Confident: start the flow of this intent. */
  | { kind: 'act'; intent: Intent }
  /** Not sure: ask which of these (two or three) was meant. */
  | { kind: 'clarify'; options: Intent[] }
  /** Nothing the bot does. */
  | { kind: 'none' };

const corpusSchema = z.object({
  intents: z.record(z.string(), z.array(z.string().min(1).max(500)).min(5)),
});

export type Corpus = Record<Intent, string[]>;

/** The bundled training corpus. */
export const DEFAULT_CORPUS_FILE = dataFile('corpus', 'en.json');

/** Reads and validates a corpus file: every intent present, no unknown label. */
export function loadCorpus(file = DEFAULT_CORPUS_FILE): Corpus {
  const parsed = corpusSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`corpus ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const labels = Object.keys(parsed.data.intents);
  const unknown = labels.filter((l) => !(INTENTS as readonly string[]).includes(l));
  const missing = INTENTS.filter((i) => !labels.includes(i));
  if (unknown.length || missing.length) throw new Error(`corpus ${file}: unknown intents [${unknown.join(', ')}], missing intents [${missing.join(', ')}]`);
  return parsed.data.intents as Corpus;
}

export interface RecognizerOptions {
  corpus?: Corpus;
  resources?: readonly RequestableResource[];
  thresholds?: Partial<Thresholds>;
}

/** A message made ready for the classifier, with the entities found in it. */
export interface PreparedMessage {
  /** Canonical words with entities replaced by placeholders and typos corrected. */
  words: string[];
  features: Record<string, number>;
  /** Stems of the words that carry meaning (not function words), known or not. */
  content: string[];
  entities: Entities;
}

export class Recognizer {
  readonly thresholds: Thresholds;
  /** How long training took at start-up, in milliseconds. */
  readonly trainingMs: number;
  readonly corpusSize: number;
  /** Where the classifier's training stopped (iterations, error). */
  readonly trainingStatus: TrainingStatus;
  private readonly stemmer = new StemmerEn();
  private readonly matcher: ResourceMatcher;
  private readonly network: NeuralNetwork;
  /** Word -> how often the corpus uses it (the spelling corrector's dictionary). */
  private readonly vocabulary = new Map<string, number>();
  private readonly vocabularyByLength = new Map<number, string[]>();
  /** Typo corrections already worked out (bounded). */
  private readonly corrections = new Map<string, string>();
  /** Feature -> the intents whose training sentences use it. */
  private readonly featureIntents = new Map<string, Set<Intent>>();

  private constructor(corpus: Corpus, resources: readonly RequestableResource[], thresholds: Thresholds) {
    const started = process.hrtime.bigint();
    this.thresholds = thresholds;
    this.matcher = new ResourceMatcher(resources);
    for (const w of this.matcher.vocabulary()) this.vocabulary.set(w, 1);

    // First pass: the vocabulary, so that training sentences are prepared like messages.
    const sentences: Array<{ intent: Intent; text: string }> = [];
    for (const intent of INTENTS) for (const text of corpus[intent]) sentences.push({ intent, text: withMasks(text) });
    for (const s of sentences) for (const w of this.words(s.text)) this.vocabulary.set(w, (this.vocabulary.get(w) ?? 0) + 1);
    for (const w of this.vocabulary.keys()) {
      if (isMask(w)) continue;
      const list = this.vocabularyByLength.get(w.length) ?? [];
      list.push(w);
      this.vocabularyByLength.set(w.length, list);
    }

    const items: TrainingItem[] = [];
    for (const s of sentences) {
      const { features } = this.prepare(s.text, {}, true);
      for (const f of Object.keys(features)) {
        const set = this.featureIntents.get(f) ?? new Set<Intent>();
        set.add(s.intent);
        this.featureIntents.set(f, set);
      }
      items.push({ input: features, output: { [s.intent]: 1 } });
    }
    // NLP.js's none feature: a sample that teaches "only unknown words" -> none.
    const noneSample: TrainingItem = { input: { [NONE_FEATURE]: 1 }, output: { none: 1 } };
    for (const intent of INTENTS) if (intent !== 'none') noneSample.output[intent] = 0.0000001;
    items.push(noneSample);

    this.network = new NeuralNetwork({ log: false, iterations: TRAINING_ITERATIONS });
    this.trainingStatus = this.network.train(items);
    this.corpusSize = sentences.length;
    this.trainingMs = Number(process.hrtime.bigint() - started) / 1e6;
  }

  /** Trains a recognizer on the bundled corpus and the bundled access catalog's resources (or the ones given). */
  static create(options: RecognizerOptions = {}): Recognizer {
    return new Recognizer(options.corpus ?? loadCorpus(), options.resources ?? loadResources(), { ...DEFAULT_THRESHOLDS, ...options.thresholds });
  }

  /** The intent, a confidence, the alternatives and the entities of one message. */
  recognize(text: string, ctx: RecognizeContext = {}): Recognition {
    const prepared = this.prepare(text, ctx, false);
    // A lone question mark asks what the bot can do (as the welcome card's own route reads it).
    if (prepared.words.length === 0 && /^[\s?¿]*\?[\s?!.]*$/.test(text)) {
      return { intent: 'help', confidence: 1, entities: prepared.entities, alternatives: INTENTS.map((i) => ({ intent: i, confidence: i === 'help' ? 1 : 0 })).sort((a, b) => b.confidence - a.confidence) };
    }
    const alternatives = this.classify(prepared);
    const best = alternatives[0]!;
    // A weak best guess is no understanding at all.
    const intent = best.confidence < this.thresholds.floor ? 'none' : best.intent;
    const negated = NEGATED_WISH.test(fold(text.slice(0, 2000)));
    return { intent, confidence: best.confidence, entities: prepared.entities, alternatives, ...(negated ? { negated } : {}) };
  }

  /**
   * What to do with a recognition. Greetings, thanks and help are harmless and answered on
   * the best guess; an action intent needs a clear winner, otherwise the user is asked.
   */
  decide(r: Recognition): Decision {
    const t = this.thresholds;
    const [first, second] = r.alternatives;
    if (!first) return { kind: 'none' };
    const options = r.alternatives.filter((a) => a.intent !== 'none' && a.confidence >= t.option).slice(0, 3).map((a) => a.intent);
    if (first.intent === 'none' || first.confidence < t.floor) {
      // "none" just ahead of a real candidate is worth a question, not a shrug.
      const runnerUp = r.alternatives.find((a) => a.intent !== 'none');
      if (runnerUp && runnerUp.confidence >= t.floor && first.confidence - runnerUp.confidence < t.margin && options.length) return { kind: 'clarify', options };
      return { kind: 'none' };
    }
    const clear = first.confidence >= t.act && (!second || first.confidence - second.confidence >= t.margin);
    // "Don't reset my password": whatever it names is asked about (the user picks), never started.
    if (r.negated && CHANGES.has(first.intent)) return { kind: 'clarify', options: options.length ? options : [first.intent] };
    if (!ACTION_INTENTS.has(first.intent)) {
      if (clear || first.confidence >= 0.5) return { kind: 'act', intent: first.intent };
    } else if (clear) {
      return { kind: 'act', intent: first.intent };
    }
    // The best guess is at least `floor`, so it is always among the options.
    return options.length === 1 && !ACTION_INTENTS.has(options[0]!) ? { kind: 'act', intent: options[0]! } : { kind: 'clarify', options };
  }

  /** The prepared words and features of a message (for `--explain` and tests). */
  prepare(text: string, ctx: RecognizeContext = {}, training = false): PreparedMessage {
    const entities: Entities = { resources: [], requestIds: [], people: [] };
    const raw = text.slice(0, 2000);
    let s = ` ${fold(raw)} `;

    for (const m of s.matchAll(REQUEST_ID)) {
      const id = `REQ-${m[1]}`;
      if (!entities.requestIds.includes(id)) entities.requestIds.push(id);
    }
    s = s.replace(REQUEST_ID, ` ${MASKS.requestid} `);

    // A name next to a cue that is really a resource ("employee records") is the resource.
    const named = new Set(this.matcher.match(this.words(s)).flatMap((m) => m.text.split(' ')));
    entities.people = findPeople(raw).filter((p) => p.kind !== 'name' || !this.words(fold(p.text)).every((w) => named.has(w)));
    for (const p of entities.people) {
      if (p.kind === 'manager') continue;
      const folded = fold(p.text).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      s = s.replace(new RegExp(`(^|[^a-z0-9@._-])${folded}(?=$|[^a-z0-9@_-])`, 'g'), `$1 ${MASKS.person} `);
    }

    const duration = findDuration(s, ctx);
    if (duration) {
      entities.duration = duration.entity;
      s = `${s.slice(0, duration.index)} ${MASKS.duration} ${s.slice(duration.index + duration.length)}`;
    }

    // Resources first, on the words as typed: the matcher has its own typo tolerance and
    // reports how exact the match was.
    let words = this.words(s);

    const found = this.matcher.match(words);
    if (found.length) {
      const seen = new Set<string>();
      for (const f of found) {
        if (seen.has(f.id)) continue;
        seen.add(f.id);
        const entity: ResourceEntity = { id: f.id, name: f.name, text: f.text, score: f.score };
        entities.resources.push(entity);
      }
      const masked: string[] = [];
      let i = 0;
      for (const f of found) {
        masked.push(...words.slice(i, f.start), MASKS.resource);
        i = f.end;
      }
      masked.push(...words.slice(i));
      words = masked;
    }
    if (!training) words = words.map((w) => this.correct(w));

    const features: Record<string, number> = {};
    const content: string[] = [];
    let unknown = 0;
    const stems = words.map((w) => (isMask(w) ? w : this.stemmer.stemWord(w)));
    stems.forEach((stem, i) => {
      if (!FUNCTION_WORDS.has(words[i]!)) content.push(stem);
      if (training || this.featureIntents.has(stem)) features[stem] = 1;
      else unknown += 1;
    });
    // Word pairs tell "approve my request" (is mine approved?) from "approve requests".
    for (let i = 0; i + 1 < stems.length; i++) {
      const pair = `${stems[i]}_${stems[i + 1]}`;
      if (training || this.featureIntents.has(pair)) features[pair] = BIGRAM_WEIGHT;
    }
    if (!training && unknown > 0) {
      // NLP.js's none feature grows with each unknown word; here it is the share of the
      // message the corpus does not know, so "my monitor flickers" (two of three words
      // unknown) leans to none instead of following the one word it knows.
      features[NONE_FEATURE] = unknown / words.length;
    }
    return { words, features, content, entities };
  }

  private words(s: string): string[] {
    return splitWords(expand(s));
  }

  /** The corpus word a typo most likely meant, or the word itself. */
  private correct(word: string): string {
    if (this.vocabulary.has(word) || isMask(word) || /\d/.test(word)) return word;
    const cached = this.corrections.get(word);
    if (cached !== undefined) return cached;
    const corrected = this.nearestWord(word);
    if (this.corrections.size >= 10_000) this.corrections.clear();
    this.corrections.set(word, corrected);
    return corrected;
  }

  private nearestWord(word: string): string {
    const allowed = typoAllowance(word.length);
    if (allowed === 0) return word;
    let best = word;
    let bestDistance = allowed + 1;
    let bestCount = 0;
    for (let len = word.length - allowed; len <= word.length + allowed; len++) {
      for (const candidate of this.vocabularyByLength.get(len) ?? []) {
        // Both must be long enough to carry a typo: "lol" is not a misspelt "log".
        const max = Math.min(allowed, typoAllowance(candidate.length));
        if (max === 0) continue;
        const d = editDistance(word, candidate, max);
        if (d > max) continue;
        const count = this.vocabulary.get(candidate) ?? 0;
        if (d < bestDistance || (d === bestDistance && count > bestCount)) {
          best = candidate;
          bestDistance = d;
          bestCount = count;
        }
      }
    }
    return bestDistance <= allowed ? best : word;
  }

  /**
   * Scores of every intent. NLP.js's network gives each intent an activation; as in NLP.js,
   * intents that share no word with the message are dropped and the rest are squared and
   * normalised. A linear model is confident on thin evidence, though ("my monitor flickers"
   * follows the one word it knows), so each intent keeps only as much of its share as the
   * message's content words support it (its coverage), and the rest goes to `none`.
   */
  private classify(prepared: PreparedMessage): ScoredIntent[] {
    const { features, content } = prepared;
    const outputs = this.network.run(features) ?? { none: 1 };
    const raw = new Map<Intent, number>();
    let total = 0;
    for (const intent of INTENTS) {
      let score = outputs[intent] ?? 0;
      if (intent !== 'none' && !Object.keys(features).some((f) => this.featureIntents.get(f)?.has(intent))) score = 0;
      score = score > 0 ? score * score : 0;
      total += score;
      raw.set(intent, score);
    }
    if (total <= 0) return INTENTS.map((intent) => ({ intent, confidence: intent === 'none' ? 1 : 0 })).sort((a, b) => b.confidence - a.confidence);
    let none = (raw.get('none') ?? 0) / total;
    const scored: ScoredIntent[] = [];
    for (const intent of INTENTS) {
      if (intent === 'none') continue;
      const share = raw.get(intent)! / total;
      const support = share > 0 ? this.support(intent, content) : 1;
      scored.push({ intent, confidence: share * support });
      none += share * (1 - support);
    }
    scored.push({ intent: 'none', confidence: none });
    for (const s of scored) s.confidence = Math.round(s.confidence * 10_000) / 10_000;
    return scored.sort((a, b) => b.confidence - a.confidence);
  }

  /** 1 when enough of the message's content words are words of `intent`'s sentences, less when fewer are. */
  private support(intent: Intent, content: readonly string[]): number {
    if (content.length === 0) return 1;
    let known = 0;
    for (const stem of content) if (this.featureIntents.get(stem)?.has(intent)) known += 1;
    return Math.min(1, known / content.length / COVERAGE_FOR_FULL_SUPPORT);
  }
}

/** Intents that start a change for the user (cancelling one is its own intent, and asks first anyway). */
const CHANGES: ReadonlySet<Intent> = new Set<Intent>(['password.reset', 'mfa.reset', 'account.unlock', 'access.request']);

/**
 * A wish negated: "don't / do not / never / no longer" shortly before a verb of wanting or
 * changing ("don't reset", "do not want", "no longer need"), or "not need/want". Inability is
 * not a negated wish: "I can't sign in", "not able to reset", "I don't remember my password".
 */
const NEGATED_WISH =
  /\b(?:(?:do|does|did|should|will|would)(?:n['\u2019]?t|\s+not)|dont|never|no\s+longer)\s+(?:[a-z]+\s+){0,2}?(?:need|want|reset|recover|unlock|request|give|grant|change|add)\b|\bnot\s+(?:need|want)\b/;

/** `REQ-1042`, `req 1042`, `req#1042`, `request 1042`, `request no. 1042`. */
// Each run of spaces has one way to be read (no two `\s*` side by side): a long run of them is not slow.
const REQUEST_ID = /\b(?:req|request)\s*(?:(?:[-#_:]|no\.?|number|nr\.?|id)\s*)?(?:#\s*)?0*(\d{1,9})\b/g;

/** The recognizer's own patterns over message text, for the test that runs them over adversarial text. */
export const RECOGNIZER_PATTERNS: readonly RegExp[] = [NEGATED_WISH, REQUEST_ID];

function withMasks(text: string): string {
  return text.replace(/@(resource|duration|requestid|person)\b/g, (_, k: keyof typeof MASKS) => ` ${MASKS[k]} `);
}

function isMask(w: string): boolean {
  return w === MASKS.resource || w === MASKS.duration || w === MASKS.requestid || w === MASKS.person;
}

/** A data file of this module, from the sources or from `dist/` (where only code is compiled). */
export function dataFile(...parts: string[]): string {
  const here = path.join(__dirname, ...parts);
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '..', '..', '..', 'bot', 'nlu', ...parts);
}
