import fs from 'node:fs';
import path from 'node:path';

/**
 * Audit anchors: heads of the hash chain (`seq`, `hash`) written, as they were at a moment,
 * to a file outside the database. The chain alone cannot reveal a wholesale rewrite (every
 * hash recomputed) or a cut-off end; a head kept elsewhere can, because a chain that still
 * holds event `seq` with that `hash` holds every earlier event unchanged. The file is
 * append-only JSON lines; put it on other storage than the database (another volume, a
 * write-once bucket mounted as a folder, a log shipper's input).
 */
export interface AuditAnchor {
  seq: number;
  hash: string;
  /** When the head was read (ISO 8601). */
  at: string;
}

export class AnchorFileError extends Error {}

const HASH = /^[0-9a-f]{64}$/;

/** Appends one anchor as a line and flushes it to disk before returning. */
export function appendAnchor(file: string, anchor: AuditAnchor): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const fd = fs.openSync(file, 'a', 0o640);
  try {
    fs.writeSync(fd, anchorLine(anchor));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Every anchor of a file, oldest first. A line that is not an anchor is an error naming the
 * line: an anchor file someone edited is itself a finding. Anchors must grow: a later line
 * with a lower sequence number than an earlier one is refused the same way.
 */
export function readAnchors(file: string): AuditAnchor[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new AnchorFileError(`cannot read the anchor file ${file}: ${(e as Error).message}`);
  }
  return parseAnchors(text, file);
}

/** The anchors of an anchor file's text; `label` names it in errors (a path, or a mirror without its secrets). */
export function parseAnchors(text: string, label: string): AuditAnchor[] {
  const file = label;
  const anchors: AuditAnchor[] = [];
  const lineOf: number[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new AnchorFileError(`${file} line ${i + 1} is not JSON`);
    }
    const a = v as Partial<AuditAnchor>;
    if (!a || typeof a !== 'object' || !Number.isInteger(a.seq) || (a.seq as number) < 1 || typeof a.hash !== 'string' || !HASH.test(a.hash) || typeof a.at !== 'string' || Number.isNaN(Date.parse(a.at))) {
      throw new AnchorFileError(`${file} line ${i + 1} is not an anchor ({"seq":N,"hash":"<64 hex>","at":"<ISO time>"})`);
    }
    const prev = anchors[anchors.length - 1];
    if (prev && a.seq! < prev.seq) throw new AnchorFileError(`${file} line ${i + 1} goes back from event ${prev.seq} to ${a.seq}: anchors only grow`);
    // One event has one hash: two lines that disagree mean one of them was edited.
    if (prev && a.seq === prev.seq && a.hash !== prev.hash) throw new AnchorFileError(`${file} line ${i + 1} gives event ${a.seq} another hash than line ${lineOf[lineOf.length - 1]}: one of them was edited`);
    anchors.push({ seq: a.seq!, hash: a.hash, at: a.at });
    lineOf.push(i + 1);
  }
  return anchors;
}

/** One anchor as the line the files hold (what {@link appendAnchor} writes). */
export function anchorLine(anchor: AuditAnchor): string {
  return `${JSON.stringify({ seq: anchor.seq, hash: anchor.hash, at: anchor.at })}\n`;
}

/** The anchors of a file, or none when the file does not exist yet (no slot has passed). */
export function readAnchorsIfAny(file: string): AuditAnchor[] {
  if (!fs.existsSync(file)) return [];
  return readAnchors(file);
}
