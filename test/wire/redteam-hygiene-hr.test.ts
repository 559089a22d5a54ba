import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HR_COLUMNS } from '../../dialogs/hr-feed/records';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { groupsOf, person, sarah, say } from '../technician/support';

/**
 * The HR feed against what a careless or hostile sender puts in a file: two records of one
 * employee where one is malformed, manager loops longer than two, ids in other cases, values
 * a spreadsheet would run. Bad lines change nothing; nothing ambiguous is applied.
 */

const HEADER = HR_COLUMNS.join(',');
let h: Harness;
let clock: TestClock;
let tmp: string;
let drop: string;

function dropFile(name: string, lines: string[], eol = '\n'): void {
  const file = path.join(drop, name);
  fs.writeFileSync(file, [HEADER, ...lines].join(eol) + eol);
  const past = new Date(Date.now() - 10_000);
  fs.utimesSync(file, past, past);
}

async function profileOf(userId: string) {
  const u = (await h.bot.directory.getUser(userId))!;
  const m = await h.bot.directory.getManager(userId);
  return { department: u.department, jobTitle: u.jobTitle, manager: m?.userPrincipalName ?? null, enabled: u.accountEnabled };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-hr-redteam-'));
  drop = path.join(tmp, 'hr-drop');
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({ HR_FEED_DIR: drop, HR_FEED_POLL_SECONDS: '3600' }, { clock: clock.now });
  await say(h, sarah(h), 'pending');
});

afterAll(async () => {
  await h?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('HR feed: ambiguous and hostile records', () => {
  it('an employee id on two lines is rejected on both, even when one of them is malformed', async () => {
    const chloe = person(h, 'Chloe Martin');
    const before = { profile: await profileOf(chloe.id), groups: await groupsOf(h, chloe.id) };
    dropFile('hr-1-dup.csv', [
      'NW-1018,chloe.martin@northwind.example,Sales,Sales Development Representative,lukas.novak@northwind.example,2022-02-07,,terminated',
      'nw-1018,chloe.martin@northwind.example,Sales,Sales Development Representative,lukas.novak@northwind.example,2022-02-07,2026-02-30,active',
    ]);
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report).toMatchObject({ state: 'processed', changed: 0, rejected: 2 });
    expect(report!.lines.map((l) => l.outcome)).toEqual(['rejected', 'rejected']);
    expect(report!.lines[0]!.reason).toMatch(/employee_id NW-1018 appears on lines 2, 3 of this batch/);
    expect(report!.lines[1]!.reason).toMatch(/end_date "2026-02-30" is not a day of the calendar/);
    await h.bot.scheduler.runDue();
    expect(h.bot.hrFeed.store.employee('NW-1018')).toBeNull();
    expect(h.bot.hrFeed.store.actionsOfBatch(report!.batch)).toEqual([]);
    expect({ profile: await profileOf(chloe.id), groups: await groupsOf(h, chloe.id) }).toEqual(before);
  });

  it('an account named on two lines under two ids is rejected on both, even when one id is malformed', async () => {
    const chloe = person(h, 'Chloe Martin');
    const before = await profileOf(chloe.id);
    dropFile('hr-2-dup-upn.csv', [
      'NW-1018,chloe.martin@northwind.example,Sales,Sales Development Representative,lukas.novak@northwind.example,2022-02-07,,terminated',
      'NW 1019,Chloe.Martin@northwind.example,Finance,Accountant,thomas.berg@northwind.example,2022-02-07,,active',
    ]);
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report).toMatchObject({ changed: 0, rejected: 2 });
    expect(report!.lines[0]!.reason).toMatch(/upn chloe\.martin@northwind\.example is on lines 2, 3 under different employee ids/);
    await h.bot.scheduler.runDue();
    expect(h.bot.hrFeed.store.employee('NW-1018')).toBeNull();
    expect(await profileOf(chloe.id)).toEqual(before);
  });

  it('a manager loop of three across the batch rejects each of its lines; a line outside it goes on', async () => {
    const [fatima, oliver, kevin] = ['Fatima Haddad', 'Oliver Bennett', 'Kevin OBrien'].map((n) => (n === 'Kevin OBrien' ? h.tenant.users.find((u) => u.userPrincipalName === 'kevin.obrien@northwind.example')! : person(h, n)));
    const before = await Promise.all([fatima!, oliver!].map((u) => profileOf(u.id)));
    dropFile(
      'hr-3-loop.csv',
      [
        'NW-2001,fatima.haddad@northwind.example,Sales,Account Executive,oliver.bennett@northwind.example,2020-01-01,,active',
        'NW-2002,oliver.bennett@northwind.example,Sales,Account Executive,lukas.novak@northwind.example,2020-01-01,,active',
        'NW-2003,lukas.novak@northwind.example,Sales,"Sales Manager, EMEA",fatima.haddad@northwind.example,2020-01-01,,active',
        'NW-2004,kevin.obrien@northwind.example,Sales,Account Executive,jessica.ramirez@northwind.example,2020-01-01,,active',
      ],
      '\r\n',
    );
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report!.lines.map((l) => [l.line, l.outcome])).toEqual([
      [2, 'rejected'],
      [3, 'rejected'],
      [4, 'rejected'],
      [5, 'changed'],
    ]);
    for (const l of report!.lines.slice(0, 3)) expect(l.reason).toMatch(/^manager loop: /);
    await h.bot.scheduler.runDue();
    expect(await Promise.all([fatima!, oliver!].map((u) => profileOf(u.id)))).toEqual(before);
    expect(h.bot.hrFeed.store.employee('NW-2004')).not.toBeNull();
    expect(kevin).toBeDefined();
  });
});
