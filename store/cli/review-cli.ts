import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { reviewEvidenceCsv } from '../review-evidence';
import { isCampaignId, ReviewStore } from '../reviews';
import { openStoreForCli, runCli } from './cli-support';

const USAGE = `Usage: npm run review-report -- REV-1001 [--db PATH]

The evidence of one access review campaign as CSV, for auditors: comment lines (#) with the
campaign, its completion rate and the audit trail's verification, then one row per line:
member, access, reviewers, who decided what, when and why, auto-applied or not, when the
removal was asked for and took effect, or why it failed. The same file as "review report
REV-1001 --csv" in Teams. Redirect it to a file: npm run -s review-report -- REV-1001 > rev.csv`;

/** The review evidence CLI. Returns the exit code: 0 fine, 1 no such campaign, 2 bad usage or an unreadable database. */
export async function main(argv: string[], env: NodeJS.ProcessEnv, out: Writable, err: Writable): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { db: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out.write(USAGE + '\n');
    return 0;
  }
  const id = positionals[0]?.toUpperCase();
  if (positionals.length !== 1 || !isCampaignId(id)) {
    err.write(`Name one campaign, such as REV-1001.\n\n${USAGE}\n`);
    return 2;
  }
  const opened = openStoreForCli(values.db as string | undefined, env, err);
  if (!opened) return 2;
  const { store, file } = opened;
  try {
    const reviews = new ReviewStore(store.db);
    const campaign = reviews.get(id);
    if (!campaign) {
      err.write(`There is no access review ${id} in ${file}.\n`);
      return 1;
    }
    out.write(reviewEvidenceCsv(store.audit, reviews, campaign) + '\n');
    return 0;
  } finally {
    store.close();
  }
}

if (require.main === module) runCli('review-report', main);
