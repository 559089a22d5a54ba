import { z } from 'zod';
import type { VerificationPolicy } from '../dialogs/signin/policy';
import type { VerificationMethod } from '../store/recovery';

/**
 * Settings of self-service sign-in recovery (password reset, MFA recovery with a Temporary
 * Access Pass, unlock): the verification policy, time limits and abuse limits. Part of
 * {@link AppConfig}, read by `loadConfig` with the rest.
 */
export interface RecoveryConfig {
  policy: VerificationPolicy;
  /**
   * Groups whose members are privileged (stricter verification). Null: the demo tenant's in
   * local mode; in production an unset list means every account counts as privileged. The
   * technicians group and directory role holders are privileged besides (`dialogs/privileged.ts`).
   */
  privilegedGroupIds: string[] | null;
  /** A recovery must be finished within this many minutes of its last step. */
  verificationMinutes: number;
  /** A code prompt can be answered for this many minutes. */
  codeMinutes: number;
  /** The message with a temporary password or pass is hidden after this many minutes. */
  secretVisibleMinutes: number;
  tap: { lifetimeMinutes: number; oneTime: boolean };
  passwordLength: number;
  /** Completed recoveries per user in 24 hours. */
  maxPerDay: number;
  /** Failed verifications in 24 hours that lock self-service for `lockoutHours`. */
  maxFailedVerifications: number;
  lockoutHours: number;
  /** "Why can't I sign in" mentions a password change younger than this. */
  recentResetHours: number;
  /** Step-up sign-in (production): the bot's OAuth connection and how its tokens are checked. */
  stepUp: {
    connectionName: string | null;
    audiences: string[];
    metadataUrl: string | null;
    maxAgeMinutes: number;
    acrs: string[];
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const whole = (fallback: number, min: number, max: number) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ invalid_type_error: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be between ${min} and ${max}`)
      .max(max, `must be between ${min} and ${max}`)
      .default(fallback),
  );
const oneOrTwo = (fallback: 1 | 2) =>
  z.preprocess(emptyToUndefined, z.enum(['1', '2'], { message: 'must be 1 or 2' }).default(String(fallback) as '1' | '2').transform((v) => Number(v) as 1 | 2));
const list = <T extends string>(allowed: readonly T[], fallback: readonly T[], what: string) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default(fallback.join(','))
      .transform((v, ctx) => {
        const items = [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))];
        const bad = items.filter((i) => !(allowed as readonly string[]).includes(i));
        if (bad.length || items.length === 0) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a comma-separated list of ${allowed.join(', ')} (${what})${bad.length ? `; not ${bad.join(', ')}` : ''}` });
          return z.NEVER;
        }
        return items as T[];
      }),
  );
const stringList = (check?: { re: RegExp; message: string }) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return null;
        const items = [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))];
        if (check && items.some((i) => !check.re.test(i))) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: check.message });
          return z.NEVER;
        }
        return items;
      }),
  );
const bool = (fallback: boolean) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );

const ALL_METHODS: readonly VerificationMethod[] = ['code', 'sign-in', 'manager', 'technician'];
const PERSONS = ['manager', 'technician'] as const;

/** The environment variables of sign-in recovery, merged into the bot's env schema. */
export const recoveryEnvShape = {
  RECOVERY_PASSWORD_METHODS: list(ALL_METHODS, ALL_METHODS, 'who may verify a password reset or an unlock'),
  RECOVERY_PASSWORD_REQUIRED: oneOrTwo(1),
  RECOVERY_PASSWORD_REQUIRED_PRIVILEGED: oneOrTwo(2),
  // Never the lost factor: an authenticator code or sign-in cannot verify an MFA recovery.
  RECOVERY_MFA_METHODS: list(PERSONS, PERSONS, 'people only: the lost factor never verifies its own recovery'),
  RECOVERY_MFA_REQUIRED: oneOrTwo(1),
  RECOVERY_MFA_REQUIRED_PRIVILEGED: oneOrTwo(2),
  RECOVERY_PRIVILEGED_GROUP_IDS: stringList({ re: GUID, message: 'must be a comma-separated list of group ids (GUIDs)' }),
  RECOVERY_VERIFICATION_MINUTES: whole(15, 5, 60),
  RECOVERY_CODE_MINUTES: whole(5, 1, 15),
  RECOVERY_SECRET_VISIBLE_MINUTES: whole(10, 1, 60),
  RECOVERY_TAP_MINUTES: whole(60, 10, 43_200),
  RECOVERY_TAP_ONE_TIME: bool(true),
  RECOVERY_PASSWORD_LENGTH: whole(16, 16, 64),
  RECOVERY_MAX_PER_DAY: whole(3, 1, 20),
  RECOVERY_MAX_FAILED_VERIFICATIONS: whole(5, 1, 20),
  RECOVERY_LOCKOUT_HOURS: whole(24, 1, 168),
  RECOVERY_RECENT_RESET_HOURS: whole(24, 1, 720),
  STEP_UP_CONNECTION_NAME: z.preprocess(emptyToUndefined, z.string().trim().optional()),
  STEP_UP_AUDIENCES: stringList(),
  STEP_UP_OPENID_METADATA_URL: z.preprocess(emptyToUndefined, z.string().trim().url('must be a URL').optional()),
  STEP_UP_MAX_AGE_MINUTES: whole(10, 1, 60),
  STEP_UP_ACRS: stringList({ re: /^c\d{1,2}$/, message: 'must be a comma-separated list of authentication context ids such as c1' }),
};

type RecoveryEnv = z.output<z.ZodObject<typeof recoveryEnvShape>>;

/** The recovery settings from validated environment values. */
export function recoveryConfigFrom(e: RecoveryEnv, bot: { appId: string; tenantId: string | null }): RecoveryConfig {
  return {
    policy: {
      password: { methods: e.RECOVERY_PASSWORD_METHODS, required: e.RECOVERY_PASSWORD_REQUIRED, requiredPrivileged: e.RECOVERY_PASSWORD_REQUIRED_PRIVILEGED },
      mfa: { methods: e.RECOVERY_MFA_METHODS, required: e.RECOVERY_MFA_REQUIRED, requiredPrivileged: e.RECOVERY_MFA_REQUIRED_PRIVILEGED },
    },
    privilegedGroupIds: e.RECOVERY_PRIVILEGED_GROUP_IDS?.map((g) => g.toLowerCase()) ?? null,
    verificationMinutes: e.RECOVERY_VERIFICATION_MINUTES,
    codeMinutes: e.RECOVERY_CODE_MINUTES,
    secretVisibleMinutes: e.RECOVERY_SECRET_VISIBLE_MINUTES,
    tap: { lifetimeMinutes: e.RECOVERY_TAP_MINUTES, oneTime: e.RECOVERY_TAP_ONE_TIME },
    passwordLength: e.RECOVERY_PASSWORD_LENGTH,
    maxPerDay: e.RECOVERY_MAX_PER_DAY,
    maxFailedVerifications: e.RECOVERY_MAX_FAILED_VERIFICATIONS,
    lockoutHours: e.RECOVERY_LOCKOUT_HOURS,
    recentResetHours: e.RECOVERY_RECENT_RESET_HOURS,
    stepUp: {
      connectionName: e.STEP_UP_CONNECTION_NAME ?? null,
      audiences: e.STEP_UP_AUDIENCES ?? (bot.appId ? [bot.appId, `api://${bot.appId}`] : []),
      metadataUrl: e.STEP_UP_OPENID_METADATA_URL ?? (bot.tenantId ? `https://login.microsoftonline.com/${bot.tenantId}/v2.0/.well-known/openid-configuration` : null),
      maxAgeMinutes: e.STEP_UP_MAX_AGE_MINUTES,
      acrs: e.STEP_UP_ACRS ?? [],
    },
  };
}
