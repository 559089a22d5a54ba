import { startBot } from '../bot/main';

/**
 * The helpdesk bot in local mode for the turn benchmarks and the soak, on a free port with
 * the database files named by the environment. Prints `LISTENING <port>` when ready. On
 * SIGUSR2 it prints `MEMORY <json>`: resident and heap memory, after a full garbage
 * collection when started with `--expose-gc`.
 */
startBot({ ...process.env, PORT: '0', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', PLAYGROUND: 'false' }).then(
  (bot) => {
    process.stdout.write(`LISTENING ${bot.port}\n`);
    process.on('SIGUSR2', () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const m = process.memoryUsage();
      process.stdout.write(`MEMORY ${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, gc: Boolean(gc) })}\n`);
    });
    process.on('SIGTERM', () => bot.close().then(() => process.exit(0)));
  },
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
