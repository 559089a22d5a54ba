import type { Activity } from 'botbuilder';
import { loadDemoTenant } from '../directory/demo-tenant';
import type { AppConfig } from './config';
import type { BotDeps } from './deps';
import { OncePerMinute, requestSource } from './edge';

/** Why an authenticated activity is not one the helpdesk serves. */
export type PinRefusal = 'not-teams' | 'no-tenant' | 'other-tenant' | 'service-url-not-local';

/**
 * The Entra tenant every activity must come from: `BOT_TENANT_ID`, else the Graph
 * directory's tenant in production; the demo tenant (what the local chats and tests send)
 * in local mode.
 */
export function pinnedTenantId(config: AppConfig): string {
  if (config.mode === 'local') return loadDemoTenant().tenantId;
  const d = config.directory;
  const graph = d.kind === 'graph' ? d : d.kind === 'hybrid' && d.cloud.kind === 'graph' ? d.cloud : null;
  const tenant = config.bot.tenantId ?? graph?.tenantId;
  // loadConfig refuses production without one of them; this is the last guard.
  if (!tenant) throw new Error('production mode without a tenant (BOT_TENANT_ID or GRAPH_TENANT_ID)');
  return tenant;
}

/**
 * Why `activity` is not from Microsoft Teams in the pinned tenant, or null: `channelId` must
 * be `msteams`, in local mode its `serviceUrl` on this machine, and the tenant Teams names (`channelData.tenant.id`, `conversation.tenantId`;
 * at least one, all equal to `tenantId`). A token the Bot Framework signed for the bot says
 * nothing about the tenant: a user of another organisation who installs the app, or another
 * channel registered to the bot, would otherwise reach the directory lookups.
 */
export function pinRefusal(activity: Partial<Activity>, tenantId: string, mode: AppConfig['mode'] = 'production'): PinRefusal | null {
  if (activity.channelId !== 'msteams') return 'not-teams';
  // Local mode has no token binding the serviceUrl: replies go to the local chats (or a test's connector) only.
  if (mode === 'local' && !isLoopbackUrl(activity.serviceUrl)) return 'service-url-not-local';
  const claimed = [(activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id, activity.conversation?.tenantId].filter((t) => t !== undefined && t !== null);
  if (claimed.length === 0) return 'no-tenant';
  return claimed.every((t) => typeof t === 'string' && t.toLowerCase() === tenantId.toLowerCase()) ? null : 'other-tenant';
}

/**
 * The door before the door: refuses activities that are not from Teams in the pinned
 * tenant, before any directory call. Each refusal is logged and audited
 * (`helpdesk.activity-refused`) once per source (the `serviceUrl` host and the caller's
 * address) and reason a minute, never per request, so a flood writes a bounded trail.
 * Returns the refusal, or null to let the activity in.
 */
export function createActivityPin(deps: BotDeps): (activity: Partial<Activity>) => PinRefusal | null {
  const tenantId = pinnedTenantId(deps.config);
  const once = new OncePerMinute(deps.clock, 500);
  const log = deps.logger.child({ component: 'edge' });
  return (activity) => {
    const reason = pinRefusal(activity, tenantId, deps.config.mode);
    if (!reason) return null;
    const serviceUrlHost = hostOf(activity.serviceUrl);
    const remoteAddress = requestSource.getStore()?.remoteAddress ?? null;
    if (once.first(`${reason}|${serviceUrlHost}|${remoteAddress}`)) {
      const details = {
        reason,
        serviceUrlHost,
        remoteAddress,
        channelId: clip(activity.channelId),
        claimedTenantId: clip((activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id ?? activity.conversation?.tenantId),
        activityType: clip(activity.type),
      };
      deps.store.audit.append({ actor: { id: null, name: null }, action: 'helpdesk.activity-refused', target: null, outcome: 'refused', details });
      log.warn(details, 'activity refused: not from Teams in this tenant (audited once a minute per source)');
    }
    return reason;
  };
}

function isLoopbackUrl(url: unknown): boolean {
  if (typeof url !== 'string' || !URL.canParse(url)) return false;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function hostOf(url: unknown): string | null {
  return typeof url === 'string' && URL.canParse(url) ? new URL(url).host.slice(0, 200) : null;
}

function clip(v: unknown): string | null {
  return typeof v === 'string' ? v.slice(0, 100) : null;
}
