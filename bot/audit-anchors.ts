import path from 'node:path';
import type { Scheduler, TechnicianNotices } from './scheduler';
import { APP_NAME, type BotDeps } from './deps';
import { appendAnchor, readAnchorsIfAny } from '../store/audit-anchors';

export const AUDIT_ANCHOR_JOB = 'audit.anchor';

/**
 * Writes the audit trail's head to the anchor file (`AUDIT_ANCHOR_FILE`) every
 * `AUDIT_ANCHOR_INTERVAL_HOURS`, and logs it (`action: audit.anchor`) so a log shipper keeps
 * a second copy. One job per time slot: the slot is its dedupe key, so restarts and retries
 * never write a slot twice. `npm run audit -- verify --anchors FILE` (and `audit verify` in
 * chat) checks the trail against every anchor, so a head written after a rewrite does not
 * hide it.
 *
 * Before it writes, the job checks what came since the newest anchor in the file (that event
 * still has its hash, every later one follows from it): a trail rewritten since, or an anchor
 * file that no longer reads, is never anchored. It is refused instead, in the log
 * (`audit.anchor-refused`), in the trail, and as a security ticket for the technicians.
 */
export function scheduleAuditAnchors(deps: BotDeps, scheduler: Scheduler, technicians: TechnicianNotices): void {
  const { intervalHours, file } = deps.config.auditAnchors;
  const logger = deps.logger.child({ component: 'audit-anchor' });
  const slotMs = intervalHours * 3_600_000;
  const slotAfter = (t: Date) => new Date((Math.floor(t.getTime() / slotMs) + 1) * slotMs);
  const scheduleSlot = (runAt: Date) =>
    deps.store.jobs.schedule({ kind: AUDIT_ANCHOR_JOB, runAt, dedupeKey: `${AUDIT_ANCHOR_JOB}:${runAt.toISOString()}`, maxAttempts: deps.config.jobs.maxAttempts });

  const refuse = async (reason: string) => {
    logger.error({ action: 'audit.anchor-refused', reason, file: path.resolve(file!) }, 'audit head not anchored: the trail or the anchor file does not check out');
    deps.store.audit.append({ actor: { id: 'system', name: APP_NAME }, action: 'audit.anchor-refused', target: null, outcome: 'failure', details: { reason } });
    await technicians.raise({
      type: 'security',
      title: 'Audit trail: the head was not anchored',
      text: `The scheduled anchor of the audit trail was refused: ${reason}. Run \`npm run audit -- verify --anchors ${path.resolve(file!)}\` on the server and compare the anchors with the log shipper's copy of the \`audit.anchor\` log lines.`,
      facts: [{ title: 'Anchor file', value: path.resolve(file!) }],
      // Refused again at the next slot: the same open ticket, a line in its history.
      requestId: AUDIT_ANCHOR_JOB,
    });
  };

  scheduler.register(AUDIT_ANCHOR_JOB, {
    run: async () => {
      if (!file || intervalHours <= 0) return;
      // The next slot first: a retry of this one schedules nothing new (same key).
      scheduleSlot(slotAfter(deps.clock()));
      let newest;
      try {
        newest = readAnchorsIfAny(file).at(-1);
      } catch (err) {
        await refuse((err as Error).message);
        return;
      }
      // Synchronous from here to the write: no event can be appended in between.
      const result = deps.store.audit.verify(newest ? [newest] : undefined, newest ? { since: newest } : {});
      if (!result.ok) {
        await refuse(`event ${result.firstBadSeq}: ${result.reason}`);
        return;
      }
      if (result.count === 0) return;
      appendAnchor(file, { seq: result.headSeq, hash: result.headHash, at: deps.clock().toISOString() });
      logger.info({ action: 'audit.anchor', seq: result.headSeq, hash: result.headHash, file: path.resolve(file) }, 'audit head anchored');
    },
  });
  if (file && intervalHours > 0) scheduleSlot(slotAfter(deps.clock()));
}
