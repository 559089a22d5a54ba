import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokenLinks, headingAnchors, headingSlug, linkTargets } from './markdown-links';

const ROOT = path.resolve(__dirname, '../..');
const DOCS = path.join(ROOT, 'docs');

/** README.md, the other top-level Markdown files and every page of docs/. */
function markdownFiles(): string[] {
  const top = ['README.md', 'SECURITY.md', 'CHANGELOG.md'].map((f) => path.join(ROOT, f));
  const pages = fs.readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => path.join(DOCS, f));
  return [...top, ...pages];
}

describe('links between README.md and docs/', () => {
  it('every relative link and #anchor points at an existing file and heading', () => {
    const broken = markdownFiles().flatMap((f) => brokenLinks(f, ROOT));
    expect(broken).toEqual([]);
  });

  it('the README links to every docs page, and docs/index.md lists them all', () => {
    const pages = fs.readdirSync(DOCS).filter((f) => f.endsWith('.md'));
    const readme = linkTargets(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).map((l) => l.target.split('#')[0]);
    const index = linkTargets(fs.readFileSync(path.join(DOCS, 'index.md'), 'utf8')).map((l) => l.target.split('#')[0]);
    for (const page of pages) {
      expect(readme, page).toContain(`docs/${page}`);
      if (page !== 'index.md') expect(index, page).toContain(page);
    }
  });

  it('the README stays a front door of at most about 15 KB, and keeps the quick start commands', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(15_500);
    for (const command of ['npm install', 'npm start', 'npm test']) expect(readme).toContain(command);
  });
});

describe('the link checker', () => {
  it('makes the anchors GitHub makes', () => {
    expect(headingSlug('The catalog (`directory/catalog.json`)')).toBe('the-catalog-directorycatalogjson');
    expect(headingSlug('Hybrid identity: on-premises Active Directory')).toBe('hybrid-identity-on-premises-active-directory');
    expect(headingSlug('3. Configure, check, start')).toBe('3-configure-check-start');
    expect(headingSlug('What the profiles showed, and what changed')).toBe('what-the-profiles-showed-and-what-changed');
    expect([...headingAnchors('# A\n## A\n```\n# not a heading\n```\n## A\n')]).toEqual(['a', 'a-1', 'a-2']);
  });

  it('finds a missing file, a missing anchor and a link outside the repository, and ignores code and external links', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'links-'));
    try {
      fs.writeFileSync(path.join(dir, 'target.md'), '# Target\n\n## The part\n');
      const file = path.join(dir, 'page.md');
      fs.writeFileSync(
        file,
        [
          '# Page',
          '[ok](target.md) [ok](target.md#the-part) [ok](#page) [web](https://example.com/x#y)',
          '[gone](missing.md) [no anchor](target.md#nowhere) [out](../../etc/passwd) [self](#nothing)',
          '`[in code](missing.md)`',
          '```',
          '[in a block](missing.md)',
          '```',
        ].join('\n'),
      );
      const broken = brokenLinks(file, dir);
      expect(broken.map((b) => `${b.line} ${b.target}: ${b.problem}`)).toEqual([
        '3 missing.md: no such file',
        '3 target.md#nowhere: no heading with the anchor #nowhere',
        '3 ../../etc/passwd: points outside the repository',
        '3 #nothing: no heading with the anchor #nothing',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
