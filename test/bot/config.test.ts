import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../bot/config';

const GUID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const TENANT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('loadConfig: local mode', () => {
  it('defaults to local mode on 127.0.0.1:3978 with files under ./data', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('local');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(3978);
    expect(c.databasePath).toBe(path.resolve('data/helpdesk.db'));
    expect(c.directory).toEqual({ kind: 'local', path: path.resolve('data/demo-directory.db') });
    expect(c.playground).toEqual({ enabled: true, basePort: 56150 });
    expect(c.bot.appId).toBe('');
    expect(c.logLevel).toBe('info');
  });

  it('reads overrides', () => {
    const c = loadConfig({ PORT: '0', DATABASE_PATH: '/tmp/x.db', LOG_LEVEL: 'debug', PLAYGROUND: 'false', TECHNICIANS_GROUP_ID: GUID, HOST: 'localhost' });
    expect(c).toMatchObject({ port: 0, databasePath: '/tmp/x.db', logLevel: 'debug', playground: { enabled: false }, technicianGroupId: GUID, host: 'localhost' });
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ BOT_ID: '', PORT: '', LOG_LEVEL: ' ' }).mode).toBe('local');
  });

  it('refuses to listen beyond loopback without authentication', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/HOST=0\.0\.0\.0.*127\.0\.0\.1 only/);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT must be a number/],
    [{ PORT: '70000' }, /PORT must be between 0 and 65535/],
    [{ PORT: '3.5' }, /PORT must be a whole number/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ PLAYGROUND: 'maybe' }, /PLAYGROUND must be true or false/],
    [{ TECHNICIANS_GROUP_ID: 'technicians' }, /TECHNICIANS_GROUP_ID must be a GUID/],
    [{ BOT_ID: 'my-bot' }, /BOT_ID must be a GUID/],
    [{ DIRECTORY: 'ldap' }, /DIRECTORY must be local or graph/],
    [{ DIRECTORY: 'graph' }, /DIRECTORY=graph needs production mode/],
    [{ SHUTDOWN_GRACE_SECONDS: '-1' }, /SHUTDOWN_GRACE_SECONDS/],
  ])('refuses %o naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT.*LOG_LEVEL/);
  });
});

describe('loadConfig: production mode', () => {
  const full = { BOT_ID: GUID, BOT_PASSWORD: 'not-logged', BOT_TENANT_ID: TENANT, TECHNICIANS_GROUP_ID: GUID, DIRECTORY: 'graph' };

  it('names each missing production setting', () => {
    expect(() => loadConfig({ BOT_ID: GUID })).toThrow(/BOT_TENANT_ID.*BOT_PASSWORD or BOT_CERTIFICATE_THUMBPRINT.*TECHNICIANS_GROUP_ID/);
    expect(() => loadConfig({ ...full, BOT_PASSWORD: undefined, BOT_CERTIFICATE_THUMBPRINT: 'ab'.repeat(20) })).toThrow(/BOT_CERTIFICATE_KEY_PATH/);
    expect(() => loadConfig({ ...full, BOT_CERTIFICATE_THUMBPRINT: 'xyz' })).toThrow(/BOT_CERTIFICATE_THUMBPRINT must be a SHA-1 or SHA-256 thumbprint/);
    expect(() => loadConfig({ ...full, DIRECTORY: 'local' })).toThrow(/demo directory is for local mode only/);
    expect(() => loadConfig({ ...full, BOT_APP_TYPE: 'Anything' })).toThrow(/BOT_APP_TYPE/);
  });

  it('with everything set, refuses to start until the Microsoft Graph directory exists, saying what is missing', () => {
    expect(() => loadConfig(full)).toThrow(ConfigError);
    expect(() => loadConfig(full)).toThrow(/needs DIRECTORY=graph, the Microsoft Graph directory, which this version does not include/);
  });

  it('never puts the secret in an error message', () => {
    try {
      loadConfig({ ...full, PORT: 'bad' });
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('not-logged');
    }
    try {
      loadConfig(full);
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('not-logged');
    }
  });
});
