import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ID, startProductionFakes, type ProductionFakes } from '../support/production-rig';
import { startBot, type RunningBot } from '../../bot/main';
import { cardProblems } from '../cards/validate';
import { FakeConnector } from '../support/fake-connector';
import { FakeUserTokenService } from '../support/fake-user-token-service';
import { demoPersona, demoTenant as tenant, jsonLogSink } from '../support/graph-setup';
import { TeamsClient, cardOf, cardText, findById } from '../support/teams-client';

/**
 * Step-up sign-in when the tenant's OpenID configuration cannot be fetched (an outage, a
 * wrong URL): the sign-in cannot be checked, which is a fault of the service, not a failed
 * verification of the user. It must never count towards the self-service lockout.
 */
const CONNECTION = 'helpdesk-step-up';

let fakes: ProductionFakes;
let tokens: FakeUserTokenService;
let connector: FakeConnector;
let bot: RunningBot;
let client: TeamsClient;
const logs: any[] = [];

beforeAll(async () => {
  fakes = await startProductionFakes({ dirPrefix: 'helpdesk-step-up-down-', tokenService: true });
  connector = fakes.connector;
  tokens = fakes.tokens!;
  bot = await startBot(
    {
      ...fakes.env,
      STEP_UP_CONNECTION_NAME: CONNECTION,
      // Answers 404: the tenant's keys cannot be fetched.
      STEP_UP_OPENID_METADATA_URL: `${tokens.url}/${tenant.tenantId}/v2.0/unreachable/openid-configuration`,
      RECOVERY_PRIVILEGED_GROUP_IDS: tenant.privilegedGroupIds.join(','),
    },
    { logDestination: jsonLogSink(logs) },
  );
  client = fakes.clientFor(bot);
});

afterAll(async () => {
  await bot?.close();
  await fakes?.stop();
});

describe('step-up sign-in while the tenant keys are unreachable', () => {
  it('is not counted as a failed verification: six sign-ins lock nobody out, each is audited as unavailable and the user is told to retry', async () => {
    const emily = demoPersona('employee');
    const conv = client.personalConversationId(emily);
    expect((await client.message(emily, 'reset my password')).status).toBe(200);
    const session = findById(cardOf(connector.sentTo(conv).at(-1)), 'signin-step-up').data.session as string;
    for (let i = 0; i < 6; i++) {
      expect((await client.invoke(emily, 'signin.step-up', { session })).status).toBe(200);
      const code = String(400000 + i);
      tokens.completeSignIn({ userId: `29:${emily.id}`, connectionName: CONNECTION, channelId: 'msteams', code, token: tokens.sign({ oid: emily.id, aud: APP_ID }) });
      const before = connector.sentTo(conv).length;
      const res = await client.post({ ...client.base(emily), type: 'invoke', name: 'signin/verifyState', value: { state: code } });
      expect(res.status).toBe(200);
      const cards = connector.sentTo(conv).slice(before).map(cardOf).filter(Boolean);
      expect(cards).toHaveLength(1);
      expect(cardProblems(cards[0])).toEqual([]);
      expect(findById(cards[0], 'signin-banner').text).toMatch(/could not check that sign-in right now, so it was not counted/);
      expect(cardText(cards[0])).not.toMatch(/locked/);
    }
    expect(bot.store.recovery.get(session)).toMatchObject({ state: 'verifying' });
    expect(bot.store.recovery.countEvents(emily.id, 'verification-failed', new Date(0))).toBe(0);
    expect(bot.store.recovery.lockedUntil(emily.id, new Date())).toBeNull();
    expect(bot.store.audit.query({ action: 'signin.verification-failed' })).toEqual([]);
    expect(bot.store.audit.query({ action: 'signin.self-service-locked' })).toEqual([]);
    const unavailable = bot.store.audit.query({ action: 'signin.verification-unavailable', correlationId: session });
    expect(unavailable).toHaveLength(6);
    expect(JSON.parse(unavailable[0]!.details)).toEqual({ method: 'sign-in', reason: 'keys-unavailable' });
    expect(logs.some((l) => l.msg === 'a step-up sign-in could not be checked' && l.reason === 'keys-unavailable')).toBe(true);
    expect(logs.some((l) => JSON.stringify(l).includes('eyJ'))).toBe(false);
    // Emily is not locked out: she can start again.
    expect((await client.message(emily, 'reset my password')).status).toBe(200);
    expect(findById(cardOf(connector.sentTo(conv).at(-1)), 'signin-title').text).toBe('Reset your password');
  });
});
