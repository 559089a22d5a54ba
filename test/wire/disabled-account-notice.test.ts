import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardOf, cardText } from '../support/teams-client';
import { channelCards, openTechniciansChannel } from '../support/signin';
import { cardProblems } from '../cards/validate';

/**
 * A disabled account writing to the bot is refused at the door, and the identity technicians
 * are told: one notice (a ticket in their channel) per account per 24 hours, remembered in
 * the store so a restart does not repeat it. The user hears that the technicians know.
 */
const HOUR = 3_600_000;

let h: Harness;
let clock: TestClock;
beforeEach(async () => {
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({}, { clock: clock.now });
});
afterEach(async () => {
  await h?.stop();
});

function disabledUser() {
  const u = h.tenant.users.find((x) => !x.accountEnabled);
  if (!u) throw new Error('demo tenant has no disabled user');
  return { id: u.id, displayName: u.displayName, upn: u.userPrincipalName };
}

/** Tickets about `name` posted (new messages) to the technicians' channel; later SLA announcements are not notices. */
function noticesAbout(name: string): any[] {
  return h.connector.calls
    .filter((c) => (c.kind === 'send' || c.kind === 'reply') && String(c.conversationId).startsWith('19:'))
    .filter((c) => new RegExp(`^TKT-\\d+: Disabled account wrote to the helpdesk: ${name}$`).test(c.body?.summary ?? ''))
    .map((c) => cardOf(c.body));
}

/** The refusals the user got in their 1:1 chat, as text. */
function refusals(user: { id: string; displayName: string }): string[] {
  return h.connector
    .sentTo(h.client.personalConversationId(user))
    .map((a) => cardOf(a))
    .filter(Boolean)
    .map((c) => {
      expect(cardProblems(c)).toEqual([]);
      return cardText(c);
    });
}

describe('a disabled account writes to the bot', () => {
  it('tells the technicians once per 24 hours (surviving a restart), refuses politely every time, and audits it', async () => {
    await openTechniciansChannel(h);
    const disabled = disabledUser();
    const before = h.bot.store.audit.count();

    expect((await h.client.message(disabled, 'reset my password')).status).toBe(200);
    expect((await h.client.message(disabled, 'hello?')).status).toBe(200);

    // One notice in the technicians' channel, naming the account.
    const first = noticesAbout(disabled.displayName);
    expect(first).toHaveLength(1);
    expect(cardText(first[0])).toContain(disabled.upn);
    // Two polite refusals, each saying the technicians know.
    const answers = refusals(disabled);
    expect(answers).toHaveLength(2);
    for (const text of answers) {
      expect(text).toMatch(/your account is disabled, so I cannot help you here/);
      expect(text).toMatch(/identity technicians have been told/);
    }
    // Nothing but the refusals reached the user: no flow ran.
    expect(h.bot.store.recovery.activeFor(disabled.id)).toEqual([]);

    const refused = h.bot.store.audit.query({ action: 'helpdesk.access-refused' }, { afterSeq: before });
    expect(refused).toHaveLength(2);
    for (const e of refused) {
      expect(e).toMatchObject({ actorId: disabled.id, actorName: disabled.displayName, outcome: 'refused' });
      expect(JSON.parse(e.details).reason).toBe('account-disabled');
    }
    const notices = h.bot.store.audit.query({ action: 'helpdesk.disabled-account-notice' }, { afterSeq: before });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ actorId: disabled.id, target: disabled.id, outcome: 'success', correlationId: refused[0]!.correlationId });
    const tickets = h.bot.store.audit.query({ action: 'ticket.opened' }, { afterSeq: before });
    expect(tickets).toHaveLength(1);
    expect(JSON.parse(tickets[0]!.details)).toMatchObject({ type: 'signin', subject: { id: disabled.id, name: disabled.displayName } });

    // A restart forgets nothing: a card click 23 hours later raises no new notice.
    await h.restart();
    clock.advance(23 * HOUR);
    expect((await h.client.invoke(disabled, 'signin.start', { flow: 'password' })).status).toBe(200);
    expect(noticesAbout(disabled.displayName)).toHaveLength(1);
    expect(h.bot.store.audit.query({ action: 'helpdesk.access-refused' }, { afterSeq: before })).toHaveLength(3);

    // After 24 hours the technicians are told again.
    clock.advance(1 * HOUR + 60_000);
    await h.client.message(disabled, 'help');
    expect(noticesAbout(disabled.displayName)).toHaveLength(2);
    expect(h.bot.store.audit.query({ action: 'helpdesk.disabled-account-notice' }, { afterSeq: before })).toHaveLength(2);
    expect(refusals(disabled).at(-1)).toMatch(/identity technicians have been told/);
  });

  it('an unknown account raises no notice, and a disabled account installing the bot is not writing to it', async () => {
    await openTechniciansChannel(h);
    const disabled = disabledUser();
    const before = h.bot.store.audit.count();
    await h.client.message({ id: 'deadbeef-0000-4000-8000-00000000beef', displayName: 'Stranger Danger' }, 'help');
    expect((await h.client.botAdded(disabled)).status).toBe(200);
    const [answer] = refusals(disabled);
    expect(answer).toMatch(/your account is disabled/);
    expect(answer).not.toMatch(/technicians have been told/);
    expect(h.bot.store.audit.query({ action: 'helpdesk.access-refused' }, { afterSeq: before })).toHaveLength(2);
    expect(h.bot.store.audit.query({ action: 'helpdesk.disabled-account-notice' }, { afterSeq: before })).toEqual([]);
    expect(channelCards(h).filter((c) => cardText(c).includes('Disabled account wrote'))).toEqual([]);
  });
});
