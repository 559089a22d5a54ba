import { renderAttestCard, renderSecretCard, renderSigninNotice, renderVerifyCard, type CardAction, type Fact, type Tone } from '../../adaptive-cards/signin';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import type { AuthMethod, AuthMethodKind, DirectoryUser } from '../../directory/directory';
import { NOT_DEFAULT_CAPABLE } from '../../directory/rules';
import type { LostMethod, RecoveryFlow, RecoverySession, Verification, VerificationMethod } from '../../store/recovery';
import { formatTime } from '../access-duration';
import { describeRequirement, openSlots, usefulMethods } from './policy';
import type { VerifierAvailability } from './verifier';

/** The cards of sign-in recovery, as pure functions of the recovery and what is known now. */

export const FLOW_TITLES: Record<RecoveryFlow, string> = {
  password: 'Reset your password',
  mfa: 'Recover your sign-in methods (MFA)',
  unlock: 'Unlock your account',
};

/** The recovery as a noun: "Done: password reset". */
export const FLOW_NAMES: Record<RecoveryFlow, string> = {
  password: 'password reset',
  mfa: 'MFA recovery',
  unlock: 'unlock',
};

/** What the user asks for, as a manager or technician reads it. */
export const FLOW_WHAT: Record<RecoveryFlow, string> = {
  password: 'a new temporary password',
  mfa: 'a Temporary Access Pass to register a new sign-in method (lost, new or broken phone)',
  unlock: 'unlocking their account',
};

const KIND_NAMES: Record<AuthMethodKind, string> = {
  password: 'Password',
  microsoftAuthenticator: 'Microsoft Authenticator',
  phone: 'Phone',
  fido2: 'Security key',
  email: 'Email',
  softwareOath: 'Authenticator app (codes)',
  temporaryAccessPass: 'Temporary Access Pass',
  windowsHelloForBusiness: 'Windows Hello for Business',
};

/** "Microsoft Authenticator (iPhone 16), default": type and masked hint, never a secret. */
export function describeMethod(m: { kind: string; hint: string | null; isDefault: boolean }): string {
  const name = KIND_NAMES[m.kind as AuthMethodKind] ?? m.kind;
  return `${name}${m.hint ? ` (${m.hint})` : ''}${m.isDefault ? ', default' : ''}`;
}

/** Methods a user can lose and have removed: not the password, not a pass. */
export function removableMethods(methods: readonly AuthMethod[]): AuthMethod[] {
  return methods.filter((m) => m.kind !== 'password' && m.kind !== 'temporaryAccessPass');
}

/** Methods that could take the default's place (Graph refuses removing the default before them). */
export function defaultCapable(methods: readonly Pick<AuthMethod, 'kind'>[]): boolean {
  return methods.some((m) => !NOT_DEFAULT_CAPABLE.includes(m.kind as AuthMethodKind));
}

export function time(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')} UTC`;
}

const VERIFICATION_LABELS: Record<VerificationMethod, string> = {
  code: 'Authenticator code',
  'sign-in': 'Sign-in with MFA',
  manager: 'Your manager',
  technician: 'Identity technician',
};

function verificationStatus(v: Verification): string {
  switch (v.state) {
    case 'confirmed':
      return v.method === 'code' || v.method === 'sign-in' ? `Done at ${time(v.decidedAt!)}` : `Confirmed by ${v.verifierName} at ${time(v.decidedAt!)}`;
    case 'declined':
      return `Declined by ${v.verifierName} at ${time(v.decidedAt!)}`;
    case 'expired':
      return 'Expired';
    case 'cancelled':
      return 'Cancelled';
    default:
      if (v.method === 'manager') return `Waiting for ${v.verifierName ?? 'your manager'} since ${time(v.requestedAt)}`;
      if (v.method === 'technician') return `Waiting for an identity technician since ${time(v.requestedAt)}`;
      return 'Not done yet';
  }
}

export interface VerifyView {
  session: RecoverySession;
  verifications: Verification[];
  available: VerifierAvailability;
  /** MFA recovery: the user's methods now. */
  methods?: AuthMethod[];
  banner?: { text: string; tone: Tone } | null;
}

/** "Verify it's you": what is needed, what is done, and the ways still open. */
export function verifyCard(v: VerifyView): AdaptiveCardJson {
  const s = v.session;
  const confirmed = v.verifications.filter((x) => x.state === 'confirmed').map((x) => x.method);
  const pending = new Set(v.verifications.filter((x) => x.state === 'pending').map((x) => x.method));
  const useful = usefulMethods(s.requirement, confirmed).filter((m) => v.available[m]);
  const status: Fact[] = [{ title: 'Needed', value: capitalize(describeRequirement(s.requirement)) }];
  for (const x of v.verifications) if (x.method !== 'code' || x.state !== 'pending') status.push({ title: VERIFICATION_LABELS[x.method], value: verificationStatus(x) });
  const asked = v.verifications.some((x) => x.method === 'manager' || x.method === 'technician');
  if (s.flow === 'mfa' && asked) {
    status.push({ title: 'To remove', value: s.lostMethods.length ? s.lostMethods.map(describeMethod).join('; ') : 'nothing (you only need a pass to add a method)' });
  }

  const asks: CardAction[] = [];
  if (useful.includes('manager') && !pending.has('manager') && v.available.managerUser) {
    asks.push({ id: 'signin-ask-manager', title: `Ask my manager, ${v.available.managerUser.displayName}`, verb: 'signin.ask', data: { session: s.id, method: 'manager' } });
  }
  if (useful.includes('technician') && !pending.has('technician')) {
    asks.push({ id: 'signin-ask-technician', title: 'Ask an identity technician', verb: 'signin.ask', data: { session: s.id, method: 'technician' } });
  }
  const codeShown = useful.includes('code') && v.available.code;
  // Signing in again replaces the code (the same phone): next to "Verify code" when both are offered.
  const stepUp: CardAction[] = useful.includes('sign-in') ? [{ id: 'signin-step-up', title: 'Sign in again with MFA', verb: 'signin.step-up', data: { session: s.id } }] : [];
  if (!codeShown) asks.push(...stepUp);
  // Two checks still open (a privileged account, or MFA recovery that needs two people): the
  // buttons under the code are the second check, not another way to do the first.
  const open = openSlots(s.requirement, confirmed)
    .map((slot) => slot.filter((m) => v.available[m] && !confirmed.includes(m)))
    .filter((slot) => slot.length > 0);
  const both = open.length > 1;

  const removable = s.flow === 'mfa' && !asked ? removableMethods(v.methods ?? []) : [];
  const def = removable.find((m) => m.isDefault);
  const authenticators = v.available.codeMethods.map((m) => describeMethod({ ...m, isDefault: false })).join(' or ');
  const intro =
    s.flow === 'mfa'
      ? 'Pick the methods you lost, then ask a person who knows you to confirm it is really you. Your lost phone or app cannot prove that. Once confirmed, I remove what you picked and give you a Temporary Access Pass to register a new method.'
      : `First I need to be sure it is you.${s.privileged ? ' Your account is privileged (an admin role or a privileged group), so two different checks are needed.' : ''}`;
  return renderVerifyCard({
    session: s.id,
    title: FLOW_TITLES[s.flow],
    intro,
    banner: v.banner ?? null,
    status,
    lost: removable.map((m) => ({ title: describeMethod(m), value: m.id })),
    lostValue: s.lostMethods.map((m) => m.id).join(','),
    lostNote:
      def && removable.filter((m) => m !== def && !NOT_DEFAULT_CAPABLE.includes(m.kind)).length
        ? `${describeMethod({ ...def, isDefault: false })} is your default method: it can only be removed together with the other methods that could replace it.`
        : null,
    code: codeShown
      ? { label: `${both ? 'First check: open' : 'Open'} ${authenticators || 'your authenticator app'} and type the 6-digit code it shows for Northwind Traders.`, alternatives: stepUp }
      : null,
    asks,
    askLabel: askLabel(s.flow, asks, codeShown, both ? open : null),
    footer: `Reference ${s.id}. Nothing changes until you are verified; this request ends at ${time(s.expiresAt)} if it is not finished.`,
    actions: [{ id: 'signin-cancel', title: 'Cancel', verb: 'signin.cancel', data: { session: s.id } }],
  });
}

/**
 * The line above the ask buttons. With one check open they are alternatives ("Or:" after the
 * code box); with two open (`open`, one list of methods per check) they are the second check,
 * needed as well.
 */
function askLabel(flow: RecoveryFlow, asks: readonly CardAction[], codeShown: boolean, open: VerificationMethod[][] | null): string {
  if (!asks.length) return '';
  if (open) {
    return codeShown
      ? 'Second check, needed as well: ask someone who knows you to confirm it is you.'
      : `Both checks are needed: ${describeRequirement({ slots: open })}.`;
  }
  if (codeShown) return 'Or:';
  if (asks.some((a) => a.verb !== 'signin.ask')) return 'One of these is enough:';
  return flow === 'mfa' ? 'Who can confirm it is you?' : 'Ask someone who knows you to confirm it is you:';
}

/** After a person confirmed: the user goes on with one click (so they are there when the secret is shown). */
export function readyCard(s: RecoverySession, verifications: Verification[]): AdaptiveCardJson {
  const by = verifications.filter((v) => v.state === 'confirmed').map((v) => (v.method === 'code' ? 'your authenticator code' : v.method === 'sign-in' ? 'your MFA sign-in' : v.verifierName));
  const button =
    s.flow === 'password'
      ? 'Show my temporary password'
      : s.flow === 'unlock'
        ? 'Unlock my account now'
        : s.lostMethods.length
          ? `Remove ${s.lostMethods.length === 1 ? 'the lost method' : `the ${s.lostMethods.length} lost methods`} and give me a pass`
          : 'Give me a Temporary Access Pass';
  return renderSigninNotice({
    title: `Verified: ${FLOW_NAMES[s.flow]}`,
    text: `You are verified (${by.join(' and ')}). Go on when you are ready to note ${s.flow === 'password' ? 'the password' : s.flow === 'mfa' ? 'the pass' : 'the result'}: it is shown once, only here.`,
    tone: 'good',
    facts: [
      { title: 'Reference', value: s.id },
      { title: 'Go on before', value: time(s.expiresAt) },
    ],
    actions: [
      { id: 'signin-complete', title: button, verb: 'signin.complete', data: { session: s.id }, style: 'positive' },
      { id: 'signin-cancel', title: 'Cancel', verb: 'signin.cancel', data: { session: s.id } },
    ],
  });
}

const ENDED_TEXT: Record<string, string> = {
  expired: 'This request timed out before it was finished. Nothing was changed.',
  cancelled: 'This request was cancelled. Nothing was changed.',
  superseded: 'You started a new request, so this one was closed. Nothing was changed here.',
  declined: 'The person asked to confirm your identity declined. Nothing was changed.',
  'locked-out': 'Too many verifications failed, so self-service is locked for now. Nothing was changed.',
  disabled: 'Your account is disabled. Nothing was changed; the identity technicians were told.',
  synced: 'Your account is managed in the on-premises Active Directory. Nothing was changed; the identity technicians have a ticket.',
  'too-many': 'You reached the number of recoveries allowed in 24 hours. Nothing was changed.',
  failed: 'The directory refused the change. The identity technicians were told.',
  interrupted: 'The helpdesk stopped while making the change, so it may not have been made and nothing secret was shown. Start again; the identity technicians were told.',
};

/** How a recovery cut short by a stop ended, once the directory was re-read (outcome codes of `signin.recovery-reconciled`). */
const RECONCILED_TEXT: Record<string, { title: string; text: string }> = {
  'interrupted-not-done': {
    title: 'not done',
    text: 'The change was cut short (the helpdesk stopped while making the change, or the directory did not answer it). The directory shows it was not made, and nothing secret was shown. Start again; the identity technicians were told.',
  },
  'secret-not-shown': {
    title: 'start again',
    text: 'The change was cut short (the helpdesk stopped while making the change, or the directory did not answer it): the directory shows it was made, but what you needed to see was never shown and cannot be shown again. Start again to get a new one; the identity technicians were told.',
  },
  'outcome-unknown': {
    title: 'check needed',
    text: 'The change was cut short (the helpdesk stopped while making the change, or the directory did not answer it), and the directory does not show whether it was made. Nothing secret was shown. The identity technicians were told and will check; you can also start again.',
  },
};

/** The user's card once the recovery is over: done, or why it ended. */
export function endedCard(s: RecoverySession): AdaptiveCardJson {
  const reconciled = s.outcome ? RECONCILED_TEXT[s.outcome] : undefined;
  if (reconciled) {
    return renderSigninNotice({
      title: `${FLOW_TITLES[s.flow]}: ${reconciled.title}`,
      text: reconciled.text,
      tone: 'warning',
      facts: [{ title: 'Reference', value: s.id }],
      actions: [{ id: 'signin-again', title: 'Start again', verb: 'signin.start', data: { flow: s.flow } }],
    });
  }
  if (s.state === 'completed') {
    const done =
      s.flow === 'password'
        ? `Your password was reset at ${time(s.completedAt!)}.`
        : s.flow === 'mfa'
          ? `Your Temporary Access Pass was issued at ${time(s.completedAt!)}.`
          : `Your account was unlocked at ${time(s.completedAt!)}.`;
    return renderSigninNotice({ title: `Done: ${FLOW_NAMES[s.flow]}`, text: done, tone: 'good', facts: [{ title: 'Reference', value: s.id }] });
  }
  if (s.state === 'completing') {
    return renderSigninNotice({ title: FLOW_TITLES[s.flow], text: 'Working on it: the result follows in a moment.', facts: [{ title: 'Reference', value: s.id }] });
  }
  const key = s.state === 'expired' ? 'expired' : (s.outcome ?? s.state);
  return renderSigninNotice({
    title: `${FLOW_TITLES[s.flow]}: ${s.state === 'expired' ? 'timed out' : s.state === 'cancelled' ? 'cancelled' : 'not done'}`,
    text: ENDED_TEXT[key] ?? 'This request is closed. Nothing was changed.',
    tone: s.state === 'cancelled' ? 'default' : 'warning',
    facts: [{ title: 'Reference', value: s.id }],
    actions: s.state === 'cancelled' || s.outcome === 'superseded' ? [] : [{ id: 'signin-again', title: 'Start again', verb: 'signin.start', data: { flow: s.flow } }],
  });
}

export interface AttestView {
  session: RecoverySession;
  method: 'manager' | 'technician';
  subject: DirectoryUser | null;
  verification: Verification | null;
  /** A line for the clicker about their click (refusal or result). */
  note?: { text: string; tone: Tone } | null;
}

/** The manager's or technicians' card: who asks, what for, and Confirm / Decline while it is open. */
export function attestCard(v: AttestView): AdaptiveCardJson {
  const s = v.session;
  const subject = v.subject;
  const who = subject ? `${subject.displayName} (${subject.userPrincipalName})` : s.userName;
  const facts: Fact[] = [{ title: 'Who asks', value: who }];
  if (subject?.jobTitle || subject?.department) facts.push({ title: 'Job', value: [subject.jobTitle, subject.department].filter(Boolean).join(', ') });
  facts.push({ title: 'Asks for', value: FLOW_WHAT[s.flow] });
  if (s.flow === 'mfa') facts.push({ title: 'Lost methods', value: s.lostMethods.length ? s.lostMethods.map(describeMethod).join('; ') : 'none to remove' });
  if (v.verification) facts.push({ title: 'Asked at', value: formatTime(v.verification.requestedAt) });
  facts.push({ title: 'Reference', value: s.id });

  const open = v.verification?.state === 'pending' && (s.state === 'verifying' || s.state === 'verified');
  let status: string;
  let tone: Tone = 'default';
  const ver = v.verification;
  if (ver?.state === 'confirmed') {
    status = `Confirmed by ${ver.verifierName} at ${formatTime(ver.decidedAt!)}.`;
    tone = 'good';
  } else if (ver?.state === 'declined') {
    status = `Declined by ${ver.verifierName} at ${formatTime(ver.decidedAt!)}. Nothing was changed.`;
    tone = 'attention';
  } else if (s.state === 'expired' || ver?.state === 'expired') {
    status = `This request expired at ${formatTime(s.expiresAt)}. Nothing was changed.`;
    tone = 'warning';
  } else if (!open) {
    status = 'This request is closed: no confirmation is needed any more.';
    tone = 'warning';
  } else {
    status = `Waiting for ${v.method === 'manager' ? 'your' : 'a technician\u2019s'} confirmation until ${time(s.expiresAt)}.`;
  }
  const intro =
    v.method === 'manager'
      ? `${s.userName} asks the helpdesk for ${FLOW_WHAT[s.flow]}. As their manager, please make sure it is really them: call them on a number you already know, or talk in person. Do not rely on a chat message or an e-mail.`
      : `${s.userName} asks the helpdesk for ${FLOW_WHAT[s.flow]} and needs an identity technician to verify them. Any technician can take this: call them back on a number from the directory or HR records, or see them in person.`;
  return renderAttestCard({
    title: `Verify ${s.userName}'s identity`,
    intro: v.note ? `${v.note.text}\n\n${intro}` : intro,
    facts,
    status,
    statusTone: v.note?.tone ?? tone,
    open,
    statement: 'I confirmed this with them in person or by a call:',
    actions: [
      { id: 'attest-confirm', title: 'Confirm', verb: 'signin.confirm', data: { session: s.id, method: v.method }, style: 'positive' },
      { id: 'attest-decline', title: 'Decline', verb: 'signin.decline', data: { session: s.id, method: v.method }, style: 'destructive' },
    ],
  });
}

/** A note on an attestation card for a click that did nothing. */
export function attestNotice(title: string, text: string, tone: Tone = 'warning'): AdaptiveCardJson {
  return renderSigninNotice({ title, text, tone });
}

// ---- the secret ---------------------------------------------------------------------------------

/** The temporary password, shown once, with "I have it". */
export function passwordCard(s: RecoverySession, user: DirectoryUser, password: string, hideAt: Date): AdaptiveCardJson {
  return renderSecretCard({
    title: 'Your temporary password',
    intro: `Sign in as ${user.userPrincipalName} with this password. You will be asked to choose your own password right away.`,
    secret: password,
    facts: [
      { title: 'Set at', value: formatTime(s.completedAt ?? new Date()) },
      { title: 'Reference', value: s.id },
    ],
    steps: [
      '1. Note the password now, or type it straight into the sign-in page. Do not paste it into any chat or e-mail.',
      '2. Sign in; when asked, choose a new password that only you know.',
      '3. Click "I have it" to hide this message.',
    ],
    footer: `Shown once, only in this chat. This message is hidden at ${time(hideAt)} or when you click "I have it". Nobody at the helpdesk can see it.`,
    actions: [{ id: 'secret-hide', title: 'I have it', verb: 'signin.hide', data: { session: s.id }, style: 'positive' }],
  });
}

/** The Temporary Access Pass, shown once, with the steps to register a new method. */
export function tapCard(s: RecoverySession, user: DirectoryUser, pass: string, expiresAt: Date, oneTime: boolean, hideAt: Date, removed: string[], kept: string[]): AdaptiveCardJson {
  const facts: Fact[] = [
    { title: 'Valid until', value: formatTime(expiresAt) },
    { title: 'Use', value: oneTime ? 'once' : 'as often as needed until it expires' },
  ];
  if (removed.length) facts.push({ title: 'Removed', value: removed.join('; ') });
  if (kept.length) facts.push({ title: 'Kept', value: kept.join('; ') });
  facts.push({ title: 'Reference', value: s.id });
  return renderSecretCard({
    title: 'Your Temporary Access Pass',
    intro: `Use this pass instead of your password and MFA to sign in once as ${user.userPrincipalName} and register a new sign-in method.`,
    secret: pass,
    facts,
    steps: [
      '1. On a computer, open https://mysignins.microsoft.com/security-info and sign in with your user name and this pass.',
      '2. Choose "Add sign-in method", pick Microsoft Authenticator and follow the steps on your new phone.',
      `3. Finish before ${time(expiresAt)}${oneTime ? '; the pass works only once' : ''}. Then click "I have it" to hide this message.`,
    ],
    footer: `Shown once, only in this chat. This message is hidden at ${time(hideAt)} or when you click "I have it". Nobody at the helpdesk can see it.`,
    actions: [{ id: 'secret-hide', title: 'I have it', verb: 'signin.hide', data: { session: s.id }, style: 'positive' }],
  });
}

/** What replaces the secret's message: that it was shown, and what to do if it was not noted. */
export function hiddenSecretCard(s: RecoverySession): AdaptiveCardJson {
  const isPass = s.flow === 'mfa';
  return renderSecretCard({
    title: isPass ? 'Temporary Access Pass: shown and hidden' : 'Temporary password: shown and hidden',
    intro:
      `Shown at ${time(s.secretShownAt ?? s.completedAt ?? new Date())} and hidden at ${time(s.secretHiddenAt ?? new Date())}. ` +
      (isPass
        ? `The pass works until ${s.secretExpiresAt ? time(s.secretExpiresAt) : 'it expires'}. If you did not note it, type recover my MFA to get a new one (the old one then stops working).`
        : 'If you did not note it, type reset my password to get a new one.'),
    secret: '',
    facts: [{ title: 'Reference', value: s.id }],
    footer: 'The helpdesk never stores a password or a pass.',
  });
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export type { LostMethod };
