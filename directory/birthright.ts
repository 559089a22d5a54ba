import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * Birthright rules: the groups a person gets for their department and job title, as data
 * (`birthright.json` next to this module, or the file `BIRTHRIGHT_RULES_PATH` names),
 * validated at start-up. The technicians' `onboard` and `move` commands plan with them.
 */

/** Where the bundled rules live (next to this module, in the sources and in `dist/`). */
export const DEFAULT_BIRTHRIGHT_FILE = path.join(__dirname, 'birthright.json');

export interface BirthrightRule {
  name: string;
  /** Applies to this department only (compared ignoring case); every department when absent. */
  department: string | null;
  /** Applies when the job title contains one of these words (ignoring case); any title when absent. */
  titleContains: string[] | null;
  groups: string[];
}

export interface BirthrightRules {
  rules: BirthrightRule[];
}

export class BirthrightError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid birthright rules ${source}:\n  - ${problems.slice(0, 20).join('\n  - ')}`);
    this.name = 'BirthrightError';
  }
}

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lowercase GUID');
const schema = z
  .object({
    $comment: z.string().optional(),
    rules: z
      .array(
        z
          .object({
            name: z.string().trim().min(1).max(100),
            department: z.string().trim().min(1).max(100).optional(),
            titleContains: z.array(z.string().trim().min(2).max(60)).min(1).max(20).optional(),
            groups: z.array(guid).min(1).max(50),
          })
          .strict(),
      )
      .min(1)
      .max(500),
  })
  .strict();

export function parseBirthrightRules(data: unknown, source = 'birthright rules'): BirthrightRules {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new BirthrightError(source, parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`));
  const names = new Set<string>();
  const problems: string[] = [];
  for (const r of parsed.data.rules) {
    if (names.has(r.name.toLowerCase())) problems.push(`rule "${r.name}" is defined twice`);
    names.add(r.name.toLowerCase());
  }
  if (problems.length) throw new BirthrightError(source, problems);
  return {
    rules: parsed.data.rules.map((r) => ({
      name: r.name,
      department: r.department ?? null,
      titleContains: r.titleContains?.map((w) => w.toLowerCase()) ?? null,
      groups: [...new Set(r.groups)],
    })),
  };
}

export function loadBirthrightRules(file: string = DEFAULT_BIRTHRIGHT_FILE): BirthrightRules {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BirthrightError(file, [(e as Error).message]);
  }
  return parseBirthrightRules(data, file);
}

/** The rules that apply to someone of this department and title, and the groups they give (each once, in rule order). */
export function birthrightFor(rules: BirthrightRules, department: string | null, jobTitle: string | null): { rules: string[]; groups: string[] } {
  const dept = department?.trim().toLowerCase() ?? null;
  const title = jobTitle?.toLowerCase() ?? '';
  const matched = rules.rules.filter(
    (r) => (r.department === null || (dept !== null && r.department.toLowerCase() === dept)) && (r.titleContains === null || r.titleContains.some((w) => title.includes(w))),
  );
  const groups: string[] = [];
  for (const r of matched) for (const g of r.groups) if (!groups.includes(g)) groups.push(g);
  return { rules: matched.map((r) => r.name), groups };
}
