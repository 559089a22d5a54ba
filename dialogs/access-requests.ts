import { randomUUID } from 'node:crypto';
import { TurnContext } from 'botbuilder';
import type { TurnState } from '@microsoft/teams-ai';
import { renderAccessNotice, renderRequestConfirm, renderRequestForm, renderRequestList, type Fact, type RequestListItem, type Tone } from '../adaptive-cards/access';
import type { AdaptiveCardJson } from '../adaptive-cards/render';
import type { BotDeps, HelpdeskApp } from '../bot/deps';
import type { MenuRegistry } from '../bot/menu';
import { turnInfo } from '../bot/turn-info';
import { findResourceById, resolveLeading, resolveResource, searchResources, type CatalogResource } from '../directory/catalog';
import type { AccessRequest } from '../store/access-requests';
import { formatDuration, formatTime, parseDuration } from './access-duration';
import { describeState, isRequestId, stateTone, type AccessService, type ActionResult } from './access-service';
import { sendCard } from './reply';

/**
 * Access requests in chat: asking ("request access", "I need the payroll reports for two
 * weeks"), the form and confirmation cards, the approval card's buttons, "my requests",
 * "cancel REQ-1042", "what's waiting for me" and "forward REQ-1042 to <name>". The rules
 * live in {@link AccessService}; this module turns chat and clicks into calls to it.
 *
 * Only in a 1:1 chat: a justification or a decision is nobody else's business.
 */

/** What a request may be started with; the natural-language router fills these from free text. */
export interface AccessEntities {
  /** A catalog id, name or alias ("payroll-reports", "Payroll Reports", "payroll"). */
  resource?: string;
  durationHours?: number;
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
  hours: number | null;
  justification: string | null;
  extendsRequestId: string | null;
}

const REQUEST_TEXT = /^\s*(?:request|ask\s+for|get)\s+access(?:\s+to\s+(.+?))?(?:\s+for\s+(.+?))?\s*[.!?]*\s*$/i;
const NEED_TEXT =
  /^\s*(?:i\s+need|i\s+want|i\s+would\s+like|i'd\s+like|can\s+i\s+(?:get|have)|please\s+give\s+me|give\s+me)\s+(?:access\s+to\s+)?(.+?)(?:\s+(?:for\s+(.+?)|(permanently|indefinitely|forever)))?(?:\s+(?:because|as|since)\s+(.+?))?\s*[.!?]*\s*$/i;
const MY_REQUESTS_TEXT = /^\s*(?:my\s+(?:access\s+)?requests|show\s+my\s+(?:access\s+)?requests|request\s+status)\s*[?.!]*\s*$/i;
// "cancel REQ-1042" or "cancel request <anything>"; a bare "cancel ..." belongs to other flows.
const CANCEL_TEXT = /^\s*cancel\s+(?:(?:access\s+)?request\s+(\S+)|(REQ-?\d+))\s*[.!]*\s*$/i;
const WAITING_TEXT = /^\s*(?:what(?:'s|\s+is)\s+waiting\s+for\s+me|waiting\s+for\s+me|my\s+approvals|pending\s+approvals|approvals)\s*[?.!]*\s*$/i;
const FORWARD_TEXT = /^\s*forward\s+(\S+)\s+to\s+(.+?)\s*[.!]*\s*$/i;
const STATUS_TEXT = /^\s*(?:status\s+(?:of\s+)?)?(REQ-?\d{1,9})\s*[?.!]*\s*$/i;

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

/** Registers the routes, card verbs and menu items of access requests. */
export function registerAccessRequests(app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry, service: AccessService): void {
  const flow = new AccessFlow(deps, service);
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
    key: 'approvals',
    audience: 'manager',
    say: "what's waiting for me",
    description: 'Access requests waiting for your decision, with Approve and Deny buttons.',
    button: 'Waiting for me',
    run: (context) => flow.sendWaiting(context),
  });

  app.message(REQUEST_TEXT, async (context, state) => {
    const m = REQUEST_TEXT.exec(context.activity.text ?? '')!;
    await flow.start(context, state, entitiesFrom(m[1], m[2], undefined));
  });
  // "I need X" only when X names something in the catalog; anything else is not ours.
  app.message(
    async (context) => {
      const m = NEED_TEXT.exec(context.activity.text ?? '');
      return Boolean(m && resolveResource(service.catalog, m[1]!));
    },
    async (context, state) => {
      const m = NEED_TEXT.exec(context.activity.text ?? '')!;
      await flow.start(context, state, entitiesFrom(m[1], m[2] ?? m[3], m[4]));
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
  exec('access.refresh', (c, _s, d) => flow.refresh(c, d));
  exec('access.cancel', (c, _s, d) => flow.cancel(c, d));
  exec('access.list-cancel', (c, _s, d) => flow.cancelFromList(c, d));
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
  duration?: { hours?: number; until?: string; permanent?: boolean };
  requestIds?: string[];
}

/**
 * Runs the flow of one recognized intent with its entities pre-filled; false when the intent
 * is not one of {@link ACCESS_INTENTS}. For the router:
 * `for (const i of ACCESS_INTENTS) intents.handle(i, (c, s, u) => handleAccessIntent(i, c, s, u.entities).then(() => undefined))`.
 * Everything is still confirmed by the user and checked on the server.
 */
export async function handleAccessIntent(intent: string, context: TurnContext, state: TurnState, entities: RecognizedAccessEntities = {}): Promise<boolean> {
  const flow = flowOf(context);
  const requestId = entities.requestIds?.find((id) => isRequestId(id));
  switch (intent) {
    case 'access.request': {
      const r = entities.resources?.[0];
      const d = entities.duration;
      let durationHours = d?.hours;
      if (durationHours === undefined && d?.until) durationHours = Math.ceil((new Date(d.until).getTime() - flow.now().getTime()) / 3_600_000);
      await flow.start(context, state, {
        resource: r?.id ?? r?.key ?? r?.name,
        permanent: d?.permanent,
        durationHours: durationHours !== undefined && durationHours > 0 ? durationHours : undefined,
      });
      return true;
    }
    case 'access.cancel':
      if (requestId) await flow.cancelByText(context, requestId);
      else await flow.sendMyRequests(context);
      return true;
    case 'access.status':
      if (requestId) await flow.sendStatus(context, requestId);
      else await flow.sendMyRequests(context);
      return true;
    case 'access.list':
      await flow.sendMyRequests(context);
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

function personalOnly(): AdaptiveCardJson {
  return renderAccessNotice({ title: 'Only in a 1:1 chat', text: 'Access requests and approvals are handled in your 1:1 chat with me, not here.', tone: 'warning' });
}

class AccessFlow {
  constructor(
    private readonly deps: BotDeps,
    private readonly service: AccessService,
  ) {}

  now(): Date {
    return this.deps.clock();
  }

  /** One request's card, for its requester or one of its approvers. */
  async sendStatus(context: TurnContext, requestId: string): Promise<void> {
    const { user, conversationKind } = turnInfo(context);
    if (conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const request = this.deps.store.requests.get(requestId);
    const involved = request && (request.requesterId === user.id || this.deps.store.requests.approvers(request.id, request.stage).some((a) => a.approverId === user.id));
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
    const hours = e.permanent ? null : typeof e.durationHours === 'number' && e.durationHours > 0 ? Math.round(e.durationHours) : undefined;
    const justification = e.justification?.trim().slice(0, 500) || null;
    if (!e.resource) return this.form({ hours, justification });
    const resource = resolveResource(this.service.catalog, e.resource) ?? findResourceById(this.service.catalog, e.resource) ?? resolveLeading(this.service.catalog, e.resource);
    if (!resource) {
      const like = searchResources(this.service.catalog, e.resource);
      const hint = like.length ? ` Did you mean ${like.map((r) => r.name).join(', ')}?` : '';
      return this.form({ hours, justification }, `I could not find "${e.resource.slice(0, 80)}" among the things you can request.${hint} Pick one below.`);
    }
    return this.review_(context, state, {
      id: randomUUID(),
      resourceId: resource.id,
      hours: hours === undefined ? resource.defaultHours : hours,
      justification,
      extendsRequestId: e.extendsRequestId ?? null,
    });
  }

  private form(prefill: { resourceId?: string; hours?: number | null; justification?: string | null }, error?: string): AdaptiveCardJson {
    const duration = prefill.hours === null ? 'permanent' : prefill.hours === undefined ? 'default' : String(prefill.hours);
    const durations = DURATION_CHOICES.some((c) => c.value === duration) ? DURATION_CHOICES : [...DURATION_CHOICES, { title: formatDuration(prefill.hours!), value: duration }];
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
      return this.form({ resourceId: resource.id, hours: draft.hours, justification: draft.justification }, refusal.message);
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
      { title: 'Duration', value: draft.hours === null ? formatDuration(null) : `${formatDuration(draft.hours)} from approval` },
      { title: 'Justification', value: draft.justification ?? '(none)' },
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
    if (duration === 'permanent') hours = null;
    else if (duration !== 'default') {
      const n = Number(duration);
      if (!Number.isInteger(n) || n < 1 || n > 87_600) return this.form({ resourceId, justification }, 'Pick a duration from the list.');
      hours = n;
    }
    const resource = findResourceById(this.service.catalog, resourceId);
    if (!resource) return this.form({ hours, justification }, 'Pick what you need access to.');
    const previous = (state.conversation as Record<string, unknown>).accessDraft as Draft | undefined;
    return this.review_(context, state, {
      id: randomUUID(),
      resourceId: resource.id,
      hours: hours === undefined ? resource.defaultHours : hours,
      justification: justification || null,
      extendsRequestId: previous?.resourceId === resource.id ? previous.extendsRequestId : null,
    });
  }

  async edit(_context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const draft = this.draftOf(state, data);
    if (!draft) return this.form({});
    return this.form({ resourceId: draft.resourceId, hours: draft.hours, justification: draft.justification });
  }

  async discard(_context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    if (this.draftOf(state, data)) delete (state.conversation as Record<string, unknown>).accessDraft;
    return renderAccessNotice({ title: 'Discarded', text: 'Nothing was requested. Type **request access** to start again.' });
  }

  async useMax(context: TurnContext, state: TurnState, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const draft = this.draftOf(state, data);
    const resource = draft && findResourceById(this.service.catalog, draft.resourceId);
    if (!draft || !resource) return stale();
    return this.review_(context, state, { ...draft, id: randomUUID(), hours: resource.maxHours });
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
    const result = await this.service.submit(info.user, { resource, hours: draft.hours, justification: draft.justification, extendsRequestId: draft.extendsRequestId }, info.correlationId);
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
        { title: 'Duration', value: formatDuration(result.request.durationHours) },
      ],
    });
  }

  // ---- deciding ------------------------------------------------------------------------------

  async decide(context: TurnContext, data: Record<string, unknown>, decision: 'approve' | 'deny'): Promise<AdaptiveCardJson> {
    const info = turnInfo(context);
    const parsed = cardTarget(data);
    if (!parsed) return stale();
    const result = await this.service.decide(info.user, parsed.requestId, parsed.stage, decision, data.comment, info.correlationId);
    return this.resultCard(result, info.user.id);
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
    return this.service.cardFor(result.request, viewerId, { text: result.message, tone: toneOf(result) });
  }

  // ---- views -----------------------------------------------------------------------------------

  async sendMyRequests(context: TurnContext): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    await sendCard(context, this.myRequestsCard(info.user.id));
  }

  private myRequestsCard(userId: string, banner?: { text: string; tone: Tone }): AdaptiveCardJson {
    const requests = this.deps.store.requests.listForRequester(userId, 10);
    const items: RequestListItem[] = requests.map((r) => ({
      id: r.id,
      heading: `${r.id} · ${r.policy.name}`,
      status: describeState(r),
      statusTone: stateTone(r.state),
      facts: listFacts(r, this.deps.store.requests.approvers(r.id, r.stage).map((a) => a.approverName)),
      cancellable: r.state === 'pending',
    }));
    return renderRequestList({
      title: 'My access requests',
      intro: items.length ? `Your ${items.length === 1 ? 'request' : `latest ${items.length} requests`}, newest first.` : 'You have not requested any access yet. Type **request access** to start.',
      banner: banner?.text ?? null,
      bannerTone: banner?.tone,
      items,
    });
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
    if (!requests.length) {
      await context.sendActivity('Nothing is waiting for your decision.');
      return;
    }
    await context.sendActivity(`${requests.length === 1 ? 'One request waits' : `${requests.length} requests wait`} for your decision:`);
    const reference = TurnContext.getConversationReference(context.activity);
    for (const r of requests) {
      const activityId = await sendCard(context, this.service.cardFor(r, info.user.id));
      if (activityId) this.deps.store.cards.add({ requestId: r.id, userId: info.user.id, role: 'approver', stage: r.stage, activityId, reference });
    }
  }

  async forwardByText(context: TurnContext, rawId: string, who: string): Promise<void> {
    const info = turnInfo(context);
    if (info.conversationKind !== 'personal') return void (await sendCard(context, personalOnly()));
    const id = rawId.toUpperCase();
    const request = isRequestId(id) ? this.deps.store.requests.get(id) : null;
    if (!request) {
      await context.sendActivity('Usage: `forward REQ-1042 to <name or email>`, for a request waiting for your decision.');
      return;
    }
    const result = await this.service.forward(info.user, id, request.stage, who, info.correlationId);
    await sendCard(context, renderAccessNotice({ title: result.outcome === 'done' ? `Forwarded ${id}` : `${id} not forwarded`, text: result.message, tone: toneOf(result) }));
  }
}

/** Request id and stage from a card's data; anything else there is ignored. */
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
    { title: 'Duration', value: formatDuration(r.durationHours) },
    { title: 'Requested', value: formatTime(r.createdAt) },
  ];
  if (r.state === 'pending') facts.push({ title: 'Waiting for', value: approvers.join(', ') || 'approvers' });
  if (r.closedByName && r.state !== 'pending') facts.push({ title: r.state === 'cancelled' ? 'Cancelled by' : 'Decided by', value: `${r.closedByName}, ${formatTime(r.closedAt!)}` });
  if (r.closeComment) facts.push({ title: 'Comment', value: r.closeComment });
  if (r.expiresAt && r.state === 'granted') facts.push({ title: 'Ends', value: formatTime(r.expiresAt) });
  return facts;
}
