import fs from 'node:fs';
import { AnchorFileError, parseAnchors, readAnchors, type AuditAnchor } from './audit-anchors';
import type { AnchorMirror } from './audit-anchor-mirror';
import type { AuditTrail } from './audit-trail';

/** The trail's event for an anchor the bot wrote: `details` say which, where, and whether the mirror took it. */
export const ANCHOR_WRITTEN = 'audit.anchor';

/**
 * What is wrong with the anchors, by kind:
 * - `missing`: a location holds fewer anchors than were written to it (the trail's
 *   `audit.anchor` events, or the other location, say so): deleted or cut.
 * - `refused`: a location does not read as anchors, or the two disagree on a line: edited.
 * - `unreachable`: the mirror cannot be read now (network, permissions).
 */
export interface AnchorAlarm {
  kind: 'missing' | 'refused' | 'unreachable';
  message: string;
}

export interface AnchorFindings {
  /** The anchor file's anchors (none when it is missing or refused). */
  file: AuditAnchor[];
  /** The mirror's anchors; null when there is no mirror or it could not be read. */
  mirror: AuditAnchor[] | null;
  /** The mirror's length in bytes when read, where an append must land. */
  mirrorBytes: number;
  /** Anchors of the file the mirror lacks yet (a failed write, or anchors written by the command line). */
  pending: AuditAnchor[];
  /** The file and the mirror disagree on a line: only the anchors both hold are evidence. */
  disagree: boolean;
  alarms: AnchorAlarm[];
}

/** An anchor the trail says was written to `file`. */
interface Recorded {
  seq: number;
  hash: string;
  mirrored: boolean;
}

/** The anchors the trail records as written to `file` (its `audit.anchor` events), oldest first. */
export function recordedAnchors(audit: AuditTrail, file: string): Recorded[] {
  const out: Recorded[] = [];
  for (const e of audit.stream({ action: ANCHOR_WRITTEN })) {
    let d: { seq?: unknown; hash?: unknown; file?: unknown; mirrored?: unknown };
    try {
      d = JSON.parse(e.details) as typeof d;
    } catch {
      continue;
    }
    if (d.file === file && typeof d.seq === 'number' && typeof d.hash === 'string') out.push({ seq: d.seq, hash: d.hash, mirrored: d.mirrored === true });
  }
  return out;
}

/** The recorded anchors a location no longer holds (`gone`), and those it holds with another hash (`changed`). */
function compare(recorded: Recorded[], held: AuditAnchor[]): { gone: Recorded[]; changed: Recorded[] } {
  const bySeq = new Map(held.map((a) => [a.seq, a.hash]));
  return { gone: recorded.filter((r) => !bySeq.has(r.seq)), changed: recorded.filter((r) => bySeq.has(r.seq) && bySeq.get(r.seq) !== r.hash) };
}

const same = (a: AuditAnchor, b: AuditAnchor) => a.seq === b.seq && a.hash === b.hash && a.at === b.at;

/**
 * Reads the anchor file and its mirror and says what does not add up: a location that holds
 * fewer anchors than the trail records writing to it, or fewer than the other location; lines
 * the two locations do not share; a location that does not read. A fresh install (no anchor
 * written anywhere, nothing recorded) has no alarm.
 */
export async function checkAnchors(audit: AuditTrail, file: string, mirror: AnchorMirror | null): Promise<AnchorFindings> {
  const alarms: AnchorAlarm[] = [];
  const recorded = recordedAnchors(audit, file);
  let fileAnchors: AuditAnchor[] = [];
  let fileExists = fs.existsSync(file);
  let fileReadable = true;
  if (fileExists) {
    try {
      fileAnchors = readAnchors(file);
    } catch (e) {
      fileReadable = false;
      alarms.push({ kind: 'refused', message: e instanceof AnchorFileError ? e.message : 'the anchor file cannot be read' });
    }
  }
  let mirrorAnchors: AuditAnchor[] | null = null;
  let mirrorBytes = 0;
  let mirrorReadable = false;
  let mirrorExists = false;
  if (mirror) {
    try {
      const read = await mirror.read();
      mirrorBytes = read?.bytes ?? 0;
      mirrorExists = read !== null;
      mirrorAnchors = read ? parseAnchors(read.text, `the anchor mirror ${mirror.where}`) : [];
      mirrorReadable = true;
      if (!read && recorded.some((r) => r.mirrored)) {
        alarms.push({ kind: 'missing', message: `the anchor mirror ${mirror.where} is missing, but the trail records ${recorded.filter((r) => r.mirrored).length} anchors written to it` });
      }
    } catch (e) {
      mirrorAnchors = null;
      alarms.push({ kind: e instanceof AnchorFileError ? 'refused' : 'unreachable', message: (e as Error).message });
    }
  }

  if (fileReadable) {
    // Every anchor the trail says was written to the file must still be in it, with its hash.
    const { gone, changed } = compare(recorded, fileAnchors);
    if (!fileExists && recorded.length) {
      alarms.push({ kind: 'missing', message: `the anchor file ${file} is missing, but the trail records ${recorded.length} anchors written to it, the newest of event ${recorded.at(-1)!.seq}` });
    } else if (gone.length) {
      const newest = fileAnchors.at(-1);
      alarms.push({
        kind: 'missing',
        message: `the anchor file ${file} holds ${fileAnchors.length} anchors${newest ? ` (the newest of event ${newest.seq})` : ''}, but the trail records ${recorded.length} written to it: the anchor of event ${gone[0]!.seq} is not in it (${gone.length} missing)`,
      });
    }
    if (changed.length) alarms.push({ kind: 'refused', message: `the anchor file ${file} gives event ${changed[0]!.seq} another hash than the trail records writing: the line was rewritten` });
  }
  if (mirror && mirrorAnchors) {
    const { gone, changed } = compare(recorded.filter((r) => r.mirrored), mirrorAnchors);
    if (gone.length && mirrorExists) {
      alarms.push({ kind: 'missing', message: `the anchor mirror ${mirror.where} holds ${mirrorAnchors.length} anchors, but the trail records more written to it: the anchor of event ${gone[0]!.seq} is not in it (${gone.length} missing)` });
    }
    if (changed.length) alarms.push({ kind: 'refused', message: `the anchor mirror ${mirror.where} gives event ${changed[0]!.seq} another hash than the trail records writing: the line was rewritten` });
  }
  let pending: AuditAnchor[] = [];
  let disagree = false;
  if (mirror && mirrorAnchors && fileReadable && mirrorReadable) {
    // The mirror is the file's lines in the same order; it may only lag behind.
    const common = Math.min(fileAnchors.length, mirrorAnchors.length);
    const differs = Array.from({ length: common }, (_, i) => i).find((i) => !same(fileAnchors[i]!, mirrorAnchors![i]!));
    if (differs !== undefined) {
      disagree = true;
      // Which one the trail still matches says which was rewritten, unless the trail was too.
      const holds = (a: AuditAnchor) => audit.query({}, { afterSeq: a.seq - 1, limit: 1 })[0]?.hash === a.hash;
      const f = fileAnchors[differs]!;
      const m = mirrorAnchors[differs]!;
      const which = holds(f) && !holds(m) ? 'the mirror was rewritten (the trail matches the file)' : holds(m) && !holds(f) ? 'the anchor file was rewritten (the trail matches the mirror)' : 'one of them was rewritten';
      alarms.push({ kind: 'refused', message: `the anchor file and its mirror ${mirror.where} disagree at anchor ${differs + 1} (event ${f.seq} in the file, ${m.seq} in the mirror): ${which}` });
    } else if (mirrorAnchors.length > fileAnchors.length) {
      fileExists = fileExists && fileAnchors.length > 0;
      alarms.push({
        kind: 'missing',
        message: `the anchor file ${file} ${fileExists ? `holds ${fileAnchors.length} anchors` : 'is missing or empty'}, but its mirror ${mirror.where} holds ${mirrorAnchors.length}: anchors were removed from the file (the newest the mirror holds is of event ${mirrorAnchors.at(-1)!.seq})`,
      });
    } else {
      pending = fileAnchors.slice(mirrorAnchors.length);
    }
  }
  // One alarm per finding: the file's own check and the comparison may say the same twice.
  const seen = new Set<string>();
  return { file: fileAnchors, mirror: mirrorAnchors, mirrorBytes, pending, disagree, alarms: alarms.filter((a) => (seen.has(a.message) ? false : (seen.add(a.message), true))) };
}

/**
 * The anchors to `verify` the trail against: every anchor of both locations, as the trail must
 * hold each of them. When the two disagree, one of them was rewritten and neither alone can be
 * taken as the truth: only the anchors both hold, so a forged line in one does not read as a
 * broken chain (the disagreement is its own finding).
 */
export function allAnchors(f: AnchorFindings): AuditAnchor[] {
  const key = (a: AuditAnchor) => `${a.seq}:${a.hash}`;
  const inMirror = new Set((f.mirror ?? []).map(key));
  const byKey = new Map<string, AuditAnchor>();
  for (const a of f.disagree ? f.file.filter((x) => inMirror.has(key(x))) : [...f.file, ...(f.mirror ?? [])]) byKey.set(key(a), a);
  return [...byKey.values()].sort((a, b) => a.seq - b.seq);
}
