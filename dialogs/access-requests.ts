import { plainText } from '../adaptive-cards/plain-text';
import { randomUUID } from 'node:crypto';
import { TurnContext } from 'botbuilder';
import type { TurnState } from '@microsoft/teams-ai';
import { renderAccessNotice, renderRequestConfirm, renderRequestForm, renderRequestList, type Fact, type RequestListItem, type Tone } from '../adaptive-cards/access';
import { renderHeldAccess } from '../adaptive-cards/access-held';
import type { AdaptiveCardJson } from '../adaptive-cards/render';
import type { BotDeps, HelpdeskApp } from '../bot/deps';
import type { IntentRegistry } from '../bot/intents';
import type { MenuRegistry } from '../bot/menu';
import { turnInfo } from '../bot/turn-info';
import { findResourceById, resolveLeading, resolveResource, searchResources, type CatalogResource } from '../directory/catalog';
import type { AccessRequest } from '../store/access-requests';
import { formatDuration, formatEndOfDay, formatTime, justificationIn, LONGEST_HOURS, parseDuration } from './access-duration';
import { heldResources } from './access-policy';
import { describeState, isRequestId, stateTone, type AccessService, type ActionResult } from './access-service';
import { sendCard } from './reply';
import type { FreshMfa } from './signin/fresh-mfa';
import { sendStepUpCard } from './signin/step-up-card';
import type { DirectoryUser } from '../directory/directory';

/**
 * Access requests in chat: asking ("request access", "I need the payroll reports for two
 * weeks", "can I get into the payroll reports until friday?"), the form and confirmation
 * cards, the approval card's buttons, "my requests", "cancel REQ-1042", "what's waiting for
 * me", "what access do I have" and "forward REQ-1042 to <name>". Plain words reach these
 * flows through the recognizer's intents ({@link ACCESS_INTENTS}); the anchored commands keep
 * their own routes. The rules live in {@link AccessService}; this module turns chat and
 * clicks into calls to it.
 *
 * Only in a 1:1 chat: a justification or a decision is nobody else's business.
 */

/** What a request may be started with; the natural-language router fills these from free text. */
export interface AccessEntities {
  /** A catalog id, name or alias ("payroll-reports", "Payroll Reports", "payroll"). */
  resource?: string;
  /** As asked: zero or less is refused with the reason, more than the policy allows gets the maximum offered. */
  durationHours?: number;
  /** A fixed end instead of a duration ("until Friday"): an ISO 8601 instant. */
  until?: string;
  /** How to show that end to the requester, e.g. "end of Friday 12 June 2026 (Europe/London)". */
  untilLabel?: string;
  /** Access with no end date (only where the policy allows it). */
  permanent?: boolean;
  justification?: string;
  /** The granted request this one would extend. */
  extendsRequestId?: string;
}

/** A request being put together, kept in the conversation state; cards carry only its id. */
interface Draft {
  id: string;
  resourceId: string;
  /** For a fixed end, the hours from now until it (what the policy checks). */
  hours: number | null;
  /** A fixed end ("until Friday"); null when the access runs `hours` from the grant. */
  ends: FixedEnd | null;
  justification: string | null;
  extendsRequestId: string | null;
}

interface FixedEnd {
  /** ISO 8601 instant. */
  at: string;
  label: string;
}

// "request access", "request access to X [for Y]". Free phrasings ("I need X for two weeks",
// "can I get into X until friday?") are the recognizer's: see ACCESS_INTENTS.
// Commands are short: the lookahead keeps the lazy groups from backtracking over a long message
// (thousands of spaces took seconds per message); longer text is the recognizer's.
// The end of each command is one run of spaces and marks (`[\s.!?]*$`): `\s*[.!?]*\s*$` splits a
// long run of spaces in every way (quadratic).
const REQUEST_TEXT = /^(?=[\s\S]{0,300}$)\s*(?:request|ask\s+for|get)\s+access(?:\s+to\s+(.+?))?(?:\s+for\s+(.+?))?[\s.!?]*$/i;
const MY_REQUESTS_TEXT = /^\s*(?:my\s+(?:access\s+)?requests|show\s+my\s+(?:access\s+)?requests|request\s+status)[\s?.!]*$/i;
// "cancel REQ-1042" or "cancel request <anything>"; a bare "cancel ..." belongs to other flows.
const CANCEL_TEXT = /^\s*cancel\s+(?:(?:access\s+)?request\s+(\S+)|(REQ-?\d+))[\s.!]*$/i;
// Access reviews wait for decisions too: "my reviews", "my access reviews", "reviews waiting for me".
const WAITING_TEXT =
  /^\s*(?:what(?:'s|\s+is)\s+waiting\s+for\s+me|waiting\s+for\s+me|my\s+approvals|pending\s+approvals|approvals|my\s+(?:access\s+)?reviews?|(?:access\s+)?reviews\s+waiting\s+for\s+me)[\s?.!]*$/i;
const FORWARD_TEXT = /^(?=[\s\S]{0,300}$)\s*forward\s+(\S+)\s+to\s+(.+?)[\s.!]*$/i;
const STATUS_TEXT = /^\s*(?:status\s+(?:of\s+)?)?(REQ-?\d{1,9})[\s?.!]*$/i;
/** The patterns of this capability's message routes, for the test that runs them over adversarial text. */
export const ACCESS_ROUTE_PATTERNS: readonly RegExp[] = [REQUEST_TEXT, MY_REQUESTS_TEXT, CANCEL_TEXT, WAITING_TEXT, FORWARD_TEXT, STATUS_TEXT];

const DURATION_CHOICES: Array<{ title: string; value: string }> = [
  { title: 'Default for the access you pick', value: 'default' },
  { title: '8 hours', value: '8' },
  { title: '1 day', value: '24' },
  { title: '3 days', value: '72' },
  { title: '1 week', value: '168' },
  { title: '2 weeks', value: '336' },
  { title: '30 days', value: '720' },
  { title: '90 days', value: '2160' },
  { title: '180 days', value: '4320' },
  { title: '1 year', value: '8760' },
  { title: 'No end date (only where allowed)', value: 'permanent' },
];

const RISK = { low: 'low risk', medium: 'medium risk', high: 'high risk' } as const;
const FLOW = Symbol('helpdesk.accessFlow');

/** Registers the routes, card verbs, menu items and intent handlers of access requests. */
export function registerAccessRequests(app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry, intents: IntentRegistry, service: AccessService): void {
  const flow = new AccessFlow(deps, service, intents);
  app.turn('beforeTurn', async (context) => {
    context.turnState.set(FLOW, flow);
    return true;
  });

  menu.add({
    key: 'request-access',
    audience: 'everyone',
    say: 'request access',
    description: 'Ask for access to an application or group, e.g. "I need the payroll reports for two weeks". Approvers decide in Teams.',
    button: 'Request access',
    run: (context, state) => flow.start(context, state, {}),
  });
  menu.add({
    key: 'my-requests',
    audience: 'everyone',
    say: 'my requests',
    description: 'Your access requests and their status; cancel one that is still waiting (or type cancel REQ-1042).',
    button: 'My requests',
    run: (context) => flow.sendMyRequests(context),
  });
  menu.add({
    key: 'my-access',
    audience: 'everyone',
    say: 'what access do I have',
    description: 'What you can use of the things you can request here, and until when.',
    button: 'My access',
    run: (context) => flow.sendHeld(context),
  });
  menu.add({
    key: 'approvals',
    audience: 'manager',
    say: "what's waiting for me",
    description: 'Access requests waiting for your decision, with Approve and Deny buttons, and your access reviews (also: my reviews).',
    button: 'Waiting for me',
    run: (context) => flow.sendWaiting(context),
  });

  // The command form. When the words after "to" start with a catalog name but go on with
  // something it cannot read ("to the VPN until friday"), the recognizer reads them instead.
  app.message(
    async (context) => {
      const m = REQUEST_TEXT.exec(context.activity.text ?? '');
      if (!m) return false;
      const named = m[1]?.trim();
      return !named || Boolean(resolveResource(service.catalog, named) ?? findResourceById(service.catalog, named)) || !resolveLeading(service.catalog, named);
    },
    async (context, state) => {
      const m = REQUEST_TEXT.exec(context.activity.text ?? '')!;
      await flow.start(context, state, entitiesFrom(m[1], m[2], undefined));
    },
  );
  app.message(MY_REQUESTS_TEXT, (context) => flow.sendMyRequests(context));
  app.message(CANCEL_TEXT, async (context) => {
    const m = CANCEL_TEXT.exec(context.activity.text ?? '')!;
    await flow.cancelByText(context, (m[1] ?? m[2])!);
  });
  app.message(WAITING_TEXT, (context) => flow.sendWaiting(context));
  app.message(STATUS_TEXT, async (context) => {
    const m = STATUS_TEXT.exec(context.activity.text ?? '')!;
    await flow.sendStatus(context, m[1]!.toUpperCase().replace(/^REQ-?/, 'REQ-'));
  });
  app.message(FORWARD_TEXT, async (context) => {
    const m = FORWARD_TEXT.exec(context.activity.text ?? '')!;
    await flow.forwardByText(context, m[1]!, m[2]!);
  });

  const exec = (verb: string, handler: (context: TurnContext, state: TurnState, data: Record<string, unknown>) => Promise<AdaptiveCardJson>) =>
    app.adaptiveCards.actionExecute<Record<string, unknown>>(verb, async (context, state, data) => {
      if (turnInfo(context).conversationKind !== 'personal') return personalOnly();
      // teams-ai turns a returned card with `refresh` into an update of the clicked message
      // for everyone; each participant's view is personal here, so never return one.
      const card = await handler(context, state, data && typeof data === 'object' ? data : {});
      delete (card as { refresh?: unknown }).refresh;
      return card;
    });
  exec('access.review', (c, s, d) => flow.review(c, s, d));
  exec('access.submit', (c, s, d) => flow.submit(c, s, d));
  exec('access.edit', (c, s, d) => flow.edit(c, s, d));
  exec('access.discard', (c, s, d) => flow.discard(c, s, d));
  exec('access.use-max', (c, s, d) => flow.useMax(c, s, d));
  exec('access.extend', (c, s, d) => flow.extend(c, s, d));
  exec('access.approve', (c, _s, d) => flow.decide(c, d, 'approve'));
  exec('access.deny', (c, _s, d) => flow.decide(c, d, 'deny'));
  exec('access.forward', (c, _s, d) => flow.forward(c, d));
  exec('access.step-up', (c, _s, d) => flow.stepUp(c, d));
  exec('access.refresh', (c, _s, d) => flow.refresh(c, d));
  exec('access.cancel', (c, _s, d) => flow.cancel(c, d));
  exec('access.list-cancel', (c, _s, d) => flow.cancelFromList(c, d));

  // Plain words, through the recognizer: the same flows with what it found pre-filled.
  for (const intent of ACCESS_INTENTS) {
    intents.handle(intent, async (context, state, understood) => {
      await handleAccessIntent(intent, context, state, understood.entities, understood.text);
    });
  }
}

/**
 * Starts an access request with what is already known (the natural-language router calls
 * this with the entities it recognised): the form when the resource or a required
 * justification is missing, else the confirmation card, or the reason it cannot be asked for.
 */
export async function startAccessRequest(context: TurnContext, state: TurnState, entities: AccessEntities = {}): Promise<void> {
  await flowOf(context).start(context, state, entities);
}

/** "my requests": the user's requests with their status and a cancel button on pending ones. */
export async function showMyRequests(context: TurnContext): Promise<void> {
  await flowOf(context).sendMyRequests(context);
}

/** "cancel REQ-1042". */
export async function cancelAccessRequest(context: TurnContext, requestId: string): Promise<void> {
  await flowOf(context).cancelByText(context, requestId);
}

/** "what's waiting for me": an approval card for each request waiting for this user. */
export async function showPendingApprovals(context: TurnContext): Promise<void> {
  await flowOf(context).sendWaiting(context);
}

/** Intents of the natural-language recognizer that access requests serve. */
export const ACCESS_INTENTS = ['access.request', 'access.status', 'access.cancel', 'access.list', 'approvals.pending'] as const;

/** What the recognizer found in a message, as far as access requests use it (the shape of `bot/nlu` entities). */
export interface RecognizedAccessEntities {
  resources?: Array<{ id?: string; key?: string; name: string }>;
  duration?: { hours?: number; until?: string; untilDate?: string; timeZone?: string; permanent?: boolean };
  requestIds?: string[];
}

/**
 * Runs the flow of one recognized intent with its entities pre-filled; false when the intent
 * is not one of {@link ACCESS_INTENTS}. `text` is the message, when there is one: the reason
 * given in it ("because of the audit") becomes the justification. Nothing is done on the
 * recognition alone: a request ends at its confirmation card, a cancellation at the request's
 * Cancel button, and everything is checked on the server.
 */
export async function handleAccessIntent(
  intent: string,
  context: TurnContext,
  state: TurnState,
  entities: RecognizedAccessEntities = {},
  text?: string,
): Promise<boolean> {
  const flow = flowOf(context);
  const requestIds = [...new Set((entities.requestIds ?? []).filter((id) => isRequestId(id)))];
  const resourceIds = [...new Set((entities.resources ?? []).map((r) => r.id ?? r.key ?? r.name))];
  switch (intent) {
    case 'access.request': {
      const d = entities.duration;
      const until = d?.until && !Number.isNaN(Date.parse(d.until)) ? d.until : undefined;
      await flow.start(context, state, {
        resource: resourceIds[0],
        permanent: d?.permanent,
        durationHours: typeof d?.hours === 'number' && !Number.isNaN(d.hours) ? d.hours : undefined,
        until: d?.hours === undefined ? until : undefined,
        untilLabel: until ? (d?.untilDate ? formatEndOfDay(d.untilDate, d.timeZone) : formatTime(until)) : undefined,
        justification: text ? justificationIn(text) ?? undefined : undefined,
      });
      return true;
    }
    case 'access.status':
      await flow.sendStatusOf(context, requestIds, resourceIds);
      return true;
    case 'access.cancel':
      await flow.offerCancel(context, requestIds, resourceIds);
      return true;
    case 'access.list':
      await flow.sendHeld(context);
      return true;
    case 'approvals.pending':
      await flow.sendWaiting(context);
      return true;
    default:
      return false;
  }
}

function flowOf(context: TurnContext): AccessFlow {
  const flow = context.turnState.get(FLOW) as AccessFlow | undefined;
  if (!flow) throw new Error('access requests are not registered for this turn');
  return flow;
}

function entitiesFrom(resource: string | undefined, duration: string | undefined, because: string | undefined): AccessEntities {
  const e: AccessEntities = {};
  if (resource?.trim()) e.resource = resource.trim();
  if (duration?.trim()) {
    const parsed = parseDuration(duration);
    // "for the month-end close" is a reason, not a duration.
    if (parsed === 'permanent') e.permanent = true;
    else if (parsed !== null) e.durationHours = parsed;
    else e.justification = `for ${duration.trim()}`;
  }
  if (because?.trim()) e.justification = [e.justification, `because ${because.trim()}`].filter(Boolean).join(', ');
  return e;
}

/** Whole hours from `now` until `iso` (at least 1), or null when it has passed or is not a date. */
function hoursUntil(iso: string, now: Date): number | null {
  const ms = new Date(iso).getTime() - now.getTime();
  return Number.isFinite(ms) && ms > 0 ? Math.max(1, Math.ceil(ms / 3_600_000)) : null;
}

/** The end date the form offers as a choice, kept in the conversation so the form's answer can refer to it. */
function rememberEnd(state: TurnState, ends: FixedEnd | null): void {
  const conversation = state.conversation as Record<string, unknown>;
  if (ends) conversation.accessEnds = ends;
  else delete conversation.accessEnds;
}

/** Why a duration of zero or less is not asked for, for the form's error line. */
function notPositive(hours: number): string {
  const said = hours === 0 ? 'no time at all' : `a negative duration (${formatDuration(hours)})`;
  return `You asked for ${said}, which cannot be granted: access lasts at least one hour. Pick how long you need it.`;
}

function personalOnly(): AdaptiveCardJson {
  return renderAccessNotice({ title: 'Only in a 1:1 chat', text: 'Access requests and approvals are handled in your 1:1 chat with me, not here.', tone: 'warning' });
}

class AccessFlow {
  constructor(
    private readonly deps: BotDeps,
    private readonly service: AccessService,
    /** What else waits for a decision (access reviews), listed after the requests. */
    private readonly intents: IntentRegistry,
  ) {}

  now(): Date {
    return this.deps.clock();
  }

  /** One request's card, for its requester or one of its approvers. */
  async sendStatus(context: TurnContext, requestId: string): Promise<void> {
    const { user, conversationKind } = turnInfo(context);
    if (conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const request = this.deps.store.requests.get(requestId);
    // The requester, an approver of any stage (an earlier one too), whoever decided or got its card.
    const involved = request && this.service.isInvolved(request, user.id);
    if (!request || !involved) {
      await context.sendActivity(`You have no request ${requestId}. Type **my requests** to see yours.`);
      return;
    }
    await sendCard(context, this.service.cardFor(request, user.id));
  }

  // ---- asking ------------------------------------------------------------------------------

  async start(context: TurnContext, state: TurnState, e: AccessEntities): Promise<void> {
    if (turnInfo(context).conversationKind !== 'personal') {
      await sendCard(context, personalOnly());
      return;
    }
    await sendCard(context, await this.prepare(context, state, e));
  }

  private async prepare(context: TurnContext, state: TurnState, e: AccessEntities): Promise<AdaptiveCardJson> {
    // Whole hours, at least one: "for 20 minutes" must not become a grant that ends as it starts.
    // Zero or less, or an end that has passed, is said so: never replaced by another duration.
    const asked = !e.permanent && typeof e.durationHours === 'number' && !Number.isNaN(e.durationHours) ? e.durationHours : undefined;
    let hours = e.permanent ? null : asked !== undefined && asked > 0 ? Math.max(1, Math.round(asked)) : undefined;
    const justification = e.justification?.trim().slice(0, 500) || null;
    let ends: FixedEnd | null = null;
    let endError: string | undefined;
    if (asked !== undefined && asked <= 0) endError = notPositive(asked);
    else if (!e.permanent && hours === undefined && e.until) {
      const label = e.untilLabel?.slice(0, 120) || formatTime(e.until);
      const left = hoursUntil(e.until, this.now());
      if (left === null) endError = `The end date you gave, ${label}, has already passed. Pick how long you need the access.`;
      else {
        ends = { at: new Date(e.until).toISOString(), label };
        hours = left;
      }
    }
    rememberEnd(state, ends);
    if (!e.resource) return this.form({ hours, ends, justification }, endError);
    const resource = resolveResource(this.service.catalog, e.resource) ?? findResourceById(this.service.catalog, e.resource) ?? resolveLeading(this.service.catalog, e.resource);
    if (!resource) {
      const like = searchResources(this.service.catalog, e.resource);
      const hint = like.length ? ` Did you mean ${like.map((r) => r.name).join(', ')}?` : '';
      return this.form({ hours, ends, justification }, `I could not find "${e.resource.slice(0, 80)}" among the things you can request.${hint} Pick one below.${endError ? ` ${endError}` : ''}`);
    }
    if (endError) return this.form({ resourceId: resource.id, justification }, endError);
    return this.review_(context, state, {
      id: randomUUID(),
      resourceId: resource.id,
      hours: hours === undefined ? resource.defaultHours : hours,
      ends,
      justification,
      extendsRequestId: e.extendsRequestId ?? null,
    });
  }

  private form(prefill: { resourceId?: string; hours?: number | null; ends?: FixedEnd | null; justification?: string | null }, error?: string): AdaptiveCardJson {
    const duration = prefill.ends ? 'until' : prefill.hours === null ? 'permanent' : prefill.hours === undefined ? 'default' : String(prefill.hours);
    const durations = prefill.ends
      ? [...DURATION_CHOICES, { title: `Until ${prefill.ends.label}`, value: 'until' }]
      : DURATION_CHOICES.some((c) => c.value === duration)
        ? DURATION_CHOICES
        : [...DURATION_CHOICES, { title: formatDuration(prefill.hours!), value: duration }];
    return renderRequestForm({
      intro: 'Pick what you need, for how long and why. Your manager or the owners decide; you will see their decision here.',
      error: error ?? null,
      resources: this.service.catalog.resources.map((r) => ({ title: `${r.name} (${RISK[r.risk]}): ${r.description}`, value: r.id })),
      durations,
      resource: prefill.resourceId ?? null,
      duration,
      justification: prefill.justification ?? null,
    });
  }

  /** Checks a draft against the policy: the confirmation card, the form again, or the refusal. */
  private async review_(context: TurnContext, state: TurnState, draft: Draft): Promise<AdaptiveCardJson> {
    const { user } = turnInfo(context);
    const resource = findResourceById(this.service.catalog, draft.resourceId)!;
    const refusal = await this.service.check(user, resource, draft.hours, draft.justification);
    const conversation = state.conversation as Record<string, unknown>;
    if (refusal?.kind === 'justification-required') {
      rememberEnd(state, draft.ends);
      return this.form({ resourceId: resource.id, hours: draft.hours, ends: draft.ends, justification: draft.justification }, refusal.message);
    }
    if (refusal?.kind === 'too-long' || refusal?.kind === 'permanent-not-allowed') {
      conversation.accessDraft = draft;
      return renderAccessNotice({
        title: `Too long for ${resource.name}`,
        text: `${refusal.message} You can ask for ${formatDuration(refusal.maxHours)} instead.`,
        tone: 'warning',
        facts: [{ title: 'Most allowed', value: formatDuration(refusal.maxHours) }],
        actions: [
          { id: 'access-use-max', title: `Request ${formatDuration(refusal.maxHours)}`, verb: 'access.use-max', data: { draft: draft.id } },
          { id: 'access-edit', title: 'Change', verb: 'access.edit', data: { draft: draft.id } },
        ],
      });
    }
    if (refusal) {
      delete conversation.accessDraft;
      return renderAccessNotice({
        title: `You cannot request ${resource.name} now`,
        text: refusal.message,
        tone: 'attention',
        facts: [{ title: 'Reason', value: refusalLabel(refusal.kind) }],
      });
    }
    conversation.accessDraft = draft;
    return renderRequestConfirm({
      draft: draft.id,
      intro: 'Check the details, then submit. Nothing is requested until you do.',
      note: draft.extendsRequestId ? `This extends your current access (${draft.extendsRequestId}); the new period starts when it is approved.` : null,
      facts: await this.confirmFacts(user, resource, draft),
    });
  }

  private async confirmFacts(user: ReturnType<typeof turnInfo>['user'], resource: CatalogResource, draft: Draft): Promise<Fact[]> {
    return [
      { title: 'Access', value: `${resource.name}: ${resource.description}` },
      { title: 'Risk', value: RISK[resource.risk] },
      { title: 'Duration', value: draft.ends ? `until ${draft.ends.label}` : draft.hours === null ? formatDuration(null) : `${formatDuration(draft.hours)} from approval` },
      { title: 'Justification', value: draft.justification ? plainText(draft.justification) : '(none)' },
      { title: 'Approval', value: await this.service.describeApproval(user, resource) },
    ];
  }

  private draftOf(state: TurnState, data: Record<string, unknown>): Draft | null {
    const draft = (state.conversation as Record<string, unknown>).accessDraft as Draft | undefined;
    return draft && typeof data.draft === 'string' && data.draft === draft.id ? draft : null;
  }

  /** The form's "Review request": parse its inputs, then as {@link prepare}. */
  async review(context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const resourceId = typeof data.resource === 'string' ? data.resource : '';
    const justification = typeof data.justification === 'string' ? data.justification.trim().slice(0, 500) : '';
    const duration = typeof data.duration === 'string' ? data.duration : 'default';
    let hours: number | null | undefined;
    // "until": the end date this conversation offered on the form (server-side, never card data).
    let ends: FixedEnd | null = null;
    if (duration === 'until') {
      const offered = (state.conversation as Record<string, unknown>).accessEnds as FixedEnd | undefined;
      const left = offered ? hoursUntil(offered.at, this.now()) : null;
      if (!offered || left === null) return this.form({ resourceId, justification }, 'That end date is no longer available. Pick a duration from the list.');
      ends = offered;
      hours = left;
    } else if (duration === 'permanent') hours = null;
    else if (duration !== 'default') {
      const n = Number(duration);
      // As long as a message may ask for: the policy refuses too long with the maximum offered.
      if (!Number.isInteger(n) || n < 1 || n > LONGEST_HOURS) return this.form({ resourceId, justification }, 'Pick a duration from the list.');
      hours = n;
    }
    const resource = findResourceById(this.service.catalog, resourceId);
    if (!resource) return this.form({ hours, ends, justification }, 'Pick what you need access to.');
    const previous = (state.conversation as Record<string, unknown>).accessDraft as Draft | undefined;
    return this.review_(context, state, {
      id: randomUUID(),
      resourceId: resource.id,
      hours: hours === undefined ? resource.defaultHours : hours,
      ends,
      justification: justification || null,
      extendsRequestId: previous?.resourceId === resource.id ? previous.extendsRequestId : null,
    });
  }

  async edit(_context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const draft = this.draftOf(state, data);
    if (!draft) return this.form({});
    rememberEnd(state, draft.ends);
    return this.form({ resourceId: draft.resourceId, hours: draft.hours, ends: draft.ends, justification: draft.justification });
  }

  async discard(_context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    if (this.draftOf(state, data)) delete (state.conversation as Record<string, unknown>).accessDraft;
    return renderAccessNotice({ title: 'Discarded', text: 'Nothing was requested. Type **request access** to start again.' });
  }

  async useMax(context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const draft = this.draftOf(state, data);
    const resource = draft && findResourceById(this.service.catalog, draft.resourceId);
    if (!draft || !resource) return stale();
    return this.review_(context, state, { ...draft, id: randomUUID(), hours: resource.maxHours, ends: null });
  }

  /** "Request an extension" / "Ask again": a new request for the same resource, through the same policy. */
  async extend(context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const { user } = turnInfo(context);
    const request = isRequestId(data.requestId) ? this.deps.store.requests.get(data.requestId) : null;
    if (!request || request.requesterId !== user.id) return stale();
    return this.prepare(context, state, { resource: request.resourceId, extendsRequestId: request.state === 'granted' ? request.id : undefined });
  }

  async submit(context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    const conversation = state.conversation as Record<string, unknown>;
    const draft = this.draftOf(state, data);
    if (!draft) {
      const last = conversation.accessLastSubmitted as { draft: string; requestId: string } | undefined;
      if (last && last.draft === data.draft) return renderAccessNotice({ title: `Already submitted as ${last.requestId}`, text: 'Type **my requests** to see its status.' });
      return stale();
    }
    const resource = findResourceById(this.service.catalog, draft.resourceId);
    if (!resource) return stale();
    // A fixed end: the policy checks the time left now, not when the card was shown.
    const hours = draft.ends ? hoursUntil(draft.ends.at, this.now()) : draft.hours;
    if (draft.ends && hours === null) {
      delete conversation.accessDraft;
      return renderAccessNotice({ title: 'The end date has passed', text: `${draft.ends.label} is over, so nothing was requested. Type **request access** to start again.`, tone: 'warning' });
    }
    const result = await this.service.submit(
      info.user,
      { resource, hours, endsAt: draft.ends?.at ?? null, justification: draft.justification, extendsRequestId: draft.extendsRequestId },
      info.correlationId,
    );
    if (!result.ok) {
      delete conversation.accessDraft;
      return renderAccessNotice({ title: `You cannot request ${resource.name} now`, text: result.refusal.message, tone: 'attention', facts: [{ title: 'Reason', value: refusalLabel(result.refusal.kind) }] });
    }
    delete conversation.accessDraft;
    conversation.accessLastSubmitted = { draft: draft.id, requestId: result.request.id };
    // The requester's own copy of the request card: kept up to date after every decision.
    const card = this.service.cardFor(result.request, info.user.id);
    const activityId = await sendCard(context, card);
    if (activityId) {
      this.deps.store.cards.add({ requestId: result.request.id, userId: info.user.id, role: 'requester', stage: null, activityId, reference: TurnContext.getConversationReference(context.activity) });
    }
    return renderAccessNotice({
      title: `Submitted: ${result.request.id}`,
      text: `Your request for ${resource.name} is on its way to ${result.request.policy.stages[0]!.title.toLowerCase()}. The card below shows its status and changes as it is decided.`,
      tone: 'good',
      facts: [
        { title: 'Request', value: result.request.id },
        { title: 'Duration', value: draft.ends ? `until ${draft.ends.label}` : formatDuration(result.request.durationHours) },
      ],
    });
  }

  // ---- deciding ------------------------------------------------------------------------------

  async decide(context: TurnContext, data: Record<string, unknown>, decision: 'approve' | 'deny'): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    const parsed = cardTarget(data);
    if (!parsed) return stale();
    const result = await this.service.decide(info.user, parsed.requestId, parsed.stage, decision, data.comment, info.correlationId, data.mfaCode);
    return this.resultCard(result, info.user.id);
  }

  /** "Sign in again with MFA" on an approval that needs it: the step-up OAuth card (production). */
  async stepUp(context: TurnContext, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    const parsed = cardTarget(data);
    const request = parsed ? this.deps.store.requests.get(parsed.requestId) : null;
    if (!parsed || !request) return stale();
    const connection = this.deps.config.recovery.stepUp.connectionName;
    if (!connection || !this.service.isListedApprover(request, info.user.id)) return this.service.cardFor(request, info.user.id);
    await sendStepUpCard(context, connection, `Sign in with your work account and MFA to approve ${request.id}.`);
    return this.service.cardFor(request, info.user.id, { text: `Use the sign-in card below. Your approval of ${request.id} goes on as soon as you are signed in.`, tone: 'warning' });
  }

  async forward(context: TurnContext, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    const parsed = cardTarget(data);
    if (!parsed) return stale();
    const result = await this.service.forward(info.user, parsed.requestId, parsed.stage, data.delegate, info.correlationId);
    return this.resultCard(result, info.user.id);
  }

  async refresh(context: TurnContext, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const request = isRequestId(data.requestId) ? this.deps.store.requests.get(data.requestId) : null;
    if (!request) return stale();
    return this.service.cardFor(request, turnInfo(context).user.id);
  }

  async cancel(context: TurnContext, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    if (!isRequestId(data.requestId)) return stale();
    return this.resultCard(this.service.cancel(info.user, data.requestId, info.correlationId), info.user.id);
  }

  async cancelFromList(context: TurnContext, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    if (!isRequestId(data.requestId)) return stale();
    const result = this.service.cancel(info.user, data.requestId, info.correlationId);
    return this.myRequestsCard(info.user.id, { text: result.message, tone: toneOf(result) });
  }

  private resultCard(result: ActionResult, viewerId: string): AdaptiveCardJson {
    if (!result.request) return renderAccessNotice({ title: 'Not found', text: result.message, tone: 'attention' });
    return this.service.cardFor(result.request, viewerId, { text: result.message, tone: toneOf(result) }, result.mfa);
  }

  // ---- views -----------------------------------------------------------------------------------

  async sendMyRequests(context: TurnContext): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    await sendCard(context, this.myRequestsCard(info.user.id));
  }

  private myRequestsCard(userId: string, banner?: { text: string; tone: Tone }, only?: { requests: AccessRequest[]; title: string; intro: string }): AdaptiveCardJson {
    const requests = only?.requests ?? this.deps.store.requests.listForRequester(userId, 10);
    const items: RequestListItem[] = requests.map((r) => ({
      id: r.id,
      heading: `${r.id} · ${r.policy.name}`,
      status: describeState(r),
      statusTone: stateTone(r.state),
      facts: listFacts(r, this.deps.store.requests.approvers(r.id, r.stage).map((a) => a.approverName)),
      cancellable: r.state === 'pending',
    }));
    return renderRequestList({
      title: only?.title ?? 'My access requests',
      intro:
        only?.intro ??
        (items.length ? `Your ${items.length === 1 ? 'request' : `latest ${items.length} requests`}, newest first.` : 'You have not requested any access yet. Type **request access** to start.'),
      banner: banner?.text ?? null,
      bannerTone: banner?.tone,
      items,
    });
  }

  /** Sends a request's card to its requester; a pending one's copy is kept and updated after each decision. */
  private async sendOwnCard(context: TurnContext, request: AccessRequest, banner?: { text: string; tone?: Tone }): Promise<void> {
    const { user } = turnInfo(context);
    const activityId = await sendCard(context, this.service.cardFor(request, user.id, banner));
    if (activityId && request.state === 'pending' && request.requesterId === user.id) {
      this.deps.store.cards.add({ requestId: request.id, userId: user.id, role: 'requester', stage: null, activityId, reference: TurnContext.getConversationReference(context.activity) });
    }
  }

  /** The requester's own requests for these catalog resources, newest first. */
  private requestsFor(userId: string, resourceIds: readonly string[]): AccessRequest[] {
    return this.deps.store.requests.listForRequester(userId, 100).filter((r) => resourceIds.includes(r.resourceId));
  }

  private resourceNames(ids: readonly string[]): string {
    return ids.map((id) => findResourceById(this.service.catalog, id)?.name ?? id).join(' or ');
  }

  /**
   * "Did my manager approve the VPN thing", "status of REQ-1042": the named requests' cards,
   * or the requester's requests for the resources named (the card when there is one, else a
   * list), or all their requests when nothing was named.
   */
  async sendStatusOf(context: TurnContext, requestIds: readonly string[], resourceIds: readonly string[]): Promise<void> {
    const { user, conversationKind } = turnInfo(context);
    if (conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    if (requestIds.length) {
      for (const id of requestIds.slice(0, 3)) await this.sendStatus(context, id);
      return;
    }
    if (!resourceIds.length) return this.sendMyRequests(context);
    const mine = this.requestsFor(user.id, resourceIds);
    if (!mine.length) {
      await context.sendActivity(`You have not asked me for ${this.resourceNames(resourceIds)}. Type **my requests** to see your requests, or **what access do I have**.`);
      return;
    }
    if (mine.length === 1) return this.sendOwnCard(context, mine[0]!);
    await sendCard(
      context,
      this.myRequestsCard(user.id, undefined, { requests: mine.slice(0, 10), title: `My requests for ${this.resourceNames(resourceIds)}`, intro: 'Newest first.' }),
    );
  }

  /**
   * "Cancel my VPN request", "withdraw REQ-1042": never cancelled on the recognizer's word. The
   * request's card comes with its Cancel button (or a list of the candidates, each with one);
   * the click cancels, through the same checks as every other cancel.
   */
  async offerCancel(context: TurnContext, requestIds: readonly string[], resourceIds: readonly string[]): Promise<void> {
    const { user, conversationKind } = turnInfo(context);
    if (conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    let candidates: AccessRequest[];
    if (requestIds.length) {
      candidates = [];
      for (const id of requestIds.slice(0, 10)) {
        const r = this.deps.store.requests.get(id);
        if (r && r.requesterId === user.id) candidates.push(r);
        else await context.sendActivity(`You have no request ${id}. Type **my requests** to see yours.`);
      }
      if (!candidates.length) return;
    } else if (resourceIds.length) {
      candidates = this.requestsFor(user.id, resourceIds).filter((r) => r.state === 'pending');
      if (!candidates.length) {
        await context.sendActivity(`You have no request for ${this.resourceNames(resourceIds)} waiting for approval, so there is nothing to cancel. Type **my requests** to see your requests.`);
        return;
      }
    } else {
      const pending = this.deps.store.requests.listForRequester(user.id, 100).filter((r) => r.state === 'pending');
      if (!pending.length) {
        await context.sendActivity('You have no request waiting for approval, so there is nothing to cancel. Type **my requests** to see your requests.');
        return;
      }
      candidates = pending;
    }
    if (candidates.length === 1) {
      const r = candidates[0]!;
      if (r.state !== 'pending') {
        const state = describeState(r);
        await this.sendOwnCard(context, r, { text: `${r.id} cannot be cancelled: it is ${state.charAt(0).toLowerCase()}${state.slice(1)}.`, tone: 'warning' });
        return;
      }
      await this.sendOwnCard(context, r, { text: `To withdraw ${r.id}, press Cancel request. Nothing is cancelled until you do.`, tone: 'accent' });
      return;
    }
    await sendCard(
      context,
      this.myRequestsCard(user.id, undefined, {
        requests: candidates.slice(0, 10),
        title: 'Which request should I cancel?',
        intro: 'Press Cancel on the one to withdraw. Nothing is cancelled until you do.',
      }),
    );
  }

  /** "What access do I have": the catalog resources the user holds now, with the end of each time-bound grant. */
  async sendHeld(context: TurnContext): Promise<void> {
    const { user, conversationKind } = turnInfo(context);
    if (conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const catalog = this.service.catalog;
    const held = await heldResources(this.deps.directory, catalog, user.id);
    const soon = this.now().getTime() + this.deps.config.access.expiryNoticeHours * 3_600_000;
    const items = held.map((resource) => {
      const grant = this.deps.store.requests.grantedFor(user.id, resource.id)[0];
      const ends = grant?.expiresAt ?? null;
      return {
        id: resource.id,
        name: resource.name,
        until: ends ? `Until ${formatTime(ends)} (${grant!.id})` : grant ? `No end date (${grant.id})` : 'No end date set here',
        endsSoon: ends !== null && new Date(ends).getTime() <= soon,
      };
    });
    const waiting = this.deps.store.requests.openForRequester(user.id);
    return void (await sendCard(
      context,
      renderHeldAccess({
        intro: held.length
          ? `You have ${held.length === 1 ? 'one' : held.length} of the ${catalog.resources.length} things you can request here.`
          : `You have none of the ${catalog.resources.length} things you can request here. Type **request access** to ask for one.`,
        items,
        waiting: waiting.length ? `Waiting: ${waiting.map((r) => `${r.policy.name} (${r.id})`).join(', ')}. Type **my requests** for their status.` : null,
        footer: 'Only what can be requested here is listed, not every app or group you are in.',
      }),
    ));
  }

  async cancelByText(context: TurnContext, rawId: string): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const id = rawId.toUpperCase().replace(/^REQ-?/, 'REQ-');
    if (!isRequestId(id)) {
      await context.sendActivity('Usage: `cancel REQ-1042` with the id of one of your pending requests. Type **my requests** to see them.');
      return;
    }
    const result = this.service.cancel(info.user, id, info.correlationId);
    await sendCard(context, renderAccessNotice({ title: result.outcome === 'done' ? `Cancelled ${id}` : `${id} not cancelled`, text: result.message, tone: toneOf(result) }));
  }

  async sendWaiting(context: TurnContext): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const requests = this.deps.store.requests.pendingForApprover(info.user.id, 10);
    const others = await this.intents.waitingCards(info.user);
    if (!requests.length && !others.length) {
      await context.sendActivity('Nothing is waiting for your decision.');
      return;
    }
    if (requests.length) {
      await context.sendActivity(`${requests.length === 1 ? 'One request waits' : `${requests.length} requests wait`} for your decision:`);
      const reference = TurnContext.getConversationReference(context.activity);
      for (const r of requests) {
        const activityId = await sendCard(context, this.service.cardFor(r, info.user.id));
        if (activityId) this.deps.store.cards.add({ requestId: r.id, userId: info.user.id, role: 'approver', stage: r.stage, activityId, reference });
      }
    }
    for (const card of others) await sendCard(context, card);
  }

  async forwardByText(context: TurnContext, rawId: string, who: string): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const id = rawId.toUpperCase();
    const request = isRequestId(id) ? this.deps.store.requests.get(id) : null;
    if (!request) {
      await context.sendActivity('Usage: `forward REQ-1042 to ‹name or email›`, for a request waiting for your decision.');
      return;
    }
    const result = await this.service.forward(info.user, id, request.stage, who, info.correlationId);
    await sendCard(context, renderAccessNotice({ title: result.outcome === 'done' ? `Forwarded ${id}` : `${id} not forwarded`, text: result.message, tone: toneOf(result) }));
  }
}

/** Request id and stage from a card's data; anything else there is ignored. */
/**
 * A step-up sign-in that no recovery waited for: the proof of MFA for an approval the
 * approver was asked it for; that approval then goes on. Null when none waits.
 */
export async function approvalAfterSignIn(service: AccessService, freshMfa: FreshMfa, context: TurnContext, user: DirectoryUser, token: string): Promise<AdaptiveCardJson | null> {
  const info = turnInfo(context);
  const proof = await freshMfa.proveBySignIn(user, token, info.correlationId);
  if (!proof.ok) return renderAccessNotice({ title: 'MFA not proven', text: `${proof.message} Nothing was approved.`, tone: 'attention' });
  const result = await service.resumeAfterMfa(user, info.correlationId);
  if (!result) return renderAccessNotice({ title: 'MFA proven', text: 'Your MFA is proven for the next few minutes; click Approve on the request again.', tone: 'good' });
  if (!result.request) return renderAccessNotice({ title: 'Not found', text: result.message, tone: 'attention' });
  return service.cardFor(result.request, user.id, { text: result.message, tone: toneOf(result) });
}

function cardTarget(data: Record<string, unknown>): { requestId: string; stage: number } | null {
  const stage = typeof data.stage === 'number' ? data.stage : typeof data.stage === 'string' && /^\d$/.test(data.stage) ? Number(data.stage) : NaN;
  if (!isRequestId(data.requestId) || !Number.isInteger(stage) || stage < 1 || stage > 3) return null;
  return { requestId: data.requestId, stage };
}

function stale(): AdaptiveCardJson {
  return renderAccessNotice({ title: 'This card is no longer active', text: 'Type **request access** or **my requests** to start again.', tone: 'warning' });
}

function toneOf(result: ActionResult): Tone {
  return result.outcome === 'done' ? 'good' : result.outcome === 'refused' || result.outcome === 'invalid' || result.outcome === 'not-found' ? 'attention' : 'warning';
}

function refusalLabel(kind: string): string {
  return (
    {
      'already-member': 'You already have it',
      duplicate: 'Already requested',
      conflict: 'Separation of duties',
      'too-long': 'Longer than allowed',
      'permanent-not-allowed': 'Only time-bound',
      'justification-required': 'Justification needed',
      'no-approver': 'No approver',
    } as Record<string, string>
  )[kind] ?? kind;
}

function listFacts(r: AccessRequest, approvers: string[]): Fact[] {
  const facts: Fact[] = [
    { title: 'Duration', value: r.endsAt ? `until ${formatTime(r.endsAt)}` : formatDuration(r.durationHours) },
    { title: 'Requested', value: formatTime(r.createdAt) },
  ];
  if (r.state === 'pending') facts.push({ title: 'Waiting for', value: approvers.join(', ') || 'approvers' });
  if (r.closedByName && r.state !== 'pending') facts.push({ title: r.state === 'cancelled' ? 'Cancelled by' : 'Decided by', value: `${r.closedByName}, ${formatTime(r.closedAt!)}` });
  if (r.closeComment) facts.push({ title: 'Comment', value: r.closeComment });
  if (r.expiresAt && r.state === 'granted') facts.push({ title: 'Ends', value: formatTime(r.expiresAt) });
  return facts;
}
