import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { readAnchors } from '../../store/audit-anchors';
import { main as auditCli } from '../../store/cli/audit-cli';
import { FakeAppendBlob } from '../support/fake-append-blob';
import { demoPersona } from '../support/graph-setup';
import { TestClock } from '../support/harness';
import { useProductionBot } from '../support/production-rig';
import { findById } from '../support/teams-client';

/**
 * Production mode, the anchors mirrored to an Azure-style append blob over HTTPS (a SAS URL):
 * each anchor appended to the file and the blob; an outage of the blob is one security ticket
 * and a retried job that catches the blob up when it is back; a blob rewritten or deleted is
 * found by `audit verify` and by the job. The SAS signature never reaches a log line, the
 * trail or a ticket.
 */
const SIG = 'c2FzLXNpZ25hdHVyZS1zZWNyZXQ+/=';
const BLOB = '/anchors/helpdesk.jsonl';
const blob = new FakeAppendBlob(SIG);
const clock = new TestClock('2026-03-02T09:00:00.000Z');
const HOUR = 3_600_000;

beforeAll(async () => {
  await blob.start();
});
afterAll(async () => {
  await blob.stop();
});
const rig = useProductionBot({
  dirPrefix: 'helpdesk-anchor-blob-',
  clock,
  env: (fakes) => {
    const caFile = path.join(fakes.dir, 'blob-ca.pem');
    fs.writeFileSync(caFile, blob.ca);
    return { AUDIT_ANCHOR_INTERVAL_HOURS: '6', AUDIT_ANCHOR_MIRROR: blob.urlOf(BLOB), AUDIT_ANCHOR_MIRROR_CA_FILE: caFile, JOB_RETRY_BASE_SECONDS: '30' };
  },
});

const sarah = () => demoPersona('technician');
const anchors = () => path.join(rig.fakes.dir, 'audit-anchors.jsonl');
const fileText = () => fs.readFileSync(anchors(), 'utf8');
async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  await rig.bot.scheduler.runDue();
  await rig.bot.scheduler.idle();
}
async function someEvents(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await rig.sayInChannel(sarah(), 'whois emily.chen@northwind.example');
}
async function verifyCard(): Promise<{ title: string; text: string }> {
  const { cards } = await rig.sayInChannel(sarah(), 'audit verify');
  return { title: String(findById(cards[0], 'notice-title')?.text ?? ''), text: String(findById(cards[0], 'notice-text')?.text ?? '') };
}
const tickets = (t: string) => rig.bot.store.technician.tickets.listOpen().filter((x) => x.title === t);
const secretNowhere = () => {
  const enc = encodeURIComponent(SIG);
  for (const where of [JSON.stringify(rig.logs), JSON.stringify(rig.bot.store.audit.tail(10_000)), JSON.stringify(rig.bot.store.technician.tickets.listOpen()), JSON.stringify(rig.connector.sentTo(rig.client().channelConversationId()))]) {
    expect(where).not.toContain(SIG);
    expect(where).not.toContain(enc);
  }
};

describe('anchors mirrored to an https append blob (production mode)', () => {
  it('each anchor is appended to the file and, with the Blob service headers, to the blob', async () => {
    await someEvents(2);
    await advance(6 * HOUR);
    expect(readAnchors(anchors())).toHaveLength(1);
    expect(blob.text(BLOB)).toBe(fileText());
    const writes = blob.requests.filter((r) => r.method === 'PUT');
    expect(writes.map((r) => [r.query.includes('comp=appendblock'), r.headers['x-ms-blob-type'] ?? null, r.headers['if-none-match'] ?? null, r.headers['x-ms-blob-condition-appendpos'] ?? null])).toEqual([
      [false, 'AppendBlob', '*', null],
      [true, null, null, '0'],
    ]);
    expect(blob.requests.every((r) => r.headers['x-ms-version'] && r.path === BLOB)).toBe(true);

    await someEvents(1);
    await advance(6 * HOUR);
    expect(readAnchors(anchors())).toHaveLength(2);
    expect(blob.text(BLOB)).toBe(fileText());
    const v = await verifyCard();
    expect(v.title).toBe('Audit trail intact');
    expect(v.text).toContain('and the mirror agrees');
    secretNowhere();
  });

  it('a blob outage: one security ticket, the job retried, and the blob caught up when it is back', async () => {
    blob.failWith = 503;
    await someEvents(1);
    await advance(6 * HOUR);
    expect(readAnchors(anchors())).toHaveLength(3);
    expect(readAnchors(anchors()).length).toBeGreaterThan(blob.text(BLOB)!.split('\n').filter(Boolean).length);
    const recorded = JSON.parse(rig.bot.store.audit.query({ action: 'audit.anchor' }).at(-1)!.details);
    expect(recorded).toMatchObject({ mirrored: false, mirror: `${new URL(blob.urlOf(BLOB)).origin}${BLOB}` });
    expect(rig.bot.store.audit.query({ action: 'audit.anchor-mirror-failed' })).toHaveLength(1);
    expect(tickets('Audit trail: the anchor mirror was not written')).toHaveLength(1);
    expect(rig.logs.some((l) => l.action === 'audit.anchor-mirror-failed' && l.level >= 50 && /HTTP 503/.test(l.reason))).toBe(true);
    const v = await verifyCard();
    expect(v.title).toBe('Audit anchor mirror UNREACHABLE');

    // Still down at the first retry: the same ticket, raised again.
    await advance(31_000);
    expect(tickets('Audit trail: the anchor mirror was not written')).toHaveLength(1);
    blob.failWith = null;
    await advance(61_000);
    expect(blob.text(BLOB)).toBe(fileText());
    expect(JSON.parse(rig.bot.store.audit.query({ action: 'audit.anchor' }).at(-1)!.details)).toMatchObject({ mirrored: true });
    expect((await verifyCard()).title).toBe('Audit trail intact');
    secretNowhere();
  });

  it('a blob rewritten is refused by verify (chat and command line) and by the job', async () => {
    const lines = blob.text(BLOB)!.split('\n').filter(Boolean);
    const edited = JSON.parse(lines[0]!);
    edited.hash = 'a'.repeat(64);
    lines[0] = JSON.stringify(edited);
    blob.blobs.set(BLOB, Buffer.from(`${lines.join('\n')}\n`));
    const v = await verifyCard();
    expect(v.title).toBe('Audit anchors REFUSED');
    expect(v.text).toContain('disagree at anchor 1 (event');
    expect(v.text).toContain('the mirror was rewritten (the trail matches the file)');

    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c) => chunks.push(c));
    const env = { DATABASE_PATH: rig.bot.config.databasePath, AUDIT_ANCHOR_MIRROR: blob.urlOf(BLOB), AUDIT_ANCHOR_MIRROR_CA_FILE: path.join(rig.fakes.dir, 'blob-ca.pem') };
    expect(await auditCli(['verify', '--anchors', anchors()], env, out, new PassThrough())).toBe(1);
    expect(Buffer.concat(chunks).toString()).toContain('disagree at anchor 1');

    const before = fileText();
    await advance(6 * HOUR);
    expect(fileText()).toBe(before);
    expect(JSON.parse(rig.bot.store.audit.query({ action: 'audit.anchor-refused' }).at(-1)!.details).reason).toContain('disagree at anchor 1');
  });

  it('a blob deleted while the trail records anchors written to it is an alarm, not a fresh start', async () => {
    blob.blobs.delete(BLOB);
    const v = await verifyCard();
    expect(v.title).toBe('Audit anchors MISSING');
    expect(v.text).toMatch(/the anchor mirror https:\/\/127\.0\.0\.1:\d+\/anchors\/helpdesk\.jsonl is missing, but the trail records \d+ anchors written to it/);
    await advance(6 * HOUR);
    expect(blob.text(BLOB)).toBeNull();
    expect(tickets('Audit trail: anchors are missing')).toHaveLength(1);
    secretNowhere();
  });

  it('a trigger dropped from the file, then a REPLACE of an event from that connection: refused; audit verify says UNGUARDED', async () => {
    const raw = new Database(rig.bot.config.databasePath);
    try {
      raw.exec('DROP TRIGGER audit_events_no_delete');
      // Without the DELETE trigger and with recursive_triggers off (the default), the insert guard alone refuses it.
      const row = raw.prepare('SELECT * FROM audit_events WHERE seq = 2').get() as Record<string, unknown>;
      expect(() => raw.prepare('REPLACE INTO audit_events VALUES (@seq, @ts, @actor_id, @actor_name, @action, @target, @outcome, @details, @correlation_id, @prev_hash, @hash)').run({ ...row, actor_name: 'Mallory' })).toThrow(
        /only the next event of the chain may be inserted/,
      );
    } finally {
      raw.close();
    }
    const v = await verifyCard();
    expect(v.title).toBe('Audit trail UNGUARDED');
    expect(v.text).toContain('audit_events_no_delete is missing');
  });
});
