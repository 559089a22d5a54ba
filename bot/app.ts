import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { ActivityTypes, CallerIdConstants, CardFactory, MessageFactory, StatusCodes, TurnContext, type Activity, type InvokeResponse } from 'botbuilder';
import { Application, TeamsAdapter, TurnState } from '@microsoft/teams-ai';
import { AuthenticationError, GovernmentConstants, type AuthenticateRequestResult } from 'botframework-connector';
import { isDirectoryUnavailable, isGuest, isGuid } from '../directory/directory';
import { renderNoticeCard } from '../adaptive-cards/notice';
import { botWasAdded, type BotDeps, type HelpdeskApp } from './deps';
import { MenuRegistry } from './menu';
import { resolveRoles } from './roles';
import { setTurnInfo, type TurnInfo } from './turn-info';
import { registerWelcome, registerFallback } from '../dialogs/welcome';
import { registerMyTeam } from '../dialogs/my-team';
import { registerAuditCommands } from '../dialogs/audit-commands';
import { registerUnderstanding } from '../dialogs/understanding';
import { IntentRegistry } from './intents';
import { defaultRecognizer } from './nlu';
import { approvalAfterSignIn, registerAccessRequests } from '../dialogs/access-requests';
import { createAccessCapability } from './access';
import { registerSigninRecovery } from '../dialogs/signin-recovery';
import { createSigninCapability } from './signin';
import { registerTechnicianCommands } from '../dialogs/technician/register';
import { createTechnicianCapability } from './technician';
import { createDriftCapability } from './drift';
import { scheduleAuditAnchors } from './audit-anchors';
import { createReviewCapability } from './reviews';
import { registerReviewActions } from '../dialogs/reviews/register';
import { createHrFeedCapability, type HrFeedCapability } from './hr-feed';
import type { Scheduler } from './scheduler';
import { DisabledAccountNotices } from './disabled-notices';
import { HelpdeskTurnState } from './turn-state';
import { createActivityPin, type PinRefusal } from './activity-pin';
import { CHANNEL_TOKEN_ISSUERS, OncePerMinute, requestSource } from './edge';
import type { Logger } from './logger';
import { admitMessageLength } from './message-length';

/** Activity types the bot acts on; everything else (typing, reactions, events) is ignored. */
const HANDLED = new Set<string>([ActivityTypes.Message, ActivityTypes.Invoke, ActivityTypes.ConversationUpdate, ActivityTypes.InstallationUpdate]);

/**
 * Builds the adapter and the teams-ai Application and registers every capability. The
 * order matters: routes are first-match, so the catch-all fallback is registered last.
 */
export function createBotApp(deps: BotDeps): { app: HelpdeskApp; adapter: TeamsAdapter; scheduler: Scheduler; hrFeed: HrFeedCapability } {
  const adapter = createAdapter(deps);
  const app = new Application<TurnState>({
    adapter,
    botAppId: deps.config.bot.appId,
    storage: deps.store.botStorage,
    // Two turns of one chat at once (a double click) must not fail the second on saving the state.
    turnStateFactory: () => new HelpdeskTurnState(),
    startTypingTimer: false,
    removeRecipientMention: true,
    longRunningMessages: false,
  });

  // The ticket queue is built before any turn can run: the door tells the technicians about disabled accounts.
  const access = createAccessCapability(deps, adapter);
  const disabledNotices = new DisabledAccountNotices({ store: deps.store, technicians: access.tickets, clock: deps.clock, logger: deps.logger.child({ component: 'door' }) });
  app.turn('beforeTurn', (context) => admitTurn(context, deps, disabledNotices));
  // Before any route or recognizer reads the text: an over-long message is answered, not read.
  app.turn('beforeTurn', (context) => admitMessageLength(context, deps.config.maxMessageChars, deps.logger));

  app.error(async (context, error) => {
    const correlationId = (context.turnState.get(CORRELATION) as string | undefined) ?? randomUUID();
    deps.logger.error({ correlationId, err: { name: error.name, message: error.message, stack: error.stack } }, 'turn failed');
    // The directory not answering (down, throttling, no token for it) is not a fault of the bot: say so, and that trying later helps.
    const unreachable = isDirectoryUnavailable(error);
    await replyRefusal(
      context,
      unreachable
        ? `I could not reach the company directory just now, so nothing was changed. Please try again in a few minutes. If it keeps happening, give the IT service desk this reference: ${correlationId}`
        : `Something went wrong on my side and nothing was changed. If it happens again, give the IT service desk this reference: ${correlationId}`,
      unreachable ? 'The directory is not available' : 'Something went wrong',
    ).catch(() => undefined);
  });

  const menu = new MenuRegistry();
  const intents = new IntentRegistry();
  registerWelcome(app, deps, menu);
  registerMyTeam(app, deps, menu);
  registerAuditCommands(app, deps, menu);
  registerAccessRequests(app, deps, menu, intents, access.service);
  const signin = createSigninCapability(deps, access);
  // Approving high-risk access needs the approver's fresh MFA, proven with recovery's verifier.
  access.service.useFreshMfa(signin.freshMfa);
  registerSigninRecovery(app, deps, menu, intents, signin.service, {
    stepUpConnection: signin.stepUpConnection,
    // A step-up sign-in with no recovery waiting for it: a proof of MFA for an approval.
    signInForApproval: (context, user, token) => approvalAfterSignIn(access.service, signin.freshMfa, context, user, token),
  });
  // Technicians' commands: after the exact phrases above ("unlock my account" stays self-service), before the recognizer.
  const technician = createTechnicianCapability(deps, access, signin.service.actions);
  technician.useFreshMfa(signin.freshMfa);
  // Access reviews: the `review` command goes through the technicians' commands; the reviewers'
  // card buttons are routes of their own. Drift and the HR feed start reviews through the service.
  const reviews = createReviewCapability(deps, access, technician);
  registerReviewActions(app, reviews.service, technician, intents);
  // Drift detection: the `drift` command and its tickets' buttons go through the technicians' commands.
  createDriftCapability(deps, access, technician, reviews.service);
  scheduleAuditAnchors(deps, access.scheduler, access.tickets);
  registerTechnicianCommands(app, deps, menu, technician);
  // The HR feed drives the technicians' joiner, mover and leaver plans; its card button is a route, so before the fallback.
  const hrFeed = createHrFeedCapability(deps, app, access, technician, reviews.service);
  // Free text no exact command claimed: recognized, then handed to the flow of its intent.
  // Its resources are the catalog's the bot loaded (trained once per catalog and process).
  registerUnderstanding(app, deps, menu, intents, { recognizer: defaultRecognizer(access.service.catalog.resources) });
  registerFallback(app, deps, menu);
  return { app, adapter, scheduler: access.scheduler, hrFeed };
}

/** Errors of the JWT library the SDK validates tokens with: all of them mean a bad token. */
const TOKEN_ERRORS = new Set(['JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError']);

/**
 * The adapter, in both modes. Authenticates the request (production), then refuses what is
 * not Teams in the pinned tenant (403, before any turn or directory call), then runs the turn.
 * It never throws to `CloudAdapter.process`, which would print the error to the console
 * (errors of the connector's HTTP client carry the request, headers included): a bad token
 * is answered 401, anything else 500, each logged through pino only. The SDK rethrows the
 * JWT library's own errors (bad signature, not valid yet) as they are; they are bad tokens too.
 */
export class HelpdeskAdapter extends TeamsAdapter {
  constructor(
    settings: ConstructorParameters<typeof TeamsAdapter>[0],
    private readonly edge: { pin: (activity: Activity) => PinRefusal | null; logger: Logger; clock: () => Date },
  ) {
    super(settings);
    this.refusalsLogged = new OncePerMinute(edge.clock);
  }

  /** Refused tokens are logged once per caller and reason a minute: a flood must not flood the log. */
  private readonly refusalsLogged: OncePerMinute;

  protected override processActivity(authHeader: string, activity: Activity, logic: (context: TurnContext) => Promise<void>): Promise<InvokeResponse | undefined>;
  protected override processActivity(result: AuthenticateRequestResult, activity: Activity, logic: (context: TurnContext) => Promise<void>): Promise<InvokeResponse | undefined>;
  protected override async processActivity(
    auth: string | AuthenticateRequestResult,
    activity: Activity,
    logic: (context: TurnContext) => Promise<void>,
  ): Promise<InvokeResponse | undefined> {
    let authenticated: AuthenticateRequestResult;
    try {
      authenticated = typeof auth === 'string' ? await this.botFrameworkAuthentication.authenticateRequest(activity, auth) : auth;
    } catch (err) {
      if (err instanceof AuthenticationError || (err instanceof Error && TOKEN_ERRORS.has(err.name))) {
        const reason = (err as Error).message.slice(0, 200);
        const remoteAddress = requestSource.getStore()?.remoteAddress ?? null;
        if (this.refusalsLogged.first(`${remoteAddress}|${reason.slice(0, 60)}`)) {
          this.edge.logger.warn({ reason, remoteAddress }, 'activity refused: token not accepted (logged once a minute per source)');
        }
        return { status: StatusCodes.UNAUTHORIZED, body: { error: 'Unauthorized' } };
      }
      this.edge.logger.error({ err }, 'activity not authenticated: the check failed');
      return { status: StatusCodes.INTERNAL_SERVER_ERROR, body: { error: 'Authentication is not available just now.' } };
    }
    const refusal = this.edge.pin(activity);
    if (refusal) return { status: 403, body: { error: 'This bot serves Microsoft Teams in its own organisation only.' } };
    try {
      return await super.processActivity(authenticated, activity, logic);
    } catch (err) {
      this.edge.logger.error({ err }, 'activity processing failed');
      return { status: StatusCodes.INTERNAL_SERVER_ERROR, body: { error: 'Something went wrong.' } };
    }
  }
}

function createAdapter(deps: BotDeps): TeamsAdapter {
  const config = deps.config;
  const edge = { pin: createActivityPin(deps), logger: deps.logger.child({ component: 'adapter' }), clock: deps.clock };
  if (config.mode === 'local') return new HelpdeskAdapter({}, edge);
  const cloud = config.bot.cloud === 'government' ? GOVERNMENT_CLOUD : PUBLIC_CLOUD;
  return new HelpdeskAdapter(
    {
      MicrosoftAppId: config.bot.appId,
      MicrosoftAppType: config.bot.appType,
      MicrosoftAppTenantId: config.bot.tenantId ?? undefined,
      MicrosoftAppPassword: config.bot.password ?? undefined,
      CertificateThumbprint: config.bot.certificateThumbprint ?? undefined,
      CertificatePrivateKey: config.bot.certificateKeyPath ? readKey(config.bot.certificateKeyPath) : undefined,
      // The government cloud is chosen by its ChannelService value; the public cloud is the SDK's default.
      ...(config.bot.cloud === 'government' ? { ChannelService: GovernmentConstants.ChannelService } : {}),
      // Setting any one endpoint makes the SDK use only the endpoints given, leaving the others
      // undefined: no token issuer would be accepted and replies would have no login URL. So an
      // overridden metadata URL or token service URL comes with the cloud's other endpoints.
      ...(config.bot.openIdMetadataUrl || config.bot.oAuthUrl
        ? {
            ...cloud,
            ...(config.bot.openIdMetadataUrl ? { ToBotFromChannelOpenIdMetadataUrl: config.bot.openIdMetadataUrl } : {}),
            ...(config.bot.oAuthUrl ? { OAuthUrl: config.bot.oAuthUrl } : {}),
          }
        : {}),
    },
    edge,
  );
}

/** The Bot Framework public cloud's endpoints: what the SDK uses when none is configured. */
const PUBLIC_CLOUD = {
  ToBotFromChannelTokenIssuer: CHANNEL_TOKEN_ISSUERS.public,
  ToChannelFromBotLoginUrl: 'https://login.microsoftonline.com/botframework.com',
  ToChannelFromBotOAuthScope: 'https://api.botframework.com',
  OAuthUrl: 'https://api.botframework.com',
  ToBotFromChannelOpenIdMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
  ToBotFromEmulatorOpenIdMetadataUrl: 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration',
  CallerId: CallerIdConstants.PublicAzureChannel,
  ValidateAuthority: true,
} as const;

/** The US government cloud's endpoints (the SDK's GovernmentConstants). */
const GOVERNMENT_CLOUD = {
  ToBotFromChannelTokenIssuer: CHANNEL_TOKEN_ISSUERS.government,
  ToChannelFromBotLoginUrl: GovernmentConstants.ToChannelFromBotLoginUrl,
  ToChannelFromBotOAuthScope: GovernmentConstants.ToChannelFromBotOAuthScope,
  OAuthUrl: GovernmentConstants.OAuthUrl,
  ToBotFromChannelOpenIdMetadataUrl: GovernmentConstants.ToBotFromChannelOpenIdMetadataUrl,
  ToBotFromEmulatorOpenIdMetadataUrl: GovernmentConstants.ToBotFromEmulatorOpenIdMetadataUrl,
  CallerId: CallerIdConstants.USGovChannel,
  ValidateAuthority: true,
} as const;

function readKey(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

const CORRELATION = Symbol('helpdesk.correlationId');

/**
 * Decides whether a turn may run: who is acting (`from.aadObjectId` resolved in the
 * directory), and whether that account may use the helpdesk. Unknown and disabled
 * accounts are refused politely and the refusal is audited; when a disabled account writes
 * (a message or a card click), the technicians get a notice, at most once a day per
 * account, and the user is told so. Admitted turns get their
 * {@link TurnInfo} and a saved conversation reference.
 */
async function admitTurn(context: TurnContext, deps: BotDeps, disabledNotices: DisabledAccountNotices): Promise<boolean> {
  const activity = context.activity;
  if (!HANDLED.has(activity.type)) return false;
  const correlationId = randomUUID();
  context.turnState.set(CORRELATION, correlationId);
  const conversationKind = kindOf(activity);
  const aadObjectId = activity.from?.aadObjectId;
  const user = isGuid(aadObjectId) ? await deps.directory.getUser(aadObjectId) : null;
  const log = deps.logger.child({ correlationId, actor: user?.id ?? aadObjectId ?? null, activityType: activity.type });

  // A guest (an external account invited into the tenant) is not an employee of the
  // helpdesk unless the organisation says so: refused like an account the directory does not know.
  const guestRefused = user !== null && user.accountEnabled && isGuest(user) && !deps.config.guests.allowed;
  if (!user || !user.accountEnabled || guestRefused) {
    const reason = guestRefused ? 'guest' : user ? 'account-disabled' : 'unknown-user';
    deps.store.audit.append({
      actor: { id: user?.id ?? (isGuid(aadObjectId) ? aadObjectId : null), name: user?.displayName ?? null },
      action: 'helpdesk.access-refused',
      target: null,
      outcome: 'refused',
      correlationId,
      details: {
        reason,
        activityType: activity.type,
        conversationType: conversationKind,
        // What the channel claimed, kept only as evidence; never used to identify anyone.
        claimedName: user ? undefined : truncate(activity.from?.name, 100),
        claimedAadObjectId: user || isGuid(aadObjectId) ? undefined : truncate(aadObjectId, 100),
      },
    });
    log.warn({ reason }, 'turn refused');
    const wrote = activity.type === ActivityTypes.Message || activity.type === ActivityTypes.Invoke;
    const techniciansTold = user && !guestRefused && wrote ? await disabledNotices.notify(user, correlationId, activity.type) : false;
    const text = guestRefused
      ? 'Sorry, this helpdesk serves the employees of the organisation, and your account is a guest account. For help with your access, please contact the person who invited you or the IT service desk.'
      : user
      ? techniciansTold
        ? 'Sorry, your account is disabled, so I cannot help you here. The identity technicians have been told and will contact you; you can also contact the IT service desk or your manager.'
        : 'Sorry, your account is disabled, so I cannot help you here. Please contact the IT service desk or your manager.'
      : 'Sorry, I cannot find your account in the company directory, so I cannot help you here. If you think this is wrong, please contact the IT service desk.';
    // Announcements of membership changes do not deserve an answer unless the bot was just added.
    if (activity.type !== ActivityTypes.ConversationUpdate || botWasAdded(activity)) {
      await replyRefusal(context, text, 'Not available for your account');
    }
    return false;
  }

  const roles = await resolveRoles(deps.directory, user, deps.technicianGroupId);
  const info: TurnInfo = { correlationId, user, roles, conversationKind };
  setTurnInfo(context, info);
  const channelData = (activity.channelData ?? {}) as { team?: { id?: string }; channel?: { id?: string }; teamsChannelId?: string; teamsTeamId?: string };
  // A channel is remembered only when an identity technician speaks in it: the remembered
  // channel is where tickets, notices and secrets' whereabouts go, and anyone @mentioning
  // the bot in their own team's channel must not redirect them there.
  if (conversationKind !== 'channel' || roles.technician) deps.store.conversations.save(TurnContext.getConversationReference(activity), {
    kind: conversationKind,
    userId: user.id,
    teamId: channelData.team?.id ?? channelData.teamsTeamId ?? null,
    // As the technicians' allow-list reads it (`callerOf`), so the channel it allows is found again.
    channelId: channelData.channel?.id ?? channelData.teamsChannelId ?? null,
  });
  log.debug({ conversationKind, roles }, 'turn admitted');
  return true;
}

/** Answers a refused or failed turn: a message, or for a card click an invoke response card. */
async function replyRefusal(context: TurnContext, text: string, title: string): Promise<void> {
  if (context.activity.type === ActivityTypes.Invoke) {
    const card = renderNoticeCard({ title, text, tone: 'attention' });
    const response: InvokeResponse = {
      status: StatusCodes.OK,
      body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: card },
    };
    await context.sendActivity({ type: 'invokeResponse', value: response });
    // Teams shows nothing of the answer to a sign-in's invoke (`signin/verifyState`): the notice goes to the chat too.
    if (!context.activity.name?.startsWith('signin/')) return;
  }
  await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(renderNoticeCard({ title, text, tone: 'attention' }))));
}

function kindOf(activity: Partial<Activity>): TurnInfo['conversationKind'] {
  const t = activity.conversation?.conversationType;
  return t === 'channel' ? 'channel' : t === 'groupChat' ? 'groupChat' : 'personal';
}

function truncate(value: string | undefined, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
