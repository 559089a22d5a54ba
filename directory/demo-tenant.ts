import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AUTH_METHOD_KINDS, type AuthMethodKind } from './directory';

/**
 * The fictional demo company ("Northwind Traders") that seeds the local directory. The data
 * lives in `demo-tenant.json` next to this module; tsc copies it to `dist/directory/`, so the
 * default path works both from the sources and from the build.
 */

/** Where the bundled demo tenant lives (next to this module, in the sources and in `dist/`). */
export const DEFAULT_DEMO_TENANT_FILE = path.join(__dirname, 'demo-tenant.json');

/** A registered method in the demo data. */
export interface DemoAuthMethod {
  id: string;
  kind: AuthMethodKind;
  hint: string | null;
  isDefault: boolean;
  /**
   * Base32 TOTP secret of the demo phone, only on `microsoftAuthenticator` and `softwareOath`
   * methods. It stays in the demo data: the directory never stores or returns it.
   */
  totpSecret?: string;
}

/** A person in the demo company, with the sign-in facts the local directory keeps. */
export interface DemoUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  mail: string | null;
  department: string | null;
  jobTitle: string | null;
  /** Null only at the top of the organisation. */
  managerId: string | null;
  accountEnabled: boolean;
  onPremisesSyncEnabled: boolean;
  /** Entra `userType`; absent: Member. */
  userType?: 'Member' | 'Guest';
  /** Demo lockout flag (what `lockoutTime` is in on-premises AD). */
  locked: boolean;
  passwordChangeRequired: boolean;
  lastPasswordChange: string | null;
  /** When the user last signed in; null or absent: never. */
  lastSignIn?: string | null;
  authMethods: DemoAuthMethod[];
}

export interface DemoGroup {
  id: string;
  displayName: string;
  description: string | null;
  mail: string | null;
  owners: string[];
  members: string[];
}

/** The users the demo walks through: an employee, their manager and an identity technician. */
export interface DemoPersonas {
  employee: string;
  manager: string;
  technician: string;
  /** A resource owner (approves the last stage of the sensitive catalog items, reviews them). */
  owner: string;
}

/**
 * A Microsoft Entra directory role of the demo company: who holds it now (`active`) and who
 * may activate it through Privileged Identity Management (`eligible`).
 */
export interface DemoDirectoryRole {
  /** The role's template id, as in Entra (Global Administrator: 62e90394-...). */
  roleDefinitionId: string;
  displayName: string;
  active: string[];
  eligible: string[];
}

export interface DemoTenant {
  tenantId: string;
  organization: string;
  domain: string;
  /** Members of this group are identity technicians. */
  technicianGroupId: string;
  /** Groups whose membership grants privileged or sensitive access. */
  privilegedGroupIds: string[];
  personas: DemoPersonas;
  users: DemoUser[];
  groups: DemoGroup[];
  /** The directory roles the demo company's admins hold (none when absent). */
  directoryRoles: DemoDirectoryRole[];
}

/** Raised when a demo tenant file is malformed or refers to things it does not contain. */
export class DemoTenantError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : '';
    super(`Invalid demo tenant ${source}:\n  - ${shown.join('\n  - ')}${more}`);
    this.name = 'DemoTenantError';
  }
}

/** Ids are lowercase GUIDs, as Entra returns them. */
const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lowercase GUID');
const text = z.string().trim().min(1);
const isoTimestamp = z.string().datetime({ offset: true });
const kinds = AUTH_METHOD_KINDS as unknown as [AuthMethodKind, ...AuthMethodKind[]];
const TOTP_KINDS: readonly AuthMethodKind[] = ['microsoftAuthenticator', 'softwareOath'];

const authMethodSchema = z
  .object({
    id: guid,
    kind: z.enum(kinds),
    hint: z.string().nullable(),
    isDefault: z.boolean(),
    totpSecret: z
      .string()
      .regex(/^[A-Z2-7]{16,}$/, 'must be base32 (A-Z, 2-7), at least 16 characters')
      .optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.totpSecret !== undefined && !TOTP_KINDS.includes(m.kind)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['totpSecret'], message: `not allowed on a ${m.kind} method` });
    }
    if (m.isDefault && (m.kind === 'password' || m.kind === 'temporaryAccessPass' || m.kind === 'email')) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['isDefault'], message: `a ${m.kind} method cannot be the default` });
    }
  });

const userSchema = z
  .object({
    id: guid,
    userPrincipalName: z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must look like name@domain'),
    displayName: text,
    givenName: text.nullable(),
    surname: text.nullable(),
    mail: z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must look like name@domain').nullable(),
    department: text.nullable(),
    jobTitle: text.nullable(),
    managerId: guid.nullable(),
    accountEnabled: z.boolean(),
    onPremisesSyncEnabled: z.boolean(),
    userType: z.enum(['Member', 'Guest']).optional(),
    locked: z.boolean(),
    passwordChangeRequired: z.boolean(),
    lastPasswordChange: isoTimestamp.nullable(),
    lastSignIn: isoTimestamp.nullable().optional(),
    authMethods: z.array(authMethodSchema),
  })
  .strict();

const groupSchema = z
  .object({
    id: guid,
    displayName: text,
    description: z.string().nullable(),
    mail: z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must look like name@domain').nullable(),
    owners: z.array(guid),
    members: z.array(guid),
  })
  .strict();

const directoryRoleSchema = z
  .object({ roleDefinitionId: guid, displayName: text, active: z.array(guid), eligible: z.array(guid) })
  .strict();

const tenantSchema = z
  .object({
    tenantId: guid,
    organization: text,
    domain: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'must be a lowercase DNS name'),
    technicianGroupId: guid,
    privilegedGroupIds: z.array(guid),
    personas: z.object({ employee: guid, manager: guid, technician: guid, owner: guid }).strict(),
    users: z.array(userSchema).min(1),
    groups: z.array(groupSchema),
    directoryRoles: z.array(directoryRoleSchema).default([]),
  })
  .strict();

/**
 * Reads, validates and returns a demo tenant. Beyond the shape, it checks that every
 * reference resolves (managers, owners, members, the technician and privileged groups,
 * personas), that ids, UPNs and method ids are unique, and that no manager chain loops.
 * Throws {@link DemoTenantError} listing every problem found.
 */
export function loadDemoTenant(file: string = DEFAULT_DEMO_TENANT_FILE): DemoTenant {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DemoTenantError(file, [`cannot read the file: ${(e as Error).message}`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (e) {
    throw new DemoTenantError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseDemoTenant(data, file);
}

/** Validates already-parsed demo tenant data; `source` names it in error messages. */
export function parseDemoTenant(data: unknown, source = 'demo tenant'): DemoTenant {
  const parsed = tenantSchema.safeParse(data);
  if (!parsed.success) {
    throw new DemoTenantError(
      source,
      parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
    );
  }
  const tenant: DemoTenant = parsed.data;
  const problems = checkIntegrity(tenant);
  if (problems.length > 0) throw new DemoTenantError(source, problems);
  return tenant;
}

function formatPath(p: readonly (string | number)[]): string {
  if (p.length === 0) return '(root)';
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function checkIntegrity(t: DemoTenant): string[] {
  const problems: string[] = [];
  const users = new Map<string, DemoUser>();
  const upns = new Map<string, string>();
  const mails = new Map<string, string>();
  const methodIds = new Set<string>();
  const groups = new Set<string>();
  const label = (u: DemoUser): string => `${u.userPrincipalName} (${u.id})`;

  for (const u of t.users) {
    if (users.has(u.id)) problems.push(`user id ${u.id} is used more than once`);
    users.set(u.id, u);
    const upn = u.userPrincipalName.toLowerCase();
    if (upns.has(upn)) problems.push(`userPrincipalName ${u.userPrincipalName} is used more than once`);
    upns.set(upn, u.id);
    if (u.mail !== null) {
      const mail = u.mail.toLowerCase();
      if (mails.has(mail)) problems.push(`mail ${u.mail} is used by more than one user`);
      mails.set(mail, u.id);
    }
    let defaults = 0;
    let passwords = 0;
    for (const m of u.authMethods) {
      if (methodIds.has(m.id)) problems.push(`auth method id ${m.id} is used more than once`);
      methodIds.add(m.id);
      if (m.isDefault) defaults++;
      if (m.kind === 'password') passwords++;
    }
    if (defaults > 1) problems.push(`${label(u)} has ${defaults} default methods; at most one is allowed`);
    if (passwords > 1) problems.push(`${label(u)} has ${passwords} password methods; at most one is allowed`);
  }
  for (const g of t.groups) {
    if (groups.has(g.id) || users.has(g.id)) problems.push(`group id ${g.id} is used more than once`);
    groups.add(g.id);
  }

  for (const u of t.users) {
    if (u.managerId === null) continue;
    if (!users.has(u.managerId)) problems.push(`managerId ${u.managerId} of ${label(u)} does not match any user`);
  }
  problems.push(...findManagerCycles(t.users, users));

  for (const g of t.groups) {
    for (const [role, ids] of [
      ['owner', g.owners],
      ['member', g.members],
    ] as const) {
      const seen = new Set<string>();
      for (const id of ids) {
        if (!users.has(id)) problems.push(`${role} ${id} of group "${g.displayName}" does not match any user`);
        if (seen.has(id)) problems.push(`${role} ${id} is listed twice in group "${g.displayName}"`);
        seen.add(id);
      }
    }
  }

  if (!groups.has(t.technicianGroupId)) problems.push(`technicianGroupId ${t.technicianGroupId} does not match any group`);
  for (const id of t.privilegedGroupIds) {
    if (!groups.has(id)) problems.push(`privilegedGroupIds entry ${id} does not match any group`);
  }
  for (const r of t.directoryRoles) {
    for (const id of [...r.active, ...r.eligible]) {
      if (!users.has(id)) problems.push(`holder ${id} of directory role "${r.displayName}" does not match any user`);
    }
  }
  for (const [persona, id] of Object.entries(t.personas)) {
    if (!users.has(id)) problems.push(`persona ${persona} (${id}) does not match any user`);
  }
  return problems;
}

/** Each loop in the manager relation, reported once, e.g. "a -> b -> a". */
function findManagerCycles(list: readonly DemoUser[], users: ReadonlyMap<string, DemoUser>): string[] {
  const problems: string[] = [];
  const done = new Set<string>();
  for (const start of list) {
    const path: string[] = [];
    const onPath = new Set<string>();
    let id: string | null = start.id;
    while (id !== null && !done.has(id) && users.has(id)) {
      if (onPath.has(id)) {
        const loop = path.slice(path.indexOf(id)).concat(id);
        problems.push(`manager chain loops: ${loop.map((x) => users.get(x)!.userPrincipalName).join(' -> ')}`);
        break;
      }
      onPath.add(id);
      path.push(id);
      id = users.get(id)!.managerId;
    }
    for (const p of path) done.add(p);
  }
  return problems;
}
