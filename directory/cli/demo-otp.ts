import type { Writable } from 'node:stream';
import { DemoAuthenticatorCodes } from '../demo-authenticator';
import { loadDemoTenant, type DemoUser } from '../demo-tenant';
import { TOTP_STEP_SECONDS } from '../totp';

const USAGE = `Usage: npm run demo:otp -- <user>

Prints the code the demo user's authenticator app shows right now (the demo's phone),
to type into the helpdesk's "Verify it's you" card. <user> is a sign-in name such as
emily.chen@northwind.example, or a display or given name that names one person.`;

/** Finds one demo user by UPN, mail, display name or (unique) given name, case-insensitively. */
export function findDemoUser(users: readonly DemoUser[], query: string): DemoUser | DemoUser[] | null {
  const q = query.trim().toLowerCase();
  const exact = users.find((u) => u.userPrincipalName.toLowerCase() === q || u.mail?.toLowerCase() === q || u.displayName.toLowerCase() === q);
  if (exact) return exact;
  const byGiven = users.filter((u) => u.givenName?.toLowerCase() === q || u.userPrincipalName.toLowerCase().split('@')[0] === q);
  if (byGiven.length === 1) return byGiven[0]!;
  return byGiven.length > 1 ? byGiven : null;
}

/**
 * Prints the current authenticator code(s) of a demo user. Returns the exit code: 0 done,
 * 1 nobody or no authenticator, 2 bad usage.
 */
export async function main(argv: readonly string[], out: Writable = process.stdout, err: Writable = process.stderr, now: () => Date = () => new Date()): Promise<number> {
  if (argv.length !== 1 || ['--help', '-h', 'help'].includes(argv[0]!)) {
    (argv.length === 1 ? out : err).write(USAGE + '\n');
    return argv.length === 1 ? 0 : 2;
  }
  const tenant = loadDemoTenant();
  const found = findDemoUser(tenant.users, argv[0]!);
  if (found === null) {
    err.write(`No demo user matches "${argv[0]}". Use a sign-in name such as ${tenant.users[0]!.userPrincipalName}.\n`);
    return 1;
  }
  if (Array.isArray(found)) {
    err.write(`"${argv[0]}" names ${found.length} demo users: ${found.map((u) => u.userPrincipalName).join(', ')}. Use the sign-in name.\n`);
    return 1;
  }
  const codes = new DemoAuthenticatorCodes(tenant);
  const methods = found.authMethods.filter((m) => m.totpSecret);
  if (methods.length === 0) {
    err.write(`${found.displayName} has no authenticator app in the demo tenant; a manager or technician can verify them instead.\n`);
    return 1;
  }
  const at = now();
  const left = TOTP_STEP_SECONDS - (Math.floor(at.getTime() / 1000) % TOTP_STEP_SECONDS);
  out.write(`${found.displayName} (${found.userPrincipalName})\n`);
  for (const m of methods) {
    const label = m.kind === 'microsoftAuthenticator' ? 'Microsoft Authenticator' : 'Authenticator app';
    out.write(`  ${codes.codeFor(found.id, at, m.id)}  ${label}${m.hint ? ` (${m.hint})` : ''}, valid for ${left} more seconds\n`);
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`demo:otp: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
