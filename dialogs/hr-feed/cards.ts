import { renderTechCard, type Fact, type Tone } from '../../adaptive-cards/technician';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import type { HrAction, HrBatch, HrLine } from '../../store/hr-feed';
import { formatTime } from '../access-duration';
import type { TechPlan } from '../technician/plans';

/**
 * The HR feed's cards in the technicians' channel (the technicians' card template): a
 * summary per batch, a notice when an action that was waiting for its date is carried out,
 * and the rejected lines of a batch. They carry ids only; the button's verb is checked on
 * the server (technicians only).
 */

export const HR_REJECTED_VERB = 'hr.rejected';
/** Rejected lines on one card; the report file or the webhook's answer has all of them. */
export const REJECTED_PAGE = 50;

const KIND_LABEL: Record<HrAction['kind'], string> = { joiner: 'Joiner', mover: 'Mover', leaver: 'Leaver' };

const PLAN_AFTER_APPROVAL: Record<Exclude<TechPlan['state'], 'proposed'>, string> = {
  running: 'approved, running',
  done: 'approved and done',
  partial: 'approved, finished with problems',
  cancelled: 'cancelled by a technician',
  expired: 'expired without an approval',
};

/** What became of an action, for a card line. */
export function actionStatus(a: HrAction, plans: Map<string, TechPlan>): string {
  const planIds = a.planIds.length ? ` (${a.planIds.join(', ')})` : '';
  switch (a.state) {
    case 'scheduled':
      return `scheduled for ${formatTime(a.dueAt)}`;
    case 'running':
      return `running${planIds}`;
    case 'done':
      return `done${planIds}`;
    case 'nothing-to-do':
      return 'nothing to change';
    case 'partial':
      return `finished with problems${planIds}${a.ticketId ? `, ${a.ticketId}` : ''}`;
    case 'waiting-approval': {
      // The plan's own state tells what the technicians did with it.
      const plan = a.planIds.map((id) => plans.get(id)).find(Boolean);
      if (plan && plan.state !== 'proposed') return `${plan.id} ${PLAN_AFTER_APPROVAL[plan.state]}${plan.approvedBy.name ? ` (${plan.approvedBy.name})` : ''}`;
      return `waits for a technician's approval${planIds}${a.ticketId ? `, ${a.ticketId}` : ''}`;
    }
    case 'superseded':
      return 'replaced by a newer record';
    case 'failed':
      return `FAILED: ${a.detail ?? ''}`.slice(0, 200);
  }
}

function describeAction(a: HrAction): string {
  const r = a.record;
  if (a.kind === 'joiner') return `start ${r.startDate}, ${r.department}${r.title ? `, ${r.title}` : ''}`;
  if (a.kind === 'mover') return `to ${r.department}${r.title ? `, ${r.title}` : ''}`;
  return r.endDate ? `end date ${r.endDate}` : 'terminated';
}

/** The summary of one batch: counts, the changes, the first rejected lines. */
export function summaryCard(batch: HrBatch, actions: HrAction[], rejected: HrLine[], timeZone: string, plans: Map<string, TechPlan>): AdaptiveCardJson {
  const source = batch.source === 'file' ? `File ${batch.name}` : 'Webhook';
  if (batch.state === 'rejected') {
    return renderTechCard({
      title: `HR feed ${batch.id}: rejected`,
      subtitle: `${source} · received ${formatTime(batch.createdAt)}`,
      status: 'Nothing in it was applied',
      tone: 'attention',
      text: batch.error ?? '',
      footer: `Fix the file and send it again. Audit events of this batch carry the correlation id ${batch.id}.`,
    });
  }
  const count = (kind: HrAction['kind']) => {
    const list = actions.filter((a) => a.kind === kind && a.state !== 'superseded');
    if (!list.length) return '0';
    const later = list.filter((a) => a.state === 'scheduled').length;
    const waiting = list.filter((a) => a.state === 'waiting-approval').length;
    return [`${list.length}`, ...(later ? [`${later} scheduled`] : []), ...(waiting ? [`${waiting} waiting for approval`] : [])].join(', ');
  };
  const facts: Fact[] = [
    { title: 'Records', value: String(batch.records) },
    { title: 'Joiners', value: count('joiner') },
    { title: 'Movers', value: count('mover') },
    { title: 'Leavers', value: count('leaver') },
    { title: 'Unchanged', value: String(batch.unchanged) },
    { title: 'Rejected lines', value: String(batch.rejected) },
  ];
  const changes: Fact[] = actions.slice(0, 25).map((a) => ({ title: `${KIND_LABEL[a.kind]}: ${a.userName}`, value: `${describeAction(a)} · ${actionStatus(a, plans)}` }));
  const waiting = actions.some((a) => a.state === 'waiting-approval');
  const tone: Tone = batch.rejected || actions.some((a) => a.state === 'partial' || a.state === 'failed') ? 'warning' : waiting ? 'accent' : 'good';
  const statusParts = [
    `${actions.length} change${actions.length === 1 ? '' : 's'}`,
    ...(batch.rejected ? [`${batch.rejected} line${batch.rejected === 1 ? '' : 's'} rejected (they changed nothing)`] : []),
    ...(waiting ? ['privileged accounts wait for a technician'] : []),
  ];
  return renderTechCard({
    title: `HR feed ${batch.id}`,
    subtitle: `${source} · received ${formatTime(batch.createdAt)} · dates in ${timeZone}`,
    status: statusParts.join(' · '),
    tone,
    facts,
    sections: [
      ...(changes.length ? [{ key: 'changes', title: actions.length > changes.length ? `Changes (first ${changes.length} of ${actions.length})` : 'Changes', facts: changes }] : []),
      ...(rejected.length ? [{ key: 'rejected', title: batch.rejected > rejected.length ? `Rejected lines (first ${rejected.length} of ${batch.rejected})` : 'Rejected lines', facts: rejected.map(rejectedFact) }] : []),
    ],
    footer: `Audit events of this batch carry the correlation id ${batch.id}; each plan's steps: audit PLN-….`,
    actions: batch.rejected ? [{ id: 'hr-rejected', title: `All rejected lines (${batch.rejected})`, verb: HR_REJECTED_VERB, data: { batch: batch.id } }] : [],
  });
}

function rejectedFact(l: HrLine): Fact {
  const who = [l.employeeId, l.upn].filter(Boolean).join(' · ');
  return { title: `Line ${l.line}${who ? ` (${who})` : ''}`, value: l.reason ?? '' };
}

/** An action carried out after its batch's summary (its date came, or it was retried). */
export function announceCard(a: HrAction, plans: Map<string, TechPlan>): AdaptiveCardJson {
  const tone: Tone = a.state === 'partial' || a.state === 'failed' ? 'attention' : a.state === 'waiting-approval' ? 'accent' : 'good';
  return renderTechCard({
    title: `HR feed: ${KIND_LABEL[a.kind].toLowerCase()} ${a.userName}`,
    subtitle: `${a.upn} · ${describeAction(a)}`,
    status: actionStatus(a, plans),
    tone,
    text: a.detail ?? '',
    facts: [
      { title: 'HR action', value: a.id },
      { title: 'From batch', value: a.batchId },
      { title: 'Due', value: formatTime(a.dueAt) },
    ],
    footer: a.planIds.length ? `Steps: ${a.planIds.map((id) => `audit ${id}`).join(' · ')}` : '',
  });
}

/** Every rejected line of a batch (up to a page), for the summary's button. */
export function rejectedCard(batch: HrBatch, lines: HrLine[]): AdaptiveCardJson {
  const shownLines = lines.slice(0, REJECTED_PAGE);
  return renderTechCard({
    title: `HR feed ${batch.id}: rejected lines`,
    subtitle: `${batch.source === 'file' ? `File ${batch.name}` : 'Webhook'} · ${batch.rejected} of ${batch.records} lines`,
    tone: batch.rejected ? 'warning' : 'good',
    text: batch.rejected ? 'These lines changed nothing. Fix them in the HR system and send them again; the rest of the batch was applied.' : 'No line of this batch was rejected.',
    facts: shownLines.map(rejectedFact),
    footer: batch.rejected > shownLines.length ? `Showing ${shownLines.length} of ${batch.rejected}: the report file beside the processed file (or the webhook's answer) lists them all.` : '',
  });
}
