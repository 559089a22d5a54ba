import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import { resolveResource, type Catalog, type CatalogResource } from '../../directory/catalog';
import { isGuid, type Directory, type DirectoryGroup, type DirectoryUser } from '../../directory/directory';
import type { Store } from '../../store/store';
import type { Caller, Reply } from '../technician/commands';
import type { ParsedCommand, ReviewCommand } from '../technician/grammar';
import { resolveGroup, resolveUser, type Resolved } from '../technician/resolve';
import type { ReviewerChoice, ReviewScopeInput, ReviewService } from './service';

/** Largest message of CSV rows sent in chat; longer evidence comes in several messages. */
const CSV_MESSAGE_CHARS = 20_000;

/**
 * The technicians' `review` command: start a campaign (`review start <what> [--reviewer ...]
 * [--due ...] [--auto-apply ...] [--inactive ...]`), list, status, the evidence report (card
 * or CSV), close now, cancel. The grammar has checked the words and flags; what they name is
 * resolved here in the directory and the catalog, and the service does the rest.
 */
export class ReviewCommands {
  constructor(private readonly d: { service: ReviewService; directory: Directory; catalog: Catalog; store: Store }) {}

  async handle(cmd: ParsedCommand, caller: Caller): Promise<Reply[]> {
    const q = cmd.review as ReviewCommand;
    const by = { id: caller.user.id, name: caller.user.displayName };
    switch (q.sub) {
      case 'start':
        return this.start(q.target, q.quoted, cmd, caller);
      case 'list':
        return [card(this.d.service.listCard())];
      default:
        break;
    }
    const c = this.d.service.get(q.campaign);
    if (!c) return [text(`There is no access review ${q.campaign}. Type \`review list\` for the campaigns.`)];
    switch (q.sub) {
      case 'status':
        return [card(this.d.service.statusCard(c))];
      case 'report': {
        this.d.store.audit.append({
          actor: by,
          action: 'review.report',
          target: c.id,
          outcome: 'success',
          correlationId: c.id,
          details: { format: cmd.flags.csv ? 'csv' : 'card', where: caller.where, turn: caller.correlationId },
        });
        if (!cmd.flags.csv) return [card(this.d.service.reportCard(c))];
        return csvMessages(this.d.service.reportCsv(c)).map(text);
      }
      case 'close': {
        const r = this.d.service.close(c.id, by, 'technician', caller.correlationId);
        return r.campaign ? [card(this.d.service.statusCard(r.campaign)), text(r.message)] : [text(r.message)];
      }
      case 'cancel': {
        const r = this.d.service.cancel(c.id, by, cmd.flags.reason!, caller.correlationId);
        return r.campaign ? [card(this.d.service.statusCard(r.campaign)), text(r.message)] : [text(r.message)];
      }
    }
  }

  private async start(target: string, quoted: boolean, cmd: ParsedCommand, caller: Caller): Promise<Reply[]> {
    const scope = await this.scopeOf(target, quoted);
    if (typeof scope === 'string') return [text(`${scope}\n\nNothing was started.`)];
    const reviewer = cmd.flags.reviewer ? await this.reviewerOf(cmd.flags.reviewer) : undefined;
    if (typeof reviewer === 'string') return [text(`${reviewer}\n\nNothing was started.`)];
    const result = await this.d.service.begin(
      {
        scope,
        reviewer,
        dueInDays: cmd.flags.due,
        autoApply: cmd.flags.autoApply,
        inactiveDays: cmd.flags.inactive,
        startedBy: { id: caller.user.id, name: caller.user.displayName },
        reason: cmd.flags.reason,
        correlationId: caller.correlationId,
      },
      // Typed in the technicians' channel, the answer is the progress card there; from a 1:1 chat the channel gets one too.
      { announce: caller.where !== 'channel' },
    );
    if (!result.ok) return [text(result.message)];
    const c = this.d.service.get(result.campaignId)!;
    return [
      {
        kind: 'card',
        card: this.d.service.statusCard(c),
        remember: (activityId, reference) => this.d.service.rememberProgressCard(c.id, activityId, reference),
      },
    ];
  }

  /**
   * What to review: `department <name>`, `group <name|id>`, `resource <name|id>`, or without a
   * kind word a catalog resource first, then a group. Several groups: the names to choose from.
   */
  private async scopeOf(target: string, quoted: boolean): Promise<ReviewScopeInput | string> {
    const m = quoted ? null : /^(department|dept|group|resource)\s+(.+)$/i.exec(target);
    const kind = m?.[1]!.toLowerCase();
    const rest = m ? m[2]!.trim().replace(/^["“'](.*)["”']$/, '$1') : target;
    if (kind === 'department' || kind === 'dept') {
      if (rest.length > 100) return 'A department name has at most 100 characters.';
      return { kind: 'department', department: rest };
    }
    if (kind !== 'group') {
      const resource: CatalogResource | null = resolveResource(this.d.catalog, rest) ?? null;
      if (resource) return { kind: 'resource', resourceId: resource.id };
      if (kind === 'resource') return `The catalog has no resource "${clip(rest)}". Resources: ${this.d.catalog.resources.map((r) => r.id).join(', ')}.`;
    }
    const g = await resolveGroup(this.d.directory, rest);
    if (g.kind === 'one') return { kind: 'group', groupId: g.value.id };
    if (g.kind === 'many') return several('groups', rest, g);
    return kind === 'group'
      ? g.message
      : `No catalog resource or group matches "${clip(rest)}". Type a group's name or id, a resource's name, or \`review start department ‹name›\`.`;
  }

  /** `--reviewer`: manager, owner, a group (name or id) whose members review, or one person (sign-in name). */
  private async reviewerOf(value: string): Promise<ReviewerChoice | string> {
    const v = value.trim().replace(/^["“'](.*)["”']$/, '$1');
    const low = v.toLowerCase();
    if (low === 'manager' || low === 'managers') return { kind: 'manager' };
    if (low === 'owner' || low === 'owners') return { kind: 'owner' };
    if (v.includes('@')) {
      const u = await resolveUser(this.d.directory, v);
      if (u.kind === 'one') return { kind: 'user', userId: u.value.id };
      return u.kind === 'many' ? several('people', v, u) : `--reviewer: ${u.message}`;
    }
    if (isGuid(v)) {
      const group = await this.d.directory.getGroup(v);
      if (group) return { kind: 'group', groupId: group.id };
      const user = await this.d.directory.getUser(v);
      return user ? { kind: 'user', userId: user.id } : `--reviewer: no group or user has the id ${v}.`;
    }
    const g = await resolveGroup(this.d.directory, v);
    if (g.kind === 'one') return { kind: 'group', groupId: g.value.id };
    if (g.kind === 'many') return several('groups', v, g);
    return `--reviewer takes manager, owner, or a group whose members review (its name or id), or a person's sign-in name; nothing matches "${clip(v)}".`;
  }
}

function several(what: string, query: string, r: Extract<Resolved<DirectoryGroup | DirectoryUser>, { kind: 'many' }>): string {
  const names = r.values.map((x) => ('userPrincipalName' in x ? `${x.displayName} (${x.userPrincipalName})` : x.displayName));
  return `"${clip(query)}" matches several ${what}: ${names.join(', ')}${r.more ? ' and more' : ''}. Type the full name (in quotes) or the id.`;
}

/** CSV in chat: code blocks of whole lines, the comment and column lines in the first. */
function csvMessages(csv: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const line of csv.split('\n')) {
    if (size + line.length > CSV_MESSAGE_CHARS && current.length) {
      out.push(current.join('\n'));
      current = [];
      size = 0;
    }
    current.push(line);
    size += line.length + 1;
  }
  if (current.length) out.push(current.join('\n'));
  return out.map((block) => '```\n' + block.replace(/```/g, "'''") + '\n```');
}

function clip(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function text(t: string): Reply {
  return { kind: 'text', text: t };
}

function card(c: AdaptiveCardJson): Reply {
  return { kind: 'card', card: c };
}
