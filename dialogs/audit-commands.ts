import type { TurnContext } from 'botbuilder';
import { renderNoticeCard } from '../adaptive-cards/notice';
import type { AdaptiveCardJson } from '../adaptive-cards/render';
import type { BotDeps, HelpdeskApp } from '../bot/deps';
import type { MenuRegistry } from '../bot/menu';
import { auditActor, turnInfo } from '../bot/turn-info';
import { AnchorFileError, readAnchorsIfAny, type AuditAnchor } from '../store/audit-anchors';
import type { AuditActor, AuditEvent } from '../store/audit-trail';
import type { Store } from '../store/store';
import { sendCard } from './reply';
import { TAIL } from './technician/grammar';

/**
 * Technicians: check the audit trail's hash chain and read its latest events. The typed
 * `audit verify` and `audit tail [N]` are part of the technicians' command grammar
 * (`dialogs/technician/`); this module keeps their welcome-card items and their cards.
 */
export function registerAuditCommands(_app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry): void {
  menu.add({
    key: 'audit-verify',
    audience: 'technician',
    say: 'audit verify',
    description: 'Check that no audit event was altered, removed, inserted or reordered.',
    button: 'Verify audit trail',
    run: (context) => runVerify(context, deps),
  });
  menu.add({
    key: 'audit-tail',
    audience: 'technician',
    say: `audit tail [N]`,
    description: `The latest N audit events (default ${TAIL.default}, at most ${TAIL.max}).`,
    run: async (context) => {
      if (!(await requireTechnician(context, deps, 'audit tail'))) return;
      await sendCard(context, auditTailCard(deps.store, TAIL.default));
    },
  });
}

/** Refuses (and audits the refusal) unless the acting user is in the technicians group now. */
async function requireTechnician(context: TurnContext, deps: BotDeps, command: string): Promise<boolean> {
  const info = turnInfo(context);
  if (info.roles.technician) return true;
  deps.store.audit.append({
    actor: auditActor(context),
    action: 'helpdesk.command-refused',
    target: null,
    outcome: 'refused',
    correlationId: info.correlationId,
    details: { command, reason: 'not-a-technician' },
  });
  await context.sendActivity('Sorry, that command is for identity technicians only.');
  return false;
}

async function runVerify(context: TurnContext, deps: BotDeps): Promise<void> {
  if (!(await requireTechnician(context, deps, 'audit verify'))) return;
  await sendCard(context, auditVerifyCard(deps.store, auditActor(context), turnInfo(context).correlationId, deps.config.auditAnchors.file));
}

/**
 * Verifies the whole chain, and against every anchor of the configured anchor file (so a
 * trail cut off at its end or rewritten with recomputed hashes is found here as by
 * `npm run audit -- verify --anchors`), records that it was checked, and says what was found.
 */
export function auditVerifyCard(store: Store, actor: AuditActor, correlationId: string, anchorFile: string | null = null): AdaptiveCardJson {
  let anchors: AuditAnchor[] = [];
  let anchorProblem: string | null = null;
  if (anchorFile) {
    try {
      anchors = readAnchorsIfAny(anchorFile);
    } catch (e) {
      // An anchor file someone edited is itself a finding; its message names the line, not a secret.
      anchorProblem = e instanceof AnchorFileError ? e.message : 'the anchor file cannot be read';
    }
  }
  const result = store.audit.verify(anchors);
  const newest = anchors[anchors.length - 1];
  store.audit.append({
    actor,
    action: 'audit.verified',
    target: null,
    outcome: result.ok && !anchorProblem ? 'success' : 'failure',
    correlationId,
    details: {
      ...(result.ok ? { events: result.count, headSeq: result.headSeq } : { events: result.count, firstBadSeq: result.firstBadSeq }),
      ...(anchorFile ? { anchors: anchors.length, ...(anchorProblem ? { anchorFileRefused: true } : {}) } : {}),
    },
  });
  if (!result.ok) {
    return renderNoticeCard({
      title: 'Audit trail BROKEN',
      text: `The chain breaks at event ${result.firstBadSeq}: ${result.reason}. Preserve the database file and escalate to security.`,
      tone: 'attention',
    });
  }
  if (anchorProblem) {
    return renderNoticeCard({
      title: 'Audit anchors REFUSED',
      text: `The hash chain is unbroken (${result.count} events), but the anchor file was refused: ${anchorProblem}. Preserve the database and the anchor file and escalate to security.`,
      tone: 'attention',
      facts: [{ title: 'Head', value: `${result.headSeq}:${result.headHash}` }],
    });
  }
  return renderNoticeCard({
    title: 'Audit trail intact',
    text: `All ${result.count} events verified: the hash chain is unbroken.${newest ? ` It still holds all ${anchors.length} anchors, the newest of ${newest.at} (event ${newest.seq}).` : ''}`,
    tone: 'good',
    facts: [{ title: 'Head', value: `${result.headSeq}:${result.headHash}` }],
  });
}

/** The latest `n` events, newest last. */
export function auditTailCard(store: Store, n: number): AdaptiveCardJson {
  const events = store.audit.tail(n);
  return renderNoticeCard({
    title: `Latest ${events.length} audit events`,
    text: events.length ? 'Newest last. Times are UTC.' : 'The audit trail is empty.',
    facts: events.map((e: AuditEvent) => ({
      title: `#${e.seq} ${e.ts.slice(0, 19).replace('T', ' ')}`,
      value: `${e.action} · ${e.outcome} · ${e.actorName ?? e.actorId ?? 'unknown'}${e.target ? ` → ${e.target}` : ''}`,
    })),
  });
}
