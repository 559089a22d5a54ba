import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import type { Directory } from '../directory/directory';
import { openStore, type Store } from '../store/store';
import { lockDatabase } from '../store/instance-lock';
import { createBotApp } from './app';
import { loadConfig, type AppConfig } from './config';
import type { BotDeps } from './deps';
import { openDirectory, type OpenedDirectory } from './directory-setup';
import { createLogger, type Logger } from './logger';
import type { HrFeedCapability } from './hr-feed';
import type { Scheduler } from './scheduler';
import { createServer } from './server';
import { packageVersion } from './version';

export interface RunningBot {
  /** Base URL, e.g. `http://127.0.0.1:3978`. */
  url: string;
  port: number;
  config: AppConfig;
  store: Store;
  directory: Directory;
  logger: Logger;
  /** Runs durable jobs (provisioning, expiry, reminders); started once the server listens. */
  scheduler: Scheduler;
  /** The HR feed: its drop folder poller (started with the scheduler), webhook and store. */
  hrFeed: HrFeedCapability;
  /** Stops taking turns, lets those in flight finish (within the grace period), closes the databases. */
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: () => Date;
  /** Where logs go (tests capture them); standard output by default. */
  logDestination?: pino.DestinationStream;
}

/**
 * Composition root: configuration, store, directory, the teams-ai Application and the HTTP
 * server, in that order. Throws `ConfigError` (naming the variable) before opening anything
 * when the configuration cannot run.
 */
export async function startBot(env: NodeJS.ProcessEnv = process.env, options: StartOptions = {}): Promise<RunningBot> {
  const config = loadConfig(env);
  const clock = options.clock ?? (() => new Date());
  const logger = createLogger(config.logLevel, options.logDestination);
  // Before anything touches the database: a second process on it would run the same jobs twice.
  const lock = lockDatabase(config.databasePath);
  let store: Store;
  try {
    store = openStore(config.databasePath, clock);
  } catch (err) {
    lock.release();
    throw err;
  }
  let opened: OpenedDirectory | null = null;
  try {
    // Append-only triggers removed from the file behind the bot's back come back, and the trail says so.
    const restored = store.audit.restoreGuards();
    if (restored.length) logger.warn({ restored }, 'the audit trail had lost its append-only triggers: restored and recorded (audit.guards-restored); run audit verify with the anchors');
    opened = openDirectory(config, logger);
    const directory = opened.directory;
    const deps: BotDeps = {
      config,
      store,
      directory,
      logger,
      technicianGroupId: opened.technicianGroupId,
      clock,
    };
    const { app, adapter, scheduler, hrFeed } = createBotApp(deps);
    const http = createServer(deps, app, adapter, packageVersion(), [hrFeed.mount]);
    await new Promise<void>((resolve, reject) => {
      http.server.once('error', reject);
      http.server.listen(config.port, config.host, () => resolve());
    });
    const port = (http.server.address() as AddressInfo).port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    logger.info({ mode: config.mode, url, database: config.databasePath, directory: directory.kind }, 'helpdesk bot listening');
    // Jobs that fell due while the bot was down (or were cut short by a stop) run now.
    scheduler.start();
    hrFeed.start();

    let closing: Promise<void> | null = null;
    const dir = opened;
    return {
      url,
      port,
      config,
      store,
      directory,
      logger,
      scheduler,
      hrFeed,
      close: () =>
        (closing ??= (async () => {
          const closed = new Promise<void>((resolve) => http.server.close(() => resolve()));
          const { unfinished } = await http.drain(config.shutdownGraceSeconds * 1000);
          if (unfinished) logger.warn({ unfinished }, 'shutting down with turns still running');
          // Keep-alive connections would hold server.close() open; the turns are done.
          (http.server.server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          await closed;
          await hrFeed.stop(config.shutdownGraceSeconds * 1000);
          await scheduler.stop(config.shutdownGraceSeconds * 1000);
          dir.close();
          store.close();
          lock.release();
          logger.info('helpdesk bot stopped');
        })()),
    };
  } catch (err) {
    opened?.close();
    store.close();
    lock.release();
    throw err;
  }
}
