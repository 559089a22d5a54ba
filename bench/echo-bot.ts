import fs from 'node:fs';
import restify from 'restify';
import { CardFactory, CloudAdapter, ConfigurationBotFrameworkAuthentication, MessageFactory, type TurnContext } from 'botbuilder';

/**
 * The baseline of the turn benchmarks: a bare botbuilder echo bot on restify, in local mode
 * (no authentication), the framework's own floor. With `ECHO_CARD_FILE` it answers every
 * message with that Adaptive Card instead of a line of text: the same floor carrying the
 * helpdesk's reply. Prints `LISTENING <port>` when ready.
 */
const card = process.env.ECHO_CARD_FILE ? (JSON.parse(fs.readFileSync(process.env.ECHO_CARD_FILE, 'utf8')) as Record<string, unknown>) : null;
const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
const server = restify.createServer({ handleUncaughtExceptions: false });
server.use(restify.plugins.bodyParser({ mapParams: false }));
server.post('/api/messages', async (req, res) => {
  await adapter.process(req, res, async (context: TurnContext) => {
    if (context.activity.type !== 'message') return;
    await context.sendActivity(card ? MessageFactory.attachment(CardFactory.adaptiveCard(card)) : `echo: ${context.activity.text ?? ''}`);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`LISTENING ${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
