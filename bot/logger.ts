import pino, { type Logger } from 'pino';
import { redactForLog, redactText } from './log-redaction';

export type { Logger };

/**
 * Structured JSON logs. Every logged object, the child loggers' bindings and the message
 * text pass through {@link redactForLog}: values under keys that name a secret (a password,
 * a Temporary Access Pass, a token, an `Authorization` header, a cookie, an API key) are
 * replaced at any depth, and bearer tokens and JWTs are cut out of text. A second line of
 * defence: code never logs a secret on purpose, but an SDK's error object may carry the
 * request it failed on, headers included.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'iam-helpdesk' },
      formatters: {
        log: (object) => redactForLog(object) as Record<string, unknown>,
        bindings: (bindings) => redactForLog(bindings) as pino.Bindings,
      },
      // The formatter above has already serialised (and redacted) errors; pino's own `err`
      // serialiser would take that plain object for an error of type "Object".
      serializers: { err: (e: unknown) => e, msg: (m: unknown) => redactForLog(m) },
      // Child loggers' bindings skip the formatters: the written line itself loses any bearer token or JWT.
      hooks: { streamWrite: (line: string) => redactText(line, Number.POSITIVE_INFINITY) },
    },
    destination,
  );
}
