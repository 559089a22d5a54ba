import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../../bot/main';
import { cardProblems } from '../cards/validate';
import type { FakeConnector } from '../support/fake-connector';
import type { FakeUserTokenService } from '../support/fake-user-token-service';
import { demoPersona, demoTenant, jsonLogSink } from '../support/graph-setup';
import { APP_ID, startProductionFakes, type ProductionFakes } from '../support/production-rig';
import { cardOf, cardText, findById, type TeamsClient, type TestUser } from '../support/teams-client';

/**
 * Approving high-risk access in production mode needs the approver's fresh MFA: a step-up
 * sign-in (the bot's OAuth connection, a token of the tenant whose MFA is at most 10 minutes
 * old). Offline: a fake Bot Framework issuer, a fake Graph, and a loopback token service
 * whose tokens are signed by a loopback Entra key set. Production has no demo phones, so a
 * code is never offered.
 */
const CONNECTION = 'helpdesk-step-up';
const MINUTE_S = 60;
const now = () => Math.floor(Date.now() / 1000);

let fakes: ProductionFakes;
let tokens: FakeUserTokenService;
let connector: FakeConnector;
let bot: RunningBot;
let client: TeamsClient;
const logs: any[] = [];

beforeAll(async () => {
  fakes = await startProductionFakes({ dirPrefix: 'helpdesk-approval-step-up-', tokenService: true });
  connector = fakes.connector;
  tokens = fakes.tokens!;
  bot = await startBot(
    {
      ...fakes.env,
      STEP_UP_CONNECTION_NAME: CONNECTION,
      STEP_UP_OPENID_METADATA_URL: tokens.metadataUrl,
      // The recovery's own step-up accepts an hour-old MFA; an approval still wants 10 minutes at most.
      STEP_UP_MAX_AGE_MINUTES: '60',
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
});

const emily = () => demoPersona('employee');
const thomas = () => demoPersona('manager');

/** Carlos Mendes, who also reports to Thomas. */
function carlos(): TestUser {
  const u = demoTenant.users.find((x) => x.displayName === 'Carlos Mendes')!;
  return { id: u.id, displayName: u.displayName };
}

async function submitPayroll(requester: TestUser = emily()): Promise<string> {
  await client.message(requester, 'I need the payroll reports for two weeks because of the year-end audit');
  const confirm = cardOf(connector.sentTo(client.personalConversationId(requester)).at(-1));
  const submitted = await client.invoke(requester, 'access.submit', { draft: findById(confirm, 'access-submit').data.draft });
  const id = /^Submitted: (REQ-\d+)$/.exec(findById(submitted.body.value, 'notice-title').text)![1]!;
  await bot.scheduler.idle();
  return id;
}

/** Thomas clicks Approve, is asked to sign in again, clicks it and gets the OAuth card. */
async function askedToSignIn(user: TestUser, id: string): Promise<void> {
  const asked = (await client.invoke(user, 'access.approve', { requestId: id, stage: 1 })).body.value;
  expect(cardProblems(asked)).toEqual([]);
  expect(findById(asked, 'access-banner').text).toMatch(/needs proof of your MFA .*sign in again with MFA/);
  // No demo phones in production: no code box, a sign-in button.
  expect(findById(asked, 'mfaCode')).toBeUndefined();
  expect(findById(asked, 'access-step-up')).toMatchObject({ verb: 'access.step-up', data: { requestId: id, stage: 1 } });
  const before = connector.sentTo(client.personalConversationId(user)).length;
  const res = await client.invoke(user, 'access.step-up', { requestId: id, stage: 1 });
  expect(res.status).toBe(200);
  const oauth = connector
    .sentTo(client.personalConversationId(user))
    .slice(before)
    .flatMap((a) => a.attachments ?? [])
    .find((a: any) => a.contentType === 'application/vnd.microsoft.card.oauth');
  expect(oauth?.content).toMatchObject({ connectionName: CONNECTION });
  expect(oauth.content.tokenExchangeResource).toBeUndefined();
}

/** The user signed in on the card; Teams sends `signin/verifyState`. Returns the cards the bot sent back. */
async function signInWith(user: TestUser, token: string, code: string): Promise<any[]> {
  tokens.completeSignIn({ userId: `29:${user.id}`, connectionName: CONNECTION, channelId: 'msteams', code, token });
  const before = connector.sentTo(client.personalConversationId(user)).length;
  const res = await client.post({ ...client.base(user), type: 'invoke', name: 'signin/verifyState', value: { state: code } });
  expect(res.status).toBe(200);
  const cards = connector.sentTo(client.personalConversationId(user)).slice(before).map(cardOf).filter(Boolean);
  for (const c of cards) expect(cardProblems(c)).toEqual([]);
  return cards;
}

describe('approving high-risk access with a step-up sign-in (production)', () => {
  it('an MFA older than 10 minutes is refused and counted; nothing changes', async () => {
    const id = await submitPayroll();
    await askedToSignIn(thomas(), id);
    const cards = await signInWith(thomas(), tokens.sign({ oid: thomas().id, aud: APP_ID, amr: ['pwd', 'mfa'], auth_time: now() - 11 * MINUTE_S }), '510001');
    expect(cards).toHaveLength(1);
    expect(cardText(cards[0])).toMatch(/older than 10 minutes \(stale-mfa\).*Nothing was approved/);
    expect(bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 1 });
    expect(bot.store.requests.decisions(id)).toEqual([]);
    expect(bot.store.audit.query({ action: 'signin.mfa-proven', actor: thomas().id })).toEqual([]);
    const failed = bot.store.audit.query({ action: 'signin.verification-failed', actor: thomas().id }).map((e) => JSON.parse(e.details));
    expect(failed).toEqual([{ method: 'sign-in', reason: 'stale-mfa' }]);
    // Another person's token does not count for Thomas either.
    const other = await signInWith(thomas(), tokens.sign({ oid: emily().id, aud: APP_ID, amr: ['pwd', 'mfa'] }), '510002');
    expect(cardText(other[0])).toMatch(/other-user/);
    expect(bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 1 });
  });

  it('a fresh MFA sign-in proves it: the approval goes on, and its audit event records the step-up', async () => {
    const id = await submitPayroll(carlos());
    await askedToSignIn(thomas(), id);
    const authTime = now() - 2 * MINUTE_S;
    const cards = await signInWith(thomas(), tokens.sign({ oid: thomas().id, aud: APP_ID, amr: ['pwd', 'mfa'], auth_time: authTime }), '510003');
    expect(cards.map(cardText).join(' ')).toContain(`You approved stage 1 of ${id}`);
    expect(bot.store.requests.get(id)).toMatchObject({ state: 'pending', stage: 2 });
    const [approved] = bot.store.audit.query({ correlationId: id, action: 'access.approved' });
    expect(approved!.actorId).toBe(thomas().id);
    expect(JSON.parse(approved!.details).assurance).toEqual({ method: 'step-up-oidc', at: new Date(authTime * 1000).toISOString(), via: 'amr' });
    // The token is kept nowhere.
    expect(logs.some((l) => JSON.stringify(l).includes('eyJ'))).toBe(false);
    expect(JSON.stringify(bot.store.audit.query({ actor: thomas().id }))).not.toContain('eyJ');
  });
});

describe('guests in production mode (Graph userType)', () => {
  it('the directory asks Graph for userType, and a guest is refused at the door, audited', async () => {
    const guest = demoTenant.users.find((u) => u.userType === 'Guest')!;
    const res = await client.message({ id: guest.id, displayName: guest.displayName }, 'hello');
    expect(res.status).toBe(200);
    const lookups = fakes.graph.calls('GET', new RegExp(`^/users/${guest.id}$`));
    expect(lookups.length).toBeGreaterThan(0);
    expect(lookups.at(-1)!.query.get('$select')).toContain('userType');
    const refusals = bot.store.audit.query({ action: 'helpdesk.access-refused', actor: guest.id });
    expect(refusals.map((e) => JSON.parse(e.details).reason)).toEqual(['guest']);
    expect(cardText(cardOf(connector.sentTo(client.personalConversationId({ id: guest.id, displayName: guest.displayName })).at(-1)))).toMatch(/guest account/);
  });
});

describe("a second technician's approval of a privileged plan (production)", () => {
  it("asks for a fresh MFA; 'verify my MFA' in the 1:1 chat gives the step-up sign-in; then the approval goes through, recorded with its assurance", async () => {
    const sarah = demoPersona('technician');
    const ahmedUser = demoTenant.users.find((u) => u.displayName === 'Ahmed Farouk')!;
    const ahmed: TestUser = { id: ahmedUser.id, displayName: ahmedUser.displayName };
    const channel = client.channelConversationId();
    expect((await client.message(sarah, 'disable Jonas Weber --reason leaves today', { where: 'channel' })).status).toBe(200);
    const proposed = connector.sentTo(channel).map(cardOf).filter(Boolean).at(-1);
    const plan = findById(proposed, 'tech-confirm').data.plan as string;
    await client.invoke(sarah, 'tech.confirm', { plan }, { where: 'channel' });

    const asked = (await client.invoke(ahmed, 'tech.approve', { plan }, { where: 'channel' })).body.value;
    expect(cardText(asked)).toMatch(/needs proof of your MFA .*verify my MFA/);
    // Production: no code box in a channel card, a sign-in in the 1:1 chat.
    expect(findById(asked, 'mfaCode')).toBeUndefined();
    expect(bot.store.technician.plans.get(plan)).toMatchObject({ state: 'proposed', approvedBy: { id: null } });

    const before = connector.sentTo(client.personalConversationId(ahmed)).length;
    await client.message(ahmed, 'verify my MFA');
    const oauth = connector
      .sentTo(client.personalConversationId(ahmed))
      .slice(before)
      .flatMap((a) => a.attachments ?? [])
      .find((a: any) => a.contentType === 'application/vnd.microsoft.card.oauth');
    expect(oauth?.content).toMatchObject({ connectionName: CONNECTION });
    const authTime = now() - MINUTE_S;
    const cards = await signInWith(ahmed, tokens.sign({ oid: ahmed.id, aud: APP_ID, amr: ['pwd', 'mfa'], auth_time: authTime }), '510009');
    expect(cards.map(cardText).join(' ')).toMatch(/MFA proven/);

    const approved = (await client.invoke(ahmed, 'tech.approve', { plan }, { where: 'channel' })).body.value;
    expect(cardText(approved)).toMatch(/Running/);
    const [approval] = bot.store.audit.query({ action: 'technician.plan-approved', correlationId: plan });
    expect(JSON.parse(approval!.details).assurance).toEqual({ method: 'step-up-oidc', at: new Date(authTime * 1000).toISOString(), via: 'amr' });
  });
});
