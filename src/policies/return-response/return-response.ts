import { ALL_SCOPES, definePolicy, type ParseContext, type PolicyElement } from '../../policy/define-policy.ts';
import { getAttribute } from '../../policy/element.ts';
import type { HeaderMap } from '../../pipeline/context.ts';
import { attributeValueAt, enumAttribute } from '../shared/attributes.ts';
import { createHandler } from '../shared/handler.ts';
import { replaceResponse } from '../shared/response.ts';
import { compileHeaderAction, parseSetHeader, type SetHeaderConfig } from '../set-header/set-header.ts';
import { parseSetStatus } from '../set-status/set-status.ts';

export interface ReturnResponseConfig {
  readonly status: number;
  /** undefined → the standard reason phrase. */
  readonly reason: string | undefined;
  readonly headers: readonly SetHeaderConfig[];
  /** Literal body text (trimmed); null → no body. */
  readonly body: string | null;
}

const CHILDREN = ['set-status', 'set-header', 'set-body'];

/** Reads `<set-body>` inside return-response: literal text only (no expressions, no Liquid). */
function parseBody(element: PolicyElement, ctx: ParseContext): string | undefined {
  ctx.checkAttributes(element, ['template', 'xsi-nil']);
  let ok = true;
  const template = ctx.literalAttribute(element, 'template');
  if (template !== undefined) {
    ok = false;
    const liquid = template.toLowerCase() === 'liquid';
    ctx.report(
      liquid ? 'GH_POLICY_ATTR_UNSUPPORTED' : 'GH_POLICY_ATTR_INVALID',
      attributeValueAt(element, 'template'),
      liquid ? `<set-body template="liquid">: Liquid templates are not supported yet (and APIM gives them an empty input inside return-response)` : `<set-body template="${template}">: the only template APIM knows is "liquid"`,
    );
  }
  enumAttribute(element, 'xsi-nil', ctx, ['blank', 'null'], 'blank');
  for (const child of element.children) {
    ctx.report('GH_POLICY_CHILD_INVALID', child, `<set-body>: markup such as <${child.name}> inside the body is not supported; wrap the body in <![CDATA[ … ]]>`);
    ok = false;
  }
  const text = ctx.literalText(element);
  return ok ? text : undefined;
}

/**
 * `return-response`: stops the pipeline and answers with the response built from its children
 * (default `200 OK`, no headers, no body). Everything is known at load, so the response parts
 * are built once; each request gets its own copy of the header map.
 *
 * @example
 * ```xml
 * <return-response>
 *   <set-status code="401" reason="Unauthorized" />
 *   <set-header name="WWW-Authenticate" exists-action="override">
 *     <value>Bearer error="invalid_token"</value>
 *   </set-header>
 *   <set-body>{"error":"invalid_token"}</set-body>
 * </return-response>
 * ```
 */
export const returnResponsePolicy = definePolicy<ReturnResponseConfig>({
  name: 'return-response',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  scopes: ALL_SCOPES,
  parse(element, ctx) {
    ctx.checkAttributes(element, ['response-variable-name']);
    let ok = true;
    if (getAttribute(element, 'response-variable-name') !== undefined) {
      ctx.report('GH_POLICY_ATTR_UNSUPPORTED', attributeValueAt(element, 'response-variable-name'), `<return-response response-variable-name>: responses held in variables (send-request) are not supported yet`);
      ok = false;
    }
    if (element.textLocation !== undefined) {
      ctx.report('GH_POLICY_TEXT_UNEXPECTED', element.textLocation, `<return-response> takes no text; the text is ignored`, 'warning');
    }
    let status = 200;
    let reason: string | undefined;
    let body: string | null = null;
    const headers: SetHeaderConfig[] = [];
    const seen = new Set<string>();
    for (const child of element.children) {
      if (!CHILDREN.includes(child.name)) {
        ctx.report('GH_POLICY_CHILD_INVALID', child, `<${child.name}> is not allowed inside <return-response>; it takes <set-status>, <set-header> and <set-body>`);
        ok = false;
        continue;
      }
      if (child.name !== 'set-header') {
        if (seen.has(child.name)) {
          ctx.report('GH_POLICY_CHILD_INVALID', child, `<return-response> takes one <${child.name}>`);
          ok = false;
          continue;
        }
        seen.add(child.name);
      }
      if (child.name === 'set-status') {
        const parsed = parseSetStatus(child, ctx);
        if (parsed === undefined) {
          ok = false;
        } else {
          status = parsed.code;
          reason = parsed.reason;
        }
      } else if (child.name === 'set-header') {
        // The same parse as a standalone <set-header>; an ignored (protected) header is left out.
        const parsed = parseSetHeader(child, ctx);
        if (parsed !== undefined) headers.push({ ...parsed, target: 'response' });
      } else {
        const text = parseBody(child, ctx);
        if (text === undefined) ok = false;
        else body = text;
      }
    }
    return ok ? { status, reason, headers, body } : undefined;
  },
  compile(config, _env, statement) {
    // The new response starts empty, so the set-header changes give the same map every time:
    // apply them once here.
    const template: HeaderMap = {};
    for (const header of config.headers) compileHeaderAction(header)(template);
    const entries = Object.entries(template);
    const { status, reason, body } = config;
    return createHandler(statement, (ctx) => {
      // A fresh map (and fresh lists) per request: later steps such as CORS decorate it in place.
      const headers: HeaderMap = {};
      for (let i = 0; i < entries.length; i++) {
        const [name, value] = entries[i]!;
        headers[name] = Array.isArray(value) ? value.slice() : value;
      }
      // In outbound (or backend, after forward-request) this replaces the backend's response.
      replaceResponse(ctx, { status, statusText: reason, headers, body });
      return 'respond';
    });
  },
});
