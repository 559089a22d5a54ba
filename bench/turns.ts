import fs from 'node:fs';
import path from 'node:path';
import { auditCounts, prepareTurnFixtures, type TurnFixtures } from './fixtures';
import { runLoad, type Client, type LoadResult } from './load';
import { cpuMs, rssMiB, startChild, stopChild, stubCapture, stubCount, waitIdle, type Child } from './processes';
import { formatSummary, summariseProfile, type ProfileLine } from './profile-summary';
import { median, round2, type BenchOutput, type Row } from './row';
import { Activities, approveClient, messageClient, newTally, writeClient } from './scenarios';

/**
 * Turn throughput and latency. Three bots, each in its own process, replying to the same
 * connector stub on 127.0.0.1, loaded by the same closed-loop clients (`load.ts`):
 *
 * - `echo`: a bare botbuilder echo bot on restify, the framework's own floor;
 * - `echo-card`: the same bot answering with the helpdesk's welcome card (as the helpdesk
 *   sent it) instead of a line of text: the floor carrying the read turn's reply;
 * - `teams-ai`: an empty teams-ai Application echoing the same way, the floor of the
 *   framework the helpdesk is built on;
 * - the helpdesk in local mode with the demo tenant: `read` (`help`, the welcome card),
 *   `write` (the access request cards: Review, Submit, Cancel) and `card` (a manager's
 *   Approve on the request card).
 *
 * The kinds take turns in short windows, round after round, so that whatever else the shared
 * machine is doing falls on all of them alike; each figure is the median over the rounds and
 * each ratio the median of the per-round ratios to the echo bot.
 */

export interface TurnOptions {
  /** Measured seconds per kind and round. */
  seconds: number;
  rounds: number;
  warmSeconds: number;
  /** Concurrent clients (keep-alive connections) per kind. */
  clients: number;
  /** When set, every bot runs with `--cpu-prof` and writes its profile here. */
  profileDir?: string;
  /** Folder for the automatic profile taken when the read turn misses its target. */
  missProfileDir?: string;
}

type Kind = 'echo' | 'echo-card' | 'teams-ai' | 'read' | 'write' | 'card';
const KINDS: Kind[] = ['echo', 'echo-card', 'teams-ai', 'read', 'write', 'card'];

interface Measured {
  load: LoadResult;
  /** CPU milliseconds of the bot's process per answered request, the jobs they started included. */
  cpuPerTurn: number;
  /** How long the helpdesk went on working after the run (its jobs), ms. */
  settleMs: number;
}

/** The helpdesk's database files in `work`. */
export function helpdeskFiles(work: string, name: string): { database: string; directory: string } {
  return { database: path.join(work, `${name}.db`), directory: path.join(work, `${name}-directory.db`) };
}

export async function turnBenchmarks(work: string, o: TurnOptions): Promise<BenchOutput> {
  const files = helpdeskFiles(work, 'turns');
  // Requests waiting for approval: enough that no manager's queue runs dry in the card runs.
  const fixtures = await prepareTurnFixtures(files, { writePairs: o.clients, approvers: o.clients, waitingPerApprover: Math.ceil(((o.rounds * o.seconds + o.warmSeconds + 2) * 1000) / o.clients) });
  const auditBefore = auditCounts(files.database);
  const stub = await startChild('connector-stub');
  const acts = new Activities(`http://127.0.0.1:${stub.port}`, fixtures.tenantId);
  const tally = newTally();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const prof = (name: string) => (o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`, `--cpu-prof-name=${stamp}-${name}.cpuprofile`] : []);
  const bots: Record<'echo' | 'echo-card' | 'teams-ai' | 'helpdesk', Child | null> = { echo: null, 'echo-card': null, 'teams-ai': null, helpdesk: null };
  const notes: string[] = [];
  try {
    bots.echo = await startChild('echo-bot', {}, prof('echo'));
    bots['teams-ai'] = await startChild('teams-ai-bot', {}, prof('teams-ai'));
    bots.helpdesk = await startChild('helpdesk-bot', { DATABASE_PATH: files.database, LOCAL_DIRECTORY_PATH: files.directory }, ['--expose-gc', ...prof('helpdesk')]);
    const helpdesk = bots.helpdesk;
    // At idle: started, the demo directory open, nothing asked yet.
    await new Promise((r) => setTimeout(r, 2_000));
    const idleRss = rssMiB(helpdesk.proc.pid!);
    const idleHeap = (await helpdesk.nextMemory()).heapUsed / 2 ** 20;
    // The welcome card the helpdesk answers `help` with (to the demo's employee), for the echo bot to send.
    const employee = fixtures.users.find((u) => u.id === fixtures.employeeId) ?? fixtures.users[0]!;
    const reply = await stubCapture(stub, () =>
      fetch(`http://127.0.0.1:${helpdesk.port}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(acts.message(employee, 'a:bench-capture', 'help')) }),
    );
    const welcome = (reply?.attachments as Array<{ content?: unknown }> | undefined)?.[0]?.content;
    if (!welcome) throw new Error(`the helpdesk did not answer help with a card: ${JSON.stringify(reply).slice(0, 300)}`);
    const cardFile = path.join(work, 'welcome-card.json');
    fs.writeFileSync(cardFile, JSON.stringify(welcome));
    bots['echo-card'] = await startChild('echo-bot', { ECHO_CARD_FILE: cardFile }, prof('echo-card'));
    const running = bots as Record<'echo' | 'echo-card' | 'teams-ai' | 'helpdesk', Child>;

    const botOf = (k: Kind): Child => (k === 'echo' || k === 'echo-card' || k === 'teams-ai' ? running[k] : helpdesk);
    const clientsFor = (k: Kind): Client[] => {
      switch (k) {
        case 'echo':
        case 'echo-card':
        case 'teams-ai':
        case 'read':
          return Array.from({ length: o.clients }, () => messageClient(acts, fixtures.users, 'help', 200, o.clients, k));
        case 'write':
          return fixtures.writePairs.map((p, i) => writeClient(acts, p.user, p.resourceId, `a:bench-write-${i}`, tally));
        case 'card':
          return fixtures.approvers.map((a, i) => approveClient(acts, a.manager, a.requestIds, `a:bench-approve-${i}`, tally));
      }
    };
    // Approvals and submits leave jobs behind (provisioning, card updates, messages): each run
    // starts once the helpdesk has finished the previous one's, so no bot is measured while
    // another works on, and a helpdesk run's CPU per turn includes the jobs its turns started.
    const helpdeskPid = helpdesk.proc.pid!;
    const measure = async (k: Kind, seconds: number): Promise<Measured> => {
      await waitIdle(helpdeskPid);
      const pid = botOf(k).proc.pid!;
      const cpu0 = cpuMs(pid);
      const load = await runLoad(botOf(k).port, clientsFor(k), seconds);
      const settleMs = pid === helpdeskPid ? await waitIdle(helpdeskPid) : 0;
      const turns = Object.values(load.byKind).reduce((a, s) => a + s.count, 0);
      return { load, cpuPerTurn: (cpuMs(pid) - cpu0) / Math.max(1, turns), settleMs };
    };

    for (const k of KINDS) await measure(k, o.warmSeconds);
    const warmAudit = auditCounts(files.database);
    const tallyAfterWarm = { ...tally };
    const results: Record<Kind, Measured[]> = { echo: [], 'echo-card': [], 'teams-ai': [], read: [], write: [], card: [] };
    const measuredFrom = Date.now();
    for (let round = 0; round < o.rounds; round++) for (const k of KINDS) results[k].push(await measure(k, o.seconds));
    const measuredUntil = Date.now();
    const afterRss = rssMiB(helpdesk.proc.pid!);
    const afterHeap = (await helpdesk.nextMemory()).heapUsed / 2 ** 20;
    const replies = await stubCount(stub);

    const perKind = (k: Kind) => {
      const m = results[k];
      return {
        rps: median(m.map((x) => x.load.all.rps)),
        p50: median(m.map((x) => x.load.all.p50)),
        p99: median(m.map((x) => x.load.all.p99)),
        cpu: median(m.map((x) => x.cpuPerTurn)),
        settleMs: median(m.map((x) => x.settleMs)),
        ratio: median(m.map((x, i) => x.load.all.rps / results.echo[i]!.load.all.rps)),
        p99Ratio: median(m.map((x, i) => x.load.all.p99 / Math.max(1, results.echo[i]!.load.all.p99))),
        kinds: Object.fromEntries(
          [...new Set(m.flatMap((x) => Object.keys(x.load.byKind)))].map((kind) => [
            kind,
            { p50: median(m.map((x) => x.load.byKind[kind]?.p50 ?? NaN)), p99: median(m.map((x) => x.load.byKind[kind]?.p99 ?? NaN)), rps: median(m.map((x) => x.load.byKind[kind]?.rps ?? 0)) },
          ]),
        ),
        rounds: m.map((x) => ({ rps: round2(x.load.all.rps), p50: x.load.all.p50, p99: x.load.all.p99, cpuMsPerTurn: round2(x.cpuPerTurn), settleMs: x.settleMs, failures: x.load.failures, clientsDone: x.load.clientsDone })),
      };
    };
    const s = Object.fromEntries(KINDS.map((k) => [k, perKind(k)])) as Record<Kind, ReturnType<typeof perKind>>;
    const failures = KINDS.flatMap((k) => results[k]).reduce((a, m) => a + m.load.failures, 0);
    const samples = KINDS.flatMap((k) => results[k].flatMap((m) => m.load.failureSamples)).slice(0, 5);
    const ranDry = results.card.some((m) => m.load.clientsDone > 0);
    const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(1));
    const lat = (k: Kind) => `p50 ${ms(s[k].p50)} ms, p99 ${ms(s[k].p99)} ms, ${s[k].cpu.toFixed(2)} ms CPU/turn`;
    const kindLat = (k: Kind, sub: string, label: string) => `${label} p50 ${ms(s[k].kinds[sub]?.p50)} / p99 ${ms(s[k].kinds[sub]?.p99)} ms`;

    // Turns that change state: each must have written exactly one audit event.
    const auditAfter = auditCounts(files.database);
    const written = (action: string, from: Map<string, number>) => (auditAfter.get(action) ?? 0) - (from.get(action) ?? 0);
    const stateTurns = tally.submitted + tally.cancelled + tally.approved;
    const turnEvents = written('access.requested', auditBefore) + written('access.cancelled', auditBefore) + written('access.approved', auditBefore);
    const refused = [...auditAfter].filter(([a]) => /refused|failed/.test(a)).reduce((n, [a, c]) => n + c - (auditBefore.get(a) ?? 0), 0);
    const rows: Row[] = [
      { name: 'turn-baseline', metric: `echo bot, "help": req/s (${lat('echo')})`, value: s.echo.rps, details: s.echo },
      {
        name: 'turn-echo-card',
        metric: `echo bot answering with the welcome card: req/s (${lat('echo-card')})`,
        value: s['echo-card'].rps,
        baseline: s.echo.rps,
        ratio: s['echo-card'].ratio,
        details: s['echo-card'],
      },
      {
        name: 'turn-teams-ai',
        metric: `empty teams-ai app, same echo: req/s (${lat('teams-ai')})`,
        value: s['teams-ai'].rps,
        baseline: s.echo.rps,
        ratio: s['teams-ai'].ratio,
        details: s['teams-ai'],
      },
      {
        name: 'turn-read',
        metric: `"help", the welcome card: req/s (${lat('read')})`,
        value: s.read.rps,
        baseline: s.echo.rps,
        ratio: s.read.ratio,
        target: '>= 0.8 of baseline req/s',
        pass: s.read.ratio >= 0.8,
        details: s.read,
      },
      { name: 'turn-read-p99', metric: '"help" p99 latency, ms', value: s.read.p99, baseline: s.echo.p99, ratio: s.read.p99Ratio, target: '<= 1.5 x baseline p99', pass: s.read.p99Ratio <= 1.5 },
      {
        name: 'turn-write',
        metric: `request cards Review, Submit, Cancel: turns/s (${lat('write')}; ${kindLat('write', 'write-submit', 'submit')}, ${kindLat('write', 'write-cancel', 'cancel')})`,
        value: s.write.rps,
        baseline: s.echo.rps,
        ratio: s.write.ratio,
        details: s.write,
      },
      {
        name: 'turn-card-action',
        metric: `Approve on the request card (adaptiveCard/action): req/s (${lat('card')}; the jobs they start done ${(s.card.settleMs / 1000).toFixed(1)} s after the run)`,
        value: s.card.rps,
        baseline: s.echo.rps,
        ratio: s.card.ratio,
        details: { ...s.card, ranDry },
      },
      {
        name: 'turn-audit',
        metric: `audit events written by state-changing turns (${tally.submitted} submits, ${tally.cancelled} cancels, ${tally.approved} approvals)`,
        value: turnEvents,
        baseline: stateTurns,
        target: 'equal, none refused',
        pass: turnEvents === stateTurns && refused === 0,
        details: { byAction: Object.fromEntries([...auditAfter].map(([a, c]) => [a, c - (auditBefore.get(a) ?? 0)]).filter(([, c]) => (c as number) > 0)), warmUp: { tally: tallyAfterWarm, events: Object.fromEntries(warmAudit) } },
      },
      {
        name: 'turn-failures',
        metric: `failed requests or wrong answers, all runs${ranDry ? ' (approvals ran out of waiting requests)' : ''}; ${replies.toLocaleString('en')} replies at the stub`,
        value: failures,
        target: '0',
        pass: failures === 0 && !ranDry,
        details: { samples },
      },
      { name: 'memory-idle', metric: `helpdesk resident memory at idle, demo tenant, MiB (heap ${idleHeap.toFixed(0)} MiB after GC)`, value: idleRss },
      {
        name: 'memory-after-load',
        metric: `helpdesk resident memory after ${KINDS.slice(3).reduce((n, k) => n + results[k].reduce((a, m) => a + m.load.all.count, 0), 0).toLocaleString('en')} measured turns, MiB (heap ${afterHeap.toFixed(0)} MiB after GC)`,
        value: afterRss,
        baseline: idleRss,
        ratio: afterRss / idleRss,
      },
    ];
    if (samples.length) notes.push(`Failures: ${samples.join(' | ')}`);
    if (o.profileDir) notes.push(`Measured rounds ran from ${Math.round((measuredFrom - helpdesk.startedAt) / 1000)} s to ${Math.round((measuredUntil - helpdesk.startedAt) / 1000)} s of the helpdesk's profile.`);
    await Promise.all(Object.values(running).map(stopChild));
    if (!rows.find((r) => r.name === 'turn-read')!.pass && o.missProfileDir) notes.push(...(await profileReadTurn(files, fixtures, acts, o)));
    return { rows, notes };
  } finally {
    await Promise.all([...Object.values(bots).filter((b): b is Child => b !== null), stub].map(stopChild));
  }
}

/**
 * The read turn missed its target: run it once more in a bot started with `--cpu-prof`, and
 * summarise where its time went (the start-up and the warm-up left out).
 */
async function profileReadTurn(files: { database: string; directory: string }, fixtures: TurnFixtures, acts: Activities, o: TurnOptions): Promise<string[]> {
  const dir = o.missProfileDir!;
  fs.mkdirSync(dir, { recursive: true });
  const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-read-turn`;
  const bot = await startChild('helpdesk-bot', { DATABASE_PATH: files.database, LOCAL_DIRECTORY_PATH: files.directory }, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`]);
  let skipMs = 0;
  try {
    const clients = () => Array.from({ length: o.clients }, () => messageClient(acts, fixtures.users, 'help', 200, o.clients, 'read'));
    await waitIdle(bot.proc.pid!);
    await runLoad(bot.port, clients(), o.warmSeconds);
    skipMs = Date.now() - bot.startedAt;
    await runLoad(bot.port, clients(), Math.max(5, o.seconds));
  } finally {
    await stopChild(bot);
  }
  const file = path.join(dir, `${name}.cpuprofile`);
  if (!fs.existsSync(file)) return [`The read turn missed its target; its profile was not written (${file}).`];
  const summary = summariseProfile(file, 12, skipMs);
  fs.writeFileSync(file.replace(/\.cpuprofile$/, '.txt'), formatSummary(summary) + '\n');
  const share = (list: ProfileLine[], name: string) => `${((list.find((l) => l.name === name)?.share ?? 0) * 100).toFixed(0)}%`;
  const top = (list: ProfileLine[], n: number) => list.slice(0, n).map((l) => `${l.name} ${(l.share * 100).toFixed(0)}%`).join(', ');
  return [
    `Read turn profile: ${path.relative(process.cwd(), file)} (summary beside it, .txt).`,
    `  Self time by package: ${top(summary.packages, 8)}.`,
    `  Time in a package and what it called: teams-ai ${share(summary.packagesTotal, '@microsoft/teams-ai')}, the connector client that sends the reply (botframework-connector) ${share(summary.packagesTotal, 'botframework-connector')}, restify ${share(summary.packagesTotal, 'restify')}, garbage collection ${share(summary.packagesTotal, '(gc)')}.`,
    `  Our code, time in it and what it called: ${top(summary.oursTotal, 6)}.`,
  ];
}

