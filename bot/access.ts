import type { TeamsAdapter } from '@microsoft/teams-ai';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../directory/catalog';
import { AccessService } from '../dialogs/access-service';
import type { BotDeps } from './deps';
import { BotNotifier, type Notifier } from './notifier';
import { graphReach } from './proactive-reach';
import { Scheduler } from './scheduler';
import type { TicketService } from '../dialogs/technician/tickets';
import { createTicketQueue } from './technician-notices';
import { privilegedResolverFor } from './privileged';

export interface AccessCapability {
  service: AccessService;
  scheduler: Scheduler;
  notifier: Notifier;
  /** The ticket queue: where every notice for the technicians goes. */
  tickets: TicketService;
}

/**
 * Puts access requests together: the catalog (validated; a bad file stops the start with
 * the problems listed), proactive messaging through the adapter, technician notices, and
 * the scheduler with the access jobs registered. The caller starts the scheduler once the
 * server listens and stops it before the store closes.
 */
export function createAccessCapability(deps: BotDeps, adapter: TeamsAdapter): AccessCapability {
  const catalog = loadCatalog(deps.config.access.catalogPath ?? DEFAULT_CATALOG_FILE);
  // On Graph, someone who never talked to the bot is reached by installing the app for them.
  const notifier = new BotNotifier(adapter, deps.config, deps.store, deps.logger, graphReach(deps.directory, deps.config.bot.appId));
  // Everything that needs a person becomes a ticket, posted to the technicians' channel.
  const technicians = createTicketQueue(deps, notifier);
  const scheduler = new Scheduler({
    jobs: deps.store.jobs,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'scheduler' }),
    technicians,
    retryBaseMs: deps.config.jobs.retryBaseSeconds * 1000,
    retryMaxMs: deps.config.jobs.retryMaxSeconds * 1000,
    pollMs: deps.config.jobs.pollSeconds * 1000,
    concurrency: deps.config.jobs.concurrency,
    audit: deps.store.audit,
    noticeAttempts: deps.config.jobs.maxAttempts,
  });
  const service = new AccessService({
    config: deps.config,
    store: deps.store,
    directory: deps.directory,
    logger: deps.logger,
    clock: deps.clock,
    catalog,
    notifier,
    scheduler,
    technicians,
    fallbackGroupId: deps.config.access.fallbackGroupId ?? deps.technicianGroupId,
    technicianGroupId: deps.technicianGroupId,
    privilegedGroupIds: () => privilegedResolverFor(deps).groups(),
  });
  service.registerJobs(scheduler);
  technicians.attach(scheduler);
  return { service, scheduler, notifier, tickets: technicians };
}
