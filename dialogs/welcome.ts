import { ActivityTypes, type TurnContext } from 'botbuilder';
import type { TurnState } from '@microsoft/teams-ai';
import { renderNoticeCard } from '../adaptive-cards/notice';
import { renderWelcomeCard, type WelcomeSection } from '../adaptive-cards/welcome';
import type { AdaptiveCardJson } from '../adaptive-cards/render';
import { APP_NAME, botWasAdded, type BotDeps, type HelpdeskApp } from '../bot/deps';
import { MenuRegistry, type MenuAudience } from '../bot/menu';
import { describeRoles } from '../bot/roles';
import { auditActor, turnInfo } from '../bot/turn-info';
import { sendCard } from './reply';

/** Typed text that asks for the menu. */
// One run of spaces and marks at the end: `\s*[.!]*\s*$` was quadratic over a long run of spaces.
export const HELP_TEXT = /^\s*(help|\?|menu|commands|what can you do\??|start|hi|hello|hey)[\s.!]*$/i;
export const WHOAMI_TEXT = /^\s*(who\s*am\s*i|whoami|my profile)[\s?.!]*$/i;

/** Install events arrive in pairs (installationUpdate and conversationUpdate): welcome once. */
const WELCOME_REPEAT_MS = 60_000;

const SECTION_TITLES: Record<MenuAudience, string> = {
  everyone: 'For you',
  manager: 'For managers',
  technician: 'For identity technicians',
};

/**
 * The welcome and help card (what *this* user can do, from their roles in the directory),
 * "who am I", and the card buttons that run a menu item.
 */
export function registerWelcome(app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry): void {
  menu.add({
    key: 'help',
    audience: 'everyone',
    say: 'help',
    description: 'Show this card again.',
    run: async (context) => {
      await sendCard(context, welcomeCardFor(context, menu));
    },
  });
  menu.add({
    key: 'whoami',
    audience: 'everyone',
    say: 'who am I',
    description: 'Your account as the helpdesk sees it: department, manager, roles.',
    button: 'Who am I?',
    run: (context) => sendWhoAmI(context, deps),
  });

  app.conversationUpdate('membersAdded', async (context, state) => {
    if (botWasAdded(context.activity)) await welcomeOnce(context, state, menu, deps);
  });
  app.activity(ActivityTypes.InstallationUpdate, async (context, state) => {
    const action = (context.activity as { action?: string }).action ?? 'add';
    if (action.startsWith('add')) await welcomeOnce(context, state, menu, deps);
  });

  app.message(HELP_TEXT, async (context, state) => menu.get('help')!.run(context, state));
  app.message(WHOAMI_TEXT, async (context, state) => menu.get('whoami')!.run(context, state));

  app.adaptiveCards.actionExecute<{ item?: unknown }>('menu.run', async (context, state, data) => {
    const info = turnInfo(context);
    const item = typeof data?.item === 'string' ? menu.get(data.item) : undefined;
    // The button's data names an item; whether this person may use it is decided here.
    if (!item || !MenuRegistry.allows(item, info.roles)) {
      deps.store.audit.append({
        actor: auditActor(context),
        action: 'helpdesk.menu-refused',
        target: null,
        outcome: 'refused',
        correlationId: info.correlationId,
        details: { item: typeof data?.item === 'string' ? data.item.slice(0, 64) : null },
      });
      return renderNoticeCard({ title: 'Not available', text: 'That option is not available to you. Type help to see what you can do.', tone: 'attention' });
    }
    await item.run(context, state);
    return welcomeCardFor(context, menu);
  });
}

/** The answer to text nothing understood (also used by the understanding dialog for `none`). */
export const NOT_UNDERSTOOD_TEXT = 'Sorry, I did not understand that. Type **help** to see what I can do for you.';

/** Registered last: any text no capability claimed, and any card verb nobody serves. */
export function registerFallback(app: HelpdeskApp, _deps: BotDeps, _menu: MenuRegistry): void {
  app.activity(ActivityTypes.Message, async (context) => {
    const text = (context.activity.text ?? '').trim();
    // The text is not echoed back: in a channel, echoed markdown would be the bot's voice.
    const reply = text
      ? NOT_UNDERSTOOD_TEXT
      : 'I can only read text messages. Type **help** to see what I can do for you.';
    await context.sendActivity(reply);
  });
  app.adaptiveCards.actionExecute(/.*/, async () =>
    renderNoticeCard({ title: 'This card is no longer active', text: 'Type help to start again.', tone: 'warning' }),
  );
}

/** The welcome card for the turn's acting user. */
export function welcomeCardFor(context: TurnContext, menu: MenuRegistry): AdaptiveCardJson {
  const { user, roles, conversationKind } = turnInfo(context);
  const audiences: MenuAudience[] = ['everyone'];
  if (roles.manager) audiences.push('manager');
  if (roles.technician) audiences.push('technician');
  const sections: WelcomeSection[] = audiences.map((a) => ({
    key: a,
    title: SECTION_TITLES[a],
    items: menu.forAudience(a).map((i) => ({
      key: i.key,
      say: i.say,
      description: i.description,
      button: i.button,
    })),
  }));
  return renderWelcomeCard({
    appName: APP_NAME,
    givenName: user.givenName,
    displayName: user.displayName,
    userPrincipalName: user.userPrincipalName,
    roleSummary: describeRoles(roles),
    sections,
    inChannel: conversationKind === 'channel',
  });
}

/** Recent welcomes by conversation, claimed synchronously: the paired install events race. */
const recentWelcomes = new Map<string, number>();

async function welcomeOnce(context: TurnContext, state: TurnState, menu: MenuRegistry, deps: BotDeps): Promise<void> {
  const conversationId = context.activity.conversation?.id ?? '';
  const conversation = state.conversation as Record<string, unknown>;
  const now = deps.clock().getTime();
  const stored = typeof conversation.welcomeShownAt === 'number' ? conversation.welcomeShownAt : 0;
  const last = Math.max(stored, recentWelcomes.get(conversationId) ?? 0);
  if (now - last < WELCOME_REPEAT_MS && now >= last) return;
  // Check and claim with no await in between, so the second of a pair sees the first's claim;
  // the conversation state keeps the claim across restarts.
  recentWelcomes.set(conversationId, now);
  if (recentWelcomes.size > 10_000) {
    for (const [id, at] of recentWelcomes) if (now - at >= WELCOME_REPEAT_MS) recentWelcomes.delete(id);
  }
  conversation.welcomeShownAt = now;
  await sendCard(context, welcomeCardFor(context, menu));
}

async function sendWhoAmI(context: TurnContext, deps: BotDeps): Promise<void> {
  const { user, roles } = turnInfo(context);
  const manager = await deps.directory.getManager(user.id);
  await sendCard(
    context,
    renderNoticeCard({
      title: user.displayName,
      text: 'This is what the company directory says about your account.',
      facts: [
        { title: 'Sign-in name', value: user.userPrincipalName },
        { title: 'Department', value: user.department ?? 'not set' },
        { title: 'Job title', value: user.jobTitle ?? 'not set' },
        { title: 'Manager', value: manager ? `${manager.displayName} (${manager.userPrincipalName})` : 'none' },
        { title: 'Account', value: user.onPremisesSyncEnabled ? 'enabled, synchronised from on-premises Active Directory' : 'enabled, cloud account' },
        { title: 'Roles', value: describeRoles(roles) },
      ],
    }),
  );
}
