import path from 'node:path';
import type { Writable } from 'node:stream';
import { loadDemoTenant } from '../demo-tenant';
import type { DirectoryGroup, DirectoryUser } from '../directory';
import { LocalDirectory } from '../local-directory';
import { DEFAULT_LOCAL_DIRECTORY_PATH } from './demo-reset';

const USAGE = `Usage: npm run demo:directory -- <command>

Changes the local demo directory behind the helpdesk's back, as an administrator would in
the Entra admin center or in Active Directory Users and Computers, so that drift detection,
access reviews and the HR feed have something real to find:

  add-member <group> <user>      add a member directly (no request, no approval)
  remove-member <group> <user>   remove a member directly
  disable <user>                 disable an account
  enable <user>                  enable an account

<group> is a group's display name or id; <user> a sign-in name (UPN) or id. Quote names
with spaces: npm run demo:directory -- add-member "App - CRM" emily.chen@northwind.example
The file is $LOCAL_DIRECTORY_PATH, or ${DEFAULT_LOCAL_DIRECTORY_PATH}.`;

const COMMANDS: Record<string, number> = { 'add-member': 2, 'remove-member': 2, disable: 1, enable: 1 };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function findUser(directory: LocalDirectory, key: string): Promise<DirectoryUser | null> {
  return GUID.test(key) ? directory.getUser(key) : directory.findUserByUpn(key);
}

async function findGroup(directory: LocalDirectory, key: string): Promise<DirectoryGroup | null> {
  if (GUID.test(key)) return directory.getGroup(key);
  const exact = (await directory.searchGroups(key, 50)).filter((g) => g.displayName.toLowerCase() === key.toLowerCase());
  return exact.length === 1 ? exact[0]! : null;
}

/** Returns the process exit code: 0 done, 1 not found or failed, 2 bad usage. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, out: Writable = process.stdout, err: Writable = process.stderr): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    (command ? out : err).write(USAGE + '\n');
    return command ? 0 : 2;
  }
  const arity = COMMANDS[command];
  if (arity === undefined || args.length !== arity) {
    err.write(`${arity === undefined ? `Unknown command: ${command}` : `${command} takes ${arity} argument(s), got ${args.length}`}\n\n${USAGE}\n`);
    return 2;
  }
  const file = path.resolve(env.LOCAL_DIRECTORY_PATH || DEFAULT_LOCAL_DIRECTORY_PATH);
  let directory: LocalDirectory | undefined;
  try {
    directory = LocalDirectory.open(file, loadDemoTenant());
    const userKey = args[args.length - 1]!;
    const user = await findUser(directory, userKey);
    if (!user) {
      err.write(`No user ${userKey} in the demo directory (give a UPN such as emily.chen@northwind.example, or an id).\n`);
      return 1;
    }
    if (command === 'disable' || command === 'enable') {
      await directory.setAccountEnabled(user.id, command === 'enable');
      out.write(`${command === 'enable' ? 'Enabled' : 'Disabled'} ${user.displayName} (${user.userPrincipalName}).\n`);
      return 0;
    }
    const group = await findGroup(directory, args[0]!);
    if (!group) {
      err.write(`No single group named ${args[0]} in the demo directory (give its exact display name or its id).\n`);
      return 1;
    }
    if (command === 'add-member') {
      const outcome = await directory.addGroupMember(group.id, user.id);
      out.write(outcome === 'added' ? `Added ${user.displayName} to ${group.displayName}, outside the helpdesk.\n` : `${user.displayName} is already a member of ${group.displayName}; nothing changed.\n`);
    } else {
      const outcome = await directory.removeGroupMember(group.id, user.id);
      out.write(outcome === 'removed' ? `Removed ${user.displayName} from ${group.displayName}, outside the helpdesk.\n` : `${user.displayName} is not a member of ${group.displayName}; nothing changed.\n`);
    }
    return 0;
  } catch (e) {
    err.write(`Could not change the demo directory ${file}: ${(e as Error).message}\n`);
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
      process.stderr.write(`demo:directory: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
