import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import autocannon from 'autocannon';
import { loadDemoTenant } from '../directory/demo-tenant';

/** One result line of the benchmark table. */
export interface Row {
  name: string;
  metric: string;
  value: number;
  baseline?: number;
  ratio?: number;
  target?: string;
  pass?: boolean;
}

interface Child {
  proc: ChildProcess;
  port: number;
}

/** Starts `dist/bench/<script>.js` in its own process and waits for `LISTENING <port>`. */
async function startChild(script: string, env: NodeJS.ProcessEnv = {}): Promise<Child> {
  const proc = spawn(process.execPath, ['--disable-warning=DEP0111', path.join(__dirname, `${script}.js`)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: proc.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 30 s`)), 30_000);
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    lines.on('line', (line) => {
      const m = /^LISTENING (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { proc, port };
}

async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null) return;
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
}

/** Resident memory of a process, in MiB, from /proc. */
function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
}

/**
 * Posts Teams-shaped message activities from `conversations` different users' chats, as
 * fast as `connections` keep-alive connections allow, for `seconds`.
 */
async function load(port: number, serviceUrl: string, text: string, seconds: number, connections = 20, conversations = 200): Promise<LoadResult> {
  const tenant = loadDemoTenant();
  const users = tenant.users.filter((u) => u.accountEnabled);
  let i = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/messages`,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => {
          const n = i++ % conversations;
          const user = users[n % users.length]!;
          const body = {
            type: 'message',
            id: `bench-${i}`,
            channelId: 'msteams',
            serviceUrl,
            text,
            from: { id: `29:${user.id}`, name: user.displayName, aadObjectId: user.id },
            recipient: { id: '28:helpdesk-bot', name: 'Northwind IAM Helpdesk' },
            conversation: { id: `a:bench-${n}`, conversationType: 'personal', tenantId: tenant.tenantId },
            channelData: { tenant: { id: tenant.tenantId } },
          };
          return { ...req, body: JSON.stringify(body) };
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

/**
 * Turn throughput and latency of the helpdesk bot against a bare botbuilder echo bot, both
 * in their own process, replying to the same connector stub, measured the same way in one
 * run; resident memory of the helpdesk bot at idle and after the run.
 */
export async function turnBenchmarks(work: string, seconds = 10): Promise<Row[]> {
  const stub = await startChild('connector-stub');
  const serviceUrl = `http://127.0.0.1:${stub.port}`;
  const rows: Row[] = [];
  try {
    const echo = await startChild('echo-bot');
    await load(echo.port, serviceUrl, 'help', 2);
    const base = await load(echo.port, serviceUrl, 'help', seconds);
    await stopChild(echo);

    const bot = await startChild('helpdesk-bot', {
      DATABASE_PATH: path.join(work, 'turns.db'),
      LOCAL_DIRECTORY_PATH: path.join(work, 'turns-directory.db'),
    });
    await new Promise((r) => setTimeout(r, 1_000));
    const idle = rssMiB(bot.proc.pid!);
    await load(bot.port, serviceUrl, 'help', 2);
    const read = await load(bot.port, serviceUrl, 'help', seconds);
    const after = rssMiB(bot.proc.pid!);
    await stopChild(bot);

    const failures = base.errors + base.non2xx + read.errors + read.non2xx;
    rows.push(
      { name: 'turn-baseline', metric: `echo bot: req/s (p50 ${base.p50} ms, p99 ${base.p99} ms)`, value: base.rps },
      {
        name: 'turn-read',
        metric: `help turn: req/s (p50 ${read.p50} ms, p99 ${read.p99} ms)`,
        value: read.rps,
        baseline: base.rps,
        ratio: read.rps / base.rps,
        target: '>= 0.8 of baseline req/s',
        pass: read.rps / base.rps >= 0.8,
      },
      { name: 'turn-read-p99', metric: 'help turn p99 latency, ms', value: read.p99, baseline: base.p99, ratio: read.p99 / Math.max(base.p99, 1), target: '<= 1.5 x baseline p99', pass: read.p99 <= 1.5 * Math.max(base.p99, 1) },
      { name: 'turn-failures', metric: 'failed or non-2xx requests in both runs', value: failures, target: '0', pass: failures === 0 },
      { name: 'memory-idle', metric: 'bot resident memory at idle, MiB', value: idle },
      { name: 'memory-after-load', metric: `bot resident memory after ${read.requests.toLocaleString('en')} turns, MiB`, value: after, baseline: idle, ratio: after / idle },
    );
  } finally {
    await stopChild(stub);
  }
  return rows;
}
