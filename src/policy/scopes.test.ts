/**
 * <base/> composition conformance: global + product + api + operation documents → the effective
 * statements of each section (apim-semantics.md §4.3). Uses a test-only `<mark id="…"/>` policy so
 * the table speaks only about composition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiagnosticBag } from './diagnostics.ts';
import { definePolicy, type ScopeKind, type SectionName } from './define-policy.ts';
import { readFragment, readPolicyDocument } from './document.ts';
import { getAttribute, type PolicyElement } from './element.ts';
import { PolicyRegistry } from './registry.ts';
import { compose, parseDocument, type ParsedDocument } from './scopes.ts';

const mark = definePolicy<{ id: string }>({
  name: 'mark',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  scopes: ['global', 'product', 'api', 'operation'],
  parse: (el) => ({ id: getAttribute(el, 'id')?.value ?? '?' }),
  compile: () => {
    throw new Error('not compiled in composition tests');
  },
});

interface Docs {
  global?: string;
  product?: string;
  api?: string;
  operation?: string;
}

function build(docs: Docs, extra: { fragments?: Record<string, string>; namedValues?: Record<string, string | null> } = {}) {
  const diagnostics = new DiagnosticBag();
  const registry = new PolicyRegistry().register(mark);
  const namedValues = (name: string) => extra.namedValues?.[name];
  const fragmentCache = new Map<string, PolicyElement[] | undefined>();
  const fragments = (id: string) => {
    if (!extra.fragments || !(id in extra.fragments)) return undefined;
    if (!fragmentCache.has(id)) fragmentCache.set(id, readFragment({ file: `fragments/${id}.xml`, text: extra.fragments[id] as string }, diagnostics, namedValues) ?? []);
    return fragmentCache.get(id);
  };
  const read = (text: string | undefined, kind: ScopeKind, label: string): ParsedDocument | null => {
    if (text === undefined) return null;
    const doc = readPolicyDocument({ file: `${kind}.xml`, text }, kind, diagnostics, { namedValues, fragments });
    return doc ? parseDocument(doc, label, { registry, diagnostics, skipUnimplemented: false, scopePath: [label] }) : null;
  };
  const defaultGlobal = read('<policies><inbound/><backend><mark id="default-forward"/></backend><outbound/><on-error/></policies>', 'global', 'global') as ParsedDocument;
  const global = read(docs.global, 'global', 'global') ?? defaultGlobal;
  const levels = [
    ...(docs.product !== undefined ? [read(docs.product, 'product', 'product:p')] : []),
    read(docs.api, 'api', 'api:a'),
    read(docs.operation, 'operation', 'operation:o'),
  ];
  const effective = compose({ global, levels }, defaultGlobal);
  const ids = (section: SectionName) => effective[section].map((s) => (s.config as { id: string }).id);
  return { ids, diagnostics, effective };
}

const doc = (inbound: string, rest = '') => `<policies><inbound>${inbound}</inbound>${rest}</policies>`;

const cases: { name: string; docs: Docs; inbound: string[] }[] = [
  { name: 'base first at every scope', docs: { global: doc('<mark id="g"/>'), product: doc('<base/><mark id="p"/>'), api: doc('<base/><mark id="a"/>'), operation: doc('<base/><mark id="o"/>') }, inbound: ['g', 'p', 'a', 'o'] },
  { name: 'base last at every scope', docs: { global: doc('<mark id="g"/>'), product: doc('<mark id="p"/><base/>'), api: doc('<mark id="a"/><base/>'), operation: doc('<mark id="o"/><base/>') }, inbound: ['o', 'a', 'p', 'g'] },
  { name: 'base in the middle', docs: { global: doc('<mark id="g"/>'), api: doc('<mark id="a1"/><base/><mark id="a2"/>'), operation: doc('<mark id="o1"/><base/><mark id="o2"/>') }, inbound: ['o1', 'a1', 'g', 'a2', 'o2'] },
  { name: 'base absent at operation cuts every parent', docs: { global: doc('<mark id="g"/>'), api: doc('<base/><mark id="a"/>'), operation: doc('<mark id="o"/>') }, inbound: ['o'] },
  { name: 'base absent at api cuts product and global', docs: { global: doc('<mark id="g"/>'), product: doc('<base/><mark id="p"/>'), api: doc('<mark id="a"/>'), operation: doc('<base/><mark id="o"/>') }, inbound: ['a', 'o'] },
  { name: 'base absent at product cuts global only', docs: { global: doc('<mark id="g"/>'), product: doc('<mark id="p"/>'), api: doc('<base/><mark id="a"/>') }, inbound: ['p', 'a'] },
  { name: 'no api or operation file inherits everything', docs: { global: doc('<mark id="g"/>') }, inbound: ['g'] },
  { name: 'omitted inbound section inherits', docs: { global: doc('<mark id="g"/>'), api: '<policies><outbound><base/></outbound></policies>', operation: doc('<base/><mark id="o"/>') }, inbound: ['g', 'o'] },
  { name: 'empty inbound section cuts inheritance', docs: { global: doc('<mark id="g"/>'), api: doc(''), operation: doc('<base/><mark id="o"/>') }, inbound: ['o'] },
  { name: 'no global file: the default global policy', docs: { api: doc('<base/><mark id="a"/>') }, inbound: ['a'] },
];

for (const c of cases) {
  test(`compose: ${c.name}`, () => {
    const { ids, diagnostics } = build(c.docs);
    assert.deepEqual(diagnostics.errors, []);
    assert.deepEqual(ids('inbound'), c.inbound);
  });
}

test('compose: the default global backend is used when no global file exists or it omits <backend>', () => {
  assert.deepEqual(build({ api: doc('<base/>') }).ids('backend'), ['default-forward']);
  assert.deepEqual(build({ global: doc('<mark id="g"/>') }).ids('backend'), ['default-forward']);
  // An explicitly empty global backend means "no forwarding" (APIM forward-request docs, example 4).
  assert.deepEqual(build({ global: doc('', '<backend/>') }).ids('backend'), []);
});

test('compose: sections compose independently', () => {
  const { ids } = build({
    global: '<policies><inbound><mark id="gi"/></inbound><outbound><mark id="go"/></outbound></policies>',
    api: '<policies><inbound><mark id="ai"/></inbound><outbound><base/><mark id="ao"/></outbound></policies>',
  });
  assert.deepEqual(ids('inbound'), ['ai']);
  assert.deepEqual(ids('outbound'), ['go', 'ao']);
});

test('base at global scope is a warning and has no effect', () => {
  const { ids, diagnostics } = build({ global: doc('<base/><mark id="g"/>') });
  assert.deepEqual(ids('inbound'), ['g']);
  const d = diagnostics.items.find((x) => x.code === 'GH_SCOPE_BASE_AT_GLOBAL');
  assert.equal(d?.severity, 'warning');
  assert.deepEqual([d?.location?.line, d?.location?.column], [1, 20]);
});

test('base twice in one section is an error with position', () => {
  const { diagnostics } = build({ api: '<policies>\n  <inbound>\n    <base/>\n    <base/>\n  </inbound>\n</policies>' });
  const d = diagnostics.errors.find((x) => x.code === 'GH_SCOPE_BASE_DUPLICATE');
  assert.deepEqual([d?.location?.file, d?.location?.line, d?.location?.column], ['api.xml', 4, 5]);
});

test('fragments are expanded in place, keeping their own file positions', () => {
  const { ids, diagnostics, effective } = build(
    { api: doc('<mark id="a1"/><include-fragment fragment-id="frag"/><mark id="a2"/>') },
    { fragments: { frag: '<fragment>\n  <mark id="f1"/>\n  <mark id="f2"/>\n</fragment>' } },
  );
  assert.deepEqual(diagnostics.errors, []);
  assert.deepEqual(ids('inbound'), ['a1', 'f1', 'f2', 'a2']);
  const f2 = effective.inbound[2]?.element.location;
  assert.deepEqual([f2?.file, f2?.line, f2?.column], ['fragments/frag.xml', 3, 3]);
});

test('fragment problems: missing, nested, containing base', () => {
  const missing = build({ api: doc('<include-fragment fragment-id="nope"/>') });
  assert.equal(missing.diagnostics.errors[0]?.code, 'GH_FRAGMENT_NOT_FOUND');
  const nested = build({ api: doc('<include-fragment fragment-id="outer"/>') }, { fragments: { outer: '<fragment><include-fragment fragment-id="inner"/></fragment>', inner: '<fragment><mark id="i"/></fragment>' } });
  assert.equal(nested.diagnostics.errors[0]?.code, 'GH_FRAGMENT_NESTED');
  const withBase = build({ api: doc('<include-fragment fragment-id="f"/>') }, { fragments: { f: '<fragment><base/></fragment>' } });
  assert.equal(withBase.diagnostics.errors[0]?.code, 'GH_FRAGMENT_BASE');
});

test('named values are substituted in attributes and text; a missing one is reported at its position', () => {
  const ok = build({ api: doc('<mark id="x-{{env}}"/>') }, { namedValues: { env: 'dev' } });
  assert.deepEqual(ok.ids('inbound'), ['x-dev']);
  const missing = build({ api: doc('\n<mark id="{{nope}}"/>') }, { namedValues: {} });
  const d = missing.diagnostics.errors[0];
  assert.equal(d?.code, 'GH_NAMED_VALUE_MISSING');
  assert.deepEqual([d?.location?.line, d?.location?.column], [2, 11]);
  const secret = build({ api: doc('<mark id="{{kv}}"/>') }, { namedValues: { kv: null } });
  assert.equal(secret.diagnostics.errors[0]?.code, 'GH_NAMED_VALUE_NO_VALUE');
});

test('document structure errors: root, unknown section, duplicate section', () => {
  assert.equal(build({ api: '<policy><inbound/></policy>' }).diagnostics.errors[0]?.code, 'GH_POLICY_ROOT_INVALID');
  assert.equal(build({ api: '<policies><inbound/><inboud/></policies>' }).diagnostics.errors[0]?.code, 'GH_POLICY_SECTION_UNKNOWN');
  assert.equal(build({ api: '<policies><inbound/><inbound/></policies>' }).diagnostics.errors[0]?.code, 'GH_POLICY_SECTION_DUPLICATE');
});

test('an omitted section below global scope is noted (info), not an error', () => {
  const { diagnostics } = build({ api: '<policies><inbound><base/></inbound></policies>' });
  const omitted = diagnostics.items.filter((d) => d.code === 'GH_POLICY_SECTION_OMITTED');
  assert.equal(omitted.length, 3);
  assert.ok(omitted.every((d) => d.severity === 'info'));
});
