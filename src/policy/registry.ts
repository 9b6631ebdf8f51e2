import assert from 'node:assert/strict';
import type { PolicyDefinition } from './define-policy.ts';

/**
 * name → definition. Built-ins are registered from src/policies/index.ts; a user's custom
 * policies go through `register`, which checks the shape the way find-my-way checks strategies.
 */
export class PolicyRegistry {
  readonly #definitions = new Map<string, PolicyDefinition<unknown>>();

  register<C>(definition: PolicyDefinition<C>): this {
    assert.ok(typeof definition.name === 'string' && /^[a-z][a-z0-9-]*$/.test(definition.name), `invalid policy name: ${String(definition.name)}`);
    assert.ok(!RESERVED.has(definition.name), `'${definition.name}' is reserved by the policy language`);
    assert.ok(!this.#definitions.has(definition.name), `policy '${definition.name}' is registered twice`);
    assert.ok(Array.isArray(definition.sections) && definition.sections.length > 0, `${definition.name}: sections must list at least one section`);
    assert.ok(Array.isArray(definition.scopes) && definition.scopes.length > 0, `${definition.name}: scopes must list at least one scope`);
    assert.equal(typeof definition.parse, 'function', `${definition.name}: parse must be a function`);
    assert.equal(typeof definition.compile, 'function', `${definition.name}: compile must be a function`);
    this.#definitions.set(definition.name, definition as PolicyDefinition<unknown>);
    return this;
  }

  get(name: string): PolicyDefinition<unknown> | undefined {
    return this.#definitions.get(name);
  }

  get names(): readonly string[] {
    return [...this.#definitions.keys()].sort();
  }
}

/** Handled by the document/scope layer itself, never by a definition. */
const RESERVED = new Set(['base', 'include-fragment', 'policies', 'inbound', 'backend', 'outbound', 'on-error', 'fragment']);
