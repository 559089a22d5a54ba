import { ResultCodeError } from 'ldapts';
import { ConflictError, DirectoryError, ForbiddenError, NotFoundError, RejectedError, ThrottledError } from '../directory';

/** What an AD call does and the delegated right it needs, for error messages. */
export interface AdOperation {
  /** Verb phrase: "read users", "reset the password". */
  what: string;
  /** The right the service account needs on the OUs for it. */
  right: string;
}

/** Why the service account (or a user, in tests and diagnostics) could not bind. */
export type BindFailure =
  | 'invalid-credentials'
  | 'no-such-user'
  | 'logon-hours'
  | 'workstation'
  | 'password-expired'
  | 'disabled'
  | 'account-expired'
  | 'must-change-password'
  | 'locked'
  | 'other';

/**
 * AD's reason for a failed bind, from the "data NNN" in its message (the Win32 error of the
 * logon). Samba uses the same codes.
 */
export function bindFailureReason(e: unknown): BindFailure | null {
  if (!(e instanceof ResultCodeError) || e.code !== 49) return null;
  const data = /\bdata ([0-9a-f]{3,4})\b/i.exec(e.message)?.[1]?.toLowerCase();
  switch (data) {
    case '52e':
      return 'invalid-credentials';
    case '525':
      return 'no-such-user';
    case '530':
      return 'logon-hours';
    case '531':
      return 'workstation';
    case '532':
      return 'password-expired';
    case '533':
      return 'disabled';
    case '701':
      return 'account-expired';
    case '773':
      return 'must-change-password';
    case '775':
      return 'locked';
    default:
      return 'other';
  }
}

const BIND_FAILURE_TEXT: Record<BindFailure, string> = {
  'invalid-credentials': 'the name or password is wrong',
  'no-such-user': 'there is no such account',
  'logon-hours': 'the account may not sign in at this time',
  workstation: 'the account may not sign in from this computer',
  'password-expired': 'its password has expired',
  disabled: 'the account is disabled',
  'account-expired': 'the account has expired',
  'must-change-password': 'its password must be changed first',
  locked: 'the account is locked out',
  other: 'the domain controller refused the credentials',
};

/** A human phrase for a bind failure: "the account is locked out". */
export function describeBindFailure(reason: BindFailure): string {
  return BIND_FAILURE_TEXT[reason];
}

/** The LDAP result code of a failure, or undefined when it never reached the server. */
export function ldapCode(e: unknown): number | undefined {
  return e instanceof ResultCodeError ? e.code : undefined;
}

/** The server's diagnostic message (first line), or the error's text. */
export function ldapMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0]!.replace(/\s*Code: 0x[0-9a-f]+$/i, '').slice(0, 300);
}

/**
 * A failure to connect, upgrade to TLS or bind as the service account: the domain controller
 * cannot be used at all. `reason` says which, for health checks and the doctor.
 */
export class AdConnectionError extends DirectoryError {
  constructor(
    message: string,
    readonly reason: 'unreachable' | 'timeout' | 'tls' | 'bind' | 'busy',
  ) {
    super(message);
  }
}

/** Node's TLS verification codes that mean "this certificate's issuer is not trusted". */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * A connection failure (before any LDAP answer) as {@link AdConnectionError} with a message a
 * technician can act on; `where` is the URL tried. Never contains a credential.
 */
export function connectionError(e: unknown, where: string): AdConnectionError {
  const err = e as NodeJS.ErrnoException & { code?: string };
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const message = ldapMessage(e);
  if (code && UNTRUSTED.has(code)) {
    return new AdConnectionError(
      `The certificate of the domain controller at ${where} is not trusted (${code}): set AD_CA_FILE to the certificate of the CA that issued it`,
      'tls',
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new AdConnectionError(
      `The certificate of the domain controller at ${where} names another host (${message}): connect by the name in the certificate or set AD_TLS_SERVER_NAME`,
      'tls',
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new AdConnectionError(`The certificate of the domain controller at ${where} is not valid now (${code})`, 'tls');
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new AdConnectionError(`Could not reach Active Directory at ${where}: ${code}`, 'unreachable');
  }
  if (/timeout|timed out/i.test(message) || code === 'ETIMEDOUT') {
    return new AdConnectionError(`Active Directory at ${where} did not answer in time`, 'timeout');
  }
  const tls = /tls|ssl|certificate|handshake/i.test(message) || (code ?? '').startsWith('ERR_SSL') || (code ?? '').startsWith('ERR_TLS');
  return new AdConnectionError(`Could not ${tls ? 'set up TLS with' : 'reach'} Active Directory at ${where}: ${message}`, tls ? 'tls' : 'unreachable');
}

/**
 * True for failures of the connection rather than of the request: the socket closed or timed
 * out, or the server answered as to an unbound connection. Such a request may be sent again on
 * a fresh connection.
 */
export function isConnectionFailure(e: unknown): boolean {
  if (e instanceof AdConnectionError) return e.reason !== 'bind' && e.reason !== 'tls';
  if (e instanceof ResultCodeError) {
    // 1: operationsError "a successful bind must be completed" after a silent reconnect;
    // 51 busy, 52 unavailable: the DC is shutting down or overloaded.
    return (e.code === 1 && /bind must be completed|000004DC/i.test(e.message)) || e.code === 51 || e.code === 52;
  }
  const msg = e instanceof Error ? e.message : '';
  return /socket|connection closed|connection timeout|ECONNRESET|EPIPE|not established/i.test(msg);
}

/**
 * Any failure of an AD call as the port's typed errors: 32 NotFound, 50 Forbidden (naming
 * the right to delegate), 51/52 Throttled, 68 Conflict; anything else a
 * {@link DirectoryError} that says what failed. Messages never contain a credential.
 */
export function toDirectoryError(e: unknown, op: AdOperation): DirectoryError {
  if (e instanceof DirectoryError) return e;
  const code = ldapCode(e);
  const message = ldapMessage(e);
  if (code === undefined) {
    if (/timeout|timed out/i.test(message)) return new DirectoryError(`Active Directory did not answer in time to ${op.what}`);
    return new DirectoryError(`Could not reach Active Directory to ${op.what}: ${message}`);
  }
  switch (code) {
    case 32:
      return new NotFoundError(`Not found in Active Directory while trying to ${op.what}: ${message}`);
    case 50:
      return new ForbiddenError(
        `Active Directory refused to ${op.what}: the service account needs ${op.right} on the OU of this object ` +
          '(accounts protected by AdminSDHolder, adminCount=1, keep their own permissions and cannot be delegated). ' +
          'npm run doctor shows what it may do.',
        op.right,
      );
    case 51:
    case 52:
      return new ThrottledError(`Active Directory is busy or unavailable and could not ${op.what}; try again shortly`);
    case 3:
      return new DirectoryError(`Active Directory took too long to ${op.what}`);
    case 68:
      return new ConflictError(`Active Directory could not ${op.what}: ${message}`);
    case 8:
    case 13:
      return new RejectedError(`Active Directory requires a stronger (signed or encrypted) connection to ${op.what}: ${message}`);
    default:
      return new RejectedError(`Active Directory could not ${op.what} (LDAP result ${code}): ${message}`);
  }
}
