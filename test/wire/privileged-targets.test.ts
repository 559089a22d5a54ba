import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResourceById, loadCatalog } from '../../directory/catalog';
import { DriftStore, fingerprintOf } from '../../store/drift';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { say as sayPersonal } from '../support/signin';
import { actions, ahmed, cardText, findById, person, planOf, press, sarah, say, status } from '../technician/support';
import { lineFacts, lineOf, reviewCardsSent } from './reviews-support';

/**
 * "Privileged" is one answer everywhere (local mode, the demo tenant): the technicians group
 * itself and holders of a directory role, active or eligible, count besides the configured
 * privileged groups; a technician cannot tap or reset another technician or an admin alone;
 * and a new credential within 24 hours of an enable needs a second technician, also after a
 * restart. In self-service, a role holder gets the stricter verification.
 */

let h: Harness;
const clock = new TestClock('2026-12-08T09:00:00.000Z');
const HOUR = 3_600_000;

beforeAll(async () => {
  h = await startHarness({}, { clock: clock.now });
  // The technicians' channel is known (a technician talked there).
  await say(h, sarah(h), 'help');
});
afterAll(async () => {
  await h?.stop();
});

const settle = () => h.bot.scheduler.idle();
const WAITING = "Waiting for Sarah Mitchell's confirmation and a second technician's approval (privileged account)";
const tapsOf = (userId: string) => h.bot.store.audit.query({ action: 'signin.tap-issued', target: userId });
const resetsOf = (userId: string) => h.bot.store.audit.query({ action: 'signin.password-reset', target: userId });

describe('a technician cannot act alone on a privileged account', () => {
  it('tap of another technician waits for a second, different technician; confirmed alone, nothing is issued', async () => {
    const target = ahmed(h);
    const { cards } = await say(h, sarah(h), 'tap ahmed.farouk@northwind.example');
    const plan = planOf(cards[0]);
    expect(status(cards[0])).toBe(WAITING);
    expect(actions(cards[0])).toContain('tech-approve');
    expect(cardText(cards[0])).toMatch(/member of the technicians group/);
    const confirmed = await press(h, sarah(h), 'tech.confirm', { plan });
    expect(findById(confirmed, 'tech-text').text).toMatch(/runs as soon as a second identity technician approves/);
    // The subject cannot be the second pair of eyes on their own account.
    const own = await press(h, target, 'tech.approve', { plan });
    expect(findById(own, 'tech-text').text).toMatch(/about your own account/);
    await settle();
    expect(tapsOf(target.id)).toEqual([]);
    const [proposed] = h.bot.store.audit.query({ action: 'technician.plan-proposed', correlationId: plan });
    expect(JSON.parse(proposed!.details)).toMatchObject({ privileged: true, fourEyes: expect.stringMatching(/technicians group/) });
  });

  it('reset-password of an eligible role holder (Security Administrator through PIM) waits for a second technician, then runs', async () => {
    const ibrahim = person(h, 'Ibrahim Diallo');
    const { cards } = await say(h, sarah(h), 'reset-password ibrahim.diallo@northwind.example');
    const plan = planOf(cards[0]);
    expect(status(cards[0])).toBe(WAITING);
    expect(cardText(cards[0])).toMatch(/Security Administrator \(eligible\)/);
    await press(h, sarah(h), 'tech.confirm', { plan });
    await settle();
    expect(resetsOf(ibrahim.id)).toEqual([]);
    await press(h, ahmed(h), 'tech.approve', { plan });
    await settle();
    expect(resetsOf(ibrahim.id)).toHaveLength(1);
  });

  it('whois shows why an account is privileged', async () => {
    const { cards } = await say(h, sarah(h), 'whois ibrahim.diallo@northwind.example');
    expect(cardText(cards[0])).toMatch(/privileged/);
    expect(cardText(cards[0])).toMatch(/Security Administrator \(eligible\)/);
  });
});

describe('enable, then a new credential within 24 hours: four eyes', () => {
  it('tap after enable needs a second technician, also after a restart; the requester cannot approve; after 24 hours it does not', async () => {
    const aisha = person(h, 'Aisha Khan');
    const enabled = await say(h, sarah(h), 'enable aisha.khan@northwind.example');
    await settle();
    expect(status(enabled.cards[0])).toBe('Done');
    expect((await h.bot.directory.getUser(aisha.id))!.accountEnabled).toBe(true);

    const first = await say(h, sarah(h), 'tap aisha.khan@northwind.example');
    const plan = planOf(first.cards[0]);
    expect(status(first.cards[0])).toBe(WAITING);
    expect(cardText(first.cards[0])).toMatch(/enabled in the last 24 hours/);
    const self = await press(h, sarah(h), 'tech.approve', { plan });
    expect(findById(self, 'tech-text').text).toMatch(/You proposed this plan: a second, different identity technician must approve it/);
    await press(h, sarah(h), 'tech.cancel', { plan });

    // The enable is read from the audit trail: a restart does not forget it.
    await h.restart();
    clock.advance(23 * HOUR);
    const again = await say(h, sarah(h), 'tap aisha.khan@northwind.example');
    const second = planOf(again.cards[0]);
    expect(status(again.cards[0])).toBe(WAITING);
    // Another technician's enable counts the same: reset-password too.
    const reset = await say(h, ahmed(h), 'reset-password aisha.khan@northwind.example');
    expect(actions(reset.cards[0])).toContain('tech-approve');
    await press(h, ahmed(h), 'tech.cancel', { plan: planOf(reset.cards[0]) });
    await press(h, sarah(h), 'tech.confirm', { plan: second });
    await settle();
    expect(tapsOf(aisha.id)).toEqual([]);
    await press(h, ahmed(h), 'tech.approve', { plan: second });
    await settle();
    expect(tapsOf(aisha.id)).toHaveLength(1);

    clock.advance(2 * HOUR);
    const later = await say(h, sarah(h), 'tap aisha.khan@northwind.example');
    expect(actions(later.cards[0])).not.toContain('tech-approve');
  });
});

describe('self-service recovery of a role holder', () => {
  it('an employee who holds a directory role (and no privileged group) gets the two-check verification', async () => {
    const ibrahim = person(h, 'Ibrahim Diallo');
    const card = await sayPersonal(h, ibrahim, 'reset my password');
    expect(cardText(card)).toMatch(/privileged \(an admin role or a privileged group\)/);
    const [started] = h.bot.store.audit.query({ action: 'signin.recovery-started', target: ibrahim.id });
    expect(JSON.parse(started!.details)).toMatchObject({ privileged: true });
  });
});

describe('access reviews show why an account is privileged', () => {
  it("the reviewer sees a role holder's roles beside the access; an ordinary member has no such line", async () => {
    const said = await say(h, sarah(h), 'review start "App - Source Code" --reviewer manager');
    const id = /^(REV-\d+) /.exec(String(findById(said.cards[0], 'review-status-title')?.text ?? ''))![1]!;
    await settle();
    const anna = person(h, 'Anna Lindqvist');
    const [card] = reviewCardsSent(h, anna.id, id);
    expect(lineFacts(card, lineOf(card, 'Ibrahim Diallo')).Privileged).toMatch(/Security Administrator \(eligible\)/);
    expect(lineFacts(card, lineOf(card, 'Tomasz Nowak')).Privileged).toBe('member of a privileged group');
    expect(lineFacts(card, lineOf(card, 'Zoe Adams')).Privileged).toBeUndefined();
  });
});

describe('drift: a role holder is privileged there too', () => {
  it('removing a directory role holder added behind the bot takes a second technician', async () => {
    const ibrahim = person(h, 'Ibrahim Diallo');
    const crm = findResourceById(loadCatalog(), 'crm')!.groupId;
    await h.bot.directory.addGroupMember(crm, ibrahim.id);
    await say(h, sarah(h), 'drift');
    await settle();
    const f = new DriftStore(h.bot.store.db, clock.now).byFingerprint(fingerprintOf({ kind: 'unapproved', groupId: crm, userId: ibrahim.id }))!;
    expect(f.state).toBe('open');
    await press(h, sarah(h), 'drift.remove', { finding: f.id });
    const confirmed = await press(h, sarah(h), 'drift.remove-confirm', { finding: f.id });
    expect(findById(confirmed, 'drift-removal').text).toMatch(/waiting for a second technician's approval \(privileged\)/);
    await settle();
    expect(await h.bot.directory.checkMemberGroups(ibrahim.id, [crm])).toEqual([crm]);
    await press(h, ahmed(h), 'drift.remove-approve', { finding: f.id });
    await settle();
    expect(await h.bot.directory.checkMemberGroups(ibrahim.id, [crm])).toEqual([]);
  });
});
