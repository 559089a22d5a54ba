import type { TurnContext } from 'botbuilder';
import { renderNoticeCard } from '../adaptive-cards/notice';
import type { AdaptiveCardJson } from '../adaptive-cards/render';
import type { BotDeps, HelpdeskApp } from '../bot/deps';
import type { MenuRegistry } from '../bot/menu';
import { auditActor, turnInfo } from '../bot/turn-info';
import { allAnchors, checkAnchors, type AnchorAlarm } from '../store/audit-anchor-check';
import { openAnchorMirror, type AnchorMirrorConfig } from '../store/audit-anchor-mirror';
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
  await sendCard(context, await auditVerifyCard(deps.store, auditActor(context), turnInfo(context).correlationId, deps.config.auditAnchors));
}

/** Where the anchors are kept: the file and its mirror, as configured. */
export interface AnchorPlaces {
  file: string | null;
  mirror: AnchorMirrorConfig | null;
}

/**
 * Verifies the whole chain, and against every anchor of the configured anchor file and its
 * mirror (so a trail cut off at its end or rewritten with recomputed hashes is found here as
 * by `npm run audit -- verify --anchors`); checks that the append-only triggers are in place
 * and that neither anchor location lost anchors the trail records writing to it; records that
 * it was checked, and says what was found.
 */
export async function auditVerifyCard(store: Store, actor: AuditActor, correlationId: string, places: AnchorPlaces | null = null): Promise<AdaptiveCardJson> {
  const guards = store.audit.guardProblems();
  const found = places?.file ? await checkAnchors(store.audit, places.file, places.mirror ? openAnchorMirror(places.mirror) : null) : null;
  const anchors = found ? allAnchors(found) : [];
  const result = store.audit.verify(anchors);
  const newest = found?.file.at(-1);
  const alarms = (kind: AnchorAlarm['kind']) => (found?.alarms ?? []).filter((a) => a.kind === kind).map((a) => a.message);
  const guardText = guards.map((g) => `${g.trigger} is ${g.problem === 'unexpected' ? 'a trigger that is not ours' : g.problem}`);
  const ok = result.ok && !guards.length && !found?.alarms.length;
  store.audit.append({
    actor,
    action: 'audit.verified',
    target: null,
    outcome: ok ? 'success' : 'failure',
    correlationId,
    details: {
      ...(result.ok ? { events: result.count, headSeq: result.headSeq } : { events: result.count, firstBadSeq: result.firstBadSeq }),
      ...(guards.length ? { guards: guardText } : {}),
      ...(found
        ? {
            anchors: found.file.length,
            ...(alarms('refused').length ? { anchorFileRefused: true } : {}),
            ...(alarms('missing').length ? { anchorsMissing: true } : {}),
            ...(alarms('unreachable').length ? { mirrorUnreachable: true } : {}),
          }
        : {}),
    },
  });
  // Everything else found, after the headline: one finding never hides another.
  const also = (skip: 'guards' | AnchorAlarm['kind'] | null) =>
    [
      ...(skip !== 'guards' && guards.length ? [`The append-only triggers are not in place: ${guardText.join('; ')}.`] : []),
      ...(['missing', 'refused', 'unreachable'] as const).filter((k) => k !== skip).flatMap((k) => alarms(k).map((m) => `Anchors: ${m}.`)),
    ].join(' ');
  const head = result.ok ? [{ title: 'Head', value: `${result.headSeq}:${result.headHash}` }] : [];
  const preserve = 'Preserve the database file and the anchor files and escalate to security.';
  if (!result.ok) {
    return renderNoticeCard({
      title: 'Audit trail BROKEN',
      text: `The chain breaks at event ${result.firstBadSeq}: ${result.reason}. Preserve the database file and escalate to security. ${also(null)}`.trim(),
      tone: 'attention',
    });
  }
  if (guards.length) {
    return renderNoticeCard({
      title: 'Audit trail UNGUARDED',
      text: `The hash chain is unbroken (${result.count} events), but the append-only triggers are not in place: ${guardText.join('; ')}. Until they are, the database file accepts changes to events; the bot puts them back at its next start or scheduled anchor. ${preserve} ${also('guards')}`.trim(),
      tone: 'attention',
      facts: head,
    });
  }
  if (alarms('missing').length) {
    return renderNoticeCard({
      title: 'Audit anchors MISSING',
      text: `The hash chain is unbroken (${result.count} events), but anchors are missing: ${alarms('missing').join('; ')}. ${preserve} ${also('missing')}`.trim(),
      tone: 'attention',
      facts: head,
    });
  }
  if (alarms('refused').length) {
    return renderNoticeCard({
      title: 'Audit anchors REFUSED',
      text: `The hash chain is unbroken (${result.count} events), but the anchor file was refused: ${alarms('refused').join('; ')}. ${preserve} ${also('refused')}`.trim(),
      tone: 'attention',
      facts: head,
    });
  }
  if (alarms('unreachable').length) {
    return renderNoticeCard({
      title: 'Audit anchor mirror UNREACHABLE',
      text: `All ${result.count} events verified against the anchor file, but its mirror could not be read: ${alarms('unreachable').join('; ')}.`,
      tone: 'warning',
      facts: head,
    });
  }
  return renderNoticeCard({
    title: 'Audit trail intact',
    text: `All ${result.count} events verified: the hash chain is unbroken and its append-only triggers are in place.${newest ? ` It still holds all ${found!.file.length} anchors, the newest of ${newest.at} (event ${newest.seq})${found!.mirror ? ', and the mirror agrees' : ''}.` : ''}`,
    tone: 'good',
    facts: head,
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
