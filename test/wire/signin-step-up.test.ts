import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { APP_ID, startProductionFakes, type ProductionFakes } from '../support/production-rig';
import { startBot, type RunningBot } from '../../bot/main';
import { cardProblems } from '../cards/validate';
import { FakeConnector } from '../support/fake-connector';
import type { FakeGraph } from '../support/fake-graph';
import { FakeBotFrameworkIssuer } from '../support/fake-token-issuer';
import { FakeUserTokenService, type StepUpClaims } from '../support/fake-user-token-service';
import { demoPersona, demoTenant as tenant, jsonLogSink } from '../support/graph-setup';
import { TeamsClient, cardOf, cardText, findById, type TestUser } from '../support/teams-client';

/**
 * The step-up sign-in round trip in production mode, offline: incoming activities carry
 * tokens of a fake Bot Framework issuer, the directory is a fake Microsoft Graph, and the
 * bot's OAuthUrl (`BOT_OAUTH_URL`) is a loopback Bot Framework token service that hands out
 * tokens signed by a loopback Entra key set (`STEP_UP_OPENID_METADATA_URL`).
 *
 * The user starts a password reset, clicks "Sign in again with MFA", gets the OAuth card;
 * after the (simulated) sign-in Teams sends `signin/verifyState` with the magic code, the bot
 * fetches the token from the token service and validates it; only a valid token with fresh
 * MFA of the acting user counts.
 */
const CONNECTION = 'helpdesk-step-up';
const MINUTE_S = 60;

const person = demoPersona;
let fakes: ProductionFakes;
let offline: ProductionFakes['offline'];
let graph: FakeGraph;
let issuer: FakeBotFrameworkIssuer;
let tokens: FakeUserTokenService;
let connector: FakeConnector;
let bot: RunningBot;
let client: TeamsClient;
let outgoing: string;
const logs: any[] = [];

beforeAll(async () => {
  fakes = await startProductionFakes({ dirPrefix: 'helpdesk-step-up-', tokenService: true });
  ({ graph, issuer, connector, offline, outgoing } = fakes);
  tokens = fakes.tokens!;
  bot = await startBot(
    {
      ...fakes.env,
      STEP_UP_CONNECTION_NAME: CONNECTION,
      STEP_UP_OPENID_METADATA_URL: tokens.metadataUrl,
      // An authentication context whose Conditional Access policy requires MFA.
      STEP_UP_ACRS: 'c1',
      RECOVERY_PRIVILEGED_GROUP_IDS: tenant.privilegedGroupIds.join(','),
      // Every refusal below is a failed verification; none of them may lock the test user out.
      RECOVERY_MAX_FAILED_VERIFICATIONS: '20',
    },
    { logDestination: jsonLogSink(logs) },
  );
  client = fakes.clientFor(bot);
});

afterAll(async () => {
  await bot?.close();
  await fakes?.stop();
});

beforeEach(() => {
  connector.clear();
  tokens.clear();
  graph.clearRecords();
});

const emily = () => person('employee');
const thomas = () => person('manager');

/** Cards and other activities sent to the user's 1:1 chat since `from`. */
function sentSince(user: TestUser, from: number): any[] {
  return connector.sentTo(client.personalConversationId(user)).slice(from);
}

/**
 * Emily asks for a password reset and clicks "Sign in again with MFA": returns the recovery
 * id, the OAuth card she got, and how many activities her chat had before the sign-in answer.
 */
async function startStepUp(user = emily()): Promise<{ session: string; oauth: any; mark: number }> {
  const conv = client.personalConversationId(user);
  expect((await client.message(user, 'reset my password')).status).toBe(200);
  const verify = cardOf(connector.sentTo(conv).at(-1));
  expect(findById(verify, 'signin-title').text).toBe('Reset your password');
  // Production has no demo phones: signing in again is the self-service way.
  expect(findById(verify, 'code')).toBeUndefined();
  const button = findById(verify, 'signin-step-up');
  expect(button).toMatchObject({ title: 'Sign in again with MFA', verb: 'signin.step-up' });
  const session = button.data.session as string;

  const before = connector.sentTo(conv).length;
  const res = await client.invoke(user, 'signin.step-up', { session });
  expect(res.status).toBe(200);
  expect(cardProblems(res.body?.value)).toEqual([]);
  expect(cardText(res.body.value)).toMatch(/Use the sign-in card below/);
  const oauth = sentSince(user, before)
    .flatMap((a) => a.attachments ?? [])
    .find((a: any) => a.contentType === 'application/vnd.microsoft.card.oauth');
  expect(oauth).toBeDefined();
  return { session, oauth: oauth.content, mark: connector.sentTo(conv).length };
}

/** Teams' answer after the user signed in on the OAuth card: `signin/verifyState` with the magic code. */
async function verifyState(user: TestUser, code: string): Promise<{ status: number; cards: any[] }> {
  const before = connector.sentTo(client.personalConversationId(user)).length;
  const res = await client.post({ ...client.base(user), type: 'invoke', name: 'signin/verifyState', value: { state: code } });
  const cards = sentSince(user, before).map(cardOf).filter(Boolean);
  for (const c of cards) expect(cardProblems(c)).toEqual([]);
  return { status: res.status, cards };
}

/** The user signs in on the card's link and the token service holds `token` for the magic code. */
function signedIn(user: TestUser, token: string, code = '482913'): string {
  tokens.completeSignIn({ userId: `29:${user.id}`, connectionName: CONNECTION, channelId: 'msteams', code, token });
  return code;
}

const now = () => Math.floor(Date.now() / 1000);

describe('step-up sign-in round trip (production)', () => {
  it('refuses a token without MFA, with MFA too old, for another app, of another user, expired or signed by an unknown key: nothing changes, each is audited', async () => {
    const cases: Array<{ name: string; claims: StepUpClaims; unknownKey?: boolean; reason: string; says: RegExp }> = [
      { name: 'password only', claims: { oid: emily().id, aud: APP_ID, amr: ['pwd'] }, reason: 'no-mfa', says: /no-mfa/ },
      { name: 'MFA 11 minutes ago', claims: { oid: emily().id, aud: APP_ID, auth_time: now() - 11 * MINUTE_S }, reason: 'stale-mfa', says: /stale-mfa/ },
      { name: 'another authentication context', claims: { oid: emily().id, aud: APP_ID, amr: ['pwd'], acrs: ['c2'] }, reason: 'stale-mfa', says: /stale-mfa|no-mfa/ },
      { name: 'another app', claims: { oid: emily().id, aud: '00000003-0000-0000-c000-000000000000' }, reason: 'audience', says: /audience/ },
      { name: 'another user', claims: { oid: thomas().id, aud: APP_ID }, reason: 'other-user', says: /other-user/ },
      { name: 'expired', claims: { oid: emily().id, aud: APP_ID, iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 }, reason: 'expired', says: /expired/ },
      { name: 'unknown key', claims: { oid: emily().id, aud: APP_ID }, unknownKey: true, reason: 'signature', says: /signature/ },
    ];
    const state0 = await bot.directory.getSignInState(emily().id);
    for (const c of cases) {
      const { session } = await startStepUp();
      const seq = bot.store.audit.count();
      const code = signedIn(emily(), tokens.sign(c.claims, { unknownKey: c.unknownKey }));
      const answer = await verifyState(emily(), code);
      expect(answer.status, c.name).toBe(200);
      // The bot fetched the token with the magic code, then let the token service forget it.
      expect(tokens.callsTo('/api/usertoken/GetToken').at(-1)!.query, c.name).toMatchObject({ userId: `29:${emily().id}`, connectionName: CONNECTION, channelId: 'msteams', code });
      expect(answer.cards, c.name).toHaveLength(1);
      expect(cardText(answer.cards[0]), c.name).toMatch(/That sign-in does not count/);
      expect(cardText(answer.cards[0]), c.name).toMatch(c.says);
      // Not verified, nothing reset.
      expect(bot.store.recovery.get(session), c.name).toMatchObject({ state: 'verifying' });
      expect(bot.store.recovery.verifications(session).filter((v) => v.state === 'confirmed'), c.name).toEqual([]);
      const failed = bot.store.audit.query({ action: 'signin.verification-failed', correlationId: session });
      expect(failed, c.name).toHaveLength(1);
      expect(JSON.parse(failed[0]!.details), c.name).toEqual({ method: 'sign-in', reason: c.reason });
      expect(bot.store.audit.query({ action: 'signin.verified', correlationId: session }), c.name).toEqual([]);
      expect(bot.store.audit.query({ action: 'signin.password-reset' }, { afterSeq: seq }), c.name).toEqual([]);
    }
    expect(graph.calls('PATCH', new RegExp(`^/users/${emily().id}$`))).toEqual([]);
    expect(await bot.directory.getSignInState(emily().id)).toEqual(state0);
    // The token itself is nowhere in the logs.
    expect(logs.some((l) => JSON.stringify(l).includes('eyJ'))).toBe(false);
  });

  it('a wrong magic code gets no token: not verified, and the user is told the sign-in did not complete', async () => {
    const { session } = await startStepUp();
    signedIn(emily(), tokens.sign({ oid: emily().id, aud: APP_ID }), '111111');
    const answer = await verifyState(emily(), '999999');
    expect(answer.status).toBe(200);
    expect(answer.cards).toHaveLength(1);
    expect(cardText(answer.cards[0])).toMatch(/sign-in did not complete/i);
    expect(bot.store.recovery.get(session)).toMatchObject({ state: 'verifying' });
    expect(bot.store.audit.query({ action: 'signin.verified', correlationId: session })).toEqual([]);
  });

  it('a signin/tokenExchange (Teams SSO) is declined, so Teams shows the sign-in button: a silent SSO token proves no fresh MFA', async () => {
    const { session } = await startStepUp();
    const res = await client.post({
      ...client.base(emily()),
      type: 'invoke',
      name: 'signin/tokenExchange',
      value: { id: 'exchange-1', connectionName: CONNECTION, token: tokens.sign({ oid: emily().id, aud: `api://${APP_ID}` }) },
    });
    expect(res.status).toBe(412);
    expect(res.body).toMatchObject({ id: 'exchange-1', connectionName: CONNECTION });
    expect(tokens.callsTo('/api/usertoken/exchange')).toEqual([]);
    expect(bot.store.recovery.get(session)).toMatchObject({ state: 'verifying' });
    expect(bot.store.audit.query({ action: 'signin.verified', correlationId: session })).toEqual([]);
  });

  it('a fresh MFA sign-in of the acting user verifies the reset: the OAuth card, the magic code, the token checked, the password reset', async () => {
    const { session, oauth } = await startStepUp();
    // The OAuth card names the bot's connection and the token service's sign-in link.
    expect(oauth.connectionName).toBe(CONNECTION);
    // No token exchange resource: Teams must not try single sign-on, which is no new sign-in.
    expect(oauth.tokenExchangeResource).toBeUndefined();
    expect(oauth.text).toMatch(/MFA/);
    expect(oauth.buttons[0]).toMatchObject({ type: 'signin', title: 'Sign in again' });
    expect(oauth.buttons[0].value).toMatch(new RegExp(`^${tokens.url}/signin\\?state=`));
    // The old token was dropped first, then the sign-in resource asked for, with the bot's token.
    expect(tokens.calls.map((c) => `${c.method} ${c.path}`).filter((c) => c.includes('/api/'))).toEqual(['DELETE /api/usertoken/SignOut', 'GET /api/botsignin/GetSignInResource']);
    expect(tokens.calls.filter((c) => c.path.startsWith('/api/')).every((c) => c.authorization === `Bearer ${outgoing}`)).toBe(true);
    const state = JSON.parse(Buffer.from(tokens.callsTo('/api/botsignin/GetSignInResource')[0]!.query.state!, 'base64').toString('utf8'));
    expect(state).toMatchObject({ connectionName: CONNECTION, msAppId: APP_ID, conversation: { user: { id: `29:${emily().id}` } } });
    expect(tokens.callsTo('/api/usertoken/SignOut')[0]!.query).toMatchObject({ userId: `29:${emily().id}`, connectionName: CONNECTION, channelId: 'msteams' });

    const before = await bot.directory.getSignInState(emily().id);
    expect(before.passwordChangeRequired).toBe(false);
    const code = signedIn(emily(), tokens.sign({ oid: emily().id, aud: APP_ID, amr: ['pwd', 'mfa'], auth_time: now() - 2 * MINUTE_S }));
    const answer = await verifyState(emily(), code);
    expect(answer.status).toBe(200);

    // Verified by the sign-in and done: the password card (the secret) and the result card.
    expect(bot.store.recovery.get(session)).toMatchObject({ state: 'completed' });
    const verified = bot.store.audit.query({ action: 'signin.verified', correlationId: session });
    expect(verified).toHaveLength(1);
    expect(JSON.parse(verified[0]!.details)).toMatchObject({ method: 'sign-in', via: 'amr', complete: true });
    expect(bot.store.audit.query({ action: 'signin.password-reset', correlationId: session })).toHaveLength(1);
    const secret = answer.cards.find((c) => findById(c, 'secret-value'));
    expect(secret).toBeDefined();
    expect(answer.cards.some((c) => findById(c, 'signin-title')?.text === 'Done: password reset')).toBe(true);
    const after = await bot.directory.getSignInState(emily().id);
    expect(after.passwordChangeRequired).toBe(true);
    expect(graph.calls('PATCH', new RegExp(`^/users/${emily().id}$`))).toHaveLength(1);

    // The token was fetched once with the magic code and the token service told to forget it.
    expect(tokens.callsTo('/api/usertoken/GetToken')).toHaveLength(1);
    expect(tokens.calls.filter((c) => c.path.startsWith('/api/')).at(-1)).toMatchObject({ method: 'DELETE', path: '/api/usertoken/SignOut' });
    // Offline: the bot reached nothing but the loopback services.
    expect(offline.reachedOut).toEqual([]);
  });

  it('a sign-in under the configured authentication context (acrs) counts too, issued within the maximum age', async () => {
    const { session } = await startStepUp();
    const code = signedIn(emily(), tokens.sign({ oid: emily().id, aud: `api://${APP_ID}`, amr: ['pwd'], acrs: ['c1'], iat: now() - MINUTE_S }));
    const answer = await verifyState(emily(), code);
    expect(answer.status).toBe(200);
    expect(bot.store.recovery.get(session)).toMatchObject({ state: 'completed' });
    const [verified] = bot.store.audit.query({ action: 'signin.verified', correlationId: session });
    expect(JSON.parse(verified!.details)).toMatchObject({ method: 'sign-in', via: 'acrs' });
  });
});
