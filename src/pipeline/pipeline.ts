import type { ParsedStatement, SectionName } from '../policy/define-policy.ts';
import type { PolicyHandler } from './handler.ts';

/** One operation's (or API's) effective policy, compiled. Immutable; shared by all its requests. */
export interface CompiledPipeline {
  readonly inbound: readonly PolicyHandler[];
  readonly backend: readonly PolicyHandler[];
  readonly outbound: readonly PolicyHandler[];
  readonly onError: readonly PolicyHandler[];
  /** Top-level cors handlers of the effective inbound, in order (what a preflight consults). */
  readonly corsHandlers: readonly PolicyHandler[];
  /** The effective statements, for effective-policy output and traces; never read per request. */
  readonly effective: Readonly<Record<SectionName, readonly ParsedStatement[]>>;
}
