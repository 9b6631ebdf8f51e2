/**
 * `<ip-filter>`: admits or refuses a request by the caller's IP address (apim-semantics.md §6.1).
 *
 * @example
 * ```xml
 * <ip-filter action="allow">
 *   <address>13.66.201.169</address>
 *   <address-range from="13.66.140.128" to="13.66.140.143" />
 * </ip-filter>
 * ```
 * Every address is parsed and every range merged into an {@link IpRangeSet} at load; a request
 * costs one parse of the caller's address and one binary search. See docs/ip-filter.md.
 */
import { definePolicy, type ParseContext, type PolicyElement } from '../../policy/define-policy.ts';
import { getAttribute } from '../../policy/element.ts';
import { PolicyFailure } from '../../pipeline/context.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';
import { IpRangeSet, parseIp, type IpRange, type IpValue } from './ip-set.ts';

export type IpFilterAction = 'allow' | 'forbid';

/** The validated `<ip-filter>`: its action and every address as an inclusive range. */
export interface IpFilterConfig {
  readonly action: IpFilterAction;
  /** `<address>` elements become one-address ranges; order as written. */
  readonly ranges: readonly IpRange[];
}

/** APIM's reasons and messages (apim-semantics.md §4.8). */
export const IP_FILTER_ERRORS = {
  FailedToParseCallerIP: 'Failed to establish IP address for the caller. Access denied.',
  CallerIpNotAllowed: (ip: string) => `Caller IP address ${ip} is not allowed. Access denied.`,
  CallerIpBlocked: 'Caller IP address is blocked. Access denied.',
} as const;

/** Status of every ip-filter refusal (APIM: 403 Forbidden). */
export const IP_FILTER_STATUS = 403;

/**
 * The `message` of the default error body, `{"statusCode":403,"message":"Forbidden"}`: APIM's
 * observed body (docs/ip-filter.md §3). Passed as PolicyFailure.responseMessage, so the caller sees
 * only this while LastError.Message (on-error, logs) keeps the detailed APIM message.
 */
export const IP_FILTER_RESPONSE_MESSAGE = 'Forbidden';

export const ipFilterPolicy = definePolicy<IpFilterConfig>({
  name: 'ip-filter',
  sections: ['inbound'],
  scopes: ['global', 'workspace', 'product', 'api', 'operation'],
  parse: parseIpFilter,
  compile(config, _env, statement): PolicyHandler {
    const set = IpRangeSet.build(config.ranges);
    const allow = config.action === 'allow';
    return {
      name: 'ip-filter',
      location: statement.element.location,
      scope: statement.scope,
      policyId: getAttribute(statement.element, 'id')?.value,
      run(ctx) {
        // Hot path: one validated parse of the caller's address (no allocation for IPv4), one
        // binary search. The caller's address is the HTTP layer's decision (socket peer, or the
        // trusted-proxy rule in caller-ip.ts).
        const address = ctx.request.ipAddress;
        const ip = parseIp(address);
        if (ip === undefined) {
          throw new PolicyFailure('ip-filter', 'FailedToParseCallerIP', IP_FILTER_ERRORS.FailedToParseCallerIP, IP_FILTER_STATUS, undefined, IP_FILTER_RESPONSE_MESSAGE);
        }
        const listed = set.has(ip);
        if (allow && !listed) {
          // `address` passed net.isIP, so it holds only hex digits, '.', ':' and a zone id: safe to echo.
          throw new PolicyFailure('ip-filter', 'CallerIpNotAllowed', IP_FILTER_ERRORS.CallerIpNotAllowed(address), IP_FILTER_STATUS, undefined, IP_FILTER_RESPONSE_MESSAGE);
        }
        if (!allow && listed) {
          throw new PolicyFailure('ip-filter', 'CallerIpBlocked', IP_FILTER_ERRORS.CallerIpBlocked, IP_FILTER_STATUS, undefined, IP_FILTER_RESPONSE_MESSAGE);
        }
      },
    };
  },
});

function parseIpFilter(element: PolicyElement, ctx: ParseContext): IpFilterConfig | undefined {
  let ok = true;
  ctx.checkAttributes(element, ['action']);
  const actionText = ctx.literalAttribute(element, 'action', { required: true });
  let action: IpFilterAction | undefined;
  // Enumerations are read case-insensitively, as .NET parses them (docs/policies.md).
  const actionLower = actionText?.toLowerCase();
  if (actionLower === 'allow' || actionLower === 'forbid') {
    action = actionLower;
  } else if (actionText !== undefined) {
    const attribute = getAttribute(element, 'action');
    ctx.report('GH_POLICY_ATTR_INVALID', attribute?.valueLocation ?? element.location, `<ip-filter action="${abbreviate(actionText)}">: expected "allow" or "forbid"`);
    ok = false;
  } else {
    ok = false;
  }

  // Text is an error here, not the usual warning: an address typed outside <address> would be
  // silently ignored, and a forbid list would then let that caller in.
  if (element.text.trim() !== '') {
    ctx.report('GH_POLICY_TEXT_UNEXPECTED', element.textLocation ?? element, '<ip-filter> holds only <address> and <address-range> elements, not text (an address must be inside <address>)');
    ok = false;
  }

  const ranges: IpRange[] = [];
  let entries = 0;
  for (const child of element.children) {
    if (child.name === 'address') {
      entries++;
      const range = parseAddress(child, ctx);
      if (range === undefined) ok = false;
      else ranges.push(range);
    } else if (child.name === 'address-range') {
      entries++;
      const range = parseAddressRange(child, ctx);
      if (range === undefined) ok = false;
      else ranges.push(range);
    } else {
      ctx.report('GH_POLICY_CHILD_INVALID', child, `<ip-filter> may contain only <address> and <address-range>, not <${child.name}>`);
      ok = false;
    }
  }
  if (entries === 0) {
    ctx.report('GH_POLICY_CHILD_REQUIRED', element, '<ip-filter> needs at least one <address> or <address-range>');
    ok = false;
  }
  return ok && action !== undefined ? { action, ranges } : undefined;
}

function parseAddress(element: PolicyElement, ctx: ParseContext): IpRange | undefined {
  ctx.checkAttributes(element, []);
  if (!noChildren(element, ctx)) return undefined;
  const text = ctx.literalText(element);
  if (text === undefined) return undefined;
  const at = element.textLocation ?? element.location;
  if (text === '') {
    ctx.report('GH_POLICY_CHILD_INVALID', element, '<address> is empty; write one IPv4 or IPv6 address');
    return undefined;
  }
  const ip = parseConfiguredIp(text);
  if (ip === undefined) {
    ctx.report('GH_POLICY_CHILD_INVALID', at, `<address>${abbreviate(text)}</address> is not an IPv4 or IPv6 address${hint(text)}`);
    return undefined;
  }
  return { from: ip, to: ip };
}

function parseAddressRange(element: PolicyElement, ctx: ParseContext): IpRange | undefined {
  ctx.checkAttributes(element, ['from', 'to']);
  let ok = noChildren(element, ctx);
  if (element.text.trim() !== '') {
    ctx.report('GH_POLICY_TEXT_UNEXPECTED', element.textLocation ?? element, '<address-range> takes its addresses in the from and to attributes, not as text');
    ok = false;
  }
  const from = rangeEnd(element, 'from', ctx);
  const to = rangeEnd(element, 'to', ctx);
  if (!ok || from === undefined || to === undefined) return undefined;
  const toAttribute = getAttribute(element, 'to');
  const at = toAttribute?.valueLocation ?? element.location;
  if (typeof from !== typeof to) {
    ctx.report('GH_POLICY_ATTR_INVALID', at, '<address-range>: from and to must be both IPv4 or both IPv6');
    return undefined;
  }
  if (from > to) {
    ctx.report('GH_POLICY_ATTR_INVALID', at, `<address-range>: to (${toAttribute?.value.trim() ?? ''}) is below from (${getAttribute(element, 'from')?.value.trim() ?? ''})`);
    return undefined;
  }
  return { from, to };
}

function rangeEnd(element: PolicyElement, name: 'from' | 'to', ctx: ParseContext): IpValue | undefined {
  const text = ctx.literalAttribute(element, name, { required: true });
  if (text === undefined) return undefined;
  const ip = parseConfiguredIp(text);
  if (ip === undefined) {
    const attribute = getAttribute(element, name);
    ctx.report('GH_POLICY_ATTR_INVALID', attribute?.valueLocation ?? element.location, `<address-range ${name}="${abbreviate(text)}">: not an IPv4 or IPv6 address${hint(text)}`);
  }
  return ip;
}

/** Configured addresses may not carry a zone id: it has no meaning for a filter rule. */
function parseConfiguredIp(text: string): IpValue | undefined {
  return text.includes('%') ? undefined : parseIp(text);
}

function noChildren(element: PolicyElement, ctx: ParseContext): boolean {
  for (const child of element.children) {
    ctx.report('GH_POLICY_CHILD_INVALID', child, `<${element.name}> takes no child elements, found <${child.name}>`);
  }
  return element.children.length === 0;
}

function hint(text: string): string {
  if (text.includes('/')) return '; APIM has no CIDR notation here: write <address-range from="…" to="…"/> instead';
  if (text.includes('%')) return '; remove the zone id (%…)';
  if (text.startsWith('[')) return '; remove the brackets';
  return '';
}

function abbreviate(value: string): string {
  const oneLine = value.replace(/\s+/g, ' ');
  return oneLine.length > 48 ? `${oneLine.slice(0, 45)}…` : oneLine;
}
