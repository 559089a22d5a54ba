import { renderTemplate, type AdaptiveCardJson } from './render';

/** Cards of access requests: the request form, its confirmation, the approval card, lists and notices. */

export interface Fact {
  title: string;
  value: string;
}

export type Tone = 'default' | 'good' | 'attention' | 'warning' | 'accent';

function color(tone: Tone | undefined): string {
  return tone === 'good' ? 'Good' : tone === 'attention' ? 'Attention' : tone === 'warning' ? 'Warning' : tone === 'accent' ? 'Accent' : 'Default';
}

// ---- the request form -------------------------------------------------------------------

export interface RequestFormData {
  intro: string;
  error?: string | null;
  resources: Array<{ title: string; value: string }>;
  durations: Array<{ title: string; value: string }>;
  /** Preselected values. */
  resource?: string | null;
  duration?: string | null;
  justification?: string | null;
}

/** Pick a resource (a filtered, searchable list), a duration and a justification. */
export function renderRequestForm(d: RequestFormData): AdaptiveCardJson {
  return renderTemplate('access-request-form', {
    intro: d.intro,
    error: d.error ?? '',
    resources: d.resources,
    durations: d.durations,
    resource: d.resource ?? '',
    duration: d.duration ?? 'default',
    justification: d.justification ?? '',
  });
}

// ---- the confirmation -------------------------------------------------------------------

export interface ConfirmData {
  /** Server-side draft id; the only thing the buttons carry. */
  draft: string;
  intro: string;
  note?: string | null;
  facts: Fact[];
}

export function renderRequestConfirm(d: ConfirmData): AdaptiveCardJson {
  return renderTemplate('access-request-confirm', { draft: d.draft, intro: d.intro, note: d.note ?? '', facts: d.facts });
}

// ---- the request card (approvers' and requester's copies) ----------------------------------

export interface RequestCardData {
  requestId: string;
  /** The stage the buttons act on; a click from an older stage's card is refused. */
  stage: number;
  title: string;
  status: string;
  statusTone: Tone;
  banner?: string | null;
  bannerTone?: Tone;
  facts: Fact[];
  history: Fact[];
  /** Approve / Deny / Forward and the comment box: only for a current approver. */
  showDecide: boolean;
  /** The requester's cancel button while the request is pending. */
  showCancel: boolean;
  /** Approving needs fresh MFA: a box for the authenticator code (local), or a new sign-in (production). */
  askMfa?: 'code' | 'sign-in' | null;
  /**
   * Teams user ids who get their own view by automatic refresh (Universal Actions): the
   * current approvers see buttons, everyone else the status. At most 60.
   */
  refreshUserIds: string[];
}

export function renderRequestCard(d: RequestCardData): AdaptiveCardJson {
  const card = renderTemplate('access-request', {
    requestId: d.requestId,
    stage: d.stage,
    title: d.title,
    status: d.status,
    statusColor: color(d.statusTone),
    headerStyle: d.statusTone === 'good' ? 'good' : d.statusTone === 'attention' ? 'attention' : d.statusTone === 'warning' ? 'warning' : 'emphasis',
    banner: d.banner ?? '',
    bannerColor: color(d.bannerTone ?? 'warning'),
    facts: d.facts,
    history: d.history,
    showDecide: d.showDecide,
    showCancel: d.showCancel,
    askMfaCode: d.showDecide && d.askMfa === 'code',
    askStepUp: d.showDecide && d.askMfa === 'sign-in',
  });
  if (d.refreshUserIds.length) {
    card.refresh = {
      action: { type: 'Action.Execute', title: 'Refresh', verb: 'access.refresh', data: { requestId: d.requestId, stage: d.stage } },
      userIds: d.refreshUserIds.slice(0, 60),
    };
  }
  return card;
}

// ---- lists --------------------------------------------------------------------------------

export interface RequestListItem {
  id: string;
  heading: string;
  status: string;
  statusTone: Tone;
  facts: Fact[];
  cancellable: boolean;
}

export function renderRequestList(d: { title: string; intro: string; banner?: string | null; bannerTone?: Tone; items: RequestListItem[] }): AdaptiveCardJson {
  return renderTemplate('access-request-list', {
    title: d.title,
    intro: d.intro,
    banner: d.banner ?? '',
    bannerColor: color(d.bannerTone ?? 'good'),
    items: d.items.map((i) => ({ ...i, statusColor: color(i.statusTone) })),
  });
}

// ---- notices with buttons ---------------------------------------------------------------------

export interface NoticeAction {
  id: string;
  title: string;
  verb: string;
  data: Record<string, string | number>;
}

/** A titled message with optional facts and buttons: refusals with an offer, outcomes, the expiry reminder. */
export function renderAccessNotice(d: { title: string; text: string; tone?: Tone; facts?: Fact[]; actions?: NoticeAction[] }): AdaptiveCardJson {
  return renderTemplate('access-notice', { title: d.title, text: d.text, color: color(d.tone), facts: d.facts ?? [], actions: d.actions ?? [] });
}
