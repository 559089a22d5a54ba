import { ActivityTypes, type TurnContext } from 'botbuilder';
import type { Logger } from './logger';
import { turnInfo } from './turn-info';

/**
 * The one bound on what a turn reads: a message whose text is longer than the configured
 * limit is answered with a short "too long" and goes no further (no route, no recognizer, no
 * command parser). Every pattern that reads user text is linear on its own as well; this
 * keeps even linear work small and the answer clear, far below Teams' own ~28 KB.
 */

/** Default `MAX_MESSAGE_CHARS`: a long paragraph, never a pasted log or an attack string. */
export const DEFAULT_MAX_MESSAGE_CHARS = 4000;

/** What the user is told; it never quotes the message. */
export function tooLongText(maxChars: number): string {
  return `That message is too long for me (I read at most ${maxChars.toLocaleString('en-US')} characters); please write it in fewer words.`;
}

/**
 * A `beforeTurn` check, run after admission: false (and the answer sent) when the turn is a
 * message whose text is over `maxChars`. Only logged, never audited: nothing changed, and
 * the text itself may hold a pasted secret, so only its length is recorded.
 */
export async function admitMessageLength(context: TurnContext, maxChars: number, logger: Logger): Promise<boolean> {
  const activity = context.activity;
  if (activity.type !== ActivityTypes.Message) return true;
  const text: unknown = activity.text;
  // A channel that sends text that is not a string sends nothing a route could read.
  if (typeof text !== 'string') {
    if (text !== undefined && text !== null) activity.text = '';
    return true;
  }
  if (text.length <= maxChars) return true;
  const info = turnInfo(context);
  logger.warn({ correlationId: info.correlationId, actor: info.user.id, action: 'message.too-long', length: text.length, maxChars }, 'message too long, not read');
  // The text is dropped from the turn, so nothing after this (state, logs of other handlers) carries it.
  activity.text = '';
  await context.sendActivity(tooLongText(maxChars));
  return false;
}
