/**
 * Header helpers shared by the policy language and the HTTP layer. They live in src/pipeline
 * because policies may not import src/http; src/http/headers.ts re-exports them.
 *
 * All helpers take lower-case header names: HeaderMap keys are lower-case by contract
 * (node:http and undici hand them over that way), so no helper lower-cases a name per call.
 */
import type { HeaderMap, HeaderValue } from './context.ts';

// CR, LF and NUL end or split a header line; refusing them closes header injection (house rule).
const FORBIDDEN_HEADER_CHARS = /[\r\n\0]/;

/** True when `value` holds CR, LF or NUL, which must never reach a header line. */
export function hasForbiddenHeaderChars(value: string): boolean {
  return FORBIDDEN_HEADER_CHARS.test(value);
}

/** True when any value of a header (string or list) holds CR, LF or NUL. */
export function headerValueHasForbiddenChars(value: HeaderValue): boolean {
  if (typeof value === 'string') return FORBIDDEN_HEADER_CHARS.test(value);
  for (const v of value) if (FORBIDDEN_HEADER_CHARS.test(v)) return true;
  return false;
}

/** The first value of a header, or undefined when absent. `lowerName` must be lower-case. */
export function getHeader(headers: HeaderMap, lowerName: string): string | undefined {
  const value = headers[lowerName];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value[0];
}

/** All values of a header joined with ', ' (the list form of RFC 9110 §5.3), or undefined. */
export function getHeaderJoined(headers: HeaderMap, lowerName: string): string | undefined {
  const value = headers[lowerName];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(', ');
}

/** Replaces a header. `lowerName` must be lower-case; the caller checks values from input. */
export function setHeader(headers: HeaderMap, lowerName: string, value: HeaderValue): void {
  headers[lowerName] = value;
}

/** Adds a value after any existing ones (a second field line, as set-header exists-action="append"). */
export function appendHeader(headers: HeaderMap, lowerName: string, value: string): void {
  const existing = headers[lowerName];
  if (existing === undefined) headers[lowerName] = value;
  else if (typeof existing === 'string') headers[lowerName] = [existing, value];
  else existing.push(value);
}

/** Removes a header; returns whether it was present. */
export function deleteHeader(headers: HeaderMap, lowerName: string): boolean {
  if (headers[lowerName] === undefined) return false;
  delete headers[lowerName];
  return true;
}

/**
 * True when a comma-separated header list (one string or several field lines) contains `lowerToken`,
 * compared case-insensitively with optional whitespace around elements (RFC 9110 §5.6.1).
 * `lowerToken` must already be lower-case.
 */
export function headerHasToken(value: HeaderValue | undefined, lowerToken: string): boolean {
  if (value === undefined) return false;
  if (typeof value === 'string') return listHasToken(value, lowerToken);
  for (const v of value) if (listHasToken(v, lowerToken)) return true;
  return false;
}

function listHasToken(list: string, lowerToken: string): boolean {
  let start = 0;
  const n = list.length;
  while (start <= n) {
    let end = list.indexOf(',', start);
    if (end === -1) end = n;
    let a = start;
    let b = end;
    while (a < b && isOws(list.charCodeAt(a))) a++;
    while (b > a && isOws(list.charCodeAt(b - 1))) b--;
    if (b - a === lowerToken.length && equalsIgnoreAsciiCase(list, a, lowerToken)) return true;
    start = end + 1;
  }
  return false;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Compares list[a .. a+token.length) with an already lower-case token, ASCII case-insensitively. */
function equalsIgnoreAsciiCase(list: string, a: number, lowerToken: string): boolean {
  for (let i = 0; i < lowerToken.length; i++) {
    let c = list.charCodeAt(a + i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lowerToken.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Adds `token` (one token or a comma list, e.g. 'Origin' or 'Origin, Accept') to the Vary header
 * without duplicates: tokens already present in any case are kept as they are, new ones are
 * appended in the given spelling, several field lines are merged into one, and `Vary: *` is left
 * alone (it already varies on everything, RFC 9110 §12.5.5).
 */
export function appendVary(headers: HeaderMap, token: string): void {
  const existing = headers['vary'];
  // Hot path (cors on a response without Vary): its only caller passes precomputed, well-formed tokens.
  if (existing === undefined) {
    headers['vary'] = token;
    return;
  }
  let merged = typeof existing === 'string' ? existing : existing.join(', ');
  if (headerHasToken(merged, '*')) {
    if (typeof existing !== 'string') headers['vary'] = merged;
    return;
  }
  let changed = typeof existing !== 'string';
  for (const raw of token.split(',')) {
    const t = raw.trim();
    if (t === '') continue;
    if (t === '*') {
      // '*' replaces any list: nothing can be added to it and every other token is implied.
      headers['vary'] = '*';
      return;
    }
    if (headerHasToken(merged, t.toLowerCase())) continue;
    merged = merged.trim() === '' ? t : `${merged}, ${t}`;
    changed = true;
  }
  if (changed) headers['vary'] = merged;
}
