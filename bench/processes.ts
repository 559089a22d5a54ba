import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/** The bench's helper processes (bots, connector stub): started, measured from /proc, stopped. */

export interface Child {
  name: string;
  proc: ChildProcess;
  port: number;
  /** When the process was started (`Date.now()`). */
  startedAt: number;
  /** Resolves with the next `MEMORY <json>` line (see `helpdesk-bot.ts`). */
  nextMemory(): Promise<ChildMemory>;
}

export interface ChildMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  gc: boolean;
}

/** Starts `dist/bench/<script>.js` in its own process and waits for `LISTENING <port>`. */
export async function startChild(script: string, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Child> {
  const startedAt = Date.now();
  const proc = spawn(process.execPath, ['--disable-warning=DEP0111', ...nodeArgs, path.join(__dirname, `${script}.js`)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: proc.stdout! });
  const memoryWaiters: Array<(m: ChildMemory) => void> = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    lines.on('line', (line) => {
      const listening = /^LISTENING (\d+)$/.exec(line);
      if (listening) {
        clearTimeout(timer);
        resolve(Number(listening[1]));
      }
      const memory = /^MEMORY (.*)$/.exec(line);
      if (memory) memoryWaiters.shift()?.(JSON.parse(memory[1]!) as ChildMemory);
    });
  });
  return {
    name: script,
    proc,
    port,
    startedAt,
    nextMemory: () => {
      const p = new Promise<ChildMemory>((resolve) => memoryWaiters.push(resolve));
      proc.kill('SIGUSR2');
      return p;
    },
  };
}

/** SIGTERM, then SIGKILL after 10 s. Resolves once the process is gone. */
export async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (c.proc.exitCode === null && c.proc.signalCode === null) {
    c.proc.kill('SIGKILL');
    await exited;
  }
}

/** Resident memory of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU time (user + system) a process has used so far, in milliseconds, from /proc. */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** How many activities the connector stub has taken. */
export async function stubCount(stub: Child): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${stub.port}/count`);
  return ((await res.json()) as { activities: number }).activities;
}

/**
 * Waits until a process is idle: under 5% of a CPU over the last half second (the jobs its
 * turns scheduled are done), at most `maxMs`. Resolves with how long that took, in ms.
 */
export async function waitIdle(pid: number, maxMs = 60_000): Promise<number> {
  const started = Date.now();
  const samples: Array<{ at: number; cpu: number }> = [{ at: started, cpu: cpuMs(pid) }];
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = { at: Date.now(), cpu: cpuMs(pid) };
    samples.push(now);
    // The newest sample at least half a second old.
    const base = [...samples].reverse().find((x) => now.at - x.at >= 500);
    if (base && now.cpu - base.cpu <= 0.05 * (now.at - base.at)) return now.at - started;
    if (now.at - started >= maxMs) return now.at - started;
  }
}

/** The next activity the connector stub takes after this call (sent by `send`), parsed. */
export async function stubCapture(stub: Child, send: () => Promise<unknown>): Promise<Record<string, unknown> | null> {
  await fetch(`http://127.0.0.1:${stub.port}/capture`);
  await send();
  const res = await fetch(`http://127.0.0.1:${stub.port}/captured`);
  return (await res.json()) as Record<string, unknown> | null;
}
