import { AsyncLocalStorage } from 'node:async_hooks';
import { createVerify } from 'node:crypto';
import type restify from 'restify';
import { JwtTokenExtractor } from 'botframework-connector/lib/auth/jwtTokenExtractor';
import type { OpenIdMetadata } from 'botframework-connector/lib/auth/openIdMetadata';
import type { Logger } from './logger';

/**
 * The checks `/api/messages` makes before anything reads a body or hands a request to the
 * Bot Framework SDK: the content type Teams sends, bounded headers, and (production) a
 * bearer token that at least claims to come from the configured cloud's Bot Framework
 * channel service. They are cheap and keep no state per caller beyond {@link OncePerMinute}.
 */

/** The longest `Authorization` header taken; a Bot Framework channel token is 1 to 2 KiB. */
export const MAX_AUTHORIZATION_BYTES = 8 * 1024;
/** The most header bytes a request may send (Node answers 431 above it). */
export const MAX_HEADER_BYTES = 16 * 1024;

/** The Bot Framework channel service's token issuer (`iss`) in each cloud. */
export const CHANNEL_TOKEN_ISSUERS = {
  public: 'https://api.botframework.com',
  government: 'https://api.botframework.us',
} as const;

/** What a request came from, for logs and audit: the caller's address, and the host its activity says replies go to. */
export interface RequestSource {
  remoteAddress: string;
}

/** The source of the request being handled, across the SDK's awaits (the adapter has no access to the HTTP request). */
export const requestSource = new AsyncLocalStorage<RequestSource>();

/**
 * `application/json` only (any parameters, such as `; charset=utf-8`), answered 415 before a
 * byte of the body is read: a multipart body would be written to the temporary folder, and
 * a form or text body is what a web page can send to the local bot without a CORS preflight.
 */
export const acceptJsonOnly: restify.RequestHandler = (req, res, next) => {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return next();
  res.header('Accept', 'application/json');
  res.header('Connection', 'close');
  res.send(415, { error: 'Send the activity as application/json.' });
  return next(false);
};

/**
 * Local mode (no authentication): the request must name this machine (`Host` a loopback
 * name or address) and, when a browser sent it, come from a page of this machine (`Origin`).
 * Otherwise a web page could reach the bot through DNS rebinding (its own name resolving to
 * 127.0.0.1) and act as any persona. Answered 403 before the body is read.
 */
export const loopbackCallersOnly: restify.RequestHandler = (req, res, next) => {
  const origin = req.headers.origin;
  const hostOk = isLoopbackHost(String(req.headers.host ?? ''));
  const originOk = origin === undefined || (URL.canParse(origin) && isLoopbackHost(new URL(origin).host));
  if (hostOk && originOk) return next();
  res.header('Connection', 'close');
  res.send(403, { error: 'The local bot takes requests from this machine only.' });
  return next(false);
};

function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}

/** Refuses an `Authorization` header longer than {@link MAX_AUTHORIZATION_BYTES} with 431, before any token parsing. */
export const capAuthorization: restify.RequestHandler = (req, res, next) => {
  const auth = req.headers.authorization;
  if (auth === undefined || Buffer.byteLength(auth) <= MAX_AUTHORIZATION_BYTES) return next();
  res.header('Connection', 'close');
  res.send(431, { error: 'The Authorization header is too large.' });
  return next(false);
};

/** How long past its `exp` the SDK still takes a token (its clock tolerance). */
const CLOCK_SKEW_SECONDS = 5 * 60;

/**
 * Why a bearer token cannot be a channel token of `issuer`, read without verifying it, or
 * null. The SDK would also try it as an emulator token (Entra-issued, for any audience, with
 * no `serviceUrl` binding: the bot's own outbound connector token passes) or a skill token,
 * and its emulator check appends issuers built from the unverified `tid` to a process-wide
 * list on every request; neither path is for a Teams bot. Expired tokens are refused here
 * too, since the SDK prints them to the console.
 */
export function channelTokenProblem(authorization: string | undefined, issuer: string, nowSeconds: number): string | null {
  if (!authorization) return 'no-token';
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/.exec(authorization.trim());
  if (!m) return 'not-a-bearer-jwt';
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8'));
  } catch {
    return 'unreadable-token';
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return 'unreadable-token';
  const claims = payload as Record<string, unknown>;
  if (claims.iss !== issuer) return 'not-a-channel-token';
  if (typeof claims.exp === 'number' && claims.exp + CLOCK_SKEW_SECONDS < nowSeconds) return 'expired';
  return null;
}

/** What a channel token must be: issued and signed by the channel service of the bot's cloud, for this bot. */
export interface ChannelTokenCheck {
  /** The channel service's `iss`. */
  issuer: string;
  /** The bot's app id: the token's `aud`. */
  appId: string;
  /** Where the channel service publishes its signing keys (the SDK's own cache of them is used). */
  metadataUrl: string;
}

/** The signature algorithms the channel service uses (the SDK's `AllowedSigningAlgorithms`). */
const SIGNATURE_ALGORITHMS: Record<string, string> = { RS256: 'RSA-SHA256', RS384: 'RSA-SHA384', RS512: 'RSA-SHA512' };

/**
 * Why `authorization` is not a channel token signed by one of the channel service's keys
 * for `appId`, or null. Checked before the SDK sees the token: a token anyone can write
 * (unsigned, with the channel's issuer) would otherwise reach the SDK's emulator check,
 * which appends issuers built from its unverified `tid` to a process-wide list, and its
 * key lookup, which prints the service's keys to the console for every bad signature; and
 * the body of such a request would be read first. The keys come from the SDK's own cache
 * (fetched at most once an hour for an unknown key id), so no caller can make the bot fetch more.
 */
export async function channelSignatureProblem(authorization: string, check: ChannelTokenCheck, metadata: Pick<ChannelSigningKeys, 'getKey'>, nowSeconds: number): Promise<string | null> {
  const [header, payload, signature] = authorization.trim().slice('Bearer '.length).split('.') as [string, string, string];
  let head: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return 'unreadable-token';
  }
  const algorithm = typeof head?.alg === 'string' ? SIGNATURE_ALGORITHMS[head.alg] : undefined;
  if (!algorithm) return 'signature-algorithm-not-allowed';
  if (typeof head.kid !== 'string' || head.kid === '') return 'no-key-id';
  const key = await metadata.getKey(head.kid);
  if (!key) return 'unknown-signing-key';
  const signed = createVerify(algorithm).update(`${header}.${payload}`).verify(key.key, Buffer.from(signature, 'base64url'));
  if (!signed) return 'bad-signature';
  if (claims.aud !== check.appId) return 'not-for-this-bot';
  if (typeof claims.exp !== 'number') return 'no-expiry';
  if (typeof claims.nbf === 'number' && claims.nbf - CLOCK_SKEW_SECONDS > nowSeconds) return 'not-valid-yet';
  return null;
}

/** How often at most the signing keys are read again, whatever key ids callers send. */
const KEY_REFRESH_FLOOR_MS = 60_000;

/** The SDK's cached OpenID metadata, as far as it is used here (its fields are not typed as public). */
interface CachedMetadata {
  lastUpdated: number;
  tokenRefreshInterval: number;
  findKey(kid: string): { key: string; endorsements?: string[] } | null;
  refreshCache(): Promise<void>;
}

/**
 * The channel service's signing keys, from the SDK's own cache of them. The SDK reads them
 * again for every request whose key id it does not know (at most once an hour per success,
 * but on every such request while a read fails, and concurrently): a flood of made-up key ids
 * would make the bot a client flooding the channel service. Here one read serves every caller
 * waiting, and a new one starts at most once a minute.
 */
export class ChannelSigningKeys {
  private reading: Promise<void> | null = null;
  private lastRead = 0;
  private failure: unknown = null;
  private readonly m: CachedMetadata;

  constructor(metadata: OpenIdMetadata) {
    this.m = metadata as unknown as CachedMetadata;
  }

  /** The key `kid` names; null when the service publishes none such; throws when no key can be had at all. */
  async getKey(kid: string): Promise<{ key: string; endorsements?: string[] } | null> {
    const now = Date.now();
    const stale = this.m.lastUpdated < now - this.m.tokenRefreshInterval * 3600_000;
    const known = this.m.findKey(kid);
    if (known && !stale) return known;
    if (!this.reading && now - this.lastRead >= KEY_REFRESH_FLOOR_MS) {
      this.lastRead = now;
      this.reading = this.m.refreshCache().then(
        () => void (this.failure = null),
        (err: unknown) => void (this.failure = err),
      ).finally(() => (this.reading = null));
    }
    if (this.reading) await this.reading;
    const key = this.m.findKey(kid);
    // Keys never read (or gone) and the last read failed: the keys are unavailable, not the token wrong.
    if (!key && this.failure && this.m.lastUpdated === 0) throw this.failure;
    return key;
  }
}

/**
 * Production mode: refuses (401) a request whose bearer token is not one of the configured
 * cloud's Bot Framework channel tokens, signed for this bot, before the SDK parses it and
 * before the body is read. Logged once per source and reason a minute. When the signing keys
 * cannot be had (the key service does not answer), 500, as the SDK answers: no request is let through unchecked.
 */
export function channelTokenGate(check: ChannelTokenCheck, logger: Logger, clock: () => Date): restify.RequestHandler {
  const once = new OncePerMinute(clock);
  const metadata = new ChannelSigningKeys((JwtTokenExtractor as unknown as { getOrAddOpenIdMetadata(url: string): OpenIdMetadata }).getOrAddOpenIdMetadata(check.metadataUrl));
  const refuse = (req: restify.Request, res: restify.Response, reason: string) => {
    const remoteAddress = req.socket?.remoteAddress ?? 'unknown';
    if (once.first(`${remoteAddress}|${reason}`)) logger.warn({ reason, remoteAddress }, 'request on /api/messages refused: not a Bot Framework channel token (logged once a minute per source)');
    // The body is never read: the connection is closed rather than kept to drain it.
    res.header('Connection', 'close');
    res.send(401, { error: 'Unauthorized' });
  };
  return (req, res, next) => {
    // Real time, as the SDK checks expiry against it (the bot's clock may be a test's).
    const now = Math.floor(Date.now() / 1000);
    const reason = channelTokenProblem(req.headers.authorization, check.issuer, now);
    if (reason) {
      refuse(req, res, reason);
      return next(false);
    }
    channelSignatureProblem(req.headers.authorization!, check, metadata, now).then(
      (problem) => {
        if (!problem) return next();
        refuse(req, res, problem);
        return next(false);
      },
      (err: unknown) => {
        if (once.first('signing-keys-unavailable')) logger.error({ err }, "request on /api/messages refused: the channel service's signing keys cannot be read");
        res.header('Connection', 'close');
        res.send(500, { error: 'Authentication is not available just now.' });
        return next(false);
      },
    );
  };
}

/**
 * Whether something happens for the first time this minute, per key, in bounded memory: a
 * flood of new keys fills the table, after which they count as seen until the minute ends
 * (the log and audit say so once, instead of growing without bound).
 */
export class OncePerMinute {
  private window = -1;
  private readonly seen = new Set<string>();
  private overflowed = false;

  constructor(
    private readonly clock: () => Date,
    private readonly maxKeys = 1_000,
  ) {}

  /** True the first time `key` is seen in the current minute; at most `maxKeys` (and one overflow) a minute. */
  first(key: string): boolean {
    const minute = Math.floor(this.clock().getTime() / 60_000);
    if (minute !== this.window) {
      this.window = minute;
      this.seen.clear();
      this.overflowed = false;
    }
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.maxKeys) {
      if (this.overflowed) return false;
      this.overflowed = true;
      return true;
    }
    this.seen.add(key);
    return true;
  }
}
