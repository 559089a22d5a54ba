import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryError, ForbiddenError, ThrottledError } from '../../directory/directory';
import type { GraphDirectory } from '../../directory/graph-directory';
import { ALL_ROLES, type FakeGraph } from '../support/fake-graph';
import { demoTenant as tenant, graphDirectoryFor, startFakeGraph } from '../support/graph-setup';
import { fixturesFrom } from './fixtures';

const f = fixturesFrom(tenant, { lockout: false });
const userPath = new RegExp(`^/users/${f.userId}$`);

let fake: FakeGraph;
const opened: GraphDirectory[] = [];
const open = (options: Parameters<typeof graphDirectoryFor>[1] = {}): GraphDirectory => {
  const d = graphDirectoryFor(fake, options);
  opened.push(d);
  return d;
};

beforeAll(async () => {
  fake = await startFakeGraph();
});
afterAll(async () => {
  await fake?.stop();
});
beforeEach(() => {
  fake.reset();
  fake.grantedRoles = [...ALL_ROLES];
  fake.directoryRoles = ['User Administrator'];
});
afterEach(() => {
  for (const d of opened.splice(0)) d.close();
});

async function timed<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = Date.now();
  try {
    return { value: await fn(), ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

describe('throttling and outages (the SDK retry middleware)', () => {
  it('retries 429 after Retry-After, then succeeds', async () => {
    const d = open();
    await d.getUser(f.managerId); // a token first, so timing covers Graph only
    fake.inject({ status: 429, retryAfter: 1, times: 2, path: userPath });
    const r = await timed(() => d.getUser(f.userId));
    expect(r.error).toBeUndefined();
    expect(r.value?.id).toBe(f.userId);
    expect(r.ms).toBeGreaterThanOrEqual(1900);
    const attempts = fake.calls('GET', userPath);
    expect(attempts.map((a) => a.status)).toEqual([429, 429, 200]);
    expect(attempts.map((a) => a.headers['retry-attempt'])).toEqual([undefined, '1', '2']);
  });

  it('retries 503 and 504', async () => {
    const d = open();
    fake.inject({ status: 503, times: 1, path: userPath });
    fake.inject({ status: 504, times: 1, path: userPath });
    expect((await d.getUser(f.userId))?.id).toBe(f.userId);
    expect(fake.calls('GET', userPath).map((a) => a.status)).toEqual([503, 504, 200]);
  });

  it('does not wait for a Retry-After beyond the time budget: ThrottledError at once, with the wait and request id', async () => {
    const d = open({ retryBudgetMs: 2000 });
    await d.getUser(f.managerId);
    fake.inject({ status: 429, retryAfter: 30, times: 5, path: userPath });
    const r = await timed(() => d.getUser(f.userId));
    expect(r.ms).toBeLessThan(1000);
    expect(r.error).toBeInstanceOf(ThrottledError);
    const e = r.error as ThrottledError;
    expect(e.retryAfterSeconds).toBe(30);
    expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.message).toMatch(/throttling.*30 s/);
    expect(fake.calls('GET', userPath)).toHaveLength(1);
  });

  it('stops retrying when the waits add up past the budget', async () => {
    const d = open({ retryBudgetMs: 2500 });
    await d.getUser(f.managerId);
    fake.inject({ status: 429, retryAfter: 1, times: 10, path: userPath });
    const r = await timed(() => d.getUser(f.userId));
    expect(r.error).toBeInstanceOf(ThrottledError);
    expect(r.ms).toBeLessThan(3500);
    expect(fake.calls('GET', userPath).length).toBeLessThanOrEqual(3);
  });

  it('a lasting 503 ends in a DirectoryError that says to try later', async () => {
    const d = open({ retryBudgetMs: 1500 });
    fake.inject({ status: 503, times: 20, path: userPath });
    const r = await timed(() => d.getUser(f.userId));
    expect(r.error).toBeInstanceOf(DirectoryError);
    expect((r.error as Error).message).toMatch(/HTTP 503.*try again later/);
    expect(r.ms).toBeLessThan(3000);
  });

  it('times out a slow answer per request', async () => {
    const d = open({ requestTimeoutMs: 300 });
    await d.getUser(f.managerId);
    fake.delay(3000, { path: userPath });
    const r = await timed(() => d.getUser(f.userId));
    fake.clearDelays();
    expect(r.error).toBeInstanceOf(DirectoryError);
    expect((r.error as Error).message).toMatch(/did not answer in time/);
    expect(r.ms).toBeLessThan(1500);
  });

  it('an answer slower than usual but within the timeout is fine', async () => {
    const d = open({ requestTimeoutMs: 2000 });
    fake.delay(300, { path: userPath });
    expect((await d.getUser(f.userId))?.id).toBe(f.userId);
    fake.clearDelays();
  });
});

describe('permissions (403)', () => {
  const without = (...roles: string[]) => {
    fake.grantedRoles = ALL_ROLES.filter((r) => !roles.includes(r));
    return open();
  };

  it('names the missing permission when Graph says it', async () => {
    const d = without('UserAuthenticationMethod.Read.All', 'UserAuthenticationMethod.ReadWrite.All');
    const e = await d.listAuthMethods(f.userId).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ForbiddenError);
    expect((e as ForbiddenError).missingPermission).toBe('UserAuthenticationMethod.Read.All');
    expect((e as Error).message).toMatch(/lacks the application permission UserAuthenticationMethod\.Read\.All/);
    expect((e as ForbiddenError).requestId).toBeTruthy();
  });

  it('says what the operation needs when Graph only says "Insufficient privileges"', async () => {
    const d = without('GroupMember.ReadWrite.All');
    const e = await d.addGroupMember(f.otherGroupId, f.userId).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ForbiddenError);
    expect((e as ForbiddenError).missingPermission).toBeUndefined();
    expect((e as Error).message).toMatch(/Insufficient privileges.*GroupMember\.ReadWrite\.All.*npm run doctor/);
    expect(fake.groups.get(f.otherGroupId)!.members).not.toContain(f.userId);
  });

  it('password reset needs the User Administrator role as well as the permission', async () => {
    fake.directoryRoles = [];
    const d = open();
    const e = await d.resetPassword(f.userId, 'Correct-Horse-42-Battery', true).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ForbiddenError);
    expect((e as Error).message).toMatch(/User-PasswordProfile\.ReadWrite\.All and the User Administrator role/);
    expect((e as Error).message).not.toContain('Correct-Horse-42-Battery');
  });

  it('an injected 403 on reads is a ForbiddenError too', async () => {
    const d = open();
    fake.inject({ status: 403, path: userPath });
    await expect(d.getUser(f.userId)).rejects.toBeInstanceOf(ForbiddenError);
  });
});
