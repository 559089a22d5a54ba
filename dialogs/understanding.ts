import { ActivityTypes, type TurnContext } from 'botbuilder';
import type { TurnState } from '@microsoft/teams-ai';
import { renderClarifyCard } from '../adaptive-cards/clarify';
import { renderNoticeCard } from '../adaptive-cards/notice';
import type { BotDeps, HelpdeskApp } from '../bot/deps';
import type { IntentRegistry, Understood } from '../bot/intents';
import type { MenuRegistry } from '../bot/menu';
import { defaultRecognizer } from '../bot/nlu';
import { findCompound, type Wish } from '../bot/nlu/compound';
import { detectLanguage, LANGUAGE_NAMES, type OtherLanguage } from '../bot/nlu/language';
import type { Recognizer } from '../bot/nlu/recognizer';
import { isIntent, type DurationEntity, type Entities, type Intent } from '../bot/nlu/types';
import { turnInfo } from '../bot/turn-info';
import { sendCard } from './reply';
import { NOT_UNDERSTOOD_TEXT, welcomeCardFor } from './welcome';

/**
 * Chat-first understanding: any text no exact command claimed goes through the recognizer.
 * A confident intent starts its flow (from the {@link IntentRegistry}) with the entities
 * pre-filled; an unsure one gets a "Did you mean ...?" card; nothing is ever done on a guess.
 *
 * Technician commands keep their own grammar: this route ignores channel conversations
 * (where technicians type commands) and messages that start with a command word.
 */

/** First words that belong to command grammars, never to the recognizer. */
// The technicians' command route (registered before this one) claims their commands, in a
// 1:1 chat too; these are the words that can only start a command, for anyone.
export const COMMAND_WORDS: readonly string[] = ['audit', 'whois', 'offboard', 'onboard'];

/** How long a clarifying question can be answered. */
const CLARIFY_TTL_MS = 15 * 60_000;

/** What a button or a reply calls each intent. */
export const INTENT_LABELS: Record<Intent, { button: string; phrase: string }> = {
  'password.reset': { button: 'Reset my password', phrase: 'reset your password' },
  'mfa.reset': { button: 'Recover my MFA / authenticator', phrase: 'recover your multi-factor sign-in (MFA), for example after losing or replacing your phone' },
  'account.unlock': { button: 'Unlock my account', phrase: 'unlock your account' },
  'signin.help': { button: "Find out why sign-in fails", phrase: 'find out why signing in does not work' },
  'access.request': { button: 'Request access', phrase: 'request access' },
  'access.status': { button: 'Check a request', phrase: 'check the status of an access request' },
  'access.cancel': { button: 'Cancel a request', phrase: 'cancel an access request' },
  'access.list': { button: 'See my access', phrase: 'see the access you have' },
  'approvals.pending': { button: 'See my pending approvals', phrase: 'see the requests waiting for your decision' },
  help: { button: 'Show what you can do', phrase: 'see what I can do' },
  greeting: { button: 'Just saying hello', phrase: 'say hello' },
  thanks: { button: 'Just saying thanks', phrase: 'say thanks' },
  none: { button: 'Something else', phrase: 'something else' },
};

/** A clarifying question waiting for its answer, kept in the conversation state (server-side truth). */
interface PendingClarification {
  options: Intent[];
  entities: Entities;
  askedAt: number;
  /** The card's message id: a click on an older card (Teams sends it as `replyToId`) is stale. */
  activityId?: string;
}

const STATE_KEY = 'understanding';

export interface UnderstandingOptions {
  recognizer?: Recognizer;
  commandWords?: readonly string[];
}

export function registerUnderstanding(app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry, intents: IntentRegistry, options: UnderstandingOptions = {}): void {
  const recognizer = options.recognizer ?? defaultRecognizer();
  deps.logger.info({ action: 'nlu.ready', trainingMs: Math.round(recognizer.trainingMs), sentences: recognizer.corpusSize }, 'intent recognizer trained');
  const commandWords = new Set((options.commandWords ?? COMMAND_WORDS).map((w) => w.toLowerCase()));

  const run = async (context: TurnContext, state: TurnState, understood: Understood): Promise<void> => {
    const handler = intents.get(understood.intent);
    if (handler) return handler(context, state, understood);
    switch (understood.intent) {
      case 'help':
        await sendCard(context, welcomeCardFor(context, menu));
        return;
      case 'greeting': {
        const { user } = turnInfo(context);
        await context.sendActivity(`Hi ${user.givenName ?? user.displayName}! I am the identity and access helpdesk. Tell me in your own words what you need, or type **help** to see what I can do.`);
        return;
      }
      case 'thanks':
        await context.sendActivity('You are welcome! If there is anything else, just ask, or type **help**.');
        return;
      case 'none':
        await context.sendActivity(NOT_UNDERSTOOD_TEXT);
        return;
      default:
        await context.sendActivity(notAvailableYet(understood));
    }
  };

  app.message(
    async (context) => {
      const a = context.activity;
      if (a.type !== ActivityTypes.Message || a.conversation?.conversationType === 'channel') return false;
      const text = (a.text ?? '').trim();
      if (!text) return false;
      const first = /^[a-z]+/i.exec(text)?.[0]?.toLowerCase();
      return !(first && commandWords.has(first));
    },
    async (context, state) => {
      const a = context.activity as typeof context.activity & { rawLocalTimestamp?: string };
      const text = a.text ?? '';
      // Another language is never read as English words (and so never starts a change).
      const language = detectLanguage(text);
      if (language.language !== 'en') {
        // Logged as the fallback is, without the text; the evidence words are the language's common words.
        deps.logger.info(
          { correlationId: turnInfo(context).correlationId, action: 'nlu.recognized', intent: 'none', decision: 'none', language: language.language },
          'message not in English',
        );
        delete conversation(state)[STATE_KEY];
        await context.sendActivity(notEnglishText(language.language));
        await sendCard(context, welcomeCardFor(context, menu));
        return;
      }
      const ctx = { timeZone: a.localTimezone, localTimestamp: a.rawLocalTimestamp ?? a.localTimestamp, now: deps.clock() };
      const recognition = recognizer.recognize(text, ctx);
      const decision = recognizer.decide(recognition);
      // Two wishes in one message: the first is started, the others only reported.
      const compound = findCompound(recognizer, text, ctx);
      // Never the text: people paste passwords into chats.
      deps.logger.info(
        {
          correlationId: turnInfo(context).correlationId,
          action: 'nlu.recognized',
          intent: recognition.intent,
          confidence: recognition.confidence,
          decision: compound
            ? `act:${compound.first.intent}`
            : decision.kind === 'clarify'
              ? `clarify:${decision.options.join(',')}`
              : decision.kind === 'act'
                ? `act:${decision.intent}`
                : 'none',
          ...(compound?.others.length ? { notActedOn: compound.others.map((w) => w.intent).join(',') } : {}),
        },
        'message understood',
      );
      delete conversation(state)[STATE_KEY];
      if (compound) {
        const { first, others } = compound;
        if (others.length) await context.sendActivity(notActedOnText(first, others));
        // Only the part of the message this wish was read from: never the other wishes' words in its reason.
        await run(context, state, { intent: first.intent, confidence: first.recognition.confidence, entities: first.recognition.entities, source: 'text', text: first.text });
      } else if (decision.kind === 'act') {
        await run(context, state, { intent: decision.intent, confidence: recognition.confidence, entities: recognition.entities, source: 'text', text });
      } else if (decision.kind === 'clarify') {
        const facts = describeEntities(recognition.entities);
        const id = await sendCard(
          context,
          renderClarifyCard({
            title: 'Did you mean...?',
            text: 'I am not sure what you need. Pick one, and I will take it from there:',
            facts,
            options: decision.options.map((intent) => ({ intent, label: INTENT_LABELS[intent].button })),
            otherLabel: INTENT_LABELS.none.button,
            footer: facts.length ? 'What I picked up from your message is kept for the next step.' : 'You can also rephrase, or type help.',
          }),
        );
        const pending: PendingClarification = { options: decision.options, entities: recognition.entities, askedAt: deps.clock().getTime(), activityId: id };
        conversation(state)[STATE_KEY] = pending;
      } else {
        await run(context, state, { intent: 'none', confidence: recognition.confidence, entities: recognition.entities, source: 'text', text });
      }
    },
  );

  app.adaptiveCards.actionExecute<{ intent?: unknown }>('understanding.choose', async (context, state, data) => {
    const pending = conversation(state)[STATE_KEY] as PendingClarification | undefined;
    const chosen = data?.intent;
    const replyTo = context.activity.replyToId;
    const now = deps.clock().getTime();
    // The card carries only the intent key; what may be chosen, and the entities, come from the state.
    if (
      !pending ||
      !isIntent(chosen) ||
      now - pending.askedAt > CLARIFY_TTL_MS ||
      now < pending.askedAt ||
      (replyTo && pending.activityId && replyTo !== pending.activityId) ||
      (chosen !== 'none' && !pending.options.includes(chosen))
    ) {
      return renderNoticeCard({ title: 'This question is no longer active', text: 'Please tell me again what you need, or type help.', tone: 'warning' });
    }
    delete conversation(state)[STATE_KEY];
    await run(context, state, { intent: chosen, confidence: 1, entities: pending.entities, source: 'choice' });
    return renderNoticeCard({ title: `You chose: ${INTENT_LABELS[chosen].button}`, text: chosen === 'none' ? 'Tell me in other words what you need, or type help.' : 'Thanks, see my answer below.' });
  });
}

/**
 * The honest answer for an intent whose flow is not in chat yet: what was understood, and
 * that nothing was done.
 */
export function notAvailableYet(understood: Understood): string {
  const facts = describeEntities(understood.entities);
  const details = facts.length ? ` (${facts.map((f) => `${f.title.toLowerCase()}: **${f.value}**`).join(', ')})` : '';
  return (
    `I understood that you want to **${INTENT_LABELS[understood.intent].phrase}**${details}. ` +
    'I cannot do that in chat yet, so nothing has been requested or changed. Please contact the IT service desk for now.'
  );
}

/** How the answer to a message with several wishes names the one it starts. */
function startingWith(w: Wish): string {
  const e = w.recognition.entities;
  const names = e.resources.map((r) => r.name).join(' and ');
  const ids = e.requestIds.join(' and ');
  switch (w.intent) {
    case 'password.reset':
      return 'your password reset';
    case 'mfa.reset':
      return 'recovering your multi-factor sign-in (MFA)';
    case 'account.unlock':
      return 'unlocking your account';
    case 'signin.help':
      return 'finding out why signing in does not work';
    case 'access.request':
      return e.resources.length ? `your request for ${e.resources[0]!.name}` : 'your access request';
    case 'access.status':
      return ids ? `the status of ${ids}` : names ? `your ${names} request` : 'your requests';
    case 'access.cancel':
      return ids ? `cancelling ${ids}` : names ? `cancelling your ${names} request` : 'cancelling a request';
    case 'access.list':
      return 'the access you have';
    case 'approvals.pending':
      return 'what is waiting for your decision';
    default:
      return INTENT_LABELS[w.intent].phrase;
  }
}

/** How to ask for a wish that was not acted on: what it is, and words that start it. */
function askFor(w: Wish): { what: string; say: string } {
  const e = w.recognition.entities;
  const names = e.resources.map((r) => r.name);
  const id = e.requestIds[0];
  switch (w.intent) {
    case 'password.reset':
      return { what: 'to reset your password', say: 'reset my password' };
    case 'mfa.reset':
      return { what: 'to recover your MFA', say: 'recover my MFA' };
    case 'account.unlock':
      return { what: 'to unlock your account', say: 'unlock my account' };
    case 'signin.help':
      return { what: 'why you cannot sign in', say: "I can't sign in" };
    case 'access.request':
      return names.length ? { what: `for ${names.join(' and ')} access`, say: `I need access to ${names[0]}` } : { what: 'for access', say: 'request access' };
    case 'access.status':
      return id ? { what: `about ${id}`, say: `status ${id}` } : { what: 'about your requests', say: 'my requests' };
    case 'access.cancel':
      return id ? { what: `to cancel ${id}`, say: `cancel ${id}` } : { what: names.length ? `to cancel your ${names.join(' and ')} request` : 'to cancel a request', say: 'my requests' };
    case 'access.list':
      return { what: 'what access you have', say: 'what access do I have' };
    case 'approvals.pending':
      return { what: 'what is waiting for your decision', say: "what's waiting for me" };
    default:
      return { what: `to ${INTENT_LABELS[w.intent].phrase}`, say: 'help' };
  }
}

/**
 * The answer's first line when a message asks for several things: one change at a time, each
 * with its own confirmation, so what else was asked is named, with the words that start it.
 */
export function notActedOnText(first: Wish, others: readonly Wish[]): string {
  const asks = others.map((w) => {
    const { what, say } = askFor(w);
    return `${what} ("**${say}**")`;
  });
  const list = asks.length === 1 ? asks[0]! : `${asks.slice(0, -1).join(', ')} and then ${asks[asks.length - 1]}`;
  return (
    `You asked for more than one thing. I'll start with ${startingWith(first)}; ` +
    `nothing has been done about the rest yet. Once this is done, ask me ${list}.`
  );
}

/** "I only understand English" in the language the message was written in. */
const ENGLISH_ONLY: Record<OtherLanguage, string> = {
  de: 'Ich verstehe nur Englisch.',
  fr: "Je ne comprends que l'anglais.",
  es: 'Solo entiendo inglés.',
  it: "Capisco solo l'inglese.",
  nl: 'Ik begrijp alleen Engels.',
  pt: 'Só entendo inglês.',
  pl: 'Rozumiem tylko po angielsku.',
};

/** The answer to a message in another language: this helpdesk understands English, with examples. */
export function notEnglishText(language: OtherLanguage): string {
  return (
    `${ENGLISH_ONLY[language]} Your message looks like ${LANGUAGE_NAMES[language]}, and I understand English only, so nothing has been done. ` +
    'Please write in English, for example "**I forgot my password**", "**unlock my account**" or "**I need access to the VPN**", ' +
    'or pick from the menu below (type **help** to see it again).'
  );
}

/** The entities as short facts for people to read. */
export function describeEntities(e: Entities): Array<{ title: string; value: string }> {
  const facts: Array<{ title: string; value: string }> = [];
  if (e.resources.length) facts.push({ title: e.resources.length > 1 ? 'Resources' : 'Resource', value: e.resources.map((r) => r.name).join(', ') });
  if (e.duration) facts.push(describeDuration(e.duration));
  if (e.requestIds.length) facts.push({ title: e.requestIds.length > 1 ? 'Requests' : 'Request', value: e.requestIds.join(', ') });
  if (e.people.length) {
    facts.push({
      title: 'About',
      value: e.people.map((p) => (p.kind === 'manager' ? 'your manager' : p.kind === 'upn' ? p.upn : p.name)).join(', '),
    });
  }
  return facts;
}

function describeDuration(d: DurationEntity): { title: string; value: string } {
  if (d.permanent) return { title: 'Duration', value: 'permanent' };
  if (d.untilDate) {
    const [y, m, day] = d.untilDate.split('-').map(Number) as [number, number, number];
    const weekday = WEEKDAY_NAMES[new Date(Date.UTC(y, m - 1, day)).getUTCDay()];
    const date = `${weekday} ${day} ${MONTH_NAMES[m - 1]} ${y}`;
    return { title: 'Until', value: `end of ${date}${d.timeZone ? ` (${d.timeZone})` : ''}` };
  }
  const hours = d.hours ?? 0;
  const value =
    hours !== 0 && hours % (24 * 7) === 0 ? plural(hours / (24 * 7), 'week') : hours % 24 === 0 ? plural(hours / 24, 'day') : plural(Math.round(hours * 100) / 100, 'hour');
  return { title: 'Duration', value };
}

const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function conversation(state: TurnState): Record<string, unknown> {
  return state.conversation as Record<string, unknown>;
}
