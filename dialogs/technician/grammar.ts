import { isGuid } from '../../directory/directory';
import { parseTimeBound } from '../../store/audit-export';

/**
 * The technicians' command language, as typed in the technicians' channel (after the bot's
 * @mention) or in a 1:1 chat. Pure: no directory, no store. It turns a line into a
 * {@link ParsedCommand} or a usage message; resolving names to users, groups and tickets
 * happens later, in the command service.
 *
 * Lexical rules:
 * - words are separated by spaces (a no-break space counts);
 * - "double", 'single' and “curly” quotes group words; inside double quotes `\"` and `\\`
 *   escape; an apostrophe inside a word is just a letter (`O'Brien`);
 * - `--flag value` and `--flag=value`; a dash Teams autocorrected (`—reason`) counts too;
 *   a text flag (`--reason`, `--note`, `--department`, `--title`, `--manager`) takes every word up to the
 *   next flag, so `--reason left the company` needs no quotes.
 */

export type CommandName =
  | 'help'
  | 'whois'
  | 'groups'
  | 'members'
  | 'unlock'
  | 'reset-password'
  | 'tap'
  | 'mfa'
  | 'mfa-reset'
  | 'disable'
  | 'enable'
  | 'onboard'
  | 'move'
  | 'offboard'
  | 'grant'
  | 'revoke'
  | 'pending'
  | 'take'
  | 'assign'
  | 'close'
  | 'audit'
  | 'report'
  | 'drift'
  | 'review';

export type FlagName = 'reason' | 'note' | 'department' | 'title' | 'manager' | 'for' | 'minutes' | 'days' | 'since' | 'format' | 'group' | 'dry-run'
  | 'reviewer' | 'due' | 'auto-apply' | 'inactive' | 'csv';
type FlagKind = 'text' | 'duration' | 'minutes' | 'days' | 'since' | 'format' | 'boolean' | 'due-days' | 'auto-apply' | 'inactive-days';

interface FlagSpec {
  kind: FlagKind;
  required?: boolean;
  /** What goes after the flag in the usage line. */
  placeholder: string;
}

/** How the words that are not flags are read. */
type Shape = 'none' | 'user' | 'group' | 'user-resource' | 'ticket' | 'ticket-technician' | 'audit' | 'topic' | 'review';

/** One command: its usage, help text and what it takes. */
export interface CommandSpec {
  name: CommandName;
  summary: string;
  usage: string;
  examples: string[];
  /** Extra lines for `help <command>`. */
  notes?: string[];
  shape: Shape;
  flags: Partial<Record<FlagName, FlagSpec>>;
  /** `change` acts on the directory; `destructive` only after a confirmation on a plan card. */
  effect: 'read' | 'change' | 'destructive';
}

const REASON: FlagSpec = { kind: 'text', required: true, placeholder: '‹why›' };

/** Every command, in the order `help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'help',
    summary: 'This list, or the usage and examples of one command.',
    usage: 'help [command]',
    examples: ['help offboard', 'help grant'],
    shape: 'topic',
    flags: {},
    effect: 'read',
  },
  {
    name: 'whois',
    summary: 'Profile: department, title, manager, account state, MFA method types, groups, pending requests, recent audit events.',
    usage: 'whois ‹user›',
    examples: ['whois emily.chen@northwind.example', 'whois Emily Chen', 'whois 957e5a6d-0c8b-4f46-aca9-a39f53ef71e8'],
    shape: 'user',
    flags: {},
    effect: 'read',
  },
  {
    name: 'groups',
    summary: "The groups a user is a direct member of (privileged ones marked).",
    usage: 'groups ‹user›',
    examples: ['groups "Jonas Weber"'],
    shape: 'user',
    flags: {},
    effect: 'read',
  },
  {
    name: 'members',
    summary: 'The members of a group.',
    usage: 'members ‹group›',
    examples: ['members "Payroll Reports"', 'members Global Admins'],
    shape: 'group',
    flags: {},
    effect: 'read',
  },
  {
    name: 'unlock',
    summary: 'Clears an account lockout (on-premises and demo accounts; cloud accounts unlock by themselves).',
    usage: 'unlock ‹user›',
    examples: ['unlock oliver.bennett@northwind.example'],
    shape: 'user',
    flags: {},
    effect: 'change',
  },
  {
    name: 'reset-password',
    summary: 'A temporary password (changed at next sign-in), shown only in your 1:1 chat. Needs your confirmation.',
    usage: 'reset-password ‹user›',
    examples: ['reset-password "Emily Chen"'],
    shape: 'user',
    flags: {},
    effect: 'destructive',
  },
  {
    name: 'tap',
    summary: 'A one-time Temporary Access Pass to register new sign-in methods, shown only in your 1:1 chat.',
    usage: 'tap ‹user› [--minutes N]',
    examples: ['tap emily.chen@northwind.example', 'tap "Emily Chen" --minutes 120'],
    notes: ['--minutes: from 10 to 43200 (30 days); the configured default otherwise.'],
    shape: 'user',
    flags: { minutes: { kind: 'minutes', placeholder: 'N' } },
    effect: 'change',
  },
  {
    name: 'mfa',
    summary: "The user's registered sign-in methods (types only).",
    usage: 'mfa ‹user›',
    examples: ['mfa Emily Chen'],
    shape: 'user',
    flags: {},
    effect: 'read',
  },
  {
    name: 'mfa-reset',
    summary: 'Removes every MFA method (the password stays) and signs the user out everywhere. Needs your confirmation.',
    usage: 'mfa-reset ‹user›',
    examples: ['mfa-reset "Emily Chen"'],
    shape: 'user',
    flags: {},
    effect: 'destructive',
  },
  {
    name: 'disable',
    summary: 'Disables the account and signs the user out everywhere. Needs your confirmation.',
    usage: 'disable ‹user› --reason ‹why›',
    examples: ['disable carlos.mendes@northwind.example --reason suspected account takeover'],
    shape: 'user',
    flags: { reason: REASON },
    effect: 'destructive',
  },
  {
    name: 'enable',
    summary: 'Enables a disabled account.',
    usage: 'enable ‹user›',
    examples: ['enable aisha.khan@northwind.example'],
    shape: 'user',
    flags: {},
    effect: 'change',
  },
  {
    name: 'onboard',
    summary: "Adds the birthright groups of the user's department and title: a plan card, applied on confirmation.",
    usage: 'onboard ‹user›',
    examples: ['onboard "Kateryna Bondar"'],
    shape: 'user',
    flags: {},
    effect: 'change',
  },
  {
    name: 'move',
    summary: "A mover: sets the department and title (and manager) in the directory and adds the new department's birthright groups now, lists the old ones and removes them on confirmation.",
    usage: 'move ‹user› --department ‹department› [--title ‹title›] [--manager ‹user›]',
    examples: ['move "Mei Tanaka" --department Finance --title Financial Analyst', 'move mei.tanaka@northwind.example --department Finance --manager thomas.berg@northwind.example'],
    notes: [
      'The department (at most 64 characters), the title (at most 128) and the manager are set first; the birthright groups follow from the new department and title. A title or manager not given stays as it is.',
      '--manager: a sign-in name, mail, object id or a name that matches one person.',
      'For an account synchronised from on-premises AD they are changed there (DIRECTORY=hybrid), or left to a technician with AD access (Microsoft Graph alone).',
    ],
    shape: 'user',
    flags: {
      department: { kind: 'text', required: true, placeholder: '‹department›' },
      title: { kind: 'text', placeholder: '‹title›' },
      manager: { kind: 'text', placeholder: '‹user›' },
    },
    effect: 'change',
  },
  {
    name: 'offboard',
    summary:
      'The leaver checklist: disable, sign out everywhere, remove every group, remove MFA methods, cancel their requests, hand their approvals to their manager, list their direct reports. A plan card, applied on confirmation; safe to run again.',
    usage: 'offboard ‹user› --reason ‹why›',
    examples: ['offboard "Chloe Martin" --reason last working day 2026-03-31'],
    shape: 'user',
    flags: { reason: REASON },
    effect: 'destructive',
  },
  {
    name: 'grant',
    summary: "Grants catalog access under its policy (duration limits, separation of duties); high-risk access still goes to its owners for approval.",
    usage: 'grant ‹user› ‹resource› [--for ‹duration›] --reason ‹why›',
    examples: ['grant emily.chen@northwind.example crm --for 14d --reason quarter-end reconciliation', 'grant "Ravi Shah" source code --reason new project'],
    notes: ['--for: 12h, 7d, 2w (up to the resource maximum) or permanent where the catalog allows it; the resource default otherwise.'],
    shape: 'user-resource',
    flags: { for: { kind: 'duration', placeholder: '‹duration›' }, reason: REASON },
    effect: 'change',
  },
  {
    name: 'revoke',
    summary: 'Removes catalog access (the group membership) now. Needs your confirmation.',
    usage: 'revoke ‹user› ‹resource› [--reason ‹why›]',
    examples: ['revoke emily.chen@northwind.example erp finance --reason moved to sales'],
    shape: 'user-resource',
    flags: { reason: { kind: 'text', placeholder: '‹why›' } },
    effect: 'destructive',
  },
  {
    name: 'pending',
    summary: 'The open ticket queue, oldest SLA first.',
    usage: 'pending',
    examples: ['pending'],
    shape: 'none',
    flags: {},
    effect: 'read',
  },
  {
    name: 'take',
    summary: 'Assigns a ticket to yourself.',
    usage: 'take ‹ticket›',
    examples: ['take TKT-1001'],
    shape: 'ticket',
    flags: {},
    effect: 'read',
  },
  {
    name: 'assign',
    summary: 'Assigns a ticket to another identity technician.',
    usage: 'assign ‹ticket› ‹technician›',
    examples: ['assign TKT-1001 Ahmed Farouk'],
    shape: 'ticket-technician',
    flags: {},
    effect: 'read',
  },
  {
    name: 'close',
    summary: 'Closes a ticket with a note of what was done.',
    usage: 'close ‹ticket› --note ‹what was done›',
    examples: ['close TKT-1001 --note verified by phone and reset the password'],
    shape: 'ticket',
    flags: { note: { kind: 'text', required: true, placeholder: '‹what was done›' } },
    effect: 'read',
  },
  {
    name: 'audit',
    summary: 'Audit events about a user, a request (REQ-…), a ticket (TKT-…), a plan (PLN-…) or a drift finding (DRF-…); verify the chain; tail; export as CSV.',
    usage: 'audit ‹user|REQ-id|ticket› [--since ‹time›] | audit verify | audit tail [N] | audit export [--since ‹time›]',
    examples: ['audit emily.chen@northwind.example --since 7d', 'audit REQ-1001', 'audit verify', 'audit tail 5', 'audit export --since 2026-03-01'],
    notes: ['--since: a date (2026-03-01), a time (2026-03-01T09:00:00Z) or a span back from now (24h, 7d, 2w).'],
    shape: 'audit',
    flags: { since: { kind: 'since', placeholder: '‹time›' } },
    effect: 'read',
  },
  {
    name: 'report',
    summary: 'Volumes, time to decision and fulfilment, SLA, resets and passes, top resources, open queue by age: a chart card, or CSV.',
    usage: 'report [--days N] [--format card|csv]',
    examples: ['report', 'report --days 7', 'report --days 30 --format csv'],
    notes: ['--days: from 1 to 365 (default 30). The same numbers: npm run report -- --days 30 --format csv'],
    shape: 'none',
    flags: { days: { kind: 'days', placeholder: 'N' }, format: { kind: 'format', placeholder: 'card|csv' } },
    effect: 'read',
  },
  {
    name: 'drift',
    summary: 'Compares the members of the catalog’s and the privileged groups with what was approved; each finding becomes a ticket with Remove, Open a review and Accept.',
    usage: 'drift [--group ‹group|resource›] [--dry-run]',
    examples: ['drift', 'drift --group payroll reports', 'drift --dry-run'],
    notes: [
      'Finds members added outside the helpdesk, grants that ended while the membership stayed, disabled members and people no longer in the directory who still hold a grant, incompatible resources held together, and unexpected members of privileged groups.',
      '--group: one catalog resource (id, name or alias) or group (name or id), with the resources it must not be held with; all of them otherwise.',
      '--dry-run: shows what would be found; nothing is recorded and no ticket is opened. A finding already raised is not raised again until something changes.',
    ],
    shape: 'none',
    flags: { group: { kind: 'text', placeholder: '‹group|resource›' }, 'dry-run': { kind: 'boolean', placeholder: '' } },
    effect: 'read',
  },
  {
    name: 'review',
    summary: 'Access review campaigns: start one (reviewers decide Keep or Remove on a card in their chat), follow it, close it, and the evidence report for auditors.',
    usage:
      'review start ‹group|resource|department› [--reviewer manager|owner|‹group›] [--due 14d] [--auto-apply deny|keep|none] [--inactive ‹days›] [--reason ‹why›] | review list | review status ‹REV-id› | review report ‹REV-id› [--csv] | review close ‹REV-id› | review cancel ‹REV-id› --reason ‹why›',
    examples: [
      'review start "Payroll Reports" --reviewer manager --due 14d --auto-apply deny',
      'review start group Production Administrators --reviewer owner',
      'review start department Finance --inactive 90',
      'review status REV-1001',
      'review report REV-1001 --csv',
      'review close REV-1001',
    ],
    notes: [
      'What to review: a catalog resource (id, name or alias) or a group (name or id), or `department ‹name›` for the catalog access held in a department; `group ‹name›` and `resource ‹name›` say which when a name is both.',
      '--reviewer: manager (each member’s manager, the default), owner (the group’s owners), or a group whose members review (its name or id). Nobody reviews their own access: it goes to the other reviewers, else to the identity technicians.',
      '--due: 1 to 180 days (14d, 2w or 14); reviewers are reminded before it. --auto-apply: what happens at the close to what nobody decided (deny removes it, keep keeps it, none, the default, leaves it as it is).',
      '--inactive: only people who have not signed in for that many days (where the directory knows sign-ins).',
      'Everything is in the audit trail with the campaign id: audit REV-1001.',
    ],
    shape: 'review',
    flags: {
      reviewer: { kind: 'text', placeholder: 'manager|owner|‹group›' },
      due: { kind: 'due-days', placeholder: '14d' },
      'auto-apply': { kind: 'auto-apply', placeholder: 'deny|keep|none' },
      inactive: { kind: 'inactive-days', placeholder: '‹days›' },
      reason: { kind: 'text', placeholder: '‹why›' },
      csv: { kind: 'boolean', placeholder: '' },
    },
    effect: 'change',
  },
];

const BY_NAME = new Map<string, CommandSpec>(COMMANDS.map((c) => [c.name, c]));

/** The command words, for routing and for the recognizer to leave alone. */
export const COMMAND_NAMES: readonly CommandName[] = COMMANDS.map((c) => c.name);

/**
 * Words that only ever start a technician command. Everyone's line starting with one is a
 * command (refused to non-technicians); other command words (`mfa`, `report`, `groups`, …)
 * are also ordinary English, so an employee's "mfa is broken" still reaches the recognizer.
 */
export const UNAMBIGUOUS_COMMAND_WORDS: readonly string[] = ['whois', 'offboard', 'onboard', 'reset-password', 'mfa-reset'];

export function commandSpec(name: string): CommandSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** Most characters a command line may have. */
export const MAX_LINE = 1000;
const MAX_TOKENS = 100;
const MAX_TEXT: Record<string, number> = { reason: 500, note: 1000, department: 64, title: 128, manager: 200, group: 200, reviewer: 200 };
/** `review --due` and `--inactive`, in days. */
export const REVIEW_DUE_DAYS = { min: 1, max: 180 } as const;
export const REVIEW_INACTIVE_DAYS = { min: 1, max: 3650 } as const;
const MAX_QUERY = 200;
export const TAP_MINUTES = { min: 10, max: 43_200 } as const;
export const REPORT_DAYS = { min: 1, max: 365, default: 30 } as const;
/** The longest grant `--for` accepts at all (the catalog's own maximum is checked later). */
const MAX_GRANT_HOURS = 365 * 24;
const MAX_SINCE_DAYS = 3650;
export const TAIL = { default: 10, max: 25 } as const;

export interface ParsedFlags {
  reason?: string;
  note?: string;
  department?: string;
  title?: string;
  /** `move --manager`: a user as typed. */
  manager?: string;
  /** Hours, or null for permanent. Absent: the resource's default. */
  for?: number | null;
  minutes?: number;
  days?: number;
  /** ISO timestamp. */
  since?: string;
  format?: 'card' | 'csv';
  /** `drift --group`: a group or catalog resource as typed. */
  group?: string;
  /** `drift --dry-run`. */
  dryRun?: boolean;
  /** `review start --reviewer`: manager, owner, or a group as typed. */
  reviewer?: string;
  /** `review start --due`, in days. */
  due?: number;
  autoApply?: 'deny' | 'keep' | 'none';
  /** `review start --inactive`, in days. */
  inactive?: number;
  /** `review report --csv`. */
  csv?: boolean;
}

/** A `review` subcommand: what to start a campaign on, or the campaign to act on. */
export type ReviewCommand =
  | { sub: 'start'; target: string; quoted: boolean }
  | { sub: 'list' }
  | { sub: 'status' | 'report' | 'close' | 'cancel'; campaign: string };

export type AuditQuery = { sub: 'verify' } | { sub: 'tail'; n: number } | { sub: 'export' } | { sub: 'search'; target: string };

export interface ParsedCommand {
  name: CommandName;
  /** A user as typed: UPN, mail, object id or name. */
  user?: string;
  group?: string;
  /** `grant`/`revoke`: the user and the resource, split once the catalog is known. */
  words?: string[];
  /** The first of `words` was quoted: it is the whole user. */
  userQuoted?: boolean;
  ticket?: string;
  technician?: string;
  audit?: AuditQuery;
  review?: ReviewCommand;
  /** `help <command>`. */
  topic?: CommandName | null;
  flags: ParsedFlags;
}

export type ParseResult = { ok: true; command: ParsedCommand } | { ok: false; message: string; command: CommandName | null };

interface Token {
  text: string;
  quoted: boolean;
}

const QUOTES: Record<string, string> = { '"': '"', "'": "'", '“': '”', '„': '“', '‘': '’', '«': '»' };
/** C0 and C1 controls (but tab), DEL, the replacement character, lone surrogates, BOM. */
const BINARY = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\ufffd\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Splits a line into words, honouring quotes. */
export function tokenize(line: string): { ok: true; tokens: Token[] } | { ok: false; message: string } {
  const tokens: Token[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\u00a0' || c === '\u202f' || c === '\u2007';
  while (i < n) {
    while (i < n && isSpace(line[i]!)) i++;
    if (i >= n) break;
    let text = '';
    let quoted = false;
    while (i < n && !isSpace(line[i]!)) {
      const c = line[i]!;
      const close = QUOTES[c];
      // A quote opens a group only at the start of a word or right after another group.
      if (close && (text === '' || quoted)) {
        quoted = true;
        i++;
        let closed = false;
        while (i < n) {
          const d = line[i]!;
          if (d === '\\' && c === '"' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
            text += line[i + 1];
            i += 2;
            continue;
          }
          if (d === close || (c === '"' && d === '”') || (c === '“' && d === '"')) {
            closed = true;
            i++;
            break;
          }
          text += d;
          i++;
        }
        if (!closed) return { ok: false, message: `A quote (${c}) is not closed. Put the closing ${close} after the words it groups.` };
        continue;
      }
      text += c;
      i++;
    }
    tokens.push({ text, quoted });
    if (tokens.length > MAX_TOKENS) return { ok: false, message: `That is more than ${MAX_TOKENS} words: no command takes that many.` };
  }
  return { ok: true, tokens };
}

const FLAG = /^(?:--|[\u2014\u2013])([a-z][a-z-]*)(?:=([\s\S]*))?$/i;

/** The first word of a line, lowercased, when it is a command word; else null. */
export function commandWordOf(line: string): CommandName | null {
  const first = /^\s*([^\s]+)/.exec(line)?.[1]?.toLowerCase();
  return first && BY_NAME.has(first) ? (first as CommandName) : null;
}

/** The command word within one typo of `word` (for "did you mean"), or null. */
export function suggestCommand(word: string): CommandName | null {
  const w = word.toLowerCase();
  if (w.length < 4) return null;
  let best: CommandName | null = null;
  for (const c of COMMAND_NAMES) {
    if (c.length >= 4 && editDistance(w, c) <= 1) best = c;
  }
  return best;
}

/**
 * Parses one command line. `now` anchors `--since 7d`. Never throws: every problem is a
 * message that says what is wrong and shows the usage.
 */
export function parseCommand(raw: string, now: Date): ParseResult {
  if (typeof raw !== 'string') return fail(null, 'Type a command, for example `help`.');
  const line = raw.replace(/\r\n?/g, '\n').trim();
  if (line.length === 0) return fail(null, 'Type a command, for example `whois emily.chen@northwind.example`, or `help` for the list.');
  if (line.length > MAX_LINE) return fail(null, `That command is ${line.length} characters long; a command has at most ${MAX_LINE}. Nothing was changed.`);
  if (line.includes('\n')) return fail(null, 'A command is one line. Send each command as its own message. Nothing was changed.');
  if (BINARY.test(line)) return fail(null, 'That text contains control or binary characters that cannot be part of a command. Nothing was changed.');
  const lexed = tokenize(line);
  if (!lexed.ok) return fail(null, lexed.message);
  const [head, ...rest] = lexed.tokens;
  if (!head) return fail(null, 'Type a command, or `help` for the list.');
  const spec = head.quoted ? undefined : commandSpec(head.text);
  if (!spec) {
    const hint = suggestCommand(head.text);
    return fail(null, `There is no command "${clip(head.text, 40)}".${hint ? ` Did you mean \`${hint}\`?` : ''} Type \`help\` for the list of commands.`);
  }

  // Flags and positional words.
  const positional: Token[] = [];
  const flags: ParsedFlags = {};
  const seen = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i]!;
    const m = t.quoted ? null : FLAG.exec(t.text);
    if (!m) {
      if (!t.quoted && /^(?:--|[\u2014\u2013])$/.test(t.text)) return usage(spec, 'A flag needs a name after the dashes, such as `--reason`.');
      positional.push(t);
      continue;
    }
    const name = m[1]!.toLowerCase();
    const flag = spec.flags[name as FlagName];
    if (!flag) {
      const known = Object.keys(spec.flags);
      return usage(spec, `\`${spec.name}\` has no flag --${clip(name, 30)}.${known.length ? ` It takes ${known.map((k) => `--${k}`).join(', ')}.` : ' It takes no flags.'}`);
    }
    if (seen.has(name)) return usage(spec, `--${name} is given twice. Give it once.`);
    seen.add(name);
    if (flag.kind === 'boolean') {
      if (m[2] !== undefined) return usage(spec, `--${name} takes no value.`);
      if (name === 'dry-run') flags.dryRun = true;
      if (name === 'csv') flags.csv = true;
      continue;
    }
    let value: string;
    if (m[2] !== undefined) {
      value = m[2];
      if (flag.kind === 'text') {
        // `--reason=left the` + following words until the next flag.
        const words = [value];
        while (i + 1 < rest.length && !isFlagToken(rest[i + 1]!)) words.push(rest[++i]!.text);
        value = words.join(' ');
      }
    } else if (flag.kind === 'text') {
      const words: string[] = [];
      while (i + 1 < rest.length && !isFlagToken(rest[i + 1]!)) words.push(rest[++i]!.text);
      value = words.join(' ');
    } else {
      const next = rest[i + 1];
      if (!next || isFlagToken(next)) return usage(spec, `--${name} needs a value: \`--${name} ${flag.placeholder}\`.`);
      value = next.text;
      i++;
    }
    const problem = setFlag(flags, name as FlagName, flag, value.trim(), now);
    if (problem) return usage(spec, problem);
  }
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (flag.required && flags[name as keyof ParsedFlags] === undefined) {
      return usage(spec, `\`${spec.name}\` needs --${name} ${flag.placeholder}${name === 'reason' ? ': it goes into the audit trail' : ''}.`);
    }
  }

  const command: ParsedCommand = { name: spec.name, flags };
  const words = positional.map((t) => t.text);
  const problem = bindPositional(spec, command, positional, words);
  if (problem) return usage(spec, problem);
  return { ok: true, command };
}

function isFlagToken(t: Token): boolean {
  return !t.quoted && (FLAG.test(t.text) || /^(?:--|[\u2014\u2013])$/.test(t.text));
}

function setFlag(flags: ParsedFlags, name: FlagName, spec: FlagSpec, value: string, now: Date): string | null {
  if (!value) return `--${name} needs a value: \`--${name} ${spec.placeholder}\`.`;
  switch (spec.kind) {
    case 'text': {
      const max = MAX_TEXT[name] ?? 200;
      if (value.length > max) return `--${name} is ${value.length} characters long; at most ${max}.`;
      (flags as Record<string, unknown>)[name] = value;
      return null;
    }
    case 'duration': {
      const hours = parseGrantDuration(value);
      if (hours === undefined) return `--for ${clip(value, 20)} is not a duration: use hours, days or weeks such as 12h, 7d, 2w (at most 365d), or permanent.`;
      flags.for = hours;
      return null;
    }
    case 'minutes': {
      if (!/^\d{1,6}$/.test(value)) return `--minutes takes a whole number of minutes, from ${TAP_MINUTES.min} to ${TAP_MINUTES.max}.`;
      const n = Number(value);
      if (n < TAP_MINUTES.min || n > TAP_MINUTES.max) return `--minutes ${n} is out of range: a Temporary Access Pass lasts from ${TAP_MINUTES.min} to ${TAP_MINUTES.max} minutes.`;
      flags.minutes = n;
      return null;
    }
    case 'days': {
      if (!/^\d{1,4}$/.test(value)) return `--days takes a whole number of days, from ${REPORT_DAYS.min} to ${REPORT_DAYS.max}.`;
      const n = Number(value);
      if (n < REPORT_DAYS.min || n > REPORT_DAYS.max) return `--days ${n} is out of range: from ${REPORT_DAYS.min} to ${REPORT_DAYS.max}.`;
      flags.days = n;
      return null;
    }
    case 'since': {
      let at: string;
      try {
        at = parseTimeBound(value, now);
      } catch (e) {
        return `--since: ${(e as Error).message}.`;
      }
      const t = Date.parse(at);
      if (t > now.getTime()) return `--since ${clip(value, 30)} is in the future.`;
      if (t < now.getTime() - MAX_SINCE_DAYS * 86_400_000) return `--since ${clip(value, 30)} is more than ${MAX_SINCE_DAYS / 365} years ago.`;
      flags.since = at;
      return null;
    }
    case 'due-days': {
      const m = /^(\d{1,3})\s*(d|days?|w|weeks?)?$/i.exec(value);
      const days = m ? Number(m[1]) * (m[2]?.toLowerCase().startsWith('w') ? 7 : 1) : Number.NaN;
      if (!Number.isInteger(days) || days < REVIEW_DUE_DAYS.min || days > REVIEW_DUE_DAYS.max) {
        return `--due ${clip(value, 20)} is not a due date: use days or weeks from now, such as 14d, 2w or 14 (from ${REVIEW_DUE_DAYS.min} to ${REVIEW_DUE_DAYS.max} days).`;
      }
      flags.due = days;
      return null;
    }
    case 'inactive-days': {
      const m = /^(\d{1,4})\s*(d|days?)?$/i.exec(value);
      const days = m ? Number(m[1]) : Number.NaN;
      if (!Number.isInteger(days) || days < REVIEW_INACTIVE_DAYS.min || days > REVIEW_INACTIVE_DAYS.max) {
        return `--inactive takes a number of days without a sign-in, from ${REVIEW_INACTIVE_DAYS.min} to ${REVIEW_INACTIVE_DAYS.max} (such as 90 or 90d).`;
      }
      flags.inactive = days;
      return null;
    }
    case 'auto-apply': {
      const v = value.toLowerCase();
      if (v !== 'deny' && v !== 'keep' && v !== 'none') return '--auto-apply takes deny (remove what nobody decided), keep, or none.';
      flags.autoApply = v;
      return null;
    }
    case 'boolean':
      return `--${name} takes no value.`;
    case 'format': {
      const v = value.toLowerCase();
      if (v !== 'card' && v !== 'csv') return '--format takes card or csv.';
      flags.format = v;
      return null;
    }
  }
}

/** `12h`, `7d`, `2w`, `3 days` or `permanent`: hours, null for permanent; undefined when not a duration. */
export function parseGrantDuration(value: string): number | null | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'permanent' || v === 'permanently') return null;
  const m = /^(\d{1,5})\s*(h|hours?|d|days?|w|weeks?)$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const hours = m[2]!.startsWith('h') ? n : m[2]!.startsWith('d') ? n * 24 : n * 24 * 7;
  if (n < 1 || hours > MAX_GRANT_HOURS) return undefined;
  return hours;
}

/** A word that names one user by itself: a sign-in name, mail or object id. */
function isUserIdentifier(word: string): boolean {
  return isGuid(word) || /^[^\s@]+@[^\s@]+$/.test(word);
}

/** Refuses two users where one is expected. */
function oneUser(words: string[], what = 'user'): string | null {
  const ids = words.filter(isUserIdentifier);
  if (ids.length < 2) return null;
  const [a, b] = ids as [string, string];
  return a.toLowerCase() === b.toLowerCase()
    ? `The ${what} ${clip(a, 60)} is given twice. Name them once.`
    : `That names more than one ${what} (${clip(a, 60)} and ${clip(b, 60)}); this command takes one.`;
}

function bindPositional(spec: CommandSpec, cmd: ParsedCommand, tokens: Token[], words: string[]): string | null {
  const joined = words.join(' ').trim();
  switch (spec.shape) {
    case 'none':
      return words.length ? `\`${spec.name}\` takes no words besides its flags (got "${clip(joined, 40)}").` : null;
    case 'topic': {
      if (words.length === 0) {
        cmd.topic = null;
        return null;
      }
      if (words.length > 1) return 'Name one command, e.g. `help offboard`.';
      const topic = commandSpec(words[0]!);
      if (!topic) {
        const hint = suggestCommand(words[0]!);
        return `There is no command "${clip(words[0]!, 40)}".${hint ? ` Did you mean \`${hint}\`?` : ''}`;
      }
      cmd.topic = topic.name;
      return null;
    }
    case 'user':
    case 'group': {
      const what = spec.shape;
      if (!joined) return `Say which ${what}: \`${spec.usage}\`.`;
      if (joined.length > MAX_QUERY) return `That ${what} name is ${joined.length} characters long; at most ${MAX_QUERY}.`;
      if (what === 'user') {
        const twice = oneUser(words);
        if (twice) return twice;
        cmd.user = joined;
      } else cmd.group = joined;
      return null;
    }
    case 'user-resource': {
      if (words.length < 2) return `Say which user and which resource: \`${spec.usage}\`.`;
      if (joined.length > MAX_QUERY) return `That is ${joined.length} characters of user and resource; at most ${MAX_QUERY}.`;
      const twice = oneUser(words);
      if (twice) return twice;
      cmd.words = words;
      // A quoted first word is the whole user; the rest is the resource.
      cmd.userQuoted = tokens[0]!.quoted;
      return null;
    }
    case 'ticket':
    case 'ticket-technician': {
      const [first, ...others] = words;
      if (!first) return `Say which ticket: \`${spec.usage}\`.`;
      if (!/^TKT-\d{1,9}$/i.test(first)) return `"${clip(first, 30)}" is not a ticket id; tickets look like TKT-1001 (type \`pending\` for the queue).`;
      cmd.ticket = first.toUpperCase();
      if (spec.shape === 'ticket') {
        if (others.length) return `\`${spec.name}\` takes one ticket${spec.name === 'close' ? ' and --note' : ''} (got also "${clip(others.join(' '), 40)}").`;
        return null;
      }
      const tech = others.join(' ').trim();
      if (!tech) return `Say which technician to assign ${cmd.ticket} to: \`${spec.usage}\`.`;
      if (tech.length > MAX_QUERY) return `That technician name is ${tech.length} characters long; at most ${MAX_QUERY}.`;
      const twice = oneUser(others, 'technician');
      if (twice) return twice;
      cmd.technician = tech;
      return null;
    }
    case 'review': {
      const sub = tokens[0]?.quoted ? undefined : words[0]?.toLowerCase();
      const rest = words.slice(1);
      const f = cmd.flags;
      const only = (allowed: Array<keyof ParsedFlags>, what: string): string | null => {
        const extra = (Object.keys(f) as Array<keyof ParsedFlags>).filter((k) => f[k] !== undefined && !allowed.includes(k));
        if (!extra.length) return null;
        const shownFlag = (k: string) => `--${k === 'autoApply' ? 'auto-apply' : k}`;
        return `\`${what}\` takes ${allowed.length ? `only ${allowed.map(shownFlag).join(', ')}` : 'no flags'} (got ${extra.map(shownFlag).join(', ')}).`;
      };
      switch (sub) {
        case 'start': {
          const target = rest.join(' ').trim();
          if (!target) return 'Say what to review: a catalog resource or group (`review start "Payroll Reports"`), or `review start department Finance`.';
          if (target.length > MAX_QUERY) return `That is ${target.length} characters; at most ${MAX_QUERY}.`;
          const extra = only(['reviewer', 'due', 'autoApply', 'inactive', 'reason'], 'review start');
          if (extra) return extra;
          cmd.review = { sub: 'start', target, quoted: tokens[1]?.quoted ?? false };
          return null;
        }
        case 'list': {
          if (rest.length) return '`review list` takes nothing more.';
          const extra = only([], 'review list');
          if (extra) return extra;
          cmd.review = { sub: 'list' };
          return null;
        }
        case 'status':
        case 'report':
        case 'close':
        case 'cancel': {
          const [id, ...more] = rest;
          if (!id) return `Say which campaign: \`review ${sub} REV-1001\` (\`review list\` shows them).`;
          if (!/^REV-\d{1,9}$/i.test(id)) return `"${clip(id, 30)}" is not a campaign id; campaigns look like REV-1001 (\`review list\` shows them).`;
          if (more.length) return `\`review ${sub}\` takes one campaign (got also "${clip(more.join(' '), 40)}").`;
          const extra = only(sub === 'report' ? ['csv'] : sub === 'cancel' || sub === 'close' ? ['reason'] : [], `review ${sub}`);
          if (extra) return extra;
          if (sub === 'cancel' && !f.reason) return '`review cancel` needs --reason ‹why›: it goes into the audit trail.';
          cmd.review = { sub, campaign: id.toUpperCase() };
          return null;
        }
        default:
          return sub
            ? `\`review\` has no "${clip(sub, 20)}". It takes start, list, status, report, close or cancel.`
            : 'Say what to do: `review start ‹group|resource|department›`, `review list`, `review status REV-1001`, `review report REV-1001`, `review close REV-1001` or `review cancel REV-1001 --reason ‹why›`.';
      }
    }
    case 'audit': {
      const first = words[0]?.toLowerCase();
      const sub = tokens[0]?.quoted ? undefined : first;
      if (!joined) return 'Say what to look up: a user, a request (REQ-1001), a ticket (TKT-1001), or `verify`, `tail`, `export`.';
      if (sub === 'verify') {
        if (words.length > 1 || cmd.flags.since) return '`audit verify` takes no arguments: it checks the whole chain.';
        cmd.audit = { sub: 'verify' };
        return null;
      }
      if (sub === 'tail') {
        if (cmd.flags.since) return '`audit tail` takes no --since: it shows the latest events.';
        if (words.length > 2) return `\`audit tail [N]\` takes one number, from 1 to ${TAIL.max}.`;
        const n = words[1] === undefined ? TAIL.default : /^\d{1,3}$/.test(words[1]) ? Number(words[1]) : NaN;
        if (!Number.isInteger(n) || n < 1 || n > TAIL.max) return `\`audit tail [N]\` with N from 1 to ${TAIL.max}, e.g. \`audit tail 5\`.`;
        cmd.audit = { sub: 'tail', n };
        return null;
      }
      if (sub === 'export') {
        if (words.length > 1) return '`audit export` takes only --since.';
        cmd.audit = { sub: 'export' };
        return null;
      }
      if (joined.length > MAX_QUERY) return `That is ${joined.length} characters; at most ${MAX_QUERY}.`;
      const twice = oneUser(words);
      if (twice) return twice;
      cmd.audit = { sub: 'search', target: joined };
      return null;
    }
  }
}

function usage(spec: CommandSpec, problem: string): ParseResult {
  return { ok: false, command: spec.name, message: `${problem}\n\n${usageText(spec)}\n\nNothing was changed.` };
}

function fail(command: CommandName | null, message: string): ParseResult {
  return { ok: false, command, message };
}

/** "Usage: `…`" and one example. */
export function usageText(spec: CommandSpec): string {
  return `Usage: \`${spec.usage}\`\nExample: \`${spec.examples[0]}\` (type \`help ${spec.name}\` for more)`;
}

/** `help <command>`: summary, usage, examples and notes, as Markdown. */
export function helpText(spec: CommandSpec): string {
  const lines = [
    `**${spec.name}**: ${spec.summary}`,
    '',
    `Usage: \`${spec.usage}\``,
    '',
    'Examples:',
    ...spec.examples.map((e) => `- \`${e}\``),
  ];
  if (spec.notes?.length) lines.push('', ...spec.notes);
  lines.push(
    '',
    'A user is a sign-in name, mail, object id or name; quote names with spaces when more words follow ("Emily Chen"). Several matches give a pick-one card.',
  );
  if (spec.effect === 'destructive') lines.push('', 'Shows a plan card first; nothing changes until you confirm. A member of a privileged group also needs a second technician to approve.');
  return lines.join('\n');
}

function clip(s: string, max: number): string {
  const flat = s.replace(/[`*_\[\]<>]/g, '');
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 1) return 2;
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) dp[i]![j] = Math.min(dp[i]![j]!, dp[i - 2]![j - 2]! + 1);
    }
  }
  return dp[a.length]![b.length]!;
}
