import { ActivityTypes, MemoryStorage, TestAdapter, type Activity } from 'botbuilder';
import { Application, TurnState } from '@microsoft/teams-ai';
import { describe, expect, it } from 'vitest';
import type { BotDeps } from '../../bot/deps';
import { IntentRegistry } from '../../bot/intents';
import { createLogger } from '../../bot/logger';
import { MenuRegistry } from '../../bot/menu';
import { defaultRecognizer } from '../../bot/nlu';
import { setTurnInfo } from '../../bot/turn-info';
import { notAvailableYet, registerUnderstanding } from '../../dialogs/understanding';
import type { DirectoryUser } from '../../directory/directory';

/**
 * The understanding dialog on its own: a teams-ai Application with only the recognizer's
 * route, an intent registry the test fills, and botbuilder's in-memory test adapter. Every
 * intent of the product has a flow in the assembled bot; this is where an intent without
 * one is seen to get the honest "not in chat yet" answer.
 */
const USER: DirectoryUser = {
  id: '0d4e3b2a-1c5f-4e6d-8a7b-9c0d1e2f3a4b',
  userPrincipalName: 'emily.chen@northwind.example',
  displayName: 'Emily Chen',
  mail: null,
  givenName: 'Emily',
  surname: 'Chen',
  department: 'Sales',
  jobTitle: null,
  accountEnabled: true,
  onPremisesSyncEnabled: false,
};

function start(intents: IntentRegistry): TestAdapter {
  const app = new Application<TurnState>({ storage: new MemoryStorage(), startTypingTimer: false, longRunningMessages: false });
  const deps = { logger: createLogger('silent'), clock: () => new Date('2026-06-10T10:00:00Z') } as unknown as BotDeps;
  registerUnderstanding(app, deps, new MenuRegistry(), intents, { recognizer: defaultRecognizer() });
  return new TestAdapter(async (context) => {
    setTurnInfo(context, { correlationId: 'test', user: USER, roles: { employee: true, manager: false, directReports: 0, technician: false }, conversationKind: 'personal' });
    await app.run(context);
  });
}

function message(text: string): Partial<Activity> {
  return { type: ActivityTypes.Message, text, localTimezone: 'Europe/London', localTimestamp: new Date('2026-06-10T11:00:00+01:00'), conversation: { id: 'c1', conversationType: 'personal' } as never };
}

async function replies(adapter: TestAdapter, text: string): Promise<Partial<Activity>[]> {
  await adapter.receiveActivity(message(text));
  const out: Partial<Activity>[] = [];
  while (adapter.activeQueue.length) out.push(adapter.activeQueue.shift()!);
  return out;
}

describe('an intent without a flow in chat', () => {
  it('gets the honest answer: what was understood, and that nothing was requested or changed', async () => {
    const adapter = start(new IntentRegistry());
    const [reply, ...more] = await replies(adapter, 'could I get the source code repos till end of month?');
    expect(more).toEqual([]);
    expect(reply!.text).toMatch(/^I understood that you want to \*\*request access\*\*/);
    expect(reply!.text).toContain('resource: **Source Code**');
    expect(reply!.text).toContain('until: **end of Tuesday 30 June 2026 (Europe/London)**');
    expect(reply!.text).toMatch(/cannot do that in chat yet, so nothing has been requested or changed/);
    expect(reply!.text).toMatch(/IT service desk/);
  });

  it('is not given once the intent has a handler: the handler gets the entities', async () => {
    const intents = new IntentRegistry();
    const seen: unknown[] = [];
    intents.handle('access.request', async (context, _state, understood) => {
      seen.push(understood);
      await context.sendActivity('flow started');
    });
    const adapter = start(intents);
    const sent = await replies(adapter, 'could I get the source code repos till end of month?');
    expect(sent.map((a) => a.text)).toEqual(['flow started']);
    expect(seen).toEqual([
      expect.objectContaining({
        intent: 'access.request',
        source: 'text',
        entities: expect.objectContaining({ resources: [expect.objectContaining({ id: 'source-code' })], duration: expect.objectContaining({ untilDate: '2026-06-30', timeZone: 'Europe/London' }) }),
      }),
    ]);
    // Other intents still get the honest answer.
    expect((await replies(adapter, 'what access do I have'))[0]!.text).toBe(
      notAvailableYet({ intent: 'access.list', confidence: 1, entities: { resources: [], requestIds: [], people: [] }, source: 'text' }),
    );
  });
});
