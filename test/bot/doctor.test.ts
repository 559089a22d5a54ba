import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FEATURES, main } from '../../bot/doctor';
import { ALL_ROLES, type FakeGraph } from '../support/fake-graph';
import { GRAPH_CLIENT_ID, GRAPH_SECRET, demoTenant as tenant, startFakeGraph } from '../support/graph-setup';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let fake: FakeGraph;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  fake = await startFakeGraph();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doctor-'));
  fs.writeFileSync(path.join(dir, 'ca.pem'), fake.ca);
  env = {
    BOT_ID: GRAPH_CLIENT_ID,
    BOT_PASSWORD: GRAPH_SECRET,
    BOT_TENANT_ID: tenant.tenantId,
    TECHNICIANS_GROUP_ID: tenant.technicianGroupId,
    TECHNICIAN_CHANNEL_IDS: '19:technicians@thread.tacv2',
    GRAPH_AUTHORITY_HOST: fake.url,
    GRAPH_BASE_URL: fake.url,
    GRAPH_CA_FILE: path.join(dir, 'ca.pem'),
    GRAPH_RETRY_MAX_SECONDS: '1',
  };
});
afterAll(async () => {
  await fake?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.reset();
  fake.grantedRoles = [...ALL_ROLES];
  fake.directoryRoles = ['User Administrator'];
});

async function doctor(extra: Record<string, string | undefined> = {}): Promise<{ code: number; text: string; err: string }> {
  const out = new Sink();
  const err = new Sink();
  const code = await main([], { ...env, ...extra }, out, err);
  return { code, text: out.text, err: err.text };
}

const line = (text: string, feature: string) => text.split('\n').find((l) => l.includes(feature)) ?? '';

describe('npm run doctor', () => {
  it('reports every feature working when the app has what it needs', async () => {
    const r = await doctor();
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/Configuration: ok \(production mode, Microsoft Graph directory\)/);
    expect(r.text).toMatch(/credential: client secret/);
    expect(r.text).toMatch(/Token: ok/);
    expect(r.text).toMatch(/application permissions granted: User\.Read\.All, GroupMember\.Read\.All/);
    expect(r.text).toMatch(/Entra roles of the app: User Administrator/);
    for (const f of FEATURES) expect(line(r.text, f.name)).toMatch(/^\s+ok\s/);
    expect(r.text).toContain(`${FEATURES.length} of ${FEATURES.length} features will work.`);
    expect(r.text).not.toContain(GRAPH_SECRET);
    // One harmless read per feature, and nothing written.
    expect(fake.requests.filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('names the permission or role each missing feature needs', async () => {
    fake.grantedRoles = ALL_ROLES.filter((r) => !['GroupMember.ReadWrite.All', 'TeamsAppInstallation.ReadWriteSelfForUser.All', 'UserAuthenticationMethod.ReadWrite.All', 'AppCatalog.Read.All'].includes(r));
    fake.directoryRoles = [];
    const r = await doctor();
    expect(r.code).toBe(1);
    expect(line(r.text, 'Grant and remove group access')).toMatch(/MISSING .*needs the application permission GroupMember\.ReadWrite\.All$/);
    expect(line(r.text, 'Reset passwords')).toMatch(/MISSING .*needs the Entra role User Administrator/);
    expect(line(r.text, 'MFA recovery')).toMatch(/MISSING .*UserAuthenticationMethod\.ReadWrite\.All/);
    expect(line(r.text, 'install the app')).toMatch(/MISSING .*TeamsAppInstallation\.ReadWriteSelfForUser\.All \(Graph refused a read it makes\)/);
    expect(line(r.text, 'organisation app catalog')).toMatch(/MISSING .*AppCatalog\.Read\.All/);
    expect(line(r.text, 'See sign-in methods')).toMatch(/^\s+ok\s/);
    expect(r.text).toContain(`${FEATURES.length - 5} of ${FEATURES.length} features will work.`);
    expect(r.text).toMatch(/Grant admin consent/);
  });

  it('names the permissions of profile updates and last sign-ins', async () => {
    fake.grantedRoles = ALL_ROLES.filter((r) => !['User.ReadWrite.All', 'AuditLog.Read.All'].includes(r));
    const r = await doctor();
    expect(r.code).toBe(1);
    expect(line(r.text, 'Profile updates of movers')).toMatch(/MISSING .*User\.ReadWrite\.All/);
    expect(line(r.text, 'Last sign-in')).toMatch(/MISSING .*AuditLog\.Read\.All/);
    expect(r.text).toContain(`${FEATURES.length - 2} of ${FEATURES.length} features will work.`);
    expect(r.text).toMatch(/Grant admin consent/);
  });

  it('says when the role-read permission is missing: every account would be treated as privileged', async () => {
    fake.grantedRoles = ALL_ROLES.filter((r) => r !== 'RoleManagement.Read.Directory');
    const r = await doctor();
    expect(r.code).toBe(1);
    expect(line(r.text, 'holds an Entra role')).toMatch(/MISSING .*needs the application permission RoleManagement\.Read\.Directory.*$/);
    expect(line(r.text, 'holds an Entra role')).toMatch(/every account is treated as privileged/);
    expect(line(r.text, 'eligible for an Entra role')).toMatch(/MISSING .*RoleEligibilitySchedule\.Read\.Directory/);
    expect(r.text).toContain(`${FEATURES.length - 2} of ${FEATURES.length} features will work.`);
  });

  it('says when the Entra roles cannot be read, and what to make sure of', async () => {
    fake.grantedRoles = ALL_ROLES.filter((r) => r !== 'Application.Read.All');
    const r = await doctor();
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/Entra roles of the app: could not be read \(that needs Application\.Read\.All, optional\)/);
    expect(line(r.text, 'Reset passwords')).toMatch(/CHECK .*make sure the app holds the Entra role User Administrator/);
  });

  it('explains a token failure without printing the secret', async () => {
    const r = await doctor({ BOT_PASSWORD: 'a-wrong-secret-value' });
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/Token: FAILED\. Could not get a Microsoft Graph token .*invalid_client/);
    expect(r.text).toMatch(/Check the client secret: use its value \(not its id\)/);
    expect(r.text).not.toContain('a-wrong-secret-value');
    expect(r.text).not.toMatch(/Features:/);
  });

  it('flags a technicians group that does not exist', async () => {
    const r = await doctor({ TECHNICIANS_GROUP_ID: '9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f' });
    expect(r.code).toBe(1);
    expect(line(r.text, 'Roles from group membership')).toMatch(/ERROR .*TECHNICIANS_GROUP_ID 9f0c3d1e-7b2a-4c5d-8e6f-0a1b2c3d4e5f is not a group/);
  });

  it('refuses local mode and a configuration that cannot run (exit 2)', async () => {
    const local = await doctor({ BOT_ID: '' });
    expect(local.code).toBe(2);
    expect(local.text).toMatch(/local mode/);
    const bad = await doctor({ GRAPH_BASE_URL: 'http://graph.example' });
    expect(bad.code).toBe(2);
    expect(bad.text).toMatch(/GRAPH_BASE_URL must be an https URL/);
    const out = new Sink();
    const err = new Sink();
    expect(await main(['--fix'], env, out, err)).toBe(2);
    expect(err.text).toContain('Usage');
    expect(await main(['--help'], env, out, err)).toBe(0);
  });
});
