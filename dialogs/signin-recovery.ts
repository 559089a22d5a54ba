import { ActivityTypes, StatusCodes, TurnContext, type InvokeResponse } from 'botbuilder';
import type { TurnState } from '@microsoft/teams-ai';
import type { UserTokenClient } from 'botframework-connector';
import type { AdaptiveCardJson } from '../adaptive-cards/render';
import { renderSigninNotice, type CardAction } from '../adaptive-cards/signin';
import type { BotDeps, HelpdeskApp } from '../bot/deps';
import type { IntentRegistry, Understood } from '../bot/intents';
import type { MenuRegistry } from '../bot/menu';
import type { PersonEntity } from '../bot/nlu/types';
import { turnInfo } from '../bot/turn-info';
import { isGuid, usersByUpnOrMail, type DirectoryUser } from '../directory/directory';
import { RECOVERY_FLOWS, type RecoveryFlow } from '../store/recovery';
import { startAccessRequest } from './access-requests';
import { sendCard } from './reply';
import { messageWith, type Deliver, type RecoveryService } from './signin/recovery-service';
import { sendStepUpCard } from './signin/step-up-card';

/**
 * Sign-in recovery in chat: typed phrases ("reset my password", "recover my MFA", "unlock my
 * account", "why can't I sign in to the CRM", "my report Adele can't sign in"), the welcome
 * card's "Can't sign in?" button, the recognizer's intents, and the buttons of every card.
 * Anything about the user's own account happens only in their 1:1 chat; a manager or
 * technician may confirm someone's identity from their chat or the technicians' channel.
 */

// Every pattern here is linear in the message: one run of spaces and end marks (`[\s.!?]*$`)
// instead of `\s*[.!?]*\s*$`, whose two `\s*` split a long run of spaces in every way, and
// a name that starts and ends on a letter of at most 200 characters instead of a lazy `.+?`
// followed by `\s+`, which tried every end of "my report x" plus 27,000 spaces (seconds).
const PASSWORD_TEXT = /^\s*(?:please\s+)?(?:(?:reset|recover)\s+my\s+(?:password|pw|pwd)|password\s+reset|reset\s+password|(?:i\s+)?forgot\s+my\s+password)(?:\s+please)?[\s.!?]*$/i;
const MFA_TEXT = /^\s*(?:please\s+)?(?:recover|reset)\s+my\s+(?:mfa|2fa|authenticator|multi-?factor(?:\s+authentication)?|sign-?in\s+methods?)(?:\s+please)?[\s.!?]*$/i;
const UNLOCK_TEXT = /^\s*(?:please\s+)?unlock\s+my\s+account(?:\s+please)?[\s.!?]*$/i;
// The lookahead keeps the lazy group from backtracking over a long message (seconds per message).
const WHY_TEXT = /^(?=[\s\S]{0,300}$)\s*why\s+(?:can(?:'|’)?t|cannot|can\s+not)\s+i\s+(?:sign|log)\s*(?:in|on)(?:\s+(?:to|into)\s+(?:the\s+)?(.+?))?[\s?.!]*$/i;
const REPORT_TEXT =
  /^\s*(?:(?:my|our)\s+)?(?:direct\s+report|report|colleague|co-?worker|team\s*mate|team\s+member|employee)\s+(\S(?:.{0,198}?\S)?)\s+(?:can(?:'|’)?t|cannot|can\s+not|is\s+unable\s+to|is\s+not\s+able\s+to)\s+(?:sign|log)\s*(?:in|on)\b.*$/i;
/** "my colleague can't sign in", with no name: ask who. */
const SOMEONE_TEXT =
  /^\s*(?:my|our|a)\s+(?:direct\s+report|report|colleague|co-?worker|team\s*mate|team\s+member|employee)\s+(?:can(?:'|’)?t|cannot|can\s+not|is\s+unable\s+to|is\s+not\s+able\s+to)\s+(?:sign|log)\s*(?:in|on)\b.*$/i;
/** "verify my MFA": a step-up sign-in that proves a fresh MFA for approvals (a technician's four eyes). */
const VERIFY_MFA_TEXT = /^\s*(?:verify|prove)\s+my\s+mfa[\s.!]*$/i;
/** The patterns of this capability's message routes, for the test that runs them over adversarial text. */
export const SIGNIN_ROUTE_PATTERNS: readonly RegExp[] = [PASSWORD_TEXT, MFA_TEXT, UNLOCK_TEXT, WHY_TEXT, REPORT_TEXT, SOMEONE_TEXT, VERIFY_MFA_TEXT];
/** Names this long or longer are not names. */
const MAX_NAME = 80;

export interface SigninRecoveryOptions {
  /** The bot's OAuth connection for step-up sign-in (production), or null. */
  stepUpConnection: string | null;
  /** A step-up sign-in that no recovery waits for: offered to approvals waiting for the approver's fresh MFA. */
  signInForApproval?: (context: TurnContext, user: DirectoryUser, token: string) => Promise<AdaptiveCardJson | null>;
}

/** Registers the routes, card verbs, menu items and intent handlers of sign-in recovery. */
export function registerSigninRecovery(app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry, intents: IntentRegistry, service: RecoveryService, options: SigninRecoveryOptions): void {
  const flow = new SigninChat(deps, service, options);

  menu.add({
    key: 'signin-help',
    audience: 'everyone',
    say: "can't sign in",
    description: 'Reset your password, recover your MFA after losing your phone, unlock your account, or find out why signing in fails.',
    button: "Can't sign in?",
    run: (context) => flow.sendMenu(context),
  });
  menu.add({ key: 'reset-password', audience: 'everyone', say: 'reset my password', description: 'A temporary password, once you have proved it is you.', run: (c) => flow.start(c, 'password') });
  menu.add({ key: 'recover-mfa', audience: 'everyone', say: 'recover my MFA', description: 'Lost or new phone: your manager or a technician confirms it is you, you get a Temporary Access Pass.', run: (c) => flow.start(c, 'mfa') });
  menu.add({ key: 'unlock-account', audience: 'everyone', say: 'unlock my account', description: 'Unlock an account locked after wrong passwords.', run: (c) => flow.start(c, 'unlock') });
  menu.add({ key: 'why-signin', audience: 'everyone', say: "why can't I sign in [to ‹app›]", description: 'What the directory says about your account, with the next step.', run: (c) => flow.diagnose(c, null) });
  menu.add({
    key: 'report-signin',
    audience: 'manager',
    say: "my report ‹name› can't sign in",
    description: 'Someone who cannot reach Teams: the identity technicians get a ticket. Nothing is reset on your word.',
    run: (c) => flow.sendReportForm(c),
  });

  app.message(PASSWORD_TEXT, (c) => flow.start(c, 'password'));
  app.message(MFA_TEXT, (c) => flow.start(c, 'mfa'));
  app.message(UNLOCK_TEXT, (c) => flow.start(c, 'unlock'));
  app.message(WHY_TEXT, (c) => flow.diagnose(c, WHY_TEXT.exec(c.activity.text ?? '')?.[1]?.trim() || null));
  app.message(SOMEONE_TEXT, (c) => flow.sendReportForm(c));
  app.message(REPORT_TEXT, (c) => flow.reportByName(c, { kind: 'name', text: REPORT_TEXT.exec(c.activity.text ?? '')![1]!, name: REPORT_TEXT.exec(c.activity.text ?? '')![1]! }));

  const fromIntent = (f: RecoveryFlow) => async (context: TurnContext, _state: TurnState, understood: Understood) => {
    const other = await flow.otherPerson(context, understood.entities.people);
    if (other) return flow.reportByName(context, other);
    return flow.start(context, f);
  };
  intents.handle('password.reset', fromIntent('password'));
  intents.handle('mfa.reset', fromIntent('mfa'));
  intents.handle('account.unlock', fromIntent('unlock'));
  intents.handle('signin.help', async (context, _state, understood) => {
    const other = await flow.otherPerson(context, understood.entities.people);
    if (other) return flow.reportByName(context, other);
    return flow.diagnose(context, understood.entities.resources[0]?.name ?? null);
  });

  const personal = (verb: string, handler: (context: TurnContext, state: TurnState, data: Record<string, unknown>) => Promise<AdaptiveCardJson>) =>
    app.adaptiveCards.actionExecute<Record<string, unknown>>(verb, async (context, state, data) => {
      if (turnInfo(context).conversationKind !== 'personal') return personalOnly();
      return handler(context, state, data && typeof data === 'object' ? data : {});
    });
  personal('signin.start', async (c, _s, d) => flow.startFromCard(c, d.flow));
  personal('signin.code', async (c, _s, d) => service.submitCode(turnInfo(c).user, d.session, d.code, flow.deliver(c)));
  personal('signin.ask', async (c, _s, d) => service.ask(turnInfo(c).user, d.session, d.method, d.lost));
  personal('signin.cancel', async (c, _s, d) => service.cancel(turnInfo(c).user, d.session));
  personal('signin.complete', async (c, _s, d) => service.complete(turnInfo(c).user, d.session, flow.deliver(c)));
  personal('signin.hide', async (c, _s, d) => service.hide(turnInfo(c).user, d.session, c.activity.replyToId));
  personal('signin.step-up', async (c, _s, d) => flow.stepUp(c, d.session));
  personal('signin.diagnose', async (c) => flow.diagnoseCard(c, null));
  personal('signin.technician', async (c) => service.askTechnician(turnInfo(c).user, turnInfo(c).correlationId));
  personal('signin.report', async (c, _s, d) => flow.reportFromCard(c, d));
  personal('signin.request-access', async (c, s, d) => {
    await startAccessRequest(c, s, typeof d.resource === 'string' ? { resource: d.resource.slice(0, 80) } : {});
    return renderSigninNotice({ title: 'Request access', text: 'See the next message to ask for it.' });
  });
  // A manager confirms from their 1:1 chat, a technician from the technicians' channel (or
  // their chat). The answer names the user and what they asked for: anywhere else it would
  // show to the people there, so it is refused (and audited) with a card that names nobody.
  const technicianChannels = deps.config.technicians.channelIds;
  for (const [verb, decision] of [
    ['signin.confirm', 'confirm'],
    ['signin.decline', 'decline'],
  ] as const) {
    app.adaptiveCards.actionExecute<Record<string, unknown>>(verb, async (context, _state, data) => {
      const info = turnInfo(context);
      const d = data && typeof data === 'object' ? data : {};
      const channelData = (context.activity.channelData ?? {}) as { channel?: { id?: string }; teamsChannelId?: string };
      const channelId = channelData.channel?.id ?? channelData.teamsChannelId ?? '';
      const techniciansChannel = info.conversationKind === 'channel' && d.method === 'technician' && (!technicianChannels || technicianChannels.includes(channelId));
      if (info.conversationKind !== 'personal' && !techniciansChannel) return service.refuseElsewhere(info.user, d.session, d.method, decision, info.conversationKind, info.correlationId);
      return service.decide(info.user, info.roles.technician, d.session, d.method, decision, info.correlationId);
    });
  }

  // Step-up sign-in: the token service hands the sign-in back with this invoke.
  if (options.stepUpConnection) {
    const connection = options.stepUpConnection;
    app.message(VERIFY_MFA_TEXT, async (context) => {
      if (turnInfo(context).conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
      await sendStepUpCard(context, connection, 'Sign in with your work account and MFA: it proves your MFA for approvals for the next few minutes.');
    });
    app.addRoute(
      async (context) => context.activity.type === ActivityTypes.Invoke && context.activity.name === 'signin/verifyState',
      async (context) => flow.verifyState(context),
      true,
    );
    // Teams single sign-on hands over a token of the Teams session without a new sign-in, which
    // proves no fresh MFA: declined (412), so Teams shows the card's sign-in button instead.
    app.addRoute(
      async (context) => context.activity.type === ActivityTypes.Invoke && context.activity.name === 'signin/tokenExchange',
      async (context) => flow.declineTokenExchange(context),
      true,
    );
  }
}

function personalOnly(): AdaptiveCardJson {
  return renderSigninNotice({ title: 'Only in a 1:1 chat', text: 'Anything about your sign-in is done in your 1:1 chat with me, never here.', tone: 'warning' });
}

class SigninChat {
  constructor(
    private readonly deps: BotDeps,
    private readonly service: RecoveryService,
    private readonly options: SigninRecoveryOptions,
  ) {}

  /** Sends a card into the acting user's own 1:1 chat, the only place a secret may go. */
  deliver(context: TurnContext): Deliver {
    return async (card) => {
      if (turnInfo(context).conversationKind !== 'personal') throw new Error('a secret goes only to the 1:1 chat of its owner');
      const res = await context.sendActivity(messageWith(card));
      if (!res?.id) throw new Error('the connector returned no message id');
      return { activityId: res.id, reference: TurnContext.getConversationReference(context.activity) };
    };
  }

  async sendMenu(context: TurnContext): Promise<void> {
    const actions: CardAction[] = [
      { id: 'signin-start-password', title: 'Reset my password', verb: 'signin.start', data: { flow: 'password' } },
      { id: 'signin-start-mfa', title: 'Recover my MFA', verb: 'signin.start', data: { flow: 'mfa' } },
      { id: 'signin-start-unlock', title: 'Unlock my account', verb: 'signin.start', data: { flow: 'unlock' } },
      { id: 'signin-diagnose', title: "Why can't I sign in?", verb: 'signin.diagnose', data: {} },
    ];
    await sendCard(
      context,
      renderSigninNotice({
        title: 'Trouble signing in?',
        text: 'Pick what fits. Before anything changes I make sure it is you: with your authenticator app, or your manager or an identity technician confirming it.',
        steps: [
          '- Forgot your password: a temporary one, shown only here.',
          '- Lost or new phone: a Temporary Access Pass to register your new one.',
          '- Locked after wrong passwords: unlock.',
          '- Not sure: I check your account in the directory.',
        ],
        actions,
      }),
    );
  }

  async start(context: TurnContext, flow: RecoveryFlow): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const reply = await this.service.start(info.user, flow, info.correlationId);
    const id = await sendCard(context, reply.card);
    if (reply.sessionId && id) this.service.rememberCard(reply.sessionId, info.user.id, id, TurnContext.getConversationReference(context.activity));
  }

  async startFromCard(context: TurnContext, flow: unknown): Promise<AdaptiveCardJson> {
    if (!RECOVERY_FLOWS.includes(flow as RecoveryFlow)) return renderSigninNotice({ title: 'This card is no longer active', text: 'Type help to start again.', tone: 'warning' });
    await this.start(context, flow as RecoveryFlow);
    return renderSigninNotice({ title: 'Started', text: 'See the next message.' });
  }

  async diagnose(context: TurnContext, app: string | null): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    await sendCard(context, await this.service.diagnose(info.user, app ? app.slice(0, MAX_NAME) : null, info.correlationId));
  }

  async diagnoseCard(context: TurnContext, app: string | null): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    return this.service.diagnose(info.user, app, info.correlationId);
  }

  async sendReportForm(context: TurnContext): Promise<void> {
    await sendCard(context, this.reportForm());
  }

  private reportForm(error?: string): AdaptiveCardJson {
    return renderSigninNotice({
      title: 'Someone cannot sign in',
      text: `${error ? `${error}\n\n` : ''}Who is it? I send the identity technicians a ticket with what the directory says about their account; they contact the person and verify them. Nothing is reset on your word.`,
      tone: error ? 'warning' : 'default',
      input: { id: 'who', label: 'Name or sign-in name', placeholder: 'e.g. Adele Vance or adele.vance@northwind.example' },
      actions: [{ id: 'signin-report-send', title: 'Tell the technicians', verb: 'signin.report', data: {}, style: 'positive' }],
    });
  }

  /** Someone other than the acting user named in the message ("my report Adele ..."), or null. */
  async otherPerson(context: TurnContext, people: readonly PersonEntity[]): Promise<PersonEntity | null> {
    const { user } = turnInfo(context);
    for (const p of people) {
      if (p.kind === 'upn' && p.upn.toLowerCase() === user.userPrincipalName.toLowerCase()) continue;
      if (p.kind === 'name' && [user.displayName, user.givenName].some((n) => n && n.toLowerCase() === p.name.toLowerCase())) continue;
      return p;
    }
    return null;
  }

  /** "my report Adele can't sign in": finds Adele (the reporter's reports first) and tells the technicians. */
  async reportByName(context: TurnContext, person: PersonEntity): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const found = await this.resolve(info.user, person);
    if (found.kind === 'one') {
      if (found.user.id === info.user.id) return this.diagnose(context, null);
      await sendCard(context, await this.service.report(info.user, found.user, info.correlationId));
    } else if (found.kind === 'many') {
      await sendCard(context, this.pickCard(found.users));
    } else {
      await sendCard(context, this.reportForm(`I could not find "${found.text}" in the company directory.`));
    }
  }

  async reportFromCard(context: TurnContext, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    if (isGuid(data.subject)) {
      const subject = await this.deps.directory.getUser(data.subject);
      if (!subject) return this.reportForm('That person is not in the directory any more.');
      if (subject.id === info.user.id) return this.service.diagnose(info.user, null, info.correlationId);
      return this.service.report(info.user, subject, info.correlationId);
    }
    const who = typeof data.who === 'string' ? data.who.trim().slice(0, MAX_NAME) : '';
    if (!who) return this.reportForm('Type a name or a sign-in name.');
    const found = await this.resolve(info.user, who.includes('@') ? { kind: 'upn', text: who, upn: who.toLowerCase() } : { kind: 'name', text: who, name: who });
    if (found.kind === 'one') {
      if (found.user.id === info.user.id) return this.service.diagnose(info.user, null, info.correlationId);
      return this.service.report(info.user, found.user, info.correlationId);
    }
    if (found.kind === 'many') return this.pickCard(found.users);
    return this.reportForm(`I could not find "${found.text}" in the company directory.`);
  }

  private pickCard(users: DirectoryUser[]): AdaptiveCardJson {
    return renderSigninNotice({
      title: 'Who do you mean?',
      text: 'Several people match. Pick the one who cannot sign in; the identity technicians get a ticket about them.',
      actions: users.slice(0, 5).map((u, i) => ({
        id: `signin-report-pick-${i}`,
        title: `${u.displayName}${u.department ? `, ${u.department}` : ''}`,
        verb: 'signin.report',
        data: { subject: u.id },
      })),
    });
  }

  private async resolve(reporter: DirectoryUser, person: PersonEntity): Promise<{ kind: 'one'; user: DirectoryUser } | { kind: 'many'; users: DirectoryUser[] } | { kind: 'none'; text: string }> {
    const directory = this.deps.directory;
    if (person.kind === 'manager') {
      const m = await directory.getManager(reporter.id);
      return m ? { kind: 'one', user: m } : { kind: 'none', text: 'your manager' };
    }
    if (person.kind === 'upn') {
      const found = await usersByUpnOrMail(directory, person.upn);
      if (found.length > 1) return { kind: 'many', users: found };
      return found[0] ? { kind: 'one', user: found[0] } : { kind: 'none', text: person.upn.slice(0, MAX_NAME) };
    }
    const name = person.name.trim().slice(0, MAX_NAME);
    const matches = name ? await directory.searchUsers(name, 10) : [];
    if (matches.length === 1) return { kind: 'one', user: matches[0]! };
    if (matches.length === 0) return { kind: 'none', text: name };
    // "my report Adele": among several, the reporter's own reports first.
    const reports = new Set((await directory.getDirectReports(reporter.id)).map((r) => r.id));
    const mine = matches.filter((m) => reports.has(m.id));
    if (mine.length === 1) return { kind: 'one', user: mine[0]! };
    return { kind: 'many', users: mine.length ? mine : matches };
  }

  /** "Sign in again": an OAuth card for the bot's connection (production). */
  async stepUp(context: TurnContext, _session: unknown): Promise<AdaptiveCardJson> {
    const connection = this.options.stepUpConnection;
    if (!connection) return renderSigninNotice({ title: 'Not available', text: 'Signing in again is not set up here. Use another way to verify.', tone: 'warning' });
    await sendStepUpCard(context, connection);
    return renderSigninNotice({ title: 'Sign in again', text: 'Use the sign-in card below. Your recovery goes on as soon as you are signed in.' });
  }

  /** The token service's answer to the OAuth card: the fresh token, checked, counts for the open recovery. */
  async verifyState(context: TurnContext): Promise<void> {
    const connection = this.options.stepUpConnection!;
    const info = turnInfo(context);
    const client = context.turnState.get<UserTokenClient>((context.adapter as unknown as { UserTokenClientKey: symbol }).UserTokenClientKey);
    const magicCode = (context.activity.value as { state?: unknown } | undefined)?.state;
    const respond = async (status: number) => context.sendActivity({ type: 'invokeResponse', value: { status } satisfies InvokeResponse });
    if (info.conversationKind !== 'personal' || typeof magicCode !== 'string') return void (await respond(StatusCodes.BAD_REQUEST));
    const token = await client.getUserToken(context.activity.from.id, connection, context.activity.channelId, magicCode);
    // The token is used once and forgotten: nothing keeps it, and the token store lets it go.
    await client.signOutUser(context.activity.from.id, connection, context.activity.channelId).catch(() => undefined);
    await respond(StatusCodes.OK);
    if (!token?.token) {
      // No token for this code: the sign-in was not finished (or the code is not the one the token service gave).
      await sendCard(context, renderSigninNotice({ title: 'The sign-in did not complete', text: 'I got no sign-in back, so nothing was verified. Click "Sign in again with MFA" on your request to try again.', tone: 'warning' }));
      return;
    }
    const card = (await this.service.submitSignIn(info.user, token.token, this.deliver(context))) ?? (await this.options.signInForApproval?.(context, info.user, token.token)) ?? null;
    await sendCard(context, card ?? renderSigninNotice({ title: 'Nothing to verify', text: 'You have no recovery waiting for a sign-in.', tone: 'warning' }));
  }

  /** Answers Teams' single sign-on attempt with 412: the user must sign in on the card. */
  async declineTokenExchange(context: TurnContext): Promise<void> {
    const value = (context.activity.value ?? {}) as { id?: unknown; connectionName?: unknown };
    const body = {
      id: typeof value.id === 'string' ? value.id.slice(0, 200) : undefined,
      connectionName: this.options.stepUpConnection!,
      failureDetail: 'A new sign-in with MFA is required.',
    };
    await context.sendActivity({ type: 'invokeResponse', value: { status: StatusCodes.PRECONDITION_FAILED, body } satisfies InvokeResponse });
  }
}
