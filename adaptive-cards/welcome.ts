import { renderTemplate, type AdaptiveCardJson } from './render';

export interface WelcomeItem {
  /** Stable key, used in element ids and in the button's data. */
  key: string;
  /** What to type. */
  say: string;
  description: string;
  /** Offer a button for it on the card. */
  button?: string;
}

export interface WelcomeSection {
  key: 'everyone' | 'manager' | 'technician';
  title: string;
  items: WelcomeItem[];
}

export interface WelcomeCardData {
  appName: string;
  givenName: string | null;
  displayName: string;
  userPrincipalName: string;
  roleSummary: string;
  sections: WelcomeSection[];
  /** True in a team channel, where people @mention the bot. */
  inChannel: boolean;
}

/** The welcome and help card: what this user can do, by role. */
export function renderWelcomeCard(d: WelcomeCardData): AdaptiveCardJson {
  // Each section carries its own buttons (at most five, what a card's action set holds), so
  // one role's items never crowd out another's.
  const sections = d.sections
    .filter((s) => s.items.length > 0)
    .map((s) => ({
      ...s,
      buttons: s.items
        .filter((i) => i.button)
        .slice(0, 5)
        .map((i) => ({ key: i.key, title: i.button! })),
    }));
  // The same person asking again gets the same card: remembered, not templated again.
  return renderTemplate(
    'welcome',
    {
      appName: d.appName,
      greeting: `Hi ${d.givenName ?? d.displayName}. I am the identity and access helpdesk: ask me in plain words or pick an item below.`,
      displayName: d.displayName,
      userPrincipalName: d.userPrincipalName,
      roleSummary: d.roleSummary,
      sections,
      footer: d.inChannel
        ? 'In a channel, @mention me before each command. Everything you do here is recorded in the audit trail.'
        : 'Type help at any time to see this card again. Everything you do here is recorded in the audit trail.',
    },
    { remember: true },
  );
}
