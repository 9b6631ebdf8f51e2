import type { ErrorCode } from '../errors.ts';
import type { DiagnosticBag, Locatable, Severity } from './diagnostics.ts';
import type { ParseContext, ParsedStatement, ScopeKind, SectionName } from './define-policy.ts';
import { getAttribute, isExpression, type PolicyElement } from './element.ts';
import { APIM_POLICY_NAMES, apimPolicyInfo } from './apim-policies.ts';
import type { PolicyRegistry } from './registry.ts';

export interface ParseEnv {
  readonly registry: PolicyRegistry;
  readonly diagnostics: DiagnosticBag;
  readonly skipUnimplemented: boolean;
  /** For diagnostics: ['global', 'api:echo'] … */
  readonly scopePath?: readonly string[];
}

/**
 * Parses one statement list (a section's children, or a nested block) with the registry.
 * Checks what is common to every policy: known element, allowed section and scope, once per section.
 */
export function parseStatementList(
  elements: readonly PolicyElement[],
  section: SectionName,
  scope: ScopeKind,
  scopeLabel: string,
  env: ParseEnv,
): ParsedStatement[] {
  const ctx = createParseContext(section, scope, scopeLabel, env);
  const out: ParsedStatement[] = [];
  const seen = new Set<string>();
  for (const element of elements) {
    const statement = parseStatement(element, ctx, section, scope, scopeLabel, env);
    if (statement === undefined) continue;
    if (statement.definition.oncePerSection) {
      if (seen.has(element.name)) {
        env.diagnostics.report('GH_POLICY_ONCE_PER_SECTION', element, `<${element.name}> may appear only once in <${section}>`, 'error', env.scopePath);
        continue;
      }
      seen.add(element.name);
    }
    out.push(statement);
  }
  return out;
}

function parseStatement(
  element: PolicyElement,
  ctx: ParseContext,
  section: SectionName,
  scope: ScopeKind,
  scopeLabel: string,
  env: ParseEnv,
): ParsedStatement | undefined {
  if (element.name === 'base') {
    // Top-level <base/> markers never reach here (scopes.ts handles them); this one is nested.
    env.diagnostics.report('GH_SCOPE_BASE_NESTED', element, '<base/> must be a direct child of a section; inside another policy it has no meaning', 'error', env.scopePath);
    return undefined;
  }
  const definition = env.registry.get(element.name);
  if (definition === undefined) {
    const known = apimPolicyInfo(element.name);
    if (known === undefined) {
      env.diagnostics.report('GH_POLICY_UNKNOWN_ELEMENT', element, `<${element.name}> is not an APIM policy${suggest(element.name)}`, 'error', env.scopePath);
    } else if (env.skipUnimplemented) {
      env.diagnostics.report('GH_POLICY_SKIPPED', element, `<${element.name}> is not implemented by gatehouse yet; skipped (skipUnimplementedPolicies is on)`, 'warning', env.scopePath);
    } else {
      env.diagnostics.report(
        'GH_POLICY_NOT_IMPLEMENTED',
        element,
        `<${element.name}> is an APIM policy that gatehouse does not implement yet; set compat.skipUnimplementedPolicies: true in gatehouse.yaml to load the folder without it`,
        'error',
        env.scopePath,
      );
    }
    return undefined;
  }
  // 'fragment' scope: the fragment's statements are checked at the scope that includes them.
  if (!definition.sections.includes(section)) {
    env.diagnostics.report('GH_POLICY_SECTION_NOT_ALLOWED', element, `<${element.name}> is not allowed in <${section}>; APIM allows it in ${definition.sections.join(', ')}`, 'error', env.scopePath);
    return undefined;
  }
  if (scope !== 'fragment' && !definition.scopes.includes(scope)) {
    env.diagnostics.report('GH_POLICY_SCOPE_NOT_ALLOWED', element, `<${element.name}> is not allowed at ${scope} scope; APIM allows it at ${definition.scopes.join(', ')}`, 'error', env.scopePath);
    return undefined;
  }
  const config = definition.parse(element, ctx);
  if (config === undefined) return undefined;
  return { definition, config, element, scope: scopeLabel };
}

export function createParseContext(section: SectionName, scope: ScopeKind, scopeLabel: string, env: ParseEnv): ParseContext {
  const report = (code: ErrorCode, at: Locatable, message: string, severity: Severity = 'error'): void =>
    env.diagnostics.report(code, at, message, severity, env.scopePath);

  const ctx: ParseContext = {
    section,
    scope,
    report,
    literalAttribute(element, name, options) {
      const attribute = getAttribute(element, name);
      if (attribute === undefined) {
        if (options?.required) report('GH_POLICY_ATTR_REQUIRED', element, `<${element.name}> needs the '${name}' attribute`);
        return undefined;
      }
      if (isExpression(attribute.value)) {
        report('GH_POLICY_EXPRESSION_UNSUPPORTED', attribute.valueLocation, `<${element.name} ${name}="${abbreviate(attribute.value)}">: policy expressions are not supported yet; use a literal value`);
        return undefined;
      }
      return attribute.value.trim();
    },
    literalText(element) {
      if (isExpression(element.text)) {
        report('GH_POLICY_EXPRESSION_UNSUPPORTED', element.textLocation ?? element, `<${element.name}>${abbreviate(element.text.trim())}</${element.name}>: policy expressions are not supported yet; use a literal value`);
        return undefined;
      }
      return element.text.trim();
    },
    checkAttributes(element, known) {
      for (const attribute of element.attributes) {
        if (attribute.name === 'id' || known.includes(attribute.name)) continue;
        report('GH_POLICY_ATTR_UNKNOWN', attribute, `<${element.name}> has no attribute '${attribute.name}'; it is ignored`, 'warning');
      }
    },
    parseStatements(children) {
      return parseStatementList(children, section, scope, scopeLabel, env);
    },
  };
  return ctx;
}

function abbreviate(value: string): string {
  const oneLine = value.replace(/\s+/g, ' ');
  return oneLine.length > 48 ? `${oneLine.slice(0, 45)}…` : oneLine;
}

function suggest(name: string): string {
  const close = closestApimPolicy(name);
  return close ? `; did you mean <${close}>?` : '';
}


function closestApimPolicy(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of APIM_POLICY_NAMES) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] ?? 0;
}
