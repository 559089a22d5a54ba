import { renderTemplate, type AdaptiveCardJson } from './render';
import { shown } from './technician';

/** Cards of access reviews: the reviewer's card (paged, with Keep / Remove per line), the technicians' progress and report cards. */

export interface Fact {
  title: string;
  value: string;
}

export type Tone = 'default' | 'good' | 'attention' | 'warning' | 'accent';

function color(tone: Tone | undefined): string {
  return tone === 'good' ? 'Good' : tone === 'attention' ? 'Attention' : tone === 'warning' ? 'Warning' : tone === 'accent' ? 'Accent' : 'Default';
}

function headerStyle(tone: Tone | undefined): string {
  return tone === 'good' ? 'good' : tone === 'attention' ? 'attention' : tone === 'warning' ? 'warning' : tone === 'accent' ? 'accent' : 'emphasis';
}

const facts = (list: Fact[] | undefined): Fact[] => (list ?? []).map((f) => ({ title: shown(f.title), value: shown(f.value) }));

/** One person's access on a reviewer's card. */
export interface ReviewLine {
  /** The item id: the only thing its buttons carry besides the campaign id and the page. */
  id: number;
  heading: string;
  /** The decision helpers: sign-in name, department, manager, how it was granted, expiry, last sign-in. */
  facts: Fact[];
  /** What was decided, by whom and why; empty while undecided. */
  decided: string;
  decidedTone?: Tone;
  /** Keep / Remove and the reason box. */
  canDecide: boolean;
  reasonLabel: string;
  /** What the reviewer typed, shown again after a refused click. */
  reason?: string;
}

export interface ReviewerCardData {
  campaignId: string;
  title: string;
  subtitle: string;
  status: string;
  tone: Tone;
  banner?: string | null;
  bannerTone?: Tone;
  intro: string;
  lines: ReviewLine[];
  page: number;
  pages: number;
  /** "Keep all remaining" (asks for a confirmation first). */
  showKeepAll: boolean;
  /** The confirmation of "keep all remaining": how many, and what it says. */
  confirm?: { count: number; text: string; reasonLabel: string } | null;
  footer?: string;
}

/** A reviewer's card: a page of the people and access to decide (10 at most), each with its helpers, Keep / Remove and a reason. */
export function renderReviewerCard(d: ReviewerCardData): AdaptiveCardJson {
  return renderTemplate('review-reviewer', {
    campaignId: d.campaignId,
    title: shown(d.title),
    subtitle: shown(d.subtitle),
    status: shown(d.status),
    // On the tinted header the tone is the background's; coloured text on it is hard to read.
    statusColor: 'Default',
    headerStyle: headerStyle(d.tone),
    banner: shown(d.banner ?? ''),
    bannerColor: color(d.bannerTone ?? 'accent'),
    intro: shown(d.intro),
    items: d.lines.map((l) => ({
      id: l.id,
      heading: shown(l.heading),
      facts: facts(l.facts),
      decided: shown(l.decided),
      decidedColor: color(l.decidedTone),
      canDecide: l.canDecide,
      reasonLabel: shown(l.reasonLabel),
      reason: shown(l.reason ?? ''),
    })),
    page: d.page,
    pages: d.pages,
    showKeepAll: d.showKeepAll && !d.confirm,
    confirm: Boolean(d.confirm),
    confirmCount: d.confirm?.count ?? 0,
    confirmText: shown(d.confirm?.text ?? ''),
    confirmReasonLabel: shown(d.confirm?.reasonLabel ?? ''),
    footer: shown(d.footer ?? ''),
  });
}

export interface ReviewStatusAction {
  id: string;
  title: string;
  verb: string;
  /** Ids only: who may act is decided on the server. */
  data: Record<string, string | number>;
}

export interface ReviewStatusCardData {
  title: string;
  subtitle?: string;
  status: string;
  tone: Tone;
  text?: string;
  facts: Fact[];
  sections?: Array<{ key: string; title: string; facts?: Fact[]; text?: string }>;
  footer?: string;
  actions?: ReviewStatusAction[];
}

/** The technicians' view of a campaign: its progress while it runs, the evidence report once it closed. */
export function renderReviewStatusCard(d: ReviewStatusCardData): AdaptiveCardJson {
  return renderTemplate('review-status', {
    title: shown(d.title),
    subtitle: shown(d.subtitle ?? ''),
    status: shown(d.status),
    // On the tinted header the tone is the background's; coloured text on it is hard to read.
    statusColor: 'Default',
    headerStyle: headerStyle(d.tone),
    text: shown(d.text ?? ''),
    facts: facts(d.facts),
    sections: (d.sections ?? []).map((s) => ({ key: s.key, title: shown(s.title), facts: facts(s.facts), text: shown(s.text ?? '') })),
    footer: shown(d.footer ?? ''),
    actions: (d.actions ?? []).slice(0, 5),
  });
}
