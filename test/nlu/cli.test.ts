import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { IntentRegistry } from '../../bot/intents';
import { defaultRecognizer } from '../../bot/nlu';
import { runCli } from '../../bot/nlu/cli';

async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += String(c)));
  stderr.on('data', (c) => (err += String(c)));
  const code = await runCli(argv, { stdin: Readable.from([stdin]), stdout, stderr }, defaultRecognizer());
  return { code, out, err };
}

describe('nlu command line', () => {
  it('prints exactly one JSON line with intent, confidence and entities for a text', async () => {
    const { code, out } = await cli(['can I get into the payroll reports until friday?', '--tz', 'Europe/London', '--now', '2026-06-10T10:00:00Z']);
    expect(code).toBe(0);
    const lines = out.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);
    expect(Object.keys(r)).toEqual(['intent', 'confidence', 'entities']);
    expect(r.intent).toBe('access.request');
    expect(r.entities.resources[0].id).toBe('payroll-reports');
    expect(r.entities.duration).toMatchObject({ untilDate: '2026-06-12', until: '2026-06-12T23:59:59+01:00' });
  });

  it('answers JSON lines in order, one line per input line, with an error object for a bad line', async () => {
    const input = [
      JSON.stringify({ text: 'forgot my pw again' }),
      'not json at all',
      JSON.stringify({ nope: 1 }),
      '',
      JSON.stringify({ text: 'cancel REQ-1042', id: 'x7' }),
      JSON.stringify({ text: 'vpn until friday', localTimezone: 'America/New_York', localTimestamp: '2026-06-10T08:00:00-04:00' }),
    ].join('\n');
    const { code, out } = await cli(['--jsonl'], `${input}\n`);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(6);
    expect(lines[0].intent).toBe('password.reset');
    expect(lines[1]).toEqual({ error: 'line 2: not JSON' });
    expect(lines[2].error).toMatch(/line 3/);
    expect(lines[3].error).toMatch(/line 4/);
    expect(lines[4]).toMatchObject({ id: 'x7', intent: 'access.cancel', entities: { requestIds: ['REQ-1042'] } });
    expect(lines[5].entities.duration).toMatchObject({ untilDate: '2026-06-12', until: '2026-06-12T23:59:59-04:00', timeZone: 'America/New_York' });
  });

  it('handles a few thousand lines in seconds', async () => {
    const texts = ['reset my password', 'what access do I have', 'I need the crm for 3 days', 'lol', 'approvals waiting for me'];
    const input = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ text: `${texts[i % texts.length]} ${i}` })).join('\n');
    const started = Date.now();
    const { out } = await cli(['--jsonl'], input);
    expect(Date.now() - started).toBeLessThan(5000);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3000);
    expect(JSON.parse(lines[2997]!).intent).toBe('access.request');
  });

  it('scores the development set with accuracy, a confusion table and the worst misses', async () => {
    const { code, out } = await cli(['--eval', '--min', '0.95']);
    expect(code).toBe(0);
    expect(out).toMatch(/intent accuracy \d+\.\d%/);
    expect(out).toMatch(/\| expected \\ got \| pwd \| mfa/);
    expect(out).toMatch(/\| none \(\d+\) \|/);
    expect(out).toMatch(/worst misses/);
  });

  it('fails the evaluation below a required accuracy, and explains usage without text', async () => {
    expect((await cli(['--eval', '--min', '1.01'])).code).toBe(1);
    const usage = await cli([]);
    expect(usage.code).toBe(2);
    expect(usage.out).toBe('');
    expect(usage.err).toMatch(/usage/);
  });
});

describe('intent hand-off', () => {
  it('keeps one handler per intent', () => {
    const intents = new IntentRegistry();
    const handler = async () => undefined;
    intents.handle('password.reset', handler);
    expect(intents.get('password.reset')).toBe(handler);
    expect(intents.has('mfa.reset')).toBe(false);
    expect(() => intents.handle('password.reset', handler)).toThrow(/already/);
  });
});
