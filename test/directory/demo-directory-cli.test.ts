import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../directory/cli/demo-directory';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { LocalDirectory } from '../../directory/local-directory';

let dir: string;
let file: string;
const tenant = loadDemoTenant();
const emily = tenant.users.find((u) => u.userPrincipalName === 'emily.chen@northwind.example')!;
const crm = tenant.groups.find((g) => g.displayName === 'App - CRM')!;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on('data', (c) => o.push(c));
  err.on('data', (c) => e.push(c));
  const code = await main(argv, { LOCAL_DIRECTORY_PATH: file }, out, err);
  return { code, out: Buffer.concat(o).toString(), err: Buffer.concat(e).toString() };
}

async function look<T>(f: (d: LocalDirectory) => Promise<T>): Promise<T> {
  const d = LocalDirectory.open(file, tenant);
  try {
    return await f(d);
  } finally {
    d.close();
  }
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-demo-dir-'));
  file = path.join(dir, 'directory.db');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('npm run demo:directory', () => {
  it('adds and removes a member by group name and UPN, as a portal would', async () => {
    expect(crm.members).not.toContain(emily.id);
    const added = await run('add-member', 'App - CRM', emily.userPrincipalName);
    expect(added).toMatchObject({ code: 0, out: expect.stringMatching(/^Added Emily Chen to App - CRM/) });
    expect(await look((d) => d.checkMemberGroups(emily.id, [crm.id]))).toEqual([crm.id]);
    expect((await run('add-member', crm.id, emily.id)).out).toMatch(/already a member/);
    expect((await run('remove-member', 'app - crm', emily.userPrincipalName)).out).toMatch(/^Removed Emily Chen/);
    expect(await look((d) => d.checkMemberGroups(emily.id, [crm.id]))).toEqual([]);
  });

  it('disables and enables an account', async () => {
    expect((await run('disable', emily.userPrincipalName)).code).toBe(0);
    expect((await look((d) => d.getUser(emily.id)))!.accountEnabled).toBe(false);
    expect((await run('enable', emily.userPrincipalName)).code).toBe(0);
    expect((await look((d) => d.getUser(emily.id)))!.accountEnabled).toBe(true);
  });

  it('refuses bad usage and unknown names, changing nothing', async () => {
    expect((await run()).code).toBe(2);
    expect(await run('frobnicate', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/Unknown command/) });
    expect(await run('add-member', 'App - CRM')).toMatchObject({ code: 2, err: expect.stringMatching(/takes 2 argument/) });
    expect(await run('add-member', 'App - CRM', 'nobody@northwind.example')).toMatchObject({ code: 1, err: expect.stringMatching(/No user nobody@/) });
    // "App" matches many groups: never a guess.
    expect(await run('add-member', 'App', emily.userPrincipalName)).toMatchObject({ code: 1, err: expect.stringMatching(/No single group named App/) });
    expect(await look((d) => d.listUserGroups(emily.id))).toHaveLength(tenant.groups.filter((g) => g.members.includes(emily.id)).length);
  });
});
