import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBot, type RunningBot } from '../../bot/main';
import { loadDemoTenant, type DemoTenant } from '../../directory/demo-tenant';
import { FakeConnector } from './fake-connector';
import { TeamsClient, type TestUser } from './teams-client';

export interface Harness {
  bot: RunningBot;
  connector: FakeConnector;
  client: TeamsClient;
  tenant: DemoTenant;
  dir: string;
  /** Every log line the bot wrote, as parsed JSON. */
  logs: any[];
  /** The bot's clock (the test's clock when one was given). */
  clock: () => Date;
  /** A demo user by persona key or id. */
  user(keyOrId: 'employee' | 'manager' | 'technician' | string): TestUser & { userPrincipalName: string };
  /** Stops the bot (as SIGTERM would) and starts it again on the same files. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** The bot's clock (scheduler, audit, store); survives `restart()`. See {@link TestClock}. */
  clock?: () => Date;
}

/** A clock tests move by hand: `clock.advance(25 * HOUR)`, then `h.bot.scheduler.runDue()`. */
export class TestClock {
  private t: number;
  constructor(start: string | Date = '2026-03-02T09:00:00.000Z') {
    this.t = new Date(start).getTime();
  }
  readonly now = (): Date => new Date(this.t);
  advance(ms: number): Date {
    this.t += ms;
    return this.now();
  }
  set(at: string | Date): void {
    this.t = new Date(at).getTime();
  }
}

/**
 * The real bot on port 0 with a temporary database and demo directory, a fake connector,
 * and a client that talks to the bot over HTTP.
 */
export async function startHarness(extraEnv: Record<string, string> = {}, options: HarnessOptions = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-test-'));
  const connector = await new FakeConnector().start();
  const tenant = loadDemoTenant();
  const logs: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
  const env = {
    PORT: '0',
    DATABASE_PATH: path.join(dir, 'helpdesk.db'),
    LOCAL_DIRECTORY_PATH: path.join(dir, 'directory.db'),
    LOG_LEVEL: 'debug',
    PLAYGROUND: 'false',
    SHUTDOWN_GRACE_SECONDS: '5',
    ...extraEnv,
  };
  const boot = () => startBot(env, { logDestination: sink, clock: options.clock });
  const h: Harness = {
    bot: await boot(),
    connector,
    client: null as unknown as TeamsClient,
    tenant,
    dir,
    logs,
    clock: options.clock ?? (() => new Date()),
    user(keyOrId) {
      const id = (tenant.personas as unknown as Record<string, string>)[keyOrId] ?? keyOrId;
      const u = tenant.users.find((x) => x.id === id);
      if (!u) throw new Error(`no demo user ${keyOrId}`);
      return { id: u.id, displayName: u.displayName, userPrincipalName: u.userPrincipalName };
    },
    async restart() {
      await h.bot.close();
      h.bot = await boot();
      h.client = new TeamsClient(h.bot.url, connector.url, tenant.tenantId);
    },
    async stop() {
      await h.bot.close();
      await connector.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  h.client = new TeamsClient(h.bot.url, connector.url, tenant.tenantId);
  return h;
}
