import fs from 'node:fs';
import { ACTION_INTENTS, INTENTS, isIntent, type Intent } from './types';
import type { Recognizer } from './recognizer';

/** One labelled sentence of an evaluation set. */
export interface LabelledUtterance {
  text: string;
  intent: Intent;
}

/** Reads a JSON-lines file of `{"text": ..., "intent": ...}`; a bad line is an error naming it. */
export function loadLabelled(file: string): LabelledUtterance[] {
  const out: LabelledUtterance[] = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const row = JSON.parse(line) as { text?: unknown; intent?: unknown };
      if (typeof row.text !== 'string' || !isIntent(row.intent)) throw new Error(`${file}:${i + 1}: expected {"text": string, "intent": one of the intents}`);
      out.push({ text: row.text, intent: row.intent });
    });
  return out;
}

export interface Miss {
  text: string;
  expected: Intent;
  got: Intent;
  confidence: number;
  decision: string;
}

export interface EvaluationReport {
  total: number;
  correct: number;
  accuracy: number;
  /** confusion[expected][predicted] = count */
  confusion: Record<Intent, Record<Intent, number>>;
  misses: Miss[];
  /** Sentences the bot would have acted on with the wrong action intent. */
  wrongActions: Miss[];
  /** `none` sentences the bot would have started an action for. */
  noneActed: Miss[];
  /** Sentences answered with a clarifying question. */
  clarified: number;
  microsPerMessage: number;
}

/** Scores `recognizer` on labelled sentences: intent accuracy and what the bot would have done. */
export function evaluate(recognizer: Recognizer, rows: readonly LabelledUtterance[]): EvaluationReport {
  const confusion = Object.fromEntries(INTENTS.map((e) => [e, Object.fromEntries(INTENTS.map((p) => [p, 0]))])) as EvaluationReport['confusion'];
  const misses: Miss[] = [];
  const wrongActions: Miss[] = [];
  const noneActed: Miss[] = [];
  let correct = 0;
  let clarified = 0;
  const started = process.hrtime.bigint();
  for (const row of rows) {
    const r = recognizer.recognize(row.text);
    const d = recognizer.decide(r);
    confusion[row.intent][r.intent] += 1;
    const decision = d.kind === 'act' ? `act ${d.intent}` : d.kind === 'clarify' ? `ask ${d.options.join(' / ')}` : 'none';
    const miss: Miss = { text: row.text, expected: row.intent, got: r.intent, confidence: r.confidence, decision };
    if (r.intent === row.intent) correct += 1;
    else misses.push(miss);
    if (d.kind === 'clarify') clarified += 1;
    if (d.kind === 'act' && d.intent !== row.intent && ACTION_INTENTS.has(d.intent)) {
      wrongActions.push(miss);
      if (row.intent === 'none') noneActed.push(miss);
    }
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e3;
  misses.sort((a, b) => b.confidence - a.confidence);
  return {
    total: rows.length,
    correct,
    accuracy: rows.length ? correct / rows.length : 0,
    confusion,
    misses,
    wrongActions,
    noneActed,
    clarified,
    microsPerMessage: rows.length ? elapsed / rows.length : 0,
  };
}

/** Short column labels for the confusion table. */
const SHORT: Record<Intent, string> = {
  'password.reset': 'pwd',
  'mfa.reset': 'mfa',
  'account.unlock': 'unlk',
  'signin.help': 'sign',
  'access.request': 'req',
  'access.status': 'stat',
  'access.cancel': 'cncl',
  'access.list': 'list',
  'approvals.pending': 'appr',
  help: 'help',
  greeting: 'greet',
  thanks: 'thx',
  none: 'none',
};

/** The confusion table as Markdown: rows are the labels, columns what was recognized. */
export function confusionTable(report: EvaluationReport): string {
  const header = `| expected \\ got | ${INTENTS.map((i) => SHORT[i]).join(' | ')} | recall |`;
  const rule = `|---|${INTENTS.map(() => '---:').join('|')}|---:|`;
  const rows = INTENTS.map((e) => {
    const row = report.confusion[e];
    const n = INTENTS.reduce((s, p) => s + row[p], 0);
    const cells = INTENTS.map((p) => (row[p] === 0 ? '.' : p === e ? `**${row[p]}**` : String(row[p])));
    return `| ${e} (${n}) | ${cells.join(' | ')} | ${n ? ((row[e] / n) * 100).toFixed(0) : '-'}% |`;
  });
  return [header, rule, ...rows].join('\n');
}

/** The whole report as text, for `npm run nlu:eval`. */
export function formatReport(name: string, report: EvaluationReport, worst = 15): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `${name}: ${report.correct}/${report.total} correct, intent accuracy ${pct(report.accuracy)}`,
    `decisions: ${report.clarified} clarifying questions, ${report.wrongActions.length} wrong actions, ${report.noneActed.length} out-of-scope messages acted on; ${report.microsPerMessage.toFixed(0)} µs per message`,
    '',
    confusionTable(report),
    '',
    `worst misses (most confident first, ${Math.min(worst, report.misses.length)} of ${report.misses.length}):`,
    ...report.misses.slice(0, worst).map((m) => `  ${m.confidence.toFixed(2)}  ${m.expected} -> ${m.got}  [${m.decision}]  ${JSON.stringify(m.text)}`),
  ];
  if (report.wrongActions.length) {
    lines.push('', 'would have acted wrongly:', ...report.wrongActions.map((m) => `  ${m.confidence.toFixed(2)}  ${m.expected} -> ${m.got}  ${JSON.stringify(m.text)}`));
  }
  return lines.join('\n');
}
