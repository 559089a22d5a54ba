import type { DirectoryUser } from '../directory/directory';
import type { Store } from '../store/store';
import type { Logger } from './logger';
import type { TechnicianNotices } from './scheduler';

/** The audit action that records a notice about a disabled account; also the memory of when the last one went out. */
export const DISABLED_NOTICE_ACTION = 'helpdesk.disabled-account-notice';

/** At most one notice per disabled account in this time. */
export const DISABLED_NOTICE_REPEAT_MS = 24 * 3_600_000;

export interface DisabledAccountNoticesDeps {
  store: Store;
  technicians: TechnicianNotices;
  clock: () => Date;
  logger: Logger;
}

/**
 * Tells the identity technicians when a disabled account writes to the bot: someone who is
 * locked out (or should be) is trying to get help. One notice (a ticket in the technicians'
 * channel) per account per 24 hours. The audit trail is the memory: the last
 * `helpdesk.disabled-account-notice` event for the account says when they were last told,
 * so the limit survives a restart. The claim (look up, then record) is one transaction, so
 * two messages at once raise one notice.
 */
export class DisabledAccountNotices {
  constructor(private readonly d: DisabledAccountNoticesDeps) {}

  /**
   * Raises the notice for `user` unless one went out in the last 24 hours. Returns whether the
   * technicians know (told now or earlier); false only when telling them failed.
   */
  async notify(user: DirectoryUser, correlationId: string, activityType: string): Promise<boolean> {
    const since = new Date(this.d.clock().getTime() - DISABLED_NOTICE_REPEAT_MS).toISOString();
    const claimed = this.d.store.transaction(() => {
      const earlier = this.d.store.audit.query({ action: DISABLED_NOTICE_ACTION, target: user.id, since }, { limit: 1 })[0];
      if (earlier) return false;
      this.d.store.audit.append({
        actor: { id: user.id, name: user.displayName },
        action: DISABLED_NOTICE_ACTION,
        target: user.id,
        outcome: 'success',
        correlationId,
        details: { activityType, repeatAfterHours: DISABLED_NOTICE_REPEAT_MS / 3_600_000 },
      });
      return true;
    });
    if (!claimed) return true;
    try {
      await this.d.technicians.raise({
        type: 'signin',
        title: `Disabled account wrote to the helpdesk: ${user.displayName}`,
        text: `${user.displayName} wrote to the helpdesk bot, but the account is disabled, so the bot refused to help. Check whether the account should be enabled, or contact them. Nothing was changed. Further messages from this account within 24 hours raise no new notice.`,
        facts: [{ title: 'User', value: `${user.displayName} (${user.userPrincipalName})` }],
        requestId: correlationId,
        requester: { id: user.id, name: user.displayName },
        subject: { id: user.id, name: user.displayName },
      });
      return true;
    } catch (err) {
      this.d.logger.error({ correlationId, err: { name: (err as Error).name, message: (err as Error).message } }, 'disabled account notice failed');
      return false;
    }
  }
}
