import { DEFAULT_CATALOG_FILE, loadCatalog } from '../../directory/catalog';
import { editDistance, typoAllowance } from './distance';
import { toWords } from './normalize';
import type { ResourceEntity } from './types';

/**
 * One requestable resource as chat names it. The access catalog is the only source: its
 * resources are passed as they are (`catalog.resources`), so a name or alias added there is
 * understood in chat too.
 */
export interface RequestableResource {
  /** Stable id, the access catalog's resource id (e.g. `payroll-reports`). */
  id: string;
  name: string;
  groupId?: string;
  description?: string;
  aliases: readonly string[];
}

/**
 * The resources of an access catalog file (the bundled `directory/catalog.json` by default),
 * validated as the catalog is: a bad file is a start-up error naming the problem.
 */
export function loadResources(file: string = DEFAULT_CATALOG_FILE): RequestableResource[] {
  return loadCatalog(file).resources;
}

/** A resource found in a message, with the word span it covers. */
export interface ResourceMatch extends ResourceEntity {
  /** First word index (inclusive) and last (exclusive) in the word list. */
  start: number;
  end: number;
}

interface AliasForm {
  resource: RequestableResource;
  words: string[];
  chars: number;
}

/**
 * Finds resources by name or alias in a list of canonical words, tolerating typos (one per
 * word of 4 letters or more, two from 8 letters; words of 3 letters or fewer must be exact,
 * so "vpn" never matches "van"). Longer aliases win over shorter ones inside them, and the
 * spans found do not overlap.
 */
export class ResourceMatcher {
  private readonly forms: AliasForm[];
  private readonly aliasWords: string[];
  private readonly nearCache = new Map<string, Map<string, number>>();

  constructor(readonly resources: readonly RequestableResource[]) {
    const forms: AliasForm[] = [];
    for (const resource of resources) {
      const seen = new Set<string>();
      for (const alias of [resource.name, ...resource.aliases]) {
        const words = toWords(alias);
        const id = words.join(' ');
        if (words.length === 0 || seen.has(id)) continue;
        seen.add(id);
        forms.push({ resource, words, chars: words.join('').length });
      }
    }
    // Longest first: "payroll reports" is tried before "payroll".
    this.forms = forms.sort((a, b) => b.words.length - a.words.length || b.chars - a.chars);
    this.aliasWords = [...new Set(forms.flatMap((f) => f.words))];
  }

  /** Every word any alias uses: the spelling corrector must not "fix" these. */
  vocabulary(): Set<string> {
    return new Set(this.aliasWords);
  }

  /** Alias words within typo distance of `word`, with the distance (cached per word, bounded). */
  private nearAliasWords(word: string): Map<string, number> {
    let near = this.nearCache.get(word);
    if (near) return near;
    near = new Map<string, number>();
    for (const want of this.aliasWords) {
      if (want === word) {
        near.set(want, 0);
        continue;
      }
      const allowed = typoAllowance(want.length);
      if (allowed === 0 || Math.abs(want.length - word.length) > allowed) continue;
      const d = editDistance(word, want, allowed);
      if (d <= allowed) near.set(want, d);
    }
    if (this.nearCache.size >= 10_000) this.nearCache.clear();
    this.nearCache.set(word, near);
    return near;
  }

  /** Every non-overlapping match, in message order (a resource named twice appears twice). */
  match(words: readonly string[]): ResourceMatch[] {
    const candidates: ResourceMatch[] = [];
    // Which alias words each message word can stand for, and at what cost.
    const near = words.map((w) => this.nearAliasWords(w));
    for (const form of this.forms) {
      const k = form.words.length;
      for (let i = 0; i + k <= words.length; i++) {
        let edits = 0;
        let ok = true;
        for (let j = 0; j < k && ok; j++) {
          const d = near[i + j]!.get(form.words[j]!);
          if (d === undefined) ok = false;
          else edits += d;
        }
        if (!ok) continue;
        candidates.push({
          id: form.resource.id,
          name: form.resource.name,
          text: words.slice(i, i + k).join(' '),
          score: Math.round((1 - edits / Math.max(form.chars, 1)) * 100) / 100,
          start: i,
          end: i + k,
        });
      }
    }
    candidates.sort((a, b) => b.end - b.start - (a.end - a.start) || b.score - a.score || a.start - b.start);
    const taken: ResourceMatch[] = [];
    for (const c of candidates) {
      if (taken.some((t) => c.start < t.end && t.start < c.end)) continue;
      taken.push(c);
    }
    return taken.sort((a, b) => a.start - b.start);
  }
}
