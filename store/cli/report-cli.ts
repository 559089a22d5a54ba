import path from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../../directory/catalog';
import { buildReport, reportCsv, type Report } from '../report';
import { openStoreForCli, runCli } from './cli-support';

const USAGE = `Usage: npm run report -- [--days N] [--format text|csv|json] [--db PATH]

The helpdesk report over the last N days (default 30, at most 365): request volume by type,
time to decision and to fulfilment (median, 90th percentile), ticket SLA met and breached,
temporary passwords and passes issued, most requested resources, open tickets by age. The
same numbers as the technicians' "report" command in Teams.`;

/** The report CLI. Returns the exit code: 0 fine, 2 bad usage or an unreadable database. */
export async function main(argv: string[], env: NodeJS.ProcessEnv, out: Writable, err: Writable, now: () => Date = () => new Date()): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { days: { type: 'string' }, format: { type: 'string' }, db: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out.write(USAGE + '\n');
    return 0;
  }
  const days = values.days === undefined ? 30 : Number(values.days);
  if (!/^\d{1,3}$/.test(String(values.days ?? '30')) || !Number.isInteger(days) || days < 1 || days > 365) {
    err.write('--days takes a whole number from 1 to 365\n');
    return 2;
  }
  const format = (values.format as string | undefined) ?? 'text';
  if (!['text', 'csv', 'json'].includes(format)) {
    err.write('--format takes text, csv or json\n');
    return 2;
  }
  const opened = openStoreForCli(values.db as string | undefined, env, err);
  if (!opened) return 2;
  const { store } = opened;
  try {
    const catalog = loadCatalog(env.ACCESS_CATALOG_PATH ? path.resolve(env.ACCESS_CATALOG_PATH) : DEFAULT_CATALOG_FILE);
    const report = buildReport(store, { days, now: now(), catalog });
    out.write(format === 'json' ? JSON.stringify(report, null, 2) + '\n' : format === 'csv' ? reportCsv(report) + '\n' : textReport(report));
    return 0;
  } finally {
    store.close();
  }
}

function textReport(r: Report): string {
  const h = (v: number | null) => (v === null ? 'n/a' : `${v} h`);
  const lines = [
    `Helpdesk report, last ${r.days} days (${r.from} to ${r.to})`,
    '',
    'Requests by type:',
    ...r.volume.map((v) => `  ${v.label.padEnd(34)} ${v.count}`),
    '',
    `Time to decision:   median ${h(r.decision.medianHours)}, p90 ${h(r.decision.p90Hours)} (${r.decision.count} decided)`,
    `Time to fulfilment: median ${h(r.fulfilment.medianHours)}, p90 ${h(r.fulfilment.p90Hours)} (${r.fulfilment.count} granted)`,
    `Ticket SLA:         ${r.sla.met} met, ${r.sla.breached} breached, ${r.sla.breachedOpen} open past target`,
    `Issued:             ${r.issued.passwords} temporary passwords, ${r.issued.passes} Temporary Access Passes`,
    '',
    'Most requested resources:',
    ...(r.topResources.length ? r.topResources.map((t) => `  ${t.name.padEnd(34)} ${t.count}`) : ['  none']),
    '',
    'Open tickets by age:',
    ...r.queue.map((q) => `  ${q.bucket.padEnd(34)} ${q.count}`),
  ];
  return lines.join('\n') + '\n';
}

if (require.main === module) runCli('report', main);
