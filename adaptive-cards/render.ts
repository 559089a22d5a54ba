import fs from 'node:fs';
import path from 'node:path';
import { Template } from 'adaptivecards-templating';

/** An Adaptive Card as JSON, ready to send or to return from an `Action.Execute`. */
export type AdaptiveCardJson = Record<string, unknown> & { type: 'AdaptiveCard'; version: string };

const templates = new Map<string, Template>();

/**
 * Binds a JSON template from `adaptive-cards/templates/` to `data`. Templates are read
 * once and cached; the source folder is found from both `ts` sources and `dist/`.
 *
 * `remember`: keep the result for the same template and data (the last
 * {@link REMEMBERED_CARDS}), so the card asked for again skips the template engine, which
 * was the largest cost of a `help` turn. A remembered card is shared, so it is frozen (deeply):
 * callers send or return it as it is, and one that needs to change it copies it first. Only
 * for cards that carry no secret.
 */
export function renderTemplate(name: string, data: object, options: { remember?: boolean } = {}): AdaptiveCardJson {
  if (!options.remember) return templateNamed(name).expand({ $root: data }) as AdaptiveCardJson;
  const key = `${name}\n${JSON.stringify(data)}`;
  let card = remembered.get(key);
  if (card) {
    // Most recently used last: the first key is the one to forget.
    remembered.delete(key);
  } else {
    card = deepFreeze(templateNamed(name).expand({ $root: data }) as AdaptiveCardJson);
    if (remembered.size >= REMEMBERED_CARDS) remembered.delete(remembered.keys().next().value!);
  }
  remembered.set(key, card);
  return card;
}

/** How many rendered cards {@link renderTemplate} keeps when asked to remember (a few kB each). */
export const REMEMBERED_CARDS = 500;
const remembered = new Map<string, AdaptiveCardJson>();

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function templateNamed(name: string): Template {
  let template = templates.get(name);
  if (!template) {
    const file = path.join(templatesDir(), `${name}.json`);
    template = new Template(JSON.parse(fs.readFileSync(file, 'utf8')));
    templates.set(name, template);
  }
  return template;
}

function templatesDir(): string {
  const here = path.join(__dirname, 'templates');
  if (fs.existsSync(here)) return here;
  // Compiled to dist/adaptive-cards: the JSON templates stay in the source tree.
  return path.resolve(__dirname, '..', '..', 'adaptive-cards', 'templates');
}
