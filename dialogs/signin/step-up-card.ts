import { CardFactory, MessageFactory, type TurnContext } from 'botbuilder';
import type { UserTokenClient } from 'botframework-connector';

/**
 * Sends the OAuth card of the bot's step-up connection into the chat. The user is signed out
 * of the connection first, so the token that comes back is from a new sign-in, not the token
 * store's cache; the card has no token exchange resource, since Teams would then try single
 * sign-on, which is not a new sign-in either.
 */
export async function sendStepUpCard(context: TurnContext, connection: string, text = 'Sign in with your work account and MFA to prove it is you.'): Promise<void> {
  const client = context.turnState.get<UserTokenClient>((context.adapter as unknown as { UserTokenClientKey: symbol }).UserTokenClientKey);
  await client.signOutUser(context.activity.from.id, connection, context.activity.channelId);
  const resource = await client.getSignInResource(connection, context.activity as never, '');
  await context.sendActivity(MessageFactory.attachment(CardFactory.oauthCard(connection, 'Sign in again', text, resource.signInLink)));
}
