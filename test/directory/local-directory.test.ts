import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main as demoReset } from '../../directory/cli/demo-reset';
import { loadDemoTenant, type DemoTenant } from '../../directory/demo-tenant';
import { LocalDirectory, localDirectoryMigrations } from '../../directory/local-directory';
import { SchemaTooNewError } from '../../store/db';
import { directoryContract } from './contract';
import { fixturesFrom } from './fixtures';

const tenant = loadDemoTenant();

function tempFile(): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-directory-'));
  return { dir, file: path.join(dir, 'directory.db') };
}

const opened: { dir: string; directory: LocalDirectory }[] = [];

directoryContract('local (SQLite demo tenant)', async () => {
  const { file, dir } = tempFile();
  const directory = LocalDirectory.open(file, tenant);
  return {
    directory,
    fixtures: fixturesFrom(tenant),
    teardown: async () => {
      directory.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('LocalDirectory (local only)', () => {
  let file: string;
  let dir: string;
  const f = fixturesFrom(tenant);

  beforeEach(() => {
    ({ file, dir } = tempFile());
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.directory.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const open = (t: DemoTenant = tenant, now?: () => Date): LocalDirectory => {
    const directory = LocalDirectory.open(file, t, now ? { now } : {});
    opened.push({ dir, directory });
    return directory;
  };

  /** Everything a reset should restore, read through the port. */
  async function snapshot(d: LocalDirectory): Promise<unknown> {
    const users = [];
    for (const u of tenant.users) {
      users.push(await d.getUser(u.id), await d.getSignInState(u.id), await d.listAuthMethods(u.id), (await d.getManager(u.id))?.id ?? null);
    }
    users.push([...(await d.getLastSignIns(tenant.users.map((u) => u.id))).entries()]);
    const groups = [];
    for (const g of tenant.groups) groups.push(await d.getGroup(g.id), ids(await d.listGroupMembers(g.id)), ids(await d.listGroupOwners(g.id)));
    return { users, groups };
  }
  const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id).sort();

  async function mutate(d: LocalDirectory): Promise<void> {
    await d.addGroupMember(f.otherGroupId, f.userId);
    await d.removeGroupMember(f.groupId, f.userId);
    await d.setAccountEnabled(f.userId, false);
    await d.unlockAccount(f.lockedUserId!);
    await d.resetPassword(f.userId, 'Brand-New-Passw0rd', true);
    await d.createTemporaryAccessPass(f.noMfaUserId, { lifetimeInMinutes: 60, isUsableOnce: true });
    const other = (await d.listAuthMethods(f.userId)).find((m) => !m.isDefault && m.kind !== 'password')!;
    await d.deleteAuthMethod(f.userId, other.kind, other.id);
    await d.updateUserProfile(f.userId, { department: 'Sales', jobTitle: null, managerId: f.topUserId });
  }

  it('seeds the demo tenant into a new file, matching the seed', async () => {
    const d = open();
    for (const u of tenant.users) {
      const got = await d.getUser(u.id);
      expect(got).toEqual({
        id: u.id,
        userPrincipalName: u.userPrincipalName,
        displayName: u.displayName,
        mail: u.mail,
        givenName: u.givenName,
        surname: u.surname,
        department: u.department,
        jobTitle: u.jobTitle,
        accountEnabled: u.accountEnabled,
        onPremisesSyncEnabled: u.onPremisesSyncEnabled,
        userType: u.userType ?? 'Member',
      });
      expect((await d.getManager(u.id))?.id ?? null).toBe(u.managerId);
      expect(await d.getSignInState(u.id)).toEqual({
        lockSupported: true,
        locked: u.locked,
        passwordChangeRequired: u.passwordChangeRequired,
        lastPasswordChange: u.lastPasswordChange,
      });
      expect(await d.listAuthMethods(u.id)).toEqual(
        u.authMethods.map((m) => ({ id: m.id, kind: m.kind, hint: m.hint, isDefault: m.isDefault })),
      );
    }
    for (const g of tenant.groups) {
      expect(ids(await d.listGroupMembers(g.id))).toEqual([...g.members].sort());
      expect(ids(await d.listGroupOwners(g.id))).toEqual([...g.owners].sort());
    }
    const signIns = await d.getLastSignIns(tenant.users.map((u) => u.id));
    expect(Object.fromEntries([...signIns].map(([id, at]) => [id, at?.toISOString() ?? null]))).toEqual(
      Object.fromEntries(tenant.users.map((u) => [u.id, u.lastSignIn ? new Date(u.lastSignIn).toISOString() : null])),
    );
    expect(await d.health()).toEqual({ ok: true, detail: `${tenant.users.length} users` });
    expect(d.kind).toBe('local');
  });

  it('gives a file made before last sign-ins were kept the seed\'s, once, keeping its changes', async () => {
    const d = open();
    await d.setAccountEnabled(f.userId, false);
    d.close();
    // The file as the first schema left it.
    const raw = new Database(file);
    raw.exec('ALTER TABLE users DROP COLUMN last_sign_in; DROP TABLE seed_backfill;');
    raw.pragma('user_version = 1');
    raw.close();

    const upgraded = open();
    expect((await upgraded.getUser(f.userId))?.accountEnabled).toBe(false);
    const signIns = await upgraded.getLastSignIns([f.signedInUserId, f.neverSignedInUserId]);
    expect(signIns.get(f.signedInUserId)?.toISOString()).toBe(f.signedInAt);
    expect(signIns.get(f.neverSignedInUserId)).toBeNull();
    upgraded.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    expect(check.prepare('SELECT count(*) AS n FROM seed_backfill').get()).toEqual({ n: 0 });
    check.close();
  });

  it('records the schema version and refuses a newer file', () => {
    open().close();
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBe(localDirectoryMigrations.length);
    raw.pragma(`user_version = ${localDirectoryMigrations.length + 1}`);
    raw.close();
    expect(() => LocalDirectory.open(file, tenant)).toThrow(SchemaTooNewError);
  });

  it('keeps changes across close and reopen, without reseeding', async () => {
    const d = open();
    await mutate(d);
    const before = await snapshot(d);
    d.close();

    const again = open();
    expect(await snapshot(again)).toEqual(before);
    expect((await again.getUser(f.userId))?.accountEnabled).toBe(false);
    expect(await again.checkMemberGroups(f.userId, [f.groupId, f.otherGroupId])).toEqual([f.otherGroupId]);
  });

  it('reset() restores the seed', async () => {
    const d = open();
    const seeded = await snapshot(d);
    await mutate(d);
    expect(await snapshot(d)).not.toEqual(seeded);
    expect(d.reset()).toEqual({ users: tenant.users.length, groups: tenant.groups.length });
    expect(await snapshot(d)).toEqual(seeded);
  });

  it('reset() is all or nothing', async () => {
    const d = open();
    await d.setAccountEnabled(f.userId, false);
    // A tenant that bypassed validation: a membership that points at nobody.
    const broken: DemoTenant = structuredClone(tenant);
    broken.groups[0]!.members.push('00000000-0000-4000-8000-000000000000');
    const bad = LocalDirectory.open(file, broken);
    opened.push({ dir, directory: bad });
    expect(() => bad.reset()).toThrow();
    expect((await d.getUser(f.userId))?.accountEnabled).toBe(false);
    expect((await d.listGroupMembers(tenant.groups[0]!.id)).length).toBe(tenant.groups[0]!.members.length);
  });

  it('never writes a password, a pass or a TOTP seed to the file', async () => {
    const d = open();
    const password = 'Very-Secret-Passw0rd-4711';
    await d.resetPassword(f.userId, password, false);
    const tap = await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 60, isUsableOnce: true });
    await d.revokeSessions(f.userId);
    d.close();
    const bytes = Buffer.concat(
      fs.readdirSync(dir).map((name) => fs.readFileSync(path.join(dir, name))),
    ).toString('latin1');
    expect(bytes).toContain(f.userId); // the file is readable as plain text at all
    expect(bytes).not.toContain(password);
    expect(bytes).not.toContain(tap.pass);
    for (const u of tenant.users) for (const m of u.authMethods) if (m.totpSecret) expect(bytes).not.toContain(m.totpSecret);
  });

  it('resetPassword records time and flag, keeps the lock; unlock clears it; revoke records a time', async () => {
    const now = new Date('2026-11-25T13:05:00.000Z');
    const d = open(tenant, () => now);
    await d.resetPassword(f.lockedUserId!, 'Brand-New-Passw0rd', true);
    expect(await d.getSignInState(f.lockedUserId!)).toEqual({
      lockSupported: true,
      locked: true,
      passwordChangeRequired: true,
      lastPasswordChange: now.toISOString(),
    });
    await d.resetPassword(f.lockedUserId!, 'Brand-New-Passw0rd', false);
    expect((await d.getSignInState(f.lockedUserId!)).passwordChangeRequired).toBe(false);
    await d.unlockAccount(f.lockedUserId!);
    expect((await d.getSignInState(f.lockedUserId!)).locked).toBe(false);

    await d.revokeSessions(f.userId);
    d.close();
    const raw = new Database(file, { readonly: true });
    const row = raw.prepare('SELECT sessions_revoked_at FROM users WHERE id = ?').get(f.userId) as {
      sessions_revoked_at: string;
    };
    raw.close();
    expect(row.sessions_revoked_at).toBe(now.toISOString());
  });

  it('describes a Temporary Access Pass by its expiry', async () => {
    const now = new Date('2026-11-25T13:05:00.000Z');
    const d = open(tenant, () => now);
    const short = await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 60, isUsableOnce: true });
    expect(short.startDateTime).toBe(now.toISOString());
    expect((await d.listAuthMethods(f.userId)).find((m) => m.id === short.id)?.hint).toBe('one-time, expires 14:05 UTC');
    const long = await d.createTemporaryAccessPass(f.userId, { lifetimeInMinutes: 43_200, isUsableOnce: false });
    expect((await d.listAuthMethods(f.userId)).find((m) => m.id === long.id)?.hint).toBe('expires 25 Dec 13:05 UTC');
    expect(long.pass).toMatch(/^[A-HJ-NP-Za-km-z2-9]{16}$/);
  });

  it('finds names with apostrophes and accents in any case', async () => {
    const d = open();
    const kevin = tenant.users.find((u) => u.surname === "O'Brien")!;
    expect((await d.searchUsers("o'brien")).map((u) => u.id)).toEqual([kevin.id]);
    expect((await d.searchUsers('brien')).map((u) => u.id)).toEqual([kevin.id]);
    const ines = tenant.users.find((u) => u.givenName === 'Inès')!;
    expect((await d.searchUsers('INÈS')).map((u) => u.id)).toEqual([ines.id]);
    expect((await d.searchUsers('ines.m')).map((u) => u.id)).toEqual([ines.id]);
  });

  it('searchUsers returns 25 by default, and seeds any valid tenant', async () => {
    const base = tenant.users[0]!;
    const many: DemoTenant = {
      ...tenant,
      personas: { employee: base.id, manager: base.id, technician: base.id, owner: base.id },
      technicianGroupId: tenant.groups[0]!.id,
      privilegedGroupIds: [],
      groups: [{ ...tenant.groups[0]!, owners: [], members: [] }],
      users: Array.from({ length: 30 }, (_, i) => ({
        ...base,
        id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
        userPrincipalName: `tester${i}@northwind.example`,
        mail: `tester${i}@northwind.example`,
        displayName: `Tester ${String(i).padStart(2, '0')}`,
        managerId: null,
        authMethods: [],
      })),
    };
    const d = open(many);
    const found = await d.searchUsers('tester');
    expect(found).toHaveLength(25);
    expect(found[0]!.displayName).toBe('Tester 00');
    expect(await d.searchUsers('tester', 999)).toHaveLength(30);
    expect(await d.getUser(tenant.personas.employee)).toBeNull();
  });

  it('health() reports a closed database instead of throwing', async () => {
    const d = open();
    d.close();
    d.close();
    const h = await d.health();
    expect(h.ok).toBe(false);
    expect(h.detail).toBeTruthy();
  });

  describe('npm run demo:reset', () => {
    it('restores the seed in the file named by LOCAL_DIRECTORY_PATH', async () => {
      const d = open();
      await mutate(d);
      d.close();

      const out = new Sink();
      const err = new Sink();
      expect(await demoReset([], { LOCAL_DIRECTORY_PATH: file }, out, err)).toBe(0);
      expect(err.text).toBe('');
      expect(out.text.trim().split('\n')).toHaveLength(1);
      expect(out.text).toContain(file);
      expect(out.text).toContain(`${tenant.users.length} users, ${tenant.groups.length} groups`);
      expect(out.text).toContain(tenant.organization);

      const fresh = tempFile();
      const seeded = LocalDirectory.open(fresh.file, tenant);
      const expected = await snapshot(seeded);
      seeded.close();
      fs.rmSync(fresh.dir, { recursive: true, force: true });
      expect(await snapshot(open())).toEqual(expected);
    });

    it('creates a missing file, and rejects arguments', async () => {
      const target = path.join(dir, 'nested', 'demo.db');
      const out = new Sink();
      expect(await demoReset([], { LOCAL_DIRECTORY_PATH: target }, out, new Sink())).toBe(0);
      expect(fs.existsSync(target)).toBe(true);

      const err = new Sink();
      expect(await demoReset(['--force'], { LOCAL_DIRECTORY_PATH: target }, new Sink(), err)).toBe(2);
      expect(err.text).toContain('Usage');
      const help = new Sink();
      expect(await demoReset(['--help'], {}, help, new Sink())).toBe(0);
      expect(help.text).toContain('LOCAL_DIRECTORY_PATH');
    });
  });
});
