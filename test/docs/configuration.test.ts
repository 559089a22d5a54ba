import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../bot/config';

const ROOT = path.resolve(__dirname, '../..');
const page = fs.readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
const envExample = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
/** Every variable the configuration loader reads (bot/config.ts and its bot/*-config.ts helpers). */
const loaderReads = Object.keys(envSchema.shape);

/** The rows of the section of this page that lists variables read by one program, not the loader. */
function readOutsideLoader(): { name: string; readBy: string }[] {
  const section = page.split(/^## /m).find((s) => s.startsWith('Read outside the configuration loader'));
  expect(section, 'the section "Read outside the configuration loader"').toBeDefined();
  return [...section!.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| [^|]* \| `([^`]+)`/gm)].map((m) => ({ name: m[1]!, readBy: m[2]! }));
}

describe('docs/configuration.md and .env.example against the configuration schema', () => {
  it('the loader reads variables, and each is one row of docs/configuration.md and a line of .env.example', () => {
    expect(loaderReads.length).toBeGreaterThan(80);
    for (const name of loaderReads) {
      const rows = page.match(new RegExp(`^\\| \`${name}\` \\|`, 'gm')) ?? [];
      expect(rows.length, `${name} in docs/configuration.md`).toBe(1);
      expect(envExample, `${name} in .env.example`).toMatch(new RegExp(`^(# ?)?${name}=`, 'm'));
    }
  });

  it('every row gives a default, a mode and a meaning', () => {
    for (const name of loaderReads) {
      const row = page.split('\n').find((l) => l.startsWith(`| \`${name}\` |`))!;
      const cells = row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
      expect(cells, name).toHaveLength(4);
      expect(['both', 'local', 'production', 'AD'], `${name}'s mode`).toContain(cells[2]);
      expect(cells[3]!.length, `${name}'s meaning`).toBeGreaterThan(10);
    }
  });

  it('names no variable the loader does not read, but those it lists as read by another program', () => {
    const outside = readOutsideLoader();
    for (const { name, readBy } of outside) {
      expect(loaderReads, `${name} is read by the loader: it belongs in the tables above`).not.toContain(name);
      const source = fs.readFileSync(path.join(ROOT, readBy.split(' ')[0]!), 'utf8');
      expect(source, `${name} read by ${readBy}`).toMatch(new RegExp(`env\\.${name}\\b`));
      expect(envExample, `${name} in .env.example`).toMatch(new RegExp(`^(# ?)?${name}=`, 'm'));
    }
    const known = new Set([...loaderReads, ...outside.map((o) => o.name)]);
    const named = new Set(page.match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g) ?? []);
    expect([...named].filter((n) => !known.has(n))).toEqual([]);
  });
});
