import { expect } from 'vitest';
import { ReviewStore } from '../../store/reviews';
import { cardProblems } from '../cards/validate';
import type { Harness } from '../support/harness';
import { cardOf, findById, type TestUser } from '../support/teams-client';

/** Helpers of the access review wire tests: reviewers' cards as sent and updated, their lines, clicks. */

export function reviewStore(h: Harness): ReviewStore {
  return new ReviewStore(h.bot.store.db);
}

/** Every review card of `campaignId` sent to a user's 1:1 chat, in order. */
export function reviewCardsSent(h: Harness, userId: string, campaignId: string): any[] {
  const conv = h.bot.store.conversations.findPersonal(userId)?.conversationId;
  if (!conv) return [];
  return h.connector
    .sentTo(conv)
    .map(cardOf)
    .filter((c) => c && String(findById(c, 'review-title')?.text ?? '').startsWith(`${campaignId} `));
}

/** The latest version of a user's review card: the last update of a stored copy, or the last one sent. */
export function currentReviewCard(h: Harness, userId: string, campaignId: string): any {
  const refs = reviewStore(h).cardsOf(campaignId, userId);
  let latest: any = null;
  let latestIndex = -1;
  for (const ref of refs) {
    h.connector.calls.forEach((c, i) => {
      if (c.kind === 'update' && c.conversationId === ref.conversationId && c.activityId === ref.activityId && i > latestIndex) {
        latest = cardOf(c.body);
        latestIndex = i;
      }
    });
  }
  if (latest) return latest;
  const sent = reviewCardsSent(h, userId, campaignId);
  return sent[sent.length - 1];
}

/** The latest version of the technicians' progress (or report) card of a campaign. */
export function currentStatusCard(h: Harness, campaignId: string, purpose: 'progress' | 'report' = 'progress'): any {
  const refs = reviewStore(h).cards(campaignId, purpose);
  expect(refs.length).toBeGreaterThan(0);
  const ref = refs[refs.length - 1]!;
  const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === ref.conversationId && c.activityId === ref.activityId);
  if (updates.length) return cardOf(updates[updates.length - 1]!.body);
  return h.connector
    .sentTo(ref.conversationId)
    .map(cardOf)
    .filter((c) => c && String(findById(c, 'review-status-title')?.text ?? '').startsWith(`${campaignId} `))
    .pop();
}

/** The lines of a reviewer's card: item id by heading ("Jonas Weber · Payroll Reports"). */
export function linesOf(card: any): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (n: any) => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      const m = typeof n.id === 'string' ? /^review-item-(\d+)$/.exec(n.id) : null;
      if (m) out.set(String(findById(n, `review-item-title-${m[1]}`)?.text ?? ''), Number(m[1]));
      Object.values(n).forEach(walk);
    }
  };
  walk(card?.body ?? []);
  return out;
}

/** The item id of a person's line on a card. */
export function lineOf(card: any, memberName: string): number {
  for (const [heading, id] of linesOf(card)) if (heading.startsWith(`${memberName} · `)) return id;
  throw new Error(`no line for ${memberName} on the card: ${[...linesOf(card).keys()].join(', ')}`);
}

/** The facts of a line, as title → value. */
export function lineFacts(card: any, itemId: number): Record<string, string> {
  const facts = findById(card, `review-item-facts-${itemId}`)?.facts ?? [];
  return Object.fromEntries(facts.map((f: any) => [f.title, f.value]));
}

/** Clicks a review card button as `user` and returns the replacement card (validated). */
export async function press(h: Harness, user: TestUser, verb: string, data: Record<string, unknown>, where: 'personal' | 'channel' = 'personal'): Promise<any> {
  const res = await h.client.invoke(user, verb, data, { where });
  expect(res.status).toBe(200);
  const card = res.body?.value;
  expect(cardProblems(card)).toEqual([]);
  return card;
}

/** Keep or Remove on one line, with the reason typed in its box (as Teams sends the card's inputs). */
export function decide(h: Harness, user: TestUser, campaignId: string, itemId: number, decision: 'keep' | 'remove', reason?: string, page = 1): Promise<any> {
  return press(h, user, `review.${decision}`, { campaign: campaignId, item: itemId, page, ...(reason !== undefined ? { [`reason-${itemId}`]: reason } : {}) });
}

export function banner(card: any): string {
  return String(findById(card, 'review-banner')?.text ?? '');
}

/** Parses the evidence CSV sent in chat (code blocks), skipping `#` comment lines. */
export function parseEvidence(texts: string[]): { comments: string[]; rows: Array<Record<string, string>> } {
  const lines = texts.flatMap((t) => t.replace(/^```\n/, '').replace(/\n```$/, '').split('\n'));
  const comments = lines.filter((l) => l.startsWith('#'));
  const data = lines.filter((l) => !l.startsWith('#'));
  const [header, ...rows] = data.map(parseCsvLine);
  return { comments, rows: rows.map((r) => Object.fromEntries(header!.map((k, i) => [k, r[i] ?? '']))) };
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}
