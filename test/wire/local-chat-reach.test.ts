import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { click, demoUser, requestAccess, requestCardsSentTo, settle } from '../support/access';
import { startHarness, type Harness } from '../support/harness';

/**
 * With the local chats (`npm start`: local mode, PLAYGROUND on) only the personas have a
 * window: a card for anyone else fails at once, without asking the connector to make a chat
 * it cannot make, and the other approvers' cards and the requester's updates are not held up.
 */
describe('cards to people without a local chat window', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ PLAYGROUND: 'true' });
  });
  afterEach(async () => {
    await h?.stop();
  });

  it('the owner with a window gets the stage 2 card; the one without fails at once and is retried later', async () => {
    const emily = h.user('employee');
    const rebecca = h.user('owner');
    const olivia = demoUser(h, 'Olivia Hart');
    // Their windows were opened.
    await h.client.message(rebecca, 'help');
    await h.client.message(h.user('manager'), 'help');
    const id = await requestAccess(h, emily, 'I need the payroll reports for two weeks because of the year-end audit');
    await click(h, h.user('manager'), 'access.approve', id, 1);
    await settle(h);

    expect(requestCardsSentTo(h, rebecca.id, id)).toHaveLength(1);
    expect(h.bot.store.requests.get(id)!.stage).toBe(2);
    expect(h.connector.calls.filter((c) => c.kind === 'createConversation')).toEqual([]);
    const olivias = h.bot.store.jobs.forRequest(id).filter((j) => j.kind === 'access.notify-approver' && j.payload && (j.payload as { userId?: string }).userId === olivia.id);
    expect(olivias).toHaveLength(1);
    expect(olivias[0]).toMatchObject({ state: 'pending', attempts: 1 });
    expect(olivias[0]!.lastError).toMatch(/no chat window for this person in the local chat/);
  });
});
