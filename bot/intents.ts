import type { TurnContext } from 'botbuilder';
import type { TurnState } from '@microsoft/teams-ai';
import type { AdaptiveCardJson } from '../adaptive-cards/render';
import type { DirectoryUser } from '../directory/directory';
import type { Entities, Intent } from './nlu/types';

/** What the recognizer understood, handed to the flow that serves the intent. */
export interface Understood {
  intent: Intent;
  confidence: number;
  /** Resources, duration, request ids and people found in the message, to pre-fill the flow. */
  entities: Entities;
  /** `text`: recognized from a message; `choice`: picked by the user on a clarifying card. */
  source: 'text' | 'choice';
  /**
   * The words it was recognized from (`text` only): the whole message, or its part for this
   * wish when the message asked for several. Flows read details such as a reason from it.
   */
  text?: string;
}

/**
 * Starts the flow of one intent. Runs in the user's turn (a message, or the click on a
 * clarifying card); it sends its own cards. The entities are suggestions from free text:
 * the flow still shows them for confirmation and decides everything on the server.
 */
export type IntentHandler = (context: TurnContext, state: TurnState, understood: Understood) => Promise<void>;

/**
 * One more kind of thing waiting for a person's decision: its card for `user` (rendered from
 * the store, buttons carrying only a verb and ids), or null when nothing of it waits for them.
 */
export type WaitingSource = (user: DirectoryUser) => AdaptiveCardJson | null | Promise<AdaptiveCardJson | null>;

/**
 * Which flow serves which intent. Capabilities register their handler in their
 * `registerX(app, deps, menu, intents)`; intents without one get an honest "not available in
 * chat yet" from the understanding dialog. Handlers are looked up at turn time, so the order
 * of registration does not matter.
 */
export class IntentRegistry {
  private readonly handlers = new Map<Intent, IntentHandler>();
  private readonly waiting: WaitingSource[] = [];

  /**
   * Adds something else that can wait for a person's decision (access reviews) to the answer
   * of `approvals.pending` ("what's waiting for me"), after the access requests.
   */
  addWaiting(source: WaitingSource): void {
    this.waiting.push(source);
  }

  /** The cards of everything else waiting for `user`'s decision, in the order the sources were added. */
  async waitingCards(user: DirectoryUser): Promise<AdaptiveCardJson[]> {
    const out: AdaptiveCardJson[] = [];
    for (const source of this.waiting) {
      const card = await source(user);
      if (card) out.push(card);
    }
    return out;
  }

  handle(intent: Intent, handler: IntentHandler): void {
    if (this.handlers.has(intent)) throw new Error(`intent ${intent} has a handler already`);
    this.handlers.set(intent, handler);
  }

  get(intent: Intent): IntentHandler | undefined {
    return this.handlers.get(intent);
  }

  has(intent: Intent): boolean {
    return this.handlers.has(intent);
  }
}
