import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HR_COLUMNS } from '../../dialogs/hr-feed/records';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { channelPosts, person, sarah, say, title } from '../technician/support';

/**
 * The HR feed's drop folder against what a careless sender, a broken share or an attacker
 * with a foothold would put there, with real files and the real bot: files that cannot be
 * moved away, a `processed/` folder on another file system, links out of the folder, files
 * still being written, hostile characters and formulas, replays in another order or spelling.
 */

const HEADER = HR_COLUMNS.join(',');
const CHLOE = 'E-1018,chloe.martin@northwind.example,Sales,Sales Development Representative,lukas.novak@northwind.example,2022-02-07,,active';
const MEI = 'E-1021,mei.tanaka@northwind.example,Sales,Account Executive,lukas.novak@northwind.example,2021-09-13,,active';
const MAX_BYTES = 4096;

let h: Harness;
let clock: TestClock;
let tmp: string;
let drop: string;
let other: string | null = null;

/** Writes a file as a sender would, old enough to be taken. */
function dropFile(name: string, content: string | Buffer, settled = true): string {
  const file = path.join(drop, name);
  fs.writeFileSync(file, content);
  if (settled) {
    const past = new Date(Date.now() - 10_000);
    fs.utimesSync(file, past, past);
  }
  return file;
}

const csv = (...lines: string[]) => `${[HEADER, ...lines].join('\n')}\n`;

function nextBatch(): string {
  const { value } = h.bot.store.db.prepare(`SELECT value FROM sequences WHERE name = 'hr_batch'`).get() as { value: number };
  return `HRB-${value + 1}`;
}

function batchCount(): number {
  return (h.bot.store.db.prepare('SELECT count(*) AS n FROM hr_batches').get() as { n: number }).n;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-hr-adv-'));
  drop = path.join(tmp, 'hr-drop');
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({ HR_FEED_DIR: drop, HR_FEED_TIMEZONE: 'Europe/London', HR_FEED_POLL_SECONDS: '3600', HR_FEED_MAX_BYTES: String(MAX_BYTES) }, { clock: clock.now });
  await say(h, sarah(h), 'pending');
});

afterAll(async () => {
  await h?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
  if (other) fs.rmSync(other, { recursive: true, force: true });
});

describe('HR feed drop folder: files that cannot be moved, links, files being written', () => {
  it('a file that cannot be moved away is processed once, not again at every poll', async () => {
    const batch = nextBatch();
    // Something in the way of the move (a share that refuses it, a name taken): a folder with content.
    fs.mkdirSync(path.join(drop, 'processed', `${batch}-stuck.csv`, 'inside'), { recursive: true });
    dropFile('stuck.csv', csv(CHLOE));
    const [first] = await h.bot.hrFeed.scanNow();
    expect(first).toMatchObject({ batch, state: 'processed', records: 1 });
    expect(fs.existsSync(path.join(drop, 'stuck.csv'))).toBe(true);
    expect(h.logs.some((l) => l.msg?.startsWith('HR file processed but not moved') && l.correlationId === batch)).toBe(true);

    const before = { batches: batchCount(), audit: h.bot.store.audit.query({ action: 'hr.batch-processed' }).length };
    for (let i = 0; i < 3; i++) expect(await h.bot.hrFeed.scanNow()).toEqual([]);
    expect(batchCount()).toBe(before.batches);
    expect(h.bot.store.audit.query({ action: 'hr.batch-processed' })).toHaveLength(before.audit);

    // A restart forgets it and reads it once more (as after a stop between applying and moving): nothing is applied twice.
    await h.restart();
    await h.bot.hrFeed.scanNow();
    const latest = h.bot.store.db.prepare(`SELECT id, changed, unchanged FROM hr_batches ORDER BY CAST(substr(id, 5) AS INTEGER) DESC LIMIT 1`).get() as { id: string; changed: number; unchanged: number };
    expect(latest).toMatchObject({ changed: 0, unchanged: 1 });
    expect(h.bot.hrFeed.store.actionsOfBatch(latest.id)).toEqual([]);
    expect(await h.bot.hrFeed.scanNow()).toEqual([]);

    // Changed by the sender: a new file, taken again (and moved, now that nothing is in the way).
    dropFile('stuck.csv', csv(CHLOE, MEI));
    const [again] = await h.bot.hrFeed.scanNow();
    expect(again).toMatchObject({ records: 2, unchanged: 1 });
    expect(fs.existsSync(path.join(drop, 'stuck.csv'))).toBe(false);
    expect(fs.existsSync(path.join(drop, 'processed', `${again!.batch}-stuck.csv`))).toBe(true);
  });

  it('an oversized file that cannot be moved tells the technicians once, not at every poll', async () => {
    const batch = nextBatch();
    fs.mkdirSync(path.join(drop, 'rejected', `${batch}-huge.csv`, 'inside'), { recursive: true });
    dropFile('huge.csv', csv(...Array.from({ length: 200 }, () => CHLOE)));
    const [first] = await h.bot.hrFeed.scanNow();
    expect(first).toMatchObject({ batch, state: 'rejected' });
    await h.bot.scheduler.runDue();
    const cards = () => channelPosts(h).filter((c) => /^HR feed HRB-\d+: rejected$/.test(title(c))).length;
    const posted = cards();
    for (let i = 0; i < 3; i++) {
      expect(await h.bot.hrFeed.scanNow()).toEqual([]);
      await h.bot.scheduler.runDue();
    }
    expect(cards()).toBe(posted);
    fs.unlinkSync(path.join(drop, 'huge.csv'));
  });

  it('moves files to a processed/ folder on another file system', async () => {
    const shm = '/dev/shm';
    if (!fs.existsSync(shm) || fs.statSync(shm).dev === fs.statSync(tmp).dev) return;
    other = fs.mkdtempSync(path.join(shm, 'helpdesk-hr-processed-'));
    const processed = path.join(drop, 'processed');
    const kept = `${processed}.local`;
    fs.renameSync(processed, kept);
    fs.symlinkSync(other, processed);
    try {
      dropFile('elsewhere.csv', csv(CHLOE));
      const [report] = await h.bot.hrFeed.scanNow();
      expect(report).toMatchObject({ state: 'processed', unchanged: 1 });
      expect(fs.existsSync(path.join(drop, 'elsewhere.csv'))).toBe(false);
      expect(fs.readFileSync(path.join(other, `${report!.batch}-elsewhere.csv`), 'utf8')).toBe(csv(CHLOE));
      expect(fs.existsSync(path.join(other, `${report!.batch}-elsewhere.csv.report.csv`))).toBe(true);
    } finally {
      fs.unlinkSync(processed);
      fs.renameSync(kept, processed);
    }
  });

  it('does not follow a link out of the drop folder, nor read folders, nor hidden or other files', async () => {
    const outside = path.join(tmp, 'outside.csv');
    fs.writeFileSync(outside, csv(CHLOE.replace(',active', ',terminated')));
    fs.symlinkSync(outside, path.join(drop, 'link.csv'));
    fs.mkdirSync(path.join(drop, 'folder.csv'));
    dropFile('.hidden.csv', csv(CHLOE.replace(',active', ',terminated')));
    dropFile('notes.txt', csv(CHLOE.replace(',active', ',terminated')));
    dropFile('partial.csv.tmp', csv(CHLOE.replace(',active', ',terminated')));
    const before = batchCount();
    expect(await h.bot.hrFeed.scanNow()).toEqual([]);
    expect(batchCount()).toBe(before);
    expect(fs.readFileSync(outside, 'utf8')).toBe(csv(CHLOE.replace(',active', ',terminated')));
    expect(fs.lstatSync(path.join(drop, 'link.csv')).isSymbolicLink()).toBe(true);
    for (const f of ['link.csv', 'folder.csv', '.hidden.csv', 'notes.txt', 'partial.csv.tmp']) fs.rmSync(path.join(drop, f), { recursive: true });
  });

  it('leaves a file still being written until it has settled', async () => {
    const file = dropFile('fresh.csv', csv(CHLOE), false);
    expect(await h.bot.hrFeed.scanNow()).toEqual([]);
    expect(fs.existsSync(file)).toBe(true);
    const past = new Date(Date.now() - 10_000);
    fs.utimesSync(file, past, past);
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report).toMatchObject({ state: 'processed', unchanged: 1 });
  });
});

describe('HR feed records: hostile text, formulas, replays in another spelling', () => {
  it('rejects invisible and direction-changing characters in any field', async () => {
    const lines = [
      // A zero-width space makes "Sales" another department (no birthright, a mover for nothing).
      'E-1018,chloe.martin@northwind.example,Sales\u200b,Sales Development Representative,lukas.novak@northwind.example,2022-02-07,,active',
      // A right-to-left override makes a title read differently on every card.
      'E-1021,mei.tanaka@northwind.example,Sales,\u202eevitucexE tnuoccA,lukas.novak@northwind.example,2021-09-13,,active',
      'E-1099,emily.chen@northwind.example,Finance,Accountant\u2066,thomas.berg@northwind.example,2020-01-01,,active',
    ];
    dropFile('invisible.csv', csv(...lines));
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report!.lines.map((l) => [l.line, l.outcome, l.reason])).toEqual([
      [2, 'rejected', 'department contains control characters or line breaks'],
      [3, 'rejected', 'title contains control characters or line breaks'],
      [4, 'rejected', 'title contains control characters or line breaks'],
    ]);
    expect(h.bot.hrFeed.store.actionsOfBatch(report!.batch)).toEqual([]);
  });

  it('writes values that look like formulas into the report as text', async () => {
    dropFile('formula.csv', csv('"=HYPERLINK(""report"")",@SUM(1+1),Sales,,,2020-01-01,,active', '+E-1,-2+3@northwind.example,Sales,,,2020-01-01,,active'));
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report).toMatchObject({ rejected: 2 });
    const text = fs.readFileSync(path.join(drop, 'rejected', `${report!.batch}-formula.csv.report.csv`), 'utf8');
    const cells = text.split('\n').slice(2).flatMap((row) => row.match(/("([^"]|"")*"|[^,]*)/g) ?? []);
    for (const cell of cells) expect(cell.replace(/^"/, ''), cell).not.toMatch(/^[=+\-@]/);
  });

  it('the same records in another order, case and spacing change nothing', async () => {
    dropFile('order-1.csv', csv(CHLOE, MEI));
    const [first] = await h.bot.hrFeed.scanNow();
    expect(first!.unchanged + first!.changed).toBe(2);
    await h.bot.scheduler.runDue();
    // Columns reordered, a BOM, CRLF, quotes, spaces, upper-case sign-in names, blank lines at the end.
    const cols = ['status', 'upn', 'employee_id', 'manager_upn', 'department', 'title', 'start_date', 'end_date'];
    const row = (line: string) => {
      const v = Object.fromEntries(HR_COLUMNS.map((c, i) => [c, line.split(',')[i]!]));
      return cols.map((c) => (c === 'upn' || c === 'manager_upn' ? ` "${v[c]!.toUpperCase()}" ` : c === 'title' ? `"${v[c]}"` : ` ${v[c]} `)).join(',');
    };
    dropFile('order-2.csv', `\ufeff${cols.join(',')}\r\n${row(MEI)}\r\n${row(CHLOE)}\r\n\r\n\r\n`);
    const [second] = await h.bot.hrFeed.scanNow();
    expect(second).toMatchObject({ state: 'processed', records: 2, changed: 0, unchanged: 2, rejected: 0 });
  });

  it('refuses a file as a whole for a repeated column or no header, and takes a header-only file as empty', async () => {
    dropFile('twice.csv', `${HEADER},upn\n${CHLOE},chloe.martin@northwind.example\n`);
    dropFile('zz-empty.csv', '');
    dropFile('zz-header-only.csv', `${HEADER}\r\n`);
    const reports = await h.bot.hrFeed.scanNow();
    expect(reports.map((r) => [r.state, r.records])).toEqual([
      ['rejected', 0],
      ['rejected', 0],
      ['processed', 0],
    ]);
    expect(reports[0]!.error).toMatch(/column given twice: upn/);
    expect(reports[1]!.error).toMatch(/^The file is empty/);
  });
});
