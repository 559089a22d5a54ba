import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envSchema, loadConfig } from '../../bot/config';
import { startBot } from '../../bot/main';

const GUID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';

describe('access request and job configuration', () => {
  it('defaults: remind after 24 h, escalate after 72 h, expire after 14 days, notice a day before', () => {
    const c = loadConfig({});
    expect(c.access).toEqual({ catalogPath: null, fallbackGroupId: null, remindAfterHours: 24, escalateAfterHours: 72, requestExpiryDays: 14, expiryNoticeHours: 24, freshMfaRisk: 'high', freshMfaMinutes: 10 });
    expect(c.guests).toEqual({ allowed: false, mayApprove: false });
    expect(c.jobs).toEqual({ maxAttempts: 5, retryBaseSeconds: 30, retryMaxSeconds: 3600, pollSeconds: 30, concurrency: 4 });
    expect(c.proactive).toEqual({ serviceUrl: null, techniciansTeamId: null });
  });

  it('reads overrides', () => {
    const c = loadConfig({
      ACCESS_CATALOG_PATH: 'conf/catalog.json',
      ACCESS_FALLBACK_GROUP_ID: GUID,
      ACCESS_REMIND_AFTER_HOURS: '8',
      ACCESS_ESCALATE_AFTER_HOURS: '48',
      ACCESS_REQUEST_EXPIRY_DAYS: '7',
      ACCESS_EXPIRY_NOTICE_HOURS: '48',
      JOB_MAX_ATTEMPTS: '3',
      JOB_RETRY_BASE_SECONDS: '10',
      JOB_RETRY_MAX_SECONDS: '600',
      SCHEDULER_POLL_SECONDS: '5',
      JOB_CONCURRENCY: '8',
      BOT_SERVICE_URL: 'https://service.example/teams/',
      TECHNICIANS_TEAM_ID: '19:abc@thread.tacv2',
    });
    expect(c.access).toEqual({ catalogPath: path.resolve('conf/catalog.json'), fallbackGroupId: GUID, remindAfterHours: 8, escalateAfterHours: 48, requestExpiryDays: 7, expiryNoticeHours: 48, freshMfaRisk: 'high', freshMfaMinutes: 10 });
    expect(c.jobs).toEqual({ maxAttempts: 3, retryBaseSeconds: 10, retryMaxSeconds: 600, pollSeconds: 5, concurrency: 8 });
    expect(c.proactive).toEqual({ serviceUrl: 'https://service.example/teams/', techniciansTeamId: '19:abc@thread.tacv2' });
    const approvals = loadConfig({ APPROVAL_MFA_RISK: 'none', APPROVAL_MFA_MINUTES: '5', ALLOW_GUESTS: 'true', ALLOW_GUEST_APPROVERS: 'yes' });
    expect([approvals.access.freshMfaRisk, approvals.access.freshMfaMinutes]).toEqual([null, 5]);
    expect(approvals.guests).toEqual({ allowed: true, mayApprove: true });
  });

  it.each([
    [{ ACCESS_REMIND_AFTER_HOURS: '0' }, /ACCESS_REMIND_AFTER_HOURS must be between 1 and/],
    [{ ACCESS_ESCALATE_AFTER_HOURS: 'soon' }, /ACCESS_ESCALATE_AFTER_HOURS must be a number/],
    [{ ACCESS_REQUEST_EXPIRY_DAYS: '1.5' }, /ACCESS_REQUEST_EXPIRY_DAYS must be a whole number/],
    [{ ACCESS_FALLBACK_GROUP_ID: 'technicians' }, /ACCESS_FALLBACK_GROUP_ID must be a GUID/],
    [{ JOB_MAX_ATTEMPTS: '100' }, /JOB_MAX_ATTEMPTS must be between 1 and 50/],
    [{ JOB_CONCURRENCY: '0' }, /JOB_CONCURRENCY must be between 1 and 32/],
    [{ BOT_SERVICE_URL: 'not a url' }, /BOT_SERVICE_URL must be a URL/],
    [{ APPROVAL_MFA_MINUTES: '30' }, /APPROVAL_MFA_MINUTES must be between 1 and 10/],
    [{ APPROVAL_MFA_RISK: 'extreme' }, /APPROVAL_MFA_RISK must be low, medium, high or none/],
    [{ ALLOW_GUESTS: 'maybe' }, /ALLOW_GUESTS must be true or false/],
  ])('refuses %o naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('documentation of these variables', () => {
  const mine = Object.keys(envSchema.shape).filter((k) => /^(ACCESS_|JOB_|SCHEDULER_)/.test(k) || k === 'BOT_SERVICE_URL' || k === 'TECHNICIANS_TEAM_ID');
  const envExample = fs.readFileSync(path.resolve(__dirname, '../../.env.example'), 'utf8');
  const docs = fs.readFileSync(path.resolve(__dirname, '../../docs/configuration.md'), 'utf8');

  it('lists every one in .env.example and docs/configuration.md', () => {
    expect(mine.length).toBe(13);
    for (const k of mine) {
      expect(envExample, k).toMatch(new RegExp(`^${k}=`, 'm'));
      expect(docs, k).toContain(`\`${k}\``);
    }
  });
});

describe('a bad catalog file', () => {
  it('stops the start with the problems listed, and leaves nothing open', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-catalog-'));
    const file = path.join(dir, 'catalog.json');
    fs.writeFileSync(file, JSON.stringify({ resources: [{ id: 'x', name: 'X', aliases: [], description: 'd', groupId: 'nope', risk: 'low', stages: [], justificationRequired: false, defaultDuration: '1d', maxDuration: '1d', permanentAllowed: false, incompatibleWith: [] }] }));
    const env = { PORT: '0', PLAYGROUND: 'false', LOG_LEVEL: 'silent', DATABASE_PATH: path.join(dir, 'h.db'), LOCAL_DIRECTORY_PATH: path.join(dir, 'd.db'), ACCESS_CATALOG_PATH: file };
    await expect(startBot(env)).rejects.toThrow(/Invalid access catalog .*catalog\.json:[\s\S]*groupId: must be a lowercase GUID[\s\S]*needs 1 to 3 approval stages/);
    // The database was closed again: it can be opened and removed.
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
