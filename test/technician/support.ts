import { expect } from 'vitest';
import { DemoAuthenticatorCodes } from '../../directory/demo-authenticator';
import { cardProblems } from '../cards/validate';
import type { Harness } from '../support/harness';
import { cardOf, cardText, findById, TEST_CHANNEL_ID, type TestUser } from '../support/teams-client';

/** Helpers of the technician command tests: talk as a technician, read what came back, follow plan cards. */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export function person(h: Harness, displayName: string): TestUser & { userPrincipalName: string } {
  const u = h.tenant.users.find((x) => x.displayName === displayName);
  if (!u) throw new Error(`no demo user ${displayName}`);
  return { id: u.id, displayName: u.displayName, userPrincipalName: u.userPrincipalName };
}

export const sarah = (h: Harness) => h.user('technician');
export const ahmed = (h: Harness) => person(h, 'Ahmed Farouk');

/**
 * Teams charts are not in the Adaptive Cards 1.5 object model the validator knows: each
 * `Chart.*` element is checked for the shape Teams documents (a title and data points) and
 * for a fallback, which replaces it for the object model's check of the rest of the card.
 */
export function problems(card: any): string[] {
  const out: string[] = [];
  const swap = (node: any): any => {
    if (Array.isArray(node)) return node.map(swap);
    if (!node || typeof node !== 'object') return node;
    if (typeof node.type === 'string' && node.type.startsWith('Chart.')) {
      if (!['Chart.Pie', 'Chart.Donut', 'Chart.VerticalBar', 'Chart.HorizontalBar', 'Chart.Line', 'Chart.VerticalBar.Grouped', 'Chart.HorizontalBar.Stacked', 'Chart.Gauge'].includes(node.type)) out.push(`unknown chart ${node.type}`);
      if (!Array.isArray(node.data) || node.data.length === 0) out.push(`${node.id}: no data`);
      for (const p of node.data ?? []) {
        if (node.type === 'Chart.Pie' || node.type === 'Chart.Donut') {
          if (typeof p.legend !== 'string' || typeof p.value !== 'number') out.push(`${node.id}: pie point needs legend and a numeric value`);
        } else if (typeof p.x !== 'string' || typeof p.y !== 'number') out.push(`${node.id}: bar point needs x and a numeric y`);
      }
      if (!node.fallback || typeof node.fallback !== 'object') out.push(`${node.id}: no fallback`);
      return swap(node.fallback);
    }
    const copy: any = {};
    for (const [k, v] of Object.entries(node)) copy[k] = swap(v);
    return copy;
  };
  const plain = swap(card);
  return [...out, ...cardProblems(plain)];
}

export interface Said {
  texts: string[];
  cards: any[];
  all: any[];
}

/** Sends a line as `user` (in the technicians' channel by default) and returns what the bot answered there. */
export async function say(h: Harness, user: TestUser, text: string, where: 'channel' | 'personal' = 'channel'): Promise<Said> {
  const conv = where === 'channel' ? h.client.channelConversationId() : h.client.personalConversationId(user);
  const before = h.connector.sentTo(conv).length;
  const res = await h.client.message(user, text, { where });
  expect(res.status).toBe(200);
  const sent = h.connector.sentTo(conv).slice(before);
  const cards = sent.map(cardOf).filter(Boolean);
  for (const c of cards) expect(problems(c)).toEqual([]);
  return { texts: sent.map((a) => a.text).filter((t): t is string => typeof t === 'string' && t.length > 0), cards, all: sent };
}

/** Clicks a card button as `user` and returns the replacement card (validated). */
/**
 * Presses a card button as `user`. When a second technician's approval asks for their fresh
 * MFA (a privileged account), they answer as a person would: the code their demo phone shows,
 * and Approve again. Give `mfaCode` in `data` (even undefined) to answer it yourself.
 */
export async function press(h: Harness, user: TestUser, verb: string, data: Record<string, unknown>, where: 'channel' | 'personal' = 'channel'): Promise<any> {
  const res = await h.client.invoke(user, verb, data, { where });
  expect(res.status).toBe(200);
  const card = res.body?.value;
  expect(problems(card)).toEqual([]);
  if (verb === 'tech.approve' && !('mfaCode' in data) && findById(card, 'mfaCode')) {
    const code = new DemoAuthenticatorCodes(h.tenant).codeFor(user.id, h.clock());
    if (code) return press(h, user, verb, { ...data, mfaCode: code }, where);
  }
  return card;
}

export function title(card: any): string {
  return String(findById(card, 'tech-title')?.text ?? findById(card, 'notice-title')?.text ?? findById(card, 'report-title')?.text ?? '');
}

export function status(card: any): string {
  return String(findById(card, 'tech-status')?.text ?? findById(card, 'ticket-status')?.text ?? '');
}

/** The plan id a plan card is about. */
export function planOf(card: any): string {
  const id = /^(PLN-\d+):/.exec(title(card))?.[1];
  if (!id) throw new Error(`not a plan card: ${JSON.stringify(card).slice(0, 400)}`);
  return id;
}

/** The latest update of every posted copy of a plan's card (undefined for a copy never updated). */
export function planCopies(h: Harness, planId: string): any[] {
  return h.bot.store.technician.cards.forOwner(planId, 'plan').map((ref) => {
    const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === ref.conversationId && c.activityId === ref.activityId);
    return cardOf(updates[updates.length - 1]?.body);
  });
}

/** Every version of a plan's card the channel saw, in order (progress). */
export function planUpdates(h: Harness, planId: string): any[] {
  const refs = h.bot.store.technician.cards.forOwner(planId, 'plan');
  return h.connector.calls.filter((c) => c.kind === 'update' && refs.some((r) => r.conversationId === c.conversationId && r.activityId === c.activityId)).map((c) => cardOf(c.body));
}

/** Cards posted to the technicians' channel root (tickets, announcements). */
export function channelPosts(h: Harness): any[] {
  return h.connector.sentTo(TEST_CHANNEL_ID).map(cardOf).filter(Boolean);
}

/** Step values of a plan card, by step number. */
export function steps(card: any): string[] {
  return (findById(card, 'tech-section-facts-steps')?.facts ?? []).map((f: any) => `${f.title} = ${f.value}`);
}

export function actions(card: any): string[] {
  return (card?.actions ?? []).map((a: any) => a.id);
}

export async function groupsOf(h: Harness, userId: string): Promise<string[]> {
  return (await h.bot.directory.listUserGroups(userId)).map((g) => g.displayName).sort();
}

export { cardText, findById };
