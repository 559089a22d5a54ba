import { startBot } from '../bot/main';

/**
 * The helpdesk bot in local mode for the turn benchmarks, on a free port with the database
 * files named by the environment. Prints `LISTENING <port>` when ready.
 */
startBot({ ...process.env, PORT: '0', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', PLAYGROUND: 'false' }).then(
  (bot) => {
    process.stdout.write(`LISTENING ${bot.port}\n`);
    process.on('SIGTERM', () => bot.close().then(() => process.exit(0)));
  },
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
