/** What a header name or value may contain; checked once at load, so requests never carry a bad header. */

// RFC 9110 §5.1: a field name is a token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §5.5 field-vchar / SP / HTAB / obs-text: what node:http and undici accept in a value.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const LINE_BREAK_OR_NUL = /[\r\n\0]/;

/** True when `name` is a valid header field name (an RFC 9110 token). */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/** True when `value` is an RFC 9110 token (media type parts, header names). */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/**
 * Why `value` cannot be sent as a header value, or null when it can. CR, LF and NUL would split
 * or end the header line (header injection); other control characters and characters above
 * U+00FF make node:http throw when the response is written.
 */
export function headerValueProblem(value: string): string | null {
  if (LINE_BREAK_OR_NUL.test(value)) return 'contains CR, LF or NUL, which would split the header line';
  if (!FIELD_VALUE.test(value)) return 'contains a control character or a character above U+00FF, which HTTP header values cannot carry';
  return null;
}
