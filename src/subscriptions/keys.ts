/**
 * Subscription keys compiled once at load: every key of every subscription in one Map, so the
 * request path does a single hash lookup per key and allocates nothing (docs/subscriptions-and-versions.md).
 *
 * Keys come from the subscription file (`primaryKey`/`secondaryKey`) or the overlay (the loader
 * merges them, overlay first). A subscription with neither key gets a random pair for this run,
 * printed by `gatehouse start`.
 */
import { randomBytes } from 'node:crypto';
import type { LoadedSubscription } from '../config/model.ts';
import type { DiagnosticBag } from '../policy/diagnostics.ts';

/** ARM SubscriptionCreateParameterProperties: primaryKey/secondaryKey are 1 to 256 characters. */
export const MAX_KEY_LENGTH = 256;

/** What a subscription can reach (the loader's parsed `scope`). */
export type SubscriptionScope = LoadedSubscription['scope'];

/**
 * The outcome of checking a request's key (or its absence) against an API.
 * `allowed` objects are built once at load and shared, so resolution allocates nothing.
 */
export type SubscriptionResolution = AllowedResolution | DeniedResolution;

export interface AllowedResolution {
  readonly kind: 'allowed';
  /** The product context the request runs in; null = no product (product policies skipped). */
  readonly product: string | null;
  /** The subscription whose key was used; null for keyless access (open product, open API). */
  readonly subscription: string | null;
}

export interface DeniedResolution {
  readonly kind: 'denied';
  /** APIM's LastError.Reason for the 401 (source `authorization`). */
  readonly reason: 'SubscriptionKeyNotFound' | 'SubscriptionKeyInvalid';
}

/** One key of one subscription. */
export interface KeyEntry {
  readonly subscription: string;
  readonly scope: SubscriptionScope;
  readonly state: string;
  /** Only `active` subscriptions grant access; any other state makes the key invalid (APIM). */
  readonly active: boolean;
  readonly slot: 'primary' | 'secondary';
  /** The shared result for this key when its scope covers the API. */
  readonly allowed: AllowedResolution;
}

/** Keys generated for a subscription that had none (printed at start). */
export interface GeneratedKeys {
  readonly subscription: string;
  readonly scope: SubscriptionScope;
  readonly state: string;
  readonly primaryKey: string;
  readonly secondaryKey: string;
}

/** Every usable key, plus what was generated for this run. Immutable after load. */
export interface SubscriptionKeys {
  /** Key text (compared exactly, case-sensitive) → entry. */
  readonly byKey: ReadonlyMap<string, KeyEntry>;
  readonly generated: readonly GeneratedKeys[];
}

export interface CompileKeysOptions {
  /** Key generator for subscriptions without keys; default {@link generateDevKey}. */
  readonly generateKey?: () => string;
}

/**
 * A local development key: 16 random bytes as 32 lower-case hex characters, the shape APIM's
 * own generated keys have. Random per run, never derived from the subscription name: a key anyone
 * can compute from the folder would be no key at all once the gateway listens beyond localhost.
 */
export function generateDevKey(): string {
  return randomBytes(16).toString('hex');
}

/** Visible ASCII only: a key must travel in a header or a query string unchanged. */
const KEY_CHARS = /^[\x21-\x7e]+$/;

/**
 * Why a key cannot be used, or null when it can. Messages never quote the key (it is a secret
 * and would land in logs); they say what is wrong with it.
 */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'is empty';
  if (key.length > MAX_KEY_LENGTH) return `is ${key.length} characters long; APIM allows at most ${MAX_KEY_LENGTH}`;
  if (!KEY_CHARS.test(key)) {
    const at = [...key].findIndex((c) => !KEY_CHARS.test(c));
    return `has a space, control or non-ASCII character at position ${at + 1}; keys must be visible ASCII to travel in a header or query string`;
  }
  return null;
}

/**
 * Builds the key table. Reports unusable keys (GH_CONFIG_SUBSCRIPTION_KEY_INVALID) and keys that
 * two subscriptions share (GH_CONFIG_SUBSCRIPTION_KEY_DUPLICATE: a request could not tell which
 * subscription it uses), both as errors at the subscription's file. A subscription without any
 * key gets a generated pair, in every state, so a local run can also show how a suspended
 * subscription is refused.
 */
export function compileSubscriptionKeys(subscriptions: readonly LoadedSubscription[], diagnostics: DiagnosticBag, options: CompileKeysOptions = {}): SubscriptionKeys {
  const generate = options.generateKey ?? generateDevKey;
  const byKey = new Map<string, KeyEntry>();
  const generated: GeneratedKeys[] = [];
  for (const sub of subscriptions) {
    const at = { file: sub.file, line: 1, column: 1 };
    let primary = sub.primaryKey;
    let secondary = sub.secondaryKey;
    if (primary === null && secondary === null) {
      primary = generate();
      secondary = generate();
      generated.push({ subscription: sub.name, scope: sub.scope, state: sub.state, primaryKey: primary, secondaryKey: secondary });
    }
    const active = sub.state === 'active';
    const allowed: AllowedResolution = Object.freeze({ kind: 'allowed', product: sub.scope.kind === 'product' ? sub.scope.name : null, subscription: sub.name });
    for (const [slot, key] of [['primary', primary], ['secondary', secondary]] as const) {
      if (key === null) continue;
      const problem = keyProblem(key);
      if (problem !== null) {
        diagnostics.report('GH_CONFIG_SUBSCRIPTION_KEY_INVALID', at, `the ${slot} key of subscription '${sub.name}' ${problem}`);
        continue;
      }
      const taken = byKey.get(key);
      if (taken !== undefined) {
        // The same key in both slots of one subscription is harmless; across subscriptions it is ambiguous.
        if (taken.subscription !== sub.name) {
          diagnostics.report('GH_CONFIG_SUBSCRIPTION_KEY_DUPLICATE', at,
            `the ${slot} key of subscription '${sub.name}' is also the ${taken.slot} key of subscription '${taken.subscription}'; every key must belong to one subscription`);
        }
        continue;
      }
      byKey.set(key, Object.freeze({ subscription: sub.name, scope: sub.scope, state: sub.state, active, slot, allowed }));
    }
  }
  return { byKey, generated };
}
