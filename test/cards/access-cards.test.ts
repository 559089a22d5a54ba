import { describe, expect, it } from 'vitest';
import { renderAccessNotice, renderRequestCard, renderRequestConfirm, renderRequestForm, renderRequestList, type RequestCardData } from '../../adaptive-cards/access';
import { findById } from '../support/teams-client';
import { cardProblems } from './validate';

const base: RequestCardData = {
  requestId: 'REQ-1042',
  stage: 2,
  title: 'REQ-1042 · Payroll Reports for Emily Chen',
  status: 'Waiting for approval: stage 2 of 2',
  statusTone: 'warning',
  facts: [{ title: 'Risk', value: 'High' }],
  history: [{ title: 'Stage 1 approved', value: 'Thomas Berg' }],
  showDecide: true,
  showCancel: false,
  refreshUserIds: ['29:a', '8:orgid:b'],
};

describe('the request card', () => {
  it('for an approver: Approve, Deny (with a comment box), Forward; the data carries only the request id and stage', () => {
    const card = renderRequestCard(base);
    expect(cardProblems(card)).toEqual([]);
    expect(card.version).toBe('1.5');
    for (const id of ['access-approve', 'access-deny']) {
      expect(findById(card, id).type).toBe('Action.Execute');
      expect(findById(card, id).data).toEqual({ requestId: 'REQ-1042', stage: 2 });
    }
    expect(findById(card, 'comment')).toMatchObject({ type: 'Input.Text', isMultiline: true });
    expect(findById(card, 'access-forward').type).toBe('Action.ShowCard');
    expect(findById(card, 'access-forward-submit').data).toEqual({ requestId: 'REQ-1042', stage: 2 });
    expect(card.refresh).toEqual({
      action: { type: 'Action.Execute', title: 'Refresh', verb: 'access.refresh', data: { requestId: 'REQ-1042', stage: 2 } },
      userIds: ['29:a', '8:orgid:b'],
    });
  });

  it('for anyone else: the status and history, no buttons; no refresh once decided', () => {
    const card = renderRequestCard({ ...base, showDecide: false, status: 'Granted until ...', statusTone: 'good', refreshUserIds: [] });
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'access-approve')).toBeUndefined();
    expect(findById(card, 'comment')).toBeUndefined();
    expect(findById(card, 'access-history-facts').facts).toEqual([{ title: 'Stage 1 approved', value: 'Thomas Berg' }]);
    expect(card.refresh).toBeUndefined();
    expect(findById(card, 'access-header').style).toBe('good');
  });

  it('for the requester: a cancel button; a banner when given', () => {
    const card = renderRequestCard({ ...base, showDecide: false, showCancel: true, banner: 'Forwarded', bannerTone: 'accent' });
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'access-cancel').data).toEqual({ requestId: 'REQ-1042' });
    expect(findById(card, 'access-banner')).toMatchObject({ text: 'Forwarded', color: 'Accent' });
  });

  it('caps refresh.userIds at 60 (the Teams limit)', () => {
    const card = renderRequestCard({ ...base, refreshUserIds: Array.from({ length: 80 }, (_, i) => `29:${i}`) });
    expect((card.refresh as any).userIds).toHaveLength(60);
  });

  it('binds directory and user text as text', () => {
    const card = renderRequestCard({ ...base, facts: [{ title: 'Justification', value: '${requestId} {{DATE(x)}}' }] });
    expect(JSON.stringify(findById(card, 'access-facts'))).toContain('${requestId}');
  });
});

describe('the request form, confirmation, lists and notices', () => {
  it('form: a filtered choice of resources, a duration, a justification; an error when given', () => {
    const form = renderRequestForm({ intro: 'i', resources: [{ title: 'VPN', value: 'vpn' }], durations: [{ title: 'Default', value: 'default' }], resource: 'vpn', error: 'Pick one' });
    expect(cardProblems(form)).toEqual([]);
    expect(findById(form, 'resource')).toMatchObject({ style: 'filtered', value: 'vpn', isRequired: true });
    expect(findById(form, 'duration').value).toBe('default');
    expect(findById(form, 'form-error').text).toBe('Pick one');
    expect(findById(form, 'access-review').data).toEqual({});
    expect(findById(renderRequestForm({ intro: 'i', resources: [], durations: [] }), 'form-error')).toBeUndefined();
  });

  it('confirmation: the buttons carry only the draft id', () => {
    const card = renderRequestConfirm({ draft: 'd-1', intro: 'i', facts: [{ title: 'Access', value: 'VPN' }] });
    expect(cardProblems(card)).toEqual([]);
    for (const id of ['access-submit', 'access-edit', 'access-discard']) expect(findById(card, id).data).toEqual({ draft: 'd-1' });
    expect(findById(card, 'confirm-note')).toBeUndefined();
  });

  it('list: one container per request, cancel only where allowed', () => {
    const card = renderRequestList({
      title: 'My access requests',
      intro: 'i',
      items: [
        { id: 'REQ-1', heading: 'h', status: 's', statusTone: 'warning', facts: [{ title: 'a', value: 'b' }], cancellable: true },
        { id: 'REQ-2', heading: 'h', status: 's', statusTone: 'good', facts: [], cancellable: false },
      ],
    });
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'cancel-REQ-1')).toMatchObject({ verb: 'access.list-cancel', data: { requestId: 'REQ-1' } });
    expect(findById(card, 'cancel-REQ-2')).toBeUndefined();
    expect(cardProblems(renderRequestList({ title: 't', intro: 'none', items: [] }))).toEqual([]);
  });

  it('notice with and without buttons', () => {
    const card = renderAccessNotice({ title: 't', text: 'x', tone: 'warning', facts: [{ title: 'a', value: 'b' }], actions: [{ id: 'access-extend', title: 'Extend', verb: 'access.extend', data: { requestId: 'REQ-1' } }] });
    expect(cardProblems(card)).toEqual([]);
    expect(findById(card, 'access-extend')).toMatchObject({ type: 'Action.Execute', data: { requestId: 'REQ-1' } });
    expect(cardProblems(renderAccessNotice({ title: 't', text: 'x' }))).toEqual([]);
  });
});
