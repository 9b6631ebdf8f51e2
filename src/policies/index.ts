/**
 * The built-in policies: the one place they are listed (alphabetical). Each folder holds a
 * policy's parse step, compiled handler, tests and docs link; this file only registers them.
 */
import type { PolicyDefinition } from '../policy/define-policy.ts';
import { PolicyRegistry } from '../policy/registry.ts';
import { corsPolicy } from './cors/cors.ts';
import { crossDomainPolicy } from './cross-domain/cross-domain.ts';
import { forwardRequestPolicy } from './forward-request/forward-request.ts';
import { ipFilterPolicy } from './ip-filter/ip-filter.ts';
import { jsonpPolicy } from './jsonp/jsonp.ts';
import { mockResponsePolicy } from './mock-response/mock-response.ts';
import { returnResponsePolicy } from './return-response/return-response.ts';
import { rewriteUriPolicy } from './rewrite-uri/rewrite-uri.ts';
import { setBackendServicePolicy } from './set-backend-service/set-backend-service.ts';
import { setHeaderPolicy } from './set-header/set-header.ts';
import { setQueryParameterPolicy } from './set-query-parameter/set-query-parameter.ts';
import { setStatusPolicy } from './set-status/set-status.ts';
import { setVariablePolicy } from './set-variable/set-variable.ts';

export const builtinPolicies: readonly PolicyDefinition<unknown>[] = [
  corsPolicy,
  crossDomainPolicy,
  forwardRequestPolicy,
  ipFilterPolicy,
  jsonpPolicy,
  mockResponsePolicy,
  returnResponsePolicy,
  rewriteUriPolicy,
  setBackendServicePolicy,
  setHeaderPolicy,
  setQueryParameterPolicy,
  setStatusPolicy,
  setVariablePolicy,
] as readonly PolicyDefinition<unknown>[];

/** A registry holding every built-in policy; a new one per call so callers may add their own. */
export function builtinRegistry(): PolicyRegistry {
  const registry = new PolicyRegistry();
  for (const definition of builtinPolicies) registry.register(definition);
  return registry;
}
