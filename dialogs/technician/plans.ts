import { renderSecretCard, renderTechCard, type Fact, type TechAction, type Tone } from '../../adaptive-cards/technician';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import type { AppConfig } from '../../bot/config';
import { APP_NAME } from '../../bot/deps';
import type { Logger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import { DIRECTORY_LANE, PermanentJobError, type Scheduler } from '../../bot/scheduler';
import { findResourceById, type Catalog } from '../../directory/catalog';
import {
  BASELINE_CAPABILITIES,
  ConflictError,
  DirectoryError,
  isDefiniteRefusal,
  NotFoundError,
  type AuthMethod,
  type Directory,
  type DirectoryUser,
  type MembershipChange,
} from '../../directory/directory';
import type { AuditActor } from '../../store/audit-trail';
import type { Job } from '../../store/jobs';
import type { Store } from '../../store/store';
import type { Plan, StepResult } from '../../store/technician';
import { ACCESS_JOBS } from '../access-service';
import { formatDuration, formatTime } from '../access-duration';
import { checkRequest, heldResources, nextEnabledManager, snapshotPolicy, type Refusal } from '../access-policy';
import { EffectUncertainError, type RecoveryActions, type RecoveryVerification, type SecretOutlet } from '../signin/recovery-actions';
import { INTENT_ACTIONS, openIntents, OUTCOME_ACTIONS, recordIntent, type ReconciledOutcome } from '../effect-intents';
import { messageWith, type TicketService } from './tickets';

/**
 * Plans of technician commands and how they are carried out. A plan is a list of steps
 * computed from the directory and the store when the command is typed; a destructive one
 * (or any one about a member of a privileged group) waits for its proposer's confirmation
 * (and a second technician's approval), is computed again at that moment, and then runs as
 * a durable job: step by step, saving its progress and updating its card after each, so a
 * run cut short continues where it stopped. Every step is idempotent: running a plan again
 * after a partial failure does only what is left.
 */

export type Step =
  | { kind: 'disable' }
  | { kind: 'enable' }
  | { kind: 'revoke-sessions' }
  | { kind: 'unlock' }
  | { kind: 'reset-password' }
  | { kind: 'tap'; minutes: number; oneTime: boolean }
  | { kind: 'remove-mfa'; methods: Array<{ id: string; kind: string; isDefault: boolean }> }
  /** `mfa-reset`: every method but the password removed, then every session revoked (the sign-in recovery's action). */
  | { kind: 'mfa-reset'; methods: Array<{ id: string; kind: string; isDefault: boolean }> }
  /**
   * A mover's department, and title and manager when given; `from` is what they were when the
   * plan was made (shown). `onPremises`: mastered in AD and not reachable here, so not changed.
   */
  | {
      kind: 'update-profile';
      department: string;
      jobTitle?: string;
      manager?: { id: string; name: string };
      from: { department: string | null; jobTitle: string | null; manager: string | null };
      onPremises?: boolean;
    }
  | { kind: 'add-groups'; groups: Array<{ id: string; name: string }> }
  | { kind: 'remove-groups'; groups: Array<{ id: string; name: string }> }
  | { kind: 'cancel-requests'; requests: Array<{ id: string; name: string; state: string }> }
  | { kind: 'reassign-approvals'; requests: Array<{ id: string; stage: number; name: string }>; to: { id: string; name: string } | null }
  | { kind: 'report-direct-reports'; reports: Array<{ id: string; name: string }> }
  | { kind: 'grant-access'; resourceId: string; resourceName: string; hours: number | null }
  | { kind: 'revoke-access'; resourceId: string; resourceName: string; groupId: string };

/** What a plan keeps of its command; never a secret. */
export interface PlanArgs {
  reason?: string | null;
  /** The command line that proposes this plan again (subject by object id). */
  rerun: string;
  /** A second plan's id, when the command did part of its work at once (a mover's additions). */
  related?: string | null;
  /** One sentence about what already happened when the plan was proposed. */
  note?: string | null;
  [key: string]: unknown;
}

export type TechPlan = Plan<Step, PlanArgs>;

export const TECH_JOBS = {
  runPlan: 'technician.run-plan',
  hideSecret: 'technician.hide-secret',
} as const;

/** Membership changes per directory call: small enough for progress, well within the 1000 a call takes. */
export const MEMBERSHIP_CHUNK = 100;

export interface PlanDeps {
  config: AppConfig;
  store: Store;
  directory: Directory;
  logger: Logger;
  clock: () => Date;
  notifier: Notifier;
  tickets: TicketService;
  catalog: Catalog;
  /** The sign-in recovery's actions: passwords, passes, MFA resets and unlocks go through them. */
  recovery: RecoveryActions;
}

const METHOD_NAMES: Record<string, string> = {
  password: 'Password',
  microsoftAuthenticator: 'Microsoft Authenticator',
  phone: 'Phone',
  fido2: 'FIDO2 security key',
  email: 'Email',
  softwareOath: 'Authenticator app (OATH)',
  temporaryAccessPass: 'Temporary Access Pass',
  windowsHelloForBusiness: 'Windows Hello for Business',
};

export function methodName(kind: string): string {
  return METHOD_NAMES[kind] ?? kind;
}

const COMMAND_TITLES: Record<string, string> = {
  disable: 'disable',
  enable: 'enable',
  unlock: 'unlock',
  'reset-password': 'reset the password of',
  tap: 'issue a Temporary Access Pass to',
  'mfa-reset': 'reset the MFA of',
  onboard: 'onboard',
  move: 'move',
  offboard: 'offboard',
  grant: 'grant access to',
  revoke: 'revoke access of',
};

function names(list: Array<{ name: string }>, max = 12): string {
  if (!list.length) return 'none';
  const shownNames = list.slice(0, max).map((x) => x.name);
  return `${shownNames.join(', ')}${list.length > max ? ` and ${list.length - max} more` : ''}`;
}

/** What a step will do, as planned. */
export function describeStep(step: Step): { label: string; planned: string; empty: boolean } {
  switch (step.kind) {
    case 'disable':
      return { label: 'Disable the account', planned: 'Nobody can sign in with it any more.', empty: false };
    case 'enable':
      return { label: 'Enable the account', planned: 'The user can sign in again.', empty: false };
    case 'revoke-sessions':
      return { label: 'Sign out everywhere', planned: 'Revokes every sign-in session and refresh token.', empty: false };
    case 'unlock':
      return { label: 'Unlock the account', planned: 'Clears the lockout.', empty: false };
    case 'reset-password':
      return { label: 'Set a temporary password', planned: 'Changed at next sign-in; shown only in your 1:1 chat, hidden after a few minutes.', empty: false };
    case 'tap':
      return { label: 'Issue a Temporary Access Pass', planned: `${step.minutes} minutes${step.oneTime ? ', one-time' : ''}; shown only in your 1:1 chat.`, empty: false };
    case 'remove-mfa':
      return { label: `Remove MFA methods (${step.methods.length})`, planned: step.methods.length ? step.methods.map((m) => methodName(m.kind) + (m.isDefault ? ' (default)' : '')).join(', ') : 'nothing to remove', empty: !step.methods.length };
    case 'mfa-reset':
      return {
        label: `Remove MFA methods (${step.methods.length}) and sign out everywhere`,
        planned: step.methods.length ? step.methods.map((m) => methodName(m.kind) + (m.isDefault ? ' (default)' : '')).join(', ') : 'nothing to remove',
        empty: !step.methods.length,
      };
    case 'update-profile':
      return { label: 'Set department, title and manager', planned: profileChangeText(step) + (step.onPremises ? ' (not here: mastered in on-premises Active Directory, change it there)' : ''), empty: false };
    case 'add-groups':
      return { label: `Add to groups (${step.groups.length})`, planned: names(step.groups), empty: !step.groups.length };
    case 'remove-groups':
      return { label: `Remove from groups (${step.groups.length})`, planned: names(step.groups), empty: !step.groups.length };
    case 'cancel-requests':
      return { label: `Cancel open requests (${step.requests.length})`, planned: step.requests.length ? step.requests.map((r) => `${r.id} ${r.name}`).join(', ') : 'none open', empty: !step.requests.length };
    case 'reassign-approvals':
      return {
        label: `Hand pending approvals to the manager (${step.requests.length})`,
        planned: step.requests.length ? `${step.requests.map((r) => r.id).join(', ')} to ${step.to?.name ?? 'NOBODY: no manager is set'}` : 'none waiting',
        empty: !step.requests.length,
      };
    case 'report-direct-reports':
      return { label: `Direct reports needing a new manager (${step.reports.length})`, planned: step.reports.length ? `${names(step.reports)}: a ticket will track it` : 'none', empty: !step.reports.length };
    case 'grant-access':
      return { label: `Grant ${step.resourceName}`, planned: formatDuration(step.hours), empty: false };
    case 'revoke-access':
      return { label: `Remove ${step.resourceName}`, planned: 'Removes the group membership now and ends any time-bound grant of it.', empty: false };
  }
}

/** A stable summary of what a plan would change, compared again at confirmation. */
export function signatureOf(steps: Step[], privileged: boolean): string {
  const norm = steps.map((s) => {
    switch (s.kind) {
      case 'remove-mfa':
      case 'mfa-reset':
        return { k: s.kind, ids: s.methods.map((m) => m.id).sort() };
      case 'update-profile':
        return { k: s.kind, department: s.department, jobTitle: s.jobTitle ?? null, manager: s.manager?.id ?? null, onPremises: s.onPremises === true };
      case 'add-groups':
      case 'remove-groups':
        return { k: s.kind, ids: s.groups.map((g) => g.id).sort() };
      case 'cancel-requests':
        return { k: s.kind, ids: s.requests.map((r) => r.id).sort() };
      case 'reassign-approvals':
        return { k: s.kind, ids: s.requests.map((r) => `${r.id}:${r.stage}`).sort(), to: s.to?.id ?? null };
      case 'report-direct-reports':
        return { k: s.kind, ids: s.reports.map((r) => r.id).sort() };
      default:
        return s;
    }
  });
  return JSON.stringify({ steps: norm, privileged });
}

const STATUS_MARK: Record<StepResult['status'], string> = {
  pending: 'to do',
  running: 'running…',
  done: 'done',
  skipped: 'nothing to do',
  failed: 'FAILED',
  partial: 'PARTLY DONE',
};

/** The plan card: what will happen (proposed), how far it got (running), what happened (finished). */
export function planCard(plan: TechPlan, now: Date, note?: { text: string; tone?: Tone } | null, options: { askMfaCode?: boolean } = {}): AdaptiveCardJson {
  const verb = COMMAND_TITLES[plan.command] ?? plan.command;
  const proposed = plan.state === 'proposed';
  const stepsFacts: Fact[] = plan.steps.map((step, i) => {
    const d = describeStep(step);
    const p = plan.progress[i];
    const value = proposed || !p || p.status === 'pending' ? d.planned : `${STATUS_MARK[p.status]}${p.detail ? `: ${p.detail}` : ''}`;
    return { title: `Step ${i + 1}: ${d.label}`, value };
  });
  const failures = plan.progress.flatMap((p, i) => (p.failures ?? []).map((f) => ({ title: `Step ${i + 1}`, value: f })));
  let status: string;
  let tone: Tone;
  const actions: TechAction[] = [];
  switch (plan.state) {
    case 'proposed': {
      const waits: string[] = [];
      if (!plan.confirmedAt) waits.push(`${plan.actor.name}'s confirmation`);
      if (plan.privileged && !plan.approvedBy.id) waits.push("a second technician's approval (privileged account)");
      status = waits.length ? `Waiting for ${waits.join(' and ')}` : 'Ready';
      if (plan.approvedBy.id) status += ` · approved by ${plan.approvedBy.name}`;
      tone = 'warning';
      if (!plan.confirmedAt) actions.push({ id: 'tech-confirm', title: 'Confirm', verb: 'tech.confirm', data: { plan: plan.id }, style: 'positive' });
      if (plan.privileged && !plan.approvedBy.id) actions.push({ id: 'tech-approve', title: 'Approve (second technician)', verb: 'tech.approve', data: { plan: plan.id } });
      actions.push({ id: 'tech-cancel', title: 'Cancel', verb: 'tech.cancel', data: { plan: plan.id }, style: 'destructive' });
      break;
    }
    case 'running': {
      const done = plan.progress.filter((p) => p.status !== 'pending' && p.status !== 'running').length;
      status = `Running: ${done} of ${plan.steps.length} steps done`;
      tone = 'accent';
      break;
    }
    case 'done':
      status = 'Done';
      tone = 'good';
      break;
    case 'partial':
      status = 'Finished with problems: run it again to finish what is left';
      tone = 'attention';
      actions.push({ id: 'tech-rerun', title: 'Run again', verb: 'tech.rerun', data: { plan: plan.id } });
      break;
    case 'cancelled':
      status = 'Cancelled: nothing was changed';
      tone = 'default';
      break;
    case 'expired':
      status = 'Expired before it was confirmed: nothing was changed';
      tone = 'default';
      break;
  }
  const facts: Fact[] = [
    { title: 'Proposed by', value: `${plan.actor.name}, ${formatTime(plan.createdAt)}` },
    ...(plan.args.reason ? [{ title: 'Reason', value: plan.args.reason }] : []),
    ...(plan.privileged ? [{ title: 'Four eyes', value: plan.approvedBy.id ? `approved by ${plan.approvedBy.name}` : `${typeof plan.args.fourEyes === 'string' ? plan.args.fourEyes : 'privileged account'}: a second technician must approve` }] : []),
    ...(proposed ? [{ title: 'Confirm by', value: formatTime(plan.expiresAt) }] : []),
    ...(plan.finishedAt ? [{ title: 'Finished', value: formatTime(plan.finishedAt) }] : []),
  ];
  const text = note?.text ?? (plan.args.note ? plan.args.note : proposed ? 'Nothing has been changed yet. The plan is checked again when it is confirmed.' : '');
  return renderTechCard({
    title: `${plan.id}: ${verb} ${plan.subject.name}`,
    subtitle: plan.subject.upn,
    status,
    tone: note?.tone ?? tone,
    text,
    facts,
    sections: [
      { key: 'steps', title: proposed ? 'The plan' : 'Progress', facts: stepsFacts },
      ...(failures.length ? [{ key: 'failures', title: 'Problems', facts: failures.slice(0, 20) }] : []),
    ],
    footer: `Audit: audit ${plan.id}${now.getTime() > Date.parse(plan.expiresAt) && proposed ? ' · this plan has expired' : ''}`,
    actions,
    askMfaCode: proposed && options.askMfaCode === true && actions.some((a) => a.id === 'tech-approve'),
  });
}

/** "department Sales → Finance, title A → B, manager C → D": what a profile step changes. */
export function profileChangeText(step: Extract<Step, { kind: 'update-profile' }>): string {
  const parts = [`department ${step.from.department ?? 'none'} → ${step.department}`];
  if (step.jobTitle !== undefined) parts.push(`title ${step.from.jobTitle ?? 'none'} → ${step.jobTitle}`);
  if (step.manager !== undefined) parts.push(`manager ${step.from.manager ?? 'none'} → ${step.manager.name}`);
  return parts.join(', ');
}

/** Steps that change the directory: each is on record as attempted before it runs. */
const DIRECTORY_STEPS: ReadonlySet<Step['kind']> = new Set<Step['kind']>([
  'disable',
  'enable',
  'revoke-sessions',
  'unlock',
  'reset-password',
  'tap',
  'remove-mfa',
  'mfa-reset',
  'update-profile',
  'add-groups',
  'remove-groups',
]);

/** Steps whose whole effect the directory shows afterwards: once it shows them done, they are not made again. */
const READ_BACK_STEPS: ReadonlySet<Step['kind']> = new Set<Step['kind']>(['disable', 'enable', 'add-groups', 'remove-groups', 'update-profile']);

const SYSTEM_ACTOR: AuditActor = { id: 'system', name: APP_NAME };

/**
 * A secret step cut short is not made again by itself (a new secret nobody is waiting for):
 * the technician runs the command again, knowing what the directory shows.
 */
function secretStepAfterStop(kind: 'reset-password' | 'tap', outcome: ReconciledOutcome): StepResult {
  const what = kind === 'tap' ? 'the Temporary Access Pass' : 'the temporary password';
  const detail =
    outcome === 'done'
      ? `the bot stopped after ${what} was set, before it was shown; it is not shown again: run the command again for a new one`
      : outcome === 'not-done'
        ? `the bot stopped before ${what} was set: run the command again`
        : `the bot stopped; the directory does not show whether ${what} was set: check, then run the command again`;
  return { status: 'partial', detail, failures: ['interrupted by a stop'] };
}

/** Runs plans' steps; registered as the `technician.run-plan` job and used inline for immediate commands. */
export class PlanRunner {
  constructor(private readonly d: PlanDeps) {}

  registerJobs(scheduler: Scheduler): void {
    scheduler.register(TECH_JOBS.runPlan, { lane: DIRECTORY_LANE, run: (job) => this.runJob(job) });
    scheduler.register(TECH_JOBS.hideSecret, { run: (job) => this.runHideSecret(job) });
    this.resumeInterrupted();
  }

  /**
   * Before the scheduler starts: a plan left running with no job to run it (an immediate
   * command run inline, cut short by a stop) gets one, so its cut-short step is reconciled
   * with the directory and the plan finished. A plan whose job was cut short is run by that job.
   */
  private resumeInterrupted(): void {
    this.d.store.transaction(() => {
      for (const id of this.d.store.technician.plans.runningIds()) {
        if (this.d.store.jobs.forRequest(id).some((j) => j.kind === TECH_JOBS.runPlan && (j.state === 'pending' || j.state === 'running'))) continue;
        this.d.store.jobs.schedule({ kind: TECH_JOBS.runPlan, requestId: id, runAt: this.now(), dedupeKey: `tech.resume:${id}`, maxAttempts: this.d.config.jobs.maxAttempts });
      }
    });
  }

  private now(): Date {
    return this.d.clock();
  }

  private plan(id: string): TechPlan | null {
    return this.d.store.technician.plans.get<Step, PlanArgs>(id);
  }

  private async runJob(job: Job): Promise<void> {
    if (!job.requestId || !this.plan(job.requestId)) throw new PermanentJobError(`plan ${job.requestId} not found`);
    await this.run(job.requestId, true);
  }

  /**
   * Runs every step of a running plan that is not finished yet, saving progress (and, when
   * `updateCards`, updating the plan's cards) after each. Step failures are recorded, not
   * thrown: the plan ends `partial` and can be run again.
   */
  async run(planId: string, updateCards: boolean): Promise<TechPlan> {
    let plan = this.plan(planId)!;
    if (plan.state !== 'running') return plan;
    const progress: StepResult[] = plan.steps.map((_, i) => plan.progress[i] ?? { status: 'pending', detail: '' });
    const save = async () => {
      this.d.store.technician.plans.saveProgress(planId, progress);
      if (updateCards) await this.updateCards(this.plan(planId)!);
    };
    for (let i = 0; i < plan.steps.length; i++) {
      const current = progress[i]!;
      if (current.status !== 'pending' && current.status !== 'running') continue;
      // Saved as running: a stop cut this step short, perhaps after its change and event.
      const interrupted = current.status === 'running';
      const step = plan.steps[i]!;
      const previous = interrupted ? this.stepIntent(plan, i) : null;
      progress[i] = { status: 'running', detail: '' };
      // The claim of the step and its intent commit together, before the directory is called.
      const intent = this.d.store.transaction(() => {
        this.d.store.technician.plans.saveProgress(planId, progress);
        return DIRECTORY_STEPS.has(step.kind) ? recordIntent(this.d.store.audit, plan.actor, INTENT_ACTIONS.technicianStep, plan.subject.id, plan.id, this.now(), { step: step.kind, index: i }) : null;
      });
      if (updateCards) await this.updateCards(this.plan(planId)!);
      let result: StepResult;
      try {
        const reconciled = previous ? await this.reconcileStep(plan, step, i, previous) : null;
        result =
          reconciled && (step.kind === 'reset-password' || step.kind === 'tap')
            ? secretStepAfterStop(step.kind, reconciled)
            : reconciled === 'done' && READ_BACK_STEPS.has(step.kind)
              ? { status: 'done', detail: 'done before the bot stopped (the directory shows it)' }
              : await this.runStep(plan, step, interrupted, async (partial) => {
                progress[i] = partial;
                await save();
              });
      } catch (err) {
        const uncertain = intent !== null && !isDefiniteRefusal(err instanceof EffectUncertainError ? err.cause : err);
        result = uncertain ? await this.settleUncertain(plan, step, i, intent, err) : { status: 'failed', detail: errorText(err) };
        if (result.status === 'failed') this.audit(plan, `technician.step-failed`, 'failure', { step: plan.steps[i]!.kind, error: errorText(err) });
      }
      progress[i] = result;
      await save();
      plan = this.plan(planId)!;
    }
    const outcome = progress.some((p) => p.status === 'failed' || p.status === 'partial') ? 'partial' : 'done';
    this.d.store.transaction(() => {
      if (!this.d.store.technician.plans.finish(planId, outcome, progress)) return;
      this.audit(plan, 'technician.plan-finished', outcome === 'done' ? 'success' : 'failure', {
        command: plan.command,
        outcome,
        steps: plan.steps.map((s, i) => ({ step: s.kind, status: progress[i]!.status })),
        // Every step intent has its outcome here (a stop before this line leaves them open).
        attempts: this.d.store.audit.query({ correlationId: plan.id, action: INTENT_ACTIONS.technicianStep }, { limit: 10_000 }).map((e) => e.seq),
      });
    });
    const finished = this.plan(planId)!;
    if (updateCards) await this.updateCards(finished);
    return finished;
  }

  /**
   * A step whose directory call failed in a way that does not say whether it was made (a
   * timeout, a 5xx, a connection closed after sending): re-read the directory now and record
   * what it shows (`technician.step-reconciled`). "failed" only when it shows the change was
   * not made; unknown (checked by a person) when it cannot tell or does not answer.
   */
  private async settleUncertain(plan: TechPlan, step: Step, index: number, attempt: number, err: unknown): Promise<StepResult> {
    const cause = err instanceof EffectUncertainError ? err.cause : err;
    let outcome: ReconciledOutcome;
    try {
      outcome = await this.reconcileStep(plan, step, index, attempt);
    } catch (e) {
      outcome = 'unknown';
      this.d.store.audit.append({
        actor: SYSTEM_ACTOR,
        action: OUTCOME_ACTIONS.stepReconciled,
        target: plan.subject.id,
        outcome: 'failure',
        correlationId: plan.id,
        details: { attempt, step: step.kind, index, outcome, reason: 'the directory did not answer', error: (e as Error)?.name ?? 'Error' },
      });
    }
    const secret = step.kind === 'reset-password' ? 'the temporary password' : step.kind === 'tap' ? 'the Temporary Access Pass' : null;
    const noAnswer = `the directory did not answer (${errorText(cause)})`;
    if (outcome === 'not-done') return { status: 'failed', detail: `${noAnswer}; it shows the change was not made: run it again` };
    if (outcome === 'done') {
      return secret
        ? { status: 'partial', detail: `${noAnswer}; it shows ${secret} was set, but it was never shown and is not shown again: run the command again for a new one`, failures: ['the directory did not answer'] }
        : { status: 'done', detail: `${noAnswer}; it shows the change was made` };
    }
    return { status: 'partial', detail: `${noAnswer}; it does not show whether the change was made: check, then run it again`, failures: ['outcome unknown'] };
  }

  /** The last intent of step `index` on record, or null (a plan from before intents, or a step that changes no directory). */
  private stepIntent(plan: TechPlan, index: number): number | null {
    const intents = this.d.store.audit.query({ correlationId: plan.id, action: INTENT_ACTIONS.technicianStep }, { limit: 10_000 });
    const mine = intents.filter((e) => (JSON.parse(e.details) as { index?: number }).index === index);
    return mine.at(-1)?.seq ?? null;
  }

  /**
   * A step a stop cut short: what the directory shows of it now, on record as
   * `technician.step-reconciled` (done, not-done, or unknown when it cannot tell; never
   * "failed" for a change that may have been made). The recovery actions' own intents inside
   * the step are reconciled with it and named by it.
   */
  private async reconcileStep(plan: TechPlan, step: Step, index: number, attempt: number): Promise<ReconciledOutcome> {
    const userId = plan.subject.id;
    const dir = this.d.directory;
    const after = (e: { seq: number }) => e.seq > attempt;
    const inner = openIntents(this.d.store.audit, plan.id).filter((e) => after(e) && e.action !== INTENT_ACTIONS.technicianStep);
    let outcome: ReconciledOutcome = 'unknown';
    const details: Record<string, unknown> = {};
    switch (step.kind) {
      case 'disable':
      case 'enable': {
        const user = await dir.getUser(userId);
        outcome = user ? (user.accountEnabled === (step.kind === 'enable') ? 'done' : 'not-done') : 'unknown';
        break;
      }
      case 'add-groups':
      case 'remove-groups': {
        const ids = step.groups.map((g) => g.id);
        const member = new Set<string>();
        for (let k = 0; k < ids.length; k += 20) for (const g of await dir.checkMemberGroups(userId, ids.slice(k, k + 20))) member.add(g);
        const changed = ids.filter((g) => member.has(g) === (step.kind === 'add-groups')).length;
        outcome = changed === ids.length ? 'done' : 'not-done';
        Object.assign(details, { changed, of: ids.length });
        break;
      }
      case 'update-profile': {
        const user = await dir.getUser(userId);
        outcome = user ? ((user as { department?: string | null }).department === step.department ? 'done' : 'not-done') : 'unknown';
        break;
      }
      case 'revoke-sessions':
        // Signing out leaves nothing to read back: only the trail can say it was done.
        outcome = this.d.store.audit.query({ correlationId: plan.id, action: 'technician.sessions-revoked' }, { limit: 10_000 }).some(after) ? 'done' : 'unknown';
        break;
      default: {
        // The sign-in recovery's actions: their own intents say what was on its way.
        const results: ReconciledOutcome[] = [];
        for (const intent of inner) results.push((await this.d.recovery.reconcile(intent, userId)).outcome);
        const resolved = this.d.store.audit.query({ correlationId: plan.id, action: 'signin.*' }, { limit: 10_000 }).some((e) => after(e) && e.action.endsWith('-attempted'));
        outcome = results.includes('unknown') ? 'unknown' : results.includes('done') ? 'done' : inner.length ? 'not-done' : resolved ? 'done' : 'not-done';
        Object.assign(details, { effects: inner.map((e) => e.action.replace(/-attempted$/, '')) });
      }
    }
    this.d.store.audit.append({
      actor: SYSTEM_ACTOR,
      action: OUTCOME_ACTIONS.stepReconciled,
      target: userId,
      outcome: outcome === 'unknown' ? 'failure' : 'success',
      correlationId: plan.id,
      details: { attempt, attempts: inner.map((e) => e.seq), step: step.kind, index, outcome, ...details },
    });
    return outcome;
  }

  /** Replaces every posted copy of the plan's card with its current state. */
  async updateCards(plan: TechPlan): Promise<void> {
    const card = planCard(plan, this.now());
    for (const ref of this.d.store.technician.cards.forOwner(plan.id, 'plan')) {
      try {
        await this.d.notifier.update(ref.reference, ref.activityId, messageWith(card));
      } catch (err) {
        this.d.logger.warn({ correlationId: plan.id, err: { name: (err as Error).name, message: (err as Error).message } }, 'plan card update failed');
      }
    }
  }

  private audit(plan: TechPlan, action: string, outcome: 'success' | 'failure' | 'refused', details: Record<string, unknown>, actor?: AuditActor): void {
    this.d.store.audit.append({ actor: actor ?? plan.actor, action, target: plan.subject.id, outcome, correlationId: plan.id, details });
  }

  private async runStep(plan: TechPlan, step: Step, interrupted: boolean, report: (r: StepResult) => Promise<void>): Promise<StepResult> {
    const userId = plan.subject.id;
    const dir = this.d.directory;
    switch (step.kind) {
      case 'disable':
      case 'enable': {
        const enable = step.kind === 'enable';
        const user = await this.subject(plan);
        if (user.accountEnabled === enable) return { status: 'skipped', detail: `already ${enable ? 'enabled' : 'disabled'}` };
        await dir.setAccountEnabled(userId, enable);
        this.audit(plan, enable ? 'technician.account-enabled' : 'technician.account-disabled', 'success', { reason: plan.args.reason ?? null });
        return { status: 'done', detail: enable ? 'enabled' : 'disabled' };
      }
      case 'revoke-sessions': {
        if (!(dir.capabilities ?? BASELINE_CAPABILITIES).authenticationMethods) return { status: 'skipped', detail: 'this directory keeps no revocable sessions' };
        // Signing out is not visible afterwards: the trail says whether the cut-short run did it.
        if (interrupted && this.d.store.audit.query({ correlationId: plan.id, action: 'technician.sessions-revoked' }, { limit: 1 }).length) {
          return { status: 'done', detail: 'every session revoked (before the bot stopped)' };
        }
        await dir.revokeSessions(userId);
        this.audit(plan, 'technician.sessions-revoked', 'success', {});
        return { status: 'done', detail: 'every session revoked' };
      }
      case 'unlock': {
        const state = await dir.getSignInState(userId);
        if (!state.lockSupported) return { status: 'skipped', detail: 'a cloud account: smart lockout ends by itself' };
        if (!state.locked) return { status: 'skipped', detail: 'not locked' };
        await this.d.recovery.unlock(await this.subject(plan), this.verification(plan));
        return { status: 'done', detail: 'unlocked' };
      }
      case 'reset-password': {
        const user = await this.subject(plan);
        const shown = await this.d.recovery.resetPassword(user, this.verification(plan), this.secretOutlet(plan, user));
        return shown.delivered
          ? { status: 'done', detail: `temporary password set; sent to ${plan.actor.name}'s 1:1 chat` }
          : { status: 'partial', detail: 'the password was reset, but the message with it could not be delivered: run reset-password again', failures: ['the 1:1 chat could not be reached'] };
      }
      case 'tap': {
        const user = await this.subject(plan);
        const pass = await this.d.recovery.issuePass(user, this.verification(plan), { lifetimeMinutes: step.minutes }, this.secretOutlet(plan, user));
        return pass.delivered
          ? { status: 'done', detail: `valid until ${formatTime(pass.validUntil)}; sent to ${plan.actor.name}'s 1:1 chat` }
          : { status: 'partial', detail: 'the pass was issued, but the message with it could not be delivered: run tap again', failures: ['the 1:1 chat could not be reached'] };
      }
      case 'mfa-reset':
        return this.resetMfa(plan);
      case 'update-profile':
        return this.updateProfile(plan, step);
      case 'remove-mfa':
        return this.removeMfa(plan);
      case 'add-groups':
      case 'remove-groups':
        return this.changeMemberships(plan, step.kind === 'add-groups' ? 'add' : 'remove', step.groups, report);
      case 'cancel-requests':
        return this.cancelRequests(plan);
      case 'reassign-approvals':
        return this.reassignApprovals(plan);
      case 'report-direct-reports':
        return this.reportDirectReports(plan);
      case 'grant-access':
        return this.grantAccess(plan, step);
      case 'revoke-access':
        return this.revokeAccess(plan, step);
    }
  }

  /** The technician as the verifier of the sign-in recovery's action, with the second technician for four eyes. */
  private verification(plan: TechPlan): RecoveryVerification {
    return {
      kind: 'technician',
      technician: plan.actor,
      approvedBy: plan.approvedBy.id ? { id: plan.approvedBy.id, name: plan.approvedBy.name } : null,
      correlationId: plan.id,
    };
  }

  /**
   * The secret goes to the proposing technician's 1:1 chat only (never the channel, a log, the
   * audit trail or the database); only the message id is kept, to hide it later.
   */
  private secretOutlet(plan: TechPlan, user: DirectoryUser): SecretOutlet {
    const who = `${user.displayName} (${user.userPrincipalName})`;
    return {
      card: (secret, hideAt) => {
        const footer = `Only you see this, in your chat with ${APP_NAME}. It is hidden at ${formatTime(hideAt)}; nobody can show it again.`;
        if (secret.kind === 'password') {
          return renderSecretCard({
            plan: plan.id,
            title: `Temporary password for ${user.displayName}`,
            text: `Give it to ${user.givenName ?? user.displayName} in person or by phone, after verifying them. They must choose a new one at the next sign-in.`,
            secret: secret.password,
            facts: [
              { title: 'User', value: who },
              { title: 'Reference', value: plan.id },
            ],
            footer,
          });
        }
        return renderSecretCard({
          plan: plan.id,
          title: `Temporary Access Pass for ${user.displayName}`,
          text: `Give it to ${user.givenName ?? user.displayName} after verifying them; they use it to sign in and register new methods at My Sign-Ins (security info).`,
          secret: secret.pass,
          facts: [
            { title: 'User', value: who },
            { title: 'Valid until', value: formatTime(secret.expiresAt) },
            { title: 'Use', value: secret.oneTime ? 'once' : 'any number of times while valid' },
            { title: 'Reference', value: plan.id },
          ],
          footer,
        });
      },
      deliver: async (card) => {
        const sent = await this.d.notifier.sendToUser(plan.actor.id, messageWith(card, `${plan.command === 'tap' ? 'Temporary Access Pass' : 'Temporary password'} for ${user.displayName} (${plan.id})`));
        return { activityId: sent.activityId, reference: sent.reference };
      },
      remember: (delivered, hideAt) => {
        this.d.store.technician.plans.secretShown(plan.id, delivered.activityId);
        this.d.store.technician.cards.add({ ownerId: plan.id, purpose: 'secret', activityId: delivered.activityId, reference: delivered.reference });
        this.d.store.jobs.schedule({ kind: TECH_JOBS.hideSecret, requestId: plan.id, runAt: hideAt, dedupeKey: `tech.hide:${plan.id}`, maxAttempts: this.d.config.jobs.maxAttempts });
      },
    };
  }

  /** `mfa-reset`: the sign-in recovery's removal of every method but the password, then the sessions. */
  private async resetMfa(plan: TechPlan): Promise<StepResult> {
    if (!(this.d.directory.capabilities ?? BASELINE_CAPABILITIES).authenticationMethods) return { status: 'skipped', detail: 'this directory keeps no MFA methods' };
    const user = await this.subject(plan);
    const targets = (await this.d.directory.listAuthMethods(user.id)).filter((m) => m.kind !== 'password');
    if (!targets.length) return { status: 'skipped', detail: 'no MFA methods registered' };
    const r = await this.d.recovery.removeMethods(user, this.verification(plan), targets);
    if (!r.removed.length && !r.kept.length && !r.failures.length) return { status: 'skipped', detail: 'no MFA methods registered any more' };
    const failures = [
      ...r.kept.map((k) => `${methodName(k.method.kind)}: kept (${k.reason})`),
      ...r.failures.map((f) => `${methodName(f.method.kind)}: ${errorText(f.error)}`),
    ];
    const detail = `removed ${r.removed.length ? r.removed.map((m) => methodName(m.kind)).join(', ') : 'none'}; ${r.sessionsRevoked ? 'every session revoked' : 'sessions NOT revoked'}`;
    if (r.removed.length && !r.sessionsRevoked) failures.push('sign-in sessions could not be revoked: run it again or revoke them in the directory');
    return failures.length ? { status: r.removed.length ? 'partial' : 'failed', detail, failures } : { status: 'done', detail };
  }

  /** A mover's profile: only what still differs is written; audited with what it was. */
  private async updateProfile(plan: TechPlan, step: Extract<Step, { kind: 'update-profile' }>): Promise<StepResult> {
    if (step.onPremises) return { status: 'skipped', detail: 'mastered in on-premises Active Directory: change it there' };
    const user = await this.subject(plan);
    const changes: { department?: string; jobTitle?: string; managerId?: string } = {};
    if (user.department !== step.department) changes.department = step.department;
    if (step.jobTitle !== undefined && user.jobTitle !== step.jobTitle) changes.jobTitle = step.jobTitle;
    if (step.manager !== undefined && (await this.d.directory.getManager(user.id))?.id !== step.manager.id) changes.managerId = step.manager.id;
    if (!Object.keys(changes).length) return { status: 'skipped', detail: 'already set' };
    await this.d.directory.updateUserProfile(user.id, changes);
    this.audit(plan, 'technician.profile-updated', 'success', {
      department: changes.department ?? null,
      jobTitle: changes.jobTitle ?? null,
      manager: changes.managerId ? step.manager : null,
      from: step.from,
      reason: plan.args.reason ?? null,
    });
    return { status: 'done', detail: profileChangeText(step) };
  }

  private async subject(plan: TechPlan): Promise<DirectoryUser> {
    const user = await this.d.directory.getUser(plan.subject.id);
    if (!user) throw new NotFoundError(`${plan.subject.name} is no longer in the directory`);
    return user;
  }

  private async removeMfa(plan: TechPlan): Promise<StepResult> {
    if (!(this.d.directory.capabilities ?? BASELINE_CAPABILITIES).authenticationMethods) return { status: 'skipped', detail: 'this directory keeps no MFA methods' };
    const all = await this.d.directory.listAuthMethods(plan.subject.id);
    // Everything but the password; the default last (the directory refuses it while others could replace it).
    const targets = all.filter((m) => m.kind !== 'password').sort((a, b) => Number(a.isDefault) - Number(b.isDefault));
    if (!targets.length) return { status: 'skipped', detail: 'no MFA methods registered' };
    const removed: AuthMethod[] = [];
    const failures: string[] = [];
    const uncertain: Array<{ m: AuthMethod; err: unknown }> = [];
    let pending = targets;
    for (let round = 0; round < 2 && pending.length; round++) {
      const retry: AuthMethod[] = [];
      for (const m of pending) {
        try {
          await this.d.directory.deleteAuthMethod(plan.subject.id, m.kind, m.id);
          removed.push(m);
        } catch (err) {
          if (err instanceof NotFoundError) removed.push(m);
          else if (err instanceof ConflictError && round === 0) retry.push(m);
          else if (!isDefiniteRefusal(err)) uncertain.push({ m, err });
          else failures.push(`${methodName(m.kind)}: ${errorText(err)}`);
        }
      }
      pending = retry;
    }
    if (uncertain.length) {
      // A removal whose answer was lost may have been made: the methods still registered say.
      let still: Set<string> | null = null;
      try {
        still = new Set((await this.d.directory.listAuthMethods(plan.subject.id)).map((m) => m.id));
      } catch {
        still = null;
      }
      for (const { m, err } of uncertain) {
        if (still && !still.has(m.id)) removed.push(m);
        else failures.push(`${methodName(m.kind)}: ${still ? errorText(err) : `${errorText(err)} (the directory could not be read again: check it)`}`);
      }
    }
    this.audit(plan, 'technician.mfa-removed', failures.length ? 'failure' : 'success', { removed: removed.map((m) => m.kind), failed: failures.length });
    const detail = `removed ${removed.length ? removed.map((m) => methodName(m.kind)).join(', ') : 'none'}`;
    return failures.length ? { status: removed.length ? 'partial' : 'failed', detail, failures } : { status: 'done', detail };
  }

  /**
   * Membership changes in batches (`batchMembershipChanges`), reporting after each batch. A
   * failed change or batch is listed and the rest go on; `already-member` and `not-member`
   * count as done, which is what makes running it again safe.
   */
  private async changeMemberships(plan: TechPlan, action: 'add' | 'remove', groups: Array<{ id: string; name: string }>, report: (r: StepResult) => Promise<void>): Promise<StepResult> {
    if (!groups.length) return { status: 'skipped', detail: action === 'add' ? 'nothing to add' : 'no memberships' };
    const nameOf = new Map(groups.map((g) => [g.id.toLowerCase(), g.name]));
    let changed = 0;
    let already = 0;
    const failures: string[] = [];
    for (let i = 0; i < groups.length; i += MEMBERSHIP_CHUNK) {
      const chunk = groups.slice(i, i + MEMBERSHIP_CHUNK);
      const changes: MembershipChange[] = chunk.map((g) => ({ action, groupId: g.id, userId: plan.subject.id }));
      let batchChanged: string[] = [];
      try {
        const results = await this.d.directory.batchMembershipChanges(changes);
        for (const r of results) {
          if (!r.ok) failures.push(`${nameOf.get(r.groupId) ?? r.groupId}: ${errorText(r.error)}`);
          else if (r.outcome === 'added' || r.outcome === 'removed') {
            changed++;
            batchChanged.push(r.groupId);
          } else already++;
        }
      } catch (err) {
        // A batch that may have been applied is settled by re-reading the memberships, not listed as failed.
        if (!isDefiniteRefusal(err)) throw err;
        for (const g of chunk) failures.push(`${g.name}: ${errorText(err)}`);
        batchChanged = [];
      }
      if (batchChanged.length) {
        this.audit(plan, action === 'add' ? 'technician.memberships-added' : 'technician.memberships-removed', 'success', {
          groups: batchChanged,
          batch: Math.floor(i / MEMBERSHIP_CHUNK) + 1,
          reason: plan.args.reason ?? null,
        });
      }
      const doneSoFar = Math.min(i + MEMBERSHIP_CHUNK, groups.length);
      if (doneSoFar < groups.length) await report({ status: 'running', detail: `${doneSoFar} of ${groups.length} groups${failures.length ? `, ${failures.length} failed` : ''}` });
    }
    if (failures.length) this.audit(plan, action === 'add' ? 'technician.memberships-add-failed' : 'technician.memberships-remove-failed', 'failure', { failed: failures.length, first: failures.slice(0, 5) });
    const verb = action === 'add' ? 'added to' : 'removed from';
    const detail = `${verb} ${changed} group(s)${already ? `, ${already} already ${action === 'add' ? 'held' : 'gone'}` : ''}${failures.length ? `, ${failures.length} failed` : ''}`;
    if (!failures.length) return { status: 'done', detail };
    return { status: changed + already ? 'partial' : 'failed', detail, failures: failures.slice(0, 50) };
  }

  /** The user's requests still waiting or being granted: cancelled, their jobs stopped, their cards updated. */
  private async cancelRequests(plan: TechPlan): Promise<StepResult> {
    const open = this.d.store.requests.openForRequester(plan.subject.id);
    if (!open.length) return { status: 'skipped', detail: 'none open' };
    const by = plan.actor;
    const done: string[] = [];
    this.d.store.transaction(() => {
      for (const r of open) {
        if (r.state === 'pending') {
          if (!this.d.store.requests.closePending(r.id, 'cancelled', by, { comment: `Cancelled: ${plan.subject.name} was offboarded (${plan.id})` })) continue;
        } else if (r.state === 'approved') {
          // Approved but not granted yet: the grant must not happen after the leaver is gone.
          if (!this.d.store.requests.markFailed(r.id)) continue;
        } else continue;
        this.d.store.jobs.cancelForRequest(r.id);
        this.d.store.audit.append({ actor: by, action: 'access.cancelled', target: r.id, outcome: 'success', correlationId: r.id, details: { by: 'technician', reason: 'offboarded', plan: plan.id, previous: r.state } });
        this.d.store.jobs.schedule({ kind: ACCESS_JOBS.updateCards, requestId: r.id, runAt: this.now(), maxAttempts: this.d.config.jobs.maxAttempts });
        done.push(r.id);
      }
      if (done.length) this.audit(plan, 'technician.requests-cancelled', 'success', { requests: done });
    });
    return { status: 'done', detail: done.length ? `cancelled ${done.join(', ')}` : 'none open any more' };
  }

  /** Requests waiting for the user's decision get the user's manager as an approver too (a delegate). */
  private async reassignApprovals(plan: TechPlan): Promise<StepResult> {
    const user = await this.d.directory.getUser(plan.subject.id);
    const manager = user ? await nextEnabledManager(this.d.directory, user, plan.subject.id) : null;
    // Idempotent: a request already handed to the manager is not handed again.
    const waiting = this.d.store.requests.pendingForApprover(plan.subject.id, 500).filter((r) => !manager || !this.d.store.requests.approver(r.id, r.stage, manager.id));
    if (!waiting.length) return { status: 'skipped', detail: 'none waiting' };
    if (!manager) {
      return { status: 'failed', detail: `no manager to hand them to: decide ${waiting.map((r) => r.id).join(', ')} by hand`, failures: waiting.map((r) => `${r.id}: nobody to hand it to`) };
    }
    const moved: string[] = [];
    const failures: string[] = [];
    this.d.store.transaction(() => {
      for (const r of waiting) {
        if (r.requesterId === manager.id) {
          failures.push(`${r.id}: ${manager.displayName} is its requester and cannot approve it`);
          continue;
        }
        this.d.store.requests.addApprover({ requestId: r.id, stage: r.stage, approverId: manager.id, approverName: manager.displayName, source: 'delegate', addedById: plan.actor.id });
        this.d.store.audit.append({
          actor: plan.actor,
          action: 'access.forwarded',
          target: r.id,
          outcome: 'success',
          correlationId: r.id,
          details: { stage: r.stage, to: { id: manager.id, name: manager.displayName }, reason: 'approver offboarded', from: plan.subject.id, plan: plan.id },
        });
        const max = this.d.config.jobs.maxAttempts;
        this.d.store.jobs.schedule({
          kind: ACCESS_JOBS.notifyApprover,
          requestId: r.id,
          runAt: this.now(),
          payload: { stage: r.stage, userId: manager.id, reason: 'delegate', byName: plan.actor.name },
          dedupeKey: `notify:${r.id}:${r.stage}:${manager.id}:delegate`,
          maxAttempts: max,
        });
        this.d.store.jobs.schedule({ kind: ACCESS_JOBS.updateCards, requestId: r.id, runAt: this.now(), maxAttempts: max });
        moved.push(r.id);
      }
      if (moved.length) this.audit(plan, 'technician.approvals-reassigned', 'success', { requests: moved, to: { id: manager.id, name: manager.displayName } });
    });
    const detail = `${moved.length ? `${moved.join(', ')} to ${manager.displayName}` : 'none moved'}${failures.length ? `; ${failures.length} need an approver by hand` : ''}`;
    return failures.length ? { status: moved.length ? 'partial' : 'failed', detail, failures } : { status: 'done', detail };
  }

  /** Direct reports of a leaver: a ticket, so someone finds them a new manager. */
  private async reportDirectReports(plan: TechPlan): Promise<StepResult> {
    const reports = (await this.d.directory.getDirectReports(plan.subject.id)).sort((a, b) => a.displayName.localeCompare(b.displayName));
    if (!reports.length) return { status: 'skipped', detail: 'no direct reports' };
    const ticket = await this.d.tickets.open(
      {
        type: 'offboarding',
        title: `New manager needed for ${reports.length} report(s) of ${plan.subject.name}`,
        text: `${plan.subject.name} was offboarded (${plan.id}). Their direct reports need a new manager in the HR system.`,
        facts: reports.slice(0, 25).map((r) => ({ title: r.displayName, value: `${r.jobTitle ?? 'no title'} (${r.userPrincipalName})` })),
        requester: plan.actor,
        subject: { id: plan.subject.id, name: plan.subject.name },
        // One ticket per leaver, however often the checklist runs.
        sourceRef: `offboarding:${plan.subject.id}`,
      },
      plan.actor,
    );
    this.audit(plan, 'technician.reports-listed', 'success', { reports: reports.map((r) => r.id), ticket: ticket.id });
    return { status: 'done', detail: `${reports.map((r) => r.displayName).join(', ')}: ${ticket.id}` };
  }

  /**
   * A technician's direct grant, under the catalog policy checked now: a request made for the
   * user and approved by the technician at once; the usual provisioning job grants it, ends
   * it when it is time-bound and tells the user.
   */
  private async grantAccess(plan: TechPlan, step: Extract<Step, { kind: 'grant-access' }>): Promise<StepResult> {
    const resource = findResourceById(this.d.catalog, step.resourceId);
    if (!resource) return { status: 'failed', detail: `${step.resourceName} is no longer in the catalog` };
    const user = await this.subject(plan);
    const reason = plan.args.reason ?? null;
    const deps = { directory: this.d.directory, store: this.d.store, catalog: this.d.catalog };
    const refusal = await checkRequest(deps, user, resource, step.hours, reason);
    if (refusal) return { status: 'failed', detail: technicianRefusal(refusal, user.displayName, resource.name) };
    const [manager, held] = await Promise.all([this.d.directory.getManager(user.id), heldResources(this.d.directory, this.d.catalog, user.id)]);
    const groupNames = new Map<string, string>();
    for (const s of resource.stages) {
      if (s.approver === 'group') {
        const g = await this.d.directory.getGroup(s.groupId);
        if (g) groupNames.set(s.groupId, g.displayName);
      }
    }
    const policy = snapshotPolicy(resource, groupNames);
    const by = plan.actor;
    const r = this.d.store.transaction(() => {
      const created = this.d.store.requests.create({
        requesterId: user.id,
        requesterName: user.displayName,
        resourceId: resource.id,
        groupId: resource.groupId,
        durationHours: step.hours,
        justification: reason,
        policy,
        context: {
          userPrincipalName: user.userPrincipalName,
          department: user.department,
          jobTitle: user.jobTitle,
          managerId: manager?.id ?? null,
          managerName: manager?.displayName ?? null,
          memberships: held.map((h) => h.name),
        },
        extendsRequestId: null,
      });
      const comment = `Granted by identity technician ${by.name} (${plan.id})`;
      this.d.store.requests.closePending(created.id, 'approved', by, { comment });
      for (let stage = 1; stage <= created.stageCount; stage++) this.d.store.requests.recordDecision({ requestId: created.id, stage, decision: 'approved', by, comment });
      this.d.store.audit.append({
        actor: by,
        action: 'access.requested',
        target: created.id,
        outcome: 'success',
        correlationId: created.id,
        details: { resource: resource.id, groupId: resource.groupId, risk: resource.risk, durationHours: step.hours, justification: reason, onBehalfOf: { id: user.id, name: user.displayName }, by: 'technician', plan: plan.id },
      });
      this.d.store.audit.append({
        actor: by,
        action: 'access.approved',
        target: created.id,
        outcome: 'success',
        correlationId: created.id,
        details: { stage: created.stageCount, stages: created.stageCount, final: true, comment, technicianGrant: true, plan: plan.id },
      });
      this.d.store.jobs.schedule({ kind: ACCESS_JOBS.provision, requestId: created.id, runAt: this.now(), dedupeKey: `provision:${created.id}`, maxAttempts: this.d.config.jobs.maxAttempts });
      this.audit(plan, 'technician.access-granted', 'success', { request: created.id, resource: resource.id, durationHours: step.hours, reason });
      return created;
    });
    return { status: 'done', detail: `${r.id}: ${resource.name} is being granted (${formatDuration(step.hours)})` };
  }

  private async revokeAccess(plan: TechPlan, step: Extract<Step, { kind: 'revoke-access' }>): Promise<StepResult> {
    const result = await this.d.directory.removeGroupMember(step.groupId, plan.subject.id);
    const ended: string[] = [];
    this.d.store.transaction(() => {
      for (const g of this.d.store.requests.grantedFor(plan.subject.id, step.resourceId)) {
        if (!this.d.store.requests.endGrant(g.id, 'revoked')) continue;
        this.d.store.jobs.cancelForRequest(g.id);
        this.d.store.audit.append({ actor: plan.actor, action: 'access.revoked', target: g.id, outcome: 'success', correlationId: g.id, details: { groupId: g.groupId, userId: g.requesterId, reason: 'technician', plan: plan.id } });
        this.d.store.jobs.schedule({ kind: ACCESS_JOBS.updateCards, requestId: g.id, runAt: this.now(), maxAttempts: this.d.config.jobs.maxAttempts });
        ended.push(g.id);
      }
      this.audit(plan, 'technician.access-revoked', 'success', { resource: step.resourceId, groupId: step.groupId, result, endedRequests: ended, reason: plan.args.reason ?? null });
    });
    const resource = findResourceById(this.d.catalog, step.resourceId);
    return { status: 'done', detail: `${result === 'removed' ? 'removed' : 'was not a member'} (${resource?.name ?? step.resourceName})${ended.length ? `; ended ${ended.join(', ')}` : ''}` };
  }

  // ---- secrets ----------------------------------------------------------------------------------

  /** The secret's message once hidden. */
  hiddenSecretCard(plan: TechPlan): AdaptiveCardJson {
    return renderSecretCard({
      plan: plan.id,
      title: plan.command === 'tap' ? `Temporary Access Pass for ${plan.subject.name}: hidden` : `Temporary password for ${plan.subject.name}: hidden`,
      text: 'It was shown once and is hidden now. Nobody can show it again; run the command again for a new one.',
      secret: '',
      facts: [{ title: 'Reference', value: plan.id }],
      footer: `Audit: audit ${plan.id}`,
    });
  }

  /** "I have it": the proposer hides the secret's message now. */
  hideNow(plan: TechPlan, actor: AuditActor): AdaptiveCardJson {
    this.d.recovery.hideNow({ correlationId: plan.id, subjectId: plan.subject.id, claimHidden: () => this.d.store.technician.plans.claimSecretHidden(plan.id) }, actor, 'technician');
    return this.hiddenSecretCard(this.plan(plan.id)!);
  }

  private async runHideSecret(job: Job): Promise<void> {
    const plan = job.requestId ? this.plan(job.requestId) : null;
    if (!plan) throw new PermanentJobError(`plan ${job.requestId} not found`);
    if (!plan.secretActivityId || plan.secretHiddenAt) return;
    const ref = this.d.store.technician.cards.forOwner(plan.id, 'secret').find((r) => r.activityId === plan.secretActivityId);
    if (!ref) throw new PermanentJobError(`no message of ${plan.id} to hide`);
    await this.d.recovery.hideByTimer({
      correlationId: plan.id,
      subjectId: plan.subject.id,
      activityId: ref.activityId,
      reference: ref.reference,
      hiddenCard: this.hiddenSecretCard(plan),
      claimHidden: () => this.d.store.technician.plans.claimSecretHidden(plan.id),
    });
  }
}

/** A short, safe description of a failure for a card and the audit trail. */
export function errorText(err: unknown): string {
  if (err instanceof DirectoryError) return `${err.name.replace(/Error$/, '')}: ${err.message}`.slice(0, 300);
  return ((err as Error)?.message ?? String(err)).slice(0, 300);
}

/** A policy refusal in a technician's words (the policy speaks to the requester). */
export function technicianRefusal(refusal: Refusal, userName: string, resourceName: string): string {
  switch (refusal.kind) {
    case 'already-member':
      return `${userName} already has ${resourceName} (a member of its group).`;
    case 'duplicate':
      return `${userName} already asked for ${resourceName}: ${refusal.requestId} is still open.`;
    case 'conflict':
      return `${resourceName} cannot be combined with ${refusal.conflictWith}, which ${userName} has or asked for (separation of duties).`;
    case 'too-long':
    case 'permanent-not-allowed':
      return `${resourceName} is granted for at most ${formatDuration(refusal.maxHours)}${refusal.kind === 'permanent-not-allowed' ? ', never permanently' : ''}.`;
    case 'justification-required':
      return `${resourceName} needs a reason: add --reason.`;
  }
}
