import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The access catalog: what people may request, which directory group grants it, and the
 * policy that decides who approves and for how long. It is data (`catalog.json` next to
 * this module, or the file `ACCESS_CATALOG_PATH` names), validated at start-up.
 */

/** Where the bundled catalog lives (next to this module, in the sources and in `dist/`). */
export const DEFAULT_CATALOG_FILE = path.join(__dirname, 'catalog.json');

export type Risk = 'low' | 'medium' | 'high';

/** Who approves one stage: the requester's manager, the backing group's owners, or a named group's members. */
export type ApprovalStage =
  | { approver: 'manager'; label?: string }
  | { approver: 'owners'; label?: string }
  | { approver: 'group'; groupId: string; label: string };

export interface CatalogResource {
  /** Stable key, e.g. `payroll-reports`. */
  id: string;
  name: string;
  aliases: string[];
  description: string;
  /** The directory group whose membership is the access. */
  groupId: string;
  risk: Risk;
  /** 1 to 3 stages, decided in order. */
  stages: ApprovalStage[];
  justificationRequired: boolean;
  /** Hours granted when the requester does not say. */
  defaultHours: number;
  /** The longest time-bound grant. */
  maxHours: number;
  /** Whether access without an end date may be requested. */
  permanentAllowed: boolean;
  /** Resources that must not be held together with this one (separation of duties). */
  incompatibleWith: string[];
}

export interface Catalog {
  resources: CatalogResource[];
}

/** Raised when a catalog file is malformed or refers to things it does not contain. */
export class CatalogError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid access catalog ${source}:\n  - ${problems.slice(0, 20).join('\n  - ')}`);
    this.name = 'CatalogError';
  }
}

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lowercase GUID');
const text = z.string().trim().min(1);
const DURATION = /^(\d{1,5})([hdw])$/;
const duration = z.string().regex(DURATION, 'must be a number followed by h, d or w (e.g. 8h, 7d, 2w)');

const stageSchema = z.discriminatedUnion('approver', [
  z.object({ approver: z.literal('manager'), label: text.optional() }).strict(),
  z.object({ approver: z.literal('owners'), label: text.optional() }).strict(),
  z.object({ approver: z.literal('group'), groupId: guid, label: text }).strict(),
]);

const resourceSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes'),
    name: text.max(80),
    aliases: z.array(text.max(80)).max(20),
    description: text.max(300),
    groupId: guid,
    risk: z.enum(['low', 'medium', 'high']),
    stages: z.array(stageSchema).min(1, 'needs 1 to 3 approval stages').max(3, 'needs 1 to 3 approval stages'),
    justificationRequired: z.boolean(),
    defaultDuration: duration,
    maxDuration: duration,
    permanentAllowed: z.boolean(),
    incompatibleWith: z.array(z.string()).max(20),
  })
  .strict();

const catalogSchema = z.object({ $comment: z.string().optional(), resources: z.array(resourceSchema).min(1).max(100) }).strict();

/** Hours in a duration such as `8h`, `7d` or `2w`. */
export function durationHours(value: string): number {
  const m = DURATION.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  const n = Number(m[1]);
  return m[2] === 'h' ? n : m[2] === 'd' ? n * 24 : n * 24 * 7;
}

/** Reads and validates a catalog file; throws {@link CatalogError} listing every problem. */
export function loadCatalog(file: string = DEFAULT_CATALOG_FILE): Catalog {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CatalogError(file, [`cannot read it as JSON: ${(e as Error).message}`]);
  }
  return parseCatalog(data, file);
}

/** Validates already-parsed catalog data. */
export function parseCatalog(data: unknown, source = 'catalog'): Catalog {
  const parsed = catalogSchema.safeParse(data);
  if (!parsed.success) {
    throw new CatalogError(
      source,
      parsed.error.issues.map((i) => `${i.path.join('.') || 'catalog'}: ${i.message}`),
    );
  }
  const problems: string[] = [];
  const ids = new Set<string>();
  const names = new Map<string, string>();
  for (const r of parsed.data.resources) {
    if (ids.has(r.id)) problems.push(`resources.${r.id}: the id is used twice`);
    ids.add(r.id);
    for (const key of [r.id, r.name, ...r.aliases].map(normalizeName)) {
      const owner = names.get(key);
      if (owner && owner !== r.id) problems.push(`resources.${r.id}: the name or alias "${key}" is also used by ${owner}`);
      names.set(key, r.id);
    }
    const def = durationHours(r.defaultDuration);
    const max = durationHours(r.maxDuration);
    if (def < 1) problems.push(`resources.${r.id}.defaultDuration: must be at least 1h`);
    if (def > max) problems.push(`resources.${r.id}.defaultDuration: longer than maxDuration`);
  }
  for (const r of parsed.data.resources) {
    for (const other of r.incompatibleWith) {
      if (other === r.id) problems.push(`resources.${r.id}.incompatibleWith: cannot name itself`);
      else if (!ids.has(other)) problems.push(`resources.${r.id}.incompatibleWith: no resource ${other}`);
    }
  }
  if (problems.length) throw new CatalogError(source, problems);
  return {
    resources: parsed.data.resources.map((r) => ({
      id: r.id,
      name: r.name,
      aliases: r.aliases,
      description: r.description,
      groupId: r.groupId,
      risk: r.risk,
      stages: r.stages as ApprovalStage[],
      justificationRequired: r.justificationRequired,
      defaultHours: durationHours(r.defaultDuration),
      maxHours: durationHours(r.maxDuration),
      permanentAllowed: r.permanentAllowed,
      incompatibleWith: r.incompatibleWith,
    })),
  };
}

/** Lowercase, punctuation to spaces, single spaces: how names and aliases are compared. */
export function normalizeName(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .replace(/\s+/g, ' ');
}

/** Words people put before a resource's name ("the", "access to") that are not part of it. */
const LEADING_NOISE = new Set(['the', 'access', 'to', 'a', 'an', 'app', 'application']);
/** Words people put after a resource's name ("group", "rights") that are not part of it. */
const TRAILING_NOISE = new Set(['access', 'group', 'app', 'application', 'role', 'right', 'rights', 'permission', 'permissions']);

/**
 * A normalized phrase without the noise words around the name, word by word (a pattern of
 * repeated noise words anchored at the end backtracked quadratically over a long phrase).
 * A lone word is kept, and a word is noise at the end only after a kept word.
 */
function withoutNoise(normalized: string): string {
  const words = normalized.split(' ');
  let start = 0;
  while (start < words.length - 1 && LEADING_NOISE.has(words[start]!)) start++;
  let end = words.length;
  while (end - 1 > start && TRAILING_NOISE.has(words[end - 1]!)) end--;
  return words.slice(start, end).join(' ');
}

export function findResourceById(catalog: Catalog, id: string): CatalogResource | undefined {
  return catalog.resources.find((r) => r.id === id);
}

/**
 * The resource `phrase` names exactly (its id, name or an alias, ignoring case,
 * punctuation and words such as "the ... access"), or undefined.
 */
export function resolveResource(catalog: Catalog, phrase: string): CatalogResource | undefined {
  const n = normalizeName(phrase);
  const stripped = withoutNoise(n);
  for (const candidate of [n, stripped]) {
    if (!candidate) continue;
    const hit = catalog.resources.find((r) => [r.id, r.name, ...r.aliases].some((k) => normalizeName(k) === candidate));
    if (hit) return hit;
  }
  return undefined;
}

/**
 * The resource named by the longest leading words of `phrase` ("payroll reports until
 * friday" is Payroll Reports), for text already known to be a request.
 */
export function resolveLeading(catalog: Catalog, phrase: string): CatalogResource | undefined {
  const words = normalizeName(phrase).split(' ');
  for (let n = words.length; n > 0; n--) {
    const hit = resolveResource(catalog, words.slice(0, n).join(' '));
    if (hit) return hit;
  }
  return undefined;
}

/** Resources whose id, name, alias or description contains a word of `query` (for suggestions). */
export function searchResources(catalog: Catalog, query: string, limit = 5): CatalogResource[] {
  const words = normalizeName(query)
    .split(' ')
    .filter((w) => w.length >= 3 && !['the', 'access', 'for', 'need'].includes(w));
  if (!words.length) return [];
  return catalog.resources
    .map((r) => {
      const hay = normalizeName([r.id, r.name, ...r.aliases, r.description].join(' '));
      return { r, score: words.filter((w) => hay.includes(w)).length };
    })
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, limit)
    .map((x) => x.r);
}

/** True when holding `a` and `b` together breaks separation of duties (either side may say so). */
export function areIncompatible(a: CatalogResource, b: CatalogResource): boolean {
  return a.incompatibleWith.includes(b.id) || b.incompatibleWith.includes(a.id);
}
