import type { ConversationReference } from 'botbuilder';
import type { Db } from './db';

/** One sent copy of a request's card: where it is, so it can be updated in place. */
export interface CardRef {
  id: number;
  requestId: string;
  userId: string;
  role: 'requester' | 'approver';
  /** The stage an approver's copy was sent for. */
  stage: number | null;
  conversationId: string;
  activityId: string;
  reference: Partial<ConversationReference>;
  createdAt: string;
}

/** Every copy of every request card the bot sent (requester's status card, each approver's card). */
export class CardRefs {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO card_refs (request_id, user_id, role, stage, conversation_id, activity_id, reference, created_at)
         VALUES (@requestId, @userId, @role, @stage, @conversationId, @activityId, @reference, @now)
         ON CONFLICT (conversation_id, activity_id) DO NOTHING`,
      ),
      forRequest: db.prepare(
        `SELECT id, request_id, user_id, role, stage, conversation_id, activity_id, reference, created_at FROM card_refs WHERE request_id = ? ORDER BY id`,
      ),
    };
  }

  add(ref: { requestId: string; userId: string; role: 'requester' | 'approver'; stage: number | null; activityId: string; reference: Partial<ConversationReference> }): void {
    const conversationId = ref.reference.conversation?.id;
    if (!conversationId) throw new Error('card reference without a conversation id');
    this.s.insert.run({
      requestId: ref.requestId,
      userId: ref.userId,
      role: ref.role,
      stage: ref.stage,
      conversationId,
      activityId: ref.activityId,
      reference: JSON.stringify(ref.reference),
      now: this.clock().toISOString(),
    });
  }

  forRequest(requestId: string): CardRef[] {
    return (this.s.forRequest.all(requestId) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number,
      requestId: r.request_id as string,
      userId: r.user_id as string,
      role: r.role as 'requester' | 'approver',
      stage: (r.stage as number | null) ?? null,
      conversationId: r.conversation_id as string,
      activityId: r.activity_id as string,
      reference: JSON.parse(r.reference as string),
      createdAt: r.created_at as string,
    }));
  }
}
