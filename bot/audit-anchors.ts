import path from 'node:path';
import type { Scheduler } from './scheduler';
import type { BotDeps } from './deps';
import { appendAnchor } from '../store/audit-anchors';

export const AUDIT_ANCHOR_JOB = 'audit.anchor';

/**
 * Writes the audit trail's head to the anchor file (`AUDIT_ANCHOR_FILE`) every
 * `AUDIT_ANCHOR_INTERVAL_HOURS`, and logs it (`action: audit.anchor`) so a log shipper keeps
 * a second copy. One job per time slot: the slot is its dedupe key, so restarts and retries
 * never write a slot twice. `npm run audit -- verify --anchors FILE` (and `audit verify` in
 * chat) checks the trail against every anchor, so a head written after a rewrite does not
 * hide it.
 */
export function scheduleAuditAnchors(deps: BotDeps, scheduler: Scheduler): void {
  const { intervalHours, file } = deps.config.auditAnchors;
  const logger = deps.logger.child({ component: 'audit-anchor' });
  const slotMs = intervalHours * 3_600_000;
  const slotAfter = (t: Date) => new Date((Math.floor(t.getTime() / slotMs) + 1) * slotMs);
  const scheduleSlot = (runAt: Date) =>
    deps.store.jobs.schedule({ kind: AUDIT_ANCHOR_JOB, runAt, dedupeKey: `${AUDIT_ANCHOR_JOB}:${runAt.toISOString()}`, maxAttempts: deps.config.jobs.maxAttempts });

  scheduler.register(AUDIT_ANCHOR_JOB, {
    run: async () => {
      if (!file || intervalHours <= 0) return;
      // The next slot first: a retry of this one schedules nothing new (same key).
      scheduleSlot(slotAfter(deps.clock()));
      const [head] = deps.store.audit.tail(1);
      if (!head) return;
      const at = deps.clock().toISOString();
      appendAnchor(file, { seq: head.seq, hash: head.hash, at });
      logger.info({ action: 'audit.anchor', seq: head.seq, hash: head.hash, file: path.resolve(file) }, 'audit head anchored');
    },
  });
  if (file && intervalHours > 0) scheduleSlot(slotAfter(deps.clock()));
}
