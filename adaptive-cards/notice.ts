import { renderTemplate, type AdaptiveCardJson } from './render';

export interface NoticeCardData {
  title: string;
  text: string;
  tone?: 'default' | 'good' | 'attention' | 'warning';
  facts?: Array<{ title: string; value: string }>;
}

/** A short titled message: refusals, errors, results of a command. */
export function renderNoticeCard(d: NoticeCardData): AdaptiveCardJson {
  return renderTemplate('notice', {
    title: d.title,
    text: d.text,
    color: d.tone === 'good' ? 'Good' : d.tone === 'attention' ? 'Attention' : d.tone === 'warning' ? 'Warning' : 'Default',
    facts: d.facts ?? [],
  });
}
