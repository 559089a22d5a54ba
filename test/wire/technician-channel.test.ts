import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness';

/**
 * Where technicians' posts go when no channel is configured: the channel a technician last
 * spoke in. Anyone else @mentioning the bot in their own team's channel is refused and must
 * not move the technicians' posts there.
 */
let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.stop();
});

const OTHER_CHANNEL = '19:sales-general@thread.tacv2';

function inOtherChannel(activity: Record<string, any>): Record<string, any> {
  activity.conversation = { ...activity.conversation, id: `${OTHER_CHANNEL};messageid=1700000000099` };
  activity.channelData = { ...activity.channelData, teamsChannelId: OTHER_CHANNEL, teamsTeamId: '19:sales-team@thread.tacv2', team: { id: '19:sales-team@thread.tacv2', name: 'Sales' }, channel: { id: OTHER_CHANNEL, name: 'General' } };
  return activity;
}

describe('the technicians channel is where a technician spoke', () => {
  it('an employee @mentioning the bot in another team does not redirect the technicians posts', async () => {
    const sarah = h.user('technician');
    const emily = h.user('employee');
    expect((await h.client.message(sarah, 'pending', { where: 'channel' })).status).toBe(200);
    const before = h.bot.store.conversations.findChannel();
    expect(before?.channelId).not.toBe(OTHER_CHANNEL);

    const activity = inOtherChannel({ ...h.client.base(emily, { where: 'channel' }), type: 'message', text: '<at>Northwind IAM Helpdesk</at> pending' });
    activity.entities = [{ type: 'mention', text: '<at>Northwind IAM Helpdesk</at>', mentioned: activity.recipient }];
    expect((await h.client.post(activity)).status).toBe(200);
    expect(h.bot.store.conversations.findChannel()?.conversationId).toBe(before!.conversationId);

    // A technician speaking there makes it theirs.
    const fromSarah = inOtherChannel({ ...h.client.base(sarah, { where: 'channel' }), type: 'message', text: '<at>Northwind IAM Helpdesk</at> pending' });
    fromSarah.entities = activity.entities;
    expect((await h.client.post(fromSarah)).status).toBe(200);
    expect(h.bot.store.conversations.findChannel()?.channelId).toBe(OTHER_CHANNEL);
  });
});
