/**
 * Raw query strings as lists of items. Items a policy does not touch are kept byte for byte
 * (never re-encoded through URLSearchParams, which would turn `%20` into `+` and `/` into `%2F`
 * and break backends that sign or compare URLs). Keys compare ASCII case-insensitively after
 * percent-decoding, as the router's template matching does (src/routing/template.ts).
 */

/** One `key=value` (or bare `key`) item of a raw query string, as received. */
export interface QueryItem {
  readonly raw: string;
  /** The decoded key, lower-case. */
  readonly key: string;
}

/** Splits a raw query (no '?') into items, dropping empty ones (`a=1&&b=2`). */
export function splitQuery(query: string): QueryItem[] {
  const items: QueryItem[] = [];
  if (query === '') return items;
  let start = 0;
  const n = query.length;
  while (start <= n) {
    let end = query.indexOf('&', start);
    if (end === -1) end = n;
    if (end > start) {
      const raw = query.slice(start, end);
      const eq = raw.indexOf('=');
      items.push({ raw, key: queryKey(eq === -1 ? raw : raw.slice(0, eq)) });
    }
    start = end + 1;
  }
  return items;
}

/** A raw key decoded ('+' is a space) and lower-cased; malformed escapes are kept as written. */
export function queryKey(rawKey: string): string {
  const plus = rawKey.includes('+') ? rawKey.replace(/\+/g, ' ') : rawKey;
  if (!plus.includes('%')) return plus.toLowerCase();
  try {
    return decodeURIComponent(plus).toLowerCase();
  } catch {
    return plus.toLowerCase();
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Percent-encodes configured text for a URL (space as %20). A lone surrogate, which
 * encodeURIComponent refuses with a URIError, becomes U+FFFD. Compile time only.
 */
export function encodeUriComponentSafe(value: string): string {
  return encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD'));
}

/** `key=value` items joined with '&'. */
export function joinQuery(raws: readonly string[]): string {
  return raws.join('&');
}
