import { renderReportCard, type ChartPoint } from '../../adaptive-cards/technician';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import type { Report } from '../../store/report';
import { formatTime } from '../access-duration';
import { TICKET_TYPE_LABELS } from './tickets';

const hours = (h: number | null) => (h === null ? 'n/a' : `${h} h`);

function points(list: Array<{ label: string; count: number }>): ChartPoint[] {
  const total = list.reduce((a, x) => a + x.count, 0);
  return list.map((x) => ({ label: x.label, value: x.count, text: total ? `${x.count} (${Math.round((x.count / total) * 100)}%)` : String(x.count) }));
}

/**
 * The report as a card: summary facts and one chart per measure, each with a textual fallback.
 *
 * Every measure is a count. A Teams bar chart has no property for its value axis (no minimum,
 * maximum, step or number format on `Chart.VerticalBar` or `Chart.HorizontalBar`): the
 * renderer divides the largest value into four or six steps, so 2 requests gave an axis of 0,
 * 0.5, 1, 1.5, 2. The bars are therefore horizontal without an axis (`AbsoluteNoAxis`), each
 * labelled with its own whole count, and the name of each bar above it in full.
 */
export function reportCard(r: Report): AdaptiveCardJson {
  const volume = r.volume.filter((v) => v.count > 0);
  const sla = [
    { label: 'Met', count: r.sla.met },
    { label: 'Breached', count: r.sla.breached + r.sla.breachedOpen },
  ].filter((x) => x.count > 0);
  const queue = r.queue.filter((q) => q.count > 0);
  return renderReportCard({
    title: `Helpdesk report: last ${r.days} day${r.days === 1 ? '' : 's'}`,
    period: `${formatTime(r.from)} to ${formatTime(r.to)}`,
    summary: [
      { title: 'Requests', value: r.volume.map((v) => `${v.label}: ${v.count}`).join(' · ') },
      { title: 'Time to decision', value: `median ${hours(r.decision.medianHours)}, 90th percentile ${hours(r.decision.p90Hours)} (${r.decision.count} decided)` },
      { title: 'Time to fulfilment', value: `median ${hours(r.fulfilment.medianHours)}, 90th percentile ${hours(r.fulfilment.p90Hours)} (${r.fulfilment.count} granted)` },
      { title: 'Ticket SLA', value: `${r.sla.met} met, ${r.sla.breached} breached${r.sla.breachedOpen ? `, ${r.sla.breachedOpen} open past target` : ''}` },
      { title: 'Issued', value: `${r.issued.passwords} temporary password(s), ${r.issued.passes} Temporary Access Pass(es)` },
      { title: 'Open tickets', value: String(r.queue.reduce((a, q) => a + q.count, 0)) },
    ],
    charts: [
      { key: 'volume', title: 'Requests by type', chart: 'horizontal', points: points(volume.map((v) => ({ label: v.label, count: v.count }))), empty: 'No requests in this period.' },
      { key: 'sla', title: 'Ticket SLA', chart: 'pie', points: points(sla), empty: 'No ticket was closed or overdue in this period.' },
      { key: 'resources', title: 'Most requested resources', chart: 'horizontal', points: points(r.topResources.map((t) => ({ label: t.name, count: t.count }))), empty: 'No access requests in this period.' },
      { key: 'queue', title: 'Open tickets by age', chart: 'horizontal', points: points(queue.map((q) => ({ label: q.bucket, count: q.count }))), empty: 'The queue is empty.' },
      { key: 'tickets', title: 'Tickets by type', chart: 'pie', points: points(r.ticketsByType.map((t) => ({ label: TICKET_TYPE_LABELS[t.type], count: t.count }))), empty: 'No tickets were opened in this period.' },
    ],
    // One command per line: a line break inside "--" would not survive being copied.
    footer: `The same numbers as CSV, here:\n\nreport --days ${r.days} --format csv\n\nor on the server:\n\nnpm run report -- --days ${r.days} --format csv|json`,
  });
}
