import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { envSchema, loadConfig } from '../../bot/config';
import { main as hrSign } from '../../bot/hr-sign';
import { endOfDay, isTimeZone, localDate, startOfDay } from '../../dialogs/hr-feed/dates';
import { checkDate, HR_COLUMNS, parseBatch, readCsv, recordHash, type HrRecord } from '../../dialogs/hr-feed/records';
import { signHrPayload, verifyHrSignature } from '../../dialogs/hr-feed/signature';
import { validateBatch } from '../../dialogs/hr-feed/validate';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { LocalDirectory } from '../../directory/local-directory';
import type { HrEmployee } from '../../store/hr-feed';

const HEADER = HR_COLUMNS.join(',');
const csv = (...lines: string[]) => Buffer.from([HEADER, ...lines].join('\n'));

describe('HR feed: reading a CSV', () => {
  it('reads quoted fields, doubled quotes, CRLF, a BOM and skips blank lines, with the line each record starts on', () => {
    const rows = readCsv('a,b\r\n"x, y","say ""hi"""\r\n\r\n"multi\nline",z\n');
    expect(rows).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 4, fields: ['multi\nline', 'z'] },
    ]);
    const parsed = parseBatch(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), csv('E1,Emily.Chen@Northwind.example,Finance,Accountant,thomas.berg@northwind.example,2026-03-02,,Active')]), 'csv');
    expect(parsed).toEqual({
      ok: true,
      lines: [
        {
          line: 2,
          employeeId: 'E1',
          upn: 'emily.chen@northwind.example',
          problems: [],
          record: { employeeId: 'E1', upn: 'emily.chen@northwind.example', department: 'Finance', title: 'Accountant', managerUpn: 'thomas.berg@northwind.example', startDate: '2026-03-02', endDate: null, status: 'active' },
        },
      ],
    });
  });

  it('takes the columns in any order', () => {
    const parsed = parseBatch(Buffer.from('status,upn,employee_id,start_date,end_date,manager_upn,title,department\nterminated,a@northwind.example,E9,2020-01-01,2026-03-31,,,Sales\n'), 'csv');
    expect(parsed.ok && parsed.lines[0]!.record).toMatchObject({ employeeId: 'E9', upn: 'a@northwind.example', department: 'Sales', title: null, managerUpn: null, endDate: '2026-03-31', status: 'terminated' });
  });

  it('rejects the whole file for a missing, unknown or repeated column, an unclosed quote, or bytes that are not UTF-8', () => {
    const missing = parseBatch(Buffer.from('employee_id,upn,department,title,start_date,end_date,status\nE1,a@b.example,Sales,,2026-01-01,,active\n'), 'csv');
    expect(missing).toMatchObject({ ok: false, line: 1 });
    expect(!missing.ok && missing.error).toMatch(/missing column manager_upn/);
    const unknown = parseBatch(Buffer.from(`${HEADER},salary\n`), 'csv');
    expect(!unknown.ok && unknown.error).toMatch(/unknown column "salary"/);
    const twice = parseBatch(Buffer.from(`${HEADER},upn\n`), 'csv');
    expect(!twice.ok && twice.error).toMatch(/given twice: upn/);
    const unclosed = parseBatch(csv('E1,a@b.example,"Sales,,,2026-01-01,,active'), 'csv');
    expect(unclosed).toMatchObject({ ok: false, line: 2 });
    expect(parseBatch(Buffer.from([0xff, 0xfe, 0x41]), 'csv')).toMatchObject({ ok: false, error: 'The file is not UTF-8 text.' });
    expect(parseBatch(Buffer.from(''), 'csv')).toMatchObject({ ok: false });
  });

  it('reports every problem of a line: dates, status, ids, lengths, control characters, field count', () => {
    const parsed = parseBatch(
      csv(
        'E1,a@b.example,Sales,,,2026-02-30,,active',
        'E2,a2@b.example,Sales,,,2026-03-01,2026-02-01,active',
        'E3,not-an-upn,,,,03/01/2026,,retired',
        'E 4,a4@b.example,Sales,,,2026-03-01,,active,extra',
        `E5,a5@b.example,${'x'.repeat(65)},,,2026-03-01,,active`,
        'E6,a6@b.example,"Sales\tEMEA",,,2026-03-01,,active',
        'E7,a7@b.example,Sales,,,2026-03-01,,active',
        'E8 x,a8@b.example,Sales,,a8@b.example,2026-03-01,,active',
      ),
      'csv',
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const problems = Object.fromEntries(parsed.lines.map((l) => [l.line, l.problems.join(' | ')]));
    expect(problems[2]).toBe('start_date "2026-02-30" is not a day of the calendar');
    expect(problems[3]).toBe('end_date 2026-02-01 is before start_date 2026-03-01');
    expect(problems[4]).toMatch(/upn "not-an-upn" is not a sign-in name/);
    expect(problems[4]).toMatch(/department is empty/);
    expect(problems[4]).toMatch(/start_date "03\/01\/2026" is not a date in the form YYYY-MM-DD/);
    expect(problems[4]).toMatch(/status "retired" must be one of active, leave, terminated/);
    expect(problems[5]).toBe('has 9 fields; the header has 8');
    expect(problems[6]).toBe('department is longer than 64 characters');
    expect(problems[7]).toBe('department contains control characters or line breaks');
    expect(problems[8]).toBe('');
    expect(problems[9]).toBe('employee_id "E8 x" may hold only letters, digits, ".", "_" and "-" (at most 64) | manager_upn is the employee themself (a manager loop)');
    expect(parsed.lines.find((l) => l.line === 8)!.record).not.toBeNull();
    expect(parsed.lines.find((l) => l.line === 2)!.record).toBeNull();
  });

  it('reads a JSON array of records with the same keys, and refuses anything else', () => {
    const ok = parseBatch(
      Buffer.from(JSON.stringify([{ employee_id: 'E1', upn: 'a@b.example', department: 'Sales', title: null, manager_upn: null, start_date: '2026-01-05', end_date: null, status: 'leave' }])),
      'json',
    );
    expect(ok.ok && ok.lines[0]!.record).toMatchObject({ employeeId: 'E1', status: 'leave', title: null });
    const bad = parseBatch(Buffer.from(JSON.stringify([{ employee_id: 'E1', upn: 'a@b.example', department: 7, start_date: '2026-01-05', status: 'active', salary: '1' }])), 'json');
    expect(bad.ok && bad.lines[0]!.problems).toEqual(expect.arrayContaining(['has no "title"', 'has no "manager_upn"', 'has no "end_date"', '"department" must be a string', 'unknown field "salary"']));
    expect(bad.ok && bad.lines[0]!.record).toBeNull();
    expect(parseBatch(Buffer.from('{"employee_id":"E1"}'), 'json')).toMatchObject({ ok: false, error: expect.stringMatching(/must be an array/) });
    expect(parseBatch(Buffer.from('[{'), 'json')).toMatchObject({ ok: false, error: expect.stringMatching(/Not valid JSON/) });
  });

  it('hashes the normalised record: the same content is the same hash, any field changes it', () => {
    const r: HrRecord = { employeeId: 'E1', upn: 'a@b.example', department: 'Sales', title: null, managerUpn: null, startDate: '2026-01-05', endDate: null, status: 'active' };
    expect(recordHash({ ...r })).toBe(recordHash(r));
    expect(recordHash({ ...r, endDate: '2026-12-31' })).not.toBe(recordHash(r));
    expect(recordHash({ ...r, title: '' as unknown as null })).not.toBe(recordHash(r));
    const a = parseBatch(csv('E1,A@B.example,Sales,,,2026-01-05,,ACTIVE'), 'csv');
    const b = parseBatch(csv('" E1 ","a@b.example ","  Sales",,,2026-01-05,,active'), 'csv');
    expect(a.ok && b.ok && recordHash(a.lines[0]!.record!) === recordHash(b.lines[0]!.record!)).toBe(true);
  });

  it('checks calendar dates', () => {
    expect(checkDate('2028-02-29')).toBeNull();
    expect(checkDate('2026-02-29')).toBe('is not a day of the calendar');
    expect(checkDate('2026-13-01')).toBe('is not a day of the calendar');
    expect(checkDate('1899-12-31')).toBe('has a year outside 1900 to 2199');
    expect(checkDate('2026-3-1')).toBe('is not a date in the form YYYY-MM-DD');
  });
});

describe('HR feed: dates in the configured time zone', () => {
  it('starts a day at local midnight and ends it at the next local midnight, summer time included', () => {
    expect(startOfDay('2026-03-02', 'UTC').toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(endOfDay('2026-03-10', 'Europe/London').toISOString()).toBe('2026-03-11T00:00:00.000Z');
    expect(endOfDay('2026-06-30', 'Europe/London').toISOString()).toBe('2026-06-30T23:00:00.000Z');
    expect(startOfDay('2026-07-01', 'America/New_York').toISOString()).toBe('2026-07-01T04:00:00.000Z');
    expect(startOfDay('2026-01-01', 'Asia/Kolkata').toISOString()).toBe('2025-12-31T18:30:00.000Z');
    // The day the clocks go forward in London still starts at midnight.
    expect(startOfDay('2026-03-29', 'Europe/London').toISOString()).toBe('2026-03-29T00:00:00.000Z');
    expect(endOfDay('2026-03-29', 'Europe/London').toISOString()).toBe('2026-03-29T23:00:00.000Z');
    expect(localDate(new Date('2026-06-30T23:30:00Z'), 'Europe/London')).toBe('2026-07-01');
    expect(endOfDay('2026-12-31', 'UTC').toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('knows which time zones exist, and the configuration refuses one that does not', () => {
    expect(isTimeZone('Europe/London')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(() => loadConfig({ HR_FEED_TIMEZONE: 'Mars/Olympus_Mons' })).toThrow(/HR_FEED_TIMEZONE must be an IANA time zone/);
    expect(() => loadConfig({ HR_WEBHOOK_SECRET: 'short' })).toThrow(/HR_WEBHOOK_SECRET must be at least 32 characters/);
    const config = loadConfig({ HR_FEED_DIR: 'data/hr-drop', HR_FEED_TIMEZONE: 'Europe/London' });
    expect(config.hrFeed).toMatchObject({ dir: path.resolve('data/hr-drop'), pollSeconds: 60, webhookSecret: null, timeZone: 'Europe/London', webhookToleranceSeconds: 300, approvalHours: 72 });
    // Local mode: a drop folder beside the database; production: off unless configured.
    expect(loadConfig({ DATABASE_PATH: '/tmp/x/helpdesk.db' }).hrFeed).toMatchObject({ dir: '/tmp/x/hr-drop', webhookSecret: null, timeZone: 'UTC' });
  });

  it('every HR_ variable is in .env.example and docs/configuration.md', () => {
    const mine = Object.keys(envSchema.shape).filter((k) => k.startsWith('HR_'));
    expect(mine).toHaveLength(7);
    const envExample = fs.readFileSync(path.resolve(__dirname, '../../.env.example'), 'utf8');
    const docs = fs.readFileSync(path.resolve(__dirname, '../../docs/configuration.md'), 'utf8');
    for (const k of mine) {
      expect(envExample, k).toMatch(new RegExp(`^${k}=`, 'm'));
      expect(docs, k).toContain(`| \`${k}\` |`);
    }
  });
});

describe('HR feed: webhook signatures', () => {
  const secret = 'k'.repeat(40);
  const body = Buffer.from(`${HEADER}\n`);
  const now = new Date('2026-03-02T09:00:00Z');
  const t = Math.floor(now.getTime() / 1000);

  it('accepts its own signature within the window, and nothing else', () => {
    const header = signHrPayload(secret, body, t);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyHrSignature(secret, header, body, now, 300)).toEqual({ ok: true, timestamp: t });
    expect(verifyHrSignature(secret, signHrPayload(secret, body, t - 299), body, now, 300).ok).toBe(true);
    expect(verifyHrSignature(secret, signHrPayload(secret, body, t - 301), body, now, 300)).toEqual({ ok: false, reason: 'outside-window' });
    expect(verifyHrSignature(secret, signHrPayload(secret, body, t + 301), body, now, 300)).toEqual({ ok: false, reason: 'outside-window' });
    expect(verifyHrSignature(secret, header, Buffer.from(`${HEADER}\nE1`), now, 300)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyHrSignature('x'.repeat(40), header, body, now, 300)).toEqual({ ok: false, reason: 'mismatch' });
    // The timestamp is signed too: moving it breaks the signature.
    expect(verifyHrSignature(secret, header.replace(`t=${t}`, `t=${t + 1}`), body, now, 300)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('calls a missing or badly formed header what it is', () => {
    expect(verifyHrSignature(secret, undefined, body, now, 300)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyHrSignature(secret, '', body, now, 300)).toEqual({ ok: false, reason: 'missing' });
    for (const h of ['Bearer abc', `t=${t}`, `v1=${'0'.repeat(64)}`, `t=${t},v1=xyz`, `t=abc,v1=${'0'.repeat(64)}`, `t=${t},t=${t},v1=${'0'.repeat(64)}`]) {
      expect(verifyHrSignature(secret, h, body, now, 300)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(verifyHrSignature(secret, [signHrPayload(secret, body, t), signHrPayload(secret, body, t)], body, now, 300)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('HR feed: npm run hr:sign', () => {
  class Sink extends Writable {
    text = '';
    override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
      this.text += chunk.toString();
      done();
    }
  }

  it('prints the header value the webhook accepts for a file, and refuses without a secret or a file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hr-sign-'));
    try {
      const file = path.join(dir, 'feed.csv');
      fs.writeFileSync(file, `${HEADER}\n`);
      const now = new Date('2026-03-02T09:00:00Z');
      const secret = 's'.repeat(32);
      const out = new Sink();
      const err = new Sink();
      expect(hrSign([file], { HR_WEBHOOK_SECRET: secret }, out, err, () => now)).toBe(0);
      expect(verifyHrSignature(secret, out.text.trim(), fs.readFileSync(file), now, 300)).toEqual({ ok: true, timestamp: now.getTime() / 1000 });
      expect(hrSign([file], {}, new Sink(), err, () => now)).toBe(2);
      expect(err.text).toMatch(/HR_WEBHOOK_SECRET is not set/);
      expect(hrSign([path.join(dir, 'missing.csv')], { HR_WEBHOOK_SECRET: secret }, new Sink(), err, () => now)).toBe(2);
      expect(hrSign([], { HR_WEBHOOK_SECRET: secret }, new Sink(), err, () => now)).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HR feed: validating a batch against the directory', () => {
  let dir: string;
  let directory: LocalDirectory;
  const tenant = loadDemoTenant();
  const id = (name: string) => tenant.users.find((u) => u.displayName === name)!.id;
  const stored = new Map<string, HrEmployee>();
  const ctx = () => ({
    directory,
    employee: (e: string) => stored.get(e) ?? null,
    employeeOfUser: (u: string) => [...stored.values()].find((x) => x.userId === u) ?? null,
  });

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hr-validate-'));
    directory = LocalDirectory.open(path.join(dir, 'directory.db'), tenant);
  });
  afterAll(() => {
    directory.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const lines = (...rows: string[]) => {
    const p = parseBatch(csv(...rows), 'csv');
    if (!p.ok) throw new Error(p.error);
    return p.lines;
  };

  it('rejects unknown users and managers, duplicates, and a manager loop across the batch and the directory; the rest is valid', async () => {
    const result = await validateBatch(
      lines(
        'E100,hannah.kowalski@northwind.example,Finance,Financial Analyst,olivia.hart@northwind.example,2020-01-01,,active',
        'E101,nobody@northwind.example,Finance,Accountant,thomas.berg@northwind.example,2020-01-01,,active',
        'E102,priya.raman@northwind.example,Finance,Analyst,ghost@northwind.example,2020-01-01,,active',
        // Thomas's manager would be Emily, whose manager (in the directory, not in this batch) is Thomas.
        'E103,thomas.berg@northwind.example,Finance,Finance Manager,emily.chen@northwind.example,2020-01-01,,active',
        'E104,carlos.mendes@northwind.example,Finance,AP,thomas.berg@northwind.example,2020-01-01,,active',
        'E104,jonas.weber@northwind.example,Finance,Payroll,thomas.berg@northwind.example,2020-01-01,,active',
        'E105,mei.tanaka@northwind.example,Sales,Analyst,jessica.ramirez@northwind.example,2020-01-01,,active',
        'E106,mei.tanaka@northwind.example,Sales,Analyst,jessica.ramirez@northwind.example,2020-01-01,,active',
        // A loop inside the batch: Ravi and Lena manage each other.
        'E107,ravi.shah@northwind.example,Engineering,SWE,lena.hoffmann@northwind.example,2020-01-01,,active',
        'E108,lena.hoffmann@northwind.example,Engineering,SWE,ravi.shah@northwind.example,2020-01-01,,active',
        'E109,yuki.sato@northwind.example,Engineering,QA,,2020-01-01,2019-01-01,active',
      ),
      ctx(),
    );
    const reasons = Object.fromEntries(result.rejected.map((r) => [r.line, r.reason]));
    expect(reasons).toEqual({
      3: 'unknown user: the directory has no account nobody@northwind.example',
      4: 'unknown manager: the directory has no account ghost@northwind.example',
      5: 'manager loop: thomas.berg@northwind.example → emily.chen@northwind.example → thomas.berg@northwind.example',
      6: 'employee_id E104 appears on lines 6, 7 of this batch',
      7: 'employee_id E104 appears on lines 6, 7 of this batch',
      8: 'upn mei.tanaka@northwind.example is on lines 8, 9 under different employee ids',
      9: 'upn mei.tanaka@northwind.example is on lines 8, 9 under different employee ids',
      10: 'manager loop: ravi.shah@northwind.example → lena.hoffmann@northwind.example → ravi.shah@northwind.example',
      11: 'manager loop: ravi.shah@northwind.example → lena.hoffmann@northwind.example → ravi.shah@northwind.example',
      12: 'end_date 2019-01-01 is before start_date 2020-01-01',
    });
    expect(result.valid.map((v) => [v.line, v.user.displayName, v.manager?.displayName])).toEqual([[2, 'Hannah Kowalski', 'Olivia Hart']]);
  });

  it('keeps an employee id with its account: another account under it, or another id for the account, is rejected', async () => {
    stored.set('E200', { employeeId: 'E200', userId: id('Chloe Martin'), upn: 'chloe.martin@northwind.example', record: {} as never, contentHash: 'x', started: true, batchId: 'HRB-1001', updatedAt: '' });
    const result = await validateBatch(
      lines('E200,fatima.haddad@northwind.example,Sales,AE,lukas.novak@northwind.example,2020-01-01,,active', 'E201,chloe.martin@northwind.example,Sales,SDR,lukas.novak@northwind.example,2020-01-01,,active'),
      ctx(),
    );
    expect(result.rejected.map((r) => [r.line, r.reason])).toEqual([
      [2, 'employee_id E200 belongs to chloe.martin@northwind.example, not fatima.haddad@northwind.example: an employee id cannot move to another account'],
      [3, 'chloe.martin@northwind.example is already employee E200: an account has one employee id'],
    ]);
    const same = await validateBatch(lines('E200,CHLOE.MARTIN@northwind.example,Sales,SDR,lukas.novak@northwind.example,2020-01-01,,active'), ctx());
    expect(same.rejected).toEqual([]);
    expect(same.valid.map((v) => [v.line, v.previous?.batchId])).toEqual([[2, 'HRB-1001']]);
  });
});
