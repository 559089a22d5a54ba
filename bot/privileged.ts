import { loadDemoTenant } from '../directory/demo-tenant';
import { LocalDirectory } from '../directory/local-directory';
import { PrivilegedResolver } from '../dialogs/privileged';
import type { BotDeps } from './deps';

const resolvers = new WeakMap<BotDeps, PrivilegedResolver>();

/**
 * The bot's one {@link PrivilegedResolver}, shared by sign-in recovery, the technicians'
 * commands, drift and the HR feed. The privileged groups are the configured list
 * (`RECOVERY_PRIVILEGED_GROUP_IDS`); in local mode without one, the demo tenant's (whatever
 * the backend serves it: the demo directory, the cloud side of `hybrid`, a lab DC seeded with
 * its ids); in production without one, null: every account is privileged (fail closed).
 */
export function privilegedResolverFor(deps: BotDeps): PrivilegedResolver {
  let r = resolvers.get(deps);
  if (r) return r;
  const { config } = deps;
  const demo = deps.directory instanceof LocalDirectory ? deps.directory.tenant : config.mode === 'local' ? loadDemoTenant() : null;
  const privilegedGroupIds = config.recovery.privilegedGroupIds ?? (demo ? demo.privilegedGroupIds : null);
  if (privilegedGroupIds === null) {
    deps.logger.warn({ action: 'privileged.config' }, 'RECOVERY_PRIVILEGED_GROUP_IDS is not set: every account is treated as privileged (stricter verification, four eyes)');
  }
  r = new PrivilegedResolver({ directory: deps.directory, privilegedGroupIds, technicianGroupId: deps.technicianGroupId, logger: deps.logger.child({ component: 'privileged' }) });
  resolvers.set(deps, r);
  return r;
}
