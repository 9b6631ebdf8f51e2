/**
 * Origin and token syntax for the cors policy: one strict reading shared by the configuration
 * (`<origin>` at load) and the request (`Origin` at request time), so both sides normalise alike.
 *
 * APIM's rule (apim-semantics.md §1.3/§1.4): an origin is `*` or "a URI that specifies a single
 * origin … scheme, host, and port", default ports 80/443, and anything else fails with
 * "Origin must be a valid URL consisting of scheme, host, and port only". Its own examples end in
 * `/`, so a path of exactly `/` is accepted. Normalisation follows the WHATWG URL parser, which is
 * also how browsers serialise the `Origin` header (lower-case scheme and host, punycode, no default
 * port), so a normalised configured origin equals what a browser sends.
 */

/** APIM's message for a bad `<origin>`, verbatim (Azure/api-management-developer-portal#2690). */
export const APIM_ORIGIN_MESSAGE = 'Origin must be a valid URL consisting of scheme, host, and port only';

export type OriginParse = { readonly ok: true; readonly origin: string } | { readonly ok: false; readonly problem: string };

// scheme "://" authority, then at most one "/". Anything after that is a path, query or fragment.
const SHAPE_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(\/?)([\s\S]*)$/;
// What may stand in an authority before URL parsing: a bracketed IPv6 literal or a registered name
// (non-ASCII allowed: IDN), optionally a port. No userinfo (@), wildcard (*), percent-escapes or
// template braces: the URL parser would otherwise decode or accept them.
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const AUTHORITY_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[^\u0000-\u0020\u007f%*{}@:[\]\\<>|^"`]+)(?::[0-9]*)?$/;
// After normalisation the host must be what a browser can put in an Origin header.
const HOST_RE = /^(?:\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?)$/;
// A serialised origin as browsers send it (RFC 6454 §6.2): scheme://host[:port], ASCII only, no
// path, not even "/". Matching is case-insensitive; the exact spelling is only ever echoed as sent.
const REQUEST_ORIGIN_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?$/;
/** Longest request Origin considered at all; browsers send far less. Bounds the slow path. */
const MAX_ORIGIN_LENGTH = 2048;

/**
 * Normalises a configured `<origin>` URI (already trimmed, not `*`) to `scheme://host[:port]`,
 * or explains why APIM would reject it.
 */
export function parseConfiguredOrigin(raw: string): OriginParse {
  if (raw === '') return { ok: false, problem: 'the origin is empty' };
  if (/^["']/.test(raw)) return { ok: false, problem: 'remove the quotation marks (APIM: "Do not include quotation marks")' };
  if (raw.includes('{{')) return { ok: false, problem: 'it still holds a {{named value}} reference that was not substituted' };
  if (raw.startsWith('@(') || raw.startsWith('@{')) return { ok: false, problem: 'APIM does not allow policy expressions in <origin>' };
  const shape = SHAPE_RE.exec(raw);
  if (shape === null) return { ok: false, problem: 'it is not an absolute URL of the form scheme://host[:port]' };
  const authority = shape[2] ?? '';
  const rest = shape[4] ?? '';
  if (rest !== '') {
    return { ok: false, problem: `it has a path, query or fragment ('${shape[3]}${truncate(rest)}'); only a trailing '/' is accepted` };
  }
  if (authority.includes('*')) return { ok: false, problem: 'wildcard hosts such as https://*.example.com are not supported by APIM; list each origin' };
  if (authority.includes('@')) return { ok: false, problem: 'it has user information (user@host)' };
  if (authority === '') return { ok: false, problem: 'it has no host' };
  if (!AUTHORITY_RE.test(authority)) return { ok: false, problem: `'${truncate(authority)}' is not a valid host[:port]` };
  return normalise(shape[1] ?? '', authority);
}

/**
 * The normalised form of a request `Origin` value, or undefined when it is not one serialised
 * origin (null, empty, several values, control characters, paths, over-long …). Used only on the
 * slow path, after an exact Set lookup missed; the caller echoes the value as sent, never this.
 */
export function normaliseRequestOrigin(value: string): string | undefined {
  if (!isSerialisedOrigin(value)) return undefined;
  const parsed = normalise(value.slice(0, value.indexOf(':')), value.slice(value.indexOf('//') + 2));
  return parsed.ok ? parsed.origin : undefined;
}

/**
 * True when a request Origin value is one serialised origin and so safe to echo: ASCII
 * scheme://host[:port] only (no CR/LF, spaces, commas, paths), bounded. Regex only: this runs per
 * request for `*` with credentials, where no URL object should be built.
 */
export function isSerialisedOrigin(value: string): boolean {
  return value.length <= MAX_ORIGIN_LENGTH && REQUEST_ORIGIN_RE.test(value);
}

function normalise(scheme: string, authority: string): OriginParse {
  let url: URL;
  try {
    url = new URL(`${scheme}://${authority}`);
  } catch {
    return { ok: false, problem: `'${truncate(authority)}' is not a valid host[:port]` };
  }
  // Special schemes (http, https …) are already lower-cased and punycoded by the URL parser;
  // other schemes (capacitor://, chrome-extension://) keep an opaque host, so lower-case it here.
  const host = url.hostname.toLowerCase();
  if (!HOST_RE.test(host)) return { ok: false, problem: `'${truncate(url.hostname)}' is not a valid host name` };
  const protocol = url.protocol.toLowerCase(); // 'https:'
  return { ok: true, origin: `${protocol}//${host}${url.port === '' ? '' : `:${url.port}`}` };
}

// RFC 9110 token: the syntax of method and header field names.
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** True when `value` is an HTTP token (a valid method or header name). */
export function isToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

function truncate(value: string): string {
  return value.length > 60 ? `${value.slice(0, 57)}…` : value;
}
