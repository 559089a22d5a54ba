import type { TurnContext } from 'botbuilder';
import { renderNoticeCard } from '../../adaptive-cards/notice';
import type { AdaptiveCardJson } from '../../adaptive-cards/render';
import type { HelpdeskApp } from '../../bot/deps';
import type { IntentRegistry } from '../../bot/intents';
import { turnInfo } from '../../bot/turn-info';
import type { TechnicianCommands } from '../technician/commands';
import { callerOf } from '../technician/register';
import type { ReviewService } from './service';

/** Card verbs of access reviews: the reviewers' card and the technicians' progress card. */
export const REVIEW_VERBS = ['review.keep', 'review.remove', 'review.page', 'review.keep-all', 'review.keep-all-confirm', 'review.report', 'review.resend'] as const;

/**
 * The buttons of review cards. A reviewer's buttons act only on the clicker's own items, and
 * only after the checks of the service (the clicker is the item's reviewer now, never the
 * member); the card data carries only the campaign id, the item id and the page. The
 * progress card's button is for identity technicians, checked like their commands.
 *
 * With `intents`, "what's waiting for me" (`approvals.pending`) also lists the campaigns where
 * the user has lines to decide, each with a button that sends their card again.
 */
export function registerReviewActions(app: HelpdeskApp, service: ReviewService, technician: TechnicianCommands, intents?: IntentRegistry): void {
  intents?.addWaiting((user) => service.waitingCard(user.id));
  for (const verb of REVIEW_VERBS) {
    app.adaptiveCards.actionExecute<Record<string, unknown>>(verb, async (context, _state, data) => click(context, verb, data && typeof data === 'object' ? data : {}, service, technician));
  }
}

async function click(context: TurnContext, verb: (typeof REVIEW_VERBS)[number], data: Record<string, unknown>, service: ReviewService, technician: TechnicianCommands): Promise<AdaptiveCardJson> {
  const { user, correlationId, conversationKind } = turnInfo(context);
  switch (verb) {
    case 'review.keep':
      return service.decide(user, data, 'keep', correlationId);
    case 'review.remove':
      return service.decide(user, data, 'remove', correlationId);
    case 'review.page':
      return service.showPage(user, data);
    case 'review.keep-all':
      return service.keepAllAsk(user, data);
    case 'review.keep-all-confirm':
      return service.keepAllConfirm(user, data, correlationId);
    case 'review.resend':
      return service.resend(user, data, correlationId, conversationKind === 'personal');
    case 'review.report': {
      const refusal = technician.gate(callerOf(context), verb);
      if (refusal) return renderNoticeCard({ title: 'Not available', text: refusal, tone: 'attention' });
      const c = typeof data.campaign === 'string' ? service.get(data.campaign) : null;
      if (!c) return renderNoticeCard({ title: 'This card is no longer active', text: 'There is no such access review.', tone: 'warning' });
      return service.reportCard(c);
    }
  }
}
