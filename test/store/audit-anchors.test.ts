import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAnchor, readAnchors } from '../../store/audit-anchors';
import { main } from '../../store/cli/audit-cli';
import { openStore } from '../../store/store';
import { startHarness, TestClock, type Harness } from '../support/harness';

const HOUR = 3_600_000;
let dir: string;
let db: string;

function fill(file: string, n: number, who = 'Tia Tech'): void {
  const store = openStore(file);
  for (let i = 1; i <= n; i++) store.audit.append({ actor: { id: 'tech-id', name: who }, action: 'welcome.shown', target: `t${i}`, outcome: 'success', details: { i } });
  store.close();
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on('data', (c) => o.push(c));
  err.on('data', (c) => e.push(c));
  const code = await main(argv, { DATABASE_PATH: db }, out, err);
  return { code, out: Buffer.concat(o).toString(), err: Buffer.concat(e).toString() };
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-anchor-'));
  db = path.join(dir, 'helpdesk.db');
  fill(db, 12);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('audit anchors from the command line', () => {
  it('anchor appends the verified head beside the database; verify --anchors checks the newest', async () => {
    const a = await run('anchor');
    expect(a.code).toBe(0);
    const file = path.join(dir, 'audit-anchors.jsonl');
    const [first] = readAnchors(file);
    expect(first).toMatchObject({ seq: 12, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    fill(db, 3);
    expect((await run('anchor', '--anchors', file)).code).toBe(0);
    expect(readAnchors(file).map((x) => x.seq)).toEqual([12, 15]);
    const v = await run('verify', '--anchors', file);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/still holds the anchor of .* \(event 15\)/);
  });

  it('a trail rewritten with recomputed hashes passes verify alone, and fails against its anchor', async () => {
    const file = path.join(dir, 'anchors.jsonl');
    expect((await run('anchor', '--anchors', file)).code).toBe(0);
    // The same number of events, different content, every hash recomputed: a clean new chain.
    fs.rmSync(db);
    for (const f of fs.readdirSync(dir)) if (f.startsWith('helpdesk.db-')) fs.rmSync(path.join(dir, f));
    fill(db, 12, 'Mallory');
    expect((await run('verify')).code).toBe(0);
    const v = await run('verify', '--anchors', file);
    expect(v.code).toBe(1);
    expect(v.out).toMatch(/FAILED at event 12/);
  });

  it('a trail cut off before the anchor fails', async () => {
    const file = path.join(dir, 'anchors.jsonl');
    await run('anchor', '--anchors', file);
    const raw = new Database(db);
    raw.exec('DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events WHERE seq > 9');
    raw.close();
    const v = await run('verify', '--anchors', file);
    expect(v.code).toBe(1);
    expect(v.out).toMatch(/ends at event 9, before the recorded event 12/);
  });

  it('an edited anchor file is refused, naming the line; nothing is verified against it', async () => {
    const file = path.join(dir, 'anchors.jsonl');
    appendAnchor(file, { seq: 10, hash: 'a'.repeat(64), at: '2026-11-01T00:00:00.000Z' });
    fs.appendFileSync(file, '{"seq": 5, "hash": "nope"}\n');
    expect(await run('verify', '--anchors', file)).toMatchObject({ code: 2, err: expect.stringMatching(/line 2 is not an anchor/) });
    fs.writeFileSync(file, `${JSON.stringify({ seq: 10, hash: 'a'.repeat(64), at: '2026-11-01T00:00:00Z' })}\n${JSON.stringify({ seq: 4, hash: 'b'.repeat(64), at: '2026-11-02T00:00:00Z' })}\n`);
    expect(await run('verify', '--anchors', file)).toMatchObject({ code: 2, err: expect.stringMatching(/line 2 goes back from event 10 to 4/) });
    fs.writeFileSync(file, '');
    expect(await run('verify', '--anchors', file)).toMatchObject({ code: 2, err: expect.stringMatching(/holds no anchor/) });
    expect(await run('verify', '--anchors', file, '--expect', `1:${'a'.repeat(64)}`)).toMatchObject({ code: 2 });
    expect(await run('verify', '--anchors', path.join(dir, 'missing.jsonl'))).toMatchObject({ code: 2, err: expect.stringMatching(/cannot read/) });
  });

  it('anchors nothing when the chain is broken', async () => {
    const file = path.join(dir, 'anchors.jsonl');
    const raw = new Database(db);
    raw.exec("DROP TRIGGER audit_events_no_update; UPDATE audit_events SET target = 'x' WHERE seq = 4");
    raw.close();
    expect((await run('anchor', '--anchors', file)).code).toBe(1);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('scheduled anchors', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('writes the head once per interval, logs it, and never twice for one slot across a restart', async () => {
    const clock = new TestClock('2026-03-02T09:00:00.000Z');
    const anchors = path.join(dir, 'elsewhere', 'anchors.jsonl');
    h = await startHarness({ AUDIT_ANCHOR_FILE: anchors, AUDIT_ANCHOR_INTERVAL_HOURS: '6' }, { clock: clock.now });
    h.bot.store.audit.append({ actor: { id: 'tech-id', name: 'Tia Tech' }, action: 'welcome.shown', target: null, outcome: 'success' });
    clock.advance(2 * HOUR);
    await h.bot.scheduler.runDue();
    expect(fs.existsSync(anchors)).toBe(false);
    clock.advance(2 * HOUR); // 13:00: the 12:00 slot is due
    await h.bot.scheduler.runDue();
    const first = readAnchors(anchors);
    expect(first).toHaveLength(1);
    // The anchored head, then the trail's record of the anchor: which head, and where it went.
    const [head, recorded] = h.bot.store.audit.tail(2);
    expect(first[0]).toMatchObject({ seq: head!.seq, hash: head!.hash, at: '2026-03-02T13:00:00.000Z' });
    expect(recorded).toMatchObject({ action: 'audit.anchor', outcome: 'success' });
    expect(JSON.parse(recorded!.details)).toEqual({ seq: head!.seq, hash: head!.hash, file: anchors });
    expect(h.logs.some((l) => l.action === 'audit.anchor' && l.seq === head!.seq)).toBe(true);

    await h.restart();
    await h.bot.scheduler.runDue();
    expect(readAnchors(anchors)).toHaveLength(1);
    h.bot.store.audit.append({ actor: { id: 'tech-id', name: 'Tia Tech' }, action: 'welcome.shown', target: null, outcome: 'success' });
    clock.advance(6 * HOUR);
    await h.bot.scheduler.runDue();
    const both = readAnchors(anchors);
    expect(both).toHaveLength(2);
    expect(h.bot.store.audit.verify(both[1]!)).toMatchObject({ ok: true });
  });

  it('AUDIT_ANCHOR_INTERVAL_HOURS=0 writes none', async () => {
    const clock = new TestClock('2026-03-02T09:00:00.000Z');
    const anchors = path.join(dir, 'anchors.jsonl');
    h = await startHarness({ AUDIT_ANCHOR_FILE: anchors, AUDIT_ANCHOR_INTERVAL_HOURS: '0' }, { clock: clock.now });
    h.bot.store.audit.append({ actor: { id: 'tech-id', name: 'Tia Tech' }, action: 'welcome.shown', target: null, outcome: 'success' });
    clock.advance(48 * HOUR);
    await h.bot.scheduler.runDue();
    expect(fs.existsSync(anchors)).toBe(false);
  });
});

describe('anchors that were written and are gone (command line)', () => {
  /** What the scheduled job records in the trail after each anchor it writes. */
  function recordAnchorWritten(file: string): void {
    const store = openStore(db);
    const [a] = readAnchors(file).slice(-1);
    store.audit.append({ actor: { id: 'system', name: 'Helpdesk bot' }, action: 'audit.anchor', target: null, outcome: 'success', details: { seq: a!.seq, hash: a!.hash, file } });
    store.close();
  }

  it('a deleted or cut anchor file fails verify (exit 1), and anchor will not start it afresh', async () => {
    const file = path.join(dir, 'anchors.jsonl');
    expect((await run('anchor', '--anchors', file)).code).toBe(0);
    recordAnchorWritten(file);
    fill(db, 2);
    expect((await run('anchor', '--anchors', file)).code).toBe(0);
    recordAnchorWritten(file);
    expect((await run('verify', '--anchors', file)).code).toBe(0);

    const [first] = fs.readFileSync(file, 'utf8').split('\n');
    fs.writeFileSync(file, `${first}\n`);
    const cut = await run('verify', '--anchors', file);
    expect(cut.code).toBe(1);
    expect(cut.out).toMatch(/^OK: \d+ events, chain intact/);
    expect(cut.out).toMatch(/FAILED: ANCHORS: the anchor file .* holds 1 anchors \(the newest of event 12\), but the trail records 2 written to it: the anchor of event 15 is not in it \(1 missing\)/);

    fs.rmSync(file);
    const gone = await run('verify', '--anchors', file);
    expect(gone).toMatchObject({ code: 1, out: expect.stringMatching(/FAILED: ANCHORS: the anchor file .* is missing, but the trail records 2 anchors written to it, the newest of event 15/) });
    expect(await run('anchor', '--anchors', file)).toMatchObject({ code: 1, out: expect.stringMatching(/is missing.*\n.*Nothing was anchored/) });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('anchor writes the file and its mirror folder; verify compares them and names the one that lost anchors', async () => {
    const file = path.join(dir, 'anchors.jsonl');
    const mirrorDir = path.join(dir, 'second-volume');
    const mirror = path.join(mirrorDir, 'anchors.jsonl');
    expect(await run('anchor', '--anchors', file, '--mirror', mirrorDir)).toMatchObject({ code: 0, out: expect.stringContaining(`... and in its mirror ${mirror}`) });
    fill(db, 2);
    expect((await run('anchor', '--anchors', file, '--mirror', mirrorDir)).code).toBe(0);
    expect(fs.readFileSync(mirror, 'utf8')).toBe(fs.readFileSync(file, 'utf8'));
    expect(await run('verify', '--anchors', file, '--mirror', mirrorDir)).toMatchObject({ code: 0, out: expect.stringContaining('agrees with the anchor file (2 of its 2 anchors)') });

    // Cut on one disk only: the other still tells.
    fs.writeFileSync(mirror, `${fs.readFileSync(mirror, 'utf8').split('\n')[0]}\n`);
    fs.writeFileSync(file, '');
    const v = await run('verify', '--anchors', file, '--mirror', mirrorDir);
    expect(v.code).toBe(1);
    expect(v.out).toContain(`FAILED: ANCHORS: the anchor file ${file} is missing or empty, but its mirror ${mirror} holds 1`);
    // The mirror cannot be the anchor file itself.
    expect(await run('verify', '--anchors', file, '--mirror', dir)).toMatchObject({ code: 2, err: expect.stringMatching(/must be another folder/) });
  });
});
