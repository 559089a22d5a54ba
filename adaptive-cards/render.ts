import fs from 'node:fs';
import path from 'node:path';
import { Template } from 'adaptivecards-templating';

/** An Adaptive Card as JSON, ready to send or to return from an `Action.Execute`. */
export type AdaptiveCardJson = Record<string, unknown> & { type: 'AdaptiveCard'; version: string };

const templates = new Map<string, Template>();

/**
 * Binds a JSON template from `adaptive-cards/templates/` to `data`. Templates are read
 * once and cached; the source folder is found from both `ts` sources and `dist/`.
 */
export function renderTemplate(name: string, data: object): AdaptiveCardJson {
  let template = templates.get(name);
  if (!template) {
    const file = path.join(templatesDir(), `${name}.json`);
    template = new Template(JSON.parse(fs.readFileSync(file, 'utf8')));
    templates.set(name, template);
  }
  return template.expand({ $root: data }) as AdaptiveCardJson;
}

function templatesDir(): string {
  const here = path.join(__dirname, 'templates');
  if (fs.existsSync(here)) return here;
  // Compiled to dist/adaptive-cards: the JSON templates stay in the source tree.
  return path.resolve(__dirname, '..', '..', 'adaptive-cards', 'templates');
}
