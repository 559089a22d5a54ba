import type { Activity } from 'botbuilder';
import type { AuthenticatorCodes } from '../directory/demo-authenticator';
import type { AuthMethod, Directory, DirectoryUser } from '../directory/directory';
import type { CodeCheck, SentCard, SignInCheck, Verifier, VerifierAvailability } from '../dialogs/signin/verifier';
import type { Notifier } from './notifier';
import type { StepUpValidator } from './step-up';

const CODE_KINDS: readonly AuthMethod['kind'][] = ['microsoftAuthenticator', 'softwareOath'];

export interface HelpdeskVerifierOptions {
  directory: Directory;
  notifier: Notifier;
  clock: () => Date;
  /** Codes of registered authenticators; null where nobody holds the secrets (production). */
  codes: AuthenticatorCodes | null;
  /** Step-up sign-in; null when no OAuth connection is configured. */
  stepUp: StepUpValidator | null;
  /** Whether technician verification can reach anyone (a technicians group and a known channel). */
  techniciansReachable: () => boolean;
}

/**
 * The {@link Verifier} of the helpdesk: authenticator codes (the demo tenant's phones in local
 * mode), step-up sign-in through the bot's OAuth connection (production), and people reached
 * through the {@link Notifier}: the manager in their 1:1 chat, the technicians in their channel.
 */
export class HelpdeskVerifier implements Verifier {
  constructor(private readonly o: HelpdeskVerifierOptions) {}

  async availability(user: DirectoryUser): Promise<VerifierAvailability> {
    const [manager, codeMethods] = await Promise.all([this.o.directory.getManager(user.id), this.codeMethods(user)]);
    const managerUser = manager && manager.accountEnabled && manager.id !== user.id ? manager : null;
    return {
      code: codeMethods.length > 0,
      'sign-in': this.o.stepUp !== null,
      manager: managerUser !== null,
      technician: this.o.techniciansReachable(),
      managerUser,
      codeMethods,
    };
  }

  async checkCode(user: DirectoryUser, code: string): Promise<CodeCheck> {
    const methods = await this.codeMethods(user);
    if (!this.o.codes || methods.length === 0) return { ok: false, reason: 'no-authenticator' };
    // Only authenticators registered now: a removed (lost) phone's codes stop working.
    const match = this.o.codes.match(
      user.id,
      methods.map((m) => m.id),
      code,
      this.o.clock(),
    );
    if (!match) return { ok: false, reason: 'wrong-code' };
    return { ok: true, methodId: match.methodId, step: match.step, hint: methods.find((m) => m.id === match.methodId)?.hint ?? null };
  }

  async checkSignIn(user: DirectoryUser, token: string): Promise<SignInCheck> {
    if (!this.o.stepUp) return { ok: false, reason: 'not-configured', unavailable: true };
    const result = await this.o.stepUp.validate(token, user.id);
    if (result.ok) return { ok: true, via: result.via, authenticatedAt: result.authenticatedAt };
    return result.reason === 'keys-unavailable' ? { ok: false, reason: result.reason, unavailable: true } : { ok: false, reason: result.reason };
  }

  async askManager(manager: DirectoryUser, card: Partial<Activity>): Promise<SentCard> {
    const delivered = await this.o.notifier.sendToUser(manager.id, card);
    return { activityId: delivered.activityId, reference: delivered.reference as Record<string, unknown> };
  }

  async askTechnicians(card: Partial<Activity>): Promise<SentCard | null> {
    const delivered = await this.o.notifier.sendToTechnicians(card);
    return delivered ? { activityId: delivered.activityId, reference: delivered.reference as Record<string, unknown> } : null;
  }

  private async codeMethods(user: DirectoryUser): Promise<AuthMethod[]> {
    if (!this.o.codes) return [];
    const known = new Set(this.o.codes.methodIds(user.id));
    if (known.size === 0) return [];
    return (await this.o.directory.listAuthMethods(user.id)).filter((m) => CODE_KINDS.includes(m.kind) && known.has(m.id));
  }
}
