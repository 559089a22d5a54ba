import { randomUUID } from 'node:crypto';
import type { Storage, StoreItems } from 'botbuilder';
import type { Db } from './db';

/** An eTag mismatch on write: someone else changed the item since it was read. */
export class ETagConflictError extends Error {
  constructor(readonly key: string) {
    super(`Storage item "${key}" was changed by another turn (eTag mismatch)`);
    this.name = 'ETagConflictError';
  }
}

/**
 * A botbuilder {@link Storage} on SQLite for conversation, user and dialog state, so a
 * restart does not lose a half-finished conversation. Honours eTags like the SDK's own
 * storages: a write whose `eTag` is neither `*` nor the stored one is refused.
 */
export class SqliteStorage implements Storage {
  private readonly readOne;
  private readonly upsert;
  private readonly remove;

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.readOne = db.prepare('SELECT value, etag FROM bot_state WHERE key = ?');
    this.upsert = db.prepare(
      `INSERT INTO bot_state (key, value, etag, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, etag = excluded.etag, updated_at = excluded.updated_at`,
    );
    this.remove = db.prepare('DELETE FROM bot_state WHERE key = ?');
  }

  async read(keys: string[]): Promise<StoreItems> {
    const items: StoreItems = {};
    for (const key of keys) {
      const row = this.readOne.get(key) as { value: string; etag: string } | undefined;
      if (row) items[key] = { ...JSON.parse(row.value), eTag: row.etag };
    }
    return items;
  }

  async write(changes: StoreItems): Promise<void> {
    const now = this.clock().toISOString();
    this.db.transaction(() => {
      for (const [key, item] of Object.entries(changes)) {
        const { eTag, ...value } = (item ?? {}) as Record<string, unknown>;
        if (typeof eTag === 'string' && eTag !== '*' && eTag !== '') {
          const current = this.readOne.get(key) as { etag: string } | undefined;
          if (current && current.etag !== eTag) throw new ETagConflictError(key);
        }
        this.upsert.run(key, JSON.stringify(value), randomUUID(), now);
      }
    })();
  }

  async delete(keys: string[]): Promise<void> {
    this.db.transaction(() => {
      for (const key of keys) this.remove.run(key);
    })();
  }
}

/**
 * `storage` for one turn that read its items as `bases` (JSON of each item as it was read,
 * by key). A write that loses an eTag race (another turn of the same conversation, say the
 * second click of a double click, saved first) is not a failure of the turn: the items are
 * read again and this turn's own changes are put on top of the other turn's, property by
 * property (what this turn changed, against what it read, wins; the rest stays as the other
 * turn left it), and written with the new eTag. A few attempts, then the conflict stands.
 */
export function mergingStorage(storage: Storage, bases: ReadonlyMap<string, string>, attempts = 3): Storage {
  return {
    read: (keys) => storage.read(keys),
    delete: (keys) => storage.delete(keys),
    async write(changes) {
      let pending = changes;
      for (let attempt = 1; ; attempt++) {
        try {
          return await storage.write(pending);
        } catch (err) {
          if (!(err instanceof ETagConflictError) || attempt >= attempts) throw err;
        }
        const current = await storage.read(Object.keys(changes));
        pending = {};
        for (const [key, mine] of Object.entries(changes)) {
          const base = bases.has(key) ? (JSON.parse(bases.get(key)!) as Record<string, unknown>) : {};
          pending[key] = mergeChanges(base, (mine ?? {}) as Record<string, unknown>, (current[key] ?? {}) as Record<string, unknown>);
        }
      }
    },
  };
}

/** `theirs` (as stored now, with its eTag) with the top-level properties `mine` changed from `base`. */
function mergeChanges(base: Record<string, unknown>, mine: Record<string, unknown>, theirs: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...theirs, eTag: typeof theirs.eTag === 'string' ? theirs.eTag : '*' };
  for (const key of new Set([...Object.keys(base), ...Object.keys(mine)])) {
    if (key === 'eTag' || JSON.stringify(mine[key]) === JSON.stringify(base[key])) continue;
    if (mine[key] === undefined) delete merged[key];
    else merged[key] = mine[key];
  }
  return merged;
}
