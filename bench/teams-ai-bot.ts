import restify from 'restify';
import { ActivityTypes, type TurnContext } from 'botbuilder';
import { Application, TeamsAdapter, TurnState } from '@microsoft/teams-ai';

/**
 * A second baseline of the turn benchmarks: an empty teams-ai Application (the framework the
 * helpdesk is built on) on restify in local mode, answering every message with the same echo
 * as the bare botbuilder bot. The gap between the two is teams-ai's own per-turn cost; the gap
 * between this and the helpdesk is the helpdesk's. Prints `LISTENING <port>` when ready.
 */
const adapter = new TeamsAdapter({});
const app = new Application<TurnState>({ adapter, startTypingTimer: false, removeRecipientMention: true, longRunningMessages: false });
app.activity(ActivityTypes.Message, async (context: TurnContext) => {
  await context.sendActivity(`echo: ${context.activity.text ?? ''}`);
});
const server = restify.createServer({ handleUncaughtExceptions: false });
server.use(restify.plugins.bodyParser({ mapParams: false }));
server.post('/api/messages', async (req, res) => {
  await adapter.process(req, res, (context) => app.run(context).then(() => undefined));
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`LISTENING ${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
