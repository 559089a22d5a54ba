import { CardFactory, MessageFactory } from 'botbuilder';
import { renderNoticeCard } from '../adaptive-cards/notice';
import type { Logger } from './logger';
import type { Notifier } from './notifier';
import type { TechnicianNotice, TechnicianNotices } from './scheduler';

/**
 * Technician notices as posts in the technicians' team channel (the channel reference the
 * bot saved when a technician last talked to it there; `TECHNICIANS_TEAM_ID` picks the
 * team). A ticket queue can replace this class behind the same {@link TechnicianNotices}
 * interface. Without a known channel the notice is logged as an error, never dropped silently.
 */
export class ChannelTechnicianNotices implements TechnicianNotices {
  constructor(
    private readonly notifier: Notifier,
    private readonly logger: Logger,
  ) {}

  async raise(notice: TechnicianNotice): Promise<void> {
    const card = renderNoticeCard({ title: notice.title, text: notice.text, tone: 'attention', facts: notice.facts ?? [] });
    const delivered = await this.notifier.sendToTechnicians(MessageFactory.attachment(CardFactory.adaptiveCard(card)));
    if (!delivered) {
      this.logger.error({ correlationId: notice.requestId ?? undefined, notice: { title: notice.title, text: notice.text } }, 'technician notice has no channel to go to');
      return;
    }
    this.logger.info({ correlationId: notice.requestId ?? undefined, conversationId: delivered.conversationId }, 'technician notice posted');
  }
}
