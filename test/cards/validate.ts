/**
 * Validates Adaptive Cards with the official object model (the `adaptivecards` package),
 * offline: unknown elements, bad properties and duplicate input ids are reported.
 */
// The package's ESM build does not load in Node; its UMD bundle does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js');

export function cardProblems(json: unknown): string[] {
  const problems: string[] = [];
  const card = new AC.AdaptiveCard();
  const ctx = new AC.SerializationContext();
  card.parse(json, ctx);
  for (let i = 0; i < ctx.eventCount; i++) problems.push(`parse: ${ctx.getEventAt(i).message}`);
  for (const e of card.validateProperties().validationEvents) problems.push(`validate: ${e.message}`);
  // Element ids must be unique so tests and updates can address them.
  const ids = new Map<string, number>();
  const walk = (n: any) => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      if (typeof n.id === 'string') ids.set(n.id, (ids.get(n.id) ?? 0) + 1);
      Object.values(n).forEach(walk);
    }
  };
  walk(json);
  for (const [id, n] of ids) if (n > 1) problems.push(`duplicate id ${id}`);
  const text = JSON.stringify(json);
  if (text.includes('${')) problems.push('unbound template expression left in card');
  return problems;
}
