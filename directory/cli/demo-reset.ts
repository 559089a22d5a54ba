import path from 'node:path';
import type { Writable } from 'node:stream';
import { loadDemoTenant } from '../demo-tenant';
import { LocalDirectory } from '../local-directory';

/** Where the local demo directory lives unless `LOCAL_DIRECTORY_PATH` says otherwise. */
export const DEFAULT_LOCAL_DIRECTORY_PATH = './data/demo-directory.db';

const USAGE = `Usage: npm run demo:reset

Restores the local demo directory (users, groups, memberships, sign-in methods) to the
bundled demo tenant, undoing every change made since. The file is $LOCAL_DIRECTORY_PATH,
or ${DEFAULT_LOCAL_DIRECTORY_PATH}; it is created when missing.`;

/**
 * Resets the local demo directory to its seed. Returns the process exit code: 0 done,
 * 1 the reset failed, 2 bad usage.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: Writable = process.stdout,
  err: Writable = process.stderr,
): Promise<number> {
  if (argv.some((a) => a === '--help' || a === '-h' || a === 'help')) {
    out.write(USAGE + '\n');
    return 0;
  }
  if (argv.length > 0) {
    err.write(`demo:reset takes no arguments, got: ${argv.join(' ')}\n\n${USAGE}\n`);
    return 2;
  }
  const file = path.resolve(env.LOCAL_DIRECTORY_PATH || DEFAULT_LOCAL_DIRECTORY_PATH);
  let directory: LocalDirectory | undefined;
  try {
    const tenant = loadDemoTenant();
    directory = LocalDirectory.open(file, tenant);
    const counts = directory.reset();
    out.write(
      `Reset the demo directory ${file} to ${tenant.organization} (${tenant.domain}): ` +
        `${counts.users} users, ${counts.groups} groups.\n`,
    );
    return 0;
  } catch (e) {
    err.write(`Could not reset the demo directory ${file}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    directory?.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`demo:reset: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
