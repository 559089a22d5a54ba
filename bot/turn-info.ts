import type { TurnContext } from 'botbuilder';
import type { DirectoryUser } from '../directory/directory';
import type { AuditActor } from '../store/audit-trail';
import type { Roles } from './roles';

/** What the bot established about a turn before any route runs. */
export interface TurnInfo {
  correlationId: string;
  /** The acting user, resolved in the directory from `activity.from.aadObjectId`. */
  user: DirectoryUser;
  roles: Roles;
  conversationKind: 'personal' | 'channel' | 'groupChat';
}

const KEY = Symbol('helpdesk.turnInfo');

export function setTurnInfo(context: TurnContext, info: TurnInfo): void {
  context.turnState.set(KEY, info);
}

/** The turn's acting user and roles. Throws if called for a turn that was not admitted. */
export function turnInfo(context: TurnContext): TurnInfo {
  const info = context.turnState.get(KEY) as TurnInfo | undefined;
  if (!info) throw new Error('turn has no resolved user');
  return info;
}

/** The turn's acting user as an audit actor. */
export function auditActor(context: TurnContext): AuditActor {
  const { user } = turnInfo(context);
  return { id: user.id, name: user.displayName };
}
