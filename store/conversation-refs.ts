import type { ConversationReference } from 'botbuilder';
import type { Db } from './db';

export type ConversationKind = 'personal' | 'channel' | 'groupChat';

export interface StoredConversation {
  conversationId: string;
  kind: ConversationKind;
  userId: string | null;
  teamId: string | null;
  channelId: string | null;
  reference: Partial<ConversationReference>;
  updatedAt: string;
}

/**
 * Conversation references captured on every turn, so the bot can later message a person
 * (their 1:1 chat) or a team channel proactively, e.g. from the scheduler.
 */
export class ConversationRefs {
  private readonly upsert;
  /** What this process last stored per conversation, to skip identical writes. */
  private readonly recent = new Map<string, string>();
  private readonly byUser;
  private readonly byChannel;
  private readonly byChannelAll;
  private readonly latestStmt;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.upsert = db.prepare(
      `INSERT INTO conversation_refs (conversation_id, conversation_type, user_id, tenant_id, team_id, channel_id, service_url, reference, updated_at)
       VALUES (@conversationId, @kind, @userId, @tenantId, @teamId, @channelId, @serviceUrl, @reference, @updatedAt)
       ON CONFLICT (conversation_id) DO UPDATE SET conversation_type = excluded.conversation_type, user_id = excluded.user_id,
         tenant_id = excluded.tenant_id, team_id = excluded.team_id, channel_id = excluded.channel_id,
         service_url = excluded.service_url, reference = excluded.reference, updated_at = excluded.updated_at`,
    );
    this.byUser = db.prepare(
      `SELECT conversation_id, conversation_type, user_id, team_id, channel_id, reference, updated_at
       FROM conversation_refs WHERE user_id = ? AND conversation_type = 'personal' ORDER BY updated_at DESC LIMIT 1`,
    );
    this.byChannel = db.prepare(
      `SELECT conversation_id, conversation_type, user_id, team_id, channel_id, reference, updated_at
       FROM conversation_refs WHERE conversation_type = 'channel' AND (? IS NULL OR team_id = ?) ORDER BY updated_at DESC LIMIT 1`,
    );
    this.byChannelAll = db.prepare(
      `SELECT conversation_id, conversation_type, user_id, team_id, channel_id, reference, updated_at
       FROM conversation_refs WHERE conversation_type = 'channel' AND (? IS NULL OR team_id = ?) ORDER BY updated_at DESC`,
    );
    this.latestStmt = db.prepare(
      `SELECT conversation_id, conversation_type, user_id, team_id, channel_id, reference, updated_at
       FROM conversation_refs ORDER BY updated_at DESC LIMIT 1`,
    );
  }

  /**
   * Records the reference of the conversation a turn came from. For a 1:1 chat it is keyed
   * to the user's directory id; for a channel to its team and channel.
   */
  save(ref: Partial<ConversationReference>, info: { kind: ConversationKind; userId: string | null; teamId?: string | null; channelId?: string | null }): void {
    const conversationId = ref.conversation?.id;
    if (!conversationId || !ref.serviceUrl) return;
    // The activity id changes every turn and a proactive message does not need it.
    const { activityId: _activityId, ...stable } = ref;
    const reference = JSON.stringify(stable);
    const key = `${info.kind}|${info.userId ?? ''}|${info.teamId ?? ''}|${info.channelId ?? ''}|${reference}`;
    // Most turns come from a conversation whose reference is already stored as it is.
    if (this.recent.get(conversationId) === key) return;
    if (this.recent.size >= 10_000) this.recent.clear();
    this.recent.set(conversationId, key);
    this.upsert.run({
      conversationId,
      kind: info.kind,
      userId: info.kind === 'personal' ? info.userId : null,
      tenantId: ref.conversation?.tenantId ?? null,
      teamId: info.teamId ?? null,
      channelId: info.channelId ?? null,
      serviceUrl: ref.serviceUrl,
      reference,
      updatedAt: this.clock().toISOString(),
    });
  }

  /** The user's 1:1 chat with the bot, if they ever talked to it. */
  findPersonal(userId: string): StoredConversation | null {
    return toStored(this.byUser.get(userId));
  }

  /** The most recently saved reference of any conversation: its service URL, tenant and bot account serve to create new chats. */
  latest(): StoredConversation | null {
    return toStored(this.latestStmt.get());
  }

  /**
   * The most recently used channel, optionally of one team and, with `channelIds`, only one of
   * those channels (the technicians' allow-list: a channel commands are refused in is not theirs).
   */
  findChannel(teamId: string | null = null, channelIds: readonly string[] | null = null): StoredConversation | null {
    if (!channelIds) return toStored(this.byChannel.get(teamId, teamId));
    const allowed = new Set(channelIds);
    for (const row of this.byChannelAll.iterate(teamId, teamId)) {
      const stored = toStored(row)!;
      if (stored.channelId !== null && allowed.has(stored.channelId)) return stored;
    }
    return null;
  }
}

function toStored(row: unknown): StoredConversation | null {
  if (!row) return null;
  const r = row as Record<string, string | null>;
  return {
    conversationId: r.conversation_id!,
    kind: r.conversation_type as ConversationKind,
    userId: r.user_id ?? null,
    teamId: r.team_id ?? null,
    channelId: r.channel_id ?? null,
    reference: JSON.parse(r.reference!),
    updatedAt: r.updated_at!,
  };
}
