import { renderTemplate, type AdaptiveCardJson } from './render';

/** Cards of the technicians' commands: results, plans and progress, tickets, the report. */

export interface Fact {
  title: string;
  value: string;
}

export type Tone = 'default' | 'good' | 'attention' | 'warning' | 'accent';

export interface TechAction {
  /** Element id: tests and updates find buttons by it. */
  id: string;
  title: string;
  verb: string;
  /** Ids only: who may act is decided on the server. */
  data: Record<string, string | number>;
  style?: 'default' | 'positive' | 'destructive';
}

export interface TechSection {
  key: string;
  title: string;
  facts?: Fact[];
  text?: string;
  /** Monospace text (CSV, listings). */
  monospace?: boolean;
}

export interface TechCardData {
  title: string;
  subtitle?: string;
  status?: string;
  tone?: Tone;
  text?: string;
  facts?: Fact[];
  sections?: TechSection[];
  footer?: string;
  actions?: TechAction[];
  /** A box for the authenticator code: the action needs the clicker's fresh MFA (local mode). */
  askMfaCode?: boolean;
}

/**
 * The status line sits on the header, whose background already carries the tone: coloured
 * text on a background of the same colour is hard to read, so it keeps the default colour.
 */
const STATUS_COLOR = 'Default';

function headerStyle(tone: Tone | undefined): string {
  return tone === 'good' ? 'good' : tone === 'attention' ? 'attention' : tone === 'warning' ? 'warning' : tone === 'accent' ? 'accent' : 'emphasis';
}

/**
 * Text that came from people (reasons, notes, names) is shown as it is, except that a
 * template expression cannot survive into a card.
 */
export function shown(s: string): string {
  return s.replace(/\$\{/g, '$\u200b{');
}

const facts = (list: Fact[] | undefined): Fact[] => (list ?? []).map((f) => ({ title: shown(f.title), value: shown(f.value) }));

/** The card of a command: a result, a list, a plan with its buttons, a progress report. */
export function renderTechCard(d: TechCardData): AdaptiveCardJson {
  return renderTemplate('technician', {
    title: shown(d.title),
    subtitle: shown(d.subtitle ?? ''),
    status: shown(d.status ?? ''),
    statusColor: STATUS_COLOR,
    headerStyle: headerStyle(d.tone),
    text: shown(d.text ?? ''),
    facts: facts(d.facts),
    sections: (d.sections ?? []).map((s) => ({
      key: s.key,
      title: shown(s.title),
      facts: facts(s.facts),
      text: shown(s.text ?? ''),
      font: s.monospace ? 'Monospace' : 'Default',
      size: s.monospace ? 'Small' : 'Default',
    })),
    footer: shown(d.footer ?? ''),
    actions: (d.actions ?? []).slice(0, 6).map((a) => ({ ...a, style: a.style ?? 'default' })),
    askMfaCode: d.askMfaCode === true,
  });
}

export interface TicketCardData {
  id: string;
  heading: string;
  title: string;
  text: string;
  status: string;
  tone: Tone;
  facts: Fact[];
  ticketFacts: Fact[];
  history: Fact[];
  open: boolean;
}

/** A ticket as posted in the technicians' channel, with Take, Assign and Close while it is open. */
export function renderTicketCard(d: TicketCardData): AdaptiveCardJson {
  return renderTemplate('ticket', {
    id: d.id,
    heading: shown(d.heading),
    title: shown(d.title),
    text: shown(d.text),
    status: shown(d.status),
    statusColor: STATUS_COLOR,
    headerStyle: headerStyle(d.tone),
    facts: facts(d.facts),
    ticketFacts: facts(d.ticketFacts),
    history: facts(d.history),
    open: d.open,
  });
}

export interface ChartPoint {
  label: string;
  value: number;
  /** The point as text, for the fallback: "12 (40%)". */
  text: string;
}

export interface ReportChart {
  key: string;
  title: string;
  chart: 'pie' | 'vertical' | 'horizontal';
  xAxis?: string;
  yAxis?: string;
  points: ChartPoint[];
  /** Said instead of an empty chart. */
  empty: string;
}

export interface ReportCardData {
  title: string;
  period: string;
  summary: Fact[];
  charts: ReportChart[];
  footer: string;
}

/**
 * The report: summary numbers, then one Teams chart (`Chart.*`) per measure, each with a
 * FactSet fallback for clients without charts; an empty measure is a sentence instead.
 */
export function renderReportCard(d: ReportCardData): AdaptiveCardJson {
  return renderTemplate('technician-report', {
    title: shown(d.title),
    period: shown(d.period),
    summary: facts(d.summary),
    footer: shown(d.footer),
    charts: d.charts.map((c) => ({
      key: c.key,
      title: shown(c.title),
      chart: c.points.length ? c.chart : 'none',
      xAxis: c.xAxis ?? '',
      yAxis: c.yAxis ?? '',
      empty: shown(c.empty),
      points: c.points.map((p) => ({ label: shown(p.label), value: p.value, text: shown(p.text) })),
    })),
  });
}

export interface SecretCardData {
  plan: string;
  title: string;
  text: string;
  /** The password or pass; empty once hidden. */
  secret: string;
  facts: Fact[];
  footer: string;
}

/** A temporary password or pass, in the acting technician's 1:1 chat only; replaced by a hidden version later. */
export function renderSecretCard(d: SecretCardData): AdaptiveCardJson {
  return renderTemplate('technician-secret', { plan: d.plan, title: shown(d.title), text: shown(d.text), secret: d.secret, facts: facts(d.facts), footer: shown(d.footer) });
}
