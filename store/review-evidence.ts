import { csvField, verificationHeader } from './audit-export';
import type { AuditTrail } from './audit-trail';
import type { Campaign, CampaignReviewer, CampaignScope, ReviewItem, ReviewStore } from './reviews';

/**
 * The evidence of an access review campaign for auditors, as CSV: comment lines (`#`) with the
 * campaign, its completion and the audit trail's verification, then one row per line: who was
 * asked, who decided what, when and why, whether it was auto-applied, when the removal was
 * asked for and took effect, or why it failed. Shared by the `review report --csv` command and
 * `npm run review-report`.
 */

export const EVIDENCE_COLUMNS = [
  'campaign',
  'item',
  'member',
  'member_upn',
  'access',
  'group_id',
  'reviewers',
  'decided_by',
  'decision',
  'reason',
  'decided_at',
  'auto_applied',
  'removal_requested_at',
  'removal_effective_at',
  'removal_failed',
] as const;

export function reviewEvidenceCsv(audit: AuditTrail, reviews: ReviewStore, c: Campaign): string {
  const counts = reviews.counts(c.id);
  const v = audit.verify();
  const events = audit.query({ correlationId: c.id }, { limit: 10_000 }).length;
  const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');
  const head = [
    '# Northwind IAM Helpdesk access review evidence',
    `# campaign: ${c.id} ${oneLine(c.title)}; scope ${oneLine(scopeText(c.scope))}; reviewers ${oneLine(reviewerText(c.reviewer))}; auto-apply ${c.autoApply}`,
    `# started ${c.createdAt} by ${oneLine(c.startedBy.name)}; due ${c.dueAt}; ${c.closedAt ? `${c.state} ${c.closedAt} (${oneLine(c.closeReason ?? '')})` : 'still open'}`,
    `# completion: ${counts.reviewed} of ${counts.total} decided by reviewers (${rate(counts.reviewed, counts.total)}); kept ${counts.kept}, removed ${counts.removed}, auto-applied ${counts.autoApplied}, not decided ${counts.undecided}`,
    `# audit: ${events} events with correlation id ${c.id}`,
    ...verificationHeader(v, { correlationId: c.id }).slice(1),
  ];
  const rows = reviews.items(c.id).map((i) =>
    [
      c.id,
      i.id,
      i.memberName,
      i.memberUpn,
      i.accessName,
      i.groupId,
      reviewerNames(reviews, i).join('; '),
      i.autoApplied ? 'auto-apply' : (i.decidedBy.name ?? ''),
      i.decision ?? 'not decided',
      i.reason ?? '',
      i.decidedAt ?? '',
      i.autoApplied ? 'yes' : 'no',
      i.removalRequestedAt ?? '',
      i.removalEffectiveAt ?? '',
      i.removalState === 'failed' ? (i.removalResult ?? 'failed') : '',
    ]
      .map(csvField)
      .join(','),
  );
  return [...head, EVIDENCE_COLUMNS.join(','), ...rows].join('\n');
}

/** Who was asked to review a line (fallback reviewers marked). */
export function reviewerNames(reviews: ReviewStore, i: ReviewItem): string[] {
  return reviews.reviewersOf(i.id).map((r) => r.reviewerName + (r.source === 'fallback' ? ' (fallback)' : ''));
}

/** "members of the group Payroll Reports", "holders of Payroll Reports (catalog)", ... */
export function scopeText(s: CampaignScope): string {
  switch (s.kind) {
    case 'group':
      return `members of the group ${s.name}`;
    case 'resource':
      return `holders of ${s.name} (catalog)`;
    case 'department':
      return `catalog access held in ${s.name}`;
    case 'user-access':
      return s.name;
  }
}

export function reviewerText(r: CampaignReviewer): string {
  switch (r.kind) {
    case 'manager':
      return "each member's manager";
    case 'owner':
      return 'the owners of the group';
    case 'group':
      return `the members of ${r.name}`;
    case 'user':
      return r.name;
  }
}

/** "33%"; 100% of nothing. */
export function rate(part: number, total: number): string {
  return total ? `${Math.round((100 * part) / total)}%` : '100%';
}
