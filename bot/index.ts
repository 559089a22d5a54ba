import { loadDotEnv } from './config';
import { startupFailureText } from './startup-failure';
import { startBot } from './main';

/**
 * Runs the bot alone (no playground): `npm run serve`, or the process a host runs in
 * production. SIGTERM and SIGINT stop it gracefully.
 */
async function run(): Promise<void> {
  loadDotEnv();
  const bot = await startBot();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    bot.logger.info({ signal }, 'stopping');
    bot.close().then(
      () => process.exit(0),
      (err) => {
        bot.logger.error({ err: { message: (err as Error).message } }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

run().catch((err) => {
  process.stderr.write(`${startupFailureText(err)}\n`);
  process.exit(1);
});
