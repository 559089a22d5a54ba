import { GraphError } from '@microsoft/microsoft-graph-client';
import {
  ConflictError,
  DirectoryError,
  ForbiddenError,
  NotFoundError,
  NotSentError,
  RejectedError,
  ThrottledError,
} from '../directory';

/** What a Graph call does and what the app needs for it, for error messages. */
export interface GraphOperation {
  /** Verb phrase: "read the user", "reset the password". */
  what: string;
  /** Least-privileged application permission for it. */
  permission: string;
  /** Entra role the app also needs, when one is required. */
  role?: string;
}

/** The HTTP status of a Graph failure, or undefined when there was no answer. */
export function graphStatus(e: unknown): number | undefined {
  return e instanceof GraphError && e.statusCode > 0 ? e.statusCode : undefined;
}

/** Graph's own error message (its `error.message`), or the error's text. */
export function graphMessage(e: unknown): string {
  if (e instanceof GraphError) return e.message || e.code || `HTTP ${e.statusCode}`;
  return e instanceof Error ? e.message : String(e);
}

/** The `request-id` Graph gave the failed request: what Microsoft support asks for. */
export function graphRequestId(e: unknown): string | undefined {
  if (!(e instanceof GraphError)) return undefined;
  return e.requestId ?? e.headers?.get('request-id') ?? undefined;
}

/** Seconds from a `Retry-After` header (seconds or an HTTP date), when there is one. */
export function retryAfterSeconds(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, n);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * The permission a 403 names. Several Graph workloads say which permission would have
 * allowed the call ("... API requires one of 'A, B'. Roles on the request '...'"); the
 * first listed is the least privileged. Directory calls only say "Insufficient privileges".
 */
export function permissionNamedIn(message: string): string | undefined {
  const m = /requires one of '([^']+)'/i.exec(message);
  return m?.[1]?.split(',')[0]?.trim() || undefined;
}

/**
 * Turns any failure of a Graph call into the port's typed errors, keeping Graph's request id.
 * 404 NotFound, 403 Forbidden (naming the missing permission), 429 Throttled (after the
 * retry middleware gave up), 409 Conflict; anything else a plain {@link DirectoryError}
 * with a message a technician can act on.
 */
export function toDirectoryError(e: unknown, op: GraphOperation): DirectoryError {
  if (e instanceof DirectoryError) return e;
  const requestId = graphRequestId(e);
  const ref = requestId ? ` (Graph request id ${requestId})` : '';
  const status = graphStatus(e);
  const message = graphMessage(e);
  if (status === undefined) {
    const code = e instanceof GraphError ? e.code : e instanceof Error ? e.name : undefined;
    // No token: the request was never sent.
    if (code === 'GraphTokenError') return new NotSentError(message);
    if (code === 'TransportTimeoutError') return new DirectoryError(`Microsoft Graph did not answer in time to ${op.what}: ${message}`);
    return new DirectoryError(`Could not reach Microsoft Graph to ${op.what}: ${message}`);
  }
  const needs = `${op.permission}${op.role ? ` and the ${op.role} role` : ''}`;
  switch (status) {
    case 404:
      return new NotFoundError(`Not found while trying to ${op.what}: ${message}${ref}`, requestId);
    case 403: {
      const named = permissionNamedIn(message);
      return new ForbiddenError(
        named
          ? `Microsoft Graph refused to ${op.what}: the app lacks the application permission ${named}${ref}.`
          : `Microsoft Graph refused to ${op.what} (${message}). This needs ${needs}; npm run doctor shows what the app has${ref}.`,
        named,
        requestId,
      );
    }
    case 429: {
      const after = retryAfterSeconds(e instanceof GraphError ? e.headers?.get('retry-after') : undefined);
      return new ThrottledError(
        `Microsoft Graph is throttling requests; could not ${op.what}${after !== undefined ? `, try again in ${after} s` : ''}${ref}.`,
        after,
        requestId,
      );
    }
    case 409:
      return new ConflictError(`Microsoft Graph could not ${op.what}: ${message}${ref}`, requestId);
    case 401:
      return new NotSentError(`Microsoft Graph did not accept the app's token to ${op.what} (${message})${ref}`, requestId);
    default:
      if (status >= 500) {
        return new DirectoryError(`Microsoft Graph could not ${op.what} right now (HTTP ${status}); try again later${ref}`, requestId);
      }
      return new RejectedError(`Microsoft Graph rejected the request to ${op.what}: ${message}${ref}`, requestId);
  }
}
