import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../bot/config';

const GUID = '6f1e3c52-8a0b-4c1d-9e2f-3a4b5c6d7e8f';
const TENANT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER = '7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a';

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
    [{ DIRECTORY: 'ldap' }, /DIRECTORY must be local, graph, ad or hybrid/],
    [{ DIRECTORY: 'graph' }, /DIRECTORY=graph needs production mode \(BOT_ID\): without Bot Framework authentication/],
    [{ GRAPH_BASE_URL: 'http://graph.microsoft.com' }, /GRAPH_BASE_URL must be an https URL/],
    [{ GRAPH_BASE_URL: 'https://graph.microsoft.com/beta' }, /GRAPH_BASE_URL must be the root URL only, such as https:\/\/graph\.microsoft\.com/],
    [{ GRAPH_AUTHORITY_HOST: 'login.microsoftonline.com' }, /GRAPH_AUTHORITY_HOST must be a URL/],
    [{ GRAPH_AUTHORITY_HOST: 'https://login.microsoftonline.com/common' }, /GRAPH_AUTHORITY_HOST must be the root URL only/],
    [{ GRAPH_CLIENT_ID: 'helpdesk' }, /GRAPH_CLIENT_ID must be a GUID/],
    [{ GRAPH_CERTIFICATE_THUMBPRINT: 'abc' }, /GRAPH_CERTIFICATE_THUMBPRINT must be a SHA-1 or SHA-256 thumbprint/],
    [{ GRAPH_REQUEST_TIMEOUT_SECONDS: '0' }, /GRAPH_REQUEST_TIMEOUT_SECONDS must be between 1 and 120/],
    [{ GRAPH_RETRY_MAX_SECONDS: 'soon' }, /GRAPH_RETRY_MAX_SECONDS must be a number/],
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
  const full = { BOT_ID: GUID, BOT_PASSWORD: 'not-logged', BOT_TENANT_ID: TENANT, TECHNICIANS_GROUP_ID: GUID, TECHNICIAN_CHANNEL_IDS: '19:technicians@thread.tacv2', DIRECTORY: 'graph' };

  it('names each missing production setting', () => {
    expect(() => loadConfig({ BOT_ID: GUID })).toThrow(/BOT_TENANT_ID.*BOT_PASSWORD or BOT_CERTIFICATE_THUMBPRINT.*TECHNICIANS_GROUP_ID/);
    expect(() => loadConfig({ ...full, BOT_PASSWORD: undefined, BOT_CERTIFICATE_THUMBPRINT: 'ab'.repeat(20) })).toThrow(/BOT_CERTIFICATE_KEY_PATH/);
    expect(() => loadConfig({ ...full, BOT_CERTIFICATE_THUMBPRINT: 'xyz' })).toThrow(/BOT_CERTIFICATE_THUMBPRINT must be a SHA-1 or SHA-256 thumbprint/);
    expect(() => loadConfig({ ...full, DIRECTORY: 'local' })).toThrow(/demo directory is for local mode only/);
    expect(() => loadConfig({ ...full, BOT_APP_TYPE: 'Anything' })).toThrow(/BOT_APP_TYPE/);
  });

  it("needs the technicians' channel (or team) named, and the Bot Framework cloud to be public or government", () => {
    expect(() => loadConfig({ ...full, TECHNICIAN_CHANNEL_IDS: undefined })).toThrow(/TECHNICIAN_CHANNEL_IDS \(the technicians' Teams channel ids.*or TECHNICIANS_TEAM_ID/);
    expect(loadConfig({ ...full, TECHNICIAN_CHANNEL_IDS: undefined, TECHNICIANS_TEAM_ID: '19:team@thread.tacv2' }).proactive.techniciansTeamId).toBe('19:team@thread.tacv2');
    // Local mode keeps the demo behaviour (the channel a technician spoke in).
    expect(loadConfig({}).technicians.channelIds).toBeNull();
    expect(loadConfig(full).bot.cloud).toBe('public');
    expect(loadConfig({ ...full, BOT_CLOUD: 'government' }).bot.cloud).toBe('government');
    expect(() => loadConfig({ ...full, BOT_CLOUD: 'china' })).toThrow(/BOT_CLOUD must be public or government/);
  });

  it('with everything set, starts with the Microsoft Graph directory of the bot\'s own app registration', () => {
    const c = loadConfig(full);
    expect(c.mode).toBe('production');
    // No HR drop folder unless configured (local mode has one beside the database).
    expect(c.hrFeed.dir).toBeNull();
    expect(c.directory).toEqual({
      kind: 'graph',
      tenantId: TENANT,
      clientId: GUID,
      credential: { kind: 'secret', secret: 'not-logged' },
      authorityHost: 'https://login.microsoftonline.com',
      baseUrl: 'https://graph.microsoft.com',
      caFile: null,
      requestTimeoutMs: 10_000,
      retryBudgetMs: 10_000,
    });
    expect(c.technicianGroupId).toBe(GUID);
    // DIRECTORY defaults to graph in production mode.
    expect(loadConfig({ ...full, DIRECTORY: undefined }).directory.kind).toBe('graph');
  });

  it('takes a separate Graph app registration, national cloud endpoints and timeouts', () => {
    const c = loadConfig({
      ...full,
      GRAPH_TENANT_ID: OTHER,
      GRAPH_CLIENT_ID: OTHER,
      GRAPH_CLIENT_SECRET: 'graph-secret',
      GRAPH_AUTHORITY_HOST: 'https://login.microsoftonline.us/',
      GRAPH_BASE_URL: 'https://graph.microsoft.us/v1.0',
      GRAPH_REQUEST_TIMEOUT_SECONDS: '20',
      GRAPH_RETRY_MAX_SECONDS: '0',
    });
    expect(c.directory).toMatchObject({
      kind: 'graph',
      tenantId: OTHER,
      clientId: OTHER,
      credential: { kind: 'secret', secret: 'graph-secret' },
      authorityHost: 'https://login.microsoftonline.us',
      baseUrl: 'https://graph.microsoft.us',
      requestTimeoutMs: 20_000,
      retryBudgetMs: 0,
    });
  });

  it('takes a certificate for Graph, and defaults to the bot\'s certificate for the same app', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-'));
    const key = path.join(dir, 'key.pem');
    const ca = path.join(dir, 'ca.pem');
    fs.writeFileSync(key, 'key');
    fs.writeFileSync(ca, 'ca');
    try {
      const sha256 = 'AB'.repeat(32);
      const c = loadConfig({ ...full, GRAPH_CERTIFICATE_THUMBPRINT: sha256, GRAPH_CERTIFICATE_KEY_PATH: key, GRAPH_CA_FILE: ca });
      expect(c.directory).toMatchObject({
        credential: { kind: 'certificate', thumbprint: sha256.toLowerCase(), keyPath: key, certificatePath: null },
        caFile: ca,
      });
      const fromBot = loadConfig({ ...full, BOT_PASSWORD: undefined, BOT_CERTIFICATE_THUMBPRINT: 'cd'.repeat(20), BOT_CERTIFICATE_KEY_PATH: key });
      expect(fromBot.directory).toMatchObject({ credential: { kind: 'certificate', thumbprint: 'cd'.repeat(20), keyPath: key } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names what the Graph directory is missing', () => {
    const noTenant = { ...full, BOT_APP_TYPE: 'MultiTenant', BOT_TENANT_ID: undefined };
    expect(() => loadConfig(noTenant)).toThrow(/GRAPH_TENANT_ID \(the Entra tenant of the directory/);
    expect(loadConfig({ ...noTenant, GRAPH_TENANT_ID: OTHER }).directory).toMatchObject({ tenantId: OTHER });
    expect(() => loadConfig({ ...full, GRAPH_CLIENT_ID: OTHER })).toThrow(
      /GRAPH_CLIENT_SECRET or GRAPH_CERTIFICATE_THUMBPRINT with GRAPH_CERTIFICATE_KEY_PATH \(the credential of the Graph app registration\)/,
    );
    expect(() => loadConfig({ ...full, GRAPH_CLIENT_SECRET: 'x', GRAPH_CERTIFICATE_THUMBPRINT: 'ab'.repeat(20) })).toThrow(/either GRAPH_CLIENT_SECRET or GRAPH_CERTIFICATE_THUMBPRINT, not both/);
    expect(() => loadConfig({ ...full, GRAPH_CERTIFICATE_THUMBPRINT: 'ab'.repeat(20) })).toThrow(/GRAPH_CERTIFICATE_KEY_PATH \(the private key/);
    expect(() => loadConfig({ ...full, GRAPH_CA_FILE: '/nonexistent/ca.pem' })).toThrow(/GRAPH_CA_FILE to name a file that exists \(\/nonexistent\/ca\.pem does not\)/);
    expect(() => loadConfig({ ...full, BOT_APP_TYPE: 'UserAssignedMSI', BOT_PASSWORD: undefined })).toThrow(/GRAPH_CLIENT_SECRET or GRAPH_CERTIFICATE_THUMBPRINT/);
    // Every other production requirement still holds.
    expect(() => loadConfig({ ...full, TECHNICIANS_GROUP_ID: undefined })).toThrow(/TECHNICIANS_GROUP_ID/);
  });

  it('never puts a secret in an error message', () => {
    const failing = [
      { ...full, PORT: 'bad' },
      { ...full, TECHNICIANS_GROUP_ID: undefined },
      { ...full, GRAPH_CLIENT_SECRET: 'graph-not-logged', GRAPH_CERTIFICATE_THUMBPRINT: 'ab'.repeat(20) },
      { ...full, GRAPH_CLIENT_SECRET: 'graph-not-logged', GRAPH_BASE_URL: 'ftp://graph' },
    ];
    for (const env of failing) {
      let message = '';
      try {
        loadConfig(env);
      } catch (e) {
        message = String((e as Error).message);
      }
      expect(message, JSON.stringify(Object.keys(env))).toMatch(/\S/);
      expect(message).not.toContain('not-logged');
    }
  });
});

describe('loadConfig: values that look right but are not', () => {
  const full = { BOT_ID: GUID, BOT_PASSWORD: 'not-logged', BOT_TENANT_ID: TENANT, TECHNICIANS_GROUP_ID: GUID, TECHNICIAN_CHANNEL_IDS: '19:technicians@thread.tacv2', DIRECTORY: 'graph' };

  it('reads numbers in decimal only: hex, exponents and Infinity are refused, not read as other numbers', () => {
    for (const [variable, value] of [['PORT', '0x10'], ['PORT', '1e3'], ['SHUTDOWN_GRACE_SECONDS', 'Infinity'], ['JOB_MAX_ATTEMPTS', '0b11'], ['AUDIT_ANCHOR_INTERVAL_HOURS', '2e1']]) {
      expect(() => loadConfig({ [variable!]: value }), `${variable}=${value}`).toThrow(new RegExp(`${variable} must be a number`));
    }
    expect(loadConfig({ PORT: ' 8080 ', SHUTDOWN_GRACE_SECONDS: '0' })).toMatchObject({ port: 8080, shutdownGraceSeconds: 0 });
    expect(() => loadConfig({ SHUTDOWN_GRACE_SECONDS: '601' })).toThrow(/SHUTDOWN_GRACE_SECONDS must be between 0 and 600/);
  });

  it('bounds the message text a turn reads: 4,000 characters by default, 100 to 28,000 when set', () => {
    expect(loadConfig({}).maxMessageChars).toBe(4000);
    expect(loadConfig({ MAX_MESSAGE_CHARS: '28000' }).maxMessageChars).toBe(28000);
    expect(() => loadConfig({ MAX_MESSAGE_CHARS: '28001' })).toThrow(/MAX_MESSAGE_CHARS must be between 100 and 28000/);
    expect(() => loadConfig({ MAX_MESSAGE_CHARS: '0' })).toThrow(/MAX_MESSAGE_CHARS must be between 100 and 28000/);
  });

  it('keeps the persona chats off the bot port and inside the port range', () => {
    expect(() => loadConfig({ PORT: '56151' })).toThrow(/PLAYGROUND_BASE_PORT=56150 collides with PORT=56151/);
    expect(() => loadConfig({ PLAYGROUND_BASE_PORT: '65533' })).toThrow(/PLAYGROUND_BASE_PORT must be between 1 and 65532/);
    expect(() => loadConfig({ PORT: '56153' })).toThrow(/PLAYGROUND_BASE_PORT=56150 collides with PORT=56153/);
    expect(() => loadConfig({ PLAYGROUND_BASE_PORT: '0' })).toThrow(/PLAYGROUND_BASE_PORT/);
    // Without the chats, or on a free port, nothing collides.
    expect(loadConfig({ PORT: '56151', PLAYGROUND: 'false' }).port).toBe(56151);
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
  });

  it('production: one bot credential, a key file that exists, and https endpoints (plain http only on loopback)', () => {
    expect(() => loadConfig({ ...full, BOT_CERTIFICATE_THUMBPRINT: 'ab'.repeat(20), BOT_CERTIFICATE_KEY_PATH: __filename })).toThrow(
      /either BOT_PASSWORD or BOT_CERTIFICATE_THUMBPRINT, not both/,
    );
    const missing = path.join(os.tmpdir(), 'no-such-bot-key.pem');
    expect(() => loadConfig({ ...full, BOT_PASSWORD: undefined, BOT_CERTIFICATE_THUMBPRINT: 'ab'.repeat(20), BOT_CERTIFICATE_KEY_PATH: missing })).toThrow(
      /BOT_CERTIFICATE_KEY_PATH to name a file that exists/,
    );
    for (const variable of ['BOT_OPENID_METADATA_URL', 'BOT_OAUTH_URL', 'BOT_SERVICE_URL']) {
      expect(() => loadConfig({ ...full, [variable]: 'http://keys.example/v1/.well-known/openidconfiguration' }), variable).toThrow(
        new RegExp(`${variable} to be an https URL`),
      );
      expect(loadConfig({ ...full, [variable]: 'http://127.0.0.1:4000/v1' }).mode).toBe('production');
      expect(loadConfig({ ...full, [variable]: 'https://keys.example/v1' }).mode).toBe('production');
    }
    // Whatever is refused, the secret is not in the message.
    try {
      loadConfig({ ...full, BOT_SERVICE_URL: 'http://evil.example/' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).not.toContain('not-logged');
    }
  });
});

describe('loadConfig: the audit anchor mirror', () => {
  const base = { DATABASE_PATH: '/srv/helpdesk/helpdesk.db' };
  it('none by default; a folder holds a file of the anchor file’s name; an https URL is kept as given', () => {
    expect(loadConfig(base).auditAnchors).toEqual({ file: '/srv/helpdesk/audit-anchors.jsonl', intervalHours: 24, mirror: null });
    expect(loadConfig({ ...base, AUDIT_ANCHOR_MIRROR: '/mnt/worm' }).auditAnchors.mirror).toEqual({ kind: 'folder', file: '/mnt/worm/audit-anchors.jsonl' });
    const url = 'https://acct.blob.core.windows.net/anchors/helpdesk.jsonl?sv=2021-08-06&sp=racw&sig=abc%2B';
    expect(loadConfig({ ...base, AUDIT_ANCHOR_MIRROR: url }).auditAnchors.mirror).toEqual({ kind: 'https', url, caFile: null });
  });

  it.each([
    ['http://acct.blob.core.windows.net/a/b?sig=secret-sig', /AUDIT_ANCHOR_MIRROR must be an https:\/\/ URL/],
    ['https://user:pw@acct.blob.core.windows.net/a/b', /must not carry a user, password or #fragment/],
    ['/srv/helpdesk', /AUDIT_ANCHOR_MIRROR must be another folder than the anchor file’s/],
  ])('%s is refused at startup, without echoing the value', (value, message) => {
    expect(() => loadConfig({ ...base, AUDIT_ANCHOR_MIRROR: value })).toThrow(message);
    try {
      loadConfig({ ...base, AUDIT_ANCHOR_MIRROR: value });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).not.toMatch(/secret-sig|pw@/);
    }
  });

  it('a CA file that does not exist is refused', () => {
    expect(() => loadConfig({ ...base, AUDIT_ANCHOR_MIRROR: 'https://127.0.0.1:9/a/b', AUDIT_ANCHOR_MIRROR_CA_FILE: path.join(os.tmpdir(), 'no-such-ca.pem') })).toThrow(/AUDIT_ANCHOR_MIRROR_CA_FILE must name a file that exists/);
  });
});
