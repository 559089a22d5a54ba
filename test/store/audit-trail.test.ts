import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail, canonicalJson, GENESIS_HASH, hashEvent, redactSecrets } from '../../store/audit-trail';
import { openStore, type Store } from '../../store/store';

let dir: string;
let store: Store;
let clockMs: number;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-audit-'));
  clockMs = Date.parse('2026-11-01T09:00:00.000Z');
  store = openStore(path.join(dir, 'helpdesk.db'), () => new Date((clockMs += 1000)));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function seed(n: number): void {
  for (let i = 1; i <= n; i++) {
    store.audit.append({
      actor: { id: `user-${i % 3}`, name: `User ${i % 3}` },
      action: i % 2 ? 'access.requested' : 'password.reset',
      target: `target-${i}`,
      outcome: 'success',
      details: { n: i, note: `event ${i}` },
      correlationId: `corr-${i % 4}`,
    });
  }
}

/** Opens the file behind the store's back, drops the triggers, and runs `sql`: a tamperer's move. */
function tamper(sql: string, ...params: unknown[]): void {
  store.close();
  const raw = new Database(path.join(dir, 'helpdesk.db'));
  raw.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;');
  raw.prepare(sql).run(...params);
  raw.close();
  store = openStore(path.join(dir, 'helpdesk.db'));
}

describe('audit trail', () => {
  it('chains events: seq from 1, prev_hash of the previous, hash over the canonical encoding', () => {
    seed(3);
    const [a, b, c] = store.audit.tail(3);
    expect([a!.seq, b!.seq, c!.seq]).toEqual([1, 2, 3]);
    expect(a!.prevHash).toBe(GENESIS_HASH);
    expect(b!.prevHash).toBe(a!.hash);
    expect(c!.prevHash).toBe(b!.hash);
    const { hash, ...rest } = c!;
    expect(hashEvent(rest)).toBe(hash);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a!.ts).toBe('2026-11-01T09:00:01.000Z');
  });

  it('stores details as canonical JSON (sorted keys) so the hash does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } })).toBe('{"a":{"c":[3,{"e":2,"f":1}],"d":2},"b":1}');
    const e = store.audit.append({ actor: { id: 'x', name: 'X' }, action: 'a', outcome: 'success', details: { z: 1, a: 2 } });
    expect(e.details).toBe('{"a":2,"z":1}');
  });

  it('never stores a secret in details: keys naming secrets are redacted at any depth', () => {
    const e = store.audit.append({
      actor: { id: 'x', name: 'X' },
      action: 'password.reset',
      outcome: 'success',
      details: { newPassword: 'Hunter2!Hunter2!', nested: { temporaryAccessPass: 'TAP123', client_secret: 's3cr3t', accessToken: 'eyJ' }, pin: '1234', footprint: 'kept', method: 'kept' },
    });
    expect(e.details).not.toMatch(/Hunter2|TAP123|s3cr3t|eyJ|1234/);
    expect(JSON.parse(e.details)).toMatchObject({ footprint: 'kept', method: 'kept', newPassword: '[redacted]' });
    expect(redactSecrets(['a', { otp: '123456' }])).toEqual(['a', { otp: '[redacted]' }]);
  });

  it('verify passes on an intact chain and reports the head', () => {
    seed(50);
    const r = store.audit.verify();
    expect(r).toMatchObject({ ok: true, count: 50, headSeq: 50 });
    expect(store.audit.verify()).toEqual(r);
  });

  it('verify passes on an empty trail', () => {
    expect(store.audit.verify()).toEqual({ ok: true, count: 0, headSeq: 0, headHash: GENESIS_HASH });
  });

  it('refuses UPDATE and DELETE through its triggers', () => {
    seed(2);
    expect(() => store.db.prepare("UPDATE audit_events SET outcome = 'failure' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => store.db.prepare('DELETE FROM audit_events WHERE seq = 2').run()).toThrow(/append-only/);
    expect(store.audit.verify().ok).toBe(true);
  });

  it('detects an edited event and names it', () => {
    seed(10);
    tamper("UPDATE audit_events SET outcome = 'failure' WHERE seq = 6");
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 6, count: 5 });
  });

  it('detects an edit of the details only', () => {
    seed(10);
    tamper('UPDATE audit_events SET details = ? WHERE seq = 3', '{"n":3,"note":"nothing happened"}');
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 3 });
  });

  it('detects an edited event whose own hash was recomputed (the next one no longer follows)', () => {
    seed(10);
    const e = store.audit.query({}, { afterSeq: 3, limit: 1 })[0]!;
    const forged = { ...e, actorName: 'Someone Else' };
    const { hash: _h, ...rest } = forged;
    tamper('UPDATE audit_events SET actor_name = ?, hash = ? WHERE seq = 4', 'Someone Else', hashEvent(rest));
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 5 });
  });

  it('detects a deleted event', () => {
    seed(10);
    tamper('DELETE FROM audit_events WHERE seq = 4');
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 4 });
  });

  it('detects a deleted event when later events were renumbered to close the gap', () => {
    seed(10);
    tamper('DELETE FROM audit_events WHERE seq = 4');
    store.close();
    const raw = new Database(path.join(dir, 'helpdesk.db'));
    raw.exec('DROP TRIGGER IF EXISTS audit_events_no_update; UPDATE audit_events SET seq = seq - 1 WHERE seq > 4');
    raw.close();
    store = openStore(path.join(dir, 'helpdesk.db'));
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 4 });
  });

  it('detects an inserted event', () => {
    seed(10);
    store.close();
    const raw = new Database(path.join(dir, 'helpdesk.db'));
    raw.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_events_append_only;');
    raw.exec('UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 5; UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1005');
    const prev = raw.prepare('SELECT hash FROM audit_events WHERE seq = 4').get() as { hash: string };
    const ev = { seq: 5, ts: '2026-11-01T09:00:04.500Z', actorId: 'intruder', actorName: 'Intruder', action: 'access.granted', target: 'payroll', outcome: 'success' as const, details: '{}', correlationId: null, prevHash: prev.hash };
    raw.prepare('INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,?,?,?)').run(ev.seq, ev.ts, ev.actorId, ev.actorName, ev.action, ev.target, ev.outcome, ev.details, ev.correlationId, ev.prevHash, hashEvent(ev));
    raw.close();
    store = openStore(path.join(dir, 'helpdesk.db'));
    expect(store.audit.count()).toBe(11);
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 6 });
  });

  it('detects two events swapped (reordered)', () => {
    seed(10);
    store.close();
    const raw = new Database(path.join(dir, 'helpdesk.db'));
    raw.exec('DROP TRIGGER audit_events_no_update;');
    raw.exec('UPDATE audit_events SET seq = -1 WHERE seq = 7; UPDATE audit_events SET seq = 7 WHERE seq = 8; UPDATE audit_events SET seq = 8 WHERE seq = -1;');
    raw.close();
    store = openStore(path.join(dir, 'helpdesk.db'));
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 7 });
  });

  it('with an anchor, detects a rewritten chain and a cut-off end', () => {
    seed(10);
    const good = store.audit.verify();
    if (!good.ok) throw new Error('expected ok');
    const anchor = { seq: good.headSeq, hash: good.headHash };
    expect(store.audit.verify(anchor).ok).toBe(true);
    seed(2);
    expect(store.audit.verify(anchor).ok).toBe(true);
    tamper('DELETE FROM audit_events WHERE seq > 8');
    expect(store.audit.verify().ok).toBe(true);
    expect(store.audit.verify(anchor)).toMatchObject({ ok: false, firstBadSeq: 9 });
  });

  it('writes the event in the caller transaction: a failed change leaves no event', () => {
    seed(1);
    expect(() =>
      store.transaction(() => {
        store.audit.append({ actor: { id: 'a', name: 'A' }, action: 'x', outcome: 'success' });
        throw new Error('change failed');
      }),
    ).toThrow('change failed');
    expect(store.audit.count()).toBe(1);
    expect(store.audit.verify().ok).toBe(true);
  });

  it('rejects an event without an action or with an unknown outcome', () => {
    expect(() => store.audit.append({ actor: { id: null, name: null }, action: '', outcome: 'success' })).toThrow(/action/);
    expect(() => store.audit.append({ actor: { id: null, name: null }, action: 'a', outcome: 'maybe' as never })).toThrow(/outcome/);
    expect(store.audit.count()).toBe(0);
  });

  it('queries by actor id or name, action (exact or prefix), correlation id and time', () => {
    seed(20);
    expect(store.audit.query({ actor: 'user-1' }).map((e) => e.seq)).toEqual([1, 4, 7, 10, 13, 16, 19]);
    expect(store.audit.query({ actor: 'USER 1' }).length).toBe(7);
    expect(store.audit.query({ action: 'password.reset' }).every((e) => e.action === 'password.reset')).toBe(true);
    expect(store.audit.query({ action: 'access.*' }).length).toBe(10);
    expect(store.audit.query({ action: '%' }).length).toBe(0);
    expect(store.audit.query({ correlationId: 'corr-2' }).map((e) => e.seq)).toEqual([2, 6, 10, 14, 18]);
    expect(store.audit.query({ since: '2026-11-01T09:00:05.000Z', until: '2026-11-01T09:00:08.000Z' }).map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(store.audit.query({}, { afterSeq: 18 }).map((e) => e.seq)).toEqual([19, 20]);
  });

  it('queries by a directory object id (GUID) on the actor id, in order, across pages', () => {
    const ids = ['3f2504e0-4f89-41d3-9a0c-0305e82c3301', '6ba7b810-9dad-41d1-80b4-00c04fd430c8'];
    store.transaction(() => {
      for (let i = 1; i <= 30; i++) store.audit.append({ actor: { id: ids[i % 2]!, name: `Person ${i % 2}` }, action: 'x.y', outcome: 'success' });
    });
    const first = store.audit.query({ actor: ids[0]! }, { limit: 10 });
    expect(first.map((e) => e.seq)).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    expect(store.audit.query({ actor: ids[0]! }, { afterSeq: 20 }).map((e) => e.seq)).toEqual([22, 24, 26, 28, 30]);
    expect(store.audit.query({ actor: ids[0]!.toUpperCase() })).toEqual([]);
    expect(store.audit.query({ actor: 'person 1' }).length).toBe(15);
  });

  it('streams every event in pages, in order', () => {
    seed(25);
    expect([...store.audit.stream({}, 7)].map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('keeps working across a reopen (the chain continues)', () => {
    seed(3);
    store.close();
    store = openStore(path.join(dir, 'helpdesk.db'));
    seed(2);
    expect(store.audit.verify()).toMatchObject({ ok: true, count: 5 });
  });

  it('an AuditTrail on the same file sees the same chain', () => {
    seed(4);
    const other = new AuditTrail(store.db);
    expect(other.verify()).toMatchObject({ ok: true, count: 4 });
  });
});

describe('audit trail format: databases written by earlier versions still verify', () => {
  /** Every UTF-16 code unit that is not a surrogate, and a few characters beyond the BMP. */
  const everyCharacter = (): string[] => {
    const chars: string[] = [];
    for (let c = 0; c <= 0xffff; c++) if (c < 0xd800 || c > 0xdfff) chars.push(String.fromCharCode(c));
    return [...chars, '😀', '\u{10ffff}', '𝄞'];
  };

  it('hashes a fixed event to the same hash as always', () => {
    const hash = hashEvent({
      seq: 1,
      ts: '2026-11-01T09:00:00.000Z',
      actorId: '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
      actorName: "Zoë O'Brien",
      action: 'access.requested',
      target: 'REQ-1001',
      outcome: 'success',
      details: canonicalJson({ resource: 'payroll-reports', justification: 'line\nbreak "quoted" ☃' }),
      correlationId: 'REQ-1001',
      prevHash: GENESIS_HASH,
    });
    expect(hash).toBe('582447eb6d7f8c5b1cb53b9d479c15c19d6f6de7b1ace6d7eb958644288f6d87');
  });

  it('verifies a chain written with the encoding computed independently, text with every character included', () => {
    const chars = everyCharacter();
    const insert = store.db.prepare('INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,?,?,?)');
    let prev = GENESIS_HASH;
    const n = Math.ceil(chars.length / 1024);
    store.transaction(() => {
      for (let i = 0; i < n; i++) {
        const text = chars.slice(i * 1024, (i + 1) * 1024).join('');
        const fields = [i + 1, `2026-11-01T09:00:${String(i % 60).padStart(2, '0')}.000Z`, i % 3 ? `user-${i}` : null, text, 'x.y', i % 2 ? text : null, 'success', JSON.stringify({ text }), i % 4 ? null : `c-${i}`, prev];
        const hash = createHash('sha256').update(JSON.stringify(fields), 'utf8').digest('hex');
        insert.run(...fields, hash);
        prev = hash;
      }
    });
    expect(store.audit.verify()).toEqual({ ok: true, count: n, headSeq: n, headHash: prev });
  });

  it('relies on SQLite json_array encoding text exactly as JSON.stringify does, for every character', () => {
    const encode = store.db.prepare('SELECT json_array(CAST(? AS INTEGER), ?, ?)').pluck();
    const differing = everyCharacter().filter((ch) => {
      const text = `a${ch}b`;
      return encode.get(7, text, null) !== JSON.stringify([7, text, null]);
    });
    expect(differing).toEqual([]);
  });

  it('names an event holding a BLOB where text belongs (a page SQLite cannot encode)', () => {
    seed(10);
    tamper('UPDATE audit_events SET actor_name = ? WHERE seq = 7', Buffer.from('User 1'));
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 7, count: 6 });
  });

  it('verifies a trail of several pages and names a bad event in a later page', () => {
    store.transaction(() => seed(12_000));
    expect(store.audit.verify()).toMatchObject({ ok: true, count: 12_000, headSeq: 12_000 });
    tamper("UPDATE audit_events SET target = 'someone-else' WHERE seq = 10001");
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 10_001, count: 10_000 });
  });
});
