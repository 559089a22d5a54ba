import path from 'node:path';
import { z } from 'zod';

/**
 * Settings of access review campaigns. Part of {@link AppConfig}, read by `loadConfig` with
 * the rest.
 */
export interface ReviewConfig {
  /** The scheduled campaigns file; the bundled `directory/review-schedules.json` by default. */
  schedulesPath: string | null;
  /** Days before the due date when reviewers with undecided items are reminded, latest last (e.g. [3, 1]). */
  reminderDays: number[];
  /** Days a campaign runs when `--due` is not given. */
  defaultDueDays: number;
}

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const dayList = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .default('3,1')
    .transform((v, ctx) => {
      const items = v.split(',').map((s) => s.trim()).filter(Boolean);
      const days = items.map(Number);
      if (items.length > 10 || items.some((s) => !/^\d{1,3}$/.test(s)) || days.some((d) => d < 1 || d > 90)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a comma-separated list of days before the due date, each from 1 to 90 (at most 10), such as 3,1' });
        return z.NEVER;
      }
      return [...new Set(days)].sort((a, b) => b - a);
    }),
);

/** The environment variables of access reviews, merged into the bot's env schema. */
export const reviewEnvShape = {
  REVIEW_SCHEDULES_PATH: z.preprocess(emptyToUndefined, z.string().trim().optional()),
  REVIEW_REMINDER_DAYS: dayList,
  REVIEW_DUE_DAYS: z.preprocess(
    emptyToUndefined,
    z.coerce.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').min(1, 'must be between 1 and 180').max(180, 'must be between 1 and 180').default(14),
  ),
};

type ReviewEnv = z.output<z.ZodObject<typeof reviewEnvShape>>;

/** The review settings from validated environment values. */
export function reviewConfigFrom(e: ReviewEnv): ReviewConfig {
  return {
    schedulesPath: e.REVIEW_SCHEDULES_PATH ? path.resolve(e.REVIEW_SCHEDULES_PATH) : null,
    reminderDays: e.REVIEW_REMINDER_DAYS,
    defaultDueDays: e.REVIEW_DUE_DAYS,
  };
}
