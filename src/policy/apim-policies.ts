/**
 * Every policy element APIM documents (learn.microsoft.com/azure/api-management/api-management-policies,
 * plus the control-flow and fragment elements). gatehouse uses it to tell "an APIM policy we do not
 * implement yet" (GH_POLICY_NOT_IMPLEMENTED) from "not an APIM policy at all" (GH_POLICY_UNKNOWN_ELEMENT),
 * and to suggest the right name for a misspelling.
 */
export const APIM_POLICY_NAMES: readonly string[] = [
  // access restriction
  'check-header', 'ip-filter', 'quota', 'quota-by-key', 'rate-limit', 'rate-limit-by-key',
  'validate-jwt', 'validate-azure-ad-token', 'validate-client-certificate', 'llm-token-limit',
  'azure-openai-token-limit', 'llm-content-safety',
  // authentication
  'authentication-basic', 'authentication-certificate', 'authentication-managed-identity', 'get-authorization-context',
  // caching
  'cache-lookup', 'cache-store', 'cache-lookup-value', 'cache-store-value', 'cache-remove-value',
  'azure-openai-semantic-cache-lookup', 'azure-openai-semantic-cache-store', 'llm-semantic-cache-lookup', 'llm-semantic-cache-store',
  // cross-domain
  'cors', 'cross-domain', 'jsonp',
  // transformation
  'find-and-replace', 'json-to-xml', 'xml-to-json', 'redirect-content-urls', 'set-backend-service', 'set-body',
  'set-header', 'set-query-parameter', 'rewrite-uri', 'xsl-transform', 'set-method', 'set-status',
  // routing, flow, integration
  'forward-request', 'choose', 'include-fragment', 'limit-concurrency', 'log-to-eventhub', 'emit-metric',
  'azure-openai-emit-token-metric', 'llm-emit-token-metric', 'mock-response', 'retry', 'return-response',
  'send-one-way-request', 'send-request', 'set-variable', 'trace', 'wait', 'proxy', 'publish-to-dapr',
  'send-service-bus-message', 'invoke-dapr-binding', 'set-backend-service',
  // validation
  'validate-content', 'validate-parameters', 'validate-headers', 'validate-status-code', 'validate-odata-request',
  'validate-graphql-request', 'set-graphql-resolver', 'http-data-source', 'publish-event', 'sql-data-source',
  'cosmosdb-data-source',
  // the policy language itself
  'base',
];

const NAMES = new Set(APIM_POLICY_NAMES);

/** Undefined when `name` is not an APIM policy element. */
export function apimPolicyInfo(name: string): { readonly name: string } | undefined {
  return NAMES.has(name) ? { name } : undefined;
}
