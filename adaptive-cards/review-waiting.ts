import { renderTemplate, type AdaptiveCardJson } from './render';
import { shown } from './technician';
import type { Fact, Tone } from './reviews';

/** One access review campaign where the reader still has lines to decide. */
export interface WaitingCampaign {
  /** The campaign id (`REV-1001`): the only thing its button carries. */
  id: string;
  heading: string;
  facts: Fact[];
  button: string;
}

export interface ReviewWaitingCardData {
  title: string;
  intro: string;
  banner?: string | null;
  bannerTone?: Tone;
  campaigns: WaitingCampaign[];
}

function color(tone: Tone | undefined): string {
  return tone === 'good' ? 'Good' : tone === 'attention' ? 'Attention' : tone === 'warning' ? 'Warning' : tone === 'accent' ? 'Accent' : 'Default';
}

/**
 * The access reviews waiting for a reviewer, part of "what's waiting for me": one block per
 * campaign with **Show my review card** (verb `review.resend`, data only the campaign id), which
 * sends the reviewer's card for that campaign again to their 1:1 chat.
 */
export function renderReviewWaitingCard(d: ReviewWaitingCardData): AdaptiveCardJson {
  return renderTemplate('review-waiting', {
    title: shown(d.title),
    intro: shown(d.intro),
    banner: shown(d.banner ?? ''),
    bannerColor: color(d.bannerTone ?? 'accent'),
    campaigns: d.campaigns.map((c) => ({
      id: c.id,
      heading: shown(c.heading),
      facts: c.facts.map((f) => ({ title: shown(f.title), value: shown(f.value) })),
      button: shown(c.button),
    })),
  });
}
