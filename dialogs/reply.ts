import { CardFactory, MessageFactory, type TurnContext } from 'botbuilder';
import type { AdaptiveCardJson } from '../adaptive-cards/render';

/** Sends an Adaptive Card as a new message in the turn's conversation. */
export async function sendCard(context: TurnContext, card: AdaptiveCardJson): Promise<string | undefined> {
  const response = await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(card)));
  return response?.id;
}
