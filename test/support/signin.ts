import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { DemoAuthenticatorCodes } from '../../directory/demo-authenticator';
import { cardProblems } from '../cards/validate';
import type { Harness } from './harness';
import { cardOf, cardText, findById, type TestUser } from './teams-client';

/** Sign-in recovery helpers for wire tests: the demo phone, the cards each person got, the secret search. */

export const MINUTE = 60_000;

/** The code the user's demo phone shows at `at` (their first authenticator). */
export function phoneCode(h: Harness, user: { id: string }, at: Date, methodId?: string): string {
  const code = new DemoAuthenticatorCodes(h.tenant).codeFor(user.id, at, methodId);
  if (!code) throw new Error(`${user.id} has no demo authenticator`);
  return code;
}

/** A six-digit code that is not the phone's code at `at` (nor one step either side). */
export function wrongCode(h: Harness, user: { id: string }, at: Date): string {
  const near = new Set([-30_000, 0, 30_000].map((d) => phoneCode(h, user, new Date(at.getTime() + d))));
  for (let n = 123456; ; n++) if (!near.has(String(n))) return String(n);
}

/** Cards sent (new messages) to a conversation, in order. */
export function cardsIn(h: Harness, conversationId: string): any[] {
  return h.connector.sentTo(conversationId).map(cardOf).filter(Boolean);
}

/**
 * The latest card sent to a user's 1:1 chat (by the saved conversation, which may have been
 * created for a proactive card), as it looks now: its last update, when it was updated in place.
 */
export function lastCardFor(h: Harness, userId: string): any {
  const conv = h.bot.store.conversations.findPersonal(userId)?.conversationId;
  if (!conv) return undefined;
  const sent = h.connector.calls.filter((c) => (c.kind === 'send' || c.kind === 'reply') && c.conversationId === conv && cardOf(c.body));
  const last = sent[sent.length - 1];
  if (!last) return undefined;
  const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === conv && c.activityId === last.responseId && cardOf(c.body));
  return updates.length ? cardOf(updates[updates.length - 1]!.body) : cardOf(last.body);
}

/** Every card sent to a user's 1:1 chat. */
export function cardsFor(h: Harness, userId: string): any[] {
  const conv = h.bot.store.conversations.findPersonal(userId)?.conversationId;
  return conv ? cardsIn(h, conv) : [];
}

/** The recovery id a verify card's buttons carry. */
export function sessionOf(card: any): string {
  const s = findById(card, 'signin-cancel')?.data?.session ?? findById(card, 'signin-complete')?.data?.session ?? findById(card, 'secret-hide')?.data?.session;
  if (!s) throw new Error(`no recovery id on the card: ${JSON.stringify(card).slice(0, 500)}`);
  return s;
}

/** Sends text as the user and returns the card the bot answered with (checked for validity). */
export async function say(h: Harness, user: TestUser, text: string): Promise<any> {
  const before = h.connector.sentTo(h.client.personalConversationId(user)).length;
  const res = await h.client.message(user, text);
  expect(res.status).toBe(200);
  const sent = h.connector.sentTo(h.client.personalConversationId(user)).slice(before);
  const card = sent.map(cardOf).filter(Boolean).pop();
  if (!card) throw new Error(`no card in answer to "${text}": ${JSON.stringify(sent).slice(0, 500)}`);
  expect(cardProblems(card)).toEqual([]);
  return card;
}

/** Clicks a card button as `user` and returns the replacement card (checked for validity). */
export async function click(h: Harness, user: TestUser, verb: string, data: Record<string, unknown>, where: 'personal' | 'channel' = 'personal'): Promise<any> {
  const res = await h.client.invoke(user, verb, data, { where });
  expect(res.status).toBe(200);
  const card = res.body?.value;
  expect(cardProblems(card)).toEqual([]);
  return card;
}

/** Lets the technician talk in the technicians' channel once, so the bot knows where it is. */
export async function openTechniciansChannel(h: Harness): Promise<void> {
  await h.client.message(h.user('technician'), 'help', { where: 'channel' });
}

/** Cards posted to the technicians' channel, in order. */
export function channelCards(h: Harness): any[] {
  return h.connector.calls
    .filter((c) => (c.kind === 'send' || c.kind === 'reply') && String(c.conversationId).startsWith('19:'))
    .map((c) => cardOf(c.body))
    .filter(Boolean);
}

/** The latest version of a sent message: its last update, or the card as sent. */
export function currentVersion(h: Harness, conversationId: string, activityId: string): any {
  const updates = h.connector.calls.filter((c) => c.kind === 'update' && c.conversationId === conversationId && c.activityId === activityId);
  if (updates.length) return cardOf(updates[updates.length - 1]!.body);
  return undefined;
}

/** The secret card (password or pass) sent to the user: its text, and where the message is. */
export function secretMessage(h: Harness, userId: string): { secret: string; sessionId: string; conversationId: string; activityId: string; card: any } {
  const conv = h.bot.store.conversations.findPersonal(userId)!.conversationId;
  const card = cardsIn(h, conv)
    .filter((c) => findById(c, 'secret-value'))
    .pop();
  if (!card) throw new Error('no secret card was sent');
  const sessionId = findById(card, 'secret-hide').data.session;
  const activityId = h.bot.store.recovery.get(sessionId)!.secretActivityId!;
  return { secret: findById(card, 'secret-value').text, sessionId, conversationId: conv, activityId, card };
}

/**
 * Where the secret can be found besides its one message: every log line, every table of
 * both SQLite files (the bot's, and the demo directory's unless `DIRECTORY=ad`) and their raw
 * bytes (WAL included), the bot state, and every activity sent to any other conversation.
 * Returns the places; empty means nowhere.
 */
export function secretLeaks(h: Harness, secret: string, ownConversationId: string): string[] {
  expect(secret.length).toBeGreaterThanOrEqual(8);
  const leaks: string[] = [];
  h.logs.forEach((line, i) => {
    if (JSON.stringify(line).includes(secret)) leaks.push(`log line ${i}: ${String(line.msg)}`);
  });
  for (const file of ['helpdesk.db', 'directory.db']) {
    // The demo directory's file exists unless the bot runs on Active Directory alone.
    if (file === 'directory.db' && h.bot.directory.kind === 'ad' && !fs.existsSync(path.join(h.dir, file))) continue;
    const db = new Database(path.join(h.dir, file), { readonly: true, fileMustExist: true });
    try {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
      expect(tables.length).toBeGreaterThan(0);
      for (const t of tables) {
        const rows = db.prepare(`SELECT * FROM "${t.replace(/"/g, '""')}"`).all();
        if (JSON.stringify(rows).includes(secret)) leaks.push(`${file} table ${t}`);
      }
    } finally {
      db.close();
    }
  }
  for (const f of fs.readdirSync(h.dir)) {
    const full = path.join(h.dir, f);
    if (fs.statSync(full).isFile() && fs.readFileSync(full).includes(Buffer.from(secret))) leaks.push(`file ${f}`);
  }
  for (const c of h.connector.calls) {
    if (c.conversationId === ownConversationId && (c.kind === 'send' || c.kind === 'reply')) continue;
    if (JSON.stringify(c.body ?? '').includes(secret)) leaks.push(`${c.kind} to ${c.conversationId}`);
  }
  return leaks;
}

/** Audit actions of one recovery, in order. */
export function recoveryAudit(h: Harness, sessionId: string): string[] {
  return h.bot.store.audit.query({ correlationId: sessionId }).map((e) => e.action);
}

export { cardText, findById };
