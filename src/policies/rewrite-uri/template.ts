/**
 * rewrite-uri templates (`/v2/items/{id}?expand={expand}&fmt=json`) compiled once into literal
 * text and parameter slots, so a request only concatenates strings.
 */
import { encodeUriComponentSafe, queryKey } from '../shared/query.ts';

export type TemplatePart = string | { readonly param: string; readonly wildcard: boolean };

export interface QueryTemplateItem {
  readonly parts: readonly TemplatePart[];
  /** The decoded, lower-case key when it is literal text; null when the key holds a parameter. */
  readonly key: string | null;
}

export interface RewriteTemplate {
  readonly path: readonly TemplatePart[];
  readonly query: readonly QueryTemplateItem[];
  /** Literal query keys of the template (lower-case): copied request parameters never duplicate them. */
  readonly queryKeys: ReadonlySet<string>;
}

const PARAM_NAME = /^[A-Za-z0-9_\-.$]+$/;
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
// Characters a URL may carry raw (RFC 3986 unreserved, sub-delims, ':', '@', '/', '?', and '%'
// so authors' own escapes stay as written); anything else in literal text is percent-encoded.
const NOT_URL_SAFE = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]+/g;

/** Compiles a template; a string result says what is wrong with it. */
export function compileRewriteTemplate(source: string): RewriteTemplate | string {
  if (ABSOLUTE.test(source)) return 'an absolute URL is not a rewrite template; change the backend with set-backend-service';
  if (source.includes('#')) return `'#' is not allowed in a URL template`;
  const q = source.indexOf('?');
  let pathText = q === -1 ? source : source.slice(0, q);
  if (!pathText.startsWith('/')) pathText = `/${pathText}`;
  const path = parseParts(pathText, true);
  if (typeof path === 'string') return path;
  const query: QueryTemplateItem[] = [];
  const queryKeys = new Set<string>();
  for (const item of q === -1 ? [] : source.slice(q + 1).split('&')) {
    if (item === '') continue;
    const parts = parseParts(item, false);
    if (typeof parts === 'string') return parts;
    const eq = item.indexOf('=');
    const rawKey = eq === -1 ? item : item.slice(0, eq);
    const key = rawKey.includes('{') ? null : queryKey(rawKey);
    if (key !== null) queryKeys.add(key);
    query.push({ parts, key });
  }
  return { path, query, queryKeys };
}

function parseParts(text: string, inPath: boolean): TemplatePart[] | string {
  const parts: TemplatePart[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{', i);
    const close = text.indexOf('}', i);
    if (close !== -1 && (open === -1 || close < open)) return `unbalanced '}' in '${text}'`;
    if (open === -1) {
      parts.push(encodeLiteral(text.slice(i)));
      break;
    }
    if (open > i) parts.push(encodeLiteral(text.slice(i, open)));
    if (close === -1) return `unclosed '{' in '${text}'`;
    let name = text.slice(open + 1, close);
    const wildcard = name.startsWith('*');
    if (wildcard) name = name.slice(1);
    if (!PARAM_NAME.test(name)) return `'{${text.slice(open + 1, close)}}' is not a valid parameter`;
    if (wildcard && !inPath) return `the wildcard '{*${name}}' can only be used in the path`;
    parts.push({ param: name, wildcard });
    i = close + 1;
  }
  return parts;
}

function encodeLiteral(text: string): string {
  return text.replace(NOT_URL_SAFE, encodeUriComponentSafe);
}

function encodeValue(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return encodeUriComponentSafe(value);
  }
}

/** A parameter's value, or undefined; never a prototype property ('constructor', 'toString'). */
function valueOf(params: Readonly<Record<string, string>>, name: string): string | undefined {
  const v = params[name];
  return typeof v === 'string' ? v : undefined;
}

/** The path with parameters percent-encoded; a missing parameter expands to ''. */
export function expandPath(parts: readonly TemplatePart[], params: Readonly<Record<string, string>>): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = valueOf(params, part.param) ?? '';
    // A wildcard value keeps its '/' separators; each segment is encoded on its own.
    out += part.wildcard ? value.split('/').map(encodeValue).join('/') : encodeValue(value);
  }
  return out;
}

/** One query item, or undefined when it names a parameter the request did not capture (the item is left out). */
export function expandQueryItem(item: QueryTemplateItem, params: Readonly<Record<string, string>>): string | undefined {
  let out = '';
  for (const part of item.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = valueOf(params, part.param);
    if (value === undefined) return undefined;
    out += encodeValue(value);
  }
  return out;
}
