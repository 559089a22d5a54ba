import type { ConversationReference } from 'botbuilder';
import type { Db } from './db';

/**
 * What access review campaigns keep: the campaign, one item per person and access under
 * review, the reviewers of each item, the decisions (one-time, guarded), what the close
 * auto-applied, the removals and when they took effect, where the review cards were posted,
 * and which occurrences of scheduled campaigns were handled. Every method is synchronous, so
 * the caller runs it in `store.transaction(...)` with the audit event of the change.
 */

export type AutoApply = 'deny' | 'keep' | 'none';
export type CampaignState = 'active' | 'closed' | 'cancelled';
export type ReviewDecision = 'keep' | 'remove';
export type ReviewerSource = 'manager' | 'owner' | 'group' | 'user' | 'fallback';
export type RemovalState = 'requested' | 'removed' | 'failed';
export type CloseReason = 'due' | 'all-decided' | 'technician';

/** What a campaign reviews, as resolved when it started (names kept for the evidence). */
export type CampaignScope =
  | { kind: 'group'; groupId: string; name: string }
  | { kind: 'resource'; resourceId: string; groupId: string; name: string }
  | { kind: 'department'; department: string; name: string }
  | { kind: 'user-access'; userId: string; groupIds: string[]; name: string };

/** Who was asked to review, as chosen when it started. */
export type CampaignReviewer =
  | { kind: 'manager' }
  | { kind: 'owner' }
  | { kind: 'group'; groupId: string; name: string }
  | { kind: 'user'; userId: string; name: string };

export interface Campaign {
  id: string;
  title: string;
  scope: CampaignScope;
  reviewer: CampaignReviewer;
  autoApply: AutoApply;
  inactiveDays: number | null;
  state: CampaignState;
  startedBy: { id: string; name: string };
  reason: string | null;
  scheduleId: string | null;
  occurrence: string | null;
  createdAt: string;
  dueAt: string;
  updatedAt: string;
  closedAt: string | null;
  closedBy: { id: string | null; name: string | null };
  closeReason: string | null;
}

/** What the reviewers were shown about one person's access (the decision helpers), frozen at the start. */
export interface ItemHelpers {
  department: string | null;
  jobTitle: string | null;
  managerName: string | null;
  accountEnabled: boolean;
  /** The grant the bot recorded for this access; null: no record (added outside the bot). */
  grant: { requestId: string; approvers: string[]; grantedAt: string | null; expiresAt: string | null } | null;
  /** ISO time of the last sign-in; null: none recorded; absent: the directory does not say. */
  lastSignIn?: string | null;
  /** Why the member's account is privileged (admin roles, protected or privileged groups); absent: it is not, or unknown. */
  privileged?: string;
}

export interface ReviewItem {
  id: number;
  campaignId: string;
  memberId: string;
  memberName: string;
  memberUpn: string;
  groupId: string;
  accessName: string;
  resourceId: string | null;
  helpers: ItemHelpers;
  decision: ReviewDecision | null;
  reason: string | null;
  decidedBy: { id: string | null; name: string | null };
  decidedAt: string | null;
  autoApplied: boolean;
  removalState: RemovalState | null;
  removalRequestedAt: string | null;
  removalEffectiveAt: string | null;
  /** `removed`, `not-member` (it was already gone), or the error of a removal that failed. */
  removalResult: string | null;
}

export interface ItemReviewer {
  itemId: number;
  reviewerId: string;
  reviewerName: string;
  source: ReviewerSource;
}

export interface NewCampaign {
  title: string;
  scope: CampaignScope;
  reviewer: CampaignReviewer;
  autoApply: AutoApply;
  inactiveDays: number | null;
  startedBy: { id: string; name: string };
  reason: string | null;
  scheduleId?: string | null;
  occurrence?: string | null;
  dueAt: Date;
}

export interface NewItem {
  campaignId: string;
  memberId: string;
  memberName: string;
  memberUpn: string;
  groupId: string;
  accessName: string;
  resourceId: string | null;
  helpers: ItemHelpers;
}

/** Progress of one reviewer: the items listed for them and how many of those are decided (by anyone). */
export interface ReviewerProgress {
  reviewerId: string;
  reviewerName: string;
  total: number;
  decided: number;
}

export interface CampaignCounts {
  total: number;
  decided: number;
  /** Decided by a reviewer (not auto-applied). */
  reviewed: number;
  kept: number;
  removed: number;
  autoApplied: number;
  undecided: number;
  removalsRequested: number;
  removalsDone: number;
  removalsFailed: number;
}

export type CardPurpose = 'reviewer' | 'progress' | 'report';

export interface ReviewCardRef {
  id: number;
  campaignId: string;
  purpose: CardPurpose;
  userId: string | null;
  page: number;
  conversationId: string;
  activityId: string;
  reference: Partial<ConversationReference>;
}

const CAMPAIGN_COLUMNS = `id, title, scope, reviewer, auto_apply, inactive_days, state, started_by_id, started_by_name, reason, schedule_id, occurrence,
  created_at, due_at, updated_at, closed_at, closed_by_id, closed_by_name, close_reason`;
const ITEM_COLUMNS = `id, campaign_id, member_id, member_name, member_upn, group_id, access_name, resource_id, helpers, decision, reason,
  decided_by_id, decided_by_name, decided_at, auto_applied, removal_state, removal_requested_at, removal_effective_at, removal_result`;
const CARD_COLUMNS = 'id, campaign_id, purpose, user_id, page, conversation_id, activity_id, reference';

const CAMPAIGN_ID = /^REV-\d{1,9}$/;

/** Is this a well-formed campaign id (`REV-1001`)? Card data and typed text are checked with it. */
export function isCampaignId(value: unknown): value is string {
  return typeof value === 'string' && CAMPAIGN_ID.test(value);
}

export class ReviewStore {
  private readonly s;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    const itemColumns = ITEM_COLUMNS.split(',').map((c) => `i.${c.trim()}`).join(', ');
    this.s = {
      next: db.prepare(`UPDATE sequences SET value = value + 1 WHERE name = 'access_review' RETURNING value`),
      insertCampaign: db.prepare(
        `INSERT INTO review_campaigns (id, title, scope, reviewer, auto_apply, inactive_days, state, started_by_id, started_by_name, reason,
           schedule_id, occurrence, created_at, due_at, updated_at)
         VALUES (@id, @title, @scope, @reviewer, @autoApply, @inactiveDays, 'active', @startedById, @startedByName, @reason,
           @scheduleId, @occurrence, @now, @dueAt, @now)`,
      ),
      get: db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM review_campaigns WHERE id = ?`),
      list: db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM review_campaigns ORDER BY state = 'active' DESC, created_at DESC, id DESC LIMIT ?`),
      active: db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM review_campaigns WHERE state = 'active' ORDER BY due_at, id`),
      close: db.prepare(
        `UPDATE review_campaigns SET state = @to, closed_at = @now, closed_by_id = @byId, closed_by_name = @byName, close_reason = @reason, updated_at = @now
         WHERE id = @id AND state = 'active'`,
      ),
      insertItem: db.prepare(
        `INSERT INTO review_items (campaign_id, member_id, member_name, member_upn, group_id, access_name, resource_id, helpers)
         VALUES (@campaignId, @memberId, @memberName, @memberUpn, @groupId, @accessName, @resourceId, @helpers)
         ON CONFLICT (campaign_id, member_id, group_id) DO NOTHING`,
      ),
      item: db.prepare(`SELECT ${ITEM_COLUMNS} FROM review_items WHERE id = ?`),
      items: db.prepare(`SELECT ${ITEM_COLUMNS} FROM review_items WHERE campaign_id = ? ORDER BY member_name, access_name, id`),
      itemsFor: db.prepare(
        `SELECT ${itemColumns} FROM review_items i JOIN review_item_reviewers r ON r.item_id = i.id
         WHERE i.campaign_id = ? AND r.reviewer_id = ? ORDER BY i.member_name, i.access_name, i.id`,
      ),
      addReviewer: db.prepare(
        `INSERT INTO review_item_reviewers (item_id, reviewer_id, reviewer_name, source) VALUES (@itemId, @reviewerId, @reviewerName, @source)
         ON CONFLICT DO NOTHING`,
      ),
      reviewersOf: db.prepare(`SELECT item_id, reviewer_id, reviewer_name, source FROM review_item_reviewers WHERE item_id = ? ORDER BY reviewer_name`),
      reviewer: db.prepare(`SELECT item_id, reviewer_id, reviewer_name, source FROM review_item_reviewers WHERE item_id = ? AND reviewer_id = ?`),
      progress: db.prepare(
        `SELECT r.reviewer_id, min(r.reviewer_name) AS reviewer_name, count(*) AS total, sum(i.decision IS NOT NULL) AS decided
         FROM review_item_reviewers r JOIN review_items i ON i.id = r.item_id
         WHERE i.campaign_id = ? GROUP BY r.reviewer_id ORDER BY reviewer_name`,
      ),
      decide: db.prepare(
        `UPDATE review_items SET decision = @decision, reason = @reason, decided_by_id = @byId, decided_by_name = @byName, decided_at = @now, auto_applied = @auto
         WHERE id = @id AND campaign_id = @campaignId AND decision IS NULL
           AND EXISTS (SELECT 1 FROM review_campaigns c WHERE c.id = @campaignId AND c.state = 'active')`,
      ),
      autoDecide: db.prepare(
        `UPDATE review_items SET decision = @decision, reason = @reason, decided_by_id = NULL, decided_by_name = @byName, decided_at = @now, auto_applied = 1
         WHERE id = @id AND campaign_id = @campaignId AND decision IS NULL`,
      ),
      requestRemoval: db.prepare(
        `UPDATE review_items SET removal_state = 'requested', removal_requested_at = @now WHERE id = @id AND decision = 'remove' AND removal_state IS NULL`,
      ),
      removed: db.prepare(
        `UPDATE review_items SET removal_state = 'removed', removal_effective_at = @at, removal_result = @result WHERE id = @id AND removal_state = 'requested'`,
      ),
      removalFailed: db.prepare(
        `UPDATE review_items SET removal_state = 'failed', removal_result = @error WHERE id = @id AND removal_state = 'requested'`,
      ),
      counts: db.prepare(
        `SELECT count(*) AS total,
                sum(decision IS NOT NULL) AS decided,
                sum(decision IS NOT NULL AND auto_applied = 0) AS reviewed,
                sum(decision = 'keep') AS kept,
                sum(decision = 'remove') AS removed,
                sum(auto_applied = 1) AS auto_applied,
                sum(decision IS NULL) AS undecided,
                sum(removal_state IS NOT NULL) AS removals_requested,
                sum(removal_state = 'removed') AS removals_done,
                sum(removal_state = 'failed') AS removals_failed
         FROM review_items WHERE campaign_id = ?`,
      ),
      insertCard: db.prepare(
        `INSERT INTO review_cards (campaign_id, purpose, user_id, page, conversation_id, activity_id, reference, created_at)
         VALUES (@campaignId, @purpose, @userId, @page, @conversationId, @activityId, @reference, @now)
         ON CONFLICT (conversation_id, activity_id) DO NOTHING`,
      ),
      cards: db.prepare(`SELECT ${CARD_COLUMNS} FROM review_cards WHERE campaign_id = ? AND purpose = ? ORDER BY id`),
      cardsOfUser: db.prepare(`SELECT ${CARD_COLUMNS} FROM review_cards WHERE campaign_id = ? AND purpose = 'reviewer' AND user_id = ? ORDER BY id`),
      setPage: db.prepare(`UPDATE review_cards SET page = @page WHERE campaign_id = @campaignId AND purpose = 'reviewer' AND user_id = @userId`),
      seen: db.prepare(`INSERT INTO review_schedule_state (schedule_id, first_seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING`),
      firstSeen: db.prepare(`SELECT first_seen_at FROM review_schedule_state WHERE schedule_id = ?`),
      recordRun: db.prepare(
        `INSERT INTO review_schedule_runs (schedule_id, occurrence, outcome, campaign_id, detail, at) VALUES (@scheduleId, @occurrence, @outcome, @campaignId, @detail, @now)
         ON CONFLICT DO NOTHING`,
      ),
      run: db.prepare(`SELECT schedule_id, occurrence, outcome, campaign_id, detail, at FROM review_schedule_runs WHERE schedule_id = ? AND occurrence = ?`),
      lastRun: db.prepare(`SELECT max(occurrence) AS occurrence FROM review_schedule_runs WHERE schedule_id = ?`),
    };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  // ---- campaigns -------------------------------------------------------------------------------

  /** Inserts an active campaign (`REV-1001`, ...) and returns it. */
  create(c: NewCampaign): Campaign {
    const { value } = this.s.next.get() as { value: number };
    const id = `REV-${value}`;
    this.s.insertCampaign.run({
      id,
      title: c.title.slice(0, 200),
      scope: JSON.stringify(c.scope),
      reviewer: JSON.stringify(c.reviewer),
      autoApply: c.autoApply,
      inactiveDays: c.inactiveDays,
      startedById: c.startedBy.id,
      startedByName: c.startedBy.name,
      reason: c.reason,
      scheduleId: c.scheduleId ?? null,
      occurrence: c.occurrence ?? null,
      dueAt: c.dueAt.toISOString(),
      now: this.now(),
    });
    return this.get(id)!;
  }

  get(id: string): Campaign | null {
    return toCampaign(this.s.get.get(id));
  }

  /** Active campaigns first (earliest due), then the most recent others. */
  list(limit = 20): Campaign[] {
    return this.s.list.all(limit).map((r) => toCampaign(r)!);
  }

  active(): Campaign[] {
    return this.s.active.all().map((r) => toCampaign(r)!);
  }

  /** Active -> closed or cancelled. False when it was not active any more. */
  end(id: string, to: 'closed' | 'cancelled', by: { id: string | null; name: string | null }, reason: string): boolean {
    return this.s.close.run({ id, to, byId: by.id, byName: by.name, reason, now: this.now() }).changes === 1;
  }

  // ---- items and reviewers --------------------------------------------------------------------

  /** Adds an item; null when the campaign already has this person and access. */
  addItem(item: NewItem): number | null {
    const r = this.s.insertItem.run({ ...item, helpers: JSON.stringify(item.helpers) });
    return r.changes === 1 ? Number(r.lastInsertRowid) : null;
  }

  addReviewer(r: ItemReviewer): void {
    this.s.addReviewer.run(r);
  }

  item(id: number): ReviewItem | null {
    return toItem(this.s.item.get(id));
  }

  items(campaignId: string): ReviewItem[] {
    return this.s.items.all(campaignId).map((r) => toItem(r)!);
  }

  /** The items listed for one reviewer, by member name. */
  itemsFor(campaignId: string, reviewerId: string): ReviewItem[] {
    return this.s.itemsFor.all(campaignId, reviewerId).map((r) => toItem(r)!);
  }

  reviewersOf(itemId: number): ItemReviewer[] {
    return this.s.reviewersOf.all(itemId).map(toReviewer);
  }

  reviewer(itemId: number, reviewerId: string): ItemReviewer | null {
    const row = this.s.reviewer.get(itemId, reviewerId);
    return row ? toReviewer(row) : null;
  }

  /** Decided out of listed, per reviewer. */
  progress(campaignId: string): ReviewerProgress[] {
    return (this.s.progress.all(campaignId) as Record<string, unknown>[]).map((r) => ({
      reviewerId: r.reviewer_id as string,
      reviewerName: r.reviewer_name as string,
      total: Number(r.total),
      decided: Number(r.decided ?? 0),
    }));
  }

  /**
   * A reviewer's decision: only while the item is undecided and its campaign active. False
   * when someone decided first or the campaign closed.
   */
  decide(d: { itemId: number; campaignId: string; decision: ReviewDecision; reason: string | null; by: { id: string; name: string } }): boolean {
    return (
      this.s.decide.run({ id: d.itemId, campaignId: d.campaignId, decision: d.decision, reason: d.reason, byId: d.by.id, byName: d.by.name, auto: 0, now: this.now() })
        .changes === 1
    );
  }

  /** The close applies the campaign's setting to an item nobody decided. */
  autoDecide(d: { itemId: number; campaignId: string; decision: ReviewDecision; reason: string; byName: string }): boolean {
    return this.s.autoDecide.run({ id: d.itemId, campaignId: d.campaignId, decision: d.decision, reason: d.reason, byName: d.byName, now: this.now() }).changes === 1;
  }

  counts(campaignId: string): CampaignCounts {
    const r = this.s.counts.get(campaignId) as Record<string, number | null>;
    const n = (k: string) => Number(r[k] ?? 0);
    return {
      total: n('total'),
      decided: n('decided'),
      reviewed: n('reviewed'),
      kept: n('kept'),
      removed: n('removed'),
      autoApplied: n('auto_applied'),
      undecided: n('undecided'),
      removalsRequested: n('removals_requested'),
      removalsDone: n('removals_done'),
      removalsFailed: n('removals_failed'),
    };
  }

  // ---- removals -------------------------------------------------------------------------------

  /** A removal decision handed to provisioning: false when it already was. */
  requestRemoval(itemId: number): boolean {
    return this.s.requestRemoval.run({ id: itemId, now: this.now() }).changes === 1;
  }

  markRemoved(itemId: number, at: Date, result: string): boolean {
    return this.s.removed.run({ id: itemId, at: at.toISOString(), result }).changes === 1;
  }

  markRemovalFailed(itemId: number, error: string): boolean {
    return this.s.removalFailed.run({ id: itemId, error: error.slice(0, 300) }).changes === 1;
  }

  // ---- cards ----------------------------------------------------------------------------------

  addCard(ref: { campaignId: string; purpose: CardPurpose; userId: string | null; page?: number; activityId: string; reference: Partial<ConversationReference> }): void {
    const conversationId = ref.reference.conversation?.id;
    if (!conversationId) throw new Error('card reference without a conversation id');
    // Only what an update needs; not tied to whatever was said last.
    const { activityId: _last, ...reference } = ref.reference;
    this.s.insertCard.run({
      campaignId: ref.campaignId,
      purpose: ref.purpose,
      userId: ref.userId,
      page: ref.page ?? 1,
      conversationId,
      activityId: ref.activityId,
      reference: JSON.stringify(reference),
      now: this.now(),
    });
  }

  cards(campaignId: string, purpose: CardPurpose): ReviewCardRef[] {
    return this.s.cards.all(campaignId, purpose).map(toCard);
  }

  cardsOf(campaignId: string, userId: string): ReviewCardRef[] {
    return this.s.cardsOfUser.all(campaignId, userId).map(toCard);
  }

  /** The page a reviewer last looked at, shown again when their cards are updated. */
  setPage(campaignId: string, userId: string, page: number): void {
    this.s.setPage.run({ campaignId, userId, page });
  }

  // ---- schedules ------------------------------------------------------------------------------

  /** When the bot first saw a schedule (recorded now when it never did). */
  firstSeen(scheduleId: string): string {
    this.s.seen.run(scheduleId, this.now());
    return (this.s.firstSeen.get(scheduleId) as { first_seen_at: string }).first_seen_at;
  }

  /** Records that an occurrence was handled; false when it already was (it never starts twice). */
  recordRun(r: { scheduleId: string; occurrence: string; outcome: 'started' | 'skipped'; campaignId: string | null; detail: string | null }): boolean {
    return this.s.recordRun.run({ ...r, detail: r.detail?.slice(0, 500) ?? null, now: this.now() }).changes === 1;
  }

  run(scheduleId: string, occurrence: string): { outcome: 'started' | 'skipped'; campaignId: string | null; detail: string | null; at: string } | null {
    const r = this.s.run.get(scheduleId, occurrence) as Record<string, string | null> | undefined;
    return r ? { outcome: r.outcome as 'started' | 'skipped', campaignId: r.campaign_id, detail: r.detail, at: r.at! } : null;
  }

  /** The latest occurrence handled, or null. */
  lastRun(scheduleId: string): string | null {
    return (this.s.lastRun.get(scheduleId) as { occurrence: string | null }).occurrence;
  }
}

function toCampaign(row: unknown): Campaign | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as string,
    title: r.title as string,
    scope: JSON.parse(r.scope as string),
    reviewer: JSON.parse(r.reviewer as string),
    autoApply: r.auto_apply as AutoApply,
    inactiveDays: (r.inactive_days as number | null) ?? null,
    state: r.state as CampaignState,
    startedBy: { id: r.started_by_id as string, name: r.started_by_name as string },
    reason: (r.reason as string | null) ?? null,
    scheduleId: (r.schedule_id as string | null) ?? null,
    occurrence: (r.occurrence as string | null) ?? null,
    createdAt: r.created_at as string,
    dueAt: r.due_at as string,
    updatedAt: r.updated_at as string,
    closedAt: (r.closed_at as string | null) ?? null,
    closedBy: { id: (r.closed_by_id as string | null) ?? null, name: (r.closed_by_name as string | null) ?? null },
    closeReason: (r.close_reason as string | null) ?? null,
  };
}

function toItem(row: unknown): ReviewItem | null {
  if (!row) return null;
  const r = row as Record<string, unknown>;
  return {
    id: r.id as number,
    campaignId: r.campaign_id as string,
    memberId: r.member_id as string,
    memberName: r.member_name as string,
    memberUpn: r.member_upn as string,
    groupId: r.group_id as string,
    accessName: r.access_name as string,
    resourceId: (r.resource_id as string | null) ?? null,
    helpers: JSON.parse(r.helpers as string),
    decision: (r.decision as ReviewDecision | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    decidedBy: { id: (r.decided_by_id as string | null) ?? null, name: (r.decided_by_name as string | null) ?? null },
    decidedAt: (r.decided_at as string | null) ?? null,
    autoApplied: r.auto_applied === 1,
    removalState: (r.removal_state as RemovalState | null) ?? null,
    removalRequestedAt: (r.removal_requested_at as string | null) ?? null,
    removalEffectiveAt: (r.removal_effective_at as string | null) ?? null,
    removalResult: (r.removal_result as string | null) ?? null,
  };
}

function toReviewer(row: unknown): ItemReviewer {
  const r = row as Record<string, unknown>;
  return { itemId: r.item_id as number, reviewerId: r.reviewer_id as string, reviewerName: r.reviewer_name as string, source: r.source as ReviewerSource };
}

function toCard(row: unknown): ReviewCardRef {
  const r = row as Record<string, unknown>;
  return {
    id: r.id as number,
    campaignId: r.campaign_id as string,
    purpose: r.purpose as CardPurpose,
    userId: (r.user_id as string | null) ?? null,
    page: r.page as number,
    conversationId: r.conversation_id as string,
    activityId: r.activity_id as string,
    reference: JSON.parse(r.reference as string),
  };
}
