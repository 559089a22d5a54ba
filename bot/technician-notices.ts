import { TicketService } from '../dialogs/technician/tickets';
import type { BotDeps } from './deps';
import type { Notifier } from './notifier';

/**
 * Where technician notices go: the ticket queue. Every notice (a recovery that needs a
 * technician, failed provisioning, a colleague's report, an escalation with nobody to
 * escalate to, a job that gave up) becomes a ticket in the store, with a type, requester,
 * subject, SLA target and history, and its card is posted to the technicians' team channel
 * (the channel reference the bot saved when a technician last talked to it there;
 * `TECHNICIANS_TEAM_ID` picks the team) with Take, Assign and Close. Without a known channel
 * the ticket stays in the queue (`pending`) and the miss is logged as an error.
 *
 * The scheduler reports to this queue and the queue's own jobs run on the scheduler, so the
 * caller attaches the scheduler once it is built: `queue.attach(scheduler)`.
 */
export function createTicketQueue(deps: BotDeps, notifier: Notifier): TicketService {
  return new TicketService({
    store: deps.store,
    directory: deps.directory,
    notifier,
    logger: deps.logger.child({ component: 'tickets' }),
    clock: deps.clock,
    config: deps.config.technicians,
    maxJobAttempts: deps.config.jobs.maxAttempts,
    technicianGroupId: deps.technicianGroupId,
  });
}
