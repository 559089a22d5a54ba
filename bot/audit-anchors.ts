import path from 'node:path';
import type { Scheduler, TechnicianNotices } from './scheduler';
import { APP_NAME, type BotDeps } from './deps';
import { anchorLine, appendAnchor } from '../store/audit-anchors';
import { ANCHOR_WRITTEN, checkAnchors, type AnchorAlarm } from '../store/audit-anchor-check';
import { openAnchorMirror, type AnchorMirror } from '../store/audit-anchor-mirror';

export const AUDIT_ANCHOR_JOB = 'audit.anchor';

/** Ticket keys: one open ticket per kind of alarm, a line in its history each time it is raised again. */
const MISSING_TICKET = 'audit.anchor-missing';
const MIRROR_TICKET = 'audit.anchor-mirror';
const GUARDS_TICKET = 'audit.guards';
const GUARDS_ALARM = 'audit.guards-alarm';

/**
 * Writes the audit trail's head to the anchor file (`AUDIT_ANCHOR_FILE`) and its mirror
 * (`AUDIT_ANCHOR_MIRROR`) every `AUDIT_ANCHOR_INTERVAL_HOURS`, records it in the trail
 * (`audit.anchor`, with the head and where it went), and logs it so a log shipper keeps a
 * third copy. One job per time slot: the slot is its dedupe key, so restarts and retries
 * never write a slot twice. `npm run audit -- verify --anchors FILE` (and `audit verify` in
 * chat) checks the trail against every anchor, so a head written after a rewrite does not
 * hide it.
 *
 * Before it writes, the job checks (each an alarm: logged at error, audited, a security ticket):
 * - the append-only triggers: put back when removed or changed (`audit.guards-restored`), and
 *   those put back here or at start said once (`audit.guards-alarm`; at start the job runs at once);
 * - both locations against the trail's record of the anchors written and against each other:
 *   a location deleted or cut (`audit.anchor-missing`), edited or not reading
 *   (`audit.anchor-refused`) is never written to, so the evidence stays as found;
 * - what came since the newest anchor (that event still has its hash, every later one follows
 *   from it): a trail rewritten since is never anchored (`audit.anchor-refused`).
 * A mirror that cannot be written is `audit.anchor-mirror-failed`: the job fails and is retried,
 * and every later run first appends what the mirror lacks.
 */
export function scheduleAuditAnchors(deps: BotDeps, scheduler: Scheduler, technicians: TechnicianNotices): void {
  const { intervalHours, file, mirror: mirrorConfig } = deps.config.auditAnchors;
  const logger = deps.logger.child({ component: 'audit-anchor' });
  const slotMs = intervalHours * 3_600_000;
  const slotAfter = (t: Date) => new Date((Math.floor(t.getTime() / slotMs) + 1) * slotMs);
  const scheduleSlot = (runAt: Date) =>
    deps.store.jobs.schedule({ kind: AUDIT_ANCHOR_JOB, runAt, dedupeKey: `${AUDIT_ANCHOR_JOB}:${runAt.toISOString()}`, maxAttempts: deps.config.jobs.maxAttempts });
  let mirror: AnchorMirror | null = null;
  const where = () => (file ? (mirror ? `${path.resolve(file)} and ${mirror.where}` : path.resolve(file)) : 'none (AUDIT_ANCHOR_INTERVAL_HOURS=0)');

  /** Logs at error, audits and raises (or raises again) the security ticket of one kind of alarm. */
  const alarm = async (action: string, ticket: string, title: string, intro: string, reason: string, advice: string) => {
    logger.error({ action, reason, ...(file ? { file: path.resolve(file) } : {}), ...(mirror ? { mirror: mirror.where } : {}) }, title);
    deps.store.audit.append({ actor: { id: 'system', name: APP_NAME }, action, target: null, outcome: 'failure', details: { reason } });
    await technicians.raise({
      type: 'security',
      title,
      text: `${intro}: ${reason}. ${advice}`,
      facts: [{ title: 'Anchors', value: where() }],
      requestId: ticket,
    });
  };
  const verifyAdvice = () => `Run \`npm run audit -- verify --anchors ${path.resolve(file!)}\` on the server and compare the anchors with the log shipper's copy of the \`audit.anchor\` log lines.`;
  const refuse = (reason: string) => alarm('audit.anchor-refused', AUDIT_ANCHOR_JOB, 'Audit trail: the head was not anchored', 'The scheduled anchor of the audit trail was refused', reason, verifyAdvice());
  const missing = (reasons: string[]) =>
    alarm(
      'audit.anchor-missing',
      MISSING_TICKET,
      'Audit trail: anchors are missing',
      'Anchors of the audit trail are missing',
      reasons.join('; '),
      `Nothing is anchored until this is resolved. Preserve the database, the anchor file and its mirror; put the anchors back from the other location or a backup. ${verifyAdvice()}`,
    );
  const mirrorFailed = (reason: string) =>
    alarm('audit.anchor-mirror-failed', MIRROR_TICKET, 'Audit trail: the anchor mirror was not written', 'The anchor mirror could not be written or read', reason, 'The anchor job retries, and appends what the mirror lacks as soon as it can. Check the mirror (AUDIT_ANCHOR_MIRROR): its storage, network and credentials.');

  /** The triggers named by `audit.guards-restored` events after the newest guards alarm. */
  const guardsRestoredSinceAlarm = (): string[] => {
    let after = 0;
    for (const e of deps.store.audit.stream({ action: GUARDS_ALARM })) after = e.seq;
    const names = new Set<string>();
    for (const e of deps.store.audit.stream({ action: 'audit.guards-restored' })) {
      if (e.seq <= after) continue;
      const d = JSON.parse(e.details) as { missing?: string[]; altered?: string[]; dropped?: string[] };
      for (const n of [...(d.missing ?? []), ...(d.altered ?? []), ...(d.dropped ?? [])]) names.add(n);
    }
    return [...names];
  };

  scheduler.register(AUDIT_ANCHOR_JOB, {
    run: async () => {
      const anchoring = file !== null && intervalHours > 0;
      // The next slot first: a retry of this one schedules nothing new (same key).
      if (anchoring) scheduleSlot(slotAfter(deps.clock()));
      mirror ??= mirrorConfig ? openAnchorMirror(mirrorConfig) : null;

      // Triggers dropped while the bot runs: back in place. Those put back at start (main.ts)
      // or here are said to the technicians once: every `audit.guards-restored` since the last alarm.
      deps.store.audit.restoreGuards();
      const unalarmed = guardsRestoredSinceAlarm();
      if (unalarmed.length) {
        await alarm(
          GUARDS_ALARM,
          GUARDS_TICKET,
          'Audit trail: the append-only triggers were removed',
          'The triggers that keep the audit trail append-only were removed or changed in the database file; they are back in place',
          unalarmed.join(', '),
          `While they were off, events could have been changed without the database refusing. ${file ? verifyAdvice() : 'Run `npm run audit -- verify` on the server.'}`,
        );
      }
      if (!anchoring) return;

      const found = await checkAnchors(deps.store.audit, path.resolve(file), mirror);
      const byKind = (k: AnchorAlarm['kind']) => found.alarms.filter((a) => a.kind === k).map((a) => a.message);
      if (byKind('missing').length) {
        await missing(byKind('missing'));
        return;
      }
      if (byKind('refused').length) {
        await refuse(byKind('refused').join('; '));
        return;
      }
      const newest = found.file.at(-1);
      // Synchronous from here to the file's write: no event can be appended in between.
      const result = deps.store.audit.verify(newest ? [newest] : undefined, newest ? { since: newest } : {});
      if (!result.ok) {
        await refuse(`event ${result.firstBadSeq}: ${result.reason}`);
        return;
      }
      if (result.count === 0) return;
      const anchor = { seq: result.headSeq, hash: result.headHash, at: deps.clock().toISOString() };
      appendAnchor(file, anchor);

      // The mirror gets what it lacks (anchors of a failed earlier write) and then this one.
      let mirrorProblem = byKind('unreachable')[0] ?? null;
      if (mirror && !mirrorProblem && found.mirror) {
        try {
          await mirror.append([...found.pending, anchor].map(anchorLine).join(''), found.mirrorBytes);
        } catch (err) {
          mirrorProblem = (err as Error).message;
        }
      }
      const mirrored = mirror !== null && mirrorProblem === null;
      deps.store.audit.append({
        actor: { id: 'system', name: APP_NAME },
        action: ANCHOR_WRITTEN,
        target: null,
        outcome: 'success',
        details: { seq: anchor.seq, hash: anchor.hash, file: path.resolve(file), ...(mirror ? { mirror: mirror.where, mirrored } : {}) },
      });
      logger.info({ action: 'audit.anchor', seq: anchor.seq, hash: anchor.hash, file: path.resolve(file), ...(mirror ? { mirror: mirror.where, mirrored } : {}) }, 'audit head anchored');
      if (mirrorProblem) {
        await mirrorFailed(mirrorProblem);
        // Failed, so the scheduler retries it soon; the anchor file already holds this head.
        throw new Error(`the anchor mirror was not written: ${mirrorProblem}`);
      }
    },
  });
  if (file && intervalHours > 0) scheduleSlot(slotAfter(deps.clock()));
  // Guards put back at this start: the technicians hear of it now, not at the next slot (nor
  // never, when anchors are off).
  if (guardsRestoredSinceAlarm().length) {
    deps.store.jobs.schedule({ kind: AUDIT_ANCHOR_JOB, runAt: deps.clock(), dedupeKey: `${AUDIT_ANCHOR_JOB}:guards:${deps.store.audit.count()}`, maxAttempts: deps.config.jobs.maxAttempts });
  }
}
