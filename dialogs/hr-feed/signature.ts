import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Authentication of the HR webhook: the sender signs the exact bytes of the body with the
 * shared secret (`HR_WEBHOOK_SECRET`) and says when, in one header:
 *
 *     X-HR-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
 *
 * The bot accepts it only when the time is within the replay window of its own clock and
 * the HMAC matches (compared in constant time). A captured request cannot be replayed after
 * the window, cannot be altered (the body is signed) and the secret never travels. Chosen
 * over a bearer secret, which anyone who sees one request can reuse for ever.
 */

export const HR_SIGNATURE_HEADER = 'x-hr-signature';

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: 'missing' | 'malformed' | 'outside-window' | 'mismatch' };

function mac(secret: string, timestamp: number, body: Buffer | string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/** The header value for `body` signed at `timestamp` (unix seconds). */
export function signHrPayload(secret: string, body: Buffer | string, timestamp: number): string {
  return `t=${timestamp},v1=${mac(secret, timestamp, body).toString('hex')}`;
}

/**
 * What can be checked before the body is read: the header is there, well formed, and its time
 * is within the window. `signature` (`<t>.<v1>`, the hex in lower case) is the canonical key of
 * the signed request, the same under any spelling of the header: the replay memory is keyed on it.
 */
export function checkHrSignatureHeader(
  header: string | string[] | undefined,
  now: Date,
  toleranceSeconds: number,
): { ok: true; timestamp: number; v1: string; signature: string } | { ok: false; reason: 'missing' | 'malformed' | 'outside-window' } {
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  if (Array.isArray(header) || header.length > 300) return { ok: false, reason: 'malformed' };
  const fields = new Map<string, string>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed' };
    const key = part.slice(0, eq).trim();
    if (fields.has(key)) return { ok: false, reason: 'malformed' };
    fields.set(key, part.slice(eq + 1).trim());
  }
  const t = fields.get('t');
  const v1 = fields.get('v1');
  if (!t || !/^\d{1,12}$/.test(t) || !v1 || !/^[0-9a-f]{64}$/i.test(v1)) return { ok: false, reason: 'malformed' };
  const timestamp = Number(t);
  if (Math.abs(now.getTime() / 1000 - timestamp) > toleranceSeconds) return { ok: false, reason: 'outside-window' };
  return { ok: true, timestamp, v1: v1.toLowerCase(), signature: `${timestamp}.${v1.toLowerCase()}` };
}

/** When a signed request's time leaves the window (it is refused as stale from then on): until then the same request again is a replay. */
export function signatureExpiry(timestamp: number, toleranceSeconds: number): Date {
  return new Date((timestamp + toleranceSeconds) * 1000);
}

/** Checks a request's signature header against its raw body and the bot's clock. */
export function verifyHrSignature(secret: string, header: string | string[] | undefined, body: Buffer, now: Date, toleranceSeconds: number): SignatureCheck {
  const checked = checkHrSignatureHeader(header, now, toleranceSeconds);
  if (!checked.ok) return checked;
  const { timestamp, v1 } = checked;
  const expected = mac(secret, timestamp, body);
  const given = Buffer.from(v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'mismatch' };
  return { ok: true, timestamp };
}
