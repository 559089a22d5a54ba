import type { Storage, TurnContext } from 'botbuilder';
import { TurnState } from '@microsoft/teams-ai';
import { mergingStorage } from '../store/bot-storage';

/** The scopes teams-ai keeps in storage (`temp` lives for one turn only). */
const STORED_SCOPES = ['conversation', 'user'] as const;

/**
 * The turn state of every turn. As teams-ai's own, except for a save that loses an eTag race:
 * two turns of one conversation at once (a double click) both read the state before either
 * saved it, so the second save is refused although its turn did its work (it may well be the
 * click that created the request). That save puts its own changes on top of the other turn's
 * instead (see {@link mergingStorage}), so the person sees what their click did, not an error.
 */
export class HelpdeskTurnState extends TurnState {
  /** Each stored scope as it was read, by storage key. */
  private readonly bases = new Map<string, string>();

  override async load(context: TurnContext, storage?: Storage): Promise<boolean> {
    const loaded = await super.load(context, storage);
    if (loaded) {
      for (const name of STORED_SCOPES) {
        const scope = this.getScope(name);
        if (scope?.storageKey) this.bases.set(scope.storageKey, JSON.stringify(scope.value));
      }
    }
    return loaded;
  }

  override async save(context: TurnContext, storage?: Storage): Promise<void> {
    await super.save(context, storage ? mergingStorage(storage, this.bases) : storage);
  }
}
