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

/**
 * A named value inside text: a JSON member (`"newPassword":"..."`, also as escaped inside
 * another JSON string, as an HTTP client's error keeps a request or response body), a form or
 * query parameter (`client_secret=...`, `?access_token=...`) or a `name: value` pair.
 */
const NAMED_VALUE_IN_TEXT = /(\\?")([A-Za-z][\w.-]{0,63})\\?"\s*:\s*(?=\\?")|\b([A-Za-z][\w.-]{0,63})(\s*=\s*|:[ \t]+)(?=\S)/g;
/** A JSON string value (plain, or escaped inside another string), or a bare value up to a separator. */
const JSON_VALUE = /"(?:[^"\\]|\\.)*"/y;
const ESCAPED_JSON_VALUE = /\\"(?:[^"\\]|\\\\\\"|\\\\\\\\|\\[^"\\])*\\"/y;
const BARE_VALUE = /[^\s&,;"'}]+/y;
const AUTH_SCHEME = /(?:Bearer|Basic)[ \t]+/iy;

/** `text` with every value whose name names a secret replaced by {@link REDACTED} (its quotes kept). */
function redactNamedValues(text: string): string {
  let out = '';
  let from = 0;
  NAMED_VALUE_IN_TEXT.lastIndex = 0;
  for (let m = NAMED_VALUE_IN_TEXT.exec(text); m; m = NAMED_VALUE_IN_TEXT.exec(text)) {
    const name = m[2] ?? m[3]!;
    // A name that is no secret: its value is read on as text (it may hold `password=...` itself).
    if (!isSecretKey(name)) continue;
    // `Authorization: Bearer <credential>`: the scheme is kept, the credential cut.
    AUTH_SCHEME.lastIndex = m.index + m[0].length;
    const valueAt = m.index + m[0].length + (AUTH_SCHEME.exec(text)?.[0].length ?? 0);
    const pattern = text.startsWith('\\"', valueAt) ? ESCAPED_JSON_VALUE : text.startsWith('"', valueAt) ? JSON_VALUE : BARE_VALUE;
    pattern.lastIndex = valueAt;
    const value = pattern.exec(text)?.[0];
    if (!value || value.includes(REDACTED)) continue;
    const quote = pattern === ESCAPED_JSON_VALUE ? '\\"' : pattern === JSON_VALUE ? '"' : '';
    out += `${text.slice(from, valueAt)}${quote}${REDACTED}${quote}`;
    from = valueAt + value.length;
    NAMED_VALUE_IN_TEXT.lastIndex = from;
  }
  return out + text.slice(from);
}

/** `text` with bearer credentials, JWTs and values named as secrets replaced, cut to a bounded length. */
export function redactText(text: string, max = MAX_STRING): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return redactNamedValues(cut.replace(SECRET_IN_TEXT, (m) => (/^(bearer|basic)\s/i.test(m) ? `${m.split(/\s+/)[0]} ${REDACTED}` : REDACTED)));
}
