/**
 * APIM URL templates (`/users/{id}/orders/{orderId}`, `/search?q={q}`, `/files/{*path}`, `/*`)
 * compiled once into matchers.
 *
 * Matching rules (docs/routing.md has the reasons):
 * - The path part is split on '/'; a trailing '/' is ignored, so `/items/` and `/items` are one template.
 * - A literal segment matches case-insensitively after percent-decoding the request segment.
 * - `{name}` matches one non-empty segment; the captured value is percent-decoded.
 * - A segment mixing text and parameters (`{name}.{ext}`, `v{major}`) matches with a regular
 *   expression compiled here, never per request.
 * - `{*name}` or `*` as the LAST segment matches zero or more remaining segments.
 * - The query part (`?q={q}&page={page}`) never makes a path fail to match; its parameters are
 *   captured from the request query when present, and the router uses their presence only to
 *   choose between templates whose paths are identical.
 */

/** A path segment of a template. */
export type TemplateSegment =
  | { readonly kind: 'literal'; /** Percent-decoded text. */ readonly text: string; readonly lower: string }
  | { readonly kind: 'param'; readonly name: string }
  | {
      readonly kind: 'mixed';
      readonly parts: readonly ({ readonly text: string } | { readonly param: string })[];
      readonly regex: RegExp;
      readonly names: readonly string[];
    }
  | { readonly kind: 'wildcard'; /** null for the anonymous `*`. */ readonly name: string | null };

/** An element of the template's query part: `key={param}` or a literal `key=value` / `key`. */
export interface TemplateQueryItem {
  readonly key: string;
  readonly lowerKey: string;
  /** Parameter name when the value is `{param}`; null for a literal item. */
  readonly param: string | null;
  /** The literal text after '=' (raw), or null for a parameter or a bare key. */
  readonly literal: string | null;
}

/** A compiled URL template. Immutable; build once at load. */
export interface CompiledTemplate {
  /** The template as configured. */
  readonly source: string;
  readonly segments: readonly TemplateSegment[];
  readonly query: readonly TemplateQueryItem[];
  /** Query items that capture a parameter (subset of `query`). */
  readonly queryParams: readonly TemplateQueryItem[];
  /** Every parameter name, path first, in template order. */
  readonly paramNames: readonly string[];
  /** Total length of the literal text in the path part (a precedence tie-breaker). */
  readonly literalLength: number;
  /** True when the last segment is `{*name}` or `*`. */
  readonly hasWildcard: boolean;
  /**
   * A key equal for templates the router cannot tell apart (same path shape and the same set of
   * query parameter keys, parameter names ignored): used to report duplicates at load.
   */
  readonly shapeKey: string;
  /** The path shape alone (no query part): templates sharing it differ only in their query. */
  readonly pathShapeKey: string;
  /**
   * Matches request path segments `segments[start..end)` (raw, still percent-encoded; a trailing
   * empty segment already removed). Returns the captured path parameters, a shared frozen empty
   * object when the template has none, or null when the path does not match. Hot path.
   */
  match(segments: readonly string[], start?: number, end?: number): Record<string, string> | null;
}

export type TemplateResult =
  | { readonly template: CompiledTemplate; readonly error: null }
  | { readonly template: null; readonly error: string };

/** Shared result for templates without path parameters; never mutate it. */
export const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

const PARAM_NAME = /^[A-Za-z0-9_\-.$]+$/;

/**
 * Compiles an APIM URL template. Returns `{ template }` or `{ error }` with a sentence saying what
 * is wrong; never throws for bad input (the caller reports it as a load diagnostic).
 */
export function compileTemplate(source: string): TemplateResult {
  const q = source.indexOf('?');
  let pathPart = q === -1 ? source : source.slice(0, q);
  const queryPart = q === -1 ? '' : source.slice(q + 1);
  if (pathPart.includes('#')) return fail(`'#' is not allowed in a URL template`);
  if (!pathPart.startsWith('/')) pathPart = `/${pathPart}`;
  if (pathPart.length > 1 && pathPart.endsWith('/')) pathPart = pathPart.slice(0, -1);

  const names = new Set<string>();
  const paramNames: string[] = [];
  const addName = (name: string): string | null => {
    if (!PARAM_NAME.test(name) || name === '__proto__') return `'{${name}}' is not a valid parameter name`;
    if (names.has(name)) return `parameter '${name}' appears twice`;
    names.add(name);
    paramNames.push(name);
    return null;
  };

  const segments: TemplateSegment[] = [];
  let literalLength = 0;
  const rawSegments = pathPart === '/' ? [] : pathPart.slice(1).split('/');
  for (let i = 0; i < rawSegments.length; i++) {
    const raw = rawSegments[i] as string;
    const last = i === rawSegments.length - 1;
    if (raw === '*' || (raw.startsWith('{*') && raw.endsWith('}') && raw.indexOf('}') === raw.length - 1)) {
      if (!last) return fail(`the wildcard '${raw}' must be the last segment`);
      const name = raw === '*' ? null : raw.slice(2, -1);
      if (name !== null) {
        const err = addName(name);
        if (err !== null) return fail(err);
      }
      segments.push({ kind: 'wildcard', name });
      continue;
    }
    const parsed = parseSegment(raw);
    if (typeof parsed === 'string') return fail(parsed);
    if (parsed.length === 1 && 'text' in parsed[0]!) {
      const text = safeDecode(parsed[0].text);
      literalLength += text.length;
      segments.push({ kind: 'literal', text, lower: text.toLowerCase() });
    } else if (parsed.length === 0) {
      segments.push({ kind: 'literal', text: '', lower: '' });
    } else if (parsed.length === 1 && 'param' in parsed[0]!) {
      const err = addName(parsed[0].param);
      if (err !== null) return fail(err);
      segments.push({ kind: 'param', name: parsed[0].param });
    } else {
      let pattern = '^';
      const segNames: string[] = [];
      for (const part of parsed) {
        if ('text' in part) {
          const text = safeDecode(part.text);
          literalLength += text.length;
          pattern += escapeRegex(text);
        } else {
          const err = addName(part.param);
          if (err !== null) return fail(err);
          segNames.push(part.param);
          // Lazy, so `{name}.{ext}` on 'a.b.c' gives name 'a' and ext 'b.c' (first separator wins).
          pattern += '(.+?)';
        }
      }
      pattern += '$';
      segments.push({ kind: 'mixed', parts: parsed, regex: new RegExp(pattern, 'is'), names: segNames });
    }
  }

  const query: TemplateQueryItem[] = [];
  if (queryPart !== '') {
    for (const item of queryPart.split('&')) {
      if (item === '') continue;
      const eq = item.indexOf('=');
      const key = safeDecode(eq === -1 ? item : item.slice(0, eq));
      if (key === '') return fail(`the query item '${item}' has no name`);
      if (key.includes('{') || key.includes('}')) return fail(`the query item '${item}' must be written name={parameter}`);
      const value = eq === -1 ? null : item.slice(eq + 1);
      let param: string | null = null;
      let literal: string | null = value;
      if (value !== null && value.startsWith('{') && value.endsWith('}')) {
        param = value.slice(1, -1);
        const err = addName(param);
        if (err !== null) return fail(err);
        literal = null;
      } else if (value !== null && (value.includes('{') || value.includes('}'))) {
        return fail(`the query value '${value}' must be a single {parameter} or literal text`);
      }
      query.push({ key, lowerKey: key.toLowerCase(), param, literal });
    }
  }
  const queryParams = query.filter((item) => item.param !== null);

  const pathShapeKey = segments.map(shapeOf).join('/');
  const shapeKey = `${pathShapeKey}?${queryParams.map((p) => p.lowerKey).sort().join('&')}`;
  const hasWildcard = segments.length > 0 && segments[segments.length - 1]!.kind === 'wildcard';
  const template: CompiledTemplate = {
    source,
    segments,
    query,
    queryParams,
    paramNames,
    literalLength,
    hasWildcard,
    shapeKey,
    pathShapeKey,
    match: buildMatcher(segments, hasWildcard),
  };
  return { template, error: null };
}

function fail(error: string): TemplateResult {
  return { template: null, error };
}

function shapeOf(s: TemplateSegment): string {
  switch (s.kind) {
    case 'literal':
      return `=${s.lower}`;
    case 'param':
      return '{}';
    case 'mixed':
      return s.parts.map((p) => ('text' in p ? p.text.toLowerCase() : '{}')).join('');
    case 'wildcard':
      return '*';
  }
}

/** Splits one template segment into literal text and `{param}` parts; a string is an error. */
function parseSegment(raw: string): ({ text: string } | { param: string })[] | string {
  const parts: ({ text: string } | { param: string })[] = [];
  let i = 0;
  while (i < raw.length) {
    const open = raw.indexOf('{', i);
    const close = raw.indexOf('}', i);
    if (open === -1) {
      if (close !== -1) return `unbalanced '}' in segment '${raw}'`;
      parts.push({ text: raw.slice(i) });
      break;
    }
    if (close !== -1 && close < open) return `unbalanced '}' in segment '${raw}'`;
    if (open > i) parts.push({ text: raw.slice(i, open) });
    const end = raw.indexOf('}', open);
    if (end === -1) return `unclosed '{' in segment '${raw}'`;
    const name = raw.slice(open + 1, end);
    if (name.includes('{')) return `nested '{' in segment '${raw}'`;
    if (name.startsWith('*')) return `the wildcard '{${name}}' must be a whole segment`;
    const prev = parts[parts.length - 1];
    if (prev !== undefined && 'param' in prev) return `two parameters without text between them in segment '${raw}'`;
    parts.push({ param: name });
    i = end + 1;
  }
  return parts;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** decodeURIComponent that keeps the raw text when the escapes are malformed (never throws). */
export function safeDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * True when a raw request segment equals a literal template segment: exact text first (no work),
 * then case-insensitive after percent-decoding. Shared with the router for API suffixes.
 */
export function segmentEqualsLiteral(segment: string, text: string, lower: string): boolean {
  if (segment === text) return true;
  // Without '%', the decoded form has the same length, so a length mismatch is a cheap reject.
  if (!segment.includes('%')) return segment.length === lower.length && segment.toLowerCase() === lower;
  return safeDecode(segment).toLowerCase() === lower;
}

function buildMatcher(segments: readonly TemplateSegment[], hasWildcard: boolean): CompiledTemplate['match'] {
  const fixed = hasWildcard ? segments.length - 1 : segments.length;
  const wildcard = hasWildcard ? (segments[fixed] as Extract<TemplateSegment, { kind: 'wildcard' }>) : null;
  const capturing = segments.some((s) => s.kind !== 'literal' && !(s.kind === 'wildcard' && s.name === null));

  // Hot path: no allocation unless a parameter is captured; regexes were compiled above.
  return function match(reqSegments: readonly string[], start = 0, end = reqSegments.length): Record<string, string> | null {
    const count = end - start;
    if (wildcard === null ? count !== fixed : count < fixed) return null;
    let params: Record<string, string> | null = null;
    for (let i = 0; i < fixed; i++) {
      const seg = reqSegments[start + i] as string;
      const t = segments[i] as TemplateSegment;
      if (t.kind === 'literal') {
        if (!segmentEqualsLiteral(seg, t.text, t.lower)) return null;
      } else if (t.kind === 'param') {
        if (seg === '') return null;
        (params ??= {})[t.name] = safeDecode(seg);
      } else if (t.kind === 'mixed') {
        const m = t.regex.exec(safeDecode(seg));
        if (m === null) return null;
        params ??= {};
        for (let k = 0; k < t.names.length; k++) params[t.names[k] as string] = m[k + 1] as string;
      }
    }
    if (wildcard !== null && wildcard.name !== null) {
      let rest = '';
      for (let i = start + fixed; i < end; i++) rest = i === start + fixed ? (reqSegments[i] as string) : `${rest}/${reqSegments[i] as string}`;
      (params ??= {})[wildcard.name] = safeDecode(rest);
    }
    return capturing ? (params ?? {}) : EMPTY_PARAMS;
  };
}

/**
 * Orders templates for first-match selection: negative when `a` must be tried before `b`.
 * Segment by segment from the left, literal beats mixed beats `{param}` beats wildcard; then the
 * template with more segments wins; then the one with more literal text; then the one with more
 * query parameters (it is tried first and needs them present, see the router).
 */
export function compareTemplates(a: CompiledTemplate, b: CompiledTemplate): number {
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = rank(b.segments[i] as TemplateSegment) - rank(a.segments[i] as TemplateSegment);
    if (d !== 0) return d;
  }
  if (a.segments.length !== b.segments.length) {
    // A trailing wildcard is the least specific thing there is, whatever the count.
    if (a.hasWildcard !== b.hasWildcard) return a.hasWildcard ? 1 : -1;
    return b.segments.length - a.segments.length;
  }
  if (a.literalLength !== b.literalLength) return b.literalLength - a.literalLength;
  return b.queryParams.length - a.queryParams.length;
}

function rank(s: TemplateSegment): number {
  switch (s.kind) {
    case 'literal':
      return 3;
    case 'mixed':
      return 2;
    case 'param':
      return 1;
    case 'wildcard':
      return 0;
  }
}

/**
 * Reads the template's query parameters from a raw query string (no '?') into `params`.
 * Keys compare case-insensitively, values are percent-decoded with '+' as space, the first
 * occurrence wins, and absent parameters are simply not set. Returns how many were found.
 */
export function captureQueryParams(template: CompiledTemplate, query: string, params: Record<string, string>): number {
  const wanted = template.queryParams;
  if (wanted.length === 0 || query === '') return 0;
  let found = 0;
  let start = 0;
  const n = query.length;
  while (start < n) {
    let end = query.indexOf('&', start);
    if (end === -1) end = n;
    const eq = query.indexOf('=', start);
    const keyEnd = eq === -1 || eq > end ? end : eq;
    const key = decodeQueryComponent(query.slice(start, keyEnd)).toLowerCase();
    for (const item of wanted) {
      const name = item.param as string;
      if (item.lowerKey === key && params[name] === undefined) {
        params[name] = keyEnd === end ? '' : decodeQueryComponent(query.slice(keyEnd + 1, end));
        found++;
        break;
      }
    }
    start = end + 1;
  }
  return found;
}

/** True when every query parameter of the template is present in the raw query (keys case-insensitive). */
export function hasAllQueryParams(template: CompiledTemplate, query: string): boolean {
  const wanted = template.queryParams;
  if (wanted.length === 0) return true;
  if (query === '') return false;
  for (const item of wanted) {
    if (!queryHasKey(query, item.lowerKey)) return false;
  }
  return true;
}

/** True when the raw query has a `key` or `key=…` item; `lowerKey` is lower-case. */
export function queryHasKey(query: string, lowerKey: string): boolean {
  return queryValue(query, lowerKey) !== undefined;
}

/**
 * The decoded value of the first `key=value` item in a raw query ('' for a bare `key`), or
 * undefined. Keys compare case-insensitively (`lowerKey` is lower-case); '+' decodes to space.
 */
export function queryValue(query: string, lowerKey: string): string | undefined {
  let start = 0;
  const n = query.length;
  while (start < n) {
    let end = query.indexOf('&', start);
    if (end === -1) end = n;
    const eq = query.indexOf('=', start);
    const keyEnd = eq === -1 || eq > end ? end : eq;
    const rawKey = query.slice(start, keyEnd);
    // Cheap length test before decoding; an encoded key is longer than its decoded form.
    if (rawKey.length >= lowerKey.length && decodeQueryComponent(rawKey).toLowerCase() === lowerKey) {
      return keyEnd === end ? '' : decodeQueryComponent(query.slice(keyEnd + 1, end));
    }
    start = end + 1;
  }
  return undefined;
}

function decodeQueryComponent(value: string): string {
  return safeDecode(value.includes('+') ? value.replace(/\+/g, ' ') : value);
}

/**
 * Builds a URL from a template and parameter values (for rewrite-uri). Path parameters are
 * percent-encoded (a `{*name}` value keeps its '/' separators); a missing path parameter
 * becomes ''. Query items with a parameter are emitted only when the parameter has a value;
 * literal query items are kept as written. Returns path plus '?query' when there is one.
 */
export function expand(template: CompiledTemplate | string, params: Readonly<Record<string, string | undefined>>): string {
  let t: CompiledTemplate;
  if (typeof template === 'string') {
    const r = compileTemplate(template);
    if (r.template === null) throw new TypeError(`invalid URL template '${template}': ${r.error}`);
    t = r.template;
  } else {
    t = template;
  }
  let path = '';
  for (const s of t.segments) {
    path += '/';
    switch (s.kind) {
      case 'literal':
        path += encodeLiteral(s.text);
        break;
      case 'param':
        path += encodeURIComponent(params[s.name] ?? '');
        break;
      case 'mixed':
        for (const p of s.parts) path += 'text' in p ? encodeLiteral(p.text) : encodeURIComponent(params[p.param] ?? '');
        break;
      case 'wildcard':
        if (s.name !== null) path += (params[s.name] ?? '').split('/').map(encodeURIComponent).join('/');
        break;
    }
  }
  if (path === '') path = '/';
  let query = '';
  for (const item of t.query) {
    let piece: string;
    if (item.param !== null) {
      const value = params[item.param];
      if (value === undefined) continue;
      piece = `${encodeURIComponent(item.key)}=${encodeURIComponent(value)}`;
    } else {
      piece = item.literal === null ? encodeURIComponent(item.key) : `${encodeURIComponent(item.key)}=${item.literal}`;
    }
    query = query === '' ? piece : `${query}&${piece}`;
  }
  return query === '' ? path : `${path}?${query}`;
}

// Literal template text is stored decoded; re-encode only what cannot appear raw in a path segment.
function encodeLiteral(text: string): string {
  return encodeURI(text).replace(/[?#/]/g, (c) => encodeURIComponent(c));
}
