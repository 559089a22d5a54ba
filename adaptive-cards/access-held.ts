import { renderTemplate, type AdaptiveCardJson } from './render';

/** One catalog resource the user holds. */
export interface HeldItem {
  /** The catalog id (element ids are built from it). */
  id: string;
  name: string;
  /** "Until Tue 14 Jul 2026, 09:00 UTC (REQ-1003)", "No end date (REQ-1001)". */
  until: string;
  /** Shown as a warning: the access ends within the expiry notice period. */
  endsSoon: boolean;
}

/** "What access do I have": the requestable things the user holds, and until when. */
export function renderHeldAccess(d: { title?: string; intro: string; items: HeldItem[]; waiting?: string | null; footer: string }): AdaptiveCardJson {
  return renderTemplate('access-held', {
    title: d.title ?? 'Your access',
    intro: d.intro,
    items: d.items.map((i) => ({ ...i, untilColor: i.endsSoon ? 'Warning' : 'Default' })),
    waiting: d.waiting ?? '',
    footer: d.footer,
  });
}
