import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';

/** The issuer of every token the Bot Framework channel service sends to bots. */
export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';

/** Claims of a channel-to-bot token; anything not given gets the channel's usual value. */
export interface ChannelTokenClaims {
  /** The bot's Microsoft App ID. */
  aud: string;
  /** The `serviceUrl` of the activity the token travels with. */
  serviceurl?: string;
  iss?: string;
  /** Seconds since the epoch. Default: now. */
  nbf?: number;
  /** Seconds since the epoch. Default: one hour from now. */
  exp?: number;
  [claim: string]: unknown;
}

export interface SignOptions {
  /** `kid` in the header. Default: the id of the key that signs. */
  kid?: string;
  /** Sign with a key the issuer never published instead of its own. */
  key?: 'published' | 'unknown';
}

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * A fake Bot Framework token issuer on 127.0.0.1, shaped like
 * `https://login.botframework.com/v1/.well-known/openidconfiguration`: it serves the OpenID
 * configuration document and a JWKS with one RSA key made at start (endorsed for the
 * channels given), and signs channel-to-bot tokens with it as the channel service does:
 * RS256, `kid` header, `iss` https://api.botframework.com, `aud` the bot's app id,
 * `serviceurl`, `nbf` and `exp`. Plain HTTP is enough: the connector fetches the metadata
 * and the keys with node-fetch, which accepts any http(s) URL.
 */
export class FakeBotFrameworkIssuer {
  /** Paths the bot fetched (metadata and keys), in order. */
  readonly fetches: string[] = [];
  private server: http.Server | null = null;
  private readonly published: SigningKey;
  private readonly unknown: SigningKey;
  private base = '';

  constructor(private readonly endorsements: string[] = ['msteams']) {
    this.published = makeKey();
    this.unknown = makeKey();
  }

  /** What `BOT_OPENID_METADATA_URL` points at. */
  get metadataUrl(): string {
    return `${this.base}/v1/.well-known/openidconfiguration`;
  }

  get jwksUrl(): string {
    return `${this.base}/v1/.well-known/keys`;
  }

  /** The `kid` of the published signing key. */
  get keyId(): string {
    return this.published.kid;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
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

  /** A channel-to-bot token, signed with the published key unless `options.key` says otherwise. */
  sign(claims: ChannelTokenClaims, options: SignOptions = {}): string {
    const key = options.key === 'unknown' ? this.unknown : this.published;
    const header = { alg: 'RS256', kid: options.kid ?? key.kid, typ: 'JWT' };
    const signingInput = `${encode(header)}.${encode(this.payload(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(key.privateKey).toString('base64url');
    return `${signingInput}.${signature}`;
  }

  /** A token signed by a key this issuer never published, under its own `kid` unless given. */
  signWithUnknownKey(claims: ChannelTokenClaims, kid?: string): string {
    return this.sign(claims, { key: 'unknown', kid });
  }

  /** A token that expired `secondsAgo` seconds ago (and was issued an hour before that). */
  expired(claims: ChannelTokenClaims, secondsAgo: number): string {
    const exp = now() - secondsAgo;
    return this.sign({ ...claims, nbf: exp - 3600, exp });
  }

  /** An unsigned token (`alg: none`), naming the published key unless `kid` is null. */
  unsigned(claims: ChannelTokenClaims, kid: string | null = this.published.kid): string {
    const header = kid === null ? { alg: 'none', typ: 'JWT' } : { alg: 'none', kid, typ: 'JWT' };
    return `${encode(header)}.${encode(this.payload(claims))}.`;
  }

  private payload(claims: ChannelTokenClaims): Record<string, unknown> {
    const t = now();
    return { iss: BOT_FRAMEWORK_ISSUER, nbf: t, exp: t + 3600, ...claims };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0]!;
    this.fetches.push(path);
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && `${this.base}${path}` === this.metadataUrl) {
      res.end(
        JSON.stringify({
          issuer: BOT_FRAMEWORK_ISSUER,
          authorization_endpoint: `${this.base}/invalid`,
          jwks_uri: this.jwksUrl,
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint_auth_methods_supported: ['private_key_jwt'],
        }),
      );
    } else if (req.method === 'GET' && `${this.base}${path}` === this.jwksUrl) {
      const jwk = this.published.publicKey.export({ format: 'jwk' });
      res.end(JSON.stringify({ keys: [{ kty: 'RSA', use: 'sig', kid: this.published.kid, n: jwk.n, e: jwk.e, endorsements: this.endorsements }] }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not found' }));
    }
  }
}

function makeKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomBytes(20).toString('base64url'), privateKey, publicKey };
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
