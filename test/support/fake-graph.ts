import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  X509Certificate,
  constants as cryptoConstants,
  createHash,
  createSign,
  createVerify,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  type KeyObject,
} from 'node:crypto';
import { loadDemoTenant, type DemoTenant } from '../../directory/demo-tenant';
import type { AuthMethodKind } from '../../directory/directory';
import { makeSelfSignedCertificate, type SelfSignedCertificate } from './self-signed';

/**
 * A fake of Microsoft Graph v1.0 and of the Entra ID token endpoint, on one HTTPS server on
 * 127.0.0.1 (port 0) with a certificate made at start. It keeps state seeded from the demo
 * tenant and behaves like the real services where the bot depends on it:
 *
 * - token endpoint (client credentials with a secret or a certificate assertion, checked
 *   like Entra ID does) and the authority's OpenID configuration for MSAL;
 * - every request needs a bearer token it issued, for its own audience; the token's `roles`
 *   claim decides what the app may do, and a missing permission gets Graph's 403;
 * - users, groups, members, owners, managers (read, `PUT`/`DELETE .../manager/$ref`), profile
 *   updates, authentication methods, Temporary Access Pass, sign-in activity (needs
 *   `AuditLog.Read.All` and a premium licence, switchable), `$select`, `$filter` (`eq`, and
 *   `in` with at most 15 values), `$search` (tokenised, `ConsistencyLevel: eventual`
 *   required), `$orderby`, `$count`, paging with small pages and `@odata.nextLink`, JSON
 *   `$batch` (at most 20, answers in another order than asked);
 * - Teams app installation for a user and its chat, the app catalog, the app's service
 *   principal and Entra roles;
 * - switches to inject 429 with Retry-After, 503, 504, 403, and slow answers; and failures
 *   of the token endpoint (500, 503, no answer).
 */

/** Every application permission the bot can use; granted by default. */
export const ALL_ROLES = [
  'User.Read.All',
  'GroupMember.Read.All',
  'GroupMember.ReadWrite.All',
  'User.EnableDisableAccount.All',
  'User-PasswordProfile.ReadWrite.All',
  'UserAuthenticationMethod.Read.All',
  'UserAuthenticationMethod.ReadWrite.All',
  'User.RevokeSessions.All',
  'TeamsAppInstallation.ReadWriteSelfForUser.All',
  'AppCatalog.Read.All',
  'Application.Read.All',
  'User.ReadWrite.All',
  'AuditLog.Read.All',
  'RoleManagement.Read.Directory',
];

const USER_ADMIN_ROLES = ['User Administrator', 'Privileged Authentication Administrator', 'Global Administrator'];
const DIRECTORY_ROLE_TEMPLATES: Record<string, string> = {
  'User Administrator': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  'Privileged Authentication Administrator': '7be44c8a-adaf-4e2a-84d6-ab2649e08a13',
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
  'Groups Administrator': 'fdd7a751-b60b-444a-984c-02652fe8fa1c',
};

const ODATA_JSON = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

export interface FakeGraphOptions {
  tenant?: DemoTenant;
  /** The app registration the token endpoint accepts. */
  clientId: string;
  clientSecret?: string;
  /** A certificate the app may sign its client assertion with (PEM). */
  clientCertificate?: string;
  /** Largest page of a collection, whatever `$top` asks. Default 4. */
  maxPageSize?: number;
  /** Lifetime of issued tokens. Default 3600 s. */
  tokenLifetimeSeconds?: number;
  /** Application permissions put in tokens. Default {@link ALL_ROLES}. */
  grantedRoles?: string[];
  /** Entra roles held by the app's service principal. Default User Administrator. */
  directoryRoles?: string[];
  /** Apps in the organisation's Teams app catalog. */
  teamsApps?: { id: string; externalId: string; displayName: string }[];
  /** Whether the tenant has a Microsoft Entra ID P1/P2 licence (sign-in activity needs one). Default true. */
  premium?: boolean;
}

/** One request the fake answered (batch parts included, flagged `inBatch`). */
export interface RecordedRequest {
  method: string;
  /** Path without the version, e.g. `/users/<id>/manager`. */
  path: string;
  version: 'v1.0' | 'beta' | null;
  /** The request target exactly as received (path and query, still encoded). */
  rawUrl: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  status: number;
  inBatch: boolean;
  /** Whether the request carried a bearer token. */
  authorized: boolean;
}

export interface TokenRequest {
  credential: 'secret' | 'certificate' | 'none';
  scope: string | null;
  status: number;
  error?: string;
}

export interface FaultSpec {
  status: number;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  /** Graph's error message; a sensible one per status by default. */
  message?: string;
  /** How many matching requests fail. Default 1. */
  times?: number;
  /** How many matching requests go through before the first one fails. Default 0. */
  skip?: number;
  method?: string;
  /** Matched against the path without version. */
  path?: RegExp;
  /** Only requests inside (true) or outside (false) a $batch. Default: both. */
  inBatch?: boolean;
  /** The change is made first, then the failure answered (a 5xx, or with `hang` no answer): an outcome the client cannot know. */
  afterApply?: boolean;
  /** Never answer (the client times out, or the bot is killed while waiting); `status` is then unused. */
  hang?: boolean;
}

/** A failure of the token endpoint (the Entra ID authority), in the style of {@link FaultSpec}. */
export interface TokenFaultSpec {
  /** HTTP status of the refusal (500, 503, ...); ignored with `hang`. Default 503. */
  status?: number;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  /** Never answer (until the client gives up and closes the connection): a timeout. */
  hang?: boolean;
  /** How many token requests fail. Default 1. */
  times?: number;
}

interface Fault extends Required<Pick<FaultSpec, 'status'>> {
  spec: FaultSpec;
  remaining: number;
  skip: number;
}

interface Delay {
  ms: number;
  method?: string;
  path?: RegExp;
}

interface FakeMethod {
  id: string;
  kind: AuthMethodKind;
  data: Record<string, unknown>;
}

export interface FakeUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  mail: string | null;
  department: string | null;
  jobTitle: string | null;
  accountEnabled: boolean;
  /** null for cloud-only accounts, as Graph returns it. */
  onPremisesSyncEnabled: boolean | null;
  userType: 'Member' | 'Guest';
  lastPasswordChangeDateTime: string | null;
  forceChangePasswordNextSignIn: boolean;
  managerId: string | null;
  methods: FakeMethod[];
  /** `userPreferredMethodForSecondaryAuthentication`. */
  preferred: string | null;
  signInSessionsValidFromDateTime: string | null;
  /** The last password set through Graph: tests check it arrived, the bot never reads it. */
  lastPasswordSet?: string;
  /** Graph's `signInActivity`; null for someone who never signed in. */
  signInActivity: { lastSignInDateTime: string | null; lastNonInteractiveSignInDateTime: string | null; lastSuccessfulSignInDateTime: string | null } | null;
  /** Entra Connect's source anchor of a synced user (base64); tests of hybrid routing set it. */
  onPremisesImmutableId?: string | null;
  onPremisesUserPrincipalName?: string | null;
}

export interface FakeGroup {
  id: string;
  displayName: string;
  description: string | null;
  mail: string | null;
  owners: string[];
  members: string[];
  /** A role-assignable group (Entra roles can be assigned to it); members may be groups too. */
  isAssignableToRole?: boolean;
}

/** A directory role assignment: held now (`active`) or activatable through PIM (`eligible`). */
export interface FakeRoleAssignment {
  id: string;
  principalId: string;
  roleDefinitionId: string;
  roleName: string;
  kind: 'active' | 'eligible';
}

interface Installation {
  id: string;
  teamsAppId: string;
  chatId: string;
}

class GraphFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const TYPE_OF: Record<AuthMethodKind, string> = {
  password: '#microsoft.graph.passwordAuthenticationMethod',
  microsoftAuthenticator: '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod',
  phone: '#microsoft.graph.phoneAuthenticationMethod',
  fido2: '#microsoft.graph.fido2AuthenticationMethod',
  email: '#microsoft.graph.emailAuthenticationMethod',
  softwareOath: '#microsoft.graph.softwareOathAuthenticationMethod',
  temporaryAccessPass: '#microsoft.graph.temporaryAccessPassAuthenticationMethod',
  windowsHelloForBusiness: '#microsoft.graph.windowsHelloForBusinessAuthenticationMethod',
};
/** `userPreferredMethodForSecondaryAuthentication` of a default method kind (FIDO2 and WHfB have none). */
const PREFERENCE_OF: Partial<Record<AuthMethodKind, string>> = {
  microsoftAuthenticator: 'push',
  softwareOath: 'oath',
  phone: 'sms',
};
const NOT_DEFAULT_CAPABLE: AuthMethodKind[] = ['password', 'temporaryAccessPass', 'email'];

const READ_USERS = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const READ_GROUPS = ['GroupMember.Read.All', 'Group.Read.All', 'GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const WRITE_MEMBERS = ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'];
const ENABLE_DISABLE = ['User.EnableDisableAccount.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'];
const PASSWORD = ['User-PasswordProfile.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'];
const REVOKE = ['User.RevokeSessions.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'];
const READ_METHODS = ['UserAuthenticationMethod.Read.All', 'UserAuthenticationMethod.ReadWrite.All'];
const WRITE_METHODS = ['UserAuthenticationMethod.ReadWrite.All'];
const INSTALL_APPS = ['TeamsAppInstallation.ReadWriteSelfForUser.All', 'TeamsAppInstallation.ReadWriteForUser.All'];
const READ_INSTALLED = ['TeamsAppInstallation.ReadSelfForUser.All', 'TeamsAppInstallation.ReadForUser.All', ...INSTALL_APPS];
const READ_CATALOG = ['AppCatalog.Read.All', 'AppCatalog.ReadWrite.All', 'Directory.Read.All'];
const READ_APPS = ['Application.Read.All', 'Directory.Read.All'];
const WRITE_USERS = ['User.ReadWrite.All', 'Directory.ReadWrite.All'];
const READ_SIGN_INS = ['AuditLog.Read.All'];
const READ_ROLE_ASSIGNMENTS = ['RoleManagement.Read.Directory', 'RoleManagement.Read.All', 'Directory.Read.All', 'RoleManagement.ReadWrite.Directory', 'Directory.ReadWrite.All'];
const READ_ROLE_ELIGIBILITY = ['RoleEligibilitySchedule.Read.Directory', 'RoleEligibilitySchedule.ReadWrite.Directory', 'RoleManagement.Read.All', 'RoleManagement.Read.Directory', 'RoleManagement.ReadWrite.Directory'];
/** Graph's limits on profile text. */
const MAX_PROFILE_TEXT: Record<string, number> = { department: 64, jobTitle: 128 };
/** The most values Graph takes in one `in` of a directory query. */
const MAX_IN = 15;
const ON_PREMISES_MASTERED = 'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.';

export class FakeGraph {
  /** Requests to Graph (not to the token endpoint), in order. */
  readonly requests: RecordedRequest[] = [];
  readonly tokenRequests: TokenRequest[] = [];
  /** Paths of OpenID configuration reads. */
  readonly metadataFetches: string[] = [];
  /** Sizes of the `$batch` requests received. */
  readonly batchSizes: number[] = [];
  /** The literal of each `$filter ... eq '...'` as parsed (what an injection would change). */
  readonly filterLiterals: string[] = [];
  /** Each `$search` as parsed into clauses. */
  readonly searches: string[][] = [];

  readonly tenantId: string;
  readonly clientId: string;
  readonly servicePrincipalId = randomUUID();
  readonly tls: SelfSignedCertificate;
  users = new Map<string, FakeUser>();
  groups = new Map<string, FakeGroup>();
  installations = new Map<string, Installation[]>();
  /** Directory role assignments of users and role-assignable groups (seeded from the tenant's `directoryRoles`). */
  roleAssignments: FakeRoleAssignment[] = [];
  grantedRoles: string[];
  directoryRoles: string[];
  maxPageSize: number;
  tokenLifetimeSeconds: number;
  clientSecret: string | undefined;
  /** Whether the tenant has a premium licence (sign-in activity needs one). */
  premium: boolean;

  private server: https.Server | null = null;
  private base = '';
  private readonly tenant: DemoTenant;
  private readonly signingKey: { kid: string; privateKey: KeyObject; publicKey: KeyObject };
  private readonly clientCert: X509Certificate | null;
  private faults: Fault[] = [];
  private tokenFaults: { spec: TokenFaultSpec; remaining: number }[] = [];
  private delays: Delay[] = [];
  private readonly teamsApps: { id: string; externalId: string; displayName: string }[];

  constructor(options: FakeGraphOptions) {
    this.tenant = options.tenant ?? loadDemoTenant();
    this.tenantId = this.tenant.tenantId;
    this.clientId = options.clientId;
    this.clientSecret = options.clientSecret;
    this.clientCert = options.clientCertificate ? new X509Certificate(options.clientCertificate) : null;
    this.maxPageSize = options.maxPageSize ?? 4;
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
    this.grantedRoles = [...(options.grantedRoles ?? ALL_ROLES)];
    this.directoryRoles = [...(options.directoryRoles ?? ['User Administrator'])];
    this.teamsApps = options.teamsApps ?? [];
    this.premium = options.premium ?? true;
    this.tls = makeSelfSignedCertificate();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.signingKey = { kid: randomBytes(12).toString('base64url'), privateKey, publicKey };
    this.reset();
  }

  /** `https://127.0.0.1:<port>`: both Graph's base URL and the authority host. */
  get url(): string {
    return this.base;
  }

  /** The PEM certificate clients must trust. */
  get ca(): string {
    return this.tls.cert;
  }

  get tokenEndpoint(): string {
    return `${this.base}/${this.tenantId}/oauth2/v2.0/token`;
  }

  /** The authority's OpenID configuration, as MSAL's `authorityMetadata` takes it. */
  authorityMetadata(): string {
    return JSON.stringify(this.openIdConfiguration());
  }

  async start(): Promise<this> {
    this.server = https.createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** Back to the seed: users, groups, methods, installations; faults, delays and records cleared. */
  reset(): void {
    this.users = new Map();
    this.groups = new Map();
    this.installations = new Map();
    for (const u of this.tenant.users) {
      const def = u.authMethods.find((m) => m.isDefault);
      this.users.set(u.id, {
        id: u.id,
        userPrincipalName: u.userPrincipalName,
        displayName: u.displayName,
        givenName: u.givenName,
        surname: u.surname,
        mail: u.mail,
        department: u.department,
        jobTitle: u.jobTitle,
        accountEnabled: u.accountEnabled,
        onPremisesSyncEnabled: u.onPremisesSyncEnabled ? true : null,
        userType: u.userType ?? 'Member',
        lastPasswordChangeDateTime: u.lastPasswordChange,
        forceChangePasswordNextSignIn: u.passwordChangeRequired,
        managerId: u.managerId,
        preferred: def ? (PREFERENCE_OF[def.kind] ?? null) : null,
        signInSessionsValidFromDateTime: null,
        signInActivity: u.lastSignIn
          ? { lastSignInDateTime: u.lastSignIn, lastNonInteractiveSignInDateTime: u.lastSignIn, lastSuccessfulSignInDateTime: u.lastSignIn }
          : null,
        methods: u.authMethods.map((m) => ({ id: m.id, kind: m.kind, data: methodData(m.kind, m.hint) })),
      });
    }
    for (const g of this.tenant.groups) {
      this.groups.set(g.id, { id: g.id, displayName: g.displayName, description: g.description, mail: g.mail, owners: [...g.owners], members: [...g.members] });
    }
    this.roleAssignments = [];
    for (const r of this.tenant.directoryRoles ?? []) {
      for (const kind of ['active', 'eligible'] as const) {
        for (const principalId of r[kind]) this.roleAssignments.push({ id: randomUUID(), principalId, roleDefinitionId: r.roleDefinitionId, roleName: r.displayName, kind });
      }
    }
    this.faults = [];
    this.tokenFaults = [];
    this.delays = [];
    this.clearRecords();
  }

  /** The groups `principalId` is in, directly or through nested groups. */
  private transitiveGroups(principalId: string): FakeGroup[] {
    const out = new Map<string, FakeGroup>();
    const todo = [principalId];
    while (todo.length) {
      const id = todo.pop()!;
      for (const g of this.groups.values()) {
        if (g.members.includes(id) && !out.has(g.id)) {
          out.set(g.id, g);
          todo.push(g.id);
        }
      }
    }
    return [...out.values()];
  }

  clearRecords(): void {
    this.requests.length = 0;
    this.tokenRequests.length = 0;
    this.metadataFetches.length = 0;
    this.batchSizes.length = 0;
    this.filterLiterals.length = 0;
    this.searches.length = 0;
  }

  /** The next matching request(s) fail with `status` (and Retry-After when given). */
  inject(spec: FaultSpec): void {
    this.faults.push({ status: spec.status, spec, remaining: spec.times ?? 1, skip: spec.skip ?? 0 });
  }

  /**
   * The next token request(s) fail: an Entra ID server error (`server_error`,
   * `temporarily_unavailable` for 503) or, with `hang`, no answer at all. Tokens already
   * issued stay valid; a client that caches its token is not affected until it asks again.
   */
  injectToken(spec: TokenFaultSpec = {}): void {
    this.tokenFaults.push({ spec, remaining: spec.times ?? 1 });
  }

  /** Graph answers again: the faults from {@link inject} that are left are dropped. */
  clearFaults(): void {
    this.faults = [];
  }

  /** The token endpoint answers again (faults from {@link injectToken} that are left are dropped). */
  clearTokenFaults(): void {
    this.tokenFaults = [];
  }

  /** Matching requests are answered `ms` later, until {@link clearDelays}. */
  delay(ms: number, match: { method?: string; path?: RegExp } = {}): void {
    this.delays.push({ ms, ...match });
  }

  clearDelays(): void {
    this.delays = [];
  }

  /** Graph requests (not batch parts, not tokens) whose path matches. */
  calls(method?: string, path?: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => (!method || r.method === method) && (!path || path.test(r.path)));
  }

  /** Signs an access token as the fake's token endpoint would. */
  issueToken(claims: Record<string, unknown> = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      aud: this.base,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      tid: this.tenantId,
      appid: this.clientId,
      oid: this.servicePrincipalId,
      roles: this.grantedRoles,
      iat: now,
      nbf: now,
      exp: now + this.tokenLifetimeSeconds,
      ...claims,
    };
    const head = b64json({ alg: 'RS256', typ: 'JWT', kid: this.signingKey.kid });
    const body = b64json(payload);
    const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(this.signingKey.privateKey).toString('base64url');
    return `${head}.${body}.${sig}`;
  }

  // ---- HTTP ------------------------------------------------------------------------------

  private openIdConfiguration(): Record<string, unknown> {
    const t = `${this.base}/${this.tenantId}`;
    return {
      token_endpoint: `${t}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${t}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${t}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${t}/oauth2/v2.0/logout`,
      tenant_region_scope: 'EU',
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', this.base);
    const method = req.method ?? 'GET';
    try {
      if (url.pathname === `/${this.tenantId}/v2.0/.well-known/openid-configuration` && method === 'GET') {
        this.metadataFetches.push(url.pathname);
        return send(res, 200, this.openIdConfiguration(), { 'content-type': 'application/json; charset=utf-8' });
      }
      const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
      if (tokenPath && method === 'POST') return this.token(tokenPath[1]!, raw, res);
    } catch (e) {
      return send(res, 500, { error: 'server_error', error_description: (e as Error).message });
    }

    const m = /^\/(v1\.0|beta)(\/.*)$/.exec(url.pathname);
    const version = (m?.[1] as 'v1.0' | 'beta' | undefined) ?? null;
    const path = m?.[2] ?? url.pathname;
    let body: any = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = raw;
    }
    const requestId = randomUUID();
    const clientRequestId = String(req.headers['client-request-id'] ?? randomUUID());
    const record: RecordedRequest = {
      method,
      path,
      version,
      rawUrl: req.url ?? '',
      query: url.searchParams,
      headers: req.headers,
      body,
      status: 0,
      inBatch: false,
      authorized: typeof req.headers.authorization === 'string',
    };
    this.requests.push(record);
    const delay = this.delays.find((d) => (!d.method || d.method === method) && (!d.path || d.path.test(path)));
    if (delay) await new Promise((r) => setTimeout(r, delay.ms));
    const baseHeaders = { 'request-id': requestId, 'client-request-id': clientRequestId };

    let roles: string[];
    try {
      if (!version) throw new GraphFailure(400, 'BadRequest', `Invalid version: ${url.pathname.split('/')[1] ?? ''}`);
      roles = this.authenticate(req.headers.authorization);
    } catch (e) {
      return this.fail(res, record, e, baseHeaders);
    }
    try {
      const result = await this.route(method, path, version, url.searchParams, body, req.headers, roles, false);
      record.status = result.status;
      send(res, result.status, result.body, { ...baseHeaders, ...(result.headers ?? {}), ...(result.body !== undefined ? { 'content-type': ODATA_JSON } : {}) });
    } catch (e) {
      this.fail(res, record, e, baseHeaders);
    }
  }

  private fail(res: ServerResponse, record: RecordedRequest, e: unknown, headers: Record<string, string>): void {
    const f = e instanceof GraphFailure ? e : new GraphFailure(500, 'InternalServerError', (e as Error).message);
    record.status = f.status;
    send(res, f.status, errorBody(f, headers), { ...headers, ...f.headers, 'content-type': ODATA_JSON });
  }

  /** Validates the bearer token like Graph: signature, audience, lifetime. Returns its roles. */
  private authenticate(header: string | string[] | undefined): string[] {
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    }
    const [h, p, s] = header.slice(7).split('.');
    if (!h || !p || !s) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'IDX14100: JWT is not well formed.');
    const ok = createVerify('RSA-SHA256').update(`${h}.${p}`).verify(this.signingKey.publicKey, Buffer.from(s, 'base64url'));
    if (!ok) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Access token validation failure.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { aud?: string; exp?: number; roles?: string[] };
    if (claims.aud !== this.base) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    if (!claims.exp || claims.exp * 1000 < Date.now()) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    return claims.roles ?? [];
  }

  // ---- token endpoint --------------------------------------------------------------------

  private token(tenant: string, raw: string, res: ServerResponse): void {
    const form = new URLSearchParams(raw);
    const record: TokenRequest = { credential: 'none', scope: form.get('scope'), status: 200 };
    this.tokenRequests.push(record);
    const fault = this.tokenFaults.find((f) => f.remaining > 0);
    if (fault) {
      fault.remaining -= 1;
      if (fault.spec.hang) {
        // No answer: the client's own timeout ends the request; `stop` closes the socket.
        record.status = 0;
        record.error = 'timeout';
        return;
      }
      const status = fault.spec.status ?? 503;
      record.status = status;
      record.error = status === 503 ? 'temporarily_unavailable' : 'server_error';
      send(
        res,
        status,
        {
          error: record.error,
          error_description: `AADSTS${status === 503 ? '90033' : '90100'}: ${status === 503 ? 'A transient error has occurred. Please try again.' : 'An internal server error occurred.'}`,
          error_codes: [status === 503 ? 90033 : 90100],
          trace_id: randomUUID(),
          correlation_id: randomUUID(),
        },
        fault.spec.retryAfter !== undefined ? { 'Retry-After': String(fault.spec.retryAfter) } : {},
      );
      return;
    }
    const refuse = (status: number, error: string, description: string) => {
      record.status = status;
      record.error = error;
      send(res, status, { error, error_description: description, error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)], trace_id: randomUUID(), correlation_id: randomUUID() });
    };
    if (tenant !== this.tenantId) return refuse(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') return refuse(400, 'unsupported_grant_type', 'AADSTS70003: The app requested an unsupported grant type.');
    if (form.get('client_id') !== this.clientId) {
      return refuse(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${form.get('client_id')}' was not found in the directory.`);
    }
    if (form.get('scope') !== `${this.base}/.default`) {
      return refuse(400, 'invalid_scope', `AADSTS1002012: The provided value for scope ${form.get('scope')} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`);
    }
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      record.credential = 'secret';
      if (!this.clientSecret || secret !== this.clientSecret) {
        return refuse(401, 'invalid_client', `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${this.clientId}'.`);
      }
    } else if (assertion !== null) {
      record.credential = 'certificate';
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        return refuse(400, 'invalid_request', 'AADSTS50027: Invalid client_assertion_type.');
      }
      const problem = this.checkAssertion(assertion);
      if (problem) return refuse(401, 'invalid_client', problem);
    } else {
      return refuse(401, 'invalid_client', "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    send(res, 200, {
      token_type: 'Bearer',
      expires_in: this.tokenLifetimeSeconds,
      ext_expires_in: this.tokenLifetimeSeconds,
      access_token: this.issueToken(),
    });
  }

  /** Why a client assertion fails Entra ID's checks, or null when it passes. */
  private checkAssertion(jwt: string): string | null {
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) return 'AADSTS50012: Client assertion is not a valid JWT.';
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, string>;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (!this.clientCert) return `AADSTS700027: No certificate is registered for app '${this.clientId}'.`;
    const der = this.clientCert.raw;
    const x5t256 = createHash('sha256').update(der).digest('base64url');
    const x5t = createHash('sha1').update(der).digest('base64url');
    if (header['x5t#S256'] !== x5t256 && header.x5t !== x5t) {
      return 'AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.';
    }
    const data = `${h}.${p}`;
    const signature = Buffer.from(s, 'base64url');
    const key = this.clientCert.publicKey;
    const valid =
      header.alg === 'PS256'
        ? createVerify('RSA-SHA256').update(data).verify({ key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST }, signature)
        : header.alg === 'RS256'
          ? createVerify('RSA-SHA256').update(data).verify(key, signature)
          : false;
    if (!valid) return 'AADSTS700027: Client assertion failed signature validation.';
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== this.tokenEndpoint) return `AADSTS700016: Invalid audience ${String(claims.aud)} in the client assertion.`;
    if (claims.iss !== this.clientId || claims.sub !== this.clientId) return 'AADSTS700023: Client assertion issuer and subject must be the client id.';
    if (typeof claims.exp !== 'number' || claims.exp < now) return 'AADSTS700024: Client assertion is not within its valid time range.';
    if (typeof claims.nbf === 'number' && claims.nbf > now + 300) return 'AADSTS700024: Client assertion is not within its valid time range.';
    return null;
  }

  // ---- Graph routes ----------------------------------------------------------------------

  private async route(
    method: string,
    path: string,
    version: 'v1.0' | 'beta',
    query: URLSearchParams,
    body: any,
    headers: Record<string, string | string[] | undefined>,
    roles: string[],
    inBatch: boolean,
    applyOnly = false,
  ): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const fault = this.faults.find(
      (f) =>
        !applyOnly &&
        f.remaining > 0 &&
        (!f.spec.method || f.spec.method === method) &&
        (!f.spec.path || f.spec.path.test(path)) &&
        (f.spec.inBatch === undefined || f.spec.inBatch === inBatch),
    );
    if (fault && fault.skip > 0) fault.skip -= 1;
    else if (fault) {
      fault.remaining -= 1;
      if (fault.spec.afterApply) await this.route(method, path, version, query, body, headers, roles, inBatch, true);
      if (fault.spec.hang) await new Promise(() => undefined);
      throw new GraphFailure(
        fault.status,
        faultCode(fault.status),
        fault.spec.message ?? faultMessage(fault.status),
        fault.spec.retryAfter !== undefined ? { 'Retry-After': String(fault.spec.retryAfter) } : {},
      );
    }
    const need = (allowed: string[], style: 'directory' | 'workload' = 'directory') => {
      if (allowed.some((r) => roles.includes(r))) return;
      if (style === 'directory') throw new GraphFailure(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      throw new GraphFailure(
        403,
        'Forbidden',
        `Missing role permissions on the request. API requires one of '${allowed.join(', ')}'. Roles on the request '${roles.join(', ')}'.`,
      );
    };
    const seg = path.split('/').filter(Boolean);
    const ok = (status: number, value?: unknown) => ({ status, body: value });

    if (version === 'beta') {
      // Only what the directory reads from beta: the default sign-in method.
      if (method === 'GET' && seg[0] === 'users' && seg[2] === 'authentication' && seg[3] === 'signInPreferences' && seg.length === 4) {
        need(READ_METHODS, 'workload');
        const u = this.user(seg[1]!);
        return ok(200, {
          '@odata.context': `${this.base}/beta/$metadata#users('${u.id}')/authentication/signInPreferences`,
          isSystemPreferredAuthenticationMethodEnabled: false,
          userPreferredMethodForSecondaryAuthentication: u.preferred,
        });
      }
      throw new GraphFailure(400, 'BadRequest', `Resource not found for the segment '${seg[seg.length - 1] ?? ''}'.`);
    }

    if (seg[0] === '$batch' && seg.length === 1 && method === 'POST') {
      if (inBatch) throw new GraphFailure(400, 'BadRequest', 'Nested batch requests are not supported.');
      return ok(200, await this.batch(body, headers, roles));
    }

    if (seg[0] === 'users') {
      if (seg.length === 1 && method === 'GET') {
        need(READ_USERS);
        this.signInActivityAllowed(query, need);
        return ok(200, this.listUsers(path, query, headers));
      }
      const u = this.user(seg[1]!);
      const rest = seg.slice(2);
      if (rest.length === 0) {
        if (method === 'GET') {
          need(READ_USERS);
          this.signInActivityAllowed(query, need);
          return ok(200, { '@odata.context': `${this.base}/v1.0/$metadata#users/$entity`, ...select(this.userJson(u), query, DEFAULT_USER_FIELDS) });
        }
        if (method === 'PATCH') return this.patchUser(u, body, need);
      }
      if (rest[0] === 'manager' && rest.length === 2 && rest[1] === '$ref' && (method === 'PUT' || method === 'DELETE')) {
        need(WRITE_USERS);
        if (u.onPremisesSyncEnabled) throw new GraphFailure(400, 'Request_BadRequest', ON_PREMISES_MASTERED);
        if (method === 'DELETE') {
          if (!u.managerId) throw notFound(`${u.id}/manager`);
          u.managerId = null;
          return { status: 204 };
        }
        const ref = String(body?.['@odata.id'] ?? '');
        const mm = new RegExp(`^${escapeRe(this.base)}/v1\\.0/(?:directoryObjects|users)/([0-9a-fA-F-]{36})$`).exec(ref);
        if (!mm) throw new GraphFailure(400, 'Request_BadRequest', `Invalid URL format specified in @odata.id: ${ref.slice(0, 200)}`);
        const mid = mm[1]!.toLowerCase();
        if (!this.users.has(mid)) throw notFound(mid);
        u.managerId = mid;
        return { status: 204 };
      }
      if (rest[0] === 'manager' && rest.length === 1 && method === 'GET') {
        need(READ_USERS);
        const m = u.managerId ? this.users.get(u.managerId) : undefined;
        if (!m) throw notFound(`${u.id}/manager`);
        return ok(200, { '@odata.type': '#microsoft.graph.user', ...select(this.userJson(m), query, DEFAULT_USER_FIELDS) });
      }
      if (rest[0] === 'directReports' && method === 'GET' && (rest.length === 1 || (rest.length === 2 && rest[1] === 'microsoft.graph.user'))) {
        need(READ_USERS);
        const reports = [...this.users.values()].filter((x) => x.managerId === u.id).map((x) => this.userJson(x));
        return ok(200, this.page(path, query, reports, DEFAULT_USER_FIELDS, '#microsoft.graph.user'));
      }
      if (rest[0] === 'memberOf' && method === 'GET' && (rest.length === 1 || (rest.length === 2 && rest[1] === 'microsoft.graph.group'))) {
        need(READ_GROUPS);
        const groups = [...this.groups.values()].filter((g) => g.members.includes(u.id)).map(groupJson);
        return ok(200, this.page(path, query, groups, DEFAULT_GROUP_FIELDS, '#microsoft.graph.group'));
      }
      if (rest[0] === 'transitiveMemberOf' && rest.length === 2 && rest[1] === 'microsoft.graph.group' && method === 'GET') {
        need(READ_GROUPS);
        const groups = this.transitiveGroups(u.id).map((g) => ({ ...groupJson(g), isAssignableToRole: g.isAssignableToRole === true }));
        return ok(200, this.page(path, query, groups, DEFAULT_GROUP_FIELDS, '#microsoft.graph.group'));
      }
      if (rest[0] === 'checkMemberGroups' && rest.length === 1 && method === 'POST') {
        need(READ_USERS);
        need(READ_GROUPS);
        const ids = body?.groupIds;
        if (!Array.isArray(ids) || ids.length > 20) {
          throw new GraphFailure(400, 'Request_BadRequest', 'The groupIds parameter must be a collection of at most 20 group ids.');
        }
        const value = ids.filter((g: unknown) => typeof g === 'string' && this.groups.get(g.toLowerCase())?.members.includes(u.id));
        return ok(200, { '@odata.context': `${this.base}/v1.0/$metadata#Collection(Edm.String)`, value });
      }
      if (rest[0] === 'revokeSignInSessions' && rest.length === 1 && method === 'POST') {
        need(REVOKE);
        u.signInSessionsValidFromDateTime = new Date().toISOString();
        return ok(200, { '@odata.context': `${this.base}/v1.0/$metadata#Edm.Boolean`, value: true });
      }
      if (rest[0] === 'authentication') return this.authentication(u, method, rest.slice(1), body, need);
      if (rest[0] === 'teamwork' && rest[1] === 'installedApps') return this.installedApps(u, method, rest.slice(2), query, body, need);
    }

    if (seg[0] === 'groups') {
      if (seg.length === 1 && method === 'GET') {
        need(READ_GROUPS);
        return ok(200, this.listGroups(path, query, headers));
      }
      const g = this.group(seg[1]!);
      const rest = seg.slice(2);
      if (rest.length === 0 && method === 'GET') {
        need(READ_GROUPS);
        return ok(200, { '@odata.context': `${this.base}/v1.0/$metadata#groups/$entity`, ...select(groupJson(g), query, DEFAULT_GROUP_FIELDS) });
      }
      if ((rest[0] === 'members' || rest[0] === 'owners') && method === 'GET' && (rest.length === 1 || (rest.length === 2 && rest[1] === 'microsoft.graph.user'))) {
        need(READ_GROUPS);
        const ids = rest[0] === 'members' ? g.members : g.owners;
        const users = ids.map((id) => this.users.get(id)).filter((x): x is FakeUser => Boolean(x)).map((x) => this.userJson(x));
        return ok(200, this.page(path, query, users, DEFAULT_USER_FIELDS, '#microsoft.graph.user'));
      }
      if (rest[0] === 'members' && rest.length === 2 && rest[1] === '$ref' && method === 'POST') {
        need(WRITE_MEMBERS);
        const ref = String(body?.['@odata.id'] ?? '');
        const mm = new RegExp(`^${escapeRe(this.base)}/v1\\.0/(?:directoryObjects|users)/([0-9a-fA-F-]{36})$`).exec(ref);
        if (!mm) throw new GraphFailure(400, 'Request_BadRequest', `Invalid URL format specified in @odata.id: ${ref.slice(0, 200)}`);
        const uid = mm[1]!.toLowerCase();
        if (!this.users.has(uid)) throw notFound(uid);
        if (g.members.includes(uid)) {
          throw new GraphFailure(400, 'Request_BadRequest', "One or more added object references already exist for the following modified properties: 'members'.");
        }
        g.members.push(uid);
        return { status: 204 };
      }
      if (rest[0] === 'members' && rest.length === 3 && rest[2] === '$ref' && method === 'DELETE') {
        need(WRITE_MEMBERS);
        const uid = rest[1]!.toLowerCase();
        const at = g.members.indexOf(uid);
        if (at < 0) throw notFound(`${g.id}/members/${uid}`);
        g.members.splice(at, 1);
        return { status: 204 };
      }
    }

    if (seg[0] === 'appCatalogs' && seg[1] === 'teamsApps' && seg.length === 2 && method === 'GET') {
      need(READ_CATALOG, 'workload');
      const f = this.filter(query);
      const apps = this.teamsApps
        .filter((a) => !f || (f.property === 'externalId' && a.externalId.toLowerCase() === f.literal.toLowerCase()) || (f.property === 'id' && a.id === f.literal))
        .map((a) => ({ ...a, distributionMethod: 'organization' }));
      return ok(200, { '@odata.context': `${this.base}/v1.0/$metadata#appCatalogs/teamsApps`, value: apps });
    }

    if (seg[0] === 'roleManagement' && seg[1] === 'directory' && seg.length === 3 && (seg[2] === 'roleAssignments' || seg[2] === 'roleEligibilitySchedules') && method === 'GET') {
      const eligible = seg[2] === 'roleEligibilitySchedules';
      need(eligible ? READ_ROLE_ELIGIBILITY : READ_ROLE_ASSIGNMENTS, 'workload');
      const f = this.filter(query);
      if (f && f.property !== 'principalId' && f.property !== 'roleDefinitionId') throw new GraphFailure(400, 'BadRequest', `Invalid filter clause: unsupported property '${f.property}'.`);
      const expand = query.get('$expand') === 'roleDefinition';
      const value = this.roleAssignments
        .filter((a) => a.kind === (eligible ? 'eligible' : 'active'))
        .filter((a) => !f || (f.property === 'principalId' ? a.principalId : a.roleDefinitionId) === f.literal.toLowerCase())
        .map((a) => ({
          id: a.id,
          principalId: a.principalId,
          roleDefinitionId: a.roleDefinitionId,
          directoryScopeId: '/',
          ...(eligible ? { memberType: 'Direct', status: 'Provisioned' } : {}),
          ...(expand ? { roleDefinition: { id: a.roleDefinitionId, displayName: a.roleName, isBuiltIn: true } } : {}),
        }));
      return ok(200, this.page(path, query, value, ['id', 'principalId', 'roleDefinitionId', 'directoryScopeId', 'memberType', 'status', 'roleDefinition']));
    }

    if (seg[0] === 'servicePrincipals') {
      need(READ_APPS);
      if (seg.length === 1 && method === 'GET') {
        const f = this.filter(query);
        const sp = { id: this.servicePrincipalId, appId: this.clientId, displayName: 'Northwind IAM Helpdesk' };
        const value = !f || (f.property === 'appId' && f.literal.toLowerCase() === this.clientId.toLowerCase()) ? [select(sp, query, ['id', 'appId', 'displayName'])] : [];
        return ok(200, { value });
      }
      if (seg[1] === this.servicePrincipalId && (seg[2] === 'memberOf' || seg[2] === 'transitiveMemberOf') && seg[3] === 'microsoft.graph.directoryRole' && method === 'GET') {
        const value = this.directoryRoles.map((name) => ({
          id: randomUUID(),
          displayName: name,
          roleTemplateId: DIRECTORY_ROLE_TEMPLATES[name] ?? randomUUID(),
        }));
        return ok(200, this.page(path, query, value, ['id', 'displayName', 'roleTemplateId'], '#microsoft.graph.directoryRole'));
      }
      if (seg[1] !== this.servicePrincipalId) throw notFound(seg[1] ?? '');
    }

    throw new GraphFailure(400, 'BadRequest', `Unsupported request: ${method} ${path}`);
  }

  private patchUser(u: FakeUser, body: any, need: (allowed: string[], style?: 'directory' | 'workload') => void) {
    if (!body || typeof body !== 'object') throw new GraphFailure(400, 'Request_BadRequest', 'A request body is required.');
    const keys = Object.keys(body);
    if (keys.includes('passwordProfile')) {
      need(PASSWORD);
      if (!this.directoryRoles.some((r) => USER_ADMIN_ROLES.includes(r))) {
        throw new GraphFailure(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      }
    }
    if (keys.includes('accountEnabled')) need(ENABLE_DISABLE);
    for (const k of keys) if (k !== 'passwordProfile' && k !== 'accountEnabled') need(WRITE_USERS);
    for (const k of keys) {
      if (!['passwordProfile', 'accountEnabled', 'department', 'jobTitle'].includes(k)) {
        throw new GraphFailure(400, 'Request_BadRequest', `Property '${k.slice(0, 60)}' is read-only or does not exist on type 'Microsoft.DirectoryServices.User'.`);
      }
      if (k in MAX_PROFILE_TEXT) {
        const v = body[k];
        if (v !== null && (typeof v !== 'string' || v.length > MAX_PROFILE_TEXT[k]!)) {
          throw new GraphFailure(400, 'Request_BadRequest', `Invalid value specified for property '${k}' of resource 'User'.`);
        }
      }
    }
    if (u.onPremisesSyncEnabled) throw new GraphFailure(400, 'Request_BadRequest', ON_PREMISES_MASTERED);
    if ('passwordProfile' in body) {
      const p = body.passwordProfile as { password?: unknown; forceChangePasswordNextSignIn?: unknown };
      if (typeof p?.password !== 'string' || p.password.length < 8 || [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((r) => r.test(p.password as string)).length < 3) {
        throw new GraphFailure(400, 'Request_BadRequest', 'The specified password does not comply with password complexity requirements. Please provide a different password.');
      }
      u.lastPasswordSet = p.password;
      u.lastPasswordChangeDateTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      u.forceChangePasswordNextSignIn = p.forceChangePasswordNextSignIn === true;
    }
    if ('accountEnabled' in body) {
      if (typeof body.accountEnabled !== 'boolean') throw new GraphFailure(400, 'Request_BadRequest', 'Invalid value specified for property \'accountEnabled\'.');
      u.accountEnabled = body.accountEnabled;
    }
    if ('department' in body) u.department = body.department;
    if ('jobTitle' in body) u.jobTitle = body.jobTitle;
    return { status: 204 };
  }

  private authentication(
    u: FakeUser,
    method: string,
    rest: string[],
    body: any,
    need: (allowed: string[], style?: 'directory' | 'workload') => void,
  ): { status: number; body?: unknown; headers?: Record<string, string> } {
    const json = (m: FakeMethod) => ({ '@odata.type': TYPE_OF[m.kind], id: m.id, ...m.data });
    if (rest[0] === 'methods' && rest.length === 1 && method === 'GET') {
      need(READ_METHODS, 'workload');
      return { status: 200, body: { '@odata.context': `${this.base}/v1.0/$metadata#users('${u.id}')/authentication/methods`, value: u.methods.map(json) } };
    }
    const kindMatch = /^(\w+)Methods$/.exec(rest[0] ?? '');
    const kind = kindMatch?.[1] as AuthMethodKind | undefined;
    if (!kind || !TYPE_OF[kind]) throw new GraphFailure(400, 'BadRequest', `Resource not found for the segment '${rest[0] ?? ''}'.`);
    if (rest.length === 1 && method === 'GET') {
      need(READ_METHODS, 'workload');
      return { status: 200, body: { value: u.methods.filter((m) => m.kind === kind).map(json) } };
    }
    if (kind === 'temporaryAccessPass' && rest.length === 1 && method === 'POST') {
      need(WRITE_METHODS, 'workload');
      const lifetime = body?.lifetimeInMinutes ?? 60;
      if (!Number.isInteger(lifetime) || lifetime < 10 || lifetime > 43_200) {
        throw new GraphFailure(400, 'badRequest', 'The lifetimeInMinutes must be within the range allowed by the Temporary Access Pass policy.');
      }
      const start = new Date();
      const pass = randomBytes(12).toString('base64url').replace(/[-_]/g, 'x');
      const created: FakeMethod = {
        id: randomUUID(),
        kind,
        data: {
          temporaryAccessPass: null,
          createdDateTime: start.toISOString(),
          startDateTime: start.toISOString(),
          lifetimeInMinutes: lifetime,
          isUsableOnce: body?.isUsableOnce === true,
          isUsable: true,
          methodUsabilityReason: 'EnabledByPolicy',
        },
      };
      // A user has one pass: a new one replaces the previous one.
      u.methods = u.methods.filter((m) => m.kind !== 'temporaryAccessPass');
      u.methods.push(created);
      return { status: 201, body: { '@odata.context': `${this.base}/v1.0/$metadata#users('${u.id}')/authentication/temporaryAccessPassMethods/$entity`, id: created.id, ...created.data, temporaryAccessPass: pass } };
    }
    const mid = rest[1]?.toLowerCase();
    const target = u.methods.find((m) => m.id === mid && m.kind === kind);
    if (rest.length === 2 && method === 'GET') {
      need(READ_METHODS, 'workload');
      if (!target) throw notFound(mid ?? '', 'itemNotFound');
      return { status: 200, body: json(target) };
    }
    if (rest.length === 2 && method === 'DELETE') {
      if (kind === 'password') throw new GraphFailure(405, 'methodNotAllowed', 'The password method cannot be deleted.');
      need(WRITE_METHODS, 'workload');
      if (!target) throw notFound(mid ?? '', 'itemNotFound');
      const isDefault = u.preferred !== null && defaultMethodOf(u)?.id === target.id;
      if (isDefault && u.methods.some((m) => m.id !== target.id && !NOT_DEFAULT_CAPABLE.includes(m.kind))) {
        throw new GraphFailure(400, 'badRequest', "Cannot delete the user's default authentication method. Change the default method first.");
      }
      u.methods = u.methods.filter((m) => m.id !== target.id);
      if (isDefault) u.preferred = null;
      return { status: 204 };
    }
    throw new GraphFailure(405, 'methodNotAllowed', `${method} is not supported on ${rest.join('/')}`);
  }

  private installedApps(
    u: FakeUser,
    method: string,
    rest: string[],
    query: URLSearchParams,
    body: any,
    need: (allowed: string[], style?: 'directory' | 'workload') => void,
  ): { status: number; body?: unknown } {
    const list = this.installations.get(u.id) ?? [];
    if (rest.length === 0 && method === 'POST') {
      need(INSTALL_APPS, 'workload');
      const bind = String(body?.['teamsApp@odata.bind'] ?? '');
      const m = new RegExp(`^${escapeRe(this.base)}/v1\\.0/appCatalogs/teamsApps/([^/]+)$`).exec(bind);
      const app = m ? this.teamsApps.find((a) => a.id === m[1]) : undefined;
      if (!app) throw new GraphFailure(404, 'NotFound', `The app ${bind.slice(0, 200)} was not found in the catalog.`);
      if (list.some((i) => i.teamsAppId === app.id)) throw new GraphFailure(409, 'Conflict', 'App is already installed.');
      list.push({
        id: Buffer.from(`${u.id}##${app.id}##${randomUUID()}`).toString('base64'),
        teamsAppId: app.id,
        chatId: `19:${u.id}_${app.externalId}@unq.gbl.spaces`,
      });
      this.installations.set(u.id, list);
      return { status: 201 };
    }
    if (rest.length === 0 && method === 'GET') {
      need(READ_INSTALLED, 'workload');
      const f = this.filter(query);
      const value = list
        .filter((i) => !f || (f.property === 'teamsApp/id' && i.teamsAppId === f.literal))
        .map((i) => ({ id: i.id, ...(query.get('$expand')?.includes('teamsApp') ? { teamsApp: { id: i.teamsAppId } } : {}) }));
      return { status: 200, body: { value } };
    }
    if (rest.length === 2 && rest[1] === 'chat' && method === 'GET') {
      need(READ_INSTALLED, 'workload');
      const inst = list.find((i) => i.id === decodeURIComponent(rest[0]!));
      if (!inst) throw notFound(rest[0]!);
      return { status: 200, body: { id: inst.chatId, chatType: 'oneOnOne', tenantId: this.tenantId } };
    }
    throw new GraphFailure(400, 'BadRequest', `Unsupported request: ${method} installedApps/${rest.join('/')}`);
  }

  private async batch(body: any, headers: Record<string, string | string[] | undefined>, roles: string[]) {
    const requests = body?.requests;
    if (!Array.isArray(requests) || requests.length === 0) throw new GraphFailure(400, 'BadRequest', 'Invalid batch payload format.');
    if (requests.length > 20) throw new GraphFailure(400, 'BadRequest', 'Limit of requests exceeded. Batch requests are limited to 20 requests.');
    const ids = new Set<string>();
    for (const r of requests) {
      if (typeof r?.id !== 'string' || ids.has(r.id)) throw new GraphFailure(400, 'BadRequest', 'Each batch request needs a unique id.');
      ids.add(r.id);
    }
    this.batchSizes.push(requests.length);
    const responses = [];
    for (const r of requests) {
      const url = new URL(String(r.url), `${this.base}/v1.0/`);
      const path = url.pathname.replace(/^\/v1\.0/, '');
      const record: RecordedRequest = {
        method: r.method,
        path,
        version: 'v1.0',
        rawUrl: String(r.url),
        query: url.searchParams,
        headers: { ...headers, ...(r.headers ?? {}) },
        body: r.body ?? null,
        status: 0,
        inBatch: true,
        authorized: true,
      };
      this.requests.push(record);
      try {
        const result = await this.route(String(r.method).toUpperCase(), path, 'v1.0', url.searchParams, r.body ?? null, record.headers, roles, true);
        record.status = result.status;
        responses.push({ id: r.id, status: result.status, headers: result.body !== undefined ? { 'Content-Type': ODATA_JSON } : {}, body: result.body });
      } catch (e) {
        const f = e instanceof GraphFailure ? e : new GraphFailure(500, 'InternalServerError', (e as Error).message);
        record.status = f.status;
        responses.push({ id: r.id, status: f.status, headers: { 'Content-Type': ODATA_JSON, ...f.headers }, body: errorBody(f, {}) });
      }
    }
    // Graph answers a batch in any order: match by id.
    return { responses: responses.reverse() };
  }

  // ---- queries ---------------------------------------------------------------------------

  private listUsers(path: string, query: URLSearchParams, headers: Record<string, string | string[] | undefined>) {
    let users = [...this.users.values()].map((u) => this.userJson(u));
    const f = this.filter(query, true);
    if (f) {
      if (!['userPrincipalName', 'mail', 'id'].includes(f.property)) throw new GraphFailure(400, 'Request_UnsupportedQuery', `Unsupported filter property ${f.property}.`);
      const wanted = new Set(f.values.map((v) => v.toLowerCase()));
      users = users.filter((u) => wanted.has(String(u[f.property] ?? '').toLowerCase()));
    }
    users = this.search(users, query, headers, ['displayName']);
    return this.page(path, query, users, DEFAULT_USER_FIELDS);
  }

  private listGroups(path: string, query: URLSearchParams, headers: Record<string, string | string[] | undefined>) {
    let groups = [...this.groups.values()].map(groupJson);
    const f = this.filter(query);
    if (f) groups = groups.filter((g) => String(g[f.property] ?? '').toLowerCase() === f.literal.toLowerCase());
    groups = this.search(groups, query, headers, ['displayName', 'description']);
    return this.page(path, query, groups, DEFAULT_GROUP_FIELDS);
  }

  /**
   * `$filter=<property> eq '<literal>'`, or (where `allowIn`) `<property> in ('<a>', ...)` with
   * at most 15 values, the forms the bot uses; anything else is refused.
   */
  private filter(query: URLSearchParams, allowIn = false): { property: string; literal: string; values: string[] } | null {
    const text = query.get('$filter');
    if (text === null) return null;
    const m = /^\s*([A-Za-z][A-Za-z0-9/]*)\s+eq\s+'((?:[^']|'')*)'\s*$/.exec(text);
    if (m) {
      const literal = m[2]!.replace(/''/g, "'");
      this.filterLiterals.push(literal);
      return { property: m[1]!, literal, values: [literal] };
    }
    const list = allowIn ? /^\s*([A-Za-z][A-Za-z0-9/]*)\s+in\s+\(\s*('(?:[^']|'')*'(?:\s*,\s*'(?:[^']|'')*')*)\s*\)\s*$/.exec(text) : null;
    if (!list) throw new GraphFailure(400, 'BadRequest', `Invalid filter clause: syntax error in '${text.slice(0, 120)}'.`);
    const values = [...list[2]!.matchAll(/'((?:[^']|'')*)'/g)].map((x) => x[1]!.replace(/''/g, "'"));
    if (values.length > MAX_IN) {
      throw new GraphFailure(400, 'Request_UnsupportedQuery', `Too many child clauses specified in search filter expression containing 'OR' operators: ${values.length}. Max allowed: ${MAX_IN}.`);
    }
    this.filterLiterals.push(...values);
    return { property: list[1]!, literal: values[0]!, values };
  }

  /** Selecting `signInActivity` needs `AuditLog.Read.All` and a premium licence, as in Graph. */
  private signInActivityAllowed(query: URLSearchParams, need: (allowed: string[], style?: 'directory' | 'workload') => void): void {
    if (!(query.get('$select') ?? '').split(',').map((x) => x.trim()).includes('signInActivity')) return;
    need(READ_SIGN_INS);
    if (!this.premium) {
      throw new GraphFailure(403, 'Authentication_RequestFromNonPremiumTenantOrB2CTenant', "Neither tenant is B2C or tenant doesn't have premium license");
    }
  }

  /** `$search` as Graph runs it on directory objects (tokenised on display names). */
  private search<T extends Record<string, unknown>>(
    items: T[],
    query: URLSearchParams,
    headers: Record<string, string | string[] | undefined>,
    tokenised: string[],
  ): T[] {
    const text = query.get('$search');
    if (text === null) return items;
    if (String(headers.consistencylevel ?? '').toLowerCase() !== 'eventual') {
      throw new GraphFailure(
        400,
        'Request_UnsupportedQuery',
        "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
      );
    }
    const expr = parseSearch(text);
    this.searches.push(clausesOf(expr).map((c) => `${c.property}:${c.text}`));
    return items.filter((item) => evaluate(expr, item, tokenised));
  }

  /** One page of a collection, with `@odata.nextLink` when more remain. */
  private page(path: string, query: URLSearchParams, all: Record<string, unknown>[], defaults: string[], type?: string) {
    let items = all;
    if (query.get('$orderby') !== null) {
      const by = query.get('$orderby')!.split(' ')[0]!;
      items = [...items].sort((a, b) => String(a[by] ?? '').toLowerCase().localeCompare(String(b[by] ?? '').toLowerCase()) || String(a.id).localeCompare(String(b.id)));
    }
    const top = query.get('$top');
    if (top !== null && (!/^\d+$/.test(top) || Number(top) < 1 || Number(top) > 999)) {
      throw new GraphFailure(400, 'Request_BadRequest', `Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.`);
    }
    const size = Math.min(top ? Number(top) : 100, this.maxPageSize);
    const token = query.get('$skiptoken');
    let offset = 0;
    if (token !== null) {
      const m = /^o:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
      if (!m) throw new GraphFailure(400, 'Request_BadRequest', 'Invalid skip token.');
      offset = Number(m[1]);
    }
    const slice = items.slice(offset, offset + size).map((x) => ({ ...(type ? { '@odata.type': type } : {}), ...select(x, query, defaults) }));
    const out: Record<string, unknown> = { '@odata.context': `${this.base}/v1.0/$metadata#${path.split('/').filter(Boolean).join('/')}` };
    if (query.get('$count') === 'true') out['@odata.count'] = items.length;
    out.value = slice;
    if (offset + size < items.length) {
      const next = new URLSearchParams(query);
      next.set('$skiptoken', Buffer.from(`o:${offset + size}`).toString('base64url'));
      out['@odata.nextLink'] = `${this.base}/v1.0${path}?${next.toString().replace(/%24/g, '$')}`;
    }
    return out;
  }

  private user(idOrUpn: string): FakeUser {
    const key = decodeURIComponent(idOrUpn).toLowerCase();
    const u = this.users.get(key) ?? [...this.users.values()].find((x) => x.userPrincipalName.toLowerCase() === key);
    if (!u) throw notFound(idOrUpn);
    return u;
  }

  private group(id: string): FakeGroup {
    const g = this.groups.get(id.toLowerCase());
    if (!g) throw notFound(id);
    return g;
  }

  private userJson(u: FakeUser): Record<string, unknown> {
    return {
      id: u.id,
      userPrincipalName: u.userPrincipalName,
      displayName: u.displayName,
      givenName: u.givenName,
      surname: u.surname,
      mail: u.mail,
      department: u.department,
      jobTitle: u.jobTitle,
      accountEnabled: u.accountEnabled,
      onPremisesSyncEnabled: u.onPremisesSyncEnabled,
      userType: u.userType,
      onPremisesImmutableId: u.onPremisesImmutableId ?? null,
      onPremisesUserPrincipalName: u.onPremisesUserPrincipalName ?? null,
      lastPasswordChangeDateTime: u.lastPasswordChangeDateTime,
      passwordProfile: { password: null, forceChangePasswordNextSignIn: u.forceChangePasswordNextSignIn, forceChangePasswordNextSignInWithMfa: false },
      signInSessionsValidFromDateTime: u.signInSessionsValidFromDateTime,
      signInActivity: u.signInActivity ? { ...u.signInActivity, lastSignInRequestId: randomUUID(), lastNonInteractiveSignInRequestId: randomUUID(), lastSuccessfulSignInRequestId: randomUUID() } : null,
      businessPhones: [],
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: 'en-GB',
    };
  }
}

/** What Graph returns for a user or group without `$select`. */
const DEFAULT_USER_FIELDS = ['businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName', 'id'];
const DEFAULT_GROUP_FIELDS = ['id', 'displayName', 'description', 'mail', 'mailEnabled', 'securityEnabled', 'groupTypes'];

function groupJson(g: FakeGroup): Record<string, unknown> {
  return { id: g.id, displayName: g.displayName, description: g.description, mail: g.mail, mailEnabled: g.mail !== null, securityEnabled: true, groupTypes: [] };
}

/** `$select`: only the named properties (and `id`); without it, the type's defaults. */
function select(item: Record<string, unknown>, query: URLSearchParams, defaults: string[]): Record<string, unknown> {
  const s = query.get('$select');
  const fields = s ? [...new Set(['id', ...s.split(',').map((x) => x.trim())])] : defaults;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in item) out[f] = item[f];
  return out;
}

/** The default method as Graph's preference designates it. */
function defaultMethodOf(u: FakeUser): FakeMethod | undefined {
  const kind = u.preferred === 'push' ? 'microsoftAuthenticator' : u.preferred === 'oath' ? 'softwareOath' : u.preferred === 'sms' ? 'phone' : undefined;
  return kind ? u.methods.find((m) => m.kind === kind) : undefined;
}

/** The Graph properties of a method, made from the demo tenant's masked hint. */
function methodData(kind: AuthMethodKind, hint: string | null): Record<string, unknown> {
  switch (kind) {
    case 'password':
      return { password: null, createdDateTime: '2026-01-01T07:00:00Z' };
    case 'phone':
      return { phoneNumber: (hint ?? '+1 555 0100').replace(/\*/g, '0'), phoneType: 'mobile', smsSignInState: 'notAllowedByPolicy' };
    case 'email':
      return { emailAddress: (hint ?? 'someone@mail.example').replace('***', 'xyz') };
    case 'microsoftAuthenticator':
      return { displayName: hint, deviceTag: 'SoftwareTokenActivated', phoneAppVersion: '6.2401.0119', createdDateTime: '2026-01-01T07:00:00Z' };
    case 'fido2':
      return { displayName: hint, model: hint, aaGuid: 'ee882879-721c-4913-9775-3dfcce97072a', attestationLevel: 'attested', createdDateTime: '2026-01-01T07:00:00Z' };
    case 'softwareOath':
      return { secretKey: null };
    case 'windowsHelloForBusiness':
      return { displayName: hint, keyStrength: 'normal', createdDateTime: '2026-01-01T07:00:00Z' };
    case 'temporaryAccessPass':
      return { temporaryAccessPass: null, startDateTime: new Date().toISOString(), lifetimeInMinutes: 60, isUsableOnce: true };
  }
}

// ---- $search ------------------------------------------------------------------------------

type SearchExpr = { op: 'and' | 'or'; left: SearchExpr; right: SearchExpr } | { op: 'clause'; property: string; text: string };

/** Parses Graph's `$search` syntax: `"prop:text"` clauses, AND/OR (upper case), parentheses. */
export function parseSearch(input: string): SearchExpr {
  const tokens: (string | { clause: string })[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push(c);
      i++;
    } else if (c === '"') {
      let text = '';
      i++;
      for (;;) {
        if (i >= input.length) throw new GraphFailure(400, 'Request_BadRequest', 'Syntax error: unterminated quoted clause in $search.');
        const d = input[i]!;
        if (d === '\\' && i + 1 < input.length) {
          text += input[i + 1];
          i += 2;
        } else if (d === '"') {
          i++;
          break;
        } else {
          text += d;
          i++;
        }
      }
      tokens.push({ clause: text });
    } else {
      const m = /^(AND|OR)(?=[\s("]|$)/.exec(input.slice(i));
      if (!m) throw new GraphFailure(400, 'Request_BadRequest', `Syntax error: character '${c}' is not valid at position ${i} in $search.`);
      tokens.push(m[1]!);
      i += m[1]!.length;
    }
  }
  let at = 0;
  const orExpr = (): SearchExpr => {
    let left = andExpr();
    while (tokens[at] === 'OR') {
      at++;
      left = { op: 'or', left, right: andExpr() };
    }
    return left;
  };
  const andExpr = (): SearchExpr => {
    let left = factor();
    while (tokens[at] === 'AND') {
      at++;
      left = { op: 'and', left, right: factor() };
    }
    return left;
  };
  const factor = (): SearchExpr => {
    const t = tokens[at++];
    if (t === '(') {
      const e = orExpr();
      if (tokens[at++] !== ')') throw new GraphFailure(400, 'Request_BadRequest', 'Syntax error: missing closing parenthesis in $search.');
      return e;
    }
    if (t && typeof t === 'object') {
      const colon = t.clause.indexOf(':');
      if (colon < 1) throw new GraphFailure(400, 'Request_BadRequest', `Syntax error: the clause "${t.clause}" names no property.`);
      return { op: 'clause', property: t.clause.slice(0, colon), text: t.clause.slice(colon + 1) };
    }
    throw new GraphFailure(400, 'Request_BadRequest', 'Syntax error in $search.');
  };
  const expr = orExpr();
  if (at !== tokens.length) throw new GraphFailure(400, 'Request_BadRequest', 'Syntax error: unexpected text after the $search expression.');
  return expr;
}

function clausesOf(e: SearchExpr): { property: string; text: string }[] {
  return e.op === 'clause' ? [e] : [...clausesOf(e.left), ...clausesOf(e.right)];
}

function evaluate(e: SearchExpr, item: Record<string, unknown>, tokenised: string[]): boolean {
  if (e.op !== 'clause') {
    return e.op === 'and'
      ? evaluate(e.left, item, tokenised) && evaluate(e.right, item, tokenised)
      : evaluate(e.left, item, tokenised) || evaluate(e.right, item, tokenised);
  }
  const value = item[e.property];
  if (typeof value !== 'string') return false;
  if (!tokenised.includes(e.property)) return value.toLowerCase().startsWith(e.text.toLowerCase());
  const have = searchTokens(value);
  const want = searchTokens(e.text);
  return want.length > 0 && want.every((w) => have.some((h) => h.startsWith(w)));
}

/**
 * Graph's tokenisation of display names: words split at spaces, at a change from lower to
 * upper case, between letters and digits, and at symbols (each symbol its own token);
 * words split only by symbols also count joined ("o'brien" gives o, ', brien, obrien).
 */
export function searchTokens(text: string): string[] {
  const out: string[] = [];
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const parts = word.match(/\p{Lu}?\p{Ll}+|\p{Lu}+(?!\p{Ll})|\p{L}+|\p{N}+|[^\p{L}\p{N}]/gu) ?? [];
    const lower = parts.map((p) => p.toLowerCase());
    out.push(...lower);
    const joined = lower.filter((p) => /[\p{L}\p{N}]/u.test(p)).join('');
    if (joined && !lower.includes(joined)) out.push(joined);
  }
  return out;
}

// ---- helpers ------------------------------------------------------------------------------

function notFound(id: string, code = 'Request_ResourceNotFound'): GraphFailure {
  return new GraphFailure(404, code, `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
}

function faultCode(status: number): string {
  return status === 429 ? 'TooManyRequests' : status === 503 ? 'serviceNotAvailable' : status === 504 ? 'gatewayTimeout' : status === 403 ? 'Authorization_RequestDenied' : 'Error';
}

function faultMessage(status: number): string {
  switch (status) {
    case 429:
      return 'Too many requests.';
    case 503:
      return 'The service is temporarily unavailable.';
    case 504:
      return 'The gateway timed out.';
    case 403:
      return 'Insufficient privileges to complete the operation.';
    default:
      return `HTTP ${status}`;
  }
}

function errorBody(f: GraphFailure, headers: Record<string, string>): unknown {
  return {
    error: {
      code: f.code,
      message: f.message,
      innerError: {
        date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
        'request-id': headers['request-id'] ?? randomUUID(),
        'client-request-id': headers['client-request-id'] ?? randomUUID(),
      },
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined || status === 204) {
    res.removeHeader('content-type');
    res.end();
    return;
  }
  if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
