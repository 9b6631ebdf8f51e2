import { ALL_SCOPES, definePolicy } from '../../policy/define-policy.ts';
import { attributeValueAt, checkChildren } from '../shared/attributes.ts';
import { createHandler } from '../shared/handler.ts';

export interface SetVariableConfig {
  readonly name: string;
  /** APIM converts a literal to System.String, so a literal value is always a string. */
  readonly value: string;
}

/**
 * `set-variable`: stores a value in `context.Variables` (ctx.variables) for later policies.
 * Literal values only until expressions are supported.
 *
 * @example
 * ```xml
 * <set-variable name="environment" value="staging" />
 * ```
 */
export const setVariablePolicy = definePolicy<SetVariableConfig>({
  name: 'set-variable',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  scopes: ALL_SCOPES,
  parse(element, ctx) {
    ctx.checkAttributes(element, ['name', 'value']);
    checkChildren(element, ctx, []);
    const name = ctx.literalAttribute(element, 'name', { required: true });
    const raw = element.attributes.find((a) => a.name === 'value');
    // Read the value untrimmed: a literal is stored exactly as written (APIM keeps it as a string).
    const value = ctx.literalAttribute(element, 'value', { required: true }) === undefined ? undefined : raw?.value;
    if (name === '') ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, 'name'), `<set-variable>: 'name' must not be empty`);
    if (name === undefined || name === '' || value === undefined) return undefined;
    return { name, value };
  },
  compile(config, _env, statement) {
    const { name, value } = config;
    return createHandler(statement, (ctx) => void ctx.variables.set(name, value));
  },
});
