/**
 * `<cors>` XML → CorsConfig. Reports every problem with its position and keeps going, so an
 * author sees them all at once. Rules and their sources: docs/cors.md and apim-semantics.md §1.1–§1.4.
 */
import type { ErrorCode } from '../../errors.ts';
import type { Locatable, Severity } from '../../policy/diagnostics.ts';
import type { ParseContext } from '../../policy/define-policy.ts';
import { getAttribute, isExpression, type PolicyElement } from '../../policy/element.ts';
import type { CorsConfig } from './compiled.ts';
import { APIM_ORIGIN_MESSAGE, isToken, parseConfiguredOrigin } from './origin.ts';

const CHILDREN = ['allowed-origins', 'allowed-methods', 'allowed-headers', 'expose-headers'] as const;
type ChildName = (typeof CHILDREN)[number];

/** APIM's default when `<allowed-methods>` is absent: "GET and POST are supported". */
const DEFAULT_METHODS: readonly string[] = Object.freeze(['GET', 'POST']);
/** Largest accepted preflight-result-max-age: a signed 32-bit int, like APIM's (.NET) attribute. */
const MAX_AGE_LIMIT = 2_147_483_647;

export function parseCors(element: PolicyElement, ctx: ParseContext): CorsConfig | undefined {
  let errors = 0;
  const report = (code: ErrorCode, at: Locatable, message: string, severity: Severity = 'error'): void => {
    if (severity === 'error') errors++;
    ctx.report(code, at, message, severity);
  };
  const literalAttribute = (el: PolicyElement, name: string): string | undefined => {
    const attribute = getAttribute(el, name);
    const value = ctx.literalAttribute(el, name);
    if (attribute !== undefined && value === undefined) errors++; // an expression, already reported
    return value;
  };

  ctx.checkAttributes(element, ['allow-credentials', 'terminate-unmatched-request']);
  const allowCredentials = parseBoolean(element, 'allow-credentials', literalAttribute, report) ?? false;
  const terminate = parseBoolean(element, 'terminate-unmatched-request', literalAttribute, report);
  checkNoText(element, report);

  // Children in any order: the docs ask for the documented order, but Microsoft's own policy
  // toolkit writes <allowed-headers> before <allowed-methods> (apim-semantics.md §1.1).
  const found = new Map<ChildName, PolicyElement>();
  for (const child of element.children) {
    if (!(CHILDREN as readonly string[]).includes(child.name)) {
      report('GH_POLICY_CHILD_INVALID', child, `<cors> has no child <${child.name}>; expected ${CHILDREN.map((c) => `<${c}>`).join(', ')}`);
      continue;
    }
    const name = child.name as ChildName;
    if (found.has(name)) {
      report('GH_POLICY_CHILD_INVALID', child, `<${name}> appears more than once in <cors>`);
      continue;
    }
    found.set(name, child);
  }

  // ── allowed-origins (required) ──
  let origins: '*' | string[] = [];
  const originsEl = found.get('allowed-origins');
  if (originsEl === undefined) {
    report('GH_POLICY_CHILD_REQUIRED', element, '<cors> needs <allowed-origins> with at least one <origin>');
  } else {
    origins = parseOrigins(originsEl, ctx, report, allowCredentials);
  }

  // ── allowed-methods (optional; default GET, POST) ──
  let methods: '*' | readonly string[] = DEFAULT_METHODS;
  let maxAge: number | undefined;
  const methodsEl = found.get('allowed-methods');
  if (methodsEl !== undefined) {
    ctx.checkAttributes(methodsEl, ['preflight-result-max-age']);
    maxAge = parseMaxAge(methodsEl, literalAttribute, report);
    methods = parseNameList(methodsEl, 'method', ctx, report, {
      read: (el) => {
        const value = ctx.literalText(el);
        if (value === undefined) errors++; // an expression, already reported
        return value;
      },
      code: 'GH_CORS_METHOD_INVALID',
      what: 'an HTTP method',
      wildcard: 'collapse',
      normalise: (m) => m.toUpperCase(),
    });
  }

  // ── allowed-headers (required by the docs since 2022; real files omit it) ──
  let headers: '*' | readonly string[] | undefined;
  const headersEl = found.get('allowed-headers');
  if (headersEl === undefined) {
    report(
      'GH_CORS_ALLOWED_HEADERS_MISSING',
      element,
      '<cors> has no <allowed-headers> (APIM documents it as required): preflights that ask for any request header (Content-Type: application/json, Authorization …) will not match; add <allowed-headers> to allow them',
      'warning',
    );
  } else {
    ctx.checkAttributes(headersEl, []);
    headers = parseNameList(headersEl, 'header', ctx, report, { read: rawText, code: 'GH_CORS_HEADER_INVALID', what: 'a header name', wildcard: 'collapse' });
  }

  // ── expose-headers (optional) ──
  let exposeHeaders: readonly string[] = [];
  const exposeEl = found.get('expose-headers');
  if (exposeEl !== undefined) {
    ctx.checkAttributes(exposeEl, []);
    // `*` is kept as written: without credentials it exposes every header; with credentials Fetch
    // reads it as the literal name "*", yet other names beside it still work.
    const list = parseNameList(exposeEl, 'header', ctx, report, { read: rawText, code: 'GH_CORS_HEADER_INVALID', what: 'a header name', wildcard: 'keep' });
    exposeHeaders = list === '*' ? ['*'] : list;
    if (allowCredentials && exposeHeaders.includes('*')) {
      const star = exposeEl.children.find((c) => rawText(c) === '*') ?? exposeEl;
      report(
        'GH_CORS_WILDCARD_CREDENTIALS',
        star.textLocation ?? star,
        '<expose-headers> has * while allow-credentials="true": browsers then read * as a header literally named "*" and expose no other header; list the header names to expose',
        'warning',
      );
    }
  }

  if (errors > 0) return undefined;
  return Object.freeze({
    allowCredentials,
    terminateUnmatchedRequest: terminate ?? 'unset',
    origins: origins === '*' ? '*' : Object.freeze(origins),
    methods: methods === '*' ? '*' : Object.freeze([...methods]),
    methodsDefaulted: methodsEl === undefined,
    maxAge,
    headers: headers === undefined || headers === '*' ? headers : Object.freeze([...headers]),
    exposeHeaders: Object.freeze([...exposeHeaders]),
  });
}

type Report = (code: ErrorCode, at: Locatable, message: string, severity?: Severity) => void;

function parseBoolean(element: PolicyElement, name: string, literal: (el: PolicyElement, n: string) => string | undefined, report: Report): boolean | undefined {
  const value = literal(element, name);
  if (value === undefined) return undefined;
  // .NET's bool.Parse, which APIM uses, ignores case ("True" works).
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  const attribute = getAttribute(element, name);
  report('GH_POLICY_ATTR_INVALID', attribute?.valueLocation ?? element, `<cors ${name}="${value}">: expected true or false`);
  return undefined;
}

function parseMaxAge(element: PolicyElement, literal: (el: PolicyElement, n: string) => string | undefined, report: Report): number | undefined {
  const value = literal(element, 'preflight-result-max-age');
  if (value === undefined) return undefined;
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_AGE_LIMIT) {
    const attribute = getAttribute(element, 'preflight-result-max-age');
    report('GH_CORS_MAX_AGE_INVALID', attribute?.valueLocation ?? element, `preflight-result-max-age="${value}": expected a whole number of seconds from 0 to ${MAX_AGE_LIMIT}`);
    return undefined;
  }
  return n;
}

function parseOrigins(listEl: PolicyElement, ctx: ParseContext, report: Report, allowCredentials: boolean): '*' | string[] {
  ctx.checkAttributes(listEl, []);
  checkNoText(listEl, report);
  const out: string[] = [];
  let star: PolicyElement | undefined;
  let count = 0;
  for (const child of listEl.children) {
    if (child.name !== 'origin') {
      report('GH_POLICY_CHILD_INVALID', child, `<allowed-origins> may only contain <origin>, not <${child.name}>`);
      continue;
    }
    count++;
    checkLeaf(child, ctx, report);
    const raw = rawText(child);
    const at = child.textLocation ?? child;
    if (raw === '*') {
      star ??= child;
      continue;
    }
    const parsed = parseConfiguredOrigin(raw);
    if (!parsed.ok) {
      report('GH_CORS_ORIGIN_INVALID', at, `${APIM_ORIGIN_MESSAGE}: ${JSON.stringify(raw)}: ${parsed.problem}`);
      continue;
    }
    if (!out.includes(parsed.origin)) out.push(parsed.origin);
  }
  if (count === 0) {
    report('GH_CORS_LIST_EMPTY', listEl, '<allowed-origins> needs at least one <origin> (a URI, or a single * for any origin)');
    return out;
  }
  if (star === undefined) return out;
  if (count > 1) {
    report('GH_CORS_WILDCARD_MIXED', star.textLocation ?? star, '<origin>*</origin> must be the only <origin> in <allowed-origins> (APIM: "either a single origin element that specifies * … or one or more origin elements that contain a URI")');
    return out;
  }
  if (allowCredentials) {
    report(
      'GH_CORS_WILDCARD_CREDENTIALS',
      star.textLocation ?? star,
      '<origin>*</origin> with allow-credentials="true": browsers refuse Access-Control-Allow-Origin: * on credentialed requests, so gatehouse echoes the request Origin instead — which lets every site send credentialed requests; list the allowed origins',
      'warning',
    );
  }
  return '*';
}

interface NameListOptions {
  /** Reads a leaf's trimmed text; undefined when it was an expression (already reported). */
  readonly read: (el: PolicyElement) => string | undefined;
  readonly code: ErrorCode;
  readonly what: string;
  /** 'collapse': `*` anywhere means "all" (others warned as redundant); 'keep': `*` is one entry. */
  readonly wildcard: 'collapse' | 'keep';
  readonly normalise?: (value: string) => string;
}

/** `<allowed-methods>`, `<allowed-headers>`, `<expose-headers>`: a list of `<method>`/`<header>` tokens. */
function parseNameList(listEl: PolicyElement, childName: 'method' | 'header', ctx: ParseContext, report: Report, options: NameListOptions): '*' | string[] {
  checkNoText(listEl, report);
  const out: string[] = [];
  const seen = new Set<string>();
  let star: PolicyElement | undefined;
  let count = 0;
  for (const child of listEl.children) {
    if (child.name !== childName) {
      report('GH_POLICY_CHILD_INVALID', child, `<${listEl.name}> may only contain <${childName}>, not <${child.name}>`);
      continue;
    }
    count++;
    checkLeaf(child, ctx, report);
    const value = options.read(child);
    if (value === undefined) continue;
    const at = child.textLocation ?? child;
    if (value === '*' && options.wildcard === 'collapse') {
      star ??= child;
      continue;
    }
    if (value === '' || (value !== '*' && !isToken(value))) {
      const hint = isExpression(value) ? ` (APIM does not allow policy expressions in <${childName}>)` : '';
      report(options.code, at, `<${childName}>${value}</${childName}> is not ${options.what}${value === '' ? ' (it is empty)' : hint}`);
      continue;
    }
    const normalised = options.normalise ? options.normalise(value) : value;
    const key = normalised.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(normalised);
  }
  if (count === 0) {
    report('GH_CORS_LIST_EMPTY', listEl, `<${listEl.name}> needs at least one <${childName}> (APIM requires one when the element is present)`);
    return out;
  }
  if (star === undefined) return out;
  if (count > 1) {
    report('GH_CORS_WILDCARD_MIXED', star.textLocation ?? star, `<${listEl.name}> has * together with other <${childName}> entries; * already allows every ${childName}, the others are redundant`, 'warning');
  }
  return '*';
}

/** Raw trimmed text of `<origin>`/`<header>`, where APIM allows no expressions. */
function rawText(el: PolicyElement): string {
  return el.text.trim();
}

function checkNoText(el: PolicyElement, report: Report): void {
  if (el.text.trim() !== '') report('GH_POLICY_TEXT_UNEXPECTED', el.textLocation ?? el, `<${el.name}> may contain only elements, not text`);
}

function checkLeaf(el: PolicyElement, ctx: ParseContext, report: Report): void {
  ctx.checkAttributes(el, []);
  for (const child of el.children) report('GH_POLICY_CHILD_INVALID', child, `<${el.name}> may contain only text, not <${child.name}>`);
}
