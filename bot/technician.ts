import { DEFAULT_BIRTHRIGHT_FILE, loadBirthrightRules } from '../directory/birthright';
import type { RecoveryActions } from '../dialogs/signin/recovery-actions';
import { TechnicianCommands } from '../dialogs/technician/commands';
import type { AccessCapability } from './access';
import type { BotDeps } from './deps';
import { privilegedResolverFor } from './privileged';

/**
 * Puts the technicians' commands together on what access requests built (notifier,
 * scheduler, ticket queue, catalog): the birthright rules (validated; a bad file stops the
 * start), the one privileged resolver for the four-eyes rule (`bot/privileged.ts`), the
 * sign-in recovery's actions (`recovery`, the employee flow's own) for `reset-password`,
 * `tap`, `unlock` and `mfa-reset`, and the plan jobs registered with the scheduler.
 */
export function createTechnicianCapability(deps: BotDeps, access: AccessCapability, recovery?: RecoveryActions): TechnicianCommands {
  const { config } = deps;
  const birthright = loadBirthrightRules(config.technicians.birthrightPath ?? DEFAULT_BIRTHRIGHT_FILE);
  const commands = new TechnicianCommands({
    config,
    store: deps.store,
    directory: deps.directory,
    logger: deps.logger.child({ component: 'technician' }),
    clock: deps.clock,
    notifier: access.notifier,
    scheduler: access.scheduler,
    tickets: access.tickets,
    access: access.service,
    catalog: access.service.catalog,
    birthright,
    privileged: privilegedResolverFor(deps),
    technicianGroupId: deps.technicianGroupId,
    recovery,
  });
  commands.registerJobs(access.scheduler);
  return commands;
}
