import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ETagConflictError, mergingStorage } from '../../store/bot-storage';
import { openStore, type Store } from '../../store/store';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-state-'));
  store = openStore(path.join(dir, 'helpdesk.db'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('SQLite bot state storage', () => {
  it('reads back what it wrote, with a fresh eTag, and only the keys asked for', async () => {
    await store.botStorage.write({ 'msteams/bot/conversations/a': { dialogStack: [{ id: 'reset', state: { step: 2 } }] }, other: { x: 1 } });
    const items = await store.botStorage.read(['msteams/bot/conversations/a', 'missing']);
    expect(Object.keys(items)).toEqual(['msteams/bot/conversations/a']);
    expect(items['msteams/bot/conversations/a']).toMatchObject({ dialogStack: [{ id: 'reset', state: { step: 2 } }] });
    expect(typeof items['msteams/bot/conversations/a'].eTag).toBe('string');
  });

  it('survives a restart (close and reopen the file)', async () => {
    await store.botStorage.write({ k: { half: 'finished' } });
    store.close();
    store = openStore(path.join(dir, 'helpdesk.db'));
    expect((await store.botStorage.read(['k'])).k).toMatchObject({ half: 'finished' });
  });

  it('refuses a write with a stale eTag and accepts the current one or *', async () => {
    await store.botStorage.write({ k: { v: 1 } });
    const first = (await store.botStorage.read(['k'])).k;
    await store.botStorage.write({ k: { ...first, v: 2 } });
    await expect(store.botStorage.write({ k: { ...first, v: 3 } })).rejects.toBeInstanceOf(ETagConflictError);
    expect((await store.botStorage.read(['k'])).k.v).toBe(2);
    const current = (await store.botStorage.read(['k'])).k;
    await store.botStorage.write({ k: { ...current, v: 4 } });
    await store.botStorage.write({ k: { v: 5, eTag: '*' } });
    expect((await store.botStorage.read(['k'])).k.v).toBe(5);
  });

  it('a refused batch writes nothing of it', async () => {
    await store.botStorage.write({ a: { v: 1 } });
    await expect(store.botStorage.write({ b: { v: 1 }, a: { v: 2, eTag: 'stale' } })).rejects.toThrow(/eTag/);
    expect(await store.botStorage.read(['b'])).toEqual({});
  });

  it('deletes', async () => {
    await store.botStorage.write({ a: { v: 1 }, b: { v: 2 } });
    await store.botStorage.delete(['a', 'nope']);
    expect(Object.keys(await store.botStorage.read(['a', 'b']))).toEqual(['b']);
  });
});

describe('a save that lost an eTag race', () => {
  const key = 'msteams/bot/conversations/a';
  /** What a turn read, and its base as the turn state keeps it. */
  async function readAsTurn(): Promise<{ item: Record<string, any>; bases: Map<string, string> }> {
    const item = (await store.botStorage.read([key]))[key]!;
    return { item, bases: new Map([[key, JSON.stringify(item)]]) };
  }

  it("keeps what the other turn saved and puts this turn's own changes on top", async () => {
    await store.botStorage.write({ [key]: { accessDraft: { id: 'd1' }, question: 'q1' } });
    const first = await readAsTurn();
    const second = await readAsTurn();
    // The first click submitted: the draft is gone, the submission remembered.
    const { accessDraft: _gone, ...submitted } = first.item;
    await store.botStorage.write({ [key]: { ...submitted, accessLastSubmitted: { draft: 'd1', requestId: 'REQ-1001' } } });
    // The second click, read before that, drops the draft and answers the question.
    const { accessDraft: _alsoGone, ...refused } = second.item;
    await expect(store.botStorage.write({ [key]: { ...refused, question: 'answered' } })).rejects.toBeInstanceOf(ETagConflictError);
    await mergingStorage(store.botStorage, second.bases).write({ [key]: { ...refused, question: 'answered' } });
    const saved = (await store.botStorage.read([key]))[key]!;
    expect({ ...saved, eTag: undefined }).toEqual({ accessLastSubmitted: { draft: 'd1', requestId: 'REQ-1001' }, question: 'answered', eTag: undefined });
  });

  it('writes as usual when nobody else saved, and lets other errors through', async () => {
    await store.botStorage.write({ [key]: { v: 1 } });
    const turn = await readAsTurn();
    await mergingStorage(store.botStorage, turn.bases).write({ [key]: { ...turn.item, v: 2 } });
    expect((await store.botStorage.read([key]))[key]!.v).toBe(2);
    const broken = { ...store.botStorage, read: store.botStorage.read.bind(store.botStorage), delete: store.botStorage.delete.bind(store.botStorage), write: async () => Promise.reject(new Error('disk full')) };
    await expect(mergingStorage(broken, turn.bases).write({ [key]: { v: 3 } })).rejects.toThrow('disk full');
  });

  it('gives up after a few attempts when the race goes on', async () => {
    await store.botStorage.write({ [key]: { v: 1 } });
    const turn = await readAsTurn();
    let writes = 0;
    const busy = {
      read: store.botStorage.read.bind(store.botStorage),
      delete: store.botStorage.delete.bind(store.botStorage),
      write: async () => {
        writes++;
        throw new ETagConflictError(key);
      },
    };
    await expect(mergingStorage(busy, turn.bases, 3).write({ [key]: { ...turn.item, v: 2 } })).rejects.toBeInstanceOf(ETagConflictError);
    expect(writes).toBe(3);
  });
});

describe('conversation references', () => {
  const ref = (id: string, serviceUrl = 'https://smba.example/emea/') => ({
    conversation: { id, conversationType: 'personal', tenantId: 't', isGroup: false, name: '' },
    serviceUrl,
    channelId: 'msteams',
    bot: { id: '28:bot', name: 'bot' },
  });

  it('finds a user 1:1 chat and the latest channel, and updates on change', () => {
    store.conversations.save(ref('a:1'), { kind: 'personal', userId: 'u1' });
    store.conversations.save(ref('19:c@thread'), { kind: 'channel', userId: 'u1', teamId: 'team-1', channelId: '19:c@thread' });
    expect(store.conversations.findPersonal('u1')?.conversationId).toBe('a:1');
    expect(store.conversations.findPersonal('u2')).toBeNull();
    expect(store.conversations.findChannel('team-1')?.reference.serviceUrl).toBe('https://smba.example/emea/');
    expect(store.conversations.findChannel()?.teamId).toBe('team-1');
    expect(store.conversations.findChannel('other-team')).toBeNull();
    store.conversations.save(ref('a:1', 'https://smba.example/amer/'), { kind: 'personal', userId: 'u1' });
    expect(store.conversations.findPersonal('u1')?.reference.serviceUrl).toBe('https://smba.example/amer/');
  });

  it('a channel conversation is never taken for someone personal chat', () => {
    store.conversations.save(ref('19:c@thread'), { kind: 'channel', userId: 'u1', teamId: 'team-1' });
    expect(store.conversations.findPersonal('u1')).toBeNull();
  });
});
