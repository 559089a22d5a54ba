/**
 * Building OData query values from untrusted text. Each function returns a value ready to
 * put after `$filter=` or `$search=` in a URL: escaped for its syntax, then percent-encoded.
 * The Graph SDK puts query values into the URL as given, so the encoding happens here.
 */

/** A string literal for `$filter`: single quotes doubled, the whole quoted. Not yet URL-encoded. */
export function filterLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** `$filter` value for `<property> eq '<value>'`, URL-encoded. */
export function filterEquals(property: string, value: string): string {
  assertPropertyName(property);
  return encodeQueryValue(`${property} eq ${filterLiteral(value)}`);
}

/**
 * `$filter` value for `<property> in ('<a>', '<b>', ...)`, URL-encoded. Graph takes at most
 * {@link MAX_IN_VALUES} values in one `in`.
 */
export function filterIn(property: string, values: readonly string[]): string {
  assertPropertyName(property);
  if (values.length === 0 || values.length > MAX_IN_VALUES) throw new Error(`An OData "in" takes 1 to ${MAX_IN_VALUES} values, got ${values.length}`);
  return encodeQueryValue(`${property} in (${values.map(filterLiteral).join(',')})`);
}

/** The most values Graph's directory queries take in one `in` operator. */
export const MAX_IN_VALUES = 15;

/**
 * One `$search` clause, `"<property>:<text>"`, not yet URL-encoded. Inside the double quotes
 * Graph treats `"` and `\` specially: both are escaped with a backslash, so the text stays
 * one clause whatever it contains (quotes, AND/OR, parentheses). Single quotes mean nothing
 * inside a `$search` clause, so they are kept as they are ("O'Brien" is searched as typed).
 */
export function searchClause(property: string, text: string): string {
  assertPropertyName(property);
  return `"${property}:${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A `$search` value: clauses combined by the caller, then URL-encoded. */
export function searchValue(expression: string): string {
  return encodeQueryValue(expression);
}

/**
 * Percent-encodes everything but RFC 3986 unreserved characters. `encodeURIComponent` leaves
 * `'`, `(`, `)`, `!` and `*` as they are; in OData values they are syntax, so they are
 * encoded too.
 */
export function encodeQueryValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Property names come from code, never from input; this keeps it that way. */
function assertPropertyName(property: string): void {
  if (!/^[A-Za-z][A-Za-z0-9/]*$/.test(property)) throw new Error(`Not an OData property name: ${property}`);
}
