import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAnchors } from '../../store/audit-anchors';
import { main as auditCli } from '../../store/cli/audit-cli';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardText, channelPosts, findById, HOUR, sarah, say, title } from '../technician/support';

/**
 * The anchors kept in two places (AUDIT_ANCHOR_MIRROR, here another folder), checked against
 * each other and against the trail's record of every anchor written; the append-only triggers
 * checked by `audit verify` in chat. What one disk lost or someone rewrote is an alarm in chat,
 * in the trail, in the log and as one security ticket, never "no anchors yet".
 */

let h: Harness;
let anchors: string;
let mirrorDir: string;
let mirror: string;
const clock = new TestClock('2026-03-02T09:00:00.000Z');

beforeAll(async () => {
  mirrorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-anchor-mirror-'));
  h = await startHarness({ AUDIT_ANCHOR_INTERVAL_HOURS: '6', AUDIT_ANCHOR_MIRROR: mirrorDir }, { clock: clock.now });
  anchors = path.join(h.dir, 'audit-anchors.jsonl');
  mirror = path.join(mirrorDir, 'audit-anchors.jsonl');
});
afterAll(async () => {
  await h?.stop();
  fs.rmSync(mirrorDir, { recursive: true, force: true });
});

async function nextSlot(): Promise<void> {
  clock.advance(6 * HOUR);
  await h.bot.scheduler.runDue();
  await h.bot.scheduler.idle();
}
async function someEvents(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await say(h, sarah(h), 'whois emily.chen@northwind.example');
}
const verifyCard = async () => {
  const { cards, texts } = await say(h, sarah(h), 'audit verify');
  expect(texts).toEqual([]);
  return { title: title(cards[0]), text: String(findById(cards[0], 'notice-text')?.text ?? '') };
};
const lastVerified = () => h.bot.store.audit.query({ action: 'audit.verified' }).at(-1)!;
const tickets = (t: string) => h.bot.store.technician.tickets.listOpen().filter((x) => x.title === t);

async function cliVerify(): Promise<{ code: number; out: string }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c) => chunks.push(c));
  const code = await auditCli(['verify', '--anchors', anchors], { DATABASE_PATH: path.join(h.dir, 'helpdesk.db'), AUDIT_ANCHOR_MIRROR: mirrorDir }, out, new PassThrough());
  return { code, out: Buffer.concat(chunks).toString() };
}

describe('anchors in two places', () => {
  it('a fresh install is quiet; each anchor then goes to the file and the mirror, and the trail records it', async () => {
    expect((await verifyCard()).title).toBe('Audit trail intact');
    await someEvents(3);
    await nextSlot();
    await someEvents(2);
    await nextSlot();
    expect(readAnchors(anchors)).toHaveLength(2);
    expect(fs.readFileSync(mirror, 'utf8')).toBe(fs.readFileSync(anchors, 'utf8'));
    const recorded = h.bot.store.audit.query({ action: 'audit.anchor' }).map((e) => JSON.parse(e.details));
    expect(recorded).toEqual(readAnchors(anchors).map((a) => ({ seq: a.seq, hash: a.hash, file: anchors, mirror, mirrored: true })));
    const v = await verifyCard();
    expect(v.title).toBe('Audit trail intact');
    expect(v.text).toMatch(/still holds all 2 anchors, the newest of .* \(event \d+\), and the mirror agrees/);
    expect(await cliVerify()).toMatchObject({ code: 0, out: expect.stringMatching(/The mirror .* agrees with the anchor file \(2 of its 2 anchors\)/) });
    expect(h.bot.store.technician.tickets.listOpen().filter((t) => t.type === 'security')).toEqual([]);
  });

  it('a trigger dropped behind the running bot: audit verify in chat says UNGUARDED; the next anchor puts it back with a security ticket', async () => {
    const raw = new Database(path.join(h.dir, 'helpdesk.db'));
    raw.exec('DROP TRIGGER audit_events_append_only');
    raw.close();
    const v = await verifyCard();
    expect(v.title).toBe('Audit trail UNGUARDED');
    expect(v.text).toContain('the append-only triggers are not in place: audit_events_append_only is missing');
    expect(lastVerified()).toMatchObject({ outcome: 'failure' });
    expect(JSON.parse(lastVerified().details)).toMatchObject({ guards: ['audit_events_append_only is missing'] });
    expect(await cliVerify()).toMatchObject({ code: 1, out: expect.stringContaining('FAILED: GUARDS: the trigger audit_events_append_only is missing') });

    await nextSlot();
    expect(h.bot.store.audit.guardProblems()).toEqual([]);
    expect(h.bot.store.audit.query({ action: 'audit.guards-restored' })).toHaveLength(1);
    expect(tickets('Audit trail: the append-only triggers were removed')).toHaveLength(1);
    expect(readAnchors(anchors)).toHaveLength(3);
    expect((await verifyCard()).title).toBe('Audit trail intact');
  });

  it('an anchor file cut short: MISSING in chat, a failing verify, and one ticket from the job, which writes nothing more', async () => {
    const lines = fs.readFileSync(anchors, 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(anchors, `${lines[0]}\n`);
    const mirrorText = fs.readFileSync(mirror, 'utf8');

    const v = await verifyCard();
    expect(v.title).toBe('Audit anchors MISSING');
    expect(v.text).toContain(`the anchor file ${anchors} holds 1 anchors`);
    expect(v.text).toMatch(/but the trail records 3 written to it: the anchor of event \d+ is not in it \(2 missing\)/);
    expect(v.text).toContain(`but its mirror ${mirror} holds 3: anchors were removed from the file`);
    expect(JSON.parse(lastVerified().details)).toMatchObject({ anchorsMissing: true });
    const cli = await cliVerify();
    expect(cli.code).toBe(1);
    expect(cli.out).toContain('FAILED: ANCHORS: the anchor file');

    await nextSlot();
    await nextSlot();
    expect(fs.readFileSync(anchors, 'utf8')).toBe(`${lines[0]}\n`);
    expect(fs.readFileSync(mirror, 'utf8')).toBe(mirrorText);
    expect(h.bot.store.audit.query({ action: 'audit.anchor-missing' })).toHaveLength(2);
    expect(h.logs.filter((l) => l.action === 'audit.anchor-missing' && l.level >= 50)).toHaveLength(2);
    const open = tickets('Audit trail: anchors are missing');
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ type: 'security' });
    expect(channelPosts(h).some((c) => cardText(c).includes('Anchors of the audit trail are missing'))).toBe(true);
  });

  it('put back from the mirror, anchoring goes on', async () => {
    fs.copyFileSync(mirror, anchors);
    expect((await verifyCard()).title).toBe('Audit trail intact');
    await nextSlot();
    expect(readAnchors(anchors)).toHaveLength(4);
    expect(fs.readFileSync(mirror, 'utf8')).toBe(fs.readFileSync(anchors, 'utf8'));
  });

  it('a mirror line rewritten is refused: the two places disagree', async () => {
    const lines = fs.readFileSync(mirror, 'utf8').split('\n').filter(Boolean);
    const edited = JSON.parse(lines[1]!);
    edited.at = '2026-03-01T00:00:00.000Z';
    lines[1] = JSON.stringify(edited);
    fs.writeFileSync(mirror, `${lines.join('\n')}\n`);
    const v = await verifyCard();
    expect(v.title).toBe('Audit anchors REFUSED');
    expect(v.text).toContain(`the anchor file and its mirror ${mirror} disagree at anchor 2`);
    // Only the time was changed, so the trail matches both: which one was rewritten cannot be told.
    expect(v.text).toContain('one of them was rewritten');
    expect(await cliVerify()).toMatchObject({ code: 1, out: expect.stringContaining('disagree at anchor 2') });
    const before = readAnchors(anchors).length;
    await nextSlot();
    expect(readAnchors(anchors)).toHaveLength(before);
    expect(JSON.parse(h.bot.store.audit.query({ action: 'audit.anchor-refused' }).at(-1)!.details).reason).toContain('disagree at anchor 2');
  });

  it('a mirror emptied in place (the file still there, no bytes) is missing anchors, not a mirror to fill afresh', async () => {
    fs.writeFileSync(mirror, '');
    const v = await verifyCard();
    expect(v.title).toBe('Audit anchors MISSING');
    expect(v.text).toMatch(new RegExp(`the anchor mirror ${mirror.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds 0 anchors, but the trail records more written to it`));
    await nextSlot();
    expect(fs.readFileSync(mirror, 'utf8')).toBe('');
  });
});
