import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness';
import { cardOf, cardText } from '../support/teams-client';

/**
 * Long and adversarial messages over the real server: the bounded edge answers "too long"
 * without reading them, and with the bound raised near Teams' own limit every route,
 * the command parser and the recognizer still read them in linear time, so one user's
 * message never holds up another's answer.
 */

const SPACES = ' '.repeat(27_000);

/** Messages that made a pattern backtrack: a known prefix and a long run it cannot end on. */
const ATTACKS: Array<[string, string]> = [
  ['report prefix, spaces', `my report x${SPACES}`],
  ['report prefix, spaces, a last letter', `my report x${SPACES}y`],
  ['someone prefix, tabs', `my colleague${'\t'.repeat(27_000)}x`],
  ['reason after because', `i need the vpn because${SPACES}x`],
  ['exact phrase, spaces, a last letter', `reset my password${SPACES}x`],
  ['help, tabs and a full stop', `help${'\t'.repeat(27_000)}.x`],
  ['my team, new lines', `my team${'\n'.repeat(27_000)}?x`],
  ['a number, spaces', `for 5${SPACES}x`],
  ['full stops', `${'.'.repeat(27_000)} x`],
  ['one long word', 'a'.repeat(27_000)],
  ['repeated words', 'my report x '.repeat(2_250)],
  ['nested quotes and brackets', `review start group ${'"(\'['.repeat(6_700)}`],
  ['look-alike letters', `pаssword ${'аa'.repeat(13_400)}`],
];

/**
 * Sends `text` and, 20 ms later, "help" from someone else; how long each took, and the
 * longest time the event loop (the bot runs in this process) was held up meanwhile.
 */
async function raceWithHelp(h: Harness, text: string): Promise<{ attackMs: number; helpMs: number; attackStatus: number; stallMs: number }> {
  const attacker = h.user('employee');
  const other = h.user('manager');
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  const attack = h.client.message(attacker, text).then((r) => ({ status: r.status, ms: performance.now() - t0 }));
  await new Promise((r) => setTimeout(r, 20));
  const t1 = performance.now();
  const help = await h.client.message(other, 'help');
  const helpMs = performance.now() - t1;
  expect(help.status).toBe(200);
  const a = await attack;
  loop.disable();
  return { attackMs: a.ms, helpMs, attackStatus: a.status, stallMs: loop.max / 1e6 };
}

describe('a message longer than MAX_MESSAGE_CHARS (default 4,000)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('is answered "too long", not routed or recognised, and logged by length only', async () => {
    const employee = h.user('employee');
    const conversation = h.client.personalConversationId(employee);
    h.connector.clear();
    const started = performance.now();
    const res = await h.client.message(employee, `my report x${SPACES}`);
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1_000);
    const sent = h.connector.sentTo(conversation);
    expect(sent).toHaveLength(1);
    expect(sent[0].text).toMatch(/too long for me .*4,000 characters.*fewer words/);
    expect(cardOf(sent[0])).toBeUndefined();
    const line = h.logs.find((l) => l.action === 'message.too-long');
    expect(line).toMatchObject({ length: 11 + SPACES.length, maxChars: 4000, actor: employee.id });
    expect(JSON.stringify(h.logs)).not.toContain('my report x   ');
    expect(h.logs.some((l) => l.action === 'nlu.recognized' && l.correlationId === line.correlationId)).toBe(false);
  });

  it('is answered "too long" in the technicians\' channel too, after the mention is taken off', async () => {
    const tech = h.user('technician');
    h.connector.clear();
    await h.client.message(tech, `whois ${'a '.repeat(2_100)}`, { where: 'channel' });
    const sent = h.connector.sentTo(h.client.channelConversationId());
    expect(sent.map((s) => s.text)).toEqual([expect.stringMatching(/too long for me/)]);
  });

  it('at the bound exactly is still read as usual', async () => {
    const employee = h.user('employee');
    const conversation = h.client.personalConversationId(employee);
    h.connector.clear();
    await h.client.message(employee, `help${' '.repeat(4_000 - 4)}`);
    const sent = h.connector.sentTo(conversation);
    expect(sent.some((s) => /too long/.test(s.text ?? ''))).toBe(false);
    expect(cardText(cardOf(sent[sent.length - 1]))).toContain('Northwind IAM Helpdesk');
  });

  it('does not hold up anyone else: 27,000 spaces after "my report x" are refused at once', async () => {
    const { attackMs, helpMs, attackStatus, stallMs } = await raceWithHelp(h, `my report x${SPACES}`);
    expect(attackStatus).toBe(200);
    expect(attackMs).toBeLessThan(1_000);
    expect(helpMs).toBeLessThan(1_000);
    expect(stallMs).toBeLessThan(500);
  });
});

describe('with the bound raised to 28,000 characters, every pattern is still linear', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ MAX_MESSAGE_CHARS: '28000' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it.each(ATTACKS)('%s: answered quickly, and "help" sent meanwhile is not held up', async (_name, text) => {
    expect(text.length).toBeLessThanOrEqual(28_000);
    const { attackMs, helpMs, attackStatus, stallMs } = await raceWithHelp(h, text);
    expect(attackStatus).toBe(200);
    // Generous for a busy shared machine, far below the seconds a backtracking pattern takes.
    expect(attackMs).toBeLessThan(1_500);
    expect(helpMs).toBeLessThan(1_500);
    expect(stallMs).toBeLessThan(750);
  });

  it('the same in the technicians\' channel, where the command parser reads every line', async () => {
    const tech = h.user('technician');
    for (const text of [`whois x${SPACES}y`, `review start department ${'"'.repeat(27_000)}`, `offboard a@b --reason ${'"\' '.repeat(9_000)}`]) {
      const started = performance.now();
      const res = await h.client.message(tech, text, { where: 'channel' });
      expect(res.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(1_500);
    }
  });
});
