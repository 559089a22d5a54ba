/** What people ask the helpdesk for, in plain words. The labels are part of the product's contract. */
export const INTENTS = [
  'password.reset',
  'mfa.reset',
  'account.unlock',
  'signin.help',
  'access.request',
  'access.status',
  'access.cancel',
  'access.list',
  'approvals.pending',
  'help',
  'greeting',
  'thanks',
  'none',
] as const;

export type Intent = (typeof INTENTS)[number];

/** Intents that start a flow which changes or reveals something: never started on a guess. */
export const ACTION_INTENTS: ReadonlySet<Intent> = new Set<Intent>([
  'password.reset',
  'mfa.reset',
  'account.unlock',
  'signin.help',
  'access.request',
  'access.status',
  'access.cancel',
  'access.list',
  'approvals.pending',
]);

export function isIntent(value: unknown): value is Intent {
  return typeof value === 'string' && (INTENTS as readonly string[]).includes(value);
}

/** A requestable resource named in the message (from the resources file, later the catalog). */
export interface ResourceEntity {
  /** The resource's id (the access catalog's id), e.g. `payroll-reports`. */
  id: string;
  /** Its display name, e.g. `Payroll Reports`. */
  name: string;
  /** The words of the message that named it. */
  text: string;
  /** 1 for an exact name or alias, lower for a typo-tolerant match. */
  score: number;
}

/**
 * How long access is wanted. Relative spans ("for two weeks", "3d") give `hours`; calendar
 * ends ("until Friday", "till end of month") give `until`, the end of that day in the user's
 * time zone. Both are set when both are known.
 */
export interface DurationEntity {
  text: string;
  /**
   * Length in hours, for relative spans, as said: zero for "for 0 days", negative for "for -3
   * days", however long for "for 99999 years" (up to a million years). The flow refuses what
   * it cannot grant, with the reason.
   */
  hours?: number;
  /** Local calendar date the access should end on (inclusive), `YYYY-MM-DD`; may have passed ("until yesterday"). */
  untilDate?: string;
  /** The end of `untilDate` (23:59:59) in `timeZone`, as an ISO 8601 instant with offset. */
  until?: string;
  /** IANA time zone the end date was computed in. */
  timeZone?: string;
  /** True for "permanently", "for good", "indefinitely". */
  permanent?: boolean;
}

/** Someone the message is about. Who they are is resolved later, in the directory. */
export type PersonEntity =
  | { kind: 'manager'; text: string }
  | { kind: 'upn'; text: string; upn: string }
  | { kind: 'name'; text: string; name: string };

export interface Entities {
  resources: ResourceEntity[];
  duration?: DurationEntity;
  /** Request ids, normalised to `REQ-<n>`. */
  requestIds: string[];
  people: PersonEntity[];
}

export interface ScoredIntent {
  intent: Intent;
  confidence: number;
}

/** What the recognizer made of one message. */
export interface Recognition {
  intent: Intent;
  /** 0..1, calibrated so that the thresholds below mean the same across intents. */
  confidence: number;
  entities: Entities;
  /** Every intent with a score, best first (the first is `intent`). */
  alternatives: ScoredIntent[];
  /**
   * The message says not to do something, or that it is no longer wanted ("don't reset my
   * password", "I no longer need the VPN"): a change it names is asked about, never started.
   */
  negated?: boolean;
}

/** Where and when the message was written: the user's clock for date words like "Friday". */
export interface RecognizeContext {
  /** IANA time zone of the user (`activity.localTimezone`), e.g. `Europe/London`. */
  timeZone?: string;
  /** The user's local time with its offset (`activity.localTimestamp`). */
  localTimestamp?: string | Date;
  /** Now, for tests; defaults to the real clock. */
  now?: Date;
}
