import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { signHrPayload } from '../dialogs/hr-feed/signature';
import { loadDotEnv } from './config';

const USAGE = `Usage: npm run --silent hr:sign -- <file>

Prints the X-HR-Signature header value for sending <file> (the exact bytes) to the HR
webhook now: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">, with the secret in
HR_WEBHOOK_SECRET (the environment, or .env in this folder). The bot accepts it for
HR_WEBHOOK_TOLERANCE_SECONDS (5 minutes by default). For example:

  SIG=$(npm run --silent hr:sign -- directory/hr-feed.example.csv)
  curl -sS -X POST http://127.0.0.1:3978/api/hr-feed -H 'Content-Type: text/csv' \\
       -H "X-HR-Signature: $SIG" --data-binary @directory/hr-feed.example.csv`;

/** Signs a file for the HR webhook. Returns the exit code: 0 done, 2 bad usage, no secret or no file. */
export function main(argv: readonly string[], env: NodeJS.ProcessEnv, out: Writable, err: Writable, now: () => Date = () => new Date()): number {
  if (argv.length !== 1 || ['--help', '-h', 'help'].includes(argv[0]!)) {
    (argv.length === 1 ? out : err).write(USAGE + '\n');
    return argv.length === 1 ? 0 : 2;
  }
  const secret = env.HR_WEBHOOK_SECRET;
  if (!secret || secret.length < 32) {
    err.write('HR_WEBHOOK_SECRET is not set (at least 32 characters): set the same secret as the bot, in the environment or in .env.\n');
    return 2;
  }
  let body: Buffer;
  try {
    body = fs.readFileSync(argv[0]!);
  } catch (e) {
    err.write(`Cannot read ${argv[0]}: ${(e as Error).message}\n`);
    return 2;
  }
  out.write(`${signHrPayload(secret, body, Math.floor(now().getTime() / 1000))}\n`);
  return 0;
}

if (require.main === module) {
  loadDotEnv();
  process.exitCode = main(process.argv.slice(2), process.env, process.stdout, process.stderr);
}
