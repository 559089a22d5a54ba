import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The bot's whole configuration, read once from the environment by {@link loadConfig}.
 *
 * Two modes:
 * - `local`: no `BOT_ID`. No Bot Framework authentication, listens on 127.0.0.1 only,
 *   uses the demo directory and starts the playground personas.
 * - `production`: `BOT_ID` set. Bot Framework JWTs are validated on `/api/messages`;
 *   credentials and the tenant are required.
 */
export interface AppConfig {
  mode: 'local' | 'production';
  host: string;
  port: number;
  databasePath: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  directory: { kind: 'local'; path: string } | { kind: 'graph' };
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
  };
  playground: { enabled: boolean; basePort: number };
  /** Seconds to wait for in-flight turns on shutdown. */
  shutdownGraceSeconds: number;
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
const optionalString = z.preprocess(emptyToUndefined, z.string().trim().optional());
const optionalGuid = z.preprocess(
  emptyToUndefined,
  z.string().trim().regex(GUID, 'must be a GUID such as 00000000-0000-0000-0000-000000000000').optional(),
);
const port = (fallback: number) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ invalid_type_error: 'must be a number' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 65535')
      .max(65535, 'must be between 0 and 65535')
      .default(fallback),
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
  HOST: optionalString,
  PORT: port(3978),
  DATABASE_PATH: z.preprocess(emptyToUndefined, z.string().trim().default('./data/helpdesk.db')),
  DIRECTORY: z.preprocess(emptyToUndefined, z.enum(['local', 'graph'], { message: 'must be local or graph' }).optional()),
  LOCAL_DIRECTORY_PATH: z.preprocess(emptyToUndefined, z.string().trim().default('./data/demo-directory.db')),
  TECHNICIANS_GROUP_ID: optionalGuid,
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'must be one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
  ),
  PLAYGROUND: bool(true),
  PLAYGROUND_BASE_PORT: port(56150),
  SHUTDOWN_GRACE_SECONDS: z.preprocess(
    emptyToUndefined,
    z.coerce.number({ invalid_type_error: 'must be a number' }).int().min(0).max(600).default(10),
  ),
});

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

  if (mode === 'production') {
    const missing: string[] = [];
    if (e.BOT_APP_TYPE === 'SingleTenant' && !e.BOT_TENANT_ID) missing.push('BOT_TENANT_ID (the Entra tenant id of a single-tenant bot)');
    if (e.BOT_APP_TYPE !== 'UserAssignedMSI' && !e.BOT_PASSWORD && !e.BOT_CERTIFICATE_THUMBPRINT) {
      missing.push('BOT_PASSWORD or BOT_CERTIFICATE_THUMBPRINT with BOT_CERTIFICATE_KEY_PATH (the bot credential)');
    }
    if (e.BOT_CERTIFICATE_THUMBPRINT && !e.BOT_CERTIFICATE_KEY_PATH) missing.push('BOT_CERTIFICATE_KEY_PATH (the private key of BOT_CERTIFICATE_THUMBPRINT)');
    if (!e.TECHNICIANS_GROUP_ID) missing.push('TECHNICIANS_GROUP_ID (the Entra group of identity technicians)');
    if (e.DIRECTORY === 'local') missing.push('DIRECTORY=graph (the demo directory is for local mode only)');
    if (missing.length) throw new ConfigError(`Production mode (BOT_ID is set) needs: ${missing.join('; ')}`);
    // The Microsoft Graph directory is the only production backend. It is not part of
    // this release yet, so production mode stops here rather than run without one.
    throw new ConfigError(
      'Production mode (BOT_ID is set) needs DIRECTORY=graph, the Microsoft Graph directory, which this version does not include yet. ' +
        'Unset BOT_ID to run in local mode with the demo directory.',
    );
  }

  if (e.DIRECTORY === 'graph') throw new ConfigError('DIRECTORY=graph needs production mode (BOT_ID) and is not included in this version; use DIRECTORY=local');
  if (e.HOST && !isLoopback(e.HOST)) {
    throw new ConfigError(`HOST=${e.HOST} is not allowed in local mode: without BOT_ID there is no authentication, so the bot listens on 127.0.0.1 only`);
  }

  return {
    mode,
    host: e.HOST ?? '127.0.0.1',
    port: e.PORT,
    databasePath: path.resolve(e.DATABASE_PATH),
    logLevel: e.LOG_LEVEL,
    directory: { kind: 'local', path: path.resolve(e.LOCAL_DIRECTORY_PATH) },
    technicianGroupId: e.TECHNICIANS_GROUP_ID ?? null,
    bot: {
      appId: e.BOT_ID ?? '',
      tenantId: e.BOT_TENANT_ID ?? null,
      appType: e.BOT_APP_TYPE,
      password: e.BOT_PASSWORD ?? null,
      certificateThumbprint: e.BOT_CERTIFICATE_THUMBPRINT ?? null,
      certificateKeyPath: e.BOT_CERTIFICATE_KEY_PATH ?? null,
      openIdMetadataUrl: e.BOT_OPENID_METADATA_URL ?? null,
    },
    playground: { enabled: e.PLAYGROUND, basePort: e.PLAYGROUND_BASE_PORT },
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS,
  };
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

/** Loads `.env` from the working folder when present; variables already set win. */
export function loadDotEnv(file = path.resolve('.env')): void {
  if (fs.existsSync(file)) process.loadEnvFile(file);
}
