/**
 * Every stable error and diagnostic code gatehouse emits. A code keeps its meaning forever;
 * `docs/errors.md` has one row per code and `test/errors.test.ts` keeps the two in sync.
 * Match on `code`, never on message text.
 */
export const ERROR_CODES = {
  // ── Reading policy files ────────────────────────────────────────────────
  GH_XML_MALFORMED: 'The policy file is not readable as XML, even with APIM\'s lenient expression syntax.',
  GH_XML_DTD_FORBIDDEN: 'A <!DOCTYPE> or entity declaration was found; policy files may not declare DTDs.',
  GH_XML_TOO_DEEP: 'Elements (or interpolated strings inside an expression) nest deeper than gatehouse reads.',
  GH_POLICY_TEMPLATE_PLACEHOLDER: 'The file holds a deploy-time template placeholder (${…}, %{…}, __TOKEN__) that was never rendered.',
  GH_POLICY_EXPRESSION_UNSUPPORTED: 'A policy expression (@(…) or @{…}) appears where gatehouse cannot evaluate expressions yet.',
  GH_POLICY_EXPRESSION_UNTERMINATED: 'A policy expression opens with @( or @{ and never closes.',
  GH_POLICY_ROOT_INVALID: 'The document root is not <policies> (or <fragment> for a policy fragment).',
  GH_POLICY_SECTION_UNKNOWN: 'An element directly under <policies> is not inbound, backend, outbound or on-error.',
  GH_POLICY_SECTION_DUPLICATE: 'A section appears twice in one policy document.',
  GH_POLICY_SECTION_OMITTED: 'A section is missing from an API or operation document; gatehouse treats it as <base/> only.',
  GH_POLICY_UNKNOWN_ELEMENT: 'An element is not an APIM policy at all (often a misspelling).',
  GH_POLICY_NOT_IMPLEMENTED: 'An APIM policy that gatehouse does not implement yet.',
  GH_POLICY_SKIPPED: 'A policy gatehouse does not implement was skipped because skipUnimplementedPolicies is on.',
  GH_POLICY_SECTION_NOT_ALLOWED: 'APIM does not allow this policy in this section.',
  GH_POLICY_SCOPE_NOT_ALLOWED: 'APIM does not allow this policy at this scope.',
  GH_POLICY_ONCE_PER_SECTION: 'The policy may appear only once in a section.',
  GH_POLICY_ATTR_REQUIRED: 'A required attribute is missing.',
  GH_POLICY_ATTR_INVALID: 'An attribute value is not valid for this policy.',
  GH_POLICY_ATTR_UNKNOWN: 'An attribute this policy does not define (ignored).',
  GH_POLICY_ATTR_CONFLICT: 'Two attributes that exclude each other are both present (timeout and timeout-ms, base-url and backend-id).',
  GH_POLICY_ATTR_UNSUPPORTED: 'An APIM attribute or attribute value gatehouse does not support yet (response-variable-name, template="liquid", http-version="2" …).',
  GH_POLICY_HEADER_PROTECTED: 'set-header names a header APIM does not let policies change (Connection, Content-Length, Keep-Alive, Transfer-Encoding); the statement is ignored.',
  GH_POLICY_CHILD_REQUIRED: 'A required child element is missing.',
  GH_POLICY_CHILD_INVALID: 'A child element is not valid here, or its content is invalid.',
  GH_POLICY_TEXT_UNEXPECTED: 'Text appears where only elements are allowed.',
  // ── cors policy ─────────────────────────────────────────────────────────
  GH_CORS_ORIGIN_INVALID: 'An <origin> is not `*` or a URL of scheme, host and port only (APIM: "Origin must be a valid URL consisting of scheme, host, and port only").',
  GH_CORS_WILDCARD_MIXED: '`*` appears beside other entries: an error in <allowed-origins>, a warning (redundant entries) in <allowed-methods>/<allowed-headers>.',
  GH_CORS_WILDCARD_CREDENTIALS: '`*` in <allowed-origins> or <expose-headers> together with allow-credentials="true", which browsers treat differently from "any".',
  GH_CORS_LIST_EMPTY: '<allowed-origins>, <allowed-methods>, <allowed-headers> or <expose-headers> has no entries.',
  GH_CORS_MAX_AGE_INVALID: 'preflight-result-max-age is not a whole number of seconds (0 or more).',
  GH_CORS_METHOD_INVALID: 'A <method> is empty or not a valid HTTP method token.',
  GH_CORS_HEADER_INVALID: 'A <header> is empty or not a valid header name.',
  GH_CORS_ALLOWED_HEADERS_MISSING: '<cors> has no <allowed-headers> (required by the current APIM docs): preflights asking for any request header will not match.',
  GH_CORS_NOT_FIRST: 'Policies run before <cors> in an effective inbound section; if one answers or fails, the response carries no CORS headers.',
  GH_CORS_SHADOWED: 'A second top-level <cors> in an effective inbound section: only the first decides.',
  GH_CORS_PRODUCT_SCOPE_HEADER_KEY: 'A product-scope <cors> on a product that requires a subscription: browser preflights carry no key header, so they resolve the product only when the key is in the query.',
  GH_CORS_HEADER_VERSIONING: 'A <cors> in the effective policy of a Header-versioned API version: browser preflights carry no version header, so they never reach that version (404).',
  // ── Scopes, <base/>, fragments, named values ────────────────────────────
  GH_SCOPE_BASE_AT_GLOBAL: '<base/> appears in a global-scope document, which has no parent scope.',
  GH_SCOPE_BASE_DUPLICATE: '<base/> appears more than once in one section.',
  GH_SCOPE_BASE_NESTED: '<base/> appears below the top level of a section.',
  GH_FRAGMENT_NOT_FOUND: '<include-fragment> names a fragment the folder does not define.',
  GH_FRAGMENT_NESTED: 'A policy fragment includes another fragment; APIM does not allow nesting.',
  GH_FRAGMENT_BASE: 'A policy fragment contains <base/> or a section element.',
  GH_FRAGMENT_TOO_LARGE: 'A policy fragment is larger than APIM\'s 512 KB limit.',
  GH_NAMED_VALUE_MISSING: 'A {{name}} reference names a named value the folder does not define.',
  GH_NAMED_VALUE_NO_VALUE: 'A named value has no value here (Key Vault secret): set it in the overlay.',
  // ── Loading the APIOps folder and the overlay ───────────────────────────
  GH_CONFIG_INVALID: 'The configuration has errors; see the diagnostics list.',
  GH_CONFIG_NOT_FOUND: 'The configuration folder or a file it needs does not exist.',
  GH_CONFIG_JSON_INVALID: 'An artifact JSON file cannot be parsed or lacks a required property.',
  GH_CONFIG_SPEC_INVALID: 'An API specification (OpenAPI/Swagger) cannot be read.',
  GH_CONFIG_SPEC_UNSUPPORTED: 'An API specification format gatehouse does not read (GraphQL, WSDL, WADL).',
  GH_CONFIG_ARTIFACT_SKIPPED: 'An artifact gatehouse does not use was skipped.',
  GH_CONFIG_OVERLAY_INVALID: 'The gatehouse overlay file is invalid.',
  GH_CONFIG_API_PATH_DUPLICATE: 'Two current APIs claim the same path (and version).',
  GH_CONFIG_OPERATION_DUPLICATE: 'Two operations of one API have the same method and URL template.',
  GH_CONFIG_BACKEND_NOT_FOUND: 'A backend-id names a backend the folder does not define.',
  GH_CONFIG_SERVICE_URL_INVALID: 'An API\'s serviceUrl or a backend url is not an absolute http(s) URL.',
  GH_CONFIG_REFERENCE_UNKNOWN: 'An artifact or the overlay names a version set, API, product, backend, subscription or named value the folder does not define.',
  GH_CONFIG_API_REVISION_CONFLICT: 'Several revisions of one API are current, none is, or two folders hold the same revision.',
  GH_CONFIG_OPERATION_NOT_FOUND: 'An operations/<name>/ folder names no operation of the API specification; its policy is not used.',
  GH_CONFIG_SUBSCRIPTION_KEY_INVALID: 'A subscription key is empty, longer than 256 characters, or holds characters that cannot travel in a header or query string.',
  GH_CONFIG_SUBSCRIPTION_KEY_DUPLICATE: 'Two subscriptions have the same key, so a request could not tell which one it uses.',
  GH_CONFIG_OPEN_PRODUCT_DUPLICATE: 'An API is in more than one product that requires no subscription; APIM allows at most one open product per API.',
  GH_CONFIG_NAMED_VALUE_DUPLICATE: 'Two named values share one display name, so {{name}} would be ambiguous.',
  // ── CLI ─────────────────────────────────────────────────────────────────
  GH_CLI_USAGE: 'The command line is not valid; see --help.',
  GH_CLI_NOT_FOUND: 'The API, operation or product named on the command line does not exist.',
  // ── Request time ────────────────────────────────────────────────────────
  GH_ROUTE_NOT_FOUND: 'No API or operation matches the request (APIM: configuration / OperationNotFound, 404).',
  GH_SUBSCRIPTION_KEY_NOT_FOUND: 'No subscription key was sent where one is required (APIM: authorization / SubscriptionKeyNotFound, 401).',
  GH_SUBSCRIPTION_KEY_INVALID: 'The subscription key is unknown, belongs to an inactive subscription, or does not cover the API (APIM: authorization / SubscriptionKeyInvalid, 401).',
  GH_REQUEST_HEADER_INVALID: 'The request was malformed (a header value with CR, LF or NUL, a bad header name, headers over the size limit) and was refused with 400/431 before any policy ran.',
  GH_REQUEST_TOO_LARGE: 'The request headers or body exceed the configured limit.',
  GH_BACKEND_TIMEOUT: 'The backend sent no response headers within the forward-request timeout (APIM reason Timeout).',
  GH_BACKEND_CONNECTION: 'The backend could not be reached (APIM reason BackendConnectionFailure).',
  GH_BACKEND_ERROR_STATUS: 'The backend answered 4xx/5xx and forward-request has fail-on-error-status-code="true", so on-error runs.',
  GH_CLIENT_ABORTED: 'The client closed the connection before the backend answered (APIM reason ClientConnectionFailure).',
  GH_RESPONSE_HEADER_INVALID: 'A response header (or the status) could not be written (CR, LF, NUL, another control character, or an invalid name) and was dropped.',
  GH_RESPONSE_BODY_FAILED: 'The response body stream failed after the headers were sent; the client connection was closed.',
  GH_INTERNAL: 'An unexpected failure inside gatehouse; the request got a 500 and the process kept running.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class gatehouse throws. Match on `code`. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number | undefined;
  constructor(code: ErrorCode, message: string, options?: { statusCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.statusCode = options?.statusCode;
  }
}
