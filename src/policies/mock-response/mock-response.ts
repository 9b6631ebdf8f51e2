import { ALL_SCOPES, definePolicy } from '../../policy/define-policy.ts';
import type { RuntimeOperation } from '../../pipeline/context.ts';
import { attributeValueAt, checkChildren, integerAttribute } from '../shared/attributes.ts';
import { createHandler } from '../shared/handler.ts';
import { replaceResponse } from '../shared/response.ts';
import { headerValueProblem, isToken } from '../shared/header-values.ts';
import { STATUS_RANGE } from '../set-status/set-status.ts';

export interface MockResponseConfig {
  readonly statusCode: number;
  /** As written; null → the media type of the example found, if any. */
  readonly contentType: string | null;
}

/** What a mock answers for one operation: chosen once per operation, then reused. */
interface MockAnswer {
  readonly contentType: string | null;
  readonly body: string | null;
}

// Fetch's null body statuses (among final ones): an example is never sent with them.
const NULL_BODY_STATUS = new Set([204, 205, 304]);

/** `type/subtype`, lower-case, parameters dropped: what two media types are compared on. */
function essence(mediaType: string): string {
  const semi = mediaType.indexOf(';');
  return (semi === -1 ? mediaType : mediaType.slice(0, semi)).trim().toLowerCase();
}

function isMediaType(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash === -1) return false;
  const semi = value.indexOf(';');
  const subtype = value.slice(slash + 1, semi === -1 ? value.length : semi).trim();
  return isToken(value.slice(0, slash)) && isToken(subtype) && headerValueProblem(value) === null;
}

function choose(operation: RuntimeOperation, config: MockResponseConfig): MockAnswer {
  const candidates = (operation.responses ?? []).filter((r) => r.status === config.statusCode);
  const body = (example: string | null | undefined): string | null => (example == null || NULL_BODY_STATUS.has(config.statusCode) ? null : example);
  if (config.contentType !== null) {
    const wanted = essence(config.contentType);
    const match = candidates.find((r) => r.contentType !== null && essence(r.contentType) === wanted);
    return { contentType: config.contentType, body: body(match?.example) };
  }
  // "First found content type is used": the first documented response with an example.
  const match = candidates.find((r) => r.example !== null);
  const text = body(match?.example);
  const type = text === null || match?.contentType == null || headerValueProblem(match.contentType) !== null ? null : match.contentType;
  return { contentType: type, body: text };
}

/**
 * `mock-response`: stops the pipeline and answers with `status-code` (default 200) and the
 * operation's documented example for that status (and `content-type`, when given). Without an
 * example the response has no content; gatehouse does not generate samples from schemas yet.
 *
 * @example
 * ```xml
 * <mock-response status-code="200" content-type="application/json" />
 * ```
 */
export const mockResponsePolicy = definePolicy<MockResponseConfig>({
  name: 'mock-response',
  sections: ['inbound', 'outbound', 'on-error'],
  scopes: ALL_SCOPES,
  parse(element, ctx) {
    ctx.checkAttributes(element, ['status-code', 'content-type']);
    checkChildren(element, ctx, []);
    let ok = true;
    const present = element.attributes.some((a) => a.name === 'status-code');
    const statusCode = integerAttribute(element, 'status-code', ctx, STATUS_RANGE);
    if (present && statusCode === undefined) ok = false;
    const contentType = ctx.literalAttribute(element, 'content-type');
    if (contentType !== undefined && !isMediaType(contentType)) {
      ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, 'content-type'), `<mock-response content-type="${contentType}">: not a media type such as application/json`);
      ok = false;
    }
    if (!ok || (contentType === undefined && element.attributes.some((a) => a.name === 'content-type'))) return undefined;
    return { statusCode: statusCode ?? 200, contentType: contentType ?? null };
  },
  compile(config, _env, statement) {
    const status = config.statusCode;
    const none: MockAnswer = { contentType: config.contentType, body: null };
    // Operations are shared and immutable: the answer for each is chosen on its first request.
    const answers = new WeakMap<RuntimeOperation, MockAnswer>();
    return createHandler(statement, (ctx) => {
      const operation = ctx.operation;
      let answer = none;
      if (operation !== null && operation.responses !== undefined) {
        const known = answers.get(operation);
        if (known !== undefined) answer = known;
        else answers.set(operation, (answer = choose(operation, config)));
      }
      // In outbound this replaces the backend's response.
      replaceResponse(ctx, { status, headers: answer.contentType === null ? {} : { 'content-type': answer.contentType }, body: answer.body });
      return 'respond';
    });
  },
});
