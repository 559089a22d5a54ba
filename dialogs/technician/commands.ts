import { randomUUID } from 'node:crypto';
import type { ConversationReference } from 'botbuilder';
import { renderTechCard, type Fact, type TechAction } from '../../adaptive-cards/technician';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import type { AppConfig } from '../../bot/config';
import type { Logger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import type { Scheduler } from '../../bot/scheduler';
import { birthrightFor, type BirthrightRules } from '../../directory/birthright';
import type { Catalog, CatalogResource } from '../../directory/catalog';
import { BASELINE_CAPABILITIES, isGuid, MAX_DEPARTMENT_LENGTH, MAX_JOB_TITLE_LENGTH, type Directory, type DirectoryGroup, type DirectoryUser } from '../../directory/directory';
import { CSV_COLUMNS, csvField, verificationHeader } from '../../store/audit-export';
import type { AuditEvent } from '../../store/audit-trail';
import { buildReport, reportCsv } from '../../store/report';
import type { Store } from '../../store/store';
import type { AccessService } from '../access-service';
import { formatDuration, formatTime } from '../access-duration';
import { checkRequest, nextEnabledManager } from '../access-policy';
import { auditTailCard, auditVerifyCard } from '../audit-commands';
import { COMMANDS, commandSpec, helpText, parseCommand, REPORT_DAYS, type ParsedCommand } from './grammar';
import { describeStep, methodName, planCard, PlanRunner, signatureOf, TECH_JOBS, technicianRefusal, type PlanArgs, type Step, type TechPlan } from './plans';
import { reportCard } from './report-card';
import { MAX_CANDIDATES, resolveGroup, resolveUser, splitUserAndResource, type Resolved } from './resolve';
import { isTicketId, type TicketService } from './tickets';
import { RecoveryActions } from '../signin/recovery-actions';
import { describePrivileged, recentlyEnabled, type PrivilegedResolver } from '../privileged';
import { isDriftVerb, type DriftService } from '../drift/service';
import type { ReviewCommands } from '../reviews/commands';
import type { Assurance, FreshMfa } from '../signin/fresh-mfa';

/**
 * The technicians' commands: who may run them (a member of the technicians group, now, in an
 * allowed channel or their 1:1 chat), what each does, and the clicks on their cards (pick
 * one, confirm, approve as the second technician, cancel, run again, take/assign/close a
 * ticket, the next page of a listing). Nothing here knows Teams: a line and who typed it go
 * in, replies come out; `dialogs/technician/register.ts` wires it to the bot.
 */

export interface TechnicianDeps {
  config: AppConfig;
  store: Store;
  directory: Directory;
  logger: Logger;
  clock: () => Date;
  notifier: Notifier;
  scheduler: Scheduler;
  tickets: TicketService;
  access: AccessService;
  catalog: Catalog;
  birthright: BirthrightRules;
  /** The one answer to "is this account privileged?" (groups, technicians, directory roles). */
  privileged: PrivilegedResolver;
  technicianGroupId: string | null;
  /**
   * The sign-in recovery's actions, which `reset-password`, `tap`, `unlock` and `mfa-reset`
   * call with the technician as the verifier: the bot passes the employee flow's own; without
   * it the same actions are built from this configuration.
   */
  recovery?: RecoveryActions;
}

/** Who typed or clicked, as the bot established it for the turn. */
export interface Caller {
  user: DirectoryUser;
  /** Member of the technicians group, checked in the directory for this turn. */
  technician: boolean;
  where: 'personal' | 'channel' | 'groupChat';
  /** The Teams channel id, in a channel. */
  channelId: string | null;
  correlationId: string;
}

/** What to send back. A plan card is remembered where it lands so it can be updated. */
export type Reply =
  | { kind: 'text'; text: string }
  | {
      kind: 'card';
      card: AdaptiveCardJson;
      planId?: string;
      /** Told where the card landed, so its owner can update it later (a review's progress card). */
      remember?: (activityId: string, reference: Partial<ConversationReference>) => void;
    };

export interface ClickResult {
  /** The card that replaces the clicked one. */
  card: AdaptiveCardJson;
  /** Messages to send besides (the result of a picked command). */
  replies?: Reply[];
}

/** Commands that change something: a refusal to act on oneself, the four-eyes rule. */
const ACTING = new Set(['unlock', 'reset-password', 'tap', 'mfa-reset', 'disable', 'enable', 'onboard', 'move', 'offboard', 'grant', 'revoke']);
const PICK_MINUTES = 15;
const AUDIT_PAGE = 20;
const CSV_PAGE = 25;

export const REFUSAL_TEXT = 'Sorry, that command is for identity technicians only.';

/** A mover's department and title before the move: a rerun removes the groups of these, not of the new ones. */
type MovedFrom = { department: string | null; jobTitle: string | null };
type Overrides = { user?: string; group?: string; technician?: string; from?: MovedFrom };

export class TechnicianCommands {
  readonly runner: PlanRunner;
  /** Drift detection: the `drift` command and the buttons of its tickets (attached by `bot/drift.ts`). */
  private drift: DriftService | null = null;
  private freshMfa: FreshMfa | null = null;

  constructor(private readonly d: TechnicianDeps) {
    const recovery =
      d.recovery ??
      new RecoveryActions({ recovery: d.config.recovery, maxJobAttempts: d.config.jobs.maxAttempts, store: d.store, directory: d.directory, notifier: d.notifier, logger: d.logger, clock: d.clock, privileged: d.privileged });
    this.runner = new PlanRunner({ config: d.config, store: d.store, directory: d.directory, logger: d.logger, clock: d.clock, notifier: d.notifier, tickets: d.tickets, catalog: d.catalog, recovery });
  }

  /** Access reviews: the `review` command (attached by `bot/reviews.ts`). */
  private reviews: ReviewCommands | null = null;

  attachReviews(reviews: ReviewCommands): void {
    this.reviews = reviews;
  }

  /** Connects drift detection: the `drift` command and the buttons of its tickets. */
  attachDrift(drift: DriftService): void {
    this.drift = drift;
  }

  /** Registers the plan jobs (running confirmed plans, hiding secrets). */
  registerJobs(scheduler: Scheduler): void {
    this.runner.registerJobs(scheduler);
  }

  private now(): Date {
    return this.d.clock();
  }

  // ---- who may --------------------------------------------------------------------------------

  /**
   * Null when `caller` may run technician commands here; else the refusal to send (audited).
   * Only the command word is recorded, never the rest of the line.
   */
  gate(caller: Caller, command: string): string | null {
    let reason: string | null = null;
    let text = REFUSAL_TEXT;
    if (!caller.technician) reason = 'not-a-technician';
    else if (caller.where === 'groupChat') {
      reason = 'group-chat';
      text = 'Technician commands work in the technicians’ channel or in your 1:1 chat with me, not in group chats.';
    } else if (caller.where === 'channel' && this.d.config.technicians.channelIds && !this.d.config.technicians.channelIds.includes(caller.channelId ?? '')) {
      reason = 'channel-not-allowed';
      text = 'Technician commands are not taken in this channel. Use the technicians’ channel or your 1:1 chat with me.';
    }
    if (!reason) return null;
    this.d.store.audit.append({
      actor: { id: caller.user.id, name: caller.user.displayName },
      action: 'helpdesk.command-refused',
      target: null,
      outcome: 'refused',
      correlationId: caller.correlationId,
      details: { command: command.slice(0, 40), reason, where: caller.where },
    });
    this.d.logger.warn({ correlationId: caller.correlationId, actor: caller.user.id, action: 'helpdesk.command-refused', reason }, 'technician command refused');
    return text;
  }

  // ---- typed commands -------------------------------------------------------------------------

  /** Runs one typed line. Always answers; never throws for bad input. */
  async handle(line: string, caller: Caller): Promise<Reply[]> {
    const word = (/^\s*(\S+)/.exec(line)?.[1] ?? '').toLowerCase();
    const sub = word === 'audit' ? (/^\s*\S+\s+(verify|tail|export)\b/i.exec(line)?.[1]?.toLowerCase() ?? null) : null;
    const refusal = this.gate(caller, sub ? `audit ${sub}` : word);
    if (refusal) return [text(refusal)];
    const parsed = parseCommand(line, this.now());
    if (!parsed.ok) return [text(parsed.message)];
    return this.execute(parsed.command, caller, line, {});
  }

  private async execute(cmd: ParsedCommand, caller: Caller, line: string, o: Overrides): Promise<Reply[]> {
    switch (cmd.name) {
      case 'help':
        return cmd.topic ? [text(helpText(commandSpec(cmd.topic)!))] : [card(this.helpCard())];
      case 'pending':
        return [card(this.d.tickets.queueCard())];
      case 'take': {
        const r = this.d.tickets.take(caller.user, cmd.ticket!, caller.correlationId);
        this.drift?.ticketChanged(cmd.ticket!);
        return [r.ticket ? card(this.d.tickets.cardFor(r.ticket)) : text(r.message), ...(r.ticket ? [text(r.message)] : [])];
      }
      case 'assign': {
        if (!this.d.store.technician.tickets.get(cmd.ticket!)) return [text(`There is no ticket ${cmd.ticket}. Type \`pending\` for the queue.`)];
        const tech = await this.pickUser(o.technician ?? cmd.technician!, caller, line, 'technician', !!o.technician);
        if (!isUser(tech)) return tech;
        const r = await this.d.tickets.assign(caller.user, cmd.ticket!, tech.id, caller.correlationId, async () => tech);
        this.drift?.ticketChanged(cmd.ticket!);
        return r.ok && r.ticket ? [card(this.d.tickets.cardFor(r.ticket)), text(r.message)] : [text(r.message)];
      }
      case 'close': {
        const r = this.d.tickets.close(caller.user, cmd.ticket!, cmd.flags.note, caller.correlationId);
        this.drift?.ticketChanged(cmd.ticket!);
        return r.ok && r.ticket ? [card(this.d.tickets.cardFor(r.ticket)), text(r.message)] : [text(r.message)];
      }
      case 'audit':
        return this.audit(cmd, caller, line, o);
      case 'report':
        return this.report(cmd, caller);
      case 'review':
        if (!this.reviews) return [text('Access reviews are not available here.')];
        return this.reviews.handle(cmd, caller);
      case 'drift':
        if (!this.drift) return [text('Drift detection is not available here.')];
        return this.drift.command({ group: cmd.flags.group ?? null, dryRun: cmd.flags.dryRun ?? false }, caller);
      case 'members': {
        const g = await this.pickGroup(o.group ?? cmd.group!, caller, line, !!o.group);
        if (!isGroup(g)) return g;
        return [card(await this.membersCard(g, caller))];
      }
      default:
        break;
    }

    // Commands about one user.
    let user: DirectoryUser | Reply[];
    let resource: CatalogResource | null = null;
    if (cmd.words) {
      const split = splitUserAndResource(this.d.catalog, cmd.words, cmd.userQuoted ?? false);
      if ('error' in split) return [text(`${split.error}\n\nNothing was changed.`)];
      resource = split.resource;
      user = await this.pickUser(o.user ?? split.user, caller, line, 'user', !!o.user);
    } else {
      user = await this.pickUser(o.user ?? cmd.user!, caller, line, 'user', !!o.user);
    }
    if (!isUser(user)) return user;

    if (ACTING.has(cmd.name) && user.id === caller.user.id) {
      this.d.store.audit.append({
        actor: { id: caller.user.id, name: caller.user.displayName },
        action: 'technician.command-refused',
        target: user.id,
        outcome: 'refused',
        correlationId: caller.correlationId,
        details: { command: cmd.name, reason: 'own-account' },
      });
      return [text(`You cannot run \`${cmd.name}\` on your own account: ask another identity technician. Nothing was changed.`)];
    }

    switch (cmd.name) {
      case 'whois':
        return [card(await this.whoisCard(user, caller))];
      case 'groups':
        return [card(await this.groupsCard(user, caller))];
      case 'mfa':
        return [card(await this.mfaCard(user, caller))];
      case 'grant':
        return this.grant(user, resource!, cmd, caller);
      default:
        return this.act(cmd, user, resource, caller, o.from ? { from: o.from } : {});
    }
  }

  // ---- resolution and pick-one --------------------------------------------------------------

  private async pickUser(query: string, caller: Caller, line: string, slot: 'user' | 'technician', byId: boolean): Promise<DirectoryUser | Reply[]> {
    const r: Resolved<DirectoryUser> = byId
      ? await this.d.directory.getUser(query).then((u) => (u ? { kind: 'one' as const, value: u } : { kind: 'none' as const, message: 'That user is no longer in the directory.' }))
      : await resolveUser(this.d.directory, query);
    if (r.kind === 'one') return r.value;
    if (r.kind === 'none') return [text(`${r.message} Nothing was changed.`)];
    return [card(this.pickCard(caller, line, slot, query, r.values.map((u) => ({ id: u.id, title: u.displayName, detail: `${u.userPrincipalName} · ${u.department ?? 'no department'} · ${u.jobTitle ?? 'no title'}${u.accountEnabled ? '' : ' · DISABLED'}` })), r.more))];
  }

  private async pickGroup(query: string, caller: Caller, line: string, byId: boolean): Promise<DirectoryGroup | Reply[]> {
    const r: Resolved<DirectoryGroup> = byId
      ? await this.d.directory.getGroup(query).then((g) => (g ? { kind: 'one' as const, value: g } : { kind: 'none' as const, message: 'That group is no longer in the directory.' }))
      : await resolveGroup(this.d.directory, query);
    if (r.kind === 'one') return r.value;
    if (r.kind === 'none') return [text(r.message)];
    return [card(this.pickCard(caller, line, 'group', query, r.values.map((g) => ({ id: g.id, title: g.displayName, detail: g.description ?? g.mail ?? g.id })), r.more))];
  }

  /** Several matches: a card to pick one (the choice is kept on the server; the buttons carry an index). */
  private pickCard(caller: Caller, line: string, slot: 'user' | 'group' | 'technician', query: string, candidates: Array<{ id: string; title: string; detail: string }>, more: boolean): AdaptiveCardJson {
    const id = `PICK-${randomUUID()}`;
    this.d.store.technician.prompts.create(id, caller.user.id, 'pick', { line, slot, candidates: candidates.map((c) => c.id) }, new Date(this.now().getTime() + PICK_MINUTES * 60_000));
    const what = slot === 'group' ? 'groups' : slot === 'technician' ? 'people' : 'users';
    return renderTechCard({
      title: `Which one? "${query.slice(0, 60)}" matches ${more ? `more than ${MAX_CANDIDATES}` : candidates.length} ${what}`,
      text: more ? `The first ${MAX_CANDIDATES} are below; if yours is not among them, type the sign-in name instead.` : 'Pick one; nothing is done on a guess.',
      facts: candidates.map((c) => ({ title: c.title, value: c.detail })),
      actions: candidates.map((c, i) => ({ id: `tech-pick-${i}`, title: c.title.slice(0, 40), verb: 'tech.pick', data: { prompt: id, choice: i } })),
      footer: `Valid for ${PICK_MINUTES} minutes, for ${caller.user.displayName} only.`,
    });
  }

  // ---- read-only views --------------------------------------------------------------------

  private lookedUp(caller: Caller, command: string, target: string): void {
    this.d.store.audit.append({
      actor: { id: caller.user.id, name: caller.user.displayName },
      action: 'technician.lookup',
      target,
      outcome: 'success',
      correlationId: caller.correlationId,
      details: { command, where: caller.where },
    });
  }

  /** A privileged account (the one resolver; every account without a configured list): the four-eyes rule. Also used by the HR feed. */
  async isPrivileged(userId: string): Promise<boolean> {
    return this.d.privileged.isPrivileged(userId);
  }

  /**
   * Why `command` on `userId` needs a second technician, or null when it does not: a
   * privileged account (any command), or a new credential (`tap`, `reset-password`) for an
   * account enabled in the last 24 hours.
   */
  private async fourEyesReason(command: string, userId: string, steps: readonly Step[]): Promise<string | null> {
    const status = await this.d.privileged.status(userId);
    if (status.privileged) return `privileged account: ${describePrivileged(status)}`;
    // Making someone privileged is as sensitive as acting on someone who is: a grant or a
    // birthright group that is a privileged group (whatever the catalog's risk level says).
    const added = steps.flatMap((s) =>
      s.kind === 'add-groups' ? s.groups.map((g) => g.id) : s.kind === 'grant-access' ? [this.d.catalog.resources.find((r) => r.id === s.resourceId)?.groupId ?? s.resourceId] : [],
    );
    if (added.some((g) => this.d.privileged.isPrivilegedGroup(g))) return 'adds a privileged group: a second technician must approve';
    if ((command === 'tap' || command === 'reset-password') && recentlyEnabled(this.d.store, userId, this.now())) return 'enabled in the last 24 hours: a new credential needs a second technician';
    return null;
  }

  private privilegedSet(): Set<string> | null {
    return this.d.privileged.groupIds === null ? null : new Set(this.d.privileged.groups());
  }

  private async whoisCard(user: DirectoryUser, caller: Caller): Promise<AdaptiveCardJson> {
    const caps = this.d.directory.capabilities ?? BASELINE_CAPABILITIES;
    const [manager, state, methods, groups, reports, lastSignIn] = await Promise.all([
      this.d.directory.getManager(user.id),
      this.d.directory.getSignInState(user.id),
      caps.authenticationMethods ? this.d.directory.listAuthMethods(user.id) : Promise.resolve([]),
      this.d.directory.listUserGroups(user.id),
      this.d.directory.getDirectReports(user.id),
      this.lastSignInText(user, caps.signInActivity),
    ]);
    const privileged = this.privilegedSet();
    const privStatus = await this.d.privileged.status(user.id).catch(() => ({ privileged: true, reasons: [] }));
    const isPriv = privStatus.privileged;
    const open = this.d.store.requests.openForRequester(user.id);
    const approvals = this.d.store.requests.pendingForApprover(user.id, 50);
    const mfa = methods.filter((m) => m.kind !== 'password');
    const recent = this.d.store.technician.auditSearch.latestAbout(this.auditKeys(user), 5);
    this.lookedUp(caller, 'whois', user.id);
    groups.sort((a, b) => a.displayName.localeCompare(b.displayName));
    return renderTechCard({
      title: user.displayName,
      subtitle: user.userPrincipalName,
      status: `${user.accountEnabled ? 'Enabled' : 'DISABLED'}${state.locked ? ' · LOCKED' : ''}${isPriv ? ' · privileged' : ''}`,
      tone: !user.accountEnabled || state.locked ? 'attention' : isPriv ? 'warning' : 'good',
      facts: [
        { title: 'Department', value: user.department ?? 'not set' },
        { title: 'Job title', value: user.jobTitle ?? 'not set' },
        { title: 'Manager', value: manager ? `${manager.displayName} (${manager.userPrincipalName})` : 'none' },
        { title: 'Mail', value: user.mail ?? 'none' },
        { title: 'Account', value: `${user.accountEnabled ? 'enabled' : 'disabled'}, ${user.onPremisesSyncEnabled ? 'synchronised from on-premises AD' : 'cloud account'}` },
        { title: 'Sign-in', value: `${state.lockSupported ? (state.locked ? 'locked' : 'not locked') : 'no lockout flag (cloud)'}${state.passwordChangeRequired ? '; must change password' : ''}${state.lastPasswordChange ? `; password set ${formatTime(state.lastPasswordChange)}` : ''}` },
        { title: 'Last sign-in', value: lastSignIn },
        { title: 'MFA methods', value: caps.authenticationMethods ? (mfa.length ? [...new Set(mfa.map((m) => methodName(m.kind)))].join(', ') : 'none') : 'not kept by this directory' },
        { title: 'Direct reports', value: String(reports.length) },
        ...(isPriv ? [{ title: 'Privileged', value: describePrivileged(privStatus) || 'unknown: treated as privileged' }] : []),
        { title: 'Object id', value: user.id },
      ],
      sections: [
        { key: 'groups', title: `Groups (${groups.length})`, text: groups.length ? groups.slice(0, 40).map((g) => g.displayName + (privileged?.has(g.id.toLowerCase()) ? ' (privileged)' : '')).join(', ') + (groups.length > 40 ? ` and ${groups.length - 40} more` : '') : 'none' },
        {
          key: 'requests',
          title: `Pending requests (${open.length}) and approvals (${approvals.length})`,
          facts: [...open.map((r) => ({ title: r.id, value: `${r.policy.name}: ${r.state}` })), ...approvals.map((r) => ({ title: r.id, value: `waits for their decision: ${r.policy.name} for ${r.requesterName}` }))],
          text: open.length + approvals.length ? '' : 'none',
        },
        { key: 'audit', title: 'Recent audit events', facts: recent.map((e) => eventFact(e, new Map([[user.id, user.displayName]]))), text: recent.length ? '' : 'none' },
      ],
      footer: `More: groups ${user.userPrincipalName} · mfa ${user.userPrincipalName} · audit ${user.userPrincipalName}`,
    });
  }

  /** "2026-11-17 17:48 UTC (8 days ago)", "never", or why it is not known (a profile still shows). */
  private async lastSignInText(user: DirectoryUser, supported: boolean): Promise<string> {
    if (!supported) return 'not kept by this directory';
    try {
      const at = (await this.d.directory.getLastSignIns([user.id])).get(user.id);
      if (at === undefined) return 'unknown';
      if (at === null) return 'never';
      const days = Math.floor((this.now().getTime() - at.getTime()) / 86_400_000);
      const ago = days < 0 ? '' : days === 0 ? ' (today)' : days === 1 ? ' (yesterday)' : ` (${days} days ago)`;
      return `${formatTime(at.toISOString())}${ago}${this.d.directory.kind === 'ad' ? ', as the domain replicates it (up to about 14 days behind)' : ''}`;
    } catch (err) {
      this.d.logger.warn({ action: 'technician.lookup', err: { name: (err as Error).name, message: (err as Error).message } }, 'last sign-in could not be read');
      return `unknown: ${(err as Error).message.slice(0, 160)}`;
    }
  }

  private async groupsCard(user: DirectoryUser, caller: Caller): Promise<AdaptiveCardJson> {
    const groups = (await this.d.directory.listUserGroups(user.id)).sort((a, b) => a.displayName.localeCompare(b.displayName));
    const privileged = this.privilegedSet();
    this.lookedUp(caller, 'groups', user.id);
    const shownGroups = groups.slice(0, 50);
    return renderTechCard({
      title: `Groups of ${user.displayName}: ${groups.length}`,
      subtitle: user.userPrincipalName,
      text: groups.length ? '' : 'Not a member of any group.',
      facts: shownGroups.map((g) => ({ title: g.displayName, value: `${privileged === null || privileged.has(g.id.toLowerCase()) ? 'PRIVILEGED · ' : ''}${g.description ?? g.id}` })),
      footer: groups.length > shownGroups.length ? `Showing ${shownGroups.length} of ${groups.length}.` : '',
    });
  }

  private async membersCard(group: DirectoryGroup, caller: Caller): Promise<AdaptiveCardJson> {
    const members = (await this.d.directory.listGroupMembers(group.id)).sort((a, b) => a.displayName.localeCompare(b.displayName));
    const privileged = this.privilegedSet();
    this.lookedUp(caller, 'members', group.id);
    const shownMembers = members.slice(0, 50);
    return renderTechCard({
      title: `Members of ${group.displayName}: ${members.length}`,
      subtitle: `${privileged === null || privileged.has(group.id.toLowerCase()) ? 'Privileged group · ' : ''}${group.description ?? group.id}`,
      text: members.length ? '' : 'The group has no members.',
      facts: shownMembers.map((m) => ({ title: m.displayName, value: `${m.userPrincipalName}${m.accountEnabled ? '' : ' · DISABLED'}` })),
      footer: members.length > shownMembers.length ? `Showing ${shownMembers.length} of ${members.length}.` : '',
    });
  }

  private async mfaCard(user: DirectoryUser, caller: Caller): Promise<AdaptiveCardJson> {
    const caps = this.d.directory.capabilities ?? BASELINE_CAPABILITIES;
    const methods = caps.authenticationMethods ? await this.d.directory.listAuthMethods(user.id) : [];
    this.lookedUp(caller, 'mfa', user.id);
    return renderTechCard({
      title: `Sign-in methods of ${user.displayName}`,
      subtitle: user.userPrincipalName,
      text: caps.authenticationMethods ? (methods.length ? 'Types only; the details stay in the directory.' : 'No methods registered.') : 'This directory keeps no MFA methods.',
      facts: methods.map((m, i) => ({ title: `Method ${i + 1}`, value: `${methodName(m.kind)}${m.isDefault ? ' (default)' : ''}` })),
      footer: `mfa-reset ${user.userPrincipalName} removes all but the password · tap ${user.userPrincipalName} issues a pass to register new ones`,
    });
  }

  private helpCard(): AdaptiveCardJson {
    return renderTechCard({
      title: 'Technician commands',
      subtitle: 'In the technicians’ channel (@mention me first) or in your 1:1 chat',
      facts: COMMANDS.map((c) => ({ title: c.usage.split(' | ')[0]!, value: c.summary })),
      footer: 'Type help ‹command› for its usage and examples. A user is a sign-in name, mail, object id or name; quote a name when more words follow. Everything is recorded in the audit trail.',
    });
  }

  // ---- audit and report --------------------------------------------------------------------

  private async audit(cmd: ParsedCommand, caller: Caller, line: string, o: Overrides): Promise<Reply[]> {
    const q = cmd.audit!;
    const actor = { id: caller.user.id, name: caller.user.displayName };
    if (q.sub === 'verify') return [card(await auditVerifyCard(this.d.store, actor, caller.correlationId, this.d.config.auditAnchors))];
    if (q.sub === 'tail') return [card(auditTailCard(this.d.store, q.n))];
    if (q.sub === 'export') return this.exportPage(caller, cmd.flags.since ?? null, 0);

    // audit <user | REQ-… | TKT-… | PLN-…>
    const raw = q.target.trim();
    let key: string;
    let keys: string[] | null = null;
    let label: string;
    if (/^(REQ|TKT|PLN|DRF|REV)-\d{1,9}$/i.test(raw)) {
      key = raw.toUpperCase();
      label = key;
    } else if (!o.user && isGuid(raw) && !(await this.d.directory.getUser(raw))) {
      // Someone deleted from the directory (a leaver, months later) keeps their trail: by object id.
      key = raw.toLowerCase();
      keys = [...new Set([key, raw]), ...this.d.store.requests.listForRequester(key, 199).map((r) => r.id)];
      label = `${key} (no longer in the directory)`;
    } else {
      const user = await this.pickUser(o.user ?? raw, caller, line, 'user', !!o.user);
      if (!isUser(user)) return user;
      key = user.id;
      keys = this.auditKeys(user);
      label = user.displayName;
    }
    const page = this.auditPage(caller, keys ?? [key], label, cmd.flags.since ?? null, 0);
    // Recorded after the listing, which shows what was there before this look.
    this.lookedUp(caller, 'audit', key);
    return [card(page)];
  }

  /** A user and the requests they made: what `audit <user>` is about. */
  private auditKeys(user: DirectoryUser): string[] {
    return [user.id, ...this.d.store.requests.listForRequester(user.id, 199).map((r) => r.id)];
  }

  private auditPage(caller: Caller, keys: string[], label: string, since: string | null, afterSeq: number): AdaptiveCardJson {
    const page = this.d.store.technician.auditSearch.about(keys, { since, afterSeq, limit: AUDIT_PAGE + 1 });
    const more = page.length > AUDIT_PAGE;
    const events = page.slice(0, AUDIT_PAGE);
    const actions: TechAction[] = [];
    if (more) {
      const id = `PAGE-${randomUUID()}`;
      this.d.store.technician.prompts.create(id, caller.user.id, 'audit-page', { mode: 'about', keys, label, since, afterSeq: events[events.length - 1]!.seq }, new Date(this.now().getTime() + 60 * 60_000));
      actions.push({ id: 'tech-more', title: 'More', verb: 'tech.more', data: { prompt: id } });
    }
    return renderTechCard({
      title: `Audit: ${label}`,
      subtitle: `${since ? `Since ${formatTime(since)} · ` : ''}${afterSeq ? `after event ${afterSeq}` : 'from the first event'}`,
      text: events.length ? 'Oldest first. Times are UTC.' : 'No audit events about this.',
      facts: events.map((e) => eventFact(e, new Map([[keys[0]!, label]]))),
      footer: more ? 'More events follow.' : events.length ? 'That is all.' : '',
      actions,
    });
  }

  /** `audit export`: the chain's verification, then CSV a page at a time (the CLI writes files of any size). */
  private exportPage(caller: Caller, since: string | null, afterSeq: number): Reply[] {
    const result = this.d.store.audit.verify();
    const page = this.d.store.audit.query(since ? { since } : {}, { afterSeq, limit: CSV_PAGE + 1 });
    const more = page.length > CSV_PAGE;
    const events = page.slice(0, CSV_PAGE);
    const actions: TechAction[] = [];
    if (more) {
      const id = `PAGE-${randomUUID()}`;
      this.d.store.technician.prompts.create(id, caller.user.id, 'audit-page', { mode: 'export', since, afterSeq: events[events.length - 1]!.seq }, new Date(this.now().getTime() + 60 * 60_000));
      actions.push({ id: 'tech-more', title: 'More', verb: 'tech.more', data: { prompt: id } });
    }
    if (afterSeq === 0) {
      this.d.store.audit.append({
        actor: { id: caller.user.id, name: caller.user.displayName },
        action: 'audit.exported',
        target: null,
        outcome: 'success',
        correlationId: caller.correlationId,
        details: { since, where: caller.where, chainOk: result.ok },
      });
    }
    const header = renderTechCard({
      title: 'Audit export (CSV)',
      subtitle: `${since ? `Since ${formatTime(since)}` : 'All events'} · rows ${events.length ? `${events[0]!.seq}–${events[events.length - 1]!.seq}` : 'none'}`,
      status: result.ok ? `Chain intact: ${result.count} events, head ${result.headSeq}:${result.headHash.slice(0, 16)}…` : `CHAIN BROKEN at event ${result.firstBadSeq}: ${result.reason}`,
      tone: result.ok ? 'good' : 'attention',
      text: 'The rows follow as CSV. For a file of any size: npm run audit -- export --format csv --verify [--since …] > audit.csv',
      footer: more ? 'More rows follow: click More.' : 'That is all.',
      actions,
    });
    // The first page is the head of the file the CLI would write; later pages are its next rows.
    const csv = [...(afterSeq === 0 ? [...verificationHeader(result, since ? { since } : {}), CSV_COLUMNS.join(',')] : []), ...events.map((e) => csvRow(e))].join('\n');
    return [card(header), text('```\n' + csv.replace(/```/g, "'''") + '\n```')];
  }

  private async report(cmd: ParsedCommand, caller: Caller): Promise<Reply[]> {
    const days = cmd.flags.days ?? REPORT_DAYS.default;
    const report = buildReport(this.d.store, { days, now: this.now(), catalog: this.d.catalog });
    this.d.store.audit.append({
      actor: { id: caller.user.id, name: caller.user.displayName },
      action: 'technician.report',
      target: null,
      outcome: 'success',
      correlationId: caller.correlationId,
      details: { days, format: cmd.flags.format ?? 'card' },
    });
    if (cmd.flags.format === 'csv') return [text('```\n' + reportCsv(report) + '\n```')];
    return [card(reportCard(report))];
  }

  // ---- changes: plans, confirmation, four eyes ----------------------------------------------

  /** The steps a command would take on `user` now, or why there is nothing to do. Also used by the HR feed. */
  async planSteps(command: string, user: DirectoryUser, args: PlanArgs & Record<string, unknown>, resource: CatalogResource | null): Promise<{ steps: Step[] } | { refusal: string }> {
    const dir = this.d.directory;
    const caps = dir.capabilities ?? BASELINE_CAPABILITIES;
    const onPrem = user.onPremisesSyncEnabled && !caps.onPremisesAccounts;
    const onPremText = `${user.displayName} is synchronised from on-premises Active Directory: do it there (a technician with AD access).`;
    switch (command) {
      case 'disable':
        if (!user.accountEnabled) return { refusal: `${user.displayName} is already disabled. Nothing was changed.` };
        if (onPrem) return { refusal: onPremText };
        return { steps: [{ kind: 'disable' }, { kind: 'revoke-sessions' }] };
      case 'enable':
        if (user.accountEnabled) return { refusal: `${user.displayName} is already enabled. Nothing was changed.` };
        if (onPrem) return { refusal: onPremText };
        return { steps: [{ kind: 'enable' }] };
      case 'unlock': {
        const state = await dir.getSignInState(user.id);
        if (!state.lockSupported) return { refusal: `${user.displayName} has a cloud account: Entra smart lockout ends by itself after a few minutes, there is nothing to unlock. If they forgot the password: reset-password ${user.userPrincipalName}` };
        if (!state.locked) return { refusal: `${user.displayName} is not locked. Nothing was changed.` };
        return { steps: [{ kind: 'unlock' }] };
      }
      case 'reset-password':
        if (onPrem) return { refusal: onPremText };
        return { steps: [{ kind: 'reset-password' }] };
      case 'tap':
        if (!caps.authenticationMethods) return { refusal: 'This directory issues no Temporary Access Passes.' };
        if (!user.accountEnabled) return { refusal: `${user.displayName} is disabled: a pass would not let them sign in. Enable the account first (enable ${user.userPrincipalName}).` };
        return { steps: [{ kind: 'tap', minutes: (args.minutes as number | undefined) ?? this.d.config.recovery.tap.lifetimeMinutes, oneTime: this.d.config.recovery.tap.oneTime }] };
      case 'mfa-reset': {
        if (!caps.authenticationMethods) return { refusal: 'This directory keeps no MFA methods.' };
        const methods = (await dir.listAuthMethods(user.id)).filter((m) => m.kind !== 'password');
        if (!methods.length) return { refusal: `${user.displayName} has no MFA methods to remove. To let them register one: tap ${user.userPrincipalName}` };
        // The sign-in recovery's action: the methods removed, then every session revoked.
        return { steps: [{ kind: 'mfa-reset', methods: methods.map((m) => ({ id: m.id, kind: m.kind, isDefault: m.isDefault })) }] };
      }
      case 'onboard': {
        const add = await this.missingBirthright(user, user.department, user.jobTitle);
        if (!add.length) return { refusal: `${user.displayName} already has every birthright group of ${user.department ?? 'no department'} / ${user.jobTitle ?? 'no title'}. Nothing was changed.` };
        return { steps: [{ kind: 'add-groups', groups: add }] };
      }
      case 'move': {
        const department = typeof args.department === 'string' ? args.department.trim() : '';
        const newTitle = typeof args.title === 'string' ? args.title.trim() : undefined;
        const manager = args.manager as { id: string; name: string } | undefined;
        if (!department) return { refusal: 'A move needs the new department: --department ‹department›. Nothing was changed.' };
        if (department.length > MAX_DEPARTMENT_LENGTH) return { refusal: `The department is ${department.length} characters long; the directory takes at most ${MAX_DEPARTMENT_LENGTH}. Nothing was changed.` };
        if (newTitle !== undefined && newTitle.length > MAX_JOB_TITLE_LENGTH) return { refusal: `The title is ${newTitle.length} characters long; the directory takes at most ${MAX_JOB_TITLE_LENGTH}. Nothing was changed.` };
        if (manager?.id === user.id) return { refusal: `${user.displayName} cannot be their own manager. Nothing was changed.` };
        // The groups to give up are the old role's: as it was when the move was first asked for.
        const from = (args.from as MovedFrom | undefined) ?? { department: user.department, jobTitle: user.jobTitle };
        const title = newTitle ?? from.jobTitle;
        // The profile first, so that the directory says the new department before the groups follow it.
        const current = manager ? await dir.getManager(user.id) : null;
        const profile: Step | null =
          user.department !== department || (newTitle !== undefined && newTitle !== user.jobTitle) || (manager !== undefined && current?.id !== manager.id)
            ? {
                kind: 'update-profile',
                department,
                ...(newTitle !== undefined ? { jobTitle: newTitle } : {}),
                ...(manager ? { manager: { id: manager.id, name: manager.name } } : {}),
                from: { department: user.department, jobTitle: user.jobTitle, manager: current?.displayName ?? null },
                ...(user.onPremisesSyncEnabled && !caps.onPremisesAccounts ? { onPremises: true } : {}),
              }
            : null;
        const add = await this.missingBirthright(user, department, title);
        const oldGroups = birthrightFor(this.d.birthright, from.department, from.jobTitle).groups;
        const newGroups = new Set(birthrightFor(this.d.birthright, department, title).groups);
        const leaving = oldGroups.filter((g) => !newGroups.has(g));
        const held = leaving.length ? await dir.checkMemberGroups(user.id, leaving) : [];
        const remove = await this.groupNames(leaving.filter((g) => held.includes(g)));
        if (!profile && !add.length && !remove.length) {
          return { refusal: `Nothing to change: ${user.displayName} is in ${department} / ${title ?? 'no title'} already, has its birthright groups and none to give up.` };
        }
        return { steps: [...(profile ? [profile] : []), { kind: 'add-groups', groups: add }, { kind: 'remove-groups', groups: remove }] };
      }
      case 'offboard': {
        const [groups, methods, reports] = await Promise.all([
          dir.listUserGroups(user.id),
          caps.authenticationMethods ? dir.listAuthMethods(user.id) : Promise.resolve([]),
          dir.getDirectReports(user.id),
        ]);
        const open = this.d.store.requests.openForRequester(user.id);
        const manager = await nextEnabledManager(dir, user, user.id);
        // Approvals already handed to the manager (an earlier run) are not handed again.
        const approvals = this.d.store.requests.pendingForApprover(user.id, 500).filter((r) => !manager || !this.d.store.requests.approver(r.id, r.stage, manager.id));
        const steps: Step[] = [];
        if (user.accountEnabled) steps.push({ kind: 'disable' });
        steps.push({ kind: 'revoke-sessions' });
        steps.push({ kind: 'remove-groups', groups: groups.map((g) => ({ id: g.id, name: g.displayName })).sort((a, b) => a.name.localeCompare(b.name)) });
        steps.push({ kind: 'remove-mfa', methods: methods.filter((m) => m.kind !== 'password').map((m) => ({ id: m.id, kind: m.kind, isDefault: m.isDefault })) });
        steps.push({ kind: 'cancel-requests', requests: open.map((r) => ({ id: r.id, name: r.policy.name, state: r.state })) });
        steps.push({ kind: 'reassign-approvals', requests: approvals.map((r) => ({ id: r.id, stage: r.stage, name: r.policy.name })), to: manager ? { id: manager.id, name: manager.displayName } : null });
        steps.push({ kind: 'report-direct-reports', reports: reports.map((r) => ({ id: r.id, name: r.displayName })).sort((a, b) => a.name.localeCompare(b.name)) });
        return { steps };
      }
      case 'revoke': {
        const has = (await dir.checkMemberGroups(user.id, [resource!.groupId])).length > 0;
        if (!has) return { refusal: `${user.displayName} does not have ${resource!.name} (not a member of its group). Nothing was changed.` };
        return { steps: [{ kind: 'revoke-access', resourceId: resource!.id, resourceName: resource!.name, groupId: resource!.groupId }] };
      }
      case 'grant': {
        const hours = args.hours as number | null;
        const refusal = await checkRequest({ directory: dir, store: this.d.store, catalog: this.d.catalog }, user, resource!, hours, (args.reason as string | null) ?? null);
        if (refusal) return { refusal: `${technicianRefusal(refusal, user.displayName, resource!.name)} Nothing was changed.` };
        return { steps: [{ kind: 'grant-access', resourceId: resource!.id, resourceName: resource!.name, hours }] };
      }
      default:
        return { refusal: `\`${command}\` makes no plan.` };
    }
  }

  private async missingBirthright(user: DirectoryUser, department: string | null, title: string | null): Promise<Array<{ id: string; name: string }>> {
    const wanted = birthrightFor(this.d.birthright, department, title).groups;
    if (!wanted.length) return [];
    const held = new Set<string>();
    for (let i = 0; i < wanted.length; i += 20) for (const g of await this.d.directory.checkMemberGroups(user.id, wanted.slice(i, i + 20))) held.add(g.toLowerCase());
    return this.groupNames(wanted.filter((g) => !held.has(g.toLowerCase())));
  }

  private async groupNames(ids: string[]): Promise<Array<{ id: string; name: string }>> {
    const out: Array<{ id: string; name: string }> = [];
    for (const id of ids) {
      const g = await this.d.directory.getGroup(id);
      if (g) out.push({ id: g.id, name: g.displayName });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The line that proposes a plan again, naming the user by object id. */
  private rerunLine(command: string, user: DirectoryUser, args: Record<string, unknown>, resource: CatalogResource | null): string {
    const q = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    const parts = [command, resource ? `${user.id} ${resource.id}` : user.id];
    if (typeof args.minutes === 'number') parts.push(`--minutes ${args.minutes}`);
    if (typeof args.department === 'string') parts.push(`--department ${q(args.department)}`);
    if (typeof args.title === 'string') parts.push(`--title ${q(args.title)}`);
    if (typeof (args.manager as { id?: unknown } | undefined)?.id === 'string') parts.push(`--manager ${(args.manager as { id: string }).id}`);
    if (args.hours !== undefined) parts.push(`--for ${args.hours === null ? 'permanent' : `${args.hours}h`}`);
    if (typeof args.reason === 'string') parts.push(`--reason ${q(args.reason)}`);
    return parts.join(' ');
  }

  private async grant(user: DirectoryUser, resource: CatalogResource, cmd: ParsedCommand, caller: Caller): Promise<Reply[]> {
    const hours = cmd.flags.for === undefined ? resource.defaultHours : cmd.flags.for;
    const reason = cmd.flags.reason ?? null;
    if (resource.risk !== 'high') return this.act(cmd, user, resource, caller, { hours });
    // High risk: the catalog's approvers (its owners among them) still decide.
    const refusal = await checkRequest({ directory: this.d.directory, store: this.d.store, catalog: this.d.catalog }, user, resource, hours, reason);
    if (refusal) return [text(`${technicianRefusal(refusal, user.displayName, resource.name)} Nothing was changed.`)];
    const result = await this.d.access.submit(user, { resource, hours, justification: `${reason} (asked by identity technician ${caller.user.displayName})` }, caller.correlationId);
    if (!result.ok) return [text(`Not requested: ${result.refusal.message}`)];
    this.d.store.audit.append({
      actor: { id: caller.user.id, name: caller.user.displayName },
      action: 'technician.grant-requested',
      target: user.id,
      outcome: 'success',
      correlationId: result.request.id,
      details: { resource: resource.id, risk: resource.risk, durationHours: hours, reason, turn: caller.correlationId },
    });
    return [
      card(
        renderTechCard({
          title: `${result.request.id}: ${resource.name} for ${user.displayName} needs approval`,
          subtitle: user.userPrincipalName,
          status: 'Waiting for approval',
          tone: 'warning',
          text: `${resource.name} is high risk, so a technician cannot grant it alone: the request goes through its approval (${result.request.policy.stages.map((s) => s.title).join(' → ')}).`,
          facts: [
            { title: 'Duration', value: formatDuration(hours) },
            { title: 'Reason', value: reason ?? '' },
          ],
          footer: `Follow it: audit ${result.request.id}`,
        }),
      ),
    ];
  }

  /**
   * A command that changes something: its plan, computed now. Without a confirmation to wait
   * for it runs at once; a destructive one, and any one on a member of a privileged group,
   * becomes a plan card (and the four-eyes rule applies to the latter).
   */
  private async act(cmd: ParsedCommand, user: DirectoryUser, resource: CatalogResource | null, caller: Caller, extra: Record<string, unknown> = {}): Promise<Reply[]> {
    let manager: { id: string; name: string } | undefined;
    if (cmd.name === 'move' && cmd.flags.manager !== undefined) {
      const m = await resolveUser(this.d.directory, cmd.flags.manager);
      if (m.kind === 'none') return [text(`--manager: ${m.message} Nothing was changed.`)];
      if (m.kind === 'many') {
        return [text(`--manager "${cmd.flags.manager.slice(0, 60)}" matches ${m.values.map((u) => `${u.displayName} (${u.userPrincipalName})`).join(', ')}${m.more ? ' and more' : ''}: give the manager's sign-in name. Nothing was changed.`)];
      }
      manager = { id: m.value.id, name: m.value.displayName };
    }
    const args: PlanArgs & Record<string, unknown> = {
      rerun: '',
      reason: cmd.flags.reason ?? null,
      ...(cmd.flags.minutes !== undefined ? { minutes: cmd.flags.minutes } : {}),
      ...(cmd.flags.department !== undefined ? { department: cmd.flags.department } : {}),
      ...(cmd.flags.title !== undefined ? { title: cmd.flags.title } : {}),
      ...(manager ? { manager } : {}),
      ...(cmd.name === 'move' ? { from: { department: user.department, jobTitle: user.jobTitle } } : {}),
      ...extra,
    };
    args.rerun = this.rerunLine(cmd.name, user, args, resource);
    const planned = await this.planSteps(cmd.name, user, args, resource);
    if ('refusal' in planned) return [text(planned.refusal)];
    const fourEyes = await this.fourEyesReason(cmd.name, user.id, planned.steps);
    const privileged = fourEyes !== null;
    const spec = commandSpec(cmd.name)!;
    const confirm = spec.effect === 'destructive' || privileged || cmd.name === 'onboard' || cmd.name === 'move';
    const actor = { id: caller.user.id, name: caller.user.displayName };
    const subject = { id: user.id, name: user.displayName, upn: user.userPrincipalName };
    const expiresAt = new Date(this.now().getTime() + this.d.config.technicians.planMinutes * 60_000);

    if (!confirm) {
      const plan = this.d.store.transaction(() => {
        const p = this.d.store.technician.plans.create({ command: cmd.name, actor, subject, args, steps: planned.steps, signature: signatureOf(planned.steps, false), privileged: false, expiresAt, correlationId: caller.correlationId, running: true });
        this.auditPlan(p, 'technician.plan-started', caller, { command: cmd.name, steps: planned.steps.map((s) => s.kind), immediate: true });
        return p;
      });
      const done = await this.runner.run(plan.id, false);
      this.d.scheduler.kick();
      return [card(planCard(done as TechPlan, this.now()))];
    }

    // A mover gets the new profile and groups at once (unless four eyes apply); the removals wait for the confirmation.
    let steps = planned.steps;
    let note: string | null = null;
    let related: string | null = null;
    if (cmd.name === 'move' && !privileged) {
      const remove = steps.find((s) => s.kind === 'remove-groups') as Extract<Step, { kind: 'remove-groups' }>;
      const now = steps.filter((s) => s.kind !== 'remove-groups' && !describeStep(s).empty);
      if (now.length) {
        const nowPlan = this.d.store.transaction(() => {
          const p = this.d.store.technician.plans.create({ command: 'move', actor, subject, args, steps: now, signature: signatureOf(now, false), privileged: false, expiresAt, correlationId: caller.correlationId, running: true });
          this.auditPlan(p, 'technician.plan-started', caller, { command: 'move', steps: now.map((s) => s.kind), immediate: true });
          return p;
        });
        const done = await this.runner.run(nowPlan.id, false);
        related = done.id;
        const said = now.map((s, i) => (s.kind === 'add-groups' ? `added to ${describeStep(s).planned} (${done.progress[i]?.detail ?? ''})` : (done.progress[i]?.detail ?? describeStep(s).planned)));
        note = `Done now (${done.id}): ${said.join('; ')}. The old department's groups below are removed when you confirm.`;
      }
      if (!remove.groups.length) {
        this.d.scheduler.kick();
        return [card(planCard(this.d.store.technician.plans.get<Step, PlanArgs>(related!)!, this.now()))];
      }
      steps = [remove];
    }
    const plan = this.d.store.transaction(() => {
      const p = this.d.store.technician.plans.create({ command: cmd.name, actor, subject, args: { ...args, note, related, fourEyes }, steps, signature: signatureOf(steps, privileged), privileged, expiresAt, correlationId: caller.correlationId });
      this.auditPlan(p, 'technician.plan-proposed', caller, { command: cmd.name, steps: steps.map((s) => s.kind), privileged, fourEyes, reason: args.reason ?? null });
      return p;
    }) as TechPlan;
    const replies: Reply[] = [{ kind: 'card', card: planCard(plan, this.now()), planId: plan.id }];
    // Proposed in a 1:1 chat, a four-eyes plan also goes to the channel, where a second technician sees it.
    if (privileged && caller.where === 'personal') {
      const delivered = await this.d.notifier.sendToTechnicians({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: planCard(plan, this.now()) }], summary: `${plan.id} needs a second technician` }).catch(() => null);
      if (delivered) this.d.store.technician.cards.add({ ownerId: plan.id, purpose: 'plan', activityId: delivered.activityId, reference: delivered.reference });
      replies.push(text(delivered ? `${user.displayName} needs four eyes (${fourEyes}): the plan was also posted in the technicians’ channel for a second technician to approve.` : `${user.displayName} needs four eyes (${fourEyes}), and no technicians’ channel is known to ask a second technician in: ask one to approve it from this plan in the channel.`));
    }
    return replies;
  }

  private auditPlan(plan: TechPlan | { id: string; subject: { id: string } }, action: string, caller: Caller, details: Record<string, unknown>, outcome: 'success' | 'refused' = 'success'): void {
    this.d.store.audit.append({
      actor: { id: caller.user.id, name: caller.user.displayName },
      action,
      target: plan.subject.id,
      outcome,
      correlationId: plan.id,
      details: { ...details, turn: caller.correlationId },
    });
  }

  /** Remembers where a plan card landed, so its progress can update it. */
  rememberPlanCard(planId: string, activityId: string, reference: Partial<ConversationReference>): void {
    this.d.store.technician.cards.add({ ownerId: planId, purpose: 'plan', activityId, reference });
  }

  // ---- clicks ---------------------------------------------------------------------------------

  /** A card button. Who may do what is decided here, now; the card carries only ids. */
  async click(verb: string, data: Record<string, unknown>, caller: Caller, inputs: Record<string, unknown> = {}): Promise<ClickResult> {
    // Drift tickets decide and audit their own refusals (with the finding as correlation id) through this gate.
    if (isDriftVerb(verb)) {
      if (this.drift) return this.drift.click(verb, data, caller, inputs, () => this.gate(caller, verb));
      return { card: notice('Not available', 'Drift detection is not available here.', 'warning') };
    }
    const refusal = this.gate(caller, verb);
    if (refusal) return { card: notice('Not available', refusal, 'attention') };
    switch (verb) {
      case 'tech.pick':
        return this.clickPick(data, caller);
      case 'tech.more':
        return this.clickMore(data, caller);
      case 'tech.confirm':
        return this.clickConfirm(data, caller);
      case 'tech.approve':
        return this.clickApprove(data, caller);
      case 'tech.cancel':
        return this.clickCancel(data, caller);
      case 'tech.rerun':
        return this.clickRerun(data, caller);
      case 'tech.secret-hide':
        return this.clickHide(data, caller);
      case 'ticket.take':
      case 'ticket.assign':
      case 'ticket.close':
        return this.clickTicket(verb, data, caller, inputs);
      default:
        return { card: notice('This card is no longer active', 'Type help to start again.', 'warning') };
    }
  }

  private planOf(data: Record<string, unknown>): TechPlan | null {
    const id = data.plan;
    return typeof id === 'string' && /^PLN-\d{1,9}$/.test(id) ? this.d.store.technician.plans.get<Step, PlanArgs>(id) : null;
  }

  private async clickPick(data: Record<string, unknown>, caller: Caller): Promise<ClickResult> {
    const id = data.prompt;
    const prompt = typeof id === 'string' && id.startsWith('PICK-') ? this.d.store.technician.prompts.get<{ line: string; slot: 'user' | 'group' | 'technician'; candidates: string[] }>(id) : null;
    const stale = notice('This question is no longer active', 'Type the command again.', 'warning');
    if (!prompt || prompt.kind !== 'pick' || prompt.usedAt || this.now().getTime() > Date.parse(prompt.expiresAt)) return { card: stale };
    if (prompt.actorId !== caller.user.id) return { card: notice('Not your question', 'Only the technician who typed the command can pick here. Type it yourself to get your own card.', 'attention') };
    const choice = typeof data.choice === 'number' ? data.choice : Number.NaN;
    const chosen = Number.isInteger(choice) ? prompt.payload.candidates[choice] : undefined;
    if (!chosen) return { card: stale };
    if (!this.d.store.technician.prompts.claim(prompt.id)) return { card: stale };
    const parsed = parseCommand(prompt.payload.line, this.now());
    if (!parsed.ok) return { card: stale };
    const replies = await this.execute(parsed.command, caller, prompt.payload.line, { [prompt.payload.slot]: chosen });
    const name = prompt.payload.slot === 'group' ? (await this.d.directory.getGroup(chosen))?.displayName : (await this.d.directory.getUser(chosen))?.displayName;
    return { card: notice(`Picked: ${name ?? chosen}`, 'See the answer below.', 'good'), replies };
  }

  private async clickMore(data: Record<string, unknown>, caller: Caller): Promise<ClickResult> {
    const id = data.prompt;
    const prompt = typeof id === 'string' && id.startsWith('PAGE-') ? this.d.store.technician.prompts.get<{ mode: 'about' | 'export'; keys?: string[]; label?: string; since: string | null; afterSeq: number }>(id) : null;
    if (!prompt || prompt.kind !== 'audit-page' || this.now().getTime() > Date.parse(prompt.expiresAt)) return { card: notice('This listing is no longer active', 'Type the audit command again.', 'warning') };
    const p = prompt.payload;
    if (p.mode === 'about') return { card: this.auditPage(caller, p.keys!, p.label!, p.since, p.afterSeq) };
    const [header, ...rest] = this.exportPage(caller, p.since, p.afterSeq);
    return { card: (header as { card: AdaptiveCardJson }).card, replies: rest };
  }

  /** Expired, or still confirmable. */
  private expireIfDue(plan: TechPlan): TechPlan | null {
    if (plan.state !== 'proposed' || this.now().getTime() <= Date.parse(plan.expiresAt)) return null;
    this.d.store.transaction(() => {
      if (this.d.store.technician.plans.end(plan.id, 'expired')) {
        this.d.store.audit.append({ actor: { id: 'system', name: null }, action: 'technician.plan-expired', target: plan.subject.id, outcome: 'success', correlationId: plan.id, details: {} });
      }
    });
    return this.d.store.technician.plans.get<Step, PlanArgs>(plan.id)!;
  }

  private refusePlan(plan: TechPlan, caller: Caller, reason: string, message: string, options: { askMfaCode?: boolean } = {}): ClickResult {
    this.auditPlan(plan, 'technician.plan-refused', caller, { reason }, 'refused');
    return { card: planCard(plan, this.now(), { text: message, tone: 'attention' }, options) };
  }

  private async clickConfirm(data: Record<string, unknown>, caller: Caller): Promise<ClickResult> {
    const plan = this.planOf(data);
    if (!plan) return { card: notice('This plan is no longer active', 'Type the command again.', 'warning') };
    const expired = this.expireIfDue(plan);
    if (expired) return { card: planCard(expired, this.now(), { text: 'This plan expired before it was confirmed; nothing was changed. Type the command again for a fresh plan.', tone: 'warning' }) };
    if (plan.state !== 'proposed') return { card: planCard(plan, this.now()) };
    if (plan.actor.id !== caller.user.id) {
      return this.refusePlan(plan, caller, 'not-the-proposer', `Only ${plan.actor.name}, who proposed this plan, can confirm it.${plan.privileged ? ' As a second technician, use Approve.' : ''} Nothing was changed.`);
    }
    if (plan.confirmedAt) return { card: planCard(plan, this.now()) };
    const changed = await this.recheck(plan, caller);
    if (changed) return changed;
    this.d.store.transaction(() => {
      if (this.d.store.technician.plans.markConfirmed(plan.id)) this.auditPlan(plan, 'technician.plan-confirmed', caller, { privileged: plan.privileged });
    });
    const confirmed = this.d.store.technician.plans.get<Step, PlanArgs>(plan.id)!;
    // Still waiting for the second technician: the other copies (the channel's) say it is confirmed.
    if (confirmed.privileged && !confirmed.approvedBy.id) await this.runner.updateCards(confirmed);
    return this.startIfReady(confirmed, caller);
  }

  private async clickApprove(data: Record<string, unknown>, caller: Caller): Promise<ClickResult> {
    const plan = this.planOf(data);
    if (!plan) return { card: notice('This plan is no longer active', 'Type the command again.', 'warning') };
    const expired = this.expireIfDue(plan);
    if (expired) return { card: planCard(expired, this.now(), { text: 'This plan expired before it was approved; nothing was changed.', tone: 'warning' }) };
    if (plan.state !== 'proposed') return { card: planCard(plan, this.now()) };
    if (!plan.privileged) return { card: planCard(plan, this.now(), { text: 'This plan needs no second approval.', tone: 'default' }) };
    if (plan.actor.id === caller.user.id) {
      return this.refusePlan(plan, caller, 'same-technician', 'You proposed this plan: a second, different identity technician must approve it. Nothing was changed.');
    }
    if (plan.subject.id === caller.user.id) {
      return this.refusePlan(plan, caller, 'own-account', 'This plan is about your own account: another identity technician must approve it. Nothing was changed.');
    }
    if (plan.approvedBy.id) return { card: planCard(plan, this.now()) };
    // The second pair of eyes on a privileged account proves a fresh MFA, as approving high-risk access does.
    const proof = await this.proveFreshMfa(plan, caller, data.mfaCode);
    if ('card' in proof) return proof;
    const by = { id: caller.user.id, name: caller.user.displayName };
    const ok = this.d.store.transaction(() => {
      if (!this.d.store.technician.plans.approve(plan.id, by)) return false;
      this.auditPlan(plan, 'technician.plan-approved', caller, { proposer: plan.actor, ...(proof.assurance ? { assurance: proof.assurance } : {}) });
      return true;
    });
    const after = this.d.store.technician.plans.get<Step, PlanArgs>(plan.id)!;
    if (!ok) return { card: planCard(after, this.now()) };
    if (!after.confirmedAt) {
      await this.runner.updateCards(after);
      return { card: planCard(after, this.now(), { text: `Approved by ${caller.user.displayName}. It runs when ${plan.actor.name} confirms.`, tone: 'accent' }) };
    }
    const changed = await this.recheck(after, caller);
    if (changed) return changed;
    return this.startIfReady(after, caller);
  }

  /** Proofs of fresh MFA (built with sign-in recovery's verifier, after this service). */
  useFreshMfa(freshMfa: FreshMfa): void {
    this.freshMfa = freshMfa;
  }

  /**
   * The approving technician's fresh MFA: a proof still fresh, or the code typed on the card
   * checked now; else the plan card asking for it (nothing changes). Without a way to prove
   * it, the approval is refused: fail closed.
   */
  private async proveFreshMfa(plan: TechPlan, caller: Caller, mfaCode: unknown): Promise<{ assurance: Assurance | null } | ClickResult> {
    if (!this.freshMfa) return { assurance: null };
    const fresh = this.freshMfa.current(caller.user.id);
    if (fresh) return { assurance: fresh };
    const way = await this.freshMfa.way(caller.user);
    if (way === 'code' && typeof mfaCode === 'string' && mfaCode.trim()) {
      const proof = await this.freshMfa.proveByCode(caller.user, mfaCode, plan.id);
      if (proof.ok) return { assurance: proof.assurance };
      return this.refusePlan(plan, caller, 'mfa-not-proven', `${proof.message} Nothing was changed.`, { askMfaCode: true });
    }
    const how =
      way === 'code'
        ? 'type the 6-digit code your authenticator app shows and click Approve again'
        : way === 'sign-in'
          ? 'sign in again with MFA in your 1:1 chat with me (type **verify my MFA** there), then click Approve again'
          : 'but there is no way to prove it here; another identity technician must approve';
    this.auditPlan(plan, 'technician.mfa-required', caller, { way });
    const card = planCard(plan, this.now(), { text: `Approving a plan for a privileged account needs proof of your MFA (valid ${this.freshMfa.maxAgeMinutes} minutes): ${how}. Nothing was changed yet.`, tone: 'warning' }, { askMfaCode: way === 'code' });
    return { card };
  }

  /**
   * Computes the plan again: when the directory or the store changed since it was shown, the
   * new plan replaces it and must be confirmed (and approved) again; when nothing is left to
   * do, it is cancelled. Null when it still stands.
   */
  private async recheck(plan: TechPlan, caller: Caller): Promise<ClickResult | null> {
    const user = await this.d.directory.getUser(plan.subject.id);
    const resourceId = (plan.steps.find((s) => s.kind === 'revoke-access' || s.kind === 'grant-access') as { resourceId?: string } | undefined)?.resourceId;
    const resource = resourceId ? (this.d.catalog.resources.find((r) => r.id === resourceId) ?? null) : null;
    const again = user ? await this.planSteps(plan.command, user, plan.args, resource) : { refusal: `${plan.subject.name} is no longer in the directory.` };
    if ('refusal' in again) {
      this.d.store.transaction(() => {
        if (this.d.store.technician.plans.end(plan.id, 'cancelled')) this.auditPlan(plan, 'technician.plan-cancelled', caller, { reason: 'nothing-to-do', detail: again.refusal });
      });
      const ended = this.d.store.technician.plans.get<Step, PlanArgs>(plan.id)!;
      await this.runner.updateCards(ended);
      return { card: planCard(ended, this.now(), { text: `Checked again: ${again.refusal}`, tone: 'warning' }) };
    }
    let steps = again.steps;
    // A mover's additions were made when it was proposed; the plan is its removals.
    if (plan.command === 'move' && plan.steps.length === 1) steps = steps.filter((s) => s.kind === 'remove-groups');
    const fourEyes = await this.fourEyesReason(plan.command, plan.subject.id, steps);
    const privileged = fourEyes !== null;
    const signature = signatureOf(steps, privileged);
    if (signature === plan.signature) return null;
    const expiresAt = new Date(this.now().getTime() + this.d.config.technicians.planMinutes * 60_000);
    this.d.store.transaction(() => {
      if (this.d.store.technician.plans.replan(plan.id, steps, signature, privileged, expiresAt)) {
        this.auditPlan(plan, 'technician.plan-changed', caller, { before: JSON.parse(plan.signature), after: JSON.parse(signature) });
      }
    });
    const changed = this.d.store.technician.plans.get<Step, PlanArgs>(plan.id)!;
    await this.runner.updateCards(changed);
    return { card: planCard(changed, this.now(), { text: 'The directory changed since this plan was made. This is the plan now: review it and confirm again (a second approval, where needed, is asked again too). Nothing was changed yet.', tone: 'warning' }) };
  }

  /** Both confirmations in place: the one-time claim, then the plan runs as a durable job. */
  private startIfReady(plan: TechPlan, caller: Caller): ClickResult {
    if (!plan.confirmedAt || (plan.privileged && !plan.approvedBy.id)) {
      return { card: planCard(plan, this.now(), { text: 'Confirmed. It runs as soon as a second identity technician approves it (privileged account).', tone: 'accent' }) };
    }
    const started = this.d.store.transaction(() => {
      if (!this.d.store.technician.plans.start(plan.id)) return false;
      this.auditPlan(plan, 'technician.plan-started', caller, { command: plan.command, steps: plan.steps.map((s) => s.kind), approvedBy: plan.approvedBy.id ? plan.approvedBy : null });
      this.d.store.jobs.schedule({ kind: TECH_JOBS.runPlan, requestId: plan.id, runAt: this.now(), dedupeKey: `tech.run:${plan.id}`, maxAttempts: this.d.config.jobs.maxAttempts });
      return true;
    });
    this.d.scheduler.kick();
    return { card: planCard(this.d.store.technician.plans.get<Step, PlanArgs>(plan.id)!, this.now(), started ? { text: 'Running: this card shows each step as it is done.', tone: 'accent' } : null) };
  }

  private async clickCancel(data: Record<string, unknown>, caller: Caller): Promise<ClickResult> {
    const plan = this.planOf(data);
    if (!plan) return { card: notice('This plan is no longer active', 'Type the command again.', 'warning') };
    if (plan.state !== 'proposed') return { card: planCard(plan, this.now()) };
    // The account the plan acts on has no say in it: disabling a compromised technician must not be theirs to stop.
    if (plan.subject.id === caller.user.id) {
      return this.refusePlan(plan, caller, 'own-account', 'This plan is about your own account: another identity technician decides on it. Nothing was changed.');
    }
    this.d.store.transaction(() => {
      if (this.d.store.technician.plans.end(plan.id, 'cancelled')) this.auditPlan(plan, 'technician.plan-cancelled', caller, { reason: 'by-technician', proposer: plan.actor.id === caller.user.id });
    });
    const after = this.d.store.technician.plans.get<Step, PlanArgs>(plan.id)!;
    await this.runner.updateCards(after);
    return { card: planCard(after, this.now(), { text: `Cancelled by ${caller.user.displayName}. Nothing was changed.`, tone: 'default' }) };
  }

  /** "Run again" on a plan that finished with problems: a fresh plan of what is left. */
  private async clickRerun(data: Record<string, unknown>, caller: Caller): Promise<ClickResult> {
    const plan = this.planOf(data);
    if (!plan || plan.state !== 'partial') return { card: plan ? planCard(plan, this.now()) : notice('This plan is no longer active', 'Type the command again.', 'warning') };
    // A mover's second run still gives up the groups of the old role, which the directory no longer says.
    const from = plan.command === 'move' ? (plan.args.from as MovedFrom | undefined) : undefined;
    const parsed = from ? parseCommand(plan.args.rerun, this.now()) : null;
    const replies = parsed?.ok ? await this.execute(parsed.command, caller, plan.args.rerun, { from }) : await this.handle(plan.args.rerun, caller);
    return { card: planCard(plan, this.now(), { text: `${caller.user.displayName} ran it again: see the new plan below.`, tone: 'accent' }), replies };
  }

  private clickHide(data: Record<string, unknown>, caller: Caller): ClickResult {
    const plan = this.planOf(data);
    if (!plan || plan.actor.id !== caller.user.id || !plan.secretActivityId) return { card: notice('This card is no longer active', 'Nothing to hide here.', 'warning') };
    return { card: this.runner.hideNow(plan, { id: caller.user.id, name: caller.user.displayName }) };
  }

  private async clickTicket(verb: string, data: Record<string, unknown>, caller: Caller, inputs: Record<string, unknown>): Promise<ClickResult> {
    const id = data.ticket;
    if (!isTicketId(id)) return { card: notice('This card is no longer active', 'Type pending for the queue.', 'warning') };
    let result;
    if (verb === 'ticket.take') result = this.d.tickets.take(caller.user, id, caller.correlationId);
    else if (verb === 'ticket.close') result = this.d.tickets.close(caller.user, id, inputs.note, caller.correlationId);
    else {
      const query = typeof inputs.assignee === 'string' ? inputs.assignee.trim().slice(0, 200) : '';
      if (!query) result = { ok: false, message: 'Type the name or sign-in name of the technician to assign it to.', ticket: this.d.store.technician.tickets.get(id) };
      else
        result = await this.d.tickets.assign(caller.user, id, query, caller.correlationId, async (q) => {
          const r = await resolveUser(this.d.directory, q);
          if (r.kind === 'one') return r.value;
          if (r.kind === 'none') return r.message;
          return `"${q.slice(0, 60)}" matches ${r.values.map((u) => u.displayName).join(', ')}${r.more ? ' and more' : ''}: type the sign-in name.`;
        });
    }
    if (!result.ticket) return { card: notice('No such ticket', result.message, 'warning') };
    return { card: this.d.tickets.cardFor(result.ticket), replies: result.ok ? [] : [text(result.message)] };
  }
}

function text(t: string): Reply {
  return { kind: 'text', text: t };
}

function card(c: AdaptiveCardJson): Reply {
  return { kind: 'card', card: c };
}

function isUser(x: DirectoryUser | Reply[]): x is DirectoryUser {
  return !Array.isArray(x);
}

function isGroup(x: DirectoryGroup | Reply[]): x is DirectoryGroup {
  return !Array.isArray(x);
}

export function notice(title: string, body: string, tone: 'good' | 'warning' | 'attention' | 'default' = 'default'): AdaptiveCardJson {
  return renderTechCard({ title, text: body, tone });
}

/** One event as a line; `names` shows known targets (the person looked up) by name, not object id. */
function eventFact(e: AuditEvent, names: ReadonlyMap<string, string> = new Map()): Fact {
  return {
    title: `#${e.seq} ${e.ts.slice(0, 16).replace('T', ' ')}`,
    value: `${e.action} · ${e.outcome} · ${e.actorName ?? e.actorId ?? 'unknown'}${e.target ? ` → ${names.get(e.target) ?? e.target}` : ''}${e.correlationId && /^(REQ|TKT|PLN|DRF|REV)-/.test(e.correlationId) ? ` [${e.correlationId}]` : ''}`,
  };
}

function csvRow(e: AuditEvent): string {
  return [e.seq, e.ts, e.actorId, e.actorName, e.action, e.target, e.outcome, e.details, e.correlationId, e.prevHash, e.hash].map(csvField).join(',');
}

