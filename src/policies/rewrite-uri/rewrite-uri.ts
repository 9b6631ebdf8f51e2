import { ALL_SCOPES, definePolicy } from '../../policy/define-policy.ts';
import type { RuntimeOperation } from '../../pipeline/context.ts';
import { attributeValueAt, booleanAttribute, checkChildren } from '../shared/attributes.ts';
import { createHandler } from '../shared/handler.ts';
import { splitQuery } from '../shared/query.ts';
import { compileRewriteTemplate, expandPath, expandQueryItem } from './template.ts';

export interface RewriteUriConfig {
  readonly template: string;
  readonly copyUnmatchedParams: boolean;
}

/**
 * The query keys of an operation's URL template (`/get?a={b}` → {'a'}), lower-case. Operations
 * are shared, immutable objects, so each is parsed once and remembered.
 */
const operationQueryKeys = new WeakMap<RuntimeOperation, ReadonlySet<string>>();
const NO_KEYS: ReadonlySet<string> = new Set();

function templateQueryKeys(operation: RuntimeOperation | null): ReadonlySet<string> {
  if (operation === null) return NO_KEYS;
  let keys = operationQueryKeys.get(operation);
  if (keys === undefined) {
    const q = operation.urlTemplate.indexOf('?');
    keys = q === -1 ? NO_KEYS : new Set(splitQuery(operation.urlTemplate.slice(q + 1)).map((item) => item.key));
    operationQueryKeys.set(operation, keys);
  }
  return keys;
}

/**
 * `rewrite-uri`: replaces the path (and query) sent to the backend. `{param}` takes the value the
 * operation's URL template captured (ctx.matchedParameters), percent-encoded. With
 * copy-unmatched-params (default true), query parameters of the request that the operation's
 * template does not capture are kept after the template's own.
 *
 * @example
 * ```xml
 * <!-- operation /get?a={b}, request /get?a=b&c=d → backend /put?c=d -->
 * <rewrite-uri template="/put" />
 * <rewrite-uri template="/v2/stores/{storenumber}/orders/{ordernumber}?channel=web" copy-unmatched-params="false" />
 * ```
 */
export const rewriteUriPolicy = definePolicy<RewriteUriConfig>({
  name: 'rewrite-uri',
  sections: ['inbound'],
  scopes: ALL_SCOPES,
  parse(element, ctx) {
    ctx.checkAttributes(element, ['template', 'copy-unmatched-params']);
    checkChildren(element, ctx, []);
    const template = ctx.literalAttribute(element, 'template', { required: true });
    const copyUnmatchedParams = booleanAttribute(element, 'copy-unmatched-params', ctx, true);
    if (template === undefined) return undefined;
    const compiled = compileRewriteTemplate(template);
    if (typeof compiled === 'string') {
      ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, 'template'), `<rewrite-uri template="${template}">: ${compiled}`);
      return undefined;
    }
    return { template, copyUnmatchedParams };
  },
  compile(config, _env, statement) {
    const template = compileRewriteTemplate(config.template);
    if (typeof template === 'string') throw new Error(`rewrite-uri: template passed parse but does not compile: ${template}`);
    const copy = config.copyUnmatchedParams;
    return createHandler(statement, (ctx) => {
      const params = ctx.matchedParameters;
      const out: string[] = [];
      for (const item of template.query) {
        const expanded = expandQueryItem(item, params);
        if (expanded !== undefined) out.push(expanded);
      }
      if (copy && ctx.backendQuery !== '') {
        const captured = templateQueryKeys(ctx.operation);
        for (const item of splitQuery(ctx.backendQuery)) {
          if (!captured.has(item.key) && !template.queryKeys.has(item.key)) out.push(item.raw);
        }
      }
      ctx.backendPath = expandPath(template.path, params);
      ctx.backendQuery = out.join('&');
    });
  },
});

