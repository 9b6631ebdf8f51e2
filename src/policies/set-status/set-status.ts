import { ALL_SCOPES, definePolicy, type ParseContext, type PolicyElement } from '../../policy/define-policy.ts';
import { attributeValueAt, checkChildren, integerAttribute } from '../shared/attributes.ts';
import { createHandler } from '../shared/handler.ts';
import { headerValueProblem } from '../shared/header-values.ts';
import { responseOf } from '../shared/response.ts';

export interface SetStatusConfig {
  readonly code: number;
  /** The reason phrase; undefined → the standard phrase for the code. */
  readonly reason: string | undefined;
}

/** Final statuses only: a 1xx cannot end an exchange. Shared with return-response and mock-response. */
export const STATUS_RANGE = { min: 200, max: 599 } as const;

/**
 * Parses `<set-status code="…" reason="…"/>`; return-response uses it for its child too.
 * `reason` is optional here although the APIM page marks it required: real policies omit it.
 */
export function parseSetStatus(element: PolicyElement, ctx: ParseContext): SetStatusConfig | undefined {
  ctx.checkAttributes(element, ['code', 'reason']);
  checkChildren(element, ctx, []);
  const code = integerAttribute(element, 'code', ctx, STATUS_RANGE, { required: true });
  let reason = ctx.literalAttribute(element, 'reason');
  if (reason !== undefined) {
    const problem = headerValueProblem(reason);
    if (problem !== null) {
      ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, 'reason'), `<set-status reason>: the reason phrase ${problem}`);
      return undefined;
    }
    if (reason === '') reason = undefined;
  }
  if (code === undefined) return undefined;
  return { code, reason };
}

/**
 * `set-status`: sets the status code (and reason phrase) of the response. In inbound/backend
 * there is no backend response yet: it starts APIM's empty 200 response, which a later
 * forward-request replaces.
 *
 * @example
 * ```xml
 * <set-status code="503" reason="Service Unavailable" />
 * ```
 */
export const setStatusPolicy = definePolicy<SetStatusConfig>({
  name: 'set-status',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  scopes: ALL_SCOPES,
  parse: parseSetStatus,
  compile(config, _env, statement) {
    const { code, reason } = config;
    return createHandler(statement, (ctx) => {
      const response = responseOf(ctx);
      response.status = code;
      response.statusText = reason;
    });
  },
});
