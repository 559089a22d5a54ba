import { ActivityTypes, TurnContext } from 'botbuilder';
import type { BotDeps, HelpdeskApp } from '../../bot/deps';
import type { MenuRegistry } from '../../bot/menu';
import { turnInfo } from '../../bot/turn-info';
import { sendCard } from '../reply';
import type { Directory } from '../../directory/directory';
import { COMMAND_NAMES, suggestCommand } from './grammar';
import { writtenAsCommand } from './command-form';
import type { Caller, Reply, TechnicianCommands } from './commands';
import { DRIFT_VERBS } from '../drift/service';

/** Card verbs of technician commands and tickets. */
export const TECHNICIAN_VERBS = ['tech.pick', 'tech.more', 'tech.confirm', 'tech.approve', 'tech.cancel', 'tech.rerun', 'tech.secret-hide', 'ticket.take', 'ticket.assign', 'ticket.close'] as const;

/** The turn as a command caller: who (roles from the directory, this turn), where. */
export function callerOf(context: TurnContext): Caller {
  const info = turnInfo(context);
  const channelData = (context.activity.channelData ?? {}) as { channel?: { id?: string }; teamsChannelId?: string };
  return {
    user: info.user,
    technician: info.roles.technician,
    where: info.conversationKind,
    channelId: channelData.channel?.id ?? channelData.teamsChannelId ?? null,
    correlationId: info.correlationId,
  };
}

/**
 * Whether a message is a technician command. In a channel, any line starting with a command
 * word is (a non-technician gets the refusal), and a technician's near miss gets "did you
 * mean". Elsewhere a technician's command words are commands; for everyone else a line is
 * one when it is written as a command ({@link writtenAsCommand}: `review start …`, `drift`,
 * `unlock emily.chen@…`), so "mfa is broken" and "unlock my account" still reach their flows.
 */
export async function isTechnicianCommand(context: TurnContext, now: Date, directory: Directory): Promise<boolean> {
  const a = context.activity;
  if (a.type !== ActivityTypes.Message) return false;
  const text = (a.text ?? '').trim();
  if (!text) return false;
  const words = text.split(/\s+/, 3);
  const word = words[0]!.toLowerCase();
  const info = turnInfo(context);
  const inChannel = info.conversationKind === 'channel';
  if (!(COMMAND_NAMES as readonly string[]).includes(word)) return inChannel && info.roles.technician && suggestCommand(word) !== null;
  if (inChannel || info.roles.technician) return true;
  return writtenAsCommand(text, directory, now);
}

/**
 * The technicians' command line and the buttons of its cards. Registered after the exact
 * phrases of the other capabilities ("unlock my account" stays self-service) and before the
 * recognizer, which must not read a command as a request.
 */
export function registerTechnicianCommands(app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry, commands: TechnicianCommands): void {
  const runLine = (line: string) => async (context: TurnContext) => send(context, commands, await commands.handle(line, callerOf(context)));
  menu.add({ key: 'tech-commands', audience: 'technician', say: 'help ‹command›', description: 'Usage and examples of a technician command; the full list is on the button.', button: 'Technician commands', run: runLine('help') });
  menu.add({ key: 'tech-whois', audience: 'technician', say: 'whois ‹user›', description: 'Profile, account state, MFA method types, groups, requests, recent audit events.', run: runLine('help whois') });
  menu.add({ key: 'tech-offboard', audience: 'technician', say: 'offboard ‹user› --reason ‹why›', description: 'The leaver checklist as a plan card, applied on confirmation.', run: runLine('help offboard') });
  menu.add({ key: 'tech-pending', audience: 'technician', say: 'pending', description: 'The open ticket queue (take, assign, close).', button: 'Ticket queue', run: runLine('pending') });
  menu.add({ key: 'tech-report', audience: 'technician', say: 'report [--days N]', description: 'Volumes, decision and fulfilment times, SLA, resets, top resources, queue by age.', button: 'Report', run: runLine('report') });

  app.message(
    async (context) => isTechnicianCommand(context, deps.clock(), deps.directory),
    async (context) => {
      const replies = await commands.handle(context.activity.text ?? '', callerOf(context));
      await send(context, commands, replies);
    },
  );

  for (const verb of [...TECHNICIAN_VERBS, ...DRIFT_VERBS]) {
    app.adaptiveCards.actionExecute<Record<string, unknown>>(verb, async (context, _state, data) => {
      const values = data && typeof data === 'object' ? data : {};
      const result = await commands.click(verb, values, callerOf(context), values);
      if (result.replies?.length) await send(context, commands, result.replies);
      return result.card;
    });
  }
}

/** Sends replies in the turn's conversation; a plan card's message is remembered for its progress. */
async function send(context: TurnContext, commands: TechnicianCommands, replies: Reply[]): Promise<void> {
  for (const r of replies) {
    if (r.kind === 'text') {
      await context.sendActivity({ type: ActivityTypes.Message, text: r.text, textFormat: 'markdown' });
      continue;
    }
    const id = await sendCard(context, r.card);
    if (r.planId && id) commands.rememberPlanCard(r.planId, id, TurnContext.getConversationReference(context.activity));
    if (r.remember && id) r.remember(id, TurnContext.getConversationReference(context.activity));
  }
}
