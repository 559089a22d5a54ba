import { describe, expect, it } from 'vitest';
import { renderNoticeCard } from '../../adaptive-cards/notice';
import { REMEMBERED_CARDS } from '../../adaptive-cards/render';
import { renderWelcomeCard, type WelcomeSection } from '../../adaptive-cards/welcome';
import { findById } from '../support/teams-client';
import { cardProblems } from './validate';

const sections: WelcomeSection[] = [
  { key: 'everyone', title: 'For you', items: [{ key: 'help', say: 'help', description: 'This card' }, { key: 'whoami', say: 'who am I', description: 'Profile', button: 'Who am I?' }] },
  { key: 'manager', title: 'For managers', items: [{ key: 'my-team', say: 'my team', description: 'Reports', button: 'My team' }] },
  { key: 'technician', title: 'For identity technicians', items: [{ key: 'audit-verify', say: 'audit verify', description: 'Chain', button: 'Verify' }] },
];

const base = { appName: 'Northwind IAM Helpdesk', givenName: 'Adele', displayName: 'Adele Vance', userPrincipalName: 'adele@northwind.example', roleSummary: 'Employee', inChannel: false };

describe('welcome card', () => {
  it('is a valid Adaptive Card 1.5 for every combination of roles', () => {
    for (const subset of [[0], [0, 1], [0, 2], [0, 1, 2]]) {
      const card = renderWelcomeCard({ ...base, sections: subset.map((i) => sections[i]!) });
      expect(card.version).toBe('1.5');
      expect(cardProblems(card)).toEqual([]);
      for (const i of subset) expect(findById(card, `section-${sections[i]!.key}`)).toBeDefined();
    }
  });

  it('binds values as text: template syntax in directory data is not evaluated', () => {
    const card = renderWelcomeCard({ ...base, displayName: '${appName} ${1+1}', givenName: null, sections: [sections[0]!] });
    expect(findById(card, 'identity').text).toContain('${appName} ${1+1}');
  });

  it('drops empty sections and offers at most five buttons per section, each an Action.Execute with only an item key', () => {
    const many: WelcomeSection = { key: 'everyone', title: 'For you', items: Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, say: `s${i}`, description: 'd', button: `B${i}` })) };
    const card = renderWelcomeCard({ ...base, sections: [many, sections[1]!, { key: 'technician', title: 'For identity technicians', items: [] }] });
    expect(findById(card, 'section-technician')).toBeUndefined();
    expect(findById(card, 'section-actions-everyone').actions).toHaveLength(5);
    // A full section does not crowd out another role's buttons.
    expect(findById(card, 'section-actions-manager').actions.map((a: any) => a.id)).toEqual(['menu-my-team']);
    for (const a of [...findById(card, 'section-actions-everyone').actions, ...findById(card, 'section-actions-manager').actions] as any[]) {
      expect(a.type).toBe('Action.Execute');
      expect(Object.keys(a.data)).toEqual(['item']);
    }
    expect(cardProblems(card)).toEqual([]);
  });
});

describe('remembered cards', () => {
  it('gives the same welcome card again, frozen so that no caller can change it for the next, and a different card for different data', () => {
    const first = renderWelcomeCard({ ...base, sections });
    const again = renderWelcomeCard({ ...base, sections: sections.map((s) => ({ ...s })) });
    expect(again).toEqual(first);
    expect(cardProblems(again)).toEqual([]);
    expect(() => {
      (again as Record<string, unknown>).body = [];
    }).toThrow(TypeError);
    expect(() => {
      findById(again, 'identity').text = 'someone else';
    }).toThrow(TypeError);
    expect(findById(renderWelcomeCard({ ...base, sections }), 'identity').text).toContain('adele@northwind.example');
    const other = renderWelcomeCard({ ...base, displayName: 'Megan Bowen', givenName: 'Megan', sections });
    expect(findById(other, 'identity').text).toContain('Megan Bowen');
    expect(findById(renderWelcomeCard({ ...base, sections }), 'identity').text).toContain('Adele Vance');
  });

  it('forgets the least recently used card beyond its limit and renders it again', () => {
    const card = (n: number) => renderWelcomeCard({ ...base, displayName: `Person ${n}`, givenName: null, sections: [sections[0]!] });
    for (let n = 0; n < REMEMBERED_CARDS + 10; n++) card(n);
    expect(findById(card(0), 'identity').text).toContain('Person 0');
    expect(findById(card(REMEMBERED_CARDS + 5), 'identity').text).toContain(`Person ${REMEMBERED_CARDS + 5}`);
  });
});

describe('notice card', () => {
  it('is valid with and without facts', () => {
    expect(cardProblems(renderNoticeCard({ title: 'T', text: 'x' }))).toEqual([]);
    const withFacts = renderNoticeCard({ title: 'T', text: 'x', tone: 'good', facts: [{ title: 'a', value: 'b' }] });
    expect(cardProblems(withFacts)).toEqual([]);
    expect(findById(withFacts, 'notice-title').color).toBe('Good');
    expect(findById(renderNoticeCard({ title: 'T', text: 'x' }), 'notice-facts')).toBeUndefined();
  });

  it('the validator itself catches a broken card', () => {
    expect(cardProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Bogus' }] }).length).toBeGreaterThan(0);
    expect(cardProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Input.Text', id: 'a' }, { type: 'Input.Text', id: 'a' }] }).length).toBeGreaterThan(0);
  });
});
