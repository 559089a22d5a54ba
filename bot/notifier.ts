import { type Activity, type CloudAdapterBase, type ConversationParameters, type ConversationReference } from 'botbuilder';
import { AuthenticationConstants } from 'botframework-connector';
import type { Store } from '../store/store';
import type { StoredConversation } from '../store/conversation-refs';
import type { AppConfig } from './config';
import type { Logger } from './logger';

/** Where a proactive message landed: enough to update it in place later. */
export interface Delivered {
  conversationId: string;
  activityId: string;
  reference: Partial<ConversationReference>;
}

/**
 * Proactive messages: to a person's 1:1 chat with the bot (created when they never talked
 * to it), to the technicians' channel, and updates of messages already sent. Works outside
 * any turn (the scheduler uses it).
 */
export interface Notifier {
  sendToUser(userId: string, activity: Partial<Activity>): Promise<Delivered>;
  /** Replaces a message the bot sent earlier (a card after a decision). */
  update(reference: Partial<ConversationReference>, activityId: string, activity: Partial<Activity>): Promise<void>;
  /**
   * Posts to the technicians' channel ({@link findTechnicianChannel}); null when the bot knows
   * no such channel yet.
   */
  sendToTechnicians(activity: Partial<Activity>): Promise<Delivered | null>;
  /** The id Teams knows a user by in this bot's conversations (for `refresh.userIds`). */
  teamsUserId(userId: string): string;
}

/**
 * The channel technician notices go to, or null when the bot knows none yet. With
 * `TECHNICIAN_CHANNEL_IDS`, the latest of those channels the bot has seen. In production with
 * only `TECHNICIANS_TEAM_ID`, the team's General channel (Teams gives it the team's id), reached
 * through any reference the bot keeps of that team: never the channel a technician last spoke
 * in, which anyone who @mentions the bot beside a technician could have chosen. In local mode
 * without either, the demo's behaviour: the channel a technician last spoke in.
 */
export function findTechnicianChannel(config: AppConfig, conversations: Store['conversations']): StoredConversation | null {
  const team = config.proactive.techniciansTeamId;
  const ids = config.technicians.channelIds;
  if (config.mode === 'production' && !ids) {
    // loadConfig requires one of the two in production; without either, nowhere.
    if (!team) return null;
    const known = conversations.findChannel(team, null);
    if (!known) return null;
    const conversation = { ...(known.reference.conversation as object), id: team } as ConversationReference['conversation'];
    return { ...known, conversationId: team, channelId: team, reference: { ...known.reference, conversation } };
  }
  return conversations.findChannel(team, ids);
}

/**
 * Opens a 1:1 chat with someone who never talked to the bot, where the Bot Connector alone
 * cannot: Teams refuses to create a chat with a user who does not have the app. Installing
 * the app for them (through Microsoft Graph) creates that chat; its id is a conversation id.
 */
export interface ProactiveReach {
  /** The id of the user's 1:1 chat with the app, installing the app for them when needed. */
  chatWith(userId: string): Promise<string>;
}

/** A proactive send failed; `statusCode` is the connector's HTTP status when there was one. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/**
 * The Bot Framework implementation: `continueConversationAsync` with a saved conversation
 * reference; for someone the bot has no chat with yet, the chat the app's installation for
 * them created ({@link ProactiveReach}, when there is one), else `createConversationAsync`
 * (`POST {serviceUrl}/v3/conversations` with the member's Entra object id and the tenant).
 * The service URL, tenant and bot account for a new chat come from `BOT_SERVICE_URL` and the
 * configured tenant when set, else from the most recently saved reference.
 */
export class BotNotifier implements Notifier {
  constructor(
    private readonly adapter: CloudAdapterBase,
    private readonly config: AppConfig,
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly reach: ProactiveReach | null = null,
  ) {}

  async sendToUser(userId: string, activity: Partial<Activity>): Promise<Delivered> {
    const saved = this.store.conversations.findPersonal(userId);
    if (saved) {
      try {
        return await this.sendTo(saved.reference, activity);
      } catch (err) {
        // A chat that no longer exists (app uninstalled and reinstalled): start a new one.
        const status = statusOf(err);
        if (status !== 403 && status !== 404) throw toDeliveryError(err);
        this.logger.warn({ userId, status }, 'saved 1:1 chat refused the message; creating a new one');
      }
    }
    return this.createChat(userId, activity);
  }

  async update(reference: Partial<ConversationReference>, activityId: string, activity: Partial<Activity>): Promise<void> {
    try {
      await this.adapter.continueConversationAsync(this.config.bot.appId, reference, async (ctx) => {
        await ctx.updateActivity({ ...activity, id: activityId, type: activity.type ?? 'message', conversation: reference.conversation as Activity['conversation'] });
      });
    } catch (err) {
      throw toDeliveryError(err);
    }
  }

  async sendToTechnicians(activity: Partial<Activity>): Promise<Delivered | null> {
    const channel = findTechnicianChannel(this.config, this.store.conversations);
    if (!channel) return null;
    // A new thread in the channel, not a reply in whatever thread was last active.
    const root = channel.conversationId.split(';')[0]!;
    const reference = { ...channel.reference, conversation: { ...(channel.reference.conversation as object), id: root } } as Partial<ConversationReference>;
    return this.sendTo(reference, activity);
  }

  teamsUserId(userId: string): string {
    const saved = this.store.conversations.findPersonal(userId);
    const known = saved?.reference.user?.id;
    // The Teams id (`29:...`) from their chat with the bot, else their org MRI.
    return known?.startsWith('29:') && saved?.reference.user?.aadObjectId === userId ? known : `8:orgid:${userId}`;
  }

  private async sendTo(saved: Partial<ConversationReference>, activity: Partial<Activity>): Promise<Delivered> {
    // Not tied to whatever the person last said.
    const { activityId: _last, ...reference } = saved;
    let activityId: string | undefined;
    try {
      await this.adapter.continueConversationAsync(this.config.bot.appId, reference, async (ctx) => {
        activityId = (await ctx.sendActivity(activity))?.id;
      });
    } catch (err) {
      throw toDeliveryError(err);
    }
    if (!activityId) throw new DeliveryError('the connector returned no activity id');
    return { conversationId: reference.conversation!.id, activityId, reference };
  }

  private async createChat(userId: string, activity: Partial<Activity>): Promise<Delivered> {
    // The local chats (npm start) each hold one persona: a chat can only be made with someone
    // whose window was opened, and that window already introduced them. Anyone else cannot be
    // reached there; said at once, the playground's refusal would take seconds of retries and
    // hold up every job behind it.
    if (this.config.mode === 'local' && this.config.playground.enabled) {
      throw new DeliveryError('no chat window for this person in the local chat (only the demo personas have one)', 404);
    }
    const latest = this.store.conversations.latest();
    const serviceUrl = this.config.proactive.serviceUrl ?? latest?.reference.serviceUrl;
    const tenantId = this.config.bot.tenantId ?? latest?.reference.conversation?.tenantId;
    if (!serviceUrl || !tenantId) {
      throw new DeliveryError('no chat with this person yet, and no service URL and tenant to create one (set BOT_SERVICE_URL and BOT_TENANT_ID)');
    }
    const bot = latest?.reference.bot ?? { id: `28:${this.config.bot.appId}`, name: 'bot' };
    const member = { id: userId, aadObjectId: userId, name: '' };
    const conversationId = (await this.installedChat(userId)) ?? (await this.createConversation(serviceUrl, tenantId, bot, member));
    const reference: Partial<ConversationReference> = {
      channelId: 'msteams',
      serviceUrl,
      bot,
      user: member,
      conversation: { id: conversationId, conversationType: 'personal', tenantId, isGroup: false, name: '' },
    };
    // Remembered like a chat the person started, so the next message reuses it.
    this.store.conversations.save(reference, { kind: 'personal', userId });
    const delivered = await this.sendTo(reference, activity);
    this.logger.info({ userId }, 'created a 1:1 chat for a proactive message');
    return delivered;
  }

  /** The chat the app's installation for the user created; null (and the connector is asked) when that did not work. */
  private async installedChat(userId: string): Promise<string | null> {
    if (!this.reach) return null;
    try {
      return await this.reach.chatWith(userId);
    } catch (err) {
      this.logger.warn({ userId, err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'could not install the app for the user; asking the Bot Connector for the chat');
      return null;
    }
  }

  private async createConversation(serviceUrl: string, tenantId: string, bot: Partial<ConversationReference>['bot'], member: { id: string; aadObjectId: string; name: string }): Promise<string> {
    const parameters = {
      isGroup: false,
      bot,
      members: [member],
      tenantId,
      channelData: { tenant: { id: tenantId } },
    } as unknown as ConversationParameters;
    let conversationId: string | undefined;
    try {
      await this.adapter.createConversationAsync(
        this.config.bot.appId,
        'msteams',
        serviceUrl,
        AuthenticationConstants.ToChannelFromBotOAuthScope,
        parameters,
        async (ctx) => {
          conversationId = ctx.activity.conversation.id;
        },
      );
    } catch (err) {
      throw toDeliveryError(err);
    }
    if (!conversationId) throw new DeliveryError('the connector created no conversation');
    return conversationId;
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: number; response?: { status?: number } };
  return e?.statusCode ?? e?.response?.status;
}

function toDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  return new DeliveryError(`message not delivered: ${(err as Error)?.message ?? String(err)}`, statusOf(err));
}
