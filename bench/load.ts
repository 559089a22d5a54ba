import http from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * The load generator of the turn benchmarks and the soak: closed-loop clients on keep-alive
 * connections, each posting an activity, waiting for the answer and posting the next, as
 * fast as the bot answers. Unlike a fixed-request tool, a client is a small program: it can
 * take the draft id out of one answer and submit it in the next, and check that each answer
 * is what the turn should give. Every bot, the baselines included, is measured with it in
 * the same way.
 */

/** What a client sees of an answer. */
export interface Answer {
  status: number;
  /** Parsed JSON body, or null when empty. */
  body: unknown;
}

/**
 * Posts one activity as `kind` (the name its latency is kept under) and returns the answer.
 * `check` says what is wrong with an answer (a message), or null when it is right; an answer
 * that is not 2xx is always a failure. Throws {@link Stop} when the run is over, unless
 * `evenAfterEnd` (the second half of something that must not be left half done).
 */
export type Send = (kind: string, activity: object, check?: (answer: Answer) => string | null, options?: { evenAfterEnd?: boolean }) => Promise<Answer>;

/** A client: loops over `send` until it throws {@link Stop} (or returns when it has nothing left to do). */
export type Client = (send: Send, index: number) => Promise<void>;

/** Thrown by `send` once the run's time is up; clients let it propagate. */
export class Stop extends Error {
  constructor() {
    super('run over');
  }
}

export interface KindStats {
  /** Answers received within the run's time. */
  count: number;
  /** Per second over the run's time. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  seconds: number;
  /** Every kind together. */
  all: KindStats;
  byKind: Record<string, KindStats>;
  /** Answers that were not 2xx, failed their check, or did not come (connection errors). */
  failures: number;
  /** The first few failures, for the report. */
  failureSamples: string[];
  /** Clients that ended before the time was up (ran out of work). */
  clientsDone: number;
}

/** Nearest-rank percentile of sorted values. */
function pct(sorted: Float64Array, q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function stats(latencies: number[], seconds: number): KindStats {
  const sorted = Float64Array.from(latencies).sort();
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    count: sorted.length,
    rps: sorted.length / seconds,
    p50: round(pct(sorted, 0.5)),
    p90: round(pct(sorted, 0.9)),
    p99: round(pct(sorted, 0.99)),
    max: round(sorted.length ? sorted[sorted.length - 1]! : 0),
  };
}

/**
 * Runs `clients` against `http://127.0.0.1:<port>/api/messages` for `seconds`, one keep-alive
 * connection each. Latency is from writing the request to the last byte of the answer.
 */
export async function runLoad(port: number, clients: Client[], seconds: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients.length, maxFreeSockets: clients.length });
  const latencies = new Map<string, number[]>();
  const all: number[] = [];
  const failureSamples: string[] = [];
  let failures = 0;
  let clientsDone = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;

  const fail = (kind: string, why: string) => {
    failures += 1;
    if (failureSamples.length < 5) failureSamples.push(`${kind}: ${why}`);
  };

  const send: Send = (kind, activity, check, options) => {
    if (performance.now() >= deadline && !options?.evenAfterEnd) return Promise.reject(new Stop());
    const payload = JSON.stringify(activity);
    return new Promise<Answer>((resolve) => {
      const t0 = performance.now();
      const req = http.request(
        { host: '127.0.0.1', port, path: '/api/messages', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const t1 = performance.now();
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = null;
            try {
              body = text ? JSON.parse(text) : null;
            } catch {
              body = text;
            }
            const answer: Answer = { status: res.statusCode ?? 0, body };
            // Only answers that arrive within the run count towards its rate and latency.
            if (t1 <= deadline) {
              let list = latencies.get(kind);
              if (!list) latencies.set(kind, (list = []));
              list.push(t1 - t0);
              all.push(t1 - t0);
            }
            const problem = answer.status < 200 || answer.status > 299 ? `HTTP ${answer.status} ${text.slice(0, 200)}` : (check?.(answer) ?? null);
            if (problem) fail(kind, problem);
            resolve(answer);
          });
          res.on('error', (err) => {
            fail(kind, err.message);
            resolve({ status: 0, body: null });
          });
        },
      );
      req.on('error', (err) => {
        // Counted as a failure; the client goes on with its next step.
        fail(kind, err.message);
        resolve({ status: 0, body: null });
      });
      req.end(payload);
    });
  };

  await Promise.all(
    clients.map(async (client, i) => {
      try {
        await client(send, i);
        clientsDone += 1;
      } catch (err) {
        if (!(err instanceof Stop)) fail('client', (err as Error).message);
      }
    }),
  );
  agent.destroy();
  const elapsed = Math.min(seconds, (performance.now() - started) / 1000);
  return {
    seconds: elapsed,
    all: stats(all, elapsed),
    byKind: Object.fromEntries([...latencies].map(([k, v]) => [k, stats(v, elapsed)])),
    failures,
    failureSamples,
    clientsDone,
  };
}
