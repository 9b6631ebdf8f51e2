import type { LoadedConfig } from '../config/model.ts';
import type { ErrorCode } from '../errors.ts';
import type { DiagnosticBag } from '../policy/diagnostics.ts';
import { Router, type RouteApiEntry, type RouteProblem } from '../routing/router.ts';
import type { CompiledApi, CompiledConfig, CompiledOperation } from './compile-config.ts';

export type GatewayRouter = Router<CompiledApi, CompiledOperation>;

/** Builds the router over the compiled APIs; routing problems become diagnostics on the API's files. */
export function buildRouter(config: LoadedConfig, compiled: CompiledConfig, diagnostics: DiagnosticBag): GatewayRouter {
  const versionSets = new Map(config.versionSets.map((v) => [v.id.toLowerCase(), v]));
  const entries: RouteApiEntry<CompiledApi, CompiledOperation>[] = compiled.apis.map((api) => {
    const set = api.loaded.versionSetId ? versionSets.get(api.loaded.versionSetId.toLowerCase()) : undefined;
    return {
      name: api.loaded.name,
      path: api.loaded.path,
      versionSet: set ? { scheme: set.scheme, name: set.scheme === 'Header' ? set.headerName : set.scheme === 'Query' ? set.queryName : null } : null,
      version: api.loaded.apiVersion,
      revision: api.loaded.revision,
      isCurrent: api.loaded.isCurrent,
      operations: api.operations.map((operation) => ({ method: operation.runtime.method, urlTemplate: operation.runtime.urlTemplate, value: operation })),
      value: api,
    };
  });
  const router = new Router(entries);
  for (const problem of router.problems) if (!REPORTED_BY_LOADER.has(problem.kind)) reportProblem(problem, compiled, diagnostics);
  return router;
}

// Revision conflicts are already reported by the loader (GH_CONFIG_API_REVISION_CONFLICT, with the file).
const REPORTED_BY_LOADER = new Set<RouteProblem['kind']>(['revision-duplicate', 'revision-current-duplicate', 'revision-no-current']);

const CODES: Record<RouteProblem['kind'], ErrorCode> = {
  'template-invalid': 'GH_CONFIG_SPEC_INVALID',
  'operation-duplicate': 'GH_CONFIG_OPERATION_DUPLICATE',
  'api-path-duplicate': 'GH_CONFIG_API_PATH_DUPLICATE',
  'revision-duplicate': 'GH_CONFIG_API_REVISION_CONFLICT',
  'revision-current-duplicate': 'GH_CONFIG_API_REVISION_CONFLICT',
  'revision-no-current': 'GH_CONFIG_API_REVISION_CONFLICT',
  'version-duplicate': 'GH_CONFIG_API_PATH_DUPLICATE',
  'version-set-mismatch': 'GH_CONFIG_API_PATH_DUPLICATE',
  'path-invalid': 'GH_CONFIG_JSON_INVALID',
};

function reportProblem(problem: RouteProblem, compiled: CompiledConfig, diagnostics: DiagnosticBag): void {
  const api = compiled.apis[problem.apiIndex];
  const file = api ? `${api.loaded.folder}/apiInformation.json` : '(unknown)';
  diagnostics.report(CODES[problem.kind], { file, line: 1, column: 1 }, problem.message, 'error', api ? [`api:${api.loaded.name}`] : undefined);
}
