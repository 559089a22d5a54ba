import { beforeEach, describe, expect, it } from 'vitest';
import { TestClock } from '../support/harness';
import { useProductionBot } from '../support/production-rig';
import { demoPersona } from '../support/graph-setup';
import { cardText, TEST_CHANNEL_ID, TEST_TEAM_ID } from '../support/teams-client';

/**
 * Production with only TECHNICIANS_TEAM_ID: technician notices go to the team's General channel
 * (whose id is the team's), never to the channel a technician last spoke in.
 */
const clock = new TestClock('2026-12-08T09:00:00.000Z');
const p = useProductionBot({ dirPrefix: 'helpdesk-team-only-', clock, env: { TECHNICIAN_CHANNEL_IDS: '', TECHNICIANS_TEAM_ID: TEST_TEAM_ID } });
const emily = demoPersona('employee');
const sarah = demoPersona('technician');

beforeEach(() => p.connector.clear());

describe('the technicians named by their team only', () => {
  it('a ticket about a colleague goes to the General channel, not the channel a technician spoke in last', async () => {
    // Sarah speaks in the Helpdesk channel of the team: the bot learns the team from it.
    await p.sayInChannel(sarah, 'pending');
    p.connector.clear();
    const client = p.client();
    expect((await client.message(emily, "my colleague Thomas Berg can't sign in")).status).toBe(200);
    await expect.poll(() => p.connector.sentTo(TEST_TEAM_ID).length, { timeout: 10_000 }).toBeGreaterThan(0);
    const posted = p.connector.sentTo(TEST_TEAM_ID).map((a) => `${a.text ?? ''} ${a.attachments?.[0] ? cardText(a.attachments[0].content) : ''}`).join('\n');
    expect(posted).toMatch(/Thomas Berg/);
    expect(p.connector.sentTo(TEST_CHANNEL_ID)).toEqual([]);
  });
});
