import { openStore } from '../store/store';
import { auditCounts, prepareTurnFixtures } from './fixtures';
import { runLoad, type Client } from './load';
import { rssMiB, startChild, stopChild, waitIdle, type Child, type ChildMemory } from './processes';
import { round2, type BenchOutput } from './row';
import { Activities, approveClient, messageClient, newTally, writeClient } from './scenarios';
import { helpdeskFiles } from './turns';

/**
 * Load and soak: `conversations` concurrent conversations with the helpdesk for `seconds`,
 * mixing the read turn (60%: `help`), the write turns (20%: request cards Review, Submit,
 * Cancel) and the card action (20%: a manager's Approve), after a warm-up. Afterwards:
 *
 * - no request failed or got a wrong answer;
 * - the audit events the turns wrote (`access.requested`, `access.cancelled`,
 *   `access.approved`) equal the state-changing turns that succeeded, and nothing was
 *   refused or failed;
 * - the chain verifies;
 * - memory came back: the heap after a forced garbage collection (the bot runs with
 *   `--expose-gc`) is within 20% (or 16 MiB, whichever is more) of the heap after the
 *   warm-up, once the jobs the turns scheduled (provisioning, card updates) are done (the
 *   bot idle).
 */
export async function soakBenchmark(work: string, o: { seconds: number; warmSeconds: number; conversations: number }): Promise<BenchOutput> {
  const files = helpdeskFiles(work, 'soak');
  const writers = Math.round(o.conversations * 0.2);
  const approvers = Math.round(o.conversations * 0.2);
  const readers = o.conversations - writers - approvers;
  const fixtures = await prepareTurnFixtures(files, { writePairs: writers, approvers, waitingPerApprover: Math.ceil(((o.seconds + o.warmSeconds) * 400) / approvers) });
  const stub = await startChild('connector-stub');
  let bot: Child | null = null;
  try {
    bot = await startChild('helpdesk-bot', { DATABASE_PATH: files.database, LOCAL_DIRECTORY_PATH: files.directory }, ['--expose-gc']);
    const acts = new Activities(`http://127.0.0.1:${stub.port}`, fixtures.tenantId);
    const tally = newTally();
    // Each client is one conversation, kept for the whole run.
    const clients = (): Client[] => [
      ...Array.from({ length: readers }, () => messageClient(acts, fixtures.users, 'help', readers, readers, 'read')),
      ...fixtures.writePairs.map((p, i) => writeClient(acts, p.user, p.resourceId, `a:soak-write-${i}`, tally)),
      ...fixtures.approvers.map((a, i) => approveClient(acts, a.manager, a.requestIds, `a:soak-approve-${i}`, tally)),
    ];

    const warm = await runLoad(bot.port, clients(), o.warmSeconds);
    await waitIdle(bot.proc.pid!);
    const warmMemory = await gcMemory(bot);
    const warmRss = rssMiB(bot.proc.pid!);
    const before = auditCounts(files.database);
    const tallyBefore = { ...tally };

    const soak = await runLoad(bot.port, clients(), o.seconds);
    const settleMs = await waitIdle(bot.proc.pid!);
    const afterMemory = await gcMemory(bot);
    const afterRss = rssMiB(bot.proc.pid!);
    await stopChild(bot);

    const after = auditCounts(files.database);
    const delta = (action: string) => (after.get(action) ?? 0) - (before.get(action) ?? 0);
    const turns = tally.submitted - tallyBefore.submitted + (tally.cancelled - tallyBefore.cancelled) + (tally.approved - tallyBefore.approved);
    const events = delta('access.requested') + delta('access.cancelled') + delta('access.approved');
    const refused = [...after.keys()].filter((a) => /refused|failed/.test(a)).reduce((n, a) => n + delta(a), 0);
    const store = openStore(files.database);
    const verified = store.audit.verify();
    store.close();

    const heapMiB = (m: ChildMemory) => m.heapUsed / 2 ** 20;
    const allowance = Math.max(heapMiB(warmMemory) * 0.2, 16);
    const memoryBack = heapMiB(afterMemory) <= heapMiB(warmMemory) + allowance;
    const ranDry = soak.clientsDone > 0;
    const failures = warm.failures + soak.failures;
    const kinds = Object.entries(soak.byKind)
      .map(([k, s]) => `${k} ${Math.round(s.rps)}/s p99 ${s.p99} ms`)
      .join(', ');
    return {
      rows: [
        {
          name: 'soak-requests',
          metric: `${o.conversations} conversations, ${o.seconds} s: requests/s (p50 ${soak.all.p50} ms, p99 ${soak.all.p99} ms; ${kinds})`,
          value: soak.all.rps,
          details: { warm: { ...warm, byKind: warm.byKind }, soak },
        },
        {
          name: 'soak-failures',
          metric: `failed requests or wrong answers of ${(warm.all.count + soak.all.count).toLocaleString('en')}${ranDry ? ' (approvals ran out of waiting requests)' : ''}`,
          value: failures,
          target: '0',
          pass: failures === 0 && !ranDry,
          details: { samples: [...warm.failureSamples, ...soak.failureSamples] },
        },
        {
          name: 'soak-audit',
          metric: `audit events written by the ${turns.toLocaleString('en')} state-changing turns (submits, cancels, approvals), none refused`,
          value: events,
          baseline: turns,
          target: 'equal',
          pass: events === turns && refused === 0,
          details: { byAction: Object.fromEntries([...after.keys()].map((a) => [a, delta(a)]).filter(([, n]) => (n as number) !== 0)) },
        },
        { name: 'soak-verify', metric: `audit chain verifies (${verified.count.toLocaleString('en')} events)`, value: verified.ok ? 1 : 0, target: 'intact', pass: verified.ok },
        {
          name: 'soak-memory',
          metric: `heap MiB after GC, after the soak vs after warm-up (resident ${round2(afterRss)} vs ${round2(warmRss)} MiB; jobs done ${(settleMs / 1000).toFixed(1)} s after the soak)`,
          value: heapMiB(afterMemory),
          baseline: heapMiB(warmMemory),
          ratio: heapMiB(afterMemory) / heapMiB(warmMemory),
          target: 'within 20% or 16 MiB',
          pass: memoryBack && afterMemory.gc,
        },
      ],
    };
  } finally {
    if (bot) await stopChild(bot);
    await stopChild(stub);
  }
}

async function gcMemory(bot: Child): Promise<ChildMemory> {
  await bot.nextMemory();
  return bot.nextMemory();
}
