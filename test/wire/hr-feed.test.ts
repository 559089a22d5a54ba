import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HR_COLUMNS } from '../../dialogs/hr-feed/records';
import type { AccessReviewStarter } from '../../dialogs/hr-feed/service';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { ThrottledError } from '../../directory/directory';
import { LocalDirectory } from '../../directory/local-directory';
import { ReviewStore } from '../../store/reviews';
import { startHarness, TestClock, type Harness } from '../support/harness';
import { cardText, findById } from '../support/teams-client';
import { channelPosts, groupsOf, person, planOf, press, problems, sarah, say, status, steps, title } from '../technician/support';

/**
 * The HR feed through its drop folder, against the real bot: a joiner whose start date comes
 * later, movers (profile, new groups, old access to the new manager), a leaver offboarded when
 * the end date is over, a privileged leaver waiting for a technician, malformed files, a
 * replayed file. Real files in a temporary drop folder, the bot's clock moved by hand.
 */

const HEADER = HR_COLUMNS.join(',');
const JAMIE = { id: '5f1d7c1e-8a3b-4c8e-9f27-2b6f0d9e4a11', upn: 'jamie.rivera@northwind.example' };

let h: Harness;
let clock: TestClock;
let tmp: string;
let drop: string;

function groupId(name: string): string {
  return h.tenant.groups.find((g) => g.displayName === name)!.id;
}

/** Drops a file as a sender would (written, then left alone long enough to be taken). */
function dropFile(name: string, lines: string[]): Buffer {
  const bytes = Buffer.from([HEADER, ...lines].join('\n') + '\n');
  const file = path.join(drop, name);
  fs.writeFileSync(file, bytes);
  const past = new Date(Date.now() - 10_000);
  fs.utimesSync(file, past, past);
  return bytes;
}

async function profileOf(userId: string) {
  const u = (await h.bot.directory.getUser(userId))!;
  const m = await h.bot.directory.getManager(userId);
  return { department: u.department, jobTitle: u.jobTitle, manager: m?.displayName ?? null, enabled: u.accountEnabled };
}

/** The summary card of a batch in the technicians' channel. */
function summaryOf(batch: string): any {
  return channelPosts(h).find((c) => title(c) === `HR feed ${batch}` || title(c) === `HR feed ${batch}: rejected`);
}

function facts(card: any): Record<string, string> {
  return Object.fromEntries((findById(card, 'tech-facts')?.facts ?? []).map((f: any) => [f.title, f.value]));
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-hr-'));
  drop = path.join(tmp, 'hr-drop');
  // The demo tenant with a new hire whose account exists but has nothing yet.
  const tenant = loadDemoTenant();
  tenant.users.push({
    id: JAMIE.id,
    userPrincipalName: JAMIE.upn,
    displayName: 'Jamie Rivera',
    givenName: 'Jamie',
    surname: 'Rivera',
    mail: JAMIE.upn,
    department: null,
    jobTitle: null,
    managerId: null,
    accountEnabled: true,
    onPremisesSyncEnabled: false,
    locked: false,
    passwordChangeRequired: true,
    lastPasswordChange: null,
    authMethods: [],
  });
  const file = path.join(tmp, 'directory.db');
  LocalDirectory.open(file, tenant).close();
  clock = new TestClock('2026-03-02T09:00:00.000Z');
  h = await startHarness({ LOCAL_DIRECTORY_PATH: file, HR_FEED_DIR: drop, HR_FEED_TIMEZONE: 'Europe/London', HR_FEED_POLL_SECONDS: '3600' }, { clock: clock.now });
  h.tenant.users.push(tenant.users[tenant.users.length - 1]!);
  // The bot learns the technicians' channel when a technician talks there.
  await say(h, sarah(h), 'pending');
});

afterAll(async () => {
  await h?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('HR feed: drop folder', () => {
  it('a joiner with a future start date gets the birthright groups when the clock passes the start of that day', async () => {
    dropFile('hr-2026-03-02-joiner.csv', [`E-3001,${JAMIE.upn},Finance,Accountant,thomas.berg@northwind.example,2026-03-09,,active`]);
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report).toMatchObject({ state: 'processed', records: 1, changed: 1, unchanged: 0, rejected: 0 });
    // Start of 9 March in London (GMT in March).
    expect(report!.lines[0]!.actions).toEqual([{ id: expect.stringMatching(/^HRA-\d+$/), kind: 'joiner', dueAt: '2026-03-09T00:00:00.000Z' }]);
    // Taken from the folder, kept in processed/ with its report beside it.
    expect(fs.existsSync(path.join(drop, 'hr-2026-03-02-joiner.csv'))).toBe(false);
    const kept = path.join(drop, 'processed', `${report!.batch}-hr-2026-03-02-joiner.csv`);
    expect(fs.existsSync(kept)).toBe(true);
    expect(fs.readFileSync(`${kept}.report.csv`, 'utf8')).toContain(`2,E-3001,${JAMIE.upn},changed,${report!.lines[0]!.actions[0]!.id} joiner 2026-03-09T00:00:00.000Z,`);

    await h.bot.scheduler.runDue();
    expect(await groupsOf(h, JAMIE.id)).toEqual([]);
    expect(await profileOf(JAMIE.id)).toMatchObject({ department: null, manager: null });
    const summary = summaryOf(report!.batch);
    expect(problems(summary)).toEqual([]);
    expect(facts(summary)).toMatchObject({ Records: '1', Joiners: '1, 1 scheduled', Movers: '0', Leavers: '0', 'Rejected lines': '0' });
    expect(cardText(findById(summary, 'tech-section-facts-changes'))).toMatch(/Joiner: Jamie Rivera[\s\S]*start 2026-03-09, Finance, Accountant · scheduled for Mon 9 Mar 2026, 00:00 UTC/);

    clock.set('2026-03-08T23:59:59.000Z');
    await h.bot.scheduler.runDue();
    expect(await groupsOf(h, JAMIE.id)).toEqual([]);

    clock.set('2026-03-09T00:00:00.000Z');
    await h.bot.scheduler.runDue();
    expect(await groupsOf(h, JAMIE.id)).toEqual(['All Staff', 'App - ERP Finance', 'App - Expense Reporting', 'Finance Department']);
    expect(await profileOf(JAMIE.id)).toEqual({ department: 'Finance', jobTitle: 'Accountant', manager: 'Thomas Berg', enabled: true });
    const action = h.bot.hrFeed.store.action(report!.lines[0]!.actions[0]!.id)!;
    expect(action).toMatchObject({ state: 'done', planIds: [expect.stringMatching(/^PLN-\d+$/)] });
    expect(h.bot.hrFeed.store.employee('E-3001')).toMatchObject({ started: true, userId: JAMIE.id });

    // The HR feed is the actor; the batch is the correlation id, the plan's steps carry the plan.
    const plan = action.planIds[0]!;
    expect(h.bot.store.technician.plans.get(plan)).toMatchObject({ command: 'onboard', actor: { id: 'hr-feed', name: 'HR feed' }, state: 'done', correlationId: report!.batch });
    const byBatch = h.bot.store.audit.query({ correlationId: report!.batch });
    expect(byBatch.map((e) => e.action)).toEqual(['hr.record-accepted', 'hr.batch-processed', 'hr.action-started', 'hr.profile-updated', 'hr.action-finished']);
    expect(byBatch.every((e) => e.actorId === 'hr-feed' && e.actorName === 'HR feed')).toBe(true);
    expect(h.bot.store.audit.query({ correlationId: plan }).map((e) => [e.action, e.actorName])).toEqual([
      ['technician.plan-started', 'HR feed'],
      ['technician.step-attempted', 'HR feed'],
      ['technician.memberships-added', 'HR feed'],
      ['technician.plan-finished', 'HR feed'],
    ]);
    // Carried out after its batch's summary: announced on its own.
    const notice = channelPosts(h).find((c) => title(c) === 'HR feed: joiner Jamie Rivera');
    expect(problems(notice)).toEqual([]);
    expect(status(notice)).toBe(`done (${plan})`);
  });

  it('movers get the new profile and birthright groups; their old access goes to the new manager for review, not removed', async () => {
    const mei = person(h, 'Mei Tanaka');
    const thomas = person(h, 'Thomas Berg');
    dropFile('hr-2026-03-09-mei.csv', [
      'E-2102,mei.tanaka@northwind.example,Finance,Financial Analyst,thomas.berg@northwind.example,2021-09-13,,active',
      // A bad line in the same file changes nothing; the good one goes on.
      'E-2103,nobody@northwind.example,Finance,Financial Analyst,thomas.berg@northwind.example,2021-09-13,,active',
    ]);
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report).toMatchObject({ changed: 1, rejected: 1 });
    // Seen for the first time, at work for years, in another department than the directory says: a mover.
    expect(report!.lines[0]).toMatchObject({ outcome: 'changed', actions: [{ kind: 'mover' }] });
    await h.bot.scheduler.runDue();
    expect(await profileOf(mei.id)).toEqual({ department: 'Finance', jobTitle: 'Financial Analyst', manager: 'Thomas Berg', enabled: true });
    // The new birthright is added; the old (Sales Team, CRM) stays until the review decides.
    expect(await groupsOf(h, mei.id)).toEqual(['All Staff', 'App - CRM', 'App - ERP Finance', 'App - Expense Reporting', 'Finance Department', 'Sales Team']);
    const action = h.bot.hrFeed.store.actionsOfBatch(report!.batch)[0]!;
    expect(action).toMatchObject({ kind: 'mover', state: 'done', reviewId: expect.stringMatching(/\S/) });
    // A review campaign of exactly that old access, by the new manager, started by the HR feed.
    const reviews = new ReviewStore(h.bot.store.db, clock.now);
    const campaign = reviews.get(action.reviewId!)!;
    expect(campaign).toMatchObject({ state: expect.any(String), startedBy: { id: 'hr-feed', name: 'HR feed' }, reviewer: { kind: 'user', userId: thomas.id } });
    expect(campaign.scope).toMatchObject({ kind: 'user-access', userId: mei.id });
    expect(reviews.items(campaign.id).map((i) => [i.memberName, i.groupId]).sort()).toEqual(
      [
        ['Mei Tanaka', groupId('App - CRM')],
        ['Mei Tanaka', groupId('Sales Team')],
      ].sort(),
    );
    expect(action.detail).toMatch(new RegExp(`old access \\((Sales Team, App - CRM|App - CRM, Sales Team)\\) sent to Thomas Berg for review \\(${campaign.id}\\)`));
    expect(h.bot.store.audit.query({ correlationId: report!.batch }).map((e) => e.action)).toEqual(
      expect.arrayContaining(['hr.record-accepted', 'hr.review-started', 'hr.profile-updated', 'hr.action-finished']),
    );
    // One summary for the batch: the mover and the rejected line, with the button for all of them.
    const summary = summaryOf(report!.batch);
    expect(facts(summary)).toMatchObject({ Movers: '1', 'Rejected lines': '1' });
    expect(cardText(findById(summary, 'tech-section-facts-rejected'))).toContain('unknown user: the directory has no account nobody@northwind.example');
    expect(findById(summary, 'hr-rejected')).toMatchObject({ verb: 'hr.rejected', data: { batch: report!.batch } });

    // When the review service cannot start a review, the old access goes to the technicians as a ticket.
    const requests: unknown[] = [];
    const refusing: AccessReviewStarter = {
      start: async (input) => {
        requests.push(input);
        return { ok: false, message: 'Reviews are paused.' };
      },
    };
    h.bot.hrFeed.service.attachReviews(refusing);
    const kevin = person(h, "Kevin O'Brien");
    dropFile('hr-2026-03-09-kevin.csv', ['E-2201,kevin.obrien@northwind.example,Finance,Accounts Payable Specialist,thomas.berg@northwind.example,2020-05-04,,active']);
    const [second] = await h.bot.hrFeed.scanNow();
    await h.bot.scheduler.runDue();
    expect(requests).toEqual([
      {
        scope: { kind: 'user-access', userId: kevin.id, groupIds: expect.arrayContaining([groupId('Sales Team'), groupId('App - CRM')]) },
        reviewer: { kind: 'user', userId: thomas.id },
        startedBy: { id: 'hr-feed', name: 'HR feed' },
        correlationId: second!.batch,
      },
    ]);
    expect(await profileOf(kevin.id)).toEqual({ department: 'Finance', jobTitle: 'Accounts Payable Specialist', manager: 'Thomas Berg', enabled: true });
    expect(await groupsOf(h, kevin.id)).toEqual(['All Staff', 'App - CRM', 'App - ERP Finance', 'App - Expense Reporting', 'Finance Department', 'Sales Team']);
    const ticket = h.bot.store.technician.tickets.listOpen().find((t) => t.title === "HR feed: review the old access of Kevin O'Brien after a move")!;
    expect(ticket.text).toContain('(No review campaign: Reviews are paused.)');
    expect(ticket.facts.map((f) => f.title).sort()).toEqual(['App - CRM', 'Sales Team']);
    expect(h.bot.hrFeed.store.actionsOfBatch(second!.batch)[0]).toMatchObject({ state: 'done', reviewId: ticket.id });
  });

  it('a leaver is offboarded when the end date is over: disabled, signed out, every group and MFA method removed', async () => {
    const fatima = person(h, 'Fatima Haddad');
    expect((await h.bot.directory.listAuthMethods(fatima.id)).map((m) => m.kind)).toEqual(['password', 'microsoftAuthenticator', 'phone']);
    dropFile('hr-2026-03-09-leaver.csv', ['E-1017,fatima.haddad@northwind.example,Sales,Account Executive,lukas.novak@northwind.example,2022-02-07,2026-03-15,active']);
    const [first] = await h.bot.hrFeed.scanNow();
    // First seen with nothing to change: a joiner now (nothing missing), and the leaver after 15 March in London.
    expect(first!.lines[0]!.actions.map((a) => [a.kind, a.dueAt])).toEqual([
      ['joiner', clock.now().toISOString()],
      ['leaver', '2026-03-16T00:00:00.000Z'],
    ]);
    await h.bot.scheduler.runDue();
    expect(h.bot.hrFeed.store.actionsOfBatch(first!.batch).map((a) => [a.kind, a.state])).toEqual([
      ['joiner', 'nothing-to-do'],
      ['leaver', 'scheduled'],
    ]);

    // HR moves the last day: the waiting leaver is replaced, nothing else happens.
    dropFile('hr-2026-03-10-leaver.csv', ['E-1017,fatima.haddad@northwind.example,Sales,Account Executive,lukas.novak@northwind.example,2022-02-07,2026-03-20,active']);
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report!.lines[0]!.actions.map((a) => [a.kind, a.dueAt])).toEqual([['leaver', '2026-03-21T00:00:00.000Z']]);
    expect(h.bot.hrFeed.store.actionsOfBatch(first!.batch).map((a) => a.state)).toEqual(['nothing-to-do', 'superseded']);
    expect(h.bot.store.audit.query({ correlationId: report!.batch }).map((e) => e.action)).toEqual(['hr.action-superseded', 'hr.record-accepted', 'hr.batch-processed']);

    // A restart on the way loses nothing: the leaver is a job in the store.
    await h.restart();
    clock.set('2026-03-16T08:00:00.000Z');
    await h.bot.scheduler.runDue();
    expect((await profileOf(fatima.id)).enabled).toBe(true);
    expect(await groupsOf(h, fatima.id)).toHaveLength(5);

    clock.set('2026-03-20T23:59:00.000Z');
    await h.bot.scheduler.runDue();
    expect((await profileOf(fatima.id)).enabled).toBe(true);

    clock.set('2026-03-21T00:00:00.000Z');
    await h.bot.scheduler.runDue();
    expect((await profileOf(fatima.id)).enabled).toBe(false);
    expect(await groupsOf(h, fatima.id)).toEqual([]);
    expect((await h.bot.directory.listAuthMethods(fatima.id)).map((m) => m.kind)).toEqual(['password']);
    const leaver = h.bot.hrFeed.store.actionsOfBatch(report!.batch)[0]!;
    expect(leaver).toMatchObject({ kind: 'leaver', state: 'done' });
    const plan = h.bot.store.technician.plans.get(leaver.planIds[0]!)!;
    expect(plan).toMatchObject({ command: 'offboard', actor: { name: 'HR feed' }, state: 'done', args: { reason: `HR feed ${report!.batch}: leaver, end date 2026-03-20` } });
    expect(h.bot.store.audit.query({ correlationId: plan.id }).map((e) => e.action)).toEqual(
      expect.arrayContaining(['technician.account-disabled', 'technician.sessions-revoked', 'technician.memberships-removed', 'technician.mfa-removed']),
    );
    expect(h.bot.hrFeed.store.employee('E-1017')!.started).toBe(false);
    const notice = channelPosts(h).find((c) => title(c) === 'HR feed: leaver Fatima Haddad');
    expect(problems(notice)).toEqual([]);
    expect(status(notice)).toBe(`done (${plan.id})`);
  });

  it('a leaver whose offboarding hits a directory fault: the technicians get the plan card with Run again and a ticket', async () => {
    const oliver = person(h, 'Oliver Bennett');
    const original = h.bot.directory.batchMembershipChanges;
    h.bot.directory.batchMembershipChanges = async () => {
      throw new ThrottledError('Too many requests', 30);
    };
    try {
      dropFile('hr-2026-03-21-oliver.csv', ['E-1016,oliver.bennett@northwind.example,Sales,Account Executive,lukas.novak@northwind.example,2020-01-06,,terminated']);
      const [report] = await h.bot.hrFeed.scanNow();
      await h.bot.scheduler.runDue();
      const action = h.bot.hrFeed.store.actionsOfBatch(report!.batch)[0]!;
      expect(action).toMatchObject({ kind: 'leaver', state: 'partial', ticketId: expect.stringMatching(/^TKT-\d+$/) });
      expect((await profileOf(oliver.id)).enabled).toBe(false);
      expect(await groupsOf(h, oliver.id)).toHaveLength(4);
      const planId = action.planIds[0]!;
      const card = channelPosts(h).find((c) => title(c).startsWith(`${planId}:`));
      expect(status(card)).toBe('Finished with problems: run it again to finish what is left');
      expect((card.actions ?? []).map((a: any) => a.id)).toEqual(['tech-rerun']);
      expect(h.bot.store.technician.tickets.get(action.ticketId!)).toMatchObject({ type: 'offboarding', title: 'HR feed: the leaver of Oliver Bennett finished with problems' });
      expect(status(summaryOf(report!.batch))).toMatch(/^1 change/);
      expect(facts(summaryOf(report!.batch)).Leavers).toBe('1');
      expect(h.bot.store.audit.query({ correlationId: report!.batch }).find((e) => e.action === 'hr.action-finished')!.outcome).toBe('failure');
    } finally {
      h.bot.directory.batchMembershipChanges = original;
    }
  });

  it('a privileged leaver is not applied by the feed: a plan waits for a technician’s approval, with a ticket', async () => {
    const tomasz = person(h, 'Tomasz Nowak');
    dropFile('hr-2026-03-21-privileged.csv', ['E-1301,tomasz.nowak@northwind.example,Engineering,DevOps Engineer,anna.lindqvist@northwind.example,2019-06-03,,terminated']);
    const [report] = await h.bot.hrFeed.scanNow();
    expect(report!.lines[0]!.actions.map((a) => a.kind)).toEqual(['leaver']);
    await h.bot.scheduler.runDue();
    expect((await profileOf(tomasz.id)).enabled).toBe(true);
    const action = h.bot.hrFeed.store.actionsOfBatch(report!.batch)[0]!;
    expect(action).toMatchObject({ state: 'waiting-approval', ticketId: expect.stringMatching(/^TKT-\d+$/) });
    const planId = action.planIds[0]!;
    const card = channelPosts(h).find((c) => title(c).startsWith(`${planId}:`));
    expect(status(card)).toBe("Waiting for a second technician's approval (privileged account)");
    expect((card.actions ?? []).map((a: any) => a.id)).toEqual(['tech-approve', 'tech-cancel']);
    expect(h.bot.store.technician.tickets.get(action.ticketId!)).toMatchObject({ type: 'offboarding', title: 'HR feed: approve the leaver plan of Tomasz Nowak (privileged account)', subject: { id: tomasz.id } });
    expect(cardText(summaryOf(report!.batch))).toMatch(/waits for a technician's approval/);

    // Any identity technician is the second pair of eyes; the plan then runs as the commands' plans do.
    const approved = await press(h, sarah(h), 'tech.approve', { plan: planId });
    expect(planOf(approved)).toBe(planId);
    await h.bot.scheduler.idle();
    expect((await profileOf(tomasz.id)).enabled).toBe(false);
    expect(await groupsOf(h, tomasz.id)).toEqual([]);
    expect(h.bot.store.technician.plans.get(planId)).toMatchObject({ state: 'done', approvedBy: { name: 'Sarah Mitchell' } });
    expect(steps(approved)[0]).toMatch(/^Step 1: Disable the account = /);
    expect(h.bot.hrFeed.store.actionsOfBatch(report!.batch)[0]!.state).toBe('waiting-approval');

    // A privileged mover: HR's attributes are written and the old access goes to review, but the new groups wait.
    const marcus = person(h, 'Marcus Johnson');
    dropFile('hr-2026-03-21-privileged-mover.csv', ['E-1302,marcus.johnson@northwind.example,IT,Systems Administrator,michael.grant@northwind.example,2018-04-16,,active']);
    const [moved] = await h.bot.hrFeed.scanNow();
    await h.bot.scheduler.runDue();
    expect(await profileOf(marcus.id)).toEqual({ department: 'IT', jobTitle: 'Systems Administrator', manager: 'Michael Grant', enabled: true });
    expect(await groupsOf(h, marcus.id)).not.toContain('IT Department');
    const mover = h.bot.hrFeed.store.actionsOfBatch(moved!.batch)[0]!;
    expect(mover).toMatchObject({ kind: 'mover', state: 'waiting-approval', reviewId: expect.stringMatching(/\S/) });
    expect(h.bot.store.technician.plans.get(mover.planIds[0]!)).toMatchObject({ command: 'onboard', state: 'proposed', privileged: true, steps: [{ kind: 'add-groups', groups: [{ name: 'IT Department' }] }] });
    expect(new ReviewStore(h.bot.store.db, clock.now).items(mover.reviewId!).map((i) => i.accessName).sort()).toEqual(['Engineering', 'Source Code']);
  });

  it('malformed files change nothing and say why, line by line', async () => {
    const emily = person(h, 'Emily Chen');
    const thomas = person(h, 'Thomas Berg');
    const before = { emily: await profileOf(emily.id), thomas: await profileOf(thomas.id), groups: await groupsOf(h, emily.id) };
    const jobsBefore = h.bot.store.jobs.withState('pending').length;
    dropFile('hr-2026-03-21-bad.csv', [
      'E-1007,emily.chen@northwind.example,Sales,Accountant,thomas.berg@northwind.example,2026-02-30,,active',
      'E-1999,ghost@northwind.example,Finance,Accountant,thomas.berg@northwind.example,2020-01-01,,active',
      // Thomas's manager would be Emily, who reports to Thomas in the directory.
      'E-1006,thomas.berg@northwind.example,Finance,Finance Manager,emily.chen@northwind.example,2018-01-01,,active',
    ]);
    fs.writeFileSync(path.join(drop, 'hr-2026-03-21-columns.csv'), 'employee_id,upn,department,title,start_date,end_date,status\nE-1007,emily.chen@northwind.example,Sales,Accountant,2020-01-01,,active\n');
    fs.utimesSync(path.join(drop, 'hr-2026-03-21-columns.csv'), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const [bad, columns] = await h.bot.hrFeed.scanNow();

    expect(bad).toMatchObject({ state: 'processed', records: 3, changed: 0, rejected: 3 });
    expect(bad!.lines.map((l) => [l.line, l.outcome, l.reason])).toEqual([
      [2, 'rejected', 'start_date "2026-02-30" is not a day of the calendar'],
      [3, 'rejected', 'unknown user: the directory has no account ghost@northwind.example'],
      [4, 'rejected', 'manager loop: thomas.berg@northwind.example → emily.chen@northwind.example → thomas.berg@northwind.example'],
    ]);
    expect(columns).toMatchObject({ state: 'rejected', records: 0, lines: [] });
    expect(columns!.error).toMatch(/^Header \(line 1\): missing column manager_upn\. The header must name exactly employee_id,upn,department,title,manager_upn,start_date,end_date,status\. Nothing in the file was applied\.$/);

    // Both went to rejected/, each with its report.
    const rejectedDir = path.join(drop, 'rejected');
    expect(fs.readdirSync(rejectedDir).sort()).toEqual(
      [`${bad!.batch}-hr-2026-03-21-bad.csv`, `${bad!.batch}-hr-2026-03-21-bad.csv.report.csv`, `${columns!.batch}-hr-2026-03-21-columns.csv`, `${columns!.batch}-hr-2026-03-21-columns.csv.report.csv`].sort(),
    );
    expect(fs.readFileSync(path.join(rejectedDir, `${columns!.batch}-hr-2026-03-21-columns.csv.report.csv`), 'utf8')).toContain(',,,file-rejected,,"Header (line 1): missing column manager_upn.');
    expect(fs.readFileSync(path.join(rejectedDir, `${bad!.batch}-hr-2026-03-21-bad.csv.report.csv`), 'utf8')).toContain('3,E-1999,ghost@northwind.example,rejected,,unknown user: the directory has no account ghost@northwind.example');

    // Nothing changed: no employee stored, no action, no job, the directory as it was.
    await h.bot.scheduler.runDue();
    expect(h.bot.hrFeed.store.employee('E-1007')).toBeNull();
    expect(h.bot.hrFeed.store.employee('E-1006')).toBeNull();
    expect(h.bot.hrFeed.store.actionsOfBatch(bad!.batch)).toEqual([]);
    expect(h.bot.store.jobs.withState('pending').length).toBe(jobsBefore);
    expect({ emily: await profileOf(emily.id), thomas: await profileOf(thomas.id), groups: await groupsOf(h, emily.id) }).toEqual(before);
    expect(h.bot.store.audit.query({ correlationId: columns!.batch }).map((e) => [e.action, e.outcome])).toEqual([['hr.batch-rejected', 'refused']]);
    const processed = h.bot.store.audit.query({ correlationId: bad!.batch });
    expect(processed.map((e) => e.action)).toEqual(['hr.batch-processed']);
    expect(JSON.parse(processed[0]!.details).rejectedLines).toHaveLength(3);

    // The technicians are told, with every rejected line one click away (for them only).
    expect(status(summaryOf(columns!.batch))).toBe('Nothing in it was applied');
    const summary = summaryOf(bad!.batch);
    expect(status(summary)).toBe('0 changes · 3 lines rejected (they changed nothing)');
    const all = await press(h, sarah(h), 'hr.rejected', { batch: bad!.batch });
    expect((findById(all, 'tech-facts')?.facts ?? []).map((f: any) => f.title)).toEqual([
      'Line 2 (E-1007 · emily.chen@northwind.example)',
      'Line 3 (E-1999 · ghost@northwind.example)',
      'Line 4 (E-1006 · thomas.berg@northwind.example)',
    ]);
    const refused = await h.client.invoke(emily, 'hr.rejected', { batch: bad!.batch });
    expect(refused.status).toBe(200);
    expect(cardText(refused.body.value)).toContain('Sorry, that command is for identity technicians only.');
  });

  it('a replayed file changes nothing and posts nothing', async () => {
    const mei = person(h, 'Mei Tanaka');
    const groups = await groupsOf(h, mei.id);
    const posts = channelPosts(h).length;
    const original = fs.readdirSync(path.join(drop, 'processed')).find((f) => f.endsWith('-hr-2026-03-09-mei.csv'))!;
    const firstBatch = /^(HRB-\d+)-/.exec(original)![1];
    fs.copyFileSync(path.join(drop, 'processed', original), path.join(drop, 'hr-2026-03-21-replay.csv'));
    fs.utimesSync(path.join(drop, 'hr-2026-03-21-replay.csv'), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const [replay] = await h.bot.hrFeed.scanNow();
    expect(replay).toMatchObject({ state: 'processed', changed: 0, unchanged: 1, rejected: 1, sameContentAs: firstBatch });
    expect(replay!.lines[0]).toEqual({ line: 2, employeeId: 'E-2102', upn: 'mei.tanaka@northwind.example', outcome: 'unchanged', reason: `the same record as ${firstBatch}: nothing to do`, actions: [] });
    await h.bot.scheduler.runDue();
    expect(h.bot.hrFeed.store.actionsOfBatch(replay!.batch)).toEqual([]);
    expect(await groupsOf(h, mei.id)).toEqual(groups);
    expect(channelPosts(h).length).toBe(posts);
    expect(h.bot.store.audit.query({ correlationId: replay!.batch }).map((e) => e.action)).toEqual(['hr.batch-processed']);
  });

  it('the webhook is off without a secret', async () => {
    const res = await fetch(`${h.bot.url}/api/hr-feed`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: `${HEADER}\n` });
    expect(res.status).toBe(404);
  });
});
