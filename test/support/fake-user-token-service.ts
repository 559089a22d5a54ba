import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';

/** A call the bot made to the fake token service. */
export interface TokenServiceCall {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  body: unknown;
}

/** Claims of a step-up token; anything not given gets the value Entra would put there. */
export interface StepUpClaims {
  oid: string;
  aud?: string | string[];
  iss?: string;
  tid?: string;
  amr?: string[];
  acrs?: string[];
  /** Seconds since the epoch. Default: now. */
  auth_time?: number;
  iat?: number;
  nbf?: number;
  exp?: number;
  [claim: string]: unknown;
}

interface Pending {
  userId: string;
  connectionName: string;
  channelId: string;
  code: string;
  token: string;
}

/**
 * Two loopback services of a production step-up sign-in in one HTTP server:
 *
 * - the Bot Framework user-token service (the bot's `OAuthUrl`), as botbuilder's
 *   UserTokenClient calls it: `GET /api/botsignin/GetSignInResource?state&finalRedirect`,
 *   `GET /api/usertoken/GetToken?userId&connectionName&channelId&code`,
 *   `DELETE /api/usertoken/SignOut?userId&connectionName&channelId`,
 *   `POST /api/usertoken/exchange?userId&connectionName&channelId`;
 * - a Microsoft Entra tenant's OpenID configuration and key set
 *   (`/{tenant}/v2.0/.well-known/openid-configuration`, `/{tenant}/discovery/v2.0/keys`)
 *   with one RSA key, which signs the tokens the token service hands out.
 *
 * A sign-in is staged with {@link completeSignIn} (what the user does in the browser): the
 * token is then handed out once for its magic code, as the token service does after the
 * OAuth card's sign-in. Every call is recorded with its Authorization header.
 */
export class FakeUserTokenService {
  readonly calls: TokenServiceCall[] = [];
  private server: http.Server | null = null;
  private base = '';
  private readonly key: { kid: string; privateKey: KeyObject; publicKey: KeyObject };
  private readonly otherKey: KeyObject;
  private pending: Pending[] = [];

  constructor(readonly tenantId: string) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.key = { kid: randomBytes(16).toString('base64url'), privateKey, publicKey };
    this.otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  }

  /** The bot's `BOT_OAUTH_URL`. */
  get url(): string {
    return this.base;
  }

  /** The step-up validator's `STEP_UP_OPENID_METADATA_URL`. */
  get metadataUrl(): string {
    return `${this.base}/${this.tenantId}/v2.0/.well-known/openid-configuration`;
  }

  /** The issuer of the tenant's tokens. */
  get issuer(): string {
    return `${this.base}/${this.tenantId}/v2.0`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  clear(): void {
    this.calls.length = 0;
    this.pending = [];
  }

  /** A token of the tenant, signed with its published key (or, `unknownKey`, a key it never published). */
  sign(claims: StepUpClaims, options: { unknownKey?: boolean } = {}): string {
    const t = Math.floor(Date.now() / 1000);
    const payload = { iss: this.issuer, tid: this.tenantId, amr: ['pwd', 'mfa'], auth_time: t, iat: t, nbf: t, exp: t + 3600, ver: '2.0', ...claims };
    const input = `${encode({ alg: 'RS256', kid: this.key.kid, typ: 'JWT' })}.${encode(payload)}`;
    const signature = createSign('RSA-SHA256').update(input).sign(options.unknownKey ? this.otherKey : this.key.privateKey).toString('base64url');
    return `${input}.${signature}`;
  }

  /** The user finished the OAuth card's sign-in: the token service hands `token` out for `code`. */
  completeSignIn(p: Pending): void {
    this.pending.push(p);
  }

  /** Calls to one endpoint (path without the query). */
  callsTo(path: string): TokenServiceCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = raw;
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const path = url.pathname;
    this.calls.push({ method: req.method ?? '', path, query, authorization: req.headers.authorization, body });
    const send = (status: number, value?: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(value === undefined ? '' : JSON.stringify(value));
    };

    if (req.method === 'GET' && path === `/${this.tenantId}/v2.0/.well-known/openid-configuration`) {
      return send(200, { issuer: this.issuer, jwks_uri: `${this.base}/${this.tenantId}/discovery/v2.0/keys`, id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (req.method === 'GET' && path === `/${this.tenantId}/discovery/v2.0/keys`) {
      const jwk = this.key.publicKey.export({ format: 'jwk' });
      return send(200, { keys: [{ kty: 'RSA', use: 'sig', kid: this.key.kid, n: jwk.n, e: jwk.e }] });
    }
    // The token service answers the bot only: the bot's Bot Connector token is required.
    if (path.startsWith('/api/') && !/^Bearer \S+$/.test(req.headers.authorization ?? '')) return send(401, { error: { code: 'Unauthorized', message: 'no bearer token' } });
    if (req.method === 'GET' && path === '/api/botsignin/GetSignInResource') {
      const state = JSON.parse(Buffer.from(query.state ?? '', 'base64').toString('utf8')) as { connectionName?: string };
      return send(200, {
        signInLink: `${this.base}/signin?state=${encodeURIComponent(query.state ?? '')}`,
        tokenExchangeResource: { id: randomBytes(8).toString('hex'), uri: `api://botid-${state.connectionName ?? ''}`, providerId: 'aad' },
      });
    }
    if (req.method === 'GET' && path === '/api/usertoken/GetToken') {
      const i = this.pending.findIndex((p) => p.userId === query.userId && p.connectionName === query.connectionName && p.channelId === query.channelId && p.code === query.code);
      if (i < 0) return send(404, { error: { code: 'NotFound', message: 'no token' } });
      const [p] = this.pending.splice(i, 1);
      return send(200, { channelId: p!.channelId, connectionName: p!.connectionName, token: p!.token, expiration: new Date(Date.now() + 3_600_000).toISOString() });
    }
    if (req.method === 'DELETE' && path === '/api/usertoken/SignOut') {
      this.pending = this.pending.filter((p) => !(p.userId === query.userId && (!query.connectionName || p.connectionName === query.connectionName)));
      return send(200, {});
    }
    if (req.method === 'POST' && path === '/api/usertoken/exchange') {
      // No SSO here: the exchange is refused, as when the user must sign in interactively.
      return send(400, { error: { code: 'ExchangeFailed', message: 'no exchange' } });
    }
    return send(404, { error: { code: 'NotFound', message: `${req.method} ${path}` } });
  }
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
