import type { ParsedStatement } from '../../policy/define-policy.ts';
import { getAttribute } from '../../policy/element.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';

/**
 * Builds a built-in policy's handler: name, position, scope and the optional `id` attribute
 * (LastError.PolicyId) come from the statement, once, at compile time.
 */
export function createHandler(statement: ParsedStatement, run: PolicyHandler['run']): PolicyHandler {
  return Object.freeze({
    name: statement.element.name,
    location: statement.element.location,
    scope: statement.scope,
    policyId: getAttribute(statement.element, 'id')?.value,
    run,
  });
}
