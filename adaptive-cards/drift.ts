import { renderTemplate, type AdaptiveCardJson } from './render';
import { shown, type Fact, type Tone } from './technician';

/** The card of a drift finding's ticket: what was found, the ticket, and the one-click actions. */

export interface DriftTicketCardData {
  /** The finding (`DRF-1001`) the finding buttons act on. */
  finding: string;
  /** The ticket (`TKT-1001`) the ticket buttons act on. */
  ticket: string;
  heading: string;
  title: string;
  text: string;
  status: string;
  tone: Tone;
  facts: Fact[];
  /** A removal waiting for confirmation or approval, running, or failed; empty when none. */
  removal: string;
  removalTone: Tone;
  /** An exception waiting for a second technician's approval (or whose proposal expired); empty when none. */
  exception: string;
  ticketFacts: Fact[];
  history: Fact[];
  footer: string;
  /** Separation of duties: the two memberships one of which is removed (values are group ids). */
  removeChoices: Array<{ title: string; value: string }>;
  canRemove: boolean;
  canReview: boolean;
  canAccept: boolean;
  canConfirm: boolean;
  canApprove: boolean;
  canCancel: boolean;
  canRevoke: boolean;
  /** A proposed exception (privileged): a second technician approves it, anyone cancels it. */
  canApproveException: boolean;
  canCancelException: boolean;
  ticketOpen: boolean;
}

function color(tone: Tone): string {
  return tone === 'good' ? 'Good' : tone === 'attention' ? 'Attention' : tone === 'warning' ? 'Warning' : tone === 'accent' ? 'Accent' : 'Default';
}

function headerStyle(tone: Tone): string {
  return tone === 'good' ? 'good' : tone === 'attention' ? 'attention' : tone === 'warning' ? 'warning' : tone === 'accent' ? 'accent' : 'emphasis';
}

const facts = (list: Fact[]): Fact[] => list.map((f) => ({ title: shown(f.title), value: shown(f.value) }));

/**
 * A drift ticket as posted in the technicians' channel. While the finding is open: Remove
 * (a choice of the two memberships for a separation-of-duties conflict), Open a review and
 * Accept with a reason; while a removal is proposed: Confirm, Approve (second technician) and
 * Cancel; while a privileged exception is proposed: Approve (second technician) and Cancel;
 * once accepted: Revoke the exception; while the ticket is open: Take or assign, and
 * Close. Five buttons at most, as Teams shows them; the buttons carry only the finding or
 * ticket id.
 */
export function renderDriftTicketCard(d: DriftTicketCardData): AdaptiveCardJson {
  return renderTemplate('drift-ticket', {
    finding: d.finding,
    ticket: d.ticket,
    heading: shown(d.heading),
    title: shown(d.title),
    text: shown(d.text),
    status: shown(d.status),
    // On the tinted header the tone is the background's; coloured text on it is hard to read.
    statusColor: 'Default',
    headerStyle: headerStyle(d.tone),
    facts: facts(d.facts),
    removal: shown(d.removal),
    removalColor: color(d.removalTone),
    exception: shown(d.exception),
    ticketFacts: facts(d.ticketFacts),
    history: facts(d.history),
    footer: shown(d.footer),
    removeChoices: d.removeChoices.map((c) => ({ title: shown(c.title), value: c.value })),
    canRemove: d.canRemove,
    canReview: d.canReview,
    canAccept: d.canAccept,
    canConfirm: d.canConfirm,
    canApprove: d.canApprove,
    canCancel: d.canCancel,
    canRevoke: d.canRevoke,
    canApproveException: d.canApproveException,
    canCancelException: d.canCancelException,
    ticketOpen: d.ticketOpen,
  });
}
