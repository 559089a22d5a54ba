import { stdSerializers } from 'pino';
import { isSecretKey, REDACTED } from '../store/secret-keys';

export { REDACTED };

/**
 * Bearer credentials and JWTs inside free text (an error message quoting a header, a URL
 * with a token): replaced wherever a string is logged, since no key names them there.
 */
// A credential after the scheme is long (a word such as "Basic checks" is not one).
const SECRET_IN_TEXT = /\b([Bb]earer|[Bb]asic)\s+[A-Za-z0-9\-._~+/]{12,}=*|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** Limits of the walk: a log line is evidence, not a dump; deeper or larger parts are cut, never thrown on. */
const MAX_DEPTH = 12;
const MAX_KEYS = 200;
const MAX_ITEMS = 200;
const MAX_STRING = 16 * 1024;

/**
 * A copy of `value` fit for a log line: values under secret-naming keys replaced at any
 * depth (arrays included), bearer tokens and JWTs cut out of strings, errors serialised as
 * pino does (`type`, `message`, `stack` and their own fields, themselves redacted), cycles
 * and excess depth or size marked. The caller's object is never changed.
 */
export function redactForLog(value: unknown): unknown {
  return walk(value, 0, new Set());
}

function walk(value: unknown, depth: number, ancestors: Set<object>): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value;
  if (ancestors.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[binary ${(value as ArrayBufferView).byteLength} bytes]`;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const out = value.slice(0, MAX_ITEMS).map((v) => walk(v, depth + 1, ancestors));
      if (value.length > MAX_ITEMS) out.push(`[${value.length - MAX_ITEMS} more]`);
      return out;
    }
    // Errors keep pino's shape; their own fields (an HTTP client's request and its headers) are walked like any object.
    const source = value instanceof Error ? (stdSerializers.err(value) as unknown as Record<string, unknown>) : (value as Record<string, unknown>);
    if (value instanceof Error) ancestors.add(source);
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const key of Object.keys(source)) {
      if (n++ >= MAX_KEYS) {
        out['[more keys]'] = Object.keys(source).length - MAX_KEYS;
        break;
      }
      let v: unknown;
      try {
        v = source[key];
      } catch {
        v = '[unreadable]';
      }
      out[key] = isSecretKey(key) && v !== undefined && v !== null ? REDACTED : walk(v, depth + 1, ancestors);
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

/** `text` with bearer credentials and JWTs replaced, cut to a bounded length. */
export function redactText(text: string, max = MAX_STRING): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(SECRET_IN_TEXT, (m) => (/^(bearer|basic)\s/i.test(m) ? `${m.split(/\s+/)[0]} ${REDACTED}` : REDACTED));
}
