import type { Activity } from 'botbuilder';
import type { Application, TurnState } from '@microsoft/teams-ai';
import type { Directory } from '../directory/directory';
import type { Store } from '../store/store';
import type { AppConfig } from './config';
import type { Logger } from './logger';

/** The product's name as people see it in chat. */
export const APP_NAME = 'Northwind IAM Helpdesk';

/** Everything a capability may use. Dialogs receive these ports; they never build them. */
export interface BotDeps {
  config: AppConfig;
  store: Store;
  directory: Directory;
  logger: Logger;
  technicianGroupId: string | null;
  clock: () => Date;
}

export type HelpdeskApp = Application<TurnState>;

/** True when a conversationUpdate announces the bot itself being added. */
export function botWasAdded(activity: Partial<Activity>): boolean {
  const botId = activity.recipient?.id;
  return Boolean(botId && activity.membersAdded?.some((m) => m.id === botId));
}
