import path from 'node:path';
import pino from 'pino';
import { loadDemoTenant } from '../directory/demo-tenant';
import { loadDotEnv } from './config';
import { startupFailureText } from './startup-failure';
import { startBot } from './main';
import { startPlaygrounds } from './playground';

/**
 * `npm start`: the bot, and in local mode one Microsoft 365 Agents Playground per demo
 * persona (employee, manager, technician) pointed at it. Ctrl-C stops everything.
 */
async function run(): Promise<void> {
  loadDotEnv();
  // The console is for the person at the keyboard: structured logs go to a file beside the
  // database (LOG_FILE=- keeps them on standard output).
  const logFile = process.env.LOG_FILE === '-' ? null : path.resolve(process.env.LOG_FILE || path.join(path.dirname(process.env.DATABASE_PATH || './data/helpdesk.db'), 'helpdesk.log'));
  const bot = await startBot(process.env, logFile ? { logDestination: pino.destination({ dest: logFile, mkdir: true, sync: true }) } : {});
  const { config } = bot;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Northwind IAM Helpdesk ${config.mode} mode: bot at ${bot.url}/api/messages (health: ${bot.url}/healthz)`);
  out(`Database: ${config.databasePath}`);
  if (logFile) out(`Logs: ${logFile}`);
  const dir = config.directory;
  if (dir.kind === 'local') out(`Demo directory: ${dir.path} (npm run demo:reset restores it)`);
  else if (dir.kind === 'graph') out(`Directory: Microsoft Entra ID through ${dir.baseUrl} (npm run doctor checks the app's permissions)`);
  else {
    const ad = dir.kind === 'ad' ? dir : dir.ad;
    const cloud = dir.kind === 'hybrid' ? (dir.cloud.kind === 'local' ? `demo directory ${dir.cloud.path} with ` : `Microsoft Entra ID through ${dir.cloud.baseUrl} with `) : '';
    out(`Directory: ${cloud}Active Directory at ${ad.urls.join(', ')} (npm run doctor checks the service account)`);
  }
  if (config.hrFeed.dir) out(`HR drop folder: ${config.hrFeed.dir} (CSV files from HR; see docs/hr-feed.md)`);
  if (config.hrFeed.webhookSecret) out(`HR webhook: ${bot.url}/api/hr-feed`);
  if (config.auditAnchors.file) {
    const m = config.auditAnchors.mirror;
    // A mirror URL is shown without its query: the SAS signature lives there.
    const mirror = m ? `, mirrored to ${m.kind === 'folder' ? m.file : `${new URL(m.url).origin}${new URL(m.url).pathname}`}` : '';
    out(`Audit anchors: ${config.auditAnchors.file}${mirror} (every ${config.auditAnchors.intervalHours} h)`);
  }

  let stopPlaygrounds: (() => Promise<void>) | null = null;
  if (config.mode === 'local' && config.playground.enabled) {
    try {
      const pg = await startPlaygrounds({
        tenant: loadDemoTenant(),
        botEndpoint: `${bot.url}/api/messages`,
        botId: 'helpdesk-bot',
        dataDir: path.dirname(config.databasePath),
        basePort: config.playground.basePort,
        log: (line: string) => bot.logger.debug(line),
      });
      stopPlaygrounds = pg.stop;
      for (const p of pg.personas) out(`  ${p.key.padEnd(10)} ${p.name} <${p.upn}>: ${p.url}`);
      out('Open a persona URL in a browser and type "help". Ctrl-C stops everything.');
    } catch (err) {
      out(`The local chat did not start: ${(err as Error).message}`);
      out('The bot keeps running; see docs/demo-tenant.md for the local chats.');
    }
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    out(`Stopping (${signal})...`);
    Promise.allSettled([stopPlaygrounds?.() ?? Promise.resolve(), bot.close()]).then((results) => {
      const failed = results.some((r) => r.status === 'rejected');
      process.exit(failed ? 1 : 0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

run().catch((err) => {
  process.stderr.write(`${startupFailureText(err)}\n`);
  process.exit(1);
});
