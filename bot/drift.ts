import { DEFAULT_BIRTHRIGHT_FILE, loadBirthrightRules } from '../directory/birthright';
import { DriftService, type ReviewStarter } from '../dialogs/drift/service';
import type { TechnicianCommands } from '../dialogs/technician/commands';
import { DriftStore } from '../store/drift';
import type { AccessCapability } from './access';
import type { BotDeps } from './deps';
import { privilegedResolverFor } from './privileged';

/**
 * Puts drift detection together on what access requests and the technicians' commands built:
 * the findings' store (in the helpdesk database), the catalog, the birthright rules and the
 * privileged resolver (the same as the four-eyes rule's, `bot/privileged.ts`: without a
 * configured list every removal takes four eyes), the ticket queue, the removal job of the access service. Registers its jobs, keeps
 * the scheduled check pending (`DRIFT_CHECK_INTERVAL_HOURS`), and hands the service to the
 * technicians' commands for `drift` and the buttons of its tickets. With the review service,
 * its tickets offer "Open a review" (it can also be attached later with `attachReviews`).
 */
export function createDriftCapability(deps: BotDeps, access: AccessCapability, technician: TechnicianCommands, reviews: ReviewStarter | null = null): DriftService {
  const { config } = deps;
  const service = new DriftService({
    store: deps.store,
    findings: new DriftStore(deps.store.db, deps.clock),
    directory: deps.directory,
    logger: deps.logger.child({ component: 'drift' }),
    clock: deps.clock,
    notifier: access.notifier,
    scheduler: access.scheduler,
    tickets: access.tickets,
    access: access.service,
    catalog: access.service.catalog,
    birthright: loadBirthrightRules(config.technicians.birthrightPath ?? DEFAULT_BIRTHRIGHT_FILE),
    privileged: privilegedResolverFor(deps),
    config: {
      intervalHours: config.drift.checkIntervalHours,
      maxJobAttempts: config.jobs.maxAttempts,
      slaHours: config.technicians.slaHours,
      confirmMinutes: config.technicians.planMinutes,
    },
    reviews,
  });
  service.registerJobs(access.scheduler);
  service.ensureScheduled();
  technician.attachDrift(service);
  return service;
}
