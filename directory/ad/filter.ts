import { AndFilter, EqualityFilter, FilterParser, NotFilter, OrFilter, type Filter } from 'ldapts';
/**
 * LDAP search filters (RFC 4515) built from untrusted text. Every value goes through
 * {@link escapeFilterValue}; attribute names are checked against a strict pattern, so no
 * input can add a clause, widen a match or end a filter early.
 */

/**
 * Escapes a value for an LDAP filter: `\`, `*`, `(`, `)` and NUL become `\5c`, `\2a`, `\28`,
 * `\29`, `\00` (RFC 4515, section 3). Other characters, non-ASCII included, stay as they are
 * (the filter travels as UTF-8).
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Escapes raw bytes (an objectGUID, a SID) as `\xx` pairs: how binary values go in a filter. */
export function escapeFilterBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += `\\${b.toString(16).padStart(2, '0')}`;
  return out;
}

const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]*$/;

function attr(name: string): string {
  if (!ATTRIBUTE.test(name)) throw new Error(`Not an LDAP attribute name: ${JSON.stringify(name)}`);
  return name;
}

/** `(name=value)`, the value escaped. */
export function equals(name: string, value: string): string {
  return `(${attr(name)}=${escapeFilterValue(value)})`;
}

/** `(name=<bytes>)` for a binary attribute such as objectGUID. */
export function equalsBytes(name: string, bytes: Uint8Array): string {
  return `(${attr(name)}=${escapeFilterBytes(bytes)})`;
}

/** `(name=value*)`: the attribute starts with `value` (escaped, so `*` in it is literal). */
export function startsWith(name: string, value: string): string {
  return `(${attr(name)}=${escapeFilterValue(value)}*)`;
}

/** `(name=*value*)`: the attribute contains `value`. */
export function contains(name: string, value: string): string {
  return `(${attr(name)}=*${escapeFilterValue(value)}*)`;
}

/** `(name=*)`: the attribute is present. */
export function present(name: string): string {
  return `(${attr(name)}=*)`;
}

/**
 * `(name:1.2.840.113556.1.4.1941:=dn)`: LDAP_MATCHING_RULE_IN_CHAIN, which follows a linked
 * attribute (member, manager) through every level of nesting on the server.
 */
export function inChain(name: string, dn: string): string {
  return `(${attr(name)}:1.2.840.113556.1.4.1941:=${escapeFilterValue(dn)})`;
}

/**
 * `(name:1.2.840.113556.1.4.803:=bits)`: LDAP_MATCHING_RULE_BIT_AND, true when every bit of
 * `bits` is set in the attribute (userAccountControl flags).
 */
export function bitsSet(name: string, bits: number): string {
  if (!Number.isInteger(bits) || bits < 0) throw new Error(`Not a bit mask: ${bits}`);
  return `(${attr(name)}:1.2.840.113556.1.4.803:=${bits})`;
}

/** `(&...)` of the given filters (each already built by this module). */
export function and(...filters: string[]): string {
  return filters.length === 1 ? filters[0]! : `(&${filters.join('')})`;
}

/** `(|...)` of the given filters. */
export function or(...filters: string[]): string {
  return filters.length === 1 ? filters[0]! : `(|${filters.join('')})`;
}

/** `(!filter)`. */
export function not(filter: string): string {
  return `(!${filter})`;
}

/** Attributes whose values are bytes, not text. */
const BINARY = new Set(['objectguid', 'objectsid', 'ms-ds-consistencyguid']);

/**
 * The filter as ldapts sends it. ldapts parses `\xx` escapes into one character each and
 * sends values as UTF-8, which would turn a byte above 0x7f into two: the values of binary
 * attributes (objectGUID, objectSid, ms-DS-ConsistencyGuid) are put back as the exact bytes.
 * Text values are unaffected: {@link escapeFilterValue} escapes only ASCII characters.
 */
export function parseFilter(filter: string): Filter {
  return fixBinary(FilterParser.parseString(filter));
}

function fixBinary(f: Filter): Filter {
  if (f instanceof AndFilter || f instanceof OrFilter) f.filters = f.filters.map(fixBinary);
  else if (f instanceof NotFilter) f.filter = fixBinary(f.filter);
  else if (f instanceof EqualityFilter && BINARY.has(f.attribute.toLowerCase()) && typeof f.value === 'string') {
    f.value = Buffer.from(f.value, 'latin1');
  }
  return f;
}
