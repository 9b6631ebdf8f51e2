import type { GeneratedKeys, SubscriptionKeys, SubscriptionScope } from './keys.ts';

function scopeText(scope: SubscriptionScope): string {
  return scope.kind === 'all' ? 'all APIs' : `${scope.kind} ${scope.name ?? ''}`;
}

function line(g: GeneratedKeys): string {
  const state = g.state === 'active' ? '' : `  (${g.state}: its keys are refused)`;
  return `    ${g.subscription} (${scopeText(g.scope)}): primary ${g.primaryKey}  secondary ${g.secondaryKey}${state}`;
}

/**
 * The `gatehouse start` lines for keys generated for this run (subscriptions that had none in
 * the folder or the overlay). Configured keys are never printed: they may be real secrets.
 * Empty when nothing was generated.
 */
export function generatedKeyLines(keys: SubscriptionKeys): string[] {
  if (keys.generated.length === 0) return [];
  return [
    '  subscription keys generated for this run (set subscriptions.<name>.primaryKey in the overlay to keep a key):',
    ...keys.generated.map(line),
  ];
}
