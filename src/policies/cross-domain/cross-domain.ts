/**
 * `<cross-domain>`: serves an Adobe cross-domain policy file (Flash, Silverlight, Acrobat) at
 * `GET /crossdomain.xml` on the gateway host (apim-semantics.md §3). Inbound, global scope only.
 *
 * @example
 * ```xml
 * <cross-domain>
 *   <cross-domain-policy>
 *     <allow-http-request-headers-from domain="*" headers="*" />
 *   </cross-domain-policy>
 * </cross-domain>
 * ```
 * The inner `<cross-domain-policy>` is validated against the Adobe Cross Domain Policy File
 * Specification v2.0 (its DTD: `site-control?, allow-access-from*,
 * allow-http-request-headers-from*, allow-access-from-identity*`) and serialised once, at load.
 * APIM does not document the URL or the response; the decisions are in docs/cross-domain.md.
 */
import { isIP } from 'node:net';
import { definePolicy, type ParseContext, type PolicyElement } from '../../policy/define-policy.ts';
import { getAttribute } from '../../policy/element.ts';
import type { GatewayResponse } from '../../pipeline/context.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';

/** Where Flash and Acrobat look for the master policy file. */
export const CROSS_DOMAIN_PATH = '/crossdomain.xml';
/** The Adobe specification's content type; `by-content-type` meta-policies require exactly this. */
export const CROSS_DOMAIN_CONTENT_TYPE = 'text/x-cross-domain-policy';

export type MetaPolicy = 'none' | 'master-only' | 'by-content-type' | 'by-ftp-filename' | 'all';
const META_POLICIES: readonly MetaPolicy[] = ['none', 'master-only', 'by-content-type', 'by-ftp-filename', 'all'];

export interface AllowAccessFrom {
  readonly domain: string;
  readonly toPorts?: string | undefined;
  readonly secure?: boolean | undefined;
}

export interface AllowHttpRequestHeadersFrom {
  readonly domain: string;
  readonly headers: string;
  readonly secure?: boolean | undefined;
}

export interface AllowAccessFromIdentity {
  readonly fingerprint: string;
  readonly fingerprintAlgorithm: 'sha-1';
}

/** The validated `<cross-domain-policy>`, in the specification's element order. */
export interface CrossDomainConfig {
  readonly siteControl: MetaPolicy | undefined;
  readonly allowAccessFrom: readonly AllowAccessFrom[];
  readonly allowHttpRequestHeadersFrom: readonly AllowHttpRequestHeadersFrom[];
  readonly allowAccessFromIdentity: readonly AllowAccessFromIdentity[];
}

/** The policy file, serialised at load. */
export interface CrossDomainDocument {
  /** `<?xml version="1.0"?>` + the policy; ASCII only. */
  readonly xml: string;
  readonly body: Uint8Array;
  /** A fresh response for `GET` (body) or `HEAD` (headers only); callers may change it. */
  response(method: 'GET' | 'HEAD'): GatewayResponse;
}

/** The compiled handler: a PolicyHandler that also carries the document for the gateway. */
export interface CrossDomainHandler extends PolicyHandler {
  readonly crossDomain: CrossDomainDocument;
}

export function isCrossDomainHandler(handler: PolicyHandler): handler is CrossDomainHandler {
  return (handler as Partial<CrossDomainHandler>).crossDomain !== undefined;
}

/**
 * Answers `GET`/`HEAD /crossdomain.xml`, or null for any other request.
 * Built by {@link crossDomainResponder}; the gateway calls it before API routing.
 */
export type CrossDomainResponder = (method: string, path: string) => GatewayResponse | null;

/**
 * The responder for the global inbound section's handlers, or null when it has no
 * `<cross-domain>` (then the gateway skips the check entirely). With several `<cross-domain>`
 * policies, the first in document order serves the file.
 */
export function crossDomainResponder(globalInbound: readonly PolicyHandler[]): CrossDomainResponder | null {
  const handler = globalInbound.find(isCrossDomainHandler);
  if (handler === undefined) return null;
  const document = handler.crossDomain;
  return (method, path) => {
    // Exact match on the raw path: Flash requests exactly this; the query is ignored.
    if (path !== CROSS_DOMAIN_PATH || (method !== 'GET' && method !== 'HEAD')) return null;
    return document.response(method);
  };
}

export const crossDomainPolicy = definePolicy<CrossDomainConfig>({
  name: 'cross-domain',
  sections: ['inbound'],
  // APIM allows it only at global scope (MicrosoftDocs/azure-docs#88173); the registry reports
  // any other scope as GH_POLICY_SCOPE_NOT_ALLOWED with the element's position.
  scopes: ['global'],
  parse: parseCrossDomain,
  compile(config, _env, statement): CrossDomainHandler {
    const document = buildDocument(config);
    return {
      name: 'cross-domain',
      location: statement.element.location,
      scope: statement.scope,
      policyId: getAttribute(statement.element, 'id')?.value,
      crossDomain: document,
      run(ctx) {
        // The gateway answers /crossdomain.xml before routing (crossDomainResponder). This covers
        // a request that still reaches the pipeline with that path, e.g. an API at the root.
        const request = ctx.request;
        if (request.path !== CROSS_DOMAIN_PATH || (request.method !== 'GET' && request.method !== 'HEAD')) return;
        ctx.response = document.response(request.method);
        return 'respond';
      },
    };
  },
});

// ── Serialising ─────────────────────────────────────────────────────────────────────────────

/** Serialises the config in the DTD's order, attributes in a fixed order, values escaped. */
export function serializeCrossDomainPolicy(config: CrossDomainConfig): string {
  const lines = ['<?xml version="1.0"?>', '<cross-domain-policy>'];
  if (config.siteControl !== undefined) lines.push(`  <site-control permitted-cross-domain-policies="${config.siteControl}"/>`);
  for (const a of config.allowAccessFrom) {
    lines.push(`  <allow-access-from${attr('domain', a.domain)}${attr('to-ports', a.toPorts)}${attr('secure', a.secure)}/>`);
  }
  for (const h of config.allowHttpRequestHeadersFrom) {
    lines.push(`  <allow-http-request-headers-from${attr('domain', h.domain)}${attr('headers', h.headers)}${attr('secure', h.secure)}/>`);
  }
  for (const i of config.allowAccessFromIdentity) {
    lines.push('  <allow-access-from-identity>', '    <signatory>');
    lines.push(`      <certificate${attr('fingerprint', i.fingerprint)}${attr('fingerprint-algorithm', i.fingerprintAlgorithm)}/>`);
    lines.push('    </signatory>', '  </allow-access-from-identity>');
  }
  lines.push('</cross-domain-policy>', '');
  return lines.join('\n');
}

function attr(name: string, value: string | boolean | undefined): string {
  return value === undefined ? '' : ` ${name}="${escapeXml(String(value))}"`;
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for a double-quoted XML attribute. Validation already limits values; this is the second wall. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

function buildDocument(config: CrossDomainConfig): CrossDomainDocument {
  const xml = serializeCrossDomainPolicy(config);
  const body = Buffer.from(xml, 'utf8');
  const length = String(body.length);
  return {
    xml,
    body,
    response(method) {
      return {
        status: 200,
        headers: { 'content-type': CROSS_DOMAIN_CONTENT_TYPE, 'content-length': length, 'x-content-type-options': 'nosniff' },
        body: method === 'HEAD' ? null : body,
      };
    },
  };
}

// ── Parsing and validating against the Adobe specification ─────────────────────────────────

function parseCrossDomain(element: PolicyElement, ctx: ParseContext): CrossDomainConfig | undefined {
  ctx.checkAttributes(element, []);
  let ok = noText(element, ctx);
  let policy: PolicyElement | undefined;
  for (const child of element.children) {
    if (child.name !== 'cross-domain-policy') {
      const hint = child.name === 'cross-domain' ? ' (the 2017 documentation nested <cross-domain> twice; the inner element is <cross-domain-policy>)' : '';
      ctx.report('GH_POLICY_CHILD_INVALID', child, `<cross-domain> holds one <cross-domain-policy> element, not <${child.name}>${hint}`);
      ok = false;
    } else if (policy !== undefined) {
      ctx.report('GH_POLICY_CHILD_INVALID', child, '<cross-domain> holds exactly one <cross-domain-policy>; this is a second one');
      ok = false;
    } else {
      policy = child;
    }
  }
  if (policy === undefined) {
    if (ok) ctx.report('GH_POLICY_CHILD_REQUIRED', element, '<cross-domain> needs a <cross-domain-policy> element (Adobe cross-domain policy file format)');
    return undefined;
  }
  const config = parsePolicyFile(policy, ctx);
  return ok ? config : undefined;
}

/** Attributes of the root that schema-aware authors add; accepted and not served. */
const ROOT_SCHEMA_ATTRIBUTES = ['xmlns:xsi', 'xsi:noNamespaceSchemaLocation'];

function parsePolicyFile(policy: PolicyElement, ctx: ParseContext): CrossDomainConfig | undefined {
  let ok = noText(policy, ctx);
  checkSpecAttributes(policy, ROOT_SCHEMA_ATTRIBUTES, ctx);
  let siteControl: MetaPolicy | undefined;
  let siteControlSeen = false;
  const allowAccessFrom: AllowAccessFrom[] = [];
  const allowHttpRequestHeadersFrom: AllowHttpRequestHeadersFrom[] = [];
  const allowAccessFromIdentity: AllowAccessFromIdentity[] = [];
  for (const child of policy.children) {
    switch (child.name) {
      case 'site-control': {
        if (siteControlSeen) {
          ctx.report('GH_POLICY_CHILD_INVALID', child, '<site-control> may appear only once in a policy file');
          ok = false;
          break;
        }
        siteControlSeen = true;
        const value = parseSiteControl(child, ctx);
        if (value === undefined) ok = false;
        else siteControl = value;
        break;
      }
      case 'allow-access-from': {
        const value = parseAllowAccessFrom(child, ctx);
        if (value === undefined) ok = false;
        else allowAccessFrom.push(value);
        break;
      }
      case 'allow-http-request-headers-from': {
        const value = parseAllowHeadersFrom(child, ctx);
        if (value === undefined) ok = false;
        else allowHttpRequestHeadersFrom.push(value);
        break;
      }
      case 'allow-access-from-identity': {
        const value = parseIdentity(child, ctx);
        if (value === undefined) ok = false;
        else allowAccessFromIdentity.push(value);
        break;
      }
      default:
        ctx.report(
          'GH_POLICY_CHILD_INVALID',
          child,
          `<${child.name}> is not part of the Adobe cross-domain policy file specification; <cross-domain-policy> may contain site-control, allow-access-from, allow-http-request-headers-from and allow-access-from-identity`,
        );
        ok = false;
    }
  }
  return ok ? { siteControl, allowAccessFrom, allowHttpRequestHeadersFrom, allowAccessFromIdentity } : undefined;
}

function parseSiteControl(element: PolicyElement, ctx: ParseContext): MetaPolicy | undefined {
  const ok = emptyElement(element, ctx, ['permitted-cross-domain-policies']);
  const value = ctx.literalAttribute(element, 'permitted-cross-domain-policies', { required: true });
  if (value === undefined) return undefined;
  if (!(META_POLICIES as readonly string[]).includes(value)) {
    invalid(element, 'permitted-cross-domain-policies', ctx, `expected one of ${META_POLICIES.join(', ')}`);
    return undefined;
  }
  return ok ? (value as MetaPolicy) : undefined;
}

function parseAllowAccessFrom(element: PolicyElement, ctx: ParseContext): AllowAccessFrom | undefined {
  let ok = emptyElement(element, ctx, ['domain', 'to-ports', 'secure']);
  const domain = parseDomain(element, ctx);
  const toPorts = ctx.literalAttribute(element, 'to-ports');
  if (toPorts !== undefined && !isValidPortList(toPorts)) {
    invalid(element, 'to-ports', ctx, 'expected "*" or a comma-separated list of ports (1-65535) and ranges such as 507,516-523');
    ok = false;
  }
  const secure = parseSecure(element, ctx);
  if (!ok || domain === undefined || secure === null) return undefined;
  return { domain, toPorts, secure };
}

function parseAllowHeadersFrom(element: PolicyElement, ctx: ParseContext): AllowHttpRequestHeadersFrom | undefined {
  let ok = emptyElement(element, ctx, ['domain', 'headers', 'secure']);
  const domain = parseDomain(element, ctx);
  const headers = ctx.literalAttribute(element, 'headers', { required: true });
  if (headers !== undefined && !isValidHeaderList(headers)) {
    invalid(element, 'headers', ctx, 'expected "*" or a comma-separated list of header names, each optionally ending in * (e.g. SOAPAction, X-Foo-*)');
    ok = false;
  }
  const secure = parseSecure(element, ctx);
  if (!ok || domain === undefined || headers === undefined || secure === null) return undefined;
  return { domain, headers, secure };
}

function parseIdentity(element: PolicyElement, ctx: ParseContext): AllowAccessFromIdentity | undefined {
  let ok = noText(element, ctx);
  checkSpecAttributes(element, [], ctx);
  const signatory = onlyChild(element, 'signatory', ctx);
  if (signatory === undefined) return undefined;
  ok = noText(signatory, ctx) && ok;
  checkSpecAttributes(signatory, [], ctx);
  const certificate = onlyChild(signatory, 'certificate', ctx);
  if (certificate === undefined) return undefined;
  ok = emptyElement(certificate, ctx, ['fingerprint', 'fingerprint-algorithm']) && ok;
  const fingerprint = ctx.literalAttribute(certificate, 'fingerprint', { required: true });
  const algorithm = ctx.literalAttribute(certificate, 'fingerprint-algorithm', { required: true });
  if (fingerprint !== undefined && !/^[0-9A-Fa-f]{2}(?:[: ]?[0-9A-Fa-f]{2}){19}$/.test(fingerprint)) {
    invalid(certificate, 'fingerprint', ctx, 'expected a SHA-1 fingerprint: 20 hex bytes, optionally separated by colons or spaces');
    ok = false;
  }
  if (algorithm !== undefined && algorithm !== 'sha-1') {
    invalid(certificate, 'fingerprint-algorithm', ctx, 'the specification defines only "sha-1"');
    ok = false;
  }
  if (!ok || fingerprint === undefined || algorithm !== 'sha-1') return undefined;
  return { fingerprint, fingerprintAlgorithm: 'sha-1' };
}

/** Exactly one child named `name`; anything else is reported. */
function onlyChild(element: PolicyElement, name: string, ctx: ParseContext): PolicyElement | undefined {
  let found: PolicyElement | undefined;
  let ok = true;
  for (const child of element.children) {
    if (child.name === name && found === undefined) found = child;
    else {
      ctx.report('GH_POLICY_CHILD_INVALID', child, `<${element.name}> holds exactly one <${name}>, not <${child.name}>${child.name === name ? ' twice' : ''}`);
      ok = false;
    }
  }
  if (found === undefined) {
    ctx.report('GH_POLICY_CHILD_REQUIRED', element, `<${element.name}> needs a <${name}> element`);
    return undefined;
  }
  return ok ? found : undefined;
}

// A host name (labels of letters, digits, '-' and '_'), optionally after a '*.' wildcard.
const HOST_RE = /^(?:\*\.)?[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/**
 * `domain`: `*`, an exact host, a `*.suffix` wildcard, or an IP address (no wildcards in IPs,
 * no scheme, no port, no path — the specification's rules).
 */
function parseDomain(element: PolicyElement, ctx: ParseContext): string | undefined {
  const domain = ctx.literalAttribute(element, 'domain', { required: true });
  if (domain === undefined) return undefined;
  if (domain === '*' || isIP(domain) !== 0 || (domain.length <= 253 && HOST_RE.test(domain) && !/^\*\.\d+(?:\.\d+){0,3}$/.test(domain))) return domain;
  invalid(element, 'domain', ctx, 'expected "*", a host name, a "*.example.com" wildcard or an IP address (no scheme, port or path)');
  return undefined;
}

/** `secure`: "true" or "false"; undefined when absent, null (reported) when invalid. */
function parseSecure(element: PolicyElement, ctx: ParseContext): boolean | undefined | null {
  const value = ctx.literalAttribute(element, 'secure');
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  invalid(element, 'secure', ctx, 'expected "true" or "false"');
  return null;
}

function isValidPortList(value: string): boolean {
  if (value === '*') return true;
  return value.split(',').every((item) => {
    const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(item);
    if (m === null) return false;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    return from >= 1 && to <= 65535 && from <= to;
  });
}

// RFC 9110 token characters, with an optional trailing '*' wildcard.
const HEADER_ITEM_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function isValidHeaderList(value: string): boolean {
  if (value === '*') return true;
  return value.split(',').every((item) => {
    const name = item.trim();
    if (name === '' || !HEADER_ITEM_RE.test(name)) return false;
    const star = name.indexOf('*');
    return star === -1 || star === name.length - 1;
  });
}

function emptyElement(element: PolicyElement, ctx: ParseContext, attributes: readonly string[]): boolean {
  checkSpecAttributes(element, attributes, ctx);
  let ok = noText(element, ctx);
  for (const child of element.children) {
    ctx.report('GH_POLICY_CHILD_INVALID', child, `<${element.name}> is an empty element in the Adobe specification; <${child.name}> is not allowed in it`);
    ok = false;
  }
  return ok;
}

/** Stray text: a warning (the house rule); it is not served. Always true: it never fails the parse. */
function noText(element: PolicyElement, ctx: ParseContext): boolean {
  if (element.text.trim() !== '') {
    ctx.report('GH_POLICY_TEXT_UNEXPECTED', element.textLocation ?? element, `<${element.name}> holds only elements, not text; the text is ignored and not served`, 'warning');
  }
  return true;
}

/**
 * Unknown attributes inside the policy file: a warning with position, and they are not served.
 * (ParseContext.checkAttributes would also accept `id`, which the Adobe format does not have.)
 */
function checkSpecAttributes(element: PolicyElement, known: readonly string[], ctx: ParseContext): void {
  for (const attribute of element.attributes) {
    if (known.includes(attribute.name)) continue;
    ctx.report('GH_POLICY_ATTR_UNKNOWN', attribute, `<${element.name}> has no attribute '${attribute.name}' in the Adobe cross-domain policy file specification; it is not served`, 'warning');
  }
}

function invalid(element: PolicyElement, name: string, ctx: ParseContext, expected: string): void {
  const attribute = getAttribute(element, name);
  const shown = attribute === undefined ? '' : attribute.value.trim().replace(/\s+/g, ' ').slice(0, 60);
  ctx.report('GH_POLICY_ATTR_INVALID', attribute?.valueLocation ?? element.location, `<${element.name} ${name}="${shown}">: ${expected}`);
}
