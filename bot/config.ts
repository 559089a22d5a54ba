import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { anchorMirrorConfig, type AnchorMirrorConfig } from '../store/audit-anchor-mirror';
import { recoveryConfigFrom, recoveryEnvShape, type RecoveryConfig } from './recovery-config';
import { technicianConfigFrom, technicianEnvShape, type TechnicianConfig } from './technician-config';
import { hrFeedConfigFrom, hrFeedEnvShape, type HrFeedConfig } from './hr-feed-config';
import { reviewConfigFrom, reviewEnvShape, type ReviewConfig } from './review-config';

/**
 * The bot's whole configuration, read once from the environment by {@link loadConfig}.
 *
 * Two modes:
 * - `local`: no `BOT_ID`. No Bot Framework authentication, listens on 127.0.0.1 only,
 *   uses the demo directory and starts the playground personas.
 * - `production`: `BOT_ID` set. Bot Framework JWTs are validated on `/api/messages`;
 *   credentials and the tenant are required, and the directory is Microsoft Entra ID
 *   through Microsoft Graph (`DIRECTORY=graph`, the default there).
 */
export interface AppConfig {
  mode: 'local' | 'production';
  host: string;
  port: number;
  /** Longest a request may take to arrive, headers and body (a slow sender holds a connection no longer). */
  requestTimeoutMs: number;
  databasePath: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  directory: { kind: 'local'; path: string } | GraphDirectoryConfig | AdDirectoryConfig | HybridDirectoryConfig;
  /** Group whose members are identity technicians; local mode defaults to the demo tenant's. */
  technicianGroupId: string | null;
  bot: {
    appId: string;
    tenantId: string | null;
    appType: 'SingleTenant' | 'MultiTenant' | 'UserAssignedMSI';
    password: string | null;
    certificateThumbprint: string | null;
    certificateKeyPath: string | null;
    /** Where Bot Framework signing keys are published; the public cloud's unless overridden. */
    openIdMetadataUrl: string | null;
    /** The Bot Framework token service (user sign-in for step-up); the public cloud's unless overridden. */
    oAuthUrl?: string | null;
    /**
     * `BOT_CLOUD`: the Bot Framework cloud the bot is registered in, which sets the one token
     * issuer accepted on `/api/messages` (`https://api.botframework.com`, or `.us` for the US government).
     */
    cloud?: 'public' | 'government';
  };
  playground: { enabled: boolean; basePort: number };
  /** Seconds to wait for in-flight turns on shutdown. */
  shutdownGraceSeconds: number;
  /** Longest message text a turn reads; a longer message is answered "too long" and never routed or recognised. */
  maxMessageChars: number;
  /** Access requests: catalog and approval timing. */
  access: {
    /** The catalog file; the bundled `directory/catalog.json` by default. */
    catalogPath: string | null;
    /** Approvers of last resort (no manager up the chain); the technicians group by default. */
    fallbackGroupId: string | null;
    remindAfterHours: number;
    escalateAfterHours: number;
    requestExpiryDays: number;
    /** How long before time-bound access ends the holder is reminded. */
    expiryNoticeHours: number;
    /**
     * Resources at this catalog risk level or above need the approver's fresh MFA to be
     * approved (the step-up sign-in in production, the demo authenticator code locally); null: none.
     */
    freshMfaRisk: 'low' | 'medium' | 'high' | null;
    /** How long one proof of MFA counts for that approver's approvals (at most 10 minutes). */
    freshMfaMinutes: number;
  };
  /** Guest accounts (Entra `userType` Guest): not employees of the helpdesk unless allowed. */
  guests: {
    /** Guests may use the helpdesk for themselves. */
    allowed: boolean;
    /** Guests may be approvers, reviewers and forward targets. */
    mayApprove: boolean;
  };
  /** Durable jobs: retries with exponential backoff, and how often due jobs are looked for. */
  jobs: { maxAttempts: number; retryBaseSeconds: number; retryMaxSeconds: number; pollSeconds: number; concurrency: number };
  /** Proactive messages: where to create a chat with someone who never talked to the bot, and the technicians' team. */
  proactive: { serviceUrl: string | null; techniciansTeamId: string | null };
  /** Self-service sign-in recovery: verification policy, time limits, abuse limits, step-up sign-in. */
  recovery: RecoveryConfig;
  /** Technician commands: channel allow-list, plan lifetime, ticket SLAs, birthright rules. */
  technicians: TechnicianConfig;
  /**
   * Audit anchors: where the chain's head is written, how often (0: never), and the second
   * place each anchor is also appended to (another folder or an https:// append blob).
   */
  auditAnchors: { file: string | null; intervalHours: number; mirror: AnchorMirrorConfig | null };
  /** Drift detection: hours between scheduled checks (0: none). */
  drift: { checkIntervalHours: number };
  /** The HR feed: drop folder, webhook, time zone of its dates. */
  hrFeed: HrFeedConfig;
  /** Access review campaigns: the scheduled campaigns file, reminders, the default due date. */
  reviews: ReviewConfig;
}

/** Microsoft Entra ID through Microsoft Graph: the production directory. */
export interface GraphDirectoryConfig {
  kind: 'graph';
  /** `GRAPH_TENANT_ID`, else `BOT_TENANT_ID`. */
  tenantId: string;
  /** `GRAPH_CLIENT_ID`, else `BOT_ID` (the bot's own app registration). */
  clientId: string;
  /** The Graph app's own credential, else the bot's when it is the same app. */
  credential:
    | { kind: 'secret'; secret: string }
    | { kind: 'certificate'; thumbprint: string; keyPath: string; certificatePath: string | null };
  /** Entra ID sign-in host (origin), e.g. https://login.microsoftonline.com. */
  authorityHost: string;
  /** Graph root (origin), e.g. https://graph.microsoft.com. */
  baseUrl: string;
  /** Extra CA certificates (PEM file) to trust for both, e.g. a TLS-inspecting proxy's. */
  caFile: string | null;
  requestTimeoutMs: number;
  /** The most one Graph call may take, retries after throttling included. */
  retryBudgetMs: number;
}

/** On-premises Active Directory over LDAPS (or StartTLS): `DIRECTORY=ad`, and the AD half of `hybrid`. */
export interface AdDirectoryConfig {
  kind: 'ad';
  /** `AD_URL`: domain controllers in the order to try; ldap:// ones are upgraded with StartTLS. */
  urls: string[];
  /** The service account: a password (`AD_BIND_DN`, `AD_BIND_PASSWORD`) or a client certificate (SASL EXTERNAL). */
  bind: { kind: 'password'; bindDn: string; password: string } | { kind: 'certificate'; certificatePath: string; keyPath: string };
  /** CA certificates (PEM file) that issued the DCs' certificates. */
  caFile: string | null;
  /** The name to check the DCs' certificates against, when it is not the URL's host. */
  tlsServerName: string | null;
  /** Where users and groups are searched and changed; the domain's root when null. */
  baseDn: string | null;
  poolSize: number;
  timeoutMs: number;
  connectTimeoutMs: number;
  pageSize: number;
}

/**
 * `DIRECTORY=hybrid`: the cloud (Microsoft Graph in production, the demo tenant in local mode)
 * for identities, AD for the accounts it masters.
 */
export interface HybridDirectoryConfig {
  kind: 'hybrid';
  cloud: GraphDirectoryConfig | { kind: 'local'; path: string };
  ad: AdDirectoryConfig;
}

/** A configuration that cannot run; the message names the variable at fault. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
/** Numbers as written in decimal only: "0x10", "1e3" or "Infinity" are refused, not read as 16 or 1000. */
const decimalText = (v: unknown) => {
  const e = emptyToUndefined(v);
  return typeof e === 'string' && !/^\s*[+-]?\d+(\.\d+)?\s*$/.test(e) ? Number.NaN : e;
};
const optionalString = z.preprocess(emptyToUndefined, z.string().trim().optional());
const optionalGuid = z.preprocess(
  emptyToUndefined,
  z.string().trim().regex(GUID, 'must be a GUID such as 00000000-0000-0000-0000-000000000000').optional(),
);
const port = (fallback: number) =>
  z.preprocess(
    decimalText,
    z.coerce
      .number({ invalid_type_error: 'must be a number' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 65535')
      .max(65535, 'must be between 0 and 65535')
      .default(fallback),
  );
const wholeNumber = (fallback: number, min: number, max: number) =>
  z.preprocess(
    decimalText,
    z.coerce
      .number({ invalid_type_error: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be between ${min} and ${max}`)
      .max(max, `must be between ${min} and ${max}`)
      .default(fallback),
  );
/** An https origin (scheme, host, port); `allowedPath` is the one path also accepted and dropped. */
const httpsOrigin = (fallback: string, example: string, allowedPath?: RegExp) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .trim()
      .url('must be a URL')
      .default(fallback)
      .superRefine((v, ctx) => {
        if (!URL.canParse(v)) return; // already reported by .url()
        const u = new URL(v);
        if (u.protocol !== 'https:') ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an https URL' });
        else if (u.search || u.hash || (u.pathname !== '/' && !allowedPath?.test(u.pathname))) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be the root URL only, such as ${example}` });
        }
      })
      .transform((v) => (URL.canParse(v) ? new URL(v).origin : v)),
  );
const thumbprint = z.preprocess(
  emptyToUndefined,
  z.string().trim().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/i, 'must be a SHA-1 or SHA-256 thumbprint in hex').optional(),
);
const bool = (fallback: boolean) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );

/** The environment variables the bot reads, with their checks and defaults. */
export const envSchema = z.object({
  BOT_ID: optionalGuid,
  BOT_PASSWORD: optionalString,
  BOT_TENANT_ID: optionalGuid,
  BOT_APP_TYPE: z.preprocess(
    emptyToUndefined,
    z.enum(['SingleTenant', 'MultiTenant', 'UserAssignedMSI'], { message: 'must be SingleTenant, MultiTenant or UserAssignedMSI' }).default('SingleTenant'),
  ),
  BOT_CERTIFICATE_THUMBPRINT: z.preprocess(
    emptyToUndefined,
    z.string().trim().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/i, 'must be a SHA-1 or SHA-256 thumbprint in hex').optional(),
  ),
  BOT_CERTIFICATE_KEY_PATH: optionalString,
  BOT_OPENID_METADATA_URL: z.preprocess(emptyToUndefined, z.string().trim().url('must be a URL').optional()),
  BOT_OAUTH_URL: z.preprocess(emptyToUndefined, z.string().trim().url('must be a URL').optional()),
  BOT_CLOUD: z.preprocess(emptyToUndefined, z.enum(['public', 'government'], { message: 'must be public or government' }).default('public')),
  HOST: optionalString,
  PORT: port(3978),
  HTTP_REQUEST_TIMEOUT_SECONDS: wholeNumber(30, 1, 300),
  DATABASE_PATH: z.preprocess(emptyToUndefined, z.string().trim().default('./data/helpdesk.db')),
  DIRECTORY: z.preprocess(
    emptyToUndefined,
    z.enum(['local', 'graph', 'ad', 'hybrid'], { message: 'must be local, graph, ad or hybrid' }).optional(),
  ),
  LOCAL_DIRECTORY_PATH: z.preprocess(emptyToUndefined, z.string().trim().default('./data/demo-directory.db')),
  TECHNICIANS_GROUP_ID: optionalGuid,
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'must be one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
  ),
  PLAYGROUND: bool(true),
  PLAYGROUND_BASE_PORT: port(56150),
  SHUTDOWN_GRACE_SECONDS: wholeNumber(10, 0, 600),
  MAX_MESSAGE_CHARS: wholeNumber(4000, 100, 28000),
  ACCESS_CATALOG_PATH: optionalString,
  ACCESS_FALLBACK_GROUP_ID: optionalGuid,
  ACCESS_REMIND_AFTER_HOURS: wholeNumber(24, 1, 24 * 30),
  ACCESS_ESCALATE_AFTER_HOURS: wholeNumber(72, 1, 24 * 60),
  ACCESS_REQUEST_EXPIRY_DAYS: wholeNumber(14, 1, 365),
  ACCESS_EXPIRY_NOTICE_HOURS: wholeNumber(24, 1, 24 * 30),
  APPROVAL_MFA_RISK: z.preprocess(
    emptyToUndefined,
    z.enum(['low', 'medium', 'high', 'none'], { message: 'must be low, medium, high or none' }).default('high'),
  ),
  APPROVAL_MFA_MINUTES: wholeNumber(10, 1, 10),
  ALLOW_GUESTS: bool(false),
  ALLOW_GUEST_APPROVERS: bool(false),
  JOB_MAX_ATTEMPTS: wholeNumber(5, 1, 50),
  JOB_RETRY_BASE_SECONDS: wholeNumber(30, 1, 3600),
  JOB_RETRY_MAX_SECONDS: wholeNumber(3600, 1, 86400),
  SCHEDULER_POLL_SECONDS: wholeNumber(30, 1, 3600),
  JOB_CONCURRENCY: wholeNumber(4, 1, 32),
  DRIFT_CHECK_INTERVAL_HOURS: wholeNumber(24, 0, 24 * 30),
  AUDIT_ANCHOR_FILE: optionalString,
  AUDIT_ANCHOR_INTERVAL_HOURS: wholeNumber(24, 0, 24 * 30),
  AUDIT_ANCHOR_MIRROR: optionalString,
  AUDIT_ANCHOR_MIRROR_CA_FILE: optionalString,
  BOT_SERVICE_URL: z.preprocess(emptyToUndefined, z.string().trim().url('must be a URL').optional()),
  TECHNICIANS_TEAM_ID: optionalString,
  ...recoveryEnvShape,
  ...technicianEnvShape,
  ...hrFeedEnvShape,
  ...reviewEnvShape,
  GRAPH_TENANT_ID: optionalGuid,
  GRAPH_CLIENT_ID: optionalGuid,
  GRAPH_CLIENT_SECRET: optionalString,
  GRAPH_CERTIFICATE_THUMBPRINT: thumbprint,
  GRAPH_CERTIFICATE_KEY_PATH: optionalString,
  GRAPH_CERTIFICATE_PATH: optionalString,
  GRAPH_AUTHORITY_HOST: httpsOrigin('https://login.microsoftonline.com', 'https://login.microsoftonline.com'),
  GRAPH_BASE_URL: httpsOrigin('https://graph.microsoft.com', 'https://graph.microsoft.com', /^\/v1\.0\/?$/),
  GRAPH_CA_FILE: optionalString,
  GRAPH_REQUEST_TIMEOUT_SECONDS: wholeNumber(10, 1, 120),
  GRAPH_RETRY_MAX_SECONDS: wholeNumber(10, 0, 600),
  AD_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .trim()
      .optional()
      .superRefine((v, ctx) => {
        for (const u of v ? adUrls(v) : []) {
          const bad = adUrlProblem(u);
          if (bad) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${u} ${bad}` });
        }
      }),
  ),
  AD_BIND_DN: optionalString,
  AD_BIND_PASSWORD: optionalString,
  AD_CLIENT_CERTIFICATE_PATH: optionalString,
  AD_CLIENT_KEY_PATH: optionalString,
  AD_CA_FILE: optionalString,
  AD_TLS_SERVER_NAME: optionalString,
  AD_BASE_DN: optionalString,
  AD_POOL_SIZE: wholeNumber(4, 1, 16),
  AD_TIMEOUT_SECONDS: wholeNumber(10, 1, 120),
  AD_CONNECT_TIMEOUT_SECONDS: wholeNumber(5, 1, 60),
  AD_PAGE_SIZE: wholeNumber(500, 1, 1000),
});

/** The URLs of `AD_URL` (comma or space separated). */
function adUrls(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

/** Why an `AD_URL` entry cannot be used, or null. */
function adUrlProblem(u: string): string | null {
  if (!URL.canParse(u)) return 'is not a URL';
  const url = new URL(u);
  if (url.protocol !== 'ldaps:' && url.protocol !== 'ldap:') return 'must be ldaps://host (or ldap://host, upgraded with StartTLS)';
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash || url.username) return 'must name the server only, such as ldaps://dc1.corp.example';
  return null;
}

type Env = z.infer<typeof envSchema>;

/**
 * Reads and validates the configuration. Throws {@link ConfigError} naming the first
 * variables at fault; production mode refuses to start without what it needs.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'} ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  const mode = e.BOT_ID ? 'production' : 'local';
  let directory: AppConfig['directory'] = { kind: 'local', path: path.resolve(e.LOCAL_DIRECTORY_PATH) };

  if (mode === 'production') {
    const missing: string[] = [];
    if (e.BOT_APP_TYPE === 'SingleTenant' && !e.BOT_TENANT_ID) missing.push('BOT_TENANT_ID (the Entra tenant id of a single-tenant bot)');
    if (e.BOT_APP_TYPE !== 'UserAssignedMSI' && !e.BOT_PASSWORD && !e.BOT_CERTIFICATE_THUMBPRINT) {
      missing.push('BOT_PASSWORD or BOT_CERTIFICATE_THUMBPRINT with BOT_CERTIFICATE_KEY_PATH (the bot credential)');
    }
    if (e.BOT_CERTIFICATE_THUMBPRINT && !e.BOT_CERTIFICATE_KEY_PATH) missing.push('BOT_CERTIFICATE_KEY_PATH (the private key of BOT_CERTIFICATE_THUMBPRINT)');
    if (e.BOT_PASSWORD && e.BOT_CERTIFICATE_THUMBPRINT) missing.push('either BOT_PASSWORD or BOT_CERTIFICATE_THUMBPRINT, not both');
    if (e.BOT_CERTIFICATE_KEY_PATH && !fs.existsSync(path.resolve(e.BOT_CERTIFICATE_KEY_PATH))) {
      missing.push(`BOT_CERTIFICATE_KEY_PATH to name a file that exists (${path.resolve(e.BOT_CERTIFICATE_KEY_PATH)} does not)`);
    }
    // Signing keys, user tokens and replies go to these: over plain http a network attacker could
    // publish keys of their own (and so act as anyone) or read the bot's token.
    for (const [name, value] of [
      ['BOT_OPENID_METADATA_URL', e.BOT_OPENID_METADATA_URL],
      ['BOT_OAUTH_URL', e.BOT_OAUTH_URL],
      ['BOT_SERVICE_URL', e.BOT_SERVICE_URL],
    ] as const) {
      if (value && !isHttpsOrLoopback(value)) missing.push(`${name} to be an https URL (${value} is not; plain http only on this machine)`);
    }
    if (!e.TECHNICIANS_GROUP_ID) missing.push('TECHNICIANS_GROUP_ID (the Entra group of identity technicians)');
    // Verification cards, security tickets and plans go to the technicians' channel: it is named,
    // never "wherever a technician last spoke" (a channel of another team, guests included).
    if (!e.TECHNICIAN_CHANNEL_IDS && !e.TECHNICIANS_TEAM_ID) {
      missing.push('TECHNICIAN_CHANNEL_IDS (the technicians\' Teams channel ids, 19:...@thread.tacv2) or TECHNICIANS_TEAM_ID (their team)');
    }
    if (e.DIRECTORY === 'local') missing.push('DIRECTORY=graph (the demo directory is for local mode only)');
    if (e.DIRECTORY === 'ad') {
      missing.push(
        'DIRECTORY=graph or hybrid (Teams identifies people by their Entra object id, which Active Directory does not hold: use hybrid to manage on-premises accounts)',
      );
    }
    const graph = graphDirectorySettings(e, missing);
    const ad = e.DIRECTORY === 'hybrid' ? adDirectorySettings(e, missing) : null;
    if (missing.length) throw new ConfigError(`Production mode (BOT_ID is set) needs: ${missing.join('; ')}`);
    directory = ad ? { kind: 'hybrid', cloud: graph!, ad } : graph!;
  } else if (e.DIRECTORY === 'ad' || e.DIRECTORY === 'hybrid') {
    const missing: string[] = [];
    const ad = adDirectorySettings(e, missing);
    if (missing.length) throw new ConfigError(`DIRECTORY=${e.DIRECTORY} needs: ${missing.join('; ')}`);
    const remote = ad!.urls.find((u) => !isLoopback(new URL(u).hostname.replace(/^\[|\]$/g, '')));
    if (remote) {
      throw new ConfigError(
        `AD_URL=${remote} is not allowed in local mode: without BOT_ID nobody is authenticated, so only a domain controller on this machine (a lab or test DC on 127.0.0.0/8) may be used`,
      );
    }
    directory = e.DIRECTORY === 'ad' ? ad! : { kind: 'hybrid', cloud: directory, ad: ad! };
  } else if (e.DIRECTORY === 'graph') {
    throw new ConfigError(
      'DIRECTORY=graph needs production mode (BOT_ID): without Bot Framework authentication anyone on this machine could act on the real directory; use DIRECTORY=local',
    );
  }
  if (mode === 'local' && e.HOST && !isLoopback(e.HOST)) {
    throw new ConfigError(`HOST=${e.HOST} is not allowed in local mode: without BOT_ID there is no authentication, so the bot listens on 127.0.0.1 only`);
  }
  if (mode === 'local' && e.PLAYGROUND) {
    // The employee, manager, technician and resource owner chats take four ports in a row.
    const base = e.PLAYGROUND_BASE_PORT;
    if (base < 1 || base > 65532) throw new ConfigError(`PLAYGROUND_BASE_PORT must be between 1 and 65532 (the persona chats use it and the next three ports), not ${base}`);
    if (e.PORT >= base && e.PORT <= base + 3) {
      throw new ConfigError(`PLAYGROUND_BASE_PORT=${base} collides with PORT=${e.PORT}: the persona chats use ports ${base} to ${base + 3}; choose ports apart`);
    }
  }

  const auditAnchors = auditAnchorSettings(e);

  return {
    mode,
    host: e.HOST ?? '127.0.0.1',
    port: e.PORT,
    requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_SECONDS * 1000,
    databasePath: path.resolve(e.DATABASE_PATH),
    logLevel: e.LOG_LEVEL,
    directory,
    technicianGroupId: e.TECHNICIANS_GROUP_ID ?? null,
    bot: {
      appId: e.BOT_ID ?? '',
      tenantId: e.BOT_TENANT_ID ?? null,
      appType: e.BOT_APP_TYPE,
      password: e.BOT_PASSWORD ?? null,
      certificateThumbprint: e.BOT_CERTIFICATE_THUMBPRINT ?? null,
      certificateKeyPath: e.BOT_CERTIFICATE_KEY_PATH ?? null,
      openIdMetadataUrl: e.BOT_OPENID_METADATA_URL ?? null,
      oAuthUrl: e.BOT_OAUTH_URL ?? null,
      cloud: e.BOT_CLOUD,
    },
    playground: { enabled: e.PLAYGROUND, basePort: e.PLAYGROUND_BASE_PORT },
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS,
    maxMessageChars: e.MAX_MESSAGE_CHARS,
    access: {
      catalogPath: e.ACCESS_CATALOG_PATH ? path.resolve(e.ACCESS_CATALOG_PATH) : null,
      fallbackGroupId: e.ACCESS_FALLBACK_GROUP_ID ?? null,
      remindAfterHours: e.ACCESS_REMIND_AFTER_HOURS,
      escalateAfterHours: e.ACCESS_ESCALATE_AFTER_HOURS,
      requestExpiryDays: e.ACCESS_REQUEST_EXPIRY_DAYS,
      expiryNoticeHours: e.ACCESS_EXPIRY_NOTICE_HOURS,
      freshMfaRisk: e.APPROVAL_MFA_RISK === 'none' ? null : e.APPROVAL_MFA_RISK,
      freshMfaMinutes: e.APPROVAL_MFA_MINUTES,
    },
    guests: { allowed: e.ALLOW_GUESTS, mayApprove: e.ALLOW_GUEST_APPROVERS },
    jobs: {
      maxAttempts: e.JOB_MAX_ATTEMPTS,
      retryBaseSeconds: e.JOB_RETRY_BASE_SECONDS,
      retryMaxSeconds: e.JOB_RETRY_MAX_SECONDS,
      pollSeconds: e.SCHEDULER_POLL_SECONDS,
      concurrency: e.JOB_CONCURRENCY,
    },
    proactive: { serviceUrl: e.BOT_SERVICE_URL ?? null, techniciansTeamId: e.TECHNICIANS_TEAM_ID ?? null },
    recovery: recoveryConfigFrom(e, { appId: e.BOT_ID ?? '', tenantId: e.BOT_TENANT_ID ?? null }),
    technicians: technicianConfigFrom(e),
    drift: { checkIntervalHours: e.DRIFT_CHECK_INTERVAL_HOURS },
    auditAnchors,
    hrFeed: hrFeedConfigFrom(e, mode === 'local' ? { databasePath: e.DATABASE_PATH } : null),
    reviews: reviewConfigFrom(e),
  };
}

/**
 * Where anchors go: the file (none when the interval is 0) and its mirror. A mirror that cannot
 * be a second place (plain http, the anchor file's own folder) is a startup error.
 */
function auditAnchorSettings(e: Env): AppConfig['auditAnchors'] {
  const file = e.AUDIT_ANCHOR_INTERVAL_HOURS > 0 ? path.resolve(e.AUDIT_ANCHOR_FILE ?? path.join(path.dirname(path.resolve(e.DATABASE_PATH)), 'audit-anchors.jsonl')) : null;
  let mirror: AnchorMirrorConfig | null = null;
  if (file && e.AUDIT_ANCHOR_MIRROR) {
    const caFile = e.AUDIT_ANCHOR_MIRROR_CA_FILE ? path.resolve(e.AUDIT_ANCHOR_MIRROR_CA_FILE) : null;
    if (caFile && !fs.existsSync(caFile)) throw new ConfigError(`AUDIT_ANCHOR_MIRROR_CA_FILE must name a file that exists (${caFile} does not)`);
    try {
      mirror = anchorMirrorConfig(e.AUDIT_ANCHOR_MIRROR, file, caFile);
    } catch (err) {
      throw new ConfigError(`AUDIT_ANCHOR_MIRROR ${(err as Error).message}`);
    }
  }
  return { file, intervalHours: e.AUDIT_ANCHOR_INTERVAL_HOURS, mirror };
}

/**
 * The Graph directory's settings; what is missing goes to `missing`. The Graph app defaults
 * to the bot's own registration (`BOT_ID`, `BOT_TENANT_ID`) and, when it is that same app,
 * to the bot's credential.
 */
function graphDirectorySettings(e: Env, missing: string[]): GraphDirectoryConfig | null {
  const tenantId = e.GRAPH_TENANT_ID ?? e.BOT_TENANT_ID;
  if (!tenantId) missing.push('GRAPH_TENANT_ID (the Entra tenant of the directory; BOT_TENANT_ID is used when set)');
  const clientId = e.GRAPH_CLIENT_ID ?? e.BOT_ID!;
  const botApp = clientId.toLowerCase() === e.BOT_ID!.toLowerCase();
  const file = (variable: string, value: string | undefined): string | null => {
    if (!value) return null;
    const full = path.resolve(value);
    if (!fs.existsSync(full)) missing.push(`${variable} to name a file that exists (${full} does not)`);
    return full;
  };
  let credential: GraphDirectoryConfig['credential'] | null = null;
  if (e.GRAPH_CLIENT_SECRET && e.GRAPH_CERTIFICATE_THUMBPRINT) {
    missing.push('either GRAPH_CLIENT_SECRET or GRAPH_CERTIFICATE_THUMBPRINT, not both');
  } else if (e.GRAPH_CLIENT_SECRET) {
    credential = { kind: 'secret', secret: e.GRAPH_CLIENT_SECRET };
  } else if (e.GRAPH_CERTIFICATE_THUMBPRINT) {
    if (!e.GRAPH_CERTIFICATE_KEY_PATH) missing.push('GRAPH_CERTIFICATE_KEY_PATH (the private key of GRAPH_CERTIFICATE_THUMBPRINT)');
    const keyPath = file('GRAPH_CERTIFICATE_KEY_PATH', e.GRAPH_CERTIFICATE_KEY_PATH);
    const certificatePath = file('GRAPH_CERTIFICATE_PATH', e.GRAPH_CERTIFICATE_PATH);
    if (keyPath) credential = { kind: 'certificate', thumbprint: e.GRAPH_CERTIFICATE_THUMBPRINT.toLowerCase(), keyPath, certificatePath };
  } else if (botApp && e.BOT_PASSWORD) {
    credential = { kind: 'secret', secret: e.BOT_PASSWORD };
  } else if (botApp && e.BOT_CERTIFICATE_THUMBPRINT && e.BOT_CERTIFICATE_KEY_PATH) {
    credential = {
      kind: 'certificate',
      thumbprint: e.BOT_CERTIFICATE_THUMBPRINT.toLowerCase(),
      keyPath: path.resolve(e.BOT_CERTIFICATE_KEY_PATH),
      certificatePath: null,
    };
  } else if (!botApp || e.BOT_APP_TYPE === 'UserAssignedMSI') {
    missing.push('GRAPH_CLIENT_SECRET or GRAPH_CERTIFICATE_THUMBPRINT with GRAPH_CERTIFICATE_KEY_PATH (the credential of the Graph app registration)');
  }
  const caFile = file('GRAPH_CA_FILE', e.GRAPH_CA_FILE);
  if (!tenantId || !credential) return null;
  return {
    kind: 'graph',
    tenantId,
    clientId,
    credential,
    authorityHost: e.GRAPH_AUTHORITY_HOST,
    baseUrl: e.GRAPH_BASE_URL,
    caFile,
    requestTimeoutMs: e.GRAPH_REQUEST_TIMEOUT_SECONDS * 1000,
    retryBudgetMs: e.GRAPH_RETRY_MAX_SECONDS * 1000,
  };
}

/**
 * The Active Directory settings; what is missing goes to `missing`. The service account signs
 * in with a password or a client certificate, never both.
 */
function adDirectorySettings(e: Env, missing: string[]): AdDirectoryConfig | null {
  const urls = e.AD_URL ? adUrls(e.AD_URL) : [];
  if (urls.length === 0) missing.push('AD_URL (the domain controllers, such as ldaps://dc1.corp.example)');
  const file = (variable: string, value: string | undefined): string | null => {
    if (!value) return null;
    const full = path.resolve(value);
    if (!fs.existsSync(full)) missing.push(`${variable} to name a file that exists (${full} does not)`);
    return full;
  };
  let bind: AdDirectoryConfig['bind'] | null = null;
  const certificate = e.AD_CLIENT_CERTIFICATE_PATH || e.AD_CLIENT_KEY_PATH;
  if (e.AD_BIND_PASSWORD && certificate) {
    missing.push('either AD_BIND_PASSWORD or AD_CLIENT_CERTIFICATE_PATH with AD_CLIENT_KEY_PATH, not both');
  } else if (e.AD_BIND_PASSWORD) {
    if (!e.AD_BIND_DN) missing.push('AD_BIND_DN (the service account, such as svc-helpdesk@corp.example)');
    else bind = { kind: 'password', bindDn: e.AD_BIND_DN, password: e.AD_BIND_PASSWORD };
  } else if (certificate) {
    if (!e.AD_CLIENT_CERTIFICATE_PATH) missing.push('AD_CLIENT_CERTIFICATE_PATH (the certificate of AD_CLIENT_KEY_PATH)');
    if (!e.AD_CLIENT_KEY_PATH) missing.push('AD_CLIENT_KEY_PATH (the private key of AD_CLIENT_CERTIFICATE_PATH)');
    const certificatePath = file('AD_CLIENT_CERTIFICATE_PATH', e.AD_CLIENT_CERTIFICATE_PATH);
    const keyPath = file('AD_CLIENT_KEY_PATH', e.AD_CLIENT_KEY_PATH);
    if (certificatePath && keyPath) bind = { kind: 'certificate', certificatePath, keyPath };
  } else {
    missing.push('AD_BIND_DN with AD_BIND_PASSWORD, or AD_CLIENT_CERTIFICATE_PATH with AD_CLIENT_KEY_PATH (the service account)');
  }
  const caFile = file('AD_CA_FILE', e.AD_CA_FILE);
  if (urls.length === 0 || !bind) return null;
  return {
    kind: 'ad',
    urls,
    bind,
    caFile,
    tlsServerName: e.AD_TLS_SERVER_NAME ?? null,
    baseDn: e.AD_BASE_DN ?? null,
    poolSize: e.AD_POOL_SIZE,
    timeoutMs: e.AD_TIMEOUT_SECONDS * 1000,
    connectTimeoutMs: e.AD_CONNECT_TIMEOUT_SECONDS * 1000,
    pageSize: e.AD_PAGE_SIZE,
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** An https URL, or an http one on this machine (a test issuer or a local proxy). */
function isHttpsOrLoopback(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname.replace(/^\[|\]$/g, '')));
}

/** Loads `.env` from the working folder when present; variables already set win. */
export function loadDotEnv(file = path.resolve('.env')): void {
  if (fs.existsSync(file)) process.loadEnvFile(file);
}
