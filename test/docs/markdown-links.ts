import fs from 'node:fs';
import path from 'node:path';

/** A relative link of a Markdown file that does not resolve, with why. */
export interface BrokenLink {
  file: string;
  line: number;
  target: string;
  problem: string;
}

/**
 * The anchor GitHub gives a heading: its text without Markdown, lower case, every character
 * but letters, digits, spaces, `-` and `_` dropped, spaces turned into `-`.
 */
export function headingSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The anchors of a Markdown text's headings, with GitHub's `-1`, `-2` for repeated ones. */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of proseLines(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line.raw);
    if (!m) continue;
    const slug = headingSlug(m[1]!);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Lines outside fenced code blocks: as written, and with inline code spans blanked (a link in code is text). */
function proseLines(markdown: string): { raw: string; text: string; line: number }[] {
  const out: { raw: string; text: string; line: number }[] = [];
  let fence: string | null = null;
  markdown.split('\n').forEach((text, i) => {
    const f = /^\s*(```+|~~~+)/.exec(text);
    if (f) {
      if (fence === null) fence = f[1]!.slice(0, 3);
      else if (f[1]!.startsWith(fence)) fence = null;
      return;
    }
    if (fence === null) out.push({ raw: text, text: text.replace(/(`+)[^`]*?\1/g, (s) => ' '.repeat(s.length)), line: i + 1 });
  });
  return out;
}

/** The link targets of a Markdown text (inline links and images), outside code. */
export function linkTargets(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  for (const { text, line } of proseLines(markdown)) {
    for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1]!, line });
  }
  return out;
}

/**
 * Every relative link of `file` that points at no file, outside `root`, or at an anchor its
 * target file has no heading for. External links (a scheme such as https:, mailto:) are not
 * followed.
 */
export function brokenLinks(file: string, root: string): BrokenLink[] {
  const broken: BrokenLink[] = [];
  const markdown = fs.readFileSync(file, 'utf8');
  for (const { target, line } of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const hash = target.indexOf('#');
    const rel = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
    const resolved = rel === '' ? file : path.resolve(path.dirname(file), rel);
    const report = (problem: string) => broken.push({ file: path.relative(root, file), line, target, problem });
    if (path.relative(root, resolved).startsWith('..')) {
      report('points outside the repository');
      continue;
    }
    if (!fs.existsSync(resolved)) {
      report('no such file');
      continue;
    }
    if (anchor === null) continue;
    if (!resolved.endsWith('.md')) {
      report('an anchor in a file that is not Markdown');
      continue;
    }
    if (!headingAnchors(fs.readFileSync(resolved, 'utf8')).has(anchor)) report(`no heading with the anchor #${anchor}`);
  }
  return broken;
}
