import { ReviewCommands } from '../dialogs/reviews/commands';
import { ReviewService } from '../dialogs/reviews/service';
import type { TechnicianCommands } from '../dialogs/technician/commands';
import { DEFAULT_REVIEW_SCHEDULES_FILE, loadReviewSchedules } from '../directory/review-schedules';
import { ReviewStore } from '../store/reviews';
import type { AccessCapability } from './access';
import type { BotDeps } from './deps';
import { privilegedResolverFor } from './privileged';

export interface ReviewCapability {
  /** Starts campaigns for other capabilities too (drift's "Open a review", the HR feed's movers). */
  service: ReviewService;
  commands: ReviewCommands;
}

/**
 * Puts access reviews together on what access requests built (notifier, scheduler, ticket
 * queue, catalog, the durable removal job): the scheduled campaigns (validated; a bad file
 * stops the start with every problem and its line), the review jobs registered with the
 * scheduler and the next occurrence of each schedule queued, and the `review` command handed
 * to the technicians' commands.
 */
export function createReviewCapability(deps: BotDeps, access: AccessCapability, technician: TechnicianCommands): ReviewCapability {
  const catalog = access.service.catalog;
  const schedules = loadReviewSchedules(deps.config.reviews.schedulesPath ?? DEFAULT_REVIEW_SCHEDULES_FILE, catalog);
  const service = new ReviewService({
    config: deps.config,
    store: deps.store,
    reviews: new ReviewStore(deps.store.db, deps.clock),
    directory: deps.directory,
    logger: deps.logger.child({ component: 'reviews' }),
    clock: deps.clock,
    catalog,
    notifier: access.notifier,
    scheduler: access.scheduler,
    access: access.service,
    technicians: access.tickets,
    technicianGroupId: deps.technicianGroupId,
    privileged: privilegedResolverFor(deps),
    schedules,
  });
  service.registerJobs(access.scheduler);
  service.syncSchedules();
  const commands = new ReviewCommands({ service, directory: deps.directory, catalog, store: deps.store });
  technician.attachReviews(commands);
  return { service, commands };
}
