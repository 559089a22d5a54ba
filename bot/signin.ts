import { DemoAuthenticatorCodes } from '../directory/demo-authenticator';
import { loadDemoTenant } from '../directory/demo-tenant';
import { LocalDirectory } from '../directory/local-directory';
import { RecoveryService } from '../dialogs/signin/recovery-service';
import { FreshMfa } from '../dialogs/signin/fresh-mfa';
import type { AccessCapability } from './access';
import type { BotDeps } from './deps';
import { findTechnicianChannel } from './notifier';
import { privilegedResolverFor } from './privileged';
import { HelpdeskVerifier } from './signin-verifier';
import { StepUpValidator } from './step-up';

export interface SigninCapability {
  service: RecoveryService;
  /** Proofs of fresh MFA for approvals, with the same verifier and lockout. */
  freshMfa: FreshMfa;
  /** The bot's OAuth connection for step-up sign-in, when configured. */
  stepUpConnection: string | null;
}

/**
 * Puts sign-in recovery together on the pieces access requests already built (notifier,
 * scheduler): the verifier (the demo phones' codes in local mode; step-up sign-in when an
 * OAuth connection is configured; people through the notifier), technician notices in the
 * technicians' channel, and the recovery jobs registered with the scheduler.
 */
export function createSigninCapability(deps: BotDeps, access: AccessCapability): SigninCapability {
  const { config } = deps;
  // Local mode serves the demo tenant, whatever the backend: the demo directory itself, the
  // cloud side of `hybrid`, or (`ad`) a lab DC seeded with its ids. Its phones and its
  // privileged groups apply (bot/privileged.ts); in `ad` alone no authenticator is listed, so no code is offered.
  const demo = deps.directory instanceof LocalDirectory ? deps.directory.tenant : config.mode === 'local' ? loadDemoTenant() : null;
  const techniciansReachable = () => deps.technicianGroupId !== null && findTechnicianChannel(config, deps.store.conversations) !== null;
  const s = config.recovery.stepUp;
  const tenantId = config.bot.tenantId;
  const stepUp =
    s.connectionName && s.metadataUrl && tenantId && s.audiences.length
      ? new StepUpValidator({ tenantId, audiences: s.audiences, metadataUrl: s.metadataUrl, maxAgeMinutes: s.maxAgeMinutes, acrs: s.acrs, clock: deps.clock })
      : null;
  const verifier = new HelpdeskVerifier({
    directory: deps.directory,
    notifier: access.notifier,
    clock: deps.clock,
    // Only the demo tenant's phones have known secrets; a real tenant's never leave the phone.
    codes: demo ? new DemoAuthenticatorCodes(demo) : null,
    stepUp,
    techniciansReachable,
  });
  const service = new RecoveryService({
    recovery: config.recovery,
    maxJobAttempts: config.jobs.maxAttempts,
    store: deps.store,
    directory: deps.directory,
    logger: deps.logger.child({ component: 'signin' }),
    clock: deps.clock,
    verifier,
    notifier: access.notifier,
    scheduler: access.scheduler,
    technicians: access.tickets,
    privileged: privilegedResolverFor(deps),
    catalog: access.service.catalog,
    techniciansReachable,
  });
  service.registerJobs(access.scheduler);
  // Before the first turn (the database is this process's alone): recoveries a stop cut short.
  service.recoverInterrupted();
  if (config.access.freshMfaRisk !== null && !stepUp && !demo) {
    // Fail closed: nothing can prove an approver's MFA, so those approvals are refused until step-up sign-in is configured.
    deps.logger.warn(
      { action: 'access.config' },
      `no step-up sign-in is configured (STEP_UP_CONNECTION_NAME): approvals of ${config.access.freshMfaRisk}-risk access and above, and second approvals of privileged plans, cannot prove the approver's MFA and are refused`,
    );
  }
  const freshMfa = new FreshMfa({
    store: deps.store,
    verifier,
    clock: deps.clock,
    maxAgeMinutes: config.access.freshMfaMinutes,
    countFailure: (user, method, reason) => service.countFailedProof(user, method, reason),
  });
  return { service, freshMfa, stepUpConnection: stepUp ? s.connectionName : null };
}
