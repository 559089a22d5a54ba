import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { csvField, parseTimeBound } from '../../store/audit-export';
import { main } from '../../store/cli/audit-cli';
import { openStore } from '../../store/store';

let dir: string;
let file: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-cli-'));
  file = path.join(dir, 'helpdesk.db');
  let t = Date.parse('2026-11-01T00:00:00.000Z');
  const store = openStore(file, () => new Date((t += 3_600_000)));
  for (let i = 1; i <= 30; i++) {
    store.audit.append({
      actor: { id: i % 2 ? 'tech-id' : 'emp-id', name: i % 2 ? 'Tia Tech' : 'Eve, "the" Employee' },
      action: i % 3 === 0 ? 'access.requested' : 'welcome.shown',
      target: i === 5 ? '=HYPERLINK("evil")' : `t${i}`,
      outcome: 'success',
      details: { i, text: 'line one\nline two' },
      correlationId: `c${i}`,
    });
  }
  store.close();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on('data', (c) => o.push(c));
  err.on('data', (c) => e.push(c));
  const code = await main(argv, { DATABASE_PATH: file }, out, err);
  return { code, out: Buffer.concat(o).toString(), err: Buffer.concat(e).toString() };
}

/** A minimal RFC 4180 reader for checking the export round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += ch;
  }
  return rows;
}

describe('npm run audit', () => {
  it('verify passes on an intact trail and prints the head', async () => {
    const r = await run('verify');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^OK: 30 events, chain intact\. Head 30:[0-9a-f]{64}/);
  });

  it('verify fails, naming the event, after one event is altered in the file (triggers dropped first)', async () => {
    const raw = new Database(file);
    raw.exec("DROP TRIGGER audit_events_no_update; UPDATE audit_events SET actor_name = 'Mallory' WHERE seq = 17");
    raw.close();
    const r = await run('verify');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAILED at event 17/);
  });

  it('verify --expect checks a recorded head', async () => {
    const head = /Head (\d+:[0-9a-f]{64})/.exec((await run('verify')).out)![1]!;
    expect((await run('verify', '--expect', head)).code).toBe(0);
    expect((await run('verify', '--expect', `30:${'a'.repeat(64)}`)).code).toBe(1);
    expect((await run('verify', '--expect', 'nonsense')).code).toBe(2);
  });

  it('tail prints the last N events, oldest first', async () => {
    const r = await run('tail', '-n', '3');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^#28 /);
    expect(lines[2]).toMatch(/^#30 .*access\.requested by Eve/);
  });

  it('tail rejects a bad count', async () => {
    for (const n of ['0', '-1', 'x', '100000']) expect((await run('tail', '-n', n)).code).toBe(2);
  });

  it('exports CSV that round-trips, with formula text neutralised', async () => {
    const r = await run('export', '--format', 'csv');
    expect(r.code).toBe(0);
    const rows = parseCsv(r.out);
    expect(rows[0]).toEqual(['seq', 'ts', 'actor_id', 'actor_name', 'action', 'target', 'outcome', 'details', 'correlation_id', 'prev_hash', 'hash']);
    expect(rows).toHaveLength(31);
    expect(rows[2]![3]).toBe('Eve, "the" Employee');
    expect(JSON.parse(rows[1]![7]!)).toEqual({ i: 1, text: 'line one\nline two' });
    expect(rows[5]![5]).toBe(`'=HYPERLINK("evil")`);
  });

  it('exports JSON lines filtered by actor, action and time', async () => {
    const r = await run('export', '--format', 'jsonl', '--actor', 'tech-id', '--action', 'access.*', '--since', '2026-11-01T05:00:00Z', '--until', '2026-11-02');
    expect(r.code).toBe(0);
    const events = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual([9, 15, 21]);
    expect(events[0].details).toEqual({ i: 9, text: 'line one\nline two' });
  });

  it('rejects bad usage with a clear message and exit code 2', async () => {
    expect(await run('export')).toMatchObject({ code: 2, err: expect.stringMatching(/--format csv/) });
    expect(await run('export', '--format', 'xml')).toMatchObject({ code: 2 });
    expect(await run('export', '--format', 'csv', '--since', 'yesterday-ish')).toMatchObject({ code: 2, err: expect.stringMatching(/not a time/) });
    expect(await run('frobnicate')).toMatchObject({ code: 2, err: expect.stringMatching(/Unknown command/) });
    expect(await run('tail', '--bogus')).toMatchObject({ code: 2 });
    expect((await run()).code).toBe(2);
  });

  it('says so when there is no database', async () => {
    const r = await run('verify', '--db', path.join(dir, 'nope.db'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/No database at/);
    expect(fs.existsSync(path.join(dir, 'nope.db'))).toBe(false);
  });
});

describe('export helpers', () => {
  it('quotes CSV fields that need it', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField(null)).toBe('');
    expect(csvField(-5)).toBe('-5');
  });

  it('parses time bounds', () => {
    const now = new Date('2026-11-25T12:00:00.000Z');
    expect(parseTimeBound('24h', now)).toBe('2026-11-24T12:00:00.000Z');
    expect(parseTimeBound('2w', now)).toBe('2026-11-11T12:00:00.000Z');
    expect(parseTimeBound('2026-11-01', now)).toBe('2026-11-01T00:00:00.000Z');
    expect(() => parseTimeBound("2026-11-01' OR 1=1", now)).toThrow(/not a time/);
    expect(() => parseTimeBound('2026-13-45', now)).toThrow();
  });
});
