import path from 'node:path';
import { z } from 'zod';
import { isTimeZone } from '../dialogs/hr-feed/dates';

/**
 * Settings of the HR feed. Part of {@link AppConfig}, read by `loadConfig` with the rest.
 * Each way in is off unless configured: the drop folder with `HR_FEED_DIR`, the webhook
 * with `HR_WEBHOOK_SECRET`.
 */
export interface HrFeedConfig {
  /** The drop folder; null: off. Processed files go to `processed/`, refused ones to `rejected/`. */
  dir: string | null;
  pollSeconds: number;
  /** The webhook's shared HMAC secret; null: the webhook is off. Never logged. */
  webhookSecret: string | null;
  /** How far a signature's time may be from the bot's clock. */
  webhookToleranceSeconds: number;
  /** The largest file or webhook body taken. */
  maxBytes: number;
  /** The IANA time zone of the feed's dates. */
  timeZone: string;
  /** How long a privileged account's plan from the feed can be approved. */
  approvalHours: number;
}

/** The webhook's path on the bot's HTTP server. */
export const HR_WEBHOOK_PATH = '/api/hr-feed';

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

/** The environment variables of the HR feed, merged into the bot's env schema. */
export const hrFeedEnvShape = {
  HR_FEED_DIR: z.preprocess(emptyToUndefined, z.string().trim().optional()),
  HR_FEED_POLL_SECONDS: whole(60, 1, 3600),
  // Not trimmed: a secret is exactly what was given. Long enough not to be guessed.
  HR_WEBHOOK_SECRET: z.preprocess(emptyToUndefined, z.string().min(32, 'must be at least 32 characters (for example: openssl rand -hex 32)').max(512, 'must be at most 512 characters').optional()),
  HR_WEBHOOK_TOLERANCE_SECONDS: whole(300, 30, 3600),
  HR_FEED_MAX_BYTES: whole(5 * 1024 * 1024, 1024, 50 * 1024 * 1024),
  HR_FEED_TIMEZONE: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .trim()
      .default('UTC')
      .refine((tz) => isTimeZone(tz), 'must be an IANA time zone such as Europe/London or UTC'),
  ),
  HR_FEED_APPROVAL_HOURS: whole(72, 1, 24 * 30),
};

type HrFeedEnv = z.output<z.ZodObject<typeof hrFeedEnvShape>>;

/** The HR feed settings from validated environment values. */
export function hrFeedConfigFrom(e: HrFeedEnv, local: { databasePath: string } | null = null): HrFeedConfig {
  return {
    // Local mode has a drop folder beside the database (`data/hr-drop` for `npm start`), so
    // the demo can be tried without configuration; production only with HR_FEED_DIR.
    dir: e.HR_FEED_DIR ? path.resolve(e.HR_FEED_DIR) : local ? path.join(path.dirname(path.resolve(local.databasePath)), 'hr-drop') : null,
    pollSeconds: e.HR_FEED_POLL_SECONDS,
    webhookSecret: e.HR_WEBHOOK_SECRET ?? null,
    webhookToleranceSeconds: e.HR_WEBHOOK_TOLERANCE_SECONDS,
    maxBytes: e.HR_FEED_MAX_BYTES,
    timeZone: e.HR_FEED_TIMEZONE,
    approvalHours: e.HR_FEED_APPROVAL_HOURS,
  };
}
