import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Fields that could carry a secret are redacted by path as a second
 * line of defence; code never logs a secret on purpose.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'iam-helpdesk' },
      redact: {
        paths: ['password', '*.password', 'secret', '*.secret', 'token', '*.token', 'pass', '*.pass', 'headers.authorization', '*.headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
