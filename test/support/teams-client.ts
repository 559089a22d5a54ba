import { randomUUID } from 'node:crypto';

export const TEST_BOT_ID = '28:helpdesk-bot';
export const TEST_BOT_NAME = 'Northwind IAM Helpdesk';
export const TEST_TEAM_ID = '19:identity-operations@thread.tacv2';
export const TEST_CHANNEL_ID = '19:helpdesk-channel@thread.tacv2';

export interface TestUser {
  id: string;
  displayName: string;
}

export interface SendOptions {
  /** Where the activity comes from: the user's 1:1 chat (default) or the technicians' channel. */
  where?: 'personal' | 'channel';
  /** Override the conversation id. */
  conversationId?: string;
}

export interface PostResult {
  status: number;
  body: any;
}

/**
 * Sends Teams-shaped activities to the bot's `/api/messages` over real HTTP, as any user,
 * with the fake connector as `serviceUrl`.
 */
export class TeamsClient {
  constructor(
    private readonly botUrl: string,
    private readonly serviceUrl: string,
    private readonly tenantId: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  /** The id of a user's 1:1 conversation with the bot in these tests. */
  personalConversationId(user: TestUser): string {
    return `a:personal-${user.id}`;
  }

  channelConversationId(): string {
    return `${TEST_CHANNEL_ID};messageid=1700000000000`;
  }

  base(user: TestUser, opts: SendOptions = {}): Record<string, any> {
    const where = opts.where ?? 'personal';
    const conversationId = opts.conversationId ?? (where === 'channel' ? this.channelConversationId() : this.personalConversationId(user));
    return {
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      localTimestamp: new Date().toISOString(),
      localTimezone: 'Europe/London',
      serviceUrl: this.serviceUrl,
      channelId: 'msteams',
      from: { id: `29:${user.id}`, name: user.displayName, aadObjectId: user.id },
      recipient: { id: TEST_BOT_ID, name: TEST_BOT_NAME },
      conversation:
        where === 'channel'
          ? { id: conversationId, conversationType: 'channel', isGroup: true, tenantId: this.tenantId }
          : { id: conversationId, conversationType: 'personal', tenantId: this.tenantId },
      locale: 'en-GB',
      channelData:
        where === 'channel'
          ? {
              tenant: { id: this.tenantId },
              teamsTeamId: TEST_TEAM_ID,
              teamsChannelId: TEST_CHANNEL_ID,
              team: { id: TEST_TEAM_ID, name: 'Identity Operations' },
              channel: { id: TEST_CHANNEL_ID, name: 'Helpdesk' },
            }
          : { tenant: { id: this.tenantId } },
    };
  }

  /** A text message. In a channel the text gets the bot's @mention, as Teams sends it. */
  message(user: TestUser, text: string, opts: SendOptions = {}): Promise<PostResult> {
    const activity: Record<string, any> = { ...this.base(user, opts), type: 'message', text, textFormat: 'plain' };
    if ((opts.where ?? 'personal') === 'channel') {
      const mention = `<at>${TEST_BOT_NAME}</at>`;
      activity.text = `${mention} ${text}`;
      activity.entities = [{ type: 'mention', text: mention, mentioned: { id: TEST_BOT_ID, name: TEST_BOT_NAME } }];
    }
    return this.post(activity);
  }

  /** An `adaptiveCard/action` invoke, as Teams sends for an `Action.Execute` click. */
  invoke(user: TestUser, verb: string, data: Record<string, unknown> = {}, opts: SendOptions = {}): Promise<PostResult> {
    return this.post({
      ...this.base(user, opts),
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', id: randomUUID(), verb, data }, trigger: 'manual' },
    });
  }

  /** The bot being added to a conversation (install), as a conversationUpdate. */
  botAdded(user: TestUser, opts: SendOptions = {}): Promise<PostResult> {
    return this.post({
      ...this.base(user, opts),
      type: 'conversationUpdate',
      membersAdded: [{ id: TEST_BOT_ID }],
    });
  }

  /** A user (not the bot) joining a conversation. */
  memberAdded(user: TestUser, member: TestUser, opts: SendOptions = {}): Promise<PostResult> {
    return this.post({ ...this.base(user, opts), type: 'conversationUpdate', membersAdded: [{ id: `29:${member.id}`, aadObjectId: member.id }] });
  }

  installationUpdate(user: TestUser, action = 'add', opts: SendOptions = {}): Promise<PostResult> {
    return this.post({ ...this.base(user, opts), type: 'installationUpdate', action });
  }

  /** Posts any activity body. */
  async post(activity: Record<string, any>): Promise<PostResult> {
    const res = await fetch(`${this.botUrl}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.headers },
      body: JSON.stringify(activity),
    });
    const text = await res.text();
    let body: any = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* plain text body */
    }
    return { status: res.status, body };
  }
}

/** The Adaptive Card of a sent activity, or undefined. */
export function cardOf(activity: any): any {
  return activity?.attachments?.find((a: any) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
}

/** Depth-first search for the card element (or action) with this `id`. */
export function findById(node: any, id: string): any {
  if (!node || typeof node !== 'object') return undefined;
  if (node.id === id) return node;
  for (const value of Object.values(node)) {
    const hit = Array.isArray(value) ? value.map((v) => findById(v, id)).find(Boolean) : findById(value, id);
    if (hit) return hit;
  }
  return undefined;
}

/** Every string in a card, joined: for "does the card mention X" checks. */
export function cardText(card: any): string {
  const out: string[] = [];
  const walk = (n: any) => {
    if (typeof n === 'string') out.push(n);
    else if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') Object.values(n).forEach(walk);
  };
  walk(card);
  return out.join('\n');
}
