/**
 * Header helpers for the HTTP layer (server adapter and backend forwarder). The helpers policies
 * also need live in src/pipeline/headers.ts and are re-exported here, so there is one implementation.
 */
import type { HeaderMap, HeaderValue } from '../pipeline/context.ts';

export {
  appendHeader,
  appendVary,
  deleteHeader,
  getHeader,
  getHeaderJoined,
  hasForbiddenHeaderChars,
  headerHasToken,
  headerValueHasForbiddenChars,
  setHeader,
} from '../pipeline/headers.ts';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1 plus the de-facto Keep-Alive and Proxy-Connection):
 * they describe one connection and are never forwarded. Any `proxy-*` header is treated the same
 * way (see {@link isHopByHop}); headers named in `Connection` are removed too.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** True for a hop-by-hop header name (lower-case): the fixed list or any `proxy-*` name. */
export function isHopByHop(lowerName: string): boolean {
  // Cheap first-character test keeps the common case (content-type, accept …) to one compare.
  const c = lowerName.charCodeAt(0);
  if (c !== 0x63 /* c */ && c !== 0x6b /* k */ && c !== 0x70 /* p */ && c !== 0x74 /* t */ && c !== 0x75 /* u */) return false;
  return HOP_BY_HOP.has(lowerName) || lowerName.startsWith('proxy-');
}

/**
 * The header names listed in a Connection header, lower-case (`Connection: close, X-Foo` → ['close', 'x-foo']).
 * Returns null when there is no Connection header or it is just `keep-alive` (nothing beyond the
 * hop-by-hop list to remove), so callers skip the work in the common case.
 */
export function connectionTokens(value: HeaderValue | undefined): Set<string> | null {
  // `keep-alive` alone (what node and most backends send) names only a header that is hop-by-hop
  // anyway: no Set, no split on every proxied response.
  if (value === undefined || value === 'keep-alive') return null;
  const tokens = new Set<string>();
  const lists = typeof value === 'string' ? [value] : value;
  for (const list of lists) {
    for (const raw of list.split(',')) {
      const t = raw.trim().toLowerCase();
      if (t !== '') tokens.add(t);
    }
  }
  return tokens;
}

/**
 * Removes hop-by-hop headers and the headers the Connection header names, in place.
 * Used on backend responses before they become the gateway's response.
 */
export function stripHopByHop(headers: HeaderMap): void {
  const named = connectionTokens(headers['connection']);
  for (const name in headers) {
    if (isHopByHop(name) || (named !== null && named.has(name))) delete headers[name];
  }
}

// RFC 9110 §5.1 token characters, for header names built from configuration or expressions.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** True when `name` is a valid header field name (an RFC 9110 token). */
export function isValidHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

// What node:http and undici accept in a header value: HTAB, visible ASCII, obs-text.
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * True when `value` can be written as a header value by node:http: no CR/LF/NUL and no other
 * control character (node throws ERR_INVALID_CHAR on those, so the writer checks first).
 */
export function isWritableHeaderValue(value: string): boolean {
  return !INVALID_VALUE_CHAR.test(value);
}
