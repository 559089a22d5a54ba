import type { Answer, Client, Send } from './load';

/**
 * The turns the benchmarks and the soak send, as Teams sends them, and the clients that
 * send them: a user typing `help`, a requester asking for access and withdrawing it (the
 * write turns), and a manager approving on the request card (the card action).
 */

export interface BenchUser {
  id: string;
  displayName: string;
}

/** Teams-shaped activities from one tenant, replied to through `serviceUrl`. */
export class Activities {
  private n = 0;

  constructor(
    readonly serviceUrl: string,
    readonly tenantId: string,
  ) {}

  private base(user: BenchUser, conversationId: string): Record<string, unknown> {
    this.n += 1;
    return {
      id: `bench-${this.n}`,
      channelId: 'msteams',
      serviceUrl: this.serviceUrl,
      timestamp: new Date().toISOString(),
      localTimezone: 'Europe/London',
      locale: 'en-GB',
      from: { id: `29:${user.id}`, name: user.displayName, aadObjectId: user.id },
      recipient: { id: '28:helpdesk-bot', name: 'Northwind IAM Helpdesk' },
      conversation: { id: conversationId, conversationType: 'personal', tenantId: this.tenantId },
      channelData: { tenant: { id: this.tenantId } },
    };
  }

  message(user: BenchUser, conversationId: string, text: string): object {
    return { ...this.base(user, conversationId), type: 'message', text, textFormat: 'plain' };
  }

  /** An `adaptiveCard/action` invoke: what Teams sends when an `Action.Execute` button is clicked. */
  invoke(user: BenchUser, conversationId: string, verb: string, data: Record<string, unknown>): object {
    return {
      ...this.base(user, conversationId),
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', id: `action-${this.n}`, verb, data }, trigger: 'manual' },
    };
  }
}

/** The Adaptive Card of an invoke answer, or null. */
export function invokeCard(answer: Answer): Record<string, unknown> | null {
  const body = answer.body as { statusCode?: number; type?: string; value?: { type?: string } } | null;
  if (!body || body.statusCode !== 200 || body.type !== 'application/vnd.microsoft.card.adaptive' || body.value?.type !== 'AdaptiveCard') return null;
  return body.value as Record<string, unknown>;
}

/** Depth-first search of a card for the element or action with this `id`. */
export function findById(node: unknown, id: string): Record<string, unknown> | undefined {
  if (!node || typeof node !== 'object') return undefined;
  if ((node as { id?: unknown }).id === id) return node as Record<string, unknown>;
  for (const value of Object.values(node)) {
    const hit = findById(value, id);
    if (hit) return hit;
  }
  return undefined;
}

/** A check that the answer is an invoke response carrying a card whose text matches `pattern`. */
function cardSaying(pattern: RegExp): (answer: Answer) => string | null {
  return (answer) => {
    const card = invokeCard(answer);
    if (!card) return `no card in the invoke response: ${JSON.stringify(answer.body).slice(0, 200)}`;
    return pattern.test(JSON.stringify(card)) ? null : `the card does not say ${pattern}: ${JSON.stringify(card).slice(0, 300)}`;
  };
}

/** Counts of the state-changing turns that did what they should (each writes one audit event). */
export interface WriteTally {
  submitted: number;
  cancelled: number;
  approved: number;
}

export function newTally(): WriteTally {
  return { submitted: 0, cancelled: 0, approved: 0 };
}

/**
 * Messages with `text` from many users' 1:1 chats: client `i` of `clients` takes
 * conversations i, i + clients, ... of `conversations`, each owned by one of `users`.
 */
export function messageClient(acts: Activities, users: readonly BenchUser[], text: string, conversations: number, clients: number, kind = 'read', messages = Infinity): Client {
  return async (send: Send, index: number) => {
    for (let n = index, sent = 0; sent < messages; n += clients, sent++) {
      const c = n % conversations;
      await send(kind, acts.message(users[c % users.length]!, `a:bench-${kind}-${c}`, text));
    }
  };
}

/**
 * A requester asking for `resourceId` and withdrawing it, again and again, on the real
 * cards: the form's **Review** (the confirmation card comes back), **Submit request** (a
 * request and its `access.requested` event) and the request card's **Cancel request** (its
 * `access.cancelled` event). Submit and cancel are the write turns. Runs until the time is up,
 * or `cycles` times.
 */
export function writeClient(acts: Activities, user: BenchUser, resourceId: string, conversationId: string, tally: WriteTally, cycles = Infinity): Client {
  return async (send: Send) => {
    for (let cycle = 0; cycle < cycles; cycle++) {
      const review = await send('write-review', acts.invoke(user, conversationId, 'access.review', { resource: resourceId, duration: 'default', justification: 'Quarter-end reconciliation' }), (a) =>
        findById(invokeCard(a), 'access-submit') ? null : `no confirmation card: ${JSON.stringify(a.body).slice(0, 300)}`,
      );
      const draft = (findById(invokeCard(review), 'access-submit')?.data as { draft?: string } | undefined)?.draft;
      if (!draft) continue;
      const submitted = await send('write-submit', acts.invoke(user, conversationId, 'access.submit', { draft }), cardSaying(/Submitted: REQ-\d+/));
      const requestId = /Submitted: (REQ-\d+)/.exec(JSON.stringify(invokeCard(submitted)))?.[1];
      if (!requestId) continue;
      tally.submitted += 1;
      // Withdrawn even when the time is up, so the next run finds no duplicate waiting.
      const cancelled = await send('write-cancel', acts.invoke(user, conversationId, 'access.cancel', { requestId }), cardSaying(new RegExp(`${requestId} is cancelled`)), { evenAfterEnd: true });
      if (invokeCard(cancelled) && JSON.stringify(invokeCard(cancelled)).includes(`${requestId} is cancelled`)) tally.cancelled += 1;
    }
  };
}

/**
 * A manager approving, one after the other, requests waiting for them: the request card's
 * **Approve** (verb, request id and stage: what the card carries). Returns when `requestIds`
 * run out.
 */
export function approveClient(acts: Activities, manager: BenchUser, requestIds: string[], conversationId: string, tally: WriteTally): Client {
  return async (send: Send) => {
    for (;;) {
      const requestId = requestIds.shift();
      if (!requestId) return;
      const answer = await send('card-action', acts.invoke(manager, conversationId, 'access.approve', { requestId, stage: 1 }), cardSaying(new RegExp(`You approved ${requestId}\\.`)));
      if (JSON.stringify(invokeCard(answer) ?? '').includes(`You approved ${requestId}.`)) tally.approved += 1;
    }
  };
}
