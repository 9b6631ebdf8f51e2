import type { BackendForwarder, PolicyHandler } from '../pipeline/handler.ts';
import type { ParsedStatement } from './define-policy.ts';

/** A backend entity from `backends/<id>/backendInformation.json`. */
export interface BackendEntity {
  readonly id: string;
  readonly url: string;
}

/** Switches where APIM's own documents disagree, or where gatehouse offers an opt-in extension. */
export interface CompatSettings {
  /** Default of cors terminate-unmatched-request when the attribute is absent (APIM docs say both). */
  readonly corsTerminateUnmatchedDefault: boolean;
  /** gatehouse extension: apply the CORS decision to gateway errors (404, 401) too. Off = APIM. */
  readonly corsOnGatewayErrors: boolean;
  /** Skip unimplemented policies with a warning instead of failing the load. */
  readonly skipUnimplementedPolicies: boolean;
}

export const DEFAULT_COMPAT: CompatSettings = {
  corsTerminateUnmatchedDefault: false,
  corsOnGatewayErrors: false,
  skipUnimplementedPolicies: false,
};

/** What a policy's `compile` step may use. */
export interface CompileEnv {
  readonly backends: ReadonlyMap<string, BackendEntity>;
  readonly forwarder: BackendForwarder;
  readonly compat: CompatSettings;
  /** forward-request's timeout when the element sets none (overlay limits.backendTimeoutSeconds); APIM's 300 s when absent. */
  readonly defaultBackendTimeoutMs?: number;
  /** Compiles a nested block (choose/when, retry …) into handlers. */
  compileStatements(statements: readonly ParsedStatement[]): readonly PolicyHandler[];
}
