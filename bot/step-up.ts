import { createPublicKey, verify as verifySignature, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * Step-up sign-in: the user signs in again through Microsoft Entra (the bot's OAuth
 * connection) and the bot checks the token it gets back. The token proves possession of
 * the user's MFA only when all of this holds:
 *
 * - signed (RS256) by a key the tenant's OpenID configuration publishes (`jwks_uri`);
 * - `iss` is that configuration's issuer for the configured tenant, `tid` the tenant;
 * - `aud` is one of the configured audiences (the bot's own app);
 * - valid now (`nbf`, `exp`, five minutes of clock skew);
 * - `oid` is the acting user: nobody else's sign-in counts;
 * - MFA, fresh: `amr` contains `mfa` and `auth_time` is no older than `maxAgeMinutes`, or
 *   `acrs` contains a configured authentication context and the token was issued within
 *   `maxAgeMinutes` (the Conditional Access policy of that context enforces the MFA).
 *
 * Everything is checked here with Node's crypto, so what is accepted is visible in one place.
 */
export interface StepUpOptions {
  tenantId: string;
  /** Accepted `aud` values: the bot's app id and its application id URI. */
  audiences: readonly string[];
  /** The tenant's OpenID configuration (`.../{tenant}/v2.0/.well-known/openid-configuration`). */
  metadataUrl: string;
  maxAgeMinutes: number;
  /** Accepted authentication context ids (`acrs`), e.g. `c1`; empty: only `amr`. */
  acrs: readonly string[];
  clock?: () => Date;
  clockSkewSeconds?: number;
  fetch?: typeof fetch;
}

export type StepUpResult =
  | { ok: true; userId: string; via: 'amr' | 'acrs'; authenticatedAt: string }
  | { ok: false; reason: StepUpFailure; detail: string };

export type StepUpFailure = 'malformed' | 'signature' | 'issuer' | 'tenant' | 'audience' | 'expired' | 'not-yet-valid' | 'other-user' | 'no-mfa' | 'stale-mfa' | 'keys-unavailable';

interface Metadata {
  issuer: string;
  jwksUri: string;
}

/** How long fetched keys are trusted before they are fetched again. */
const KEYS_TTL_MS = 12 * 3_600_000;
/** An unknown key id refetches the keys at most this often (a rotated key, not a flood). */
const REFETCH_MIN_MS = 5 * 60_000;

export class StepUpValidator {
  private metadata: Metadata | null = null;
  private keys = new Map<string, KeyObject>();
  private fetchedAt = 0;
  private readonly clock: () => Date;
  private readonly skew: number;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly o: StepUpOptions) {
    this.clock = o.clock ?? (() => new Date());
    this.skew = o.clockSkewSeconds ?? 300;
    this.fetchFn = o.fetch ?? fetch;
  }

  /** Checks `token` as the step-up sign-in of `userId`. Never throws for a bad token; the reason says why. */
  async validate(token: string, userId: string): Promise<StepUpResult> {
    const parts = typeof token === 'string' ? token.split('.') : [];
    if (parts.length !== 3) return fail('malformed', 'not a signed JWT');
    const header = decodeJson(parts[0]!);
    const claims = decodeJson(parts[1]!);
    if (!header || !claims) return fail('malformed', 'header or claims are not JSON');
    // Only RS256: `none` and HMAC algorithms (signed with a public key as the secret) are refused.
    if (header.alg !== 'RS256' || typeof header.kid !== 'string') return fail('malformed', `algorithm ${String(header.alg)} or key id not accepted`);

    let key: KeyObject | undefined;
    let metadata: Metadata;
    try {
      metadata = await this.loadMetadata();
      key = await this.keyFor(header.kid);
    } catch (err) {
      return fail('keys-unavailable', (err as Error).message);
    }
    if (!key) return fail('signature', 'signed with a key the tenant does not publish');
    const signature = Buffer.from(parts[2]!, 'base64url');
    if (!verifySignature('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), key, signature)) return fail('signature', 'the signature does not match');

    const expectedIssuer = metadata.issuer.replace('{tenantid}', this.o.tenantId);
    if (claims.iss !== expectedIssuer) return fail('issuer', `issuer ${String(claims.iss)} is not ${expectedIssuer}`);
    if (claims.tid !== this.o.tenantId) return fail('tenant', 'the token is from another tenant');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => typeof a === 'string' && this.o.audiences.includes(a))) return fail('audience', 'the token is for another application');
    const now = Math.floor(this.clock().getTime() / 1000);
    if (typeof claims.exp !== 'number' || now > claims.exp + this.skew) return fail('expired', 'the token has expired');
    if (typeof claims.nbf === 'number' && now + this.skew < claims.nbf) return fail('not-yet-valid', 'the token is not valid yet');
    if (typeof claims.oid !== 'string' || claims.oid.toLowerCase() !== userId.toLowerCase()) return fail('other-user', 'someone else signed in');

    const maxAge = this.o.maxAgeMinutes * 60;
    const authTime = typeof claims.auth_time === 'number' ? claims.auth_time : null;
    const iat = typeof claims.iat === 'number' ? claims.iat : null;
    const amr = Array.isArray(claims.amr) ? claims.amr : [];
    const acrs = Array.isArray(claims.acrs) ? claims.acrs : [];
    const recent = (t: number | null) => t !== null && t <= now + this.skew && now - t <= maxAge;
    if (amr.includes('mfa') && recent(authTime)) return { ok: true, userId: claims.oid, via: 'amr', authenticatedAt: new Date(authTime! * 1000).toISOString() };
    if (this.o.acrs.length && acrs.some((a) => this.o.acrs.includes(a as string)) && recent(iat)) {
      return { ok: true, userId: claims.oid, via: 'acrs', authenticatedAt: new Date(iat! * 1000).toISOString() };
    }
    if (amr.includes('mfa') || acrs.length) return fail('stale-mfa', `the MFA sign-in is older than ${this.o.maxAgeMinutes} minutes`);
    return fail('no-mfa', 'the sign-in did not use MFA');
  }

  private async loadMetadata(): Promise<Metadata> {
    if (this.metadata) return this.metadata;
    const doc = (await this.getJson(this.o.metadataUrl)) as { issuer?: unknown; jwks_uri?: unknown };
    if (typeof doc.issuer !== 'string' || typeof doc.jwks_uri !== 'string') throw new Error('the OpenID configuration has no issuer or jwks_uri');
    this.metadata = { issuer: doc.issuer, jwksUri: doc.jwks_uri };
    return this.metadata;
  }

  private async keyFor(kid: string): Promise<KeyObject | undefined> {
    const age = Date.now() - this.fetchedAt;
    if (age > KEYS_TTL_MS || (!this.keys.has(kid) && age > REFETCH_MIN_MS)) await this.loadKeys();
    return this.keys.get(kid);
  }

  private async loadKeys(): Promise<void> {
    const { jwksUri } = await this.loadMetadata();
    const doc = (await this.getJson(jwksUri)) as { keys?: Array<JsonWebKey & { kid?: string; use?: string }> };
    const keys = new Map<string, KeyObject>();
    for (const jwk of doc.keys ?? []) {
      if (jwk.kty !== 'RSA' || typeof jwk.kid !== 'string' || (jwk.use && jwk.use !== 'sig')) continue;
      try {
        keys.set(jwk.kid, createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }));
      } catch {
        // A malformed key is skipped; tokens signed with it fail as unknown.
      }
    }
    this.keys = keys;
    this.fetchedAt = Date.now();
  }

  private async getJson(url: string): Promise<unknown> {
    const res = await this.fetchFn(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    return res.json();
  }
}

function fail(reason: StepUpFailure, detail: string): StepUpResult {
  return { ok: false, reason, detail };
}

function decodeJson(part: string): Record<string, any> | null {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
