import path from 'node:path';
import { z } from 'zod';
import { TICKET_TYPES, type TicketType } from '../store/technician';

/**
 * Settings of the technicians' commands and the ticket queue. Part of {@link AppConfig},
 * read by `loadConfig` with the rest.
 */
export interface TechnicianConfig {
  /**
   * Team channels (Teams channel ids, `19:...@thread.tacv2`) where commands are taken. Null:
   * any channel. A technician's 1:1 chat always works.
   */
  channelIds: string[] | null;
  /** A plan card can be confirmed for this many minutes. */
  planMinutes: number;
  /** Hours to resolve a ticket, by type. */
  slaHours: Record<TicketType, number>;
  /** The birthright rules file; the bundled `directory/birthright.json` by default. */
  birthrightPath: string | null;
}

/** Default resolution targets: security first, then people who cannot work. */
export const DEFAULT_SLA_HOURS: Record<TicketType, number> = {
  security: 1,
  signin: 4,
  report: 4,
  provisioning: 8,
  escalation: 24,
  job: 24,
  general: 24,
  offboarding: 72,
};

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const slaList = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const out: Record<TicketType, number> = { ...DEFAULT_SLA_HOURS };
      if (v === undefined) return out;
      for (const item of v.split(',').map((s) => s.trim()).filter(Boolean)) {
        const m = /^([a-z]+)\s*=\s*(\d{1,4})$/.exec(item);
        if (!m || !(TICKET_TYPES as readonly string[]).includes(m[1]!) || Number(m[2]) < 1 || Number(m[2]) > 24 * 90) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `must be a comma-separated list of type=hours (1 to 2160), types ${TICKET_TYPES.join(', ')}; not "${item.slice(0, 40)}"`,
          });
          return z.NEVER;
        }
        out[m[1] as TicketType] = Number(m[2]);
      }
      return out;
    }),
);

/** The environment variables of technician commands and tickets, merged into the bot's env schema. */
export const technicianEnvShape = {
  TECHNICIAN_CHANNEL_IDS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return null;
        const ids = [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))];
        if (!ids.length || ids.some((id) => !/^19:[^\s,;]+$/.test(id))) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a comma-separated list of Teams channel ids such as 19:abc@thread.tacv2' });
          return z.NEVER;
        }
        return ids;
      }),
  ),
  TECHNICIAN_PLAN_MINUTES: z.preprocess(
    emptyToUndefined,
    z.coerce.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').min(5, 'must be between 5 and 1440').max(1440, 'must be between 5 and 1440').default(30),
  ),
  TICKET_SLA_HOURS: slaList,
  BIRTHRIGHT_RULES_PATH: z.preprocess(emptyToUndefined, z.string().trim().optional()),
};

type TechnicianEnv = z.output<z.ZodObject<typeof technicianEnvShape>>;

/** The technician settings from validated environment values. */
export function technicianConfigFrom(e: TechnicianEnv): TechnicianConfig {
  return {
    channelIds: e.TECHNICIAN_CHANNEL_IDS,
    planMinutes: e.TECHNICIAN_PLAN_MINUTES,
    slaHours: e.TICKET_SLA_HOURS,
    birthrightPath: e.BIRTHRIGHT_RULES_PATH ? path.resolve(e.BIRTHRIGHT_RULES_PATH) : null,
  };
}
