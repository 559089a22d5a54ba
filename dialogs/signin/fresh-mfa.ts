import type { DirectoryUser } from '../../directory/directory';
import type { AuditActor } from '../../store/audit-trail';
import type { Store } from '../../store/store';
import type { Verifier } from './verifier';

/**
 * Fresh MFA for a decision that hands out power (approving high-risk access): the person
 * proves, now, that they hold their MFA, with the verifier sign-in recovery already uses:
 * the demo authenticator code in local mode, the step-up sign-in (a token whose MFA is at
 * most `maxAgeMinutes` old) in production. A chat click alone proves only that someone
 * holds a Teams session.
 *
 * A proof is an audit event (`signin.mfa-proven`, the prover as actor), so it is kept with
 * the decisions it allowed, and counts for that person's decisions for `maxAgeMinutes`.
 * A wrong code or a refused sign-in counts towards the same self-service lockout as a failed
 * recovery check; while locked out, nothing proves MFA.
 */
export interface Assurance {
  method: 'demo-totp' | 'step-up-oidc';
  /** When the MFA happened (the code was checked; the token's `auth_time` or `iat`). */
  at: string;
  /** Step-up only: how the token showed MFA (`amr` or an authentication context `acrs`). */
  via?: 'amr' | 'acrs';
}

export type MfaProof = { ok: true; assurance: Assurance } | { ok: false; reason: string; message: string };

/** How a person can prove MFA here: a code (local), a new sign-in (production), or not at all. */
export type MfaWay = 'code' | 'sign-in' | null;

export interface FreshMfaDeps {
  store: Store;
  verifier: Verifier;
  clock: () => Date;
  maxAgeMinutes: number;
  /** Counts a failed check towards the self-service lockout (sign-in recovery's counter). */
  countFailure(user: DirectoryUser, method: 'code' | 'sign-in', reason: string): Promise<{ locked: boolean; left: number }>;
}

const PROVEN = 'signin.mfa-proven';

export class FreshMfa {
  constructor(private readonly d: FreshMfaDeps) {}

  get maxAgeMinutes(): number {
    return this.d.maxAgeMinutes;
  }

  /** The user's proof that is still fresh, or null. */
  current(userId: string): Assurance | null {
    const since = new Date(this.d.clock().getTime() - this.d.maxAgeMinutes * 60_000);
    const events = this.d.store.audit.query({ actor: userId, action: PROVEN, since: since.toISOString() });
    for (const e of [...events].reverse()) {
      if (e.actorId !== userId) continue;
      const a = JSON.parse(e.details) as Assurance;
      if (new Date(a.at).getTime() >= since.getTime()) return { method: a.method, at: a.at, ...(a.via ? { via: a.via } : {}) };
    }
    return null;
  }

  /** How `user` can prove MFA now. */
  async way(user: DirectoryUser): Promise<MfaWay> {
    const available = await this.d.verifier.availability(user);
    return available.code ? 'code' : available['sign-in'] ? 'sign-in' : null;
  }

  /** Checks a typed authenticator code; `purpose` (a request id) is kept with the proof. */
  async proveByCode(user: DirectoryUser, rawCode: unknown, purpose: string): Promise<MfaProof> {
    const locked = this.locked(user);
    if (locked) return locked;
    const code = typeof rawCode === 'string' ? rawCode.replace(/[\s-]/g, '') : '';
    if (!/^\d{6}$/.test(code)) return { ok: false, reason: 'no-code', message: 'Type the 6 digits your authenticator app shows.' };
    const check = await this.d.verifier.checkCode(user, code);
    const at = this.d.clock().toISOString();
    const assurance: Assurance = { method: 'demo-totp', at };
    // The time step is used up with the proof: one code proves once.
    const proven =
      check.ok &&
      this.d.store.transaction(() => {
        if (!this.d.store.recovery.useTotpStep(user.id, check.methodId, check.step)) return false;
        this.record(user, assurance, purpose, { authenticator: check.hint });
        return true;
      });
    if (proven) return { ok: true, assurance };
    const reason = check.ok ? 'code-reused' : check.reason;
    return this.failed(user, 'code', reason, reason === 'code-reused' ? 'That code was used already; wait for the next one.' : 'That code is not right.');
  }

  /** Checks a step-up sign-in token of `user`: its MFA must be at most `maxAgeMinutes` old. */
  async proveBySignIn(user: DirectoryUser, token: string, purpose: string): Promise<MfaProof> {
    const locked = this.locked(user);
    if (locked) return locked;
    const check = await this.d.verifier.checkSignIn(user, token);
    if (!check.ok && check.unavailable) {
      // The service could not check it: not the user's failure, not counted.
      return { ok: false, reason: check.reason, message: 'I could not check that sign-in right now, so it was not counted against you. Try again in a few minutes.' };
    }
    if (!check.ok) return this.failed(user, 'sign-in', check.reason, `That sign-in does not prove a fresh MFA (${check.reason}).`);
    const oldest = this.d.clock().getTime() - this.d.maxAgeMinutes * 60_000;
    if (new Date(check.authenticatedAt).getTime() < oldest) {
      return this.failed(user, 'sign-in', 'stale-mfa', `That sign-in's MFA is older than ${this.d.maxAgeMinutes} minutes (stale-mfa).`);
    }
    const assurance: Assurance = { method: 'step-up-oidc', at: check.authenticatedAt, via: check.via };
    this.d.store.transaction(() => this.record(user, assurance, purpose, {}));
    return { ok: true, assurance };
  }

  private locked(user: DirectoryUser): MfaProof | null {
    const until = this.d.store.recovery.lockedUntil(user.id, this.d.clock());
    if (!until) return null;
    return { ok: false, reason: 'locked-out', message: `Too many failed verifications: proving your MFA here is locked until ${until}. An identity technician can help.` };
  }

  private async failed(user: DirectoryUser, method: 'code' | 'sign-in', reason: string, text: string): Promise<MfaProof> {
    const count = await this.d.countFailure(user, method, reason);
    const more = count.locked
      ? ' Too many failed verifications: this is now locked for a while, and the identity technicians were told.'
      : ` ${count.left} ${count.left === 1 ? 'attempt is' : 'attempts are'} left before verification is locked.`;
    return { ok: false, reason, message: text + more };
  }

  private record(user: DirectoryUser, assurance: Assurance, purpose: string, extra: Record<string, unknown>): void {
    const actor: AuditActor = { id: user.id, name: user.displayName };
    this.d.store.audit.append({ actor, action: PROVEN, target: user.id, outcome: 'success', correlationId: purpose, details: { ...assurance, ...extra } });
  }
}
