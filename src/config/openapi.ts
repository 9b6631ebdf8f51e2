import { dereference, validate } from '@readme/openapi-parser';
import type { DiagnosticBag, SourceLocation } from '../policy/diagnostics.ts';
import { isObject } from './artifact.ts';
import { lineColumnAt, locateJson, parseJson } from './json.ts';
import type { JsonPath } from './json.ts';
import { extractOperations } from './openapi-operations.ts';
import type { SpecOperation } from './openapi-operations.ts';
import { parseYamlText } from './yaml-text.ts';

export type { SpecOperation } from './openapi-operations.ts';

/**
 * Specification file names in the order the APIOps publisher looks for them (ApiSpecification.cs):
 * the first one present is the API's specification. `.yml` is not one of them.
 */
export const SPECIFICATION_FILES = [
  'specification.graphql',
  'specification.wsdl',
  'specification.wadl',
  'specification.json',
  'specification.yaml',
] as const;

export interface SpecificationSource {
  /** Path relative to the config root, '/'-separated; its extension selects the format. */
  readonly file: string;
  readonly text: string;
}

export interface SpecificationOptions {
  /**
   * apiInformation.json `translateRequiredQueryParameters`: 'template' (APIM's import default) puts
   * required query parameters into the URL template (`/search?q={q}`); 'query' leaves them out.
   */
  readonly translateRequiredQueryParameters?: 'template' | 'query';
  readonly scopePath?: readonly string[];
}

/**
 * Reads an OpenAPI 3 or Swagger 2 document (YAML or JSON) into operations. A valid document is
 * dereferenced with @readme/openapi-parser; an invalid one gets one warning and is read leniently
 * (local `$ref`s followed by hand), because real specifications are often slightly invalid.
 * GraphQL/WSDL/WADL give a GH_CONFIG_SPEC_UNSUPPORTED warning and no operations. Never throws for bad input.
 */
export async function readSpecification(
  spec: SpecificationSource,
  diagnostics: DiagnosticBag,
  options: SpecificationOptions = {},
): Promise<SpecOperation[]> {
  const scope = options.scopePath;
  const ext = spec.file.slice(spec.file.lastIndexOf('.') + 1).toLowerCase();
  if (ext === 'graphql' || ext === 'wsdl' || ext === 'wadl') {
    diagnostics.report('GH_CONFIG_SPEC_UNSUPPORTED', start(spec.file),
      `${ext.toUpperCase()} specifications are not supported; the API has no operations`, 'warning', scope);
    return [];
  }
  const parsed = parseDocumentText(spec, ext === 'json', diagnostics, scope);
  if (parsed === null) return [];
  const kind = specKind(parsed.value);
  if (kind === null) {
    diagnostics.report('GH_CONFIG_SPEC_INVALID', start(spec.file),
      "not an OpenAPI 3 or Swagger 2 document (no 'openapi: 3.x' or 'swagger: \"2.0\"')", 'error', scope);
    return [];
  }
  const document = await dereferenceOrRaw(parsed.value as Record<string, unknown>, spec.file, diagnostics, scope);
  return extractOperations(document, kind, {
    diagnostics,
    locate: parsed.locate,
    translateRequiredQueryParameters: options.translateRequiredQueryParameters ?? 'template',
    scopePath: scope,
  });
}

interface ParsedSpec {
  readonly value: unknown;
  readonly locate: (path: JsonPath) => SourceLocation;
}

function start(file: string): SourceLocation {
  return { file, line: 1, column: 1 };
}

function parseDocumentText(spec: SpecificationSource, json: boolean, diagnostics: DiagnosticBag, scope?: readonly string[]): ParsedSpec | null {
  if (json) {
    const result = parseJson(spec.text);
    if (!result.ok) {
      diagnostics.report('GH_CONFIG_SPEC_INVALID', { file: spec.file, ...lineColumnAt(spec.text, result.offset) }, `invalid JSON: ${result.message}`, 'error', scope);
      return null;
    }
    const locate = (path: JsonPath): SourceLocation => {
      const offset = locateJson(spec.text, path);
      return offset === undefined ? start(spec.file) : { file: spec.file, ...lineColumnAt(spec.text, offset) };
    };
    return { value: result.value, locate };
  }
  const yaml = parseYamlText(spec.file, spec.text);
  if (yaml.errors.length > 0) {
    for (const e of yaml.errors) diagnostics.report('GH_CONFIG_SPEC_INVALID', e.location, `invalid YAML: ${e.message}`, 'error', scope);
    return null;
  }
  const locate = (path: JsonPath): SourceLocation => {
    const node = yaml.document.getIn(path, true) as { range?: [number, number, number] } | undefined;
    return node?.range ? yaml.locate(node.range[0]) : start(spec.file);
  };
  return { value: yaml.document.toJS({ maxAliasCount: 100 }) as unknown, locate };
}

function specKind(value: unknown): 'openapi3' | 'swagger2' | null {
  if (!isObject(value)) return null;
  const openapi = value['openapi'];
  if (typeof openapi === 'string' && /^3\.\d+/.test(openapi)) return 'openapi3';
  const swagger = value['swagger'];
  if (swagger === '2.0' || swagger === 2 || swagger === '2') return 'swagger2';
  return null;
}

/**
 * Validates a copy (validate() dereferences its argument in place), then dereferences another copy.
 * External `$ref`s are never resolved: APIM refuses them and a config load must not read files or URLs.
 */
async function dereferenceOrRaw(raw: Record<string, unknown>, file: string, diagnostics: DiagnosticBag, scope?: readonly string[]): Promise<Record<string, unknown>> {
  const options = { resolve: { external: false, file: false } };
  try {
    const result = await validate(structuredClone(raw) as never, options);
    if (result.valid) return (await dereference(structuredClone(raw) as never, options)) as unknown as Record<string, unknown>;
    const first = result.errors[0]?.message ?? 'unknown problem';
    const more = result.errors.length - 1 + result.additionalErrors;
    diagnostics.report('GH_CONFIG_SPEC_INVALID', start(file),
      `the specification does not validate (${oneLine(first)}${more > 0 ? `; and ${more} more` : ''}); reading it leniently`, 'warning', scope);
  } catch (e) {
    diagnostics.report('GH_CONFIG_SPEC_INVALID', start(file),
      `the specification cannot be dereferenced (${oneLine(e instanceof Error ? e.message : String(e))}); reading it leniently`, 'warning', scope);
  }
  return raw;
}

function oneLine(message: string): string {
  const line = message.split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
