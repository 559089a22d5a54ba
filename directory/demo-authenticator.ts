import type { DemoTenant } from './demo-tenant';
import { matchTotp, totp } from './totp';

/** A code check that passed: which authenticator showed it, at which time step. */
export interface CodeMatch {
  methodId: string;
  step: number;
}

/**
 * Checks codes from the authenticator apps registered to users. Production tenants do not
 * give anyone the secrets behind those apps, so there this is absent and users prove
 * possession with a fresh MFA sign-in instead.
 */
export interface AuthenticatorCodes {
  /** The authenticators of the user whose codes can be checked (by method id). */
  methodIds(userId: string): string[];
  /** The first of `methodIds` whose code at `at` (one step either side) is `code`, or null. */
  match(userId: string, methodIds: readonly string[], code: string, at: Date): CodeMatch | null;
}

/**
 * The demo tenant's phones: the TOTP secrets of its authenticator methods, read from the
 * tenant file only (the demo directory database never holds them). `npm run demo:otp`
 * prints the code a user's phone would show.
 */
export class DemoAuthenticatorCodes implements AuthenticatorCodes {
  private readonly secrets = new Map<string, Map<string, string>>();

  constructor(tenant: DemoTenant) {
    for (const u of tenant.users) {
      const mine = new Map<string, string>();
      for (const m of u.authMethods) if (m.totpSecret) mine.set(m.id, m.totpSecret);
      if (mine.size) this.secrets.set(u.id, mine);
    }
  }

  methodIds(userId: string): string[] {
    return [...(this.secrets.get(userId)?.keys() ?? [])];
  }

  match(userId: string, methodIds: readonly string[], code: string, at: Date): CodeMatch | null {
    const mine = this.secrets.get(userId);
    if (!mine) return null;
    for (const id of methodIds) {
      const secret = mine.get(id);
      if (!secret) continue;
      const step = matchTotp(secret, code, at);
      if (step !== null) return { methodId: id, step };
    }
    return null;
  }

  /** The code the user's first (or given) demo authenticator shows at `at`; null when they have none. */
  codeFor(userId: string, at: Date, methodId?: string): string | null {
    const mine = this.secrets.get(userId);
    const secret = methodId ? mine?.get(methodId) : mine?.values().next().value;
    return secret ? totp(secret, at) : null;
  }
}
