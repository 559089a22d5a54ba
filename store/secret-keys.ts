/**
 * The one rule for which keys name a secret: the audit trail redacts them in event details
 * before they are stored, and the logger redacts them at any depth before a line is written.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/** Words that mark a key as holding a secret (`newPassword`, `tap_code`, `x-api-key`, `Authorization`). */
const SECRET_WORDS = new Set([
  'authorization',
  'password',
  'passwd',
  'pass',
  'passcode',
  'passphrase',
  'pwd',
  'secret',
  'secrets',
  'token',
  'tokens',
  'credential',
  'credentials',
  'cookie',
  'cookies',
  'otp',
  'totp',
  'tap',
  'pin',
  'assertion',
  'signature',
]);
/** Secrets whose name is written as one word, or several run together. */
const SECRET_JOINED = ['temporaryaccesspass', 'privatekey', 'clientsecret', 'apikey', 'accesstoken', 'refreshtoken', 'idtoken', 'setcookie', 'proxyauthorization', 'sessionkey'];

/** Whether a key names a secret, whatever its casing or separators (`client_secret`, `apiKey`, `Set-Cookie`). */
export function isSecretKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.some((w) => SECRET_WORDS.has(w))) return true;
  const joined = words.join('');
  return SECRET_JOINED.some((s) => joined.includes(s));
}
