import type { Activity } from 'botbuilder';
import type { AuthMethod, DirectoryUser } from '../../directory/directory';
import type { Availability } from './policy';

/**
 * The identity verification port of sign-in recovery. Four ways to prove who someone is:
 *
 * - **authenticator code**: the user types the code their authenticator app shows (local
 *   mode: checked against the demo tenant's phones; `npm run demo:otp` is the phone);
 * - **step-up sign-in**: the user signs in again through Entra with MFA (production; the
 *   token is validated: signature, issuer, audience, expiry, user, fresh MFA);
 * - **manager attestation**: a card in the manager's 1:1 chat: "I confirmed this with them
 *   in person or by a call: Confirm / Decline";
 * - **technician verification**: the same card in the technicians' channel, for any
 *   identity technician to take.
 *
 * The subject of every check is the acting user (or, for the people, the recovery's user):
 * nothing here takes a user id from card data.
 */
export interface Verifier {
  /** What can verify `user` now: a registered authenticator with checkable codes, a manager, reachable technicians, step-up sign-in. */
  availability(user: DirectoryUser): Promise<VerifierAvailability>;
  /** Which registered authenticator of `user` shows `code` now (one step of clock drift either side), or why not. */
  checkCode(user: DirectoryUser, code: string): Promise<CodeCheck>;
  /** Validates a step-up sign-in token of `user`. */
  checkSignIn(user: DirectoryUser, token: string): Promise<SignInCheck>;
  /** Sends an attestation card to the manager's 1:1 chat. */
  askManager(manager: DirectoryUser, card: Partial<Activity>): Promise<SentCard>;
  /** Posts an attestation card to the technicians' channel; null when no channel is known. */
  askTechnicians(card: Partial<Activity>): Promise<SentCard | null>;
}

export interface VerifierAvailability extends Availability {
  /** The user's manager when they can attest (enabled, not the user). */
  managerUser: DirectoryUser | null;
  /** The registered authenticators whose codes can be checked. */
  codeMethods: AuthMethod[];
}

export type CodeCheck = { ok: true; methodId: string; step: number; hint: string | null } | { ok: false; reason: 'wrong-code' | 'no-authenticator' };

/**
 * `unavailable`: the sign-in could not be checked (the tenant's keys could not be fetched, step-up
 * is not configured): a fault of the service, not a failed verification of the user.
 */
export type SignInCheck = { ok: true; via: 'amr' | 'acrs'; authenticatedAt: string } | { ok: false; reason: string; unavailable?: boolean };

/** Where an attestation card landed, to update it after the decision. */
export interface SentCard {
  activityId: string;
  reference: Record<string, unknown>;
}
