import type { Writable } from 'node:stream';
import { ForbiddenError, NotFoundError } from '../directory/directory';
import { GraphDirectory } from '../directory/graph-directory';
import { toDirectoryError } from '../directory/graph/errors';
import { filterEquals } from '../directory/graph/odata';
import { ConfigError, loadConfig, loadDotEnv, type GraphDirectoryConfig } from './config';
import { diagnoseAd } from './ad-doctor';
import { graphDirectoryOptions } from './directory-setup';

const USAGE = `Usage: npm run doctor

Checks the production configuration (BOT_ID set, DIRECTORY=graph) against Microsoft Entra ID:
gets a token for Microsoft Graph, reads one harmless thing per feature, and prints which
features will work and which application permission or Entra role each missing one needs.
With DIRECTORY=ad or hybrid it also checks Active Directory: the TLS connection, the service
account's sign-in, the base DN and the rights delegated to it. Nothing is changed in either. Exit code: 0 all features work, 1 something is missing or
failed, 2 the configuration cannot run.`;

/** A helpdesk feature and what the app registration needs for it. */
interface Feature {
  name: string;
  /** Application permissions that allow it; the first is the least privileged. */
  permissions: string[];
  /** Entra roles of which the app must hold one (the first is the least privileged). */
  roles?: string[];
  /** A harmless read the feature itself makes first (Graph has no dry run for writes). */
  probe: (ctx: ProbeContext) => string;
}

interface ProbeContext {
  userId: string;
  technicianGroupId: string | null;
}

const READ_USERS = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const USER_ADMIN = ['User Administrator', 'Privileged Authentication Administrator', 'Global Administrator'];

/** The features, in the order of the permission table in docs/deploy.md. */
export const FEATURES: Feature[] = [
  {
    name: 'Know who is asking (users, managers, teams)',
    permissions: READ_USERS,
    probe: () => '/users?$top=1&$select=id',
  },
  {
    name: 'Roles from group membership (technicians)',
    permissions: ['GroupMember.Read.All', 'Group.Read.All', 'GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
    probe: (c) => (c.technicianGroupId ? `/groups/${c.technicianGroupId}?$select=id,displayName` : `/users/${c.userId}/memberOf/microsoft.graph.group?$top=1&$select=id`),
  },
  {
    name: 'Grant and remove group access',
    permissions: ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'],
    probe: (c) => `/users/${c.userId}/memberOf/microsoft.graph.group?$top=1&$select=id`,
  },
  {
    name: 'Enable and disable accounts',
    permissions: ['User.EnableDisableAccount.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
    probe: (c) => `/users/${c.userId}?$select=id,accountEnabled,onPremisesSyncEnabled`,
  },
  {
    name: 'Reset passwords',
    permissions: ['User-PasswordProfile.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
    roles: USER_ADMIN,
    probe: (c) => `/users/${c.userId}?$select=id,passwordProfile,lastPasswordChangeDateTime`,
  },
  {
    name: 'See sign-in methods',
    permissions: ['UserAuthenticationMethod.Read.All', 'UserAuthenticationMethod.ReadWrite.All'],
    probe: (c) => `/users/${c.userId}/authentication/methods`,
  },
  {
    name: 'MFA recovery (Temporary Access Pass, remove lost methods)',
    permissions: ['UserAuthenticationMethod.ReadWrite.All'],
    probe: (c) => `/users/${c.userId}/authentication/temporaryAccessPassMethods`,
  },
  {
    name: 'Revoke sign-in sessions',
    permissions: ['User.RevokeSessions.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
    probe: (c) => `/users/${c.userId}?$select=id,signInSessionsValidFromDateTime`,
  },
  {
    name: 'Profile updates of movers (department, job title, manager)',
    permissions: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
    probe: (c) => `/users/${c.userId}?$select=id,department,jobTitle`,
  },
  {
    name: 'Last sign-in (whois, access reviews --inactive)',
    permissions: ['AuditLog.Read.All'],
    probe: (c) => `/users/${c.userId}?$select=id,signInActivity`,
  },
  {
    name: 'Know who holds an Entra role (privileged accounts; without it every account is treated as privileged)',
    permissions: ['RoleManagement.Read.Directory', 'RoleManagement.Read.All', 'Directory.Read.All', 'RoleManagement.ReadWrite.Directory', 'Directory.ReadWrite.All'],
    probe: (c) => `/roleManagement/directory/roleAssignments?$filter=${filterEquals('principalId', c.userId)}`,
  },
  {
    name: 'Know who is eligible for an Entra role (PIM; without it every account is treated as privileged)',
    permissions: ['RoleEligibilitySchedule.Read.Directory', 'RoleManagement.Read.Directory', 'RoleManagement.Read.All', 'RoleEligibilitySchedule.ReadWrite.Directory', 'RoleManagement.ReadWrite.Directory'],
    probe: (c) => `/roleManagement/directory/roleEligibilitySchedules?$filter=${filterEquals('principalId', c.userId)}`,
  },
  {
    name: 'Reach people who never chatted with the bot (install the app)',
    permissions: ['TeamsAppInstallation.ReadWriteSelfForUser.All', 'TeamsAppInstallation.ReadWriteForUser.All'],
    probe: (c) => `/users/${c.userId}/teamwork/installedApps`,
  },
  {
    name: 'Find the bot in the organisation app catalog (to install it for new approvers)',
    permissions: ['AppCatalog.Read.All', 'AppCatalog.ReadWrite.All'],
    probe: () => `/appCatalogs/teamsApps?$select=id,externalId&$top=1`,
  },
];

type Status = 'ok' | 'MISSING' | 'CHECK' | 'ERROR';

/**
 * `npm run doctor`. Returns the exit code; everything goes to `out` except usage errors.
 * Secrets never appear: the configuration is summarised by kind and id only.
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
    err.write(`doctor takes no arguments, got: ${argv.join(' ')}\n\n${USAGE}\n`);
    return 2;
  }
  const say = (line = '') => out.write(`${line}\n`);

  let config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    say(`Configuration: cannot run. ${e.message}`);
    return 2;
  }
  const dir = config.directory;
  const ad = dir.kind === 'ad' ? dir : dir.kind === 'hybrid' ? dir.ad : null;
  if (ad && (dir.kind === 'ad' || (dir.kind === 'hybrid' && dir.cloud.kind === 'local'))) {
    // Active Directory alone, or beside the local demo tenant: only AD is checked.
    say('Northwind IAM Helpdesk doctor');
    say();
    say(`Configuration: ok (${config.mode} mode, ${dir.kind === 'ad' ? 'Active Directory' : 'demo directory with Active Directory'})`);
    return diagnoseAd(ad, say);
  }
  const g: GraphDirectoryConfig | null = dir.kind === 'graph' ? dir : dir.kind === 'hybrid' && dir.cloud.kind === 'graph' ? dir.cloud : null;
  if (config.mode !== 'production' || !g) {
    say('Configuration: local mode (BOT_ID is not set). The doctor checks the production configuration: set BOT_ID and the Graph settings (see .env.example).');
    return 2;
  }
  say('Northwind IAM Helpdesk doctor');
  say();
  say(`Configuration: ok (production mode, Microsoft Graph directory${ad ? ' with Active Directory' : ''})`);
  say(`  tenant ${g.tenantId}, app ${g.clientId}${g.clientId === config.bot.appId ? ' (the bot registration)' : ''}`);
  say(`  credential: ${g.credential.kind === 'secret' ? 'client secret' : `certificate ${g.credential.thumbprint}`}`);
  say(`  authority ${g.authorityHost}, Graph ${g.baseUrl}${g.caFile ? `, extra CA ${g.caFile}` : ''}`);

  let directory: GraphDirectory;
  try {
    directory = GraphDirectory.create(graphDirectoryOptions(g));
  } catch (e) {
    say(`Configuration: cannot run. ${(e as Error).message}`);
    return 2;
  }
  let code: number;
  try {
    code = await diagnose(directory, g, config.technicianGroupId, say);
  } finally {
    directory.close();
  }
  if (!ad) return code;
  say();
  return Math.max(code, await diagnoseAd(ad, say));
}

async function diagnose(
  directory: GraphDirectory,
  g: GraphDirectoryConfig,
  technicianGroupId: string | null,
  say: (line?: string) => void,
): Promise<number> {
  let granted: string[] | null;
  try {
    const token = await directory.tokens!.getAccessToken();
    granted = rolesOf(token);
    say(`Token: ok (client credentials for ${new URL(g.baseUrl).origin}/.default)`);
    say(`  application permissions granted: ${granted === null ? 'unknown (the token is not readable)' : granted.length ? granted.join(', ') : 'none'}`);
  } catch (e) {
    say(`Token: FAILED. ${(e as Error).message}`);
    say(`  ${tokenHint((e as Error).message)}`);
    return 1;
  }

  const entraRoles = await readEntraRoles(directory, g.clientId);
  say(
    `Entra roles of the app: ${
      entraRoles === null
        ? 'could not be read (that needs Application.Read.All, optional); the roles below are not checked'
        : entraRoles.length
          ? entraRoles.join(', ')
          : 'none'
    }`,
  );

  let userId: string;
  try {
    const page = await directory.client.api('/users?$top=1&$select=id').get();
    userId = String(page.value?.[0]?.id ?? '');
  } catch {
    userId = '';
  }
  if (!userId) {
    say('Reading users failed, so no feature can be checked further.');
  }
  say();
  say('Features:');
  let working = 0;
  for (const f of FEATURES) {
    const { status, detail } = userId ? await check(directory, f, { userId, technicianGroupId }, granted, entraRoles) : { status: 'ERROR' as Status, detail: 'no user could be read' };
    if (status === 'ok' || status === 'CHECK') working++;
    say(`  ${status.padEnd(8)} ${f.name}${detail ? `: ${detail}` : ''}`);
  }
  say();
  say(`${working} of ${FEATURES.length} features will work.`);
  if (working < FEATURES.length) {
    say('Add missing permissions in the app registration (API permissions > Add a permission > Microsoft Graph >');
    say('Application permissions), then Grant admin consent; assign Entra roles under Roles and administrators.');
    return 1;
  }
  return 0;
}

async function check(
  directory: GraphDirectory,
  f: Feature,
  ctx: ProbeContext,
  granted: string[] | null,
  entraRoles: string[] | null,
): Promise<{ status: Status; detail: string }> {
  const needs = `needs the application permission ${f.permissions[0]}`;
  try {
    await directory.client.api(f.probe(ctx)).get();
  } catch (e) {
    const typed = toDirectoryError(e, { what: f.name.toLowerCase(), permission: f.permissions[0]! });
    if (typed instanceof ForbiddenError) return { status: 'MISSING', detail: `${needs} (Graph refused a read it makes)` };
    if (typed instanceof NotFoundError && ctx.technicianGroupId && f.probe(ctx).includes(ctx.technicianGroupId)) {
      return { status: 'ERROR', detail: `TECHNICIANS_GROUP_ID ${ctx.technicianGroupId} is not a group in this tenant` };
    }
    return { status: 'ERROR', detail: typed.message };
  }
  if (granted !== null && !f.permissions.some((p) => granted.includes(p))) return { status: 'MISSING', detail: needs };
  if (f.roles) {
    const role = `the Entra role ${f.roles[0]}`;
    if (entraRoles === null) return { status: 'CHECK', detail: `permission granted; make sure the app holds ${role}` };
    if (!f.roles.some((r) => entraRoles.includes(r))) return { status: 'MISSING', detail: `needs ${role}` };
  }
  return { status: 'ok', detail: '' };
}

/** The Entra roles the app's service principal holds, or null when they cannot be read. */
async function readEntraRoles(directory: GraphDirectory, clientId: string): Promise<string[] | null> {
  try {
    const sp = await directory.client
      .api(`/servicePrincipals?$filter=${filterEquals('appId', clientId)}&$select=id`)
      .get();
    const id = sp.value?.[0]?.id;
    if (typeof id !== 'string') return null;
    const roles = await directory.client.listAll<{ displayName: string }>(
      `/servicePrincipals/${encodeURIComponent(id)}/transitiveMemberOf/microsoft.graph.directoryRole?$select=displayName,roleTemplateId`,
    );
    return roles.map((r) => r.displayName);
  } catch {
    return null;
  }
}

/** The `roles` claim of an app-only access token (read, not verified: for display only). */
function rolesOf(token: string): string[] | null {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(payload.roles) ? payload.roles.map(String) : [];
  } catch {
    return null;
  }
}

function tokenHint(message: string): string {
  if (/AADSTS7000215|AADSTS7000222/.test(message)) return 'Check the client secret: use its value (not its id), and renew it if it expired.';
  if (/AADSTS700027|AADSTS700024/.test(message)) return 'Check the certificate: upload it to the app registration and match its thumbprint and private key.';
  if (/AADSTS700016/.test(message)) return 'The app is not in this tenant: check GRAPH_CLIENT_ID (or BOT_ID) and GRAPH_TENANT_ID.';
  if (/AADSTS90002/.test(message)) return 'The tenant was not found: check GRAPH_TENANT_ID (or BOT_TENANT_ID).';
  if (/certificate|ECONNREFUSED|ENOTFOUND|timed out|did not answer/i.test(message)) {
    return 'The authority could not be reached: check GRAPH_AUTHORITY_HOST, the network path and, behind a TLS-inspecting proxy, GRAPH_CA_FILE.';
  }
  return 'Check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and the credential.';
}

if (require.main === module) {
  loadDotEnv();
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`doctor: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
