import type { TurnContext } from 'botbuilder';
import { renderNoticeCard } from '../adaptive-cards/notice';
import type { BotDeps, HelpdeskApp } from '../bot/deps';
import type { MenuRegistry } from '../bot/menu';
import { auditActor, turnInfo } from '../bot/turn-info';
import { sendCard } from './reply';

const AUDIT_TEXT = /^\s*audit\s+(verify|tail)(?:\s+(.*))?$/i;
const TAIL_DEFAULT = 10;
const TAIL_MAX = 25;

/** Technicians: check the audit trail's hash chain and read its latest events in chat. */
export function registerAuditCommands(app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry): void {
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
    description: `The latest N audit events (default ${TAIL_DEFAULT}, at most ${TAIL_MAX}).`,
    run: (context) => runTail(context, deps, ''),
  });

  app.message(AUDIT_TEXT, async (context) => {
    const m = AUDIT_TEXT.exec(context.activity.text ?? '')!;
    const sub = m[1]!.toLowerCase();
    if (!(await requireTechnician(context, deps, `audit ${sub}`))) return;
    if (sub === 'verify') {
      if (m[2]?.trim()) {
        await context.sendActivity('Usage: `audit verify` (it takes no arguments).');
        return;
      }
      await runVerify(context, deps);
    } else {
      await runTail(context, deps, m[2] ?? '');
    }
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
  const result = deps.store.audit.verify();
  deps.store.audit.append({
    actor: auditActor(context),
    action: 'audit.verified',
    target: null,
    outcome: result.ok ? 'success' : 'failure',
    correlationId: turnInfo(context).correlationId,
    details: result.ok ? { events: result.count, headSeq: result.headSeq } : { events: result.count, firstBadSeq: result.firstBadSeq },
  });
  await sendCard(
    context,
    result.ok
      ? renderNoticeCard({
          title: 'Audit trail intact',
          text: `All ${result.count} events verified: the hash chain is unbroken.`,
          tone: 'good',
          facts: [{ title: 'Head', value: `${result.headSeq}:${result.headHash}` }],
        })
      : renderNoticeCard({
          title: 'Audit trail BROKEN',
          text: `The chain breaks at event ${result.firstBadSeq}: ${result.reason}. Preserve the database file and escalate to security.`,
          tone: 'attention',
        }),
  );
}

async function runTail(context: TurnContext, deps: BotDeps, arg: string): Promise<void> {
  if (!(await requireTechnician(context, deps, 'audit tail'))) return;
  const trimmed = arg.trim();
  const n = trimmed === '' ? TAIL_DEFAULT : Number(trimmed);
  if (!/^\d{1,3}$/.test(trimmed || String(TAIL_DEFAULT)) || !Number.isInteger(n) || n < 1 || n > TAIL_MAX) {
    await context.sendActivity(`Usage: \`audit tail [N]\` with N from 1 to ${TAIL_MAX}, e.g. \`audit tail 5\`.`);
    return;
  }
  const events = deps.store.audit.tail(n);
  await sendCard(
    context,
    renderNoticeCard({
      title: `Latest ${events.length} audit events`,
      text: events.length ? 'Newest last. Times are UTC.' : 'The audit trail is empty.',
      facts: events.map((e) => ({
        title: `#${e.seq} ${e.ts.slice(0, 19).replace('T', ' ')}`,
        value: `${e.action} · ${e.outcome} · ${e.actorName ?? e.actorId ?? 'unknown'}${e.target ? ` → ${e.target}` : ''}`,
      })),
    }),
  );
}
