import restify from 'restify';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type TurnContext } from 'botbuilder';

/**
 * The baseline of the turn benchmarks: a bare botbuilder echo bot on restify, in local mode
 * (no authentication), the framework's own floor. Prints `LISTENING <port>` when ready.
 */
const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
const server = restify.createServer({ handleUncaughtExceptions: false });
server.use(restify.plugins.bodyParser({ mapParams: false }));
server.post('/api/messages', async (req, res) => {
  await adapter.process(req, res, async (context: TurnContext) => {
    if (context.activity.type === 'message') await context.sendActivity(`echo: ${context.activity.text ?? ''}`);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`LISTENING ${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
