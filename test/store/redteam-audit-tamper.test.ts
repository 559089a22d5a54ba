import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAnchor, readAnchors } from '../../store/audit-anchors';
import { csvField, parseTimeBound } from '../../store/audit-export';
import { APPEND_ONLY_GUARDS, GENESIS_HASH, hashEvent, type AuditEvent } from '../../store/audit-trail';
import { main } from '../../store/cli/audit-cli';
import { openStore } from '../../store/store';

let dir: string;
let db: string;
let anchors: string;

function fill(n: number, who = 'Tia Tech'): void {
  const store = openStore(db);
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

/** Opens the file as an attacker would: triggers gone, free to rewrite; closing puts them back, as a careful one would. */
function raw(): Database.Database {
  const r = new Database(db);
  for (const g of APPEND_ONLY_GUARDS) r.exec(`DROP TRIGGER IF EXISTS ${g.name}`);
  const close = r.close.bind(r);
  r.close = () => {
    for (const g of APPEND_ONLY_GUARDS) r.exec(g.sql);
    return close();
  };
  return r;
}

type Row = { seq: number; ts: string; actor_id: string | null; actor_name: string | null; action: string; target: string | null; outcome: string; details: string; correlation_id: string | null; prev_hash: string; hash: string };

/** Recomputes every hash from `from` on, as a careful attacker would after an edit. */
function rechain(r: Database.Database): void {
  const rows = r.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Row[];
  let prev = GENESIS_HASH;
  const upd = r.prepare('UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const row of rows) {
    const e: Omit<AuditEvent, 'hash'> = { seq: row.seq, ts: row.ts, actorId: row.actor_id, actorName: row.actor_name, action: row.action, target: row.target, outcome: row.outcome as AuditEvent['outcome'], details: row.details, correlationId: row.correlation_id, prevHash: prev };
    const h = hashEvent(e);
    upd.run(prev, h, row.seq);
    prev = h;
  }
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-rt-audit-'));
  db = path.join(dir, 'helpdesk.db');
  anchors = path.join(dir, 'anchors.jsonl');
  fill(10);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('tampering in the database file is found, with the position', () => {
  it('an edited details value names that event', async () => {
    const r = raw();
    r.prepare("UPDATE audit_events SET details = '{\"i\":99}' WHERE seq = 6").run();
    r.close();
    expect(await run('verify')).toMatchObject({ code: 1, out: expect.stringMatching(/^FAILED at event 6: event 6 was altered/) });
  });

  it('a deleted event in the middle names the gap', async () => {
    const r = raw();
    r.prepare('DELETE FROM audit_events WHERE seq = 4').run();
    r.close();
    expect(await run('verify')).toMatchObject({ code: 1, out: expect.stringMatching(/^FAILED at event 4: sequence 4 is missing/) });
  });

  it('a forged event inserted in the middle with every later hash recomputed passes the chain but fails against the anchors', async () => {
    expect((await run('anchor', '--anchors', anchors)).code).toBe(0);
    const r = raw();
    r.exec('UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 5; UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1005');
    r.prepare("INSERT INTO audit_events VALUES (5, '2026-01-01T00:00:00.000Z', 'mallory', 'Mallory', 'access.granted', 'payroll', 'success', '{}', null, '', '')").run();
    rechain(r);
    r.close();
    expect((await run('verify')).code).toBe(0);
    expect(await run('verify', '--anchors', anchors)).toMatchObject({ code: 1, out: expect.stringMatching(/^FAILED at event 10: event 10 no longer has the recorded hash/) });
  });

  it('two events swapped name the first of them', async () => {
    const r = raw();
    const a = r.prepare('SELECT * FROM audit_events WHERE seq = 3').get() as Row;
    const b = r.prepare('SELECT * FROM audit_events WHERE seq = 7').get() as Row;
    const put = r.prepare('UPDATE audit_events SET ts = ?, target = ?, details = ?, prev_hash = ?, hash = ? WHERE seq = ?');
    put.run(b.ts, b.target, b.details, b.prev_hash, b.hash, 3);
    put.run(a.ts, a.target, a.details, a.prev_hash, a.hash, 7);
    r.close();
    expect(await run('verify')).toMatchObject({ code: 1, out: expect.stringMatching(/^FAILED at event 3:/) });
  });

  it('the last events cut off pass the chain but fail against the anchors', async () => {
    expect((await run('anchor', '--anchors', anchors)).code).toBe(0);
    const r = raw();
    r.prepare('DELETE FROM audit_events WHERE seq > 7').run();
    r.close();
    expect((await run('verify')).code).toBe(0);
    expect(await run('verify', '--anchors', anchors)).toMatchObject({ code: 1, out: expect.stringMatching(/^FAILED at event 8: the trail ends at event 7/) });
  });

  it('a chain rewritten and re-anchored by the bot afterwards still fails against the earlier anchor', async () => {
    expect((await run('anchor', '--anchors', anchors)).code).toBe(0);
    const first = readAnchors(anchors)[0]!;
    const r = raw();
    r.prepare("UPDATE audit_events SET actor_name = 'Somebody Else' WHERE seq = 2").run();
    rechain(r);
    r.close();
    // The scheduled anchor job writes the head it finds, without judging the chain.
    fill(2);
    const store = openStore(db);
    const head = store.audit.tail(1)[0]!;
    store.close();
    // The command line refuses to anchor it.
    expect(await run('anchor', '--anchors', anchors)).toMatchObject({ code: 1, out: expect.stringMatching(/^FAILED at event 10: .*Nothing was anchored/) });
    expect(readAnchors(anchors)).toHaveLength(1);
    appendAnchor(anchors, { seq: head.seq, hash: head.hash, at: new Date().toISOString() });
    const v = await run('verify', '--anchors', anchors);
    expect(v.code).toBe(1);
    expect(v.out).toMatch(new RegExp(`^FAILED at event ${first.seq}: event ${first.seq} no longer has the recorded hash ${first.hash}`));
  });
});

describe('the anchor file tampered', () => {
  it('an anchor line whose hash was changed fails verification at that event', async () => {
    expect((await run('anchor', '--anchors', anchors)).code).toBe(0);
    fill(3);
    expect((await run('anchor', '--anchors', anchors)).code).toBe(0);
    const lines = fs.readFileSync(anchors, 'utf8').trim().split('\n');
    const edited = JSON.parse(lines[0]!);
    edited.hash = 'f'.repeat(64);
    fs.writeFileSync(anchors, `${JSON.stringify(edited)}\n${lines[1]}\n`);
    expect(await run('verify', '--anchors', anchors)).toMatchObject({ code: 1, out: expect.stringMatching(/^FAILED at event 10: event 10 no longer has the recorded hash f{64}/) });
  });

  it('two anchors that give one event different hashes are refused, naming the line', async () => {
    expect((await run('anchor', '--anchors', anchors)).code).toBe(0);
    const [a] = readAnchors(anchors);
    appendAnchor(anchors, { seq: a!.seq, hash: 'e'.repeat(64), at: new Date().toISOString() });
    expect(() => readAnchors(anchors)).toThrow(/line 2 gives event 10 another hash than line 1/);
    expect(await run('verify', '--anchors', anchors)).toMatchObject({ code: 2, err: expect.stringMatching(/line 2 gives event 10 another hash than line 1/) });
  });
});

describe('CSV fields are never formulas', () => {
  it.each(['=1+1', '+1', '-1', '@SUM(A1)', '\t=1', '\r=1', '  =HYPERLINK("x")', ' \t+cmd', '\u00a0=1', '\u3000=1', '=', '-'])('%j is neutralised and round-trips with its apostrophe', (v) => {
    const f = csvField(v);
    const unquoted = f.startsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f;
    expect(unquoted).toBe(`'${v}`);
  });
  it('ordinary values and numbers are left as they are', () => {
    expect(csvField('Eve Employee')).toBe('Eve Employee');
    expect(csvField(-5)).toBe('-5');
    expect(csvField('a, "b"\nc')).toBe('"a, ""b""\nc"');
    expect(csvField('𝔘𝔫𝔦 😀')).toBe('𝔘𝔫𝔦 😀');
  });
});

describe('time bounds', () => {
  const now = new Date('2026-11-10T00:00:00Z');
  it.each(['2026-02-30', '2026-13-01', '2026-11-01T25:00:00Z', 'yesterday', '7 d', '-7d', '7D', "2026-11-01' OR 1=1 --", '', '１２d'])('%j is refused with a clear message', (v) => {
    expect(() => parseTimeBound(v, now)).toThrow(/is not a (valid date|time)/);
  });
});
