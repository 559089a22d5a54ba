import { renderTemplate, type AdaptiveCardJson } from './render';

/**
 * Cards of self-service sign-in recovery. Buttons carry a verb and the recovery id (and
 * for a few, a fixed choice); who may do what is decided on the server.
 */

export interface Fact {
  title: string;
  value: string;
}

export type Tone = 'default' | 'good' | 'attention' | 'warning' | 'accent';

export interface CardAction {
  /** Element id, for tests and updates. */
  id: string;
  title: string;
  verb: string;
  data: Record<string, unknown>;
  style?: 'default' | 'positive' | 'destructive';
}

function color(tone: Tone | undefined): string {
  return tone === 'good' ? 'Good' : tone === 'attention' ? 'Attention' : tone === 'warning' ? 'Warning' : tone === 'accent' ? 'Accent' : 'Default';
}

function actions(list: readonly CardAction[] | undefined): Array<CardAction & { style: string }> {
  return (list ?? []).map((a) => ({ ...a, style: a.style ?? 'default' }));
}

// ---- notices with next steps ------------------------------------------------------------

export interface SigninNoticeData {
  title: string;
  text: string;
  tone?: Tone;
  facts?: Fact[];
  /** Numbered or bulleted lines under the text. */
  steps?: string[];
  /** One text input (its id), e.g. the name of a colleague. */
  input?: { id: string; label: string; placeholder: string } | null;
  footer?: string | null;
  actions?: CardAction[];
}

/** Refusals, results, diagnoses and menus, each with the next steps as buttons. */
export function renderSigninNotice(d: SigninNoticeData): AdaptiveCardJson {
  return renderTemplate('signin-notice', {
    title: d.title,
    text: d.text,
    color: color(d.tone),
    facts: d.facts ?? [],
    steps: (d.steps ?? []).map((text) => ({ text })),
    input: d.input?.id ?? '',
    inputLabel: d.input?.label ?? '',
    inputPlaceholder: d.input?.placeholder ?? '',
    footer: d.footer ?? '',
    actions: actions(d.actions),
  });
}

// ---- "verify it's you" -----------------------------------------------------------------------

export interface VerifyCardData {
  session: string;
  title: string;
  intro: string;
  banner?: { text: string; tone: Tone } | null;
  /** What is done and what is waiting, one line per verification. */
  status: Fact[];
  /** MFA recovery: the user's methods to pick the lost ones from (value: method id). */
  lost?: Array<{ title: string; value: string }>;
  lostValue?: string;
  lostNote?: string | null;
  /** Offer the authenticator code box, with this label; `alternatives` are buttons beside "Verify code" that do the same check another way. */
  code?: { label: string; alternatives?: CardAction[] } | null;
  /** Ask a person / sign in again. */
  asks?: CardAction[];
  askLabel?: string;
  footer: string;
  actions?: CardAction[];
}

export function renderVerifyCard(d: VerifyCardData): AdaptiveCardJson {
  return renderTemplate('signin-verify', {
    session: d.session,
    title: d.title,
    intro: d.intro,
    banner: d.banner?.text ?? '',
    bannerColor: color(d.banner?.tone),
    status: d.status,
    lost: d.lost ?? [],
    lostValue: d.lostValue ?? '',
    lostNote: d.lostNote ?? '',
    code: Boolean(d.code),
    codeLabel: d.code?.label ?? '',
    codeAlternatives: (d.code?.alternatives ?? []).map((a) => ({ id: a.id, title: a.title, verb: a.verb, data: a.data })),
    asks: (d.asks ?? []).map((a) => ({ id: a.id, title: a.title, verb: a.verb, data: a.data })),
    askLabel: d.askLabel ?? '',
    footer: d.footer,
    actions: actions(d.actions),
  });
}

// ---- a manager's or technician's attestation -------------------------------------------------

export interface AttestCardData {
  title: string;
  intro: string;
  facts: Fact[];
  status: string;
  statusTone: Tone;
  /** Confirm and Decline are offered while the verification is open. */
  open: boolean;
  statement: string;
  actions?: CardAction[];
}

export function renderAttestCard(d: AttestCardData): AdaptiveCardJson {
  return renderTemplate('signin-attest', {
    title: d.title,
    intro: d.intro,
    facts: d.facts,
    status: d.status,
    statusColor: color(d.statusTone),
    open: d.open,
    statement: d.statement,
    actions: actions(d.open ? d.actions : []),
  });
}

// ---- the secret, shown once -------------------------------------------------------------------

export interface SecretCardData {
  title: string;
  intro: string;
  /** The temporary password or pass; empty in the hidden version. Never stored. */
  secret: string;
  facts?: Fact[];
  steps?: string[];
  footer: string;
  actions?: CardAction[];
}

export function renderSecretCard(d: SecretCardData): AdaptiveCardJson {
  return renderTemplate('signin-secret', {
    title: d.title,
    intro: d.intro,
    secret: d.secret,
    facts: d.facts ?? [],
    steps: (d.steps ?? []).map((text) => ({ text })),
    footer: d.footer,
    actions: actions(d.actions),
  });
}
