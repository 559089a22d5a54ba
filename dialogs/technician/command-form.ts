import { isGuid, type Directory } from '../../directory/directory';
import { commandSpec, parseCommand, tokenize, UNAMBIGUOUS_COMMAND_WORDS } from './grammar';

/**
 * Whether a line typed by someone who is not an identity technician, in a 1:1 or group chat,
 * is written as a technician command, so that it gets the technicians-only refusal (audited)
 * instead of reaching the recognizer. Many command words are also plain English ("unlock my
 * account", "mfa is broken", "grant me the CRM", "take back my request", "review my request",
 * "report a phishing email"), so a line counts as a command only when it has a command's form:
 *
 * - its first word only ever starts a command (`whois`, `offboard`, `onboard`,
 *   `reset-password`, `mfa-reset`, `drift`);
 * - or it carries a flag (`--reason`, `--days 7`, `—dry-run`): nobody writes those in English;
 * - or the command takes nothing and nothing follows (`pending`, `report`);
 * - or `review` is followed by one of its subcommands (`review start …`, `review list`,
 *   `review status|report|close|cancel` alone or with a campaign id);
 * - or `audit` is followed by `verify`, `tail` or `export`, or by exactly one identifier, or nothing;
 * - or the first argument is an identifier of the kind the command takes: a sign-in name or
 *   mail, an object id, a quoted name (`unlock "Emily Chen"`), a ticket id for `take`,
 *   `assign` and `close`;
 * - or the words after a command about a user or a group are exactly the name of a user
 *   (`mfa Emily Chen`, `unlock Thomas Berg`; for `grant` and `revoke` the first words) or of a
 *   group (`members Global Admins`) in the directory.
 *
 * `help` is everyone's word (the welcome card) and never refused. A directory that cannot be
 * asked (an outage, throttling) leaves the line to the recognizer, which never runs a
 * technician action.
 */
export async function writtenAsCommand(text: string, directory: Directory, now: Date): Promise<boolean> {
  const line = text.trim();
  const word = (/^\S+/.exec(line)?.[0] ?? '').toLowerCase();
  const spec = commandSpec(word);
  if (!spec || spec.name === 'help') return false;
  if (ONLY_COMMANDS.has(spec.name)) return true;
  const rest = line.slice(word.length).trim();
  if (FLAG_IN_LINE.test(rest)) return true;
  const lexed = tokenize(rest);
  const args = lexed.ok ? lexed.tokens : rest.split(/\s+/).filter(Boolean).map((t) => ({ text: t, quoted: false }));
  if (!args.length) return spec.shape === 'none' || spec.name === 'audit';
  const first = args[0]!;
  switch (spec.shape) {
    case 'none':
      return false;
    case 'review': {
      const sub = first.quoted ? '' : first.text.toLowerCase();
      if (sub === 'start' || sub === 'list') return true;
      if (REVIEW_BY_ID.has(sub)) return args.length === 1 || (args.length === 2 && CAMPAIGN_ID.test(args[1]!.text));
      return args.length === 1 && CAMPAIGN_ID.test(first.text);
    }
    case 'audit': {
      const sub = first.quoted ? '' : first.text.toLowerCase();
      if (AUDIT_SUBCOMMANDS.has(sub)) return true;
      // `audit` of something only an identifier names; "audit my access" is English.
      return args.length === 1 && (first.quoted || isIdentifier(first.text)) && parseCommand(line, now).ok;
    }
    case 'ticket':
    case 'ticket-technician':
      return TICKET_ID.test(first.text);
    case 'group':
      return first.quoted || isGuid(first.text) || (await namesGroup(directory, args.map((t) => t.text).join(' ')));
    case 'user':
      return first.quoted || isUserIdentifier(first.text) || (await namesUser(directory, args.map((t) => t.text).join(' ')));
    case 'user-resource': {
      if (first.quoted || isUserIdentifier(first.text)) return true;
      // `grant Emily Chen crm`: the first one to three words are a person's name.
      for (let n = Math.min(3, args.length - 1); n >= 1; n--) {
        if (await namesUser(directory, args.slice(0, n).map((t) => t.text).join(' '))) return true;
      }
      return false;
    }
    default:
      return false;
  }
}

/** Command words that are never English a helpdesk hears: the line is a command whatever follows. */
const ONLY_COMMANDS = new Set<string>([...UNAMBIGUOUS_COMMAND_WORDS, 'drift']);
/** A flag word anywhere after the command word: `--reason`, `--dry-run`, Teams' `—reason`. */
const FLAG_IN_LINE = /(?:^|\s)(?:--|[\u2014\u2013])[a-z][a-z-]*(?:=|\s|$)/i;
const AUDIT_SUBCOMMANDS = new Set(['verify', 'tail', 'export']);
const REVIEW_BY_ID = new Set(['status', 'report', 'close', 'cancel']);
const CAMPAIGN_ID = /^REV-\d{1,9}$/i;
const TICKET_ID = /^TKT-\d{1,9}$/i;
/** What names one thing exactly: a request, ticket, plan, review or drift id, a sign-in name or mail, an object id. */
const ID = /^(?:(?:REQ|TKT|PLN|REV|DRF)-\d{1,9}|[^\s@]+@[^\s@]+)$/i;
/** Names longer than this are not looked up: nobody's name has more words. */
const MAX_NAME_WORDS = 6;
const MAX_NAME_LENGTH = 120;

function isIdentifier(word: string): boolean {
  return ID.test(word) || isGuid(word);
}

function isUserIdentifier(word: string): boolean {
  return /^[^\s@]+@[^\s@]+$/.test(word) || isGuid(word);
}

const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, ' ');

/** Whether `words` are exactly the display name of a user in the directory. */
async function namesUser(directory: Directory, words: string): Promise<boolean> {
  if (!plausibleName(words)) return false;
  try {
    return (await directory.searchUsers(words, 6)).some((u) => norm(u.displayName) === norm(words));
  } catch {
    return false;
  }
}

/** Whether `words` are exactly the display name of a group in the directory. */
async function namesGroup(directory: Directory, words: string): Promise<boolean> {
  if (!plausibleName(words)) return false;
  try {
    return (await directory.searchGroups(words, 6)).some((g) => norm(g.displayName) === norm(words));
  } catch {
    return false;
  }
}

function plausibleName(words: string): boolean {
  const n = norm(words);
  return n.length >= 3 && n.length <= MAX_NAME_LENGTH && n.split(' ').length <= MAX_NAME_WORDS;
}
