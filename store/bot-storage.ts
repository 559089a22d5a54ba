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
