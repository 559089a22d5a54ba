import { renderTemplate, type AdaptiveCardJson } from './render';

export interface ClarifyOption {
  /** The intent key the button sends back (its only data besides the verb). */
  intent: string;
  label: string;
}

export interface ClarifyCardData {
  title: string;
  text: string;
  /** What was picked up from the message, shown so the user sees it will be kept. */
  facts: Array<{ title: string; value: string }>;
  /** Two or three likely meanings, most likely first. */
  options: ClarifyOption[];
  otherLabel: string;
  footer: string;
}

/**
 * "Did you mean ...?": one `Action.Execute` button per likely meaning (verb
 * `understanding.choose`, data only the intent key) and one for "something else".
 */
export function renderClarifyCard(d: ClarifyCardData): AdaptiveCardJson {
  return renderTemplate('clarify', {
    title: d.title,
    text: d.text,
    facts: d.facts,
    footer: d.footer,
    otherLabel: d.otherLabel,
    options: d.options.map((o) => ({ key: o.intent.replace(/[^a-z0-9]+/gi, '-'), intent: o.intent, label: o.label })),
  });
}
