import type { TurnContext } from 'botbuilder';
import { renderNoticeCard } from '../adaptive-cards/notice';
import type { BotDeps, HelpdeskApp } from '../bot/deps';
import type { MenuRegistry } from '../bot/menu';
import { turnInfo } from '../bot/turn-info';
import { sendCard } from './reply';

// One run of spaces and marks at the end: `\s*[?.!]*\s*$` was quadratic over a long run of spaces.
export const MY_TEAM_TEXT = /^\s*(my\s+team|my\s+(direct\s+)?reports|team)[\s?.!]*$/i;

/** Managers: their direct reports and the state of each account. */
export function registerMyTeam(app: HelpdeskApp, deps: BotDeps, menu: MenuRegistry): void {
  menu.add({
    key: 'my-team',
    audience: 'manager',
    say: 'my team',
    description: 'Your direct reports and whether each account can sign in.',
    button: 'My team',
    run: (context) => sendMyTeam(context, deps),
  });
  app.message(MY_TEAM_TEXT, (context) => sendMyTeam(context, deps));
}

async function sendMyTeam(context: TurnContext, deps: BotDeps): Promise<void> {
  const { user } = turnInfo(context);
  const reports = await deps.directory.getDirectReports(user.id);
  if (reports.length === 0) {
    await sendCard(context, renderNoticeCard({ title: 'My team', text: 'The company directory lists no direct reports for you.' }));
    return;
  }
  reports.sort((a, b) => a.displayName.localeCompare(b.displayName));
  await sendCard(
    context,
    renderNoticeCard({
      title: `My team (${reports.length})`,
      text: 'Your direct reports, from the company directory.',
      facts: reports.map((r) => ({
        title: r.displayName,
        value: `${r.jobTitle ?? 'no title'} · ${r.accountEnabled ? 'enabled' : 'DISABLED'}${r.onPremisesSyncEnabled ? ' · synced from on-premises' : ''}`,
      })),
    }),
  );
}
