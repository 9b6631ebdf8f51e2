import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DiagnosticBag, formatDiagnostic } from '../policy/diagnostics.ts';
import { defaultOverlay, loadOverlay, parseOverlay } from './overlay.ts';

function parse(text: string, env: Record<string, string> = {}) {
  const bag = new DiagnosticBag();
  const result = parseOverlay(text, 'gatehouse.yaml', bag, env);
  return { ...result, bag, lines: bag.items.map(formatDiagnostic) };
}

describe('parseOverlay: gatehouse shape', () => {
  it('reads every setting', () => {
    const { overlay, bag } = parse(`
listen: { host: 0.0.0.0, port: 9000 }
compat:
  corsTerminateUnmatchedDefault: true
  corsOnGatewayErrors: true
  skipUnimplementedPolicies: true
namedValues:
  Plain: hello
  Number: 1.50
subscriptions:
  starter: { primaryKey: p1, secondaryKey: s1 }
  other: { secondaryKey: s2 }
backends:
  orders: http://localhost:9002
apis:
  echo: { serviceUrl: 'https://localhost:9443/base' }
limits:
  maxHeaderBytes: 8192
  maxBodyBytes: 0
  backendTimeoutSeconds: 2.5
trustedProxies: [10.0.0.0/8, '::1', 192.168.1.7]
`);
    assert.deepEqual(bag.items, []);
    assert.deepEqual({ ...overlay, namedValues: { ...overlay.namedValues }, subscriptionKeys: { ...overlay.subscriptionKeys }, backendUrls: { ...overlay.backendUrls }, serviceUrls: { ...overlay.serviceUrls } }, {
      file: 'gatehouse.yaml',
      listen: { host: '0.0.0.0', port: 9000 },
      compat: { corsTerminateUnmatchedDefault: true, corsOnGatewayErrors: true, skipUnimplementedPolicies: true },
      // A number is taken as written, so 1.50 stays "1.50".
      namedValues: { Plain: 'hello', Number: '1.50' },
      subscriptionKeys: { starter: { primaryKey: 'p1', secondaryKey: 's1' }, other: { secondaryKey: 's2' } },
      backendUrls: { orders: 'http://localhost:9002' },
      serviceUrls: { echo: 'https://localhost:9443/base' },
      limits: { maxHeaderBytes: 8192, maxBodyBytes: 0, backendTimeoutMs: 2500 },
      trustedProxies: ['10.0.0.0/8', '::1', '192.168.1.7'],
    });
  });

  it('uses the defaults for an empty file and for sections left empty', () => {
    const empty = parse('');
    assert.deepEqual(empty.bag.items, []);
    assert.deepEqual(empty.overlay, { ...defaultOverlay(), file: 'gatehouse.yaml' });
    const blank = parse('listen:\ncompat:\n');
    assert.deepEqual(blank.bag.items, []);
    assert.deepEqual(blank.overlay.listen, { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(defaultOverlay().limits, { maxHeaderBytes: 16384, maxBodyBytes: 104857600, backendTimeoutMs: 300000 });
    assert.deepEqual(defaultOverlay().compat, { corsTerminateUnmatchedDefault: false, corsOnGatewayErrors: false, skipUnimplementedPolicies: false });
  });

  it('reports unknown keys at the key, top-level and nested, and keeps going', () => {
    const { lines, overlay } = parse('listen:\n  hots: x\n  port: 81\nlisten2: 1\n');
    assert.deepEqual(lines, [
      "gatehouse.yaml:2:3 GH_CONFIG_OVERLAY_INVALID unknown key 'listen.hots' (expected one of: host, port)",
      'gatehouse.yaml:4:1 GH_CONFIG_OVERLAY_INVALID unknown overlay key \'listen2\' (expected one of: listen, compat, limits, trustedProxies, namedValues, subscriptions, backends, apis)',
    ]);
    assert.equal(overlay.listen.port, 81);
  });

  it('reports wrong types and ranges at the value', () => {
    const { lines } = parse(`listen:
  port: eighty
compat:
  corsOnGatewayErrors: yes
limits:
  maxHeaderBytes: -1
  backendTimeoutSeconds: 0
trustedProxies: 10.0.0.1
namedValues:
  nested: { a: b }
subscriptions:
  s: key-without-mapping
`);
    assert.deepEqual(lines, [
      'gatehouse.yaml:2:9 GH_CONFIG_OVERLAY_INVALID listen.port must be a number',
      // YAML 1.2: `yes` is a string, not a boolean.
      'gatehouse.yaml:4:24 GH_CONFIG_OVERLAY_INVALID compat.corsOnGatewayErrors must be true or false',
      'gatehouse.yaml:6:19 GH_CONFIG_OVERLAY_INVALID limits.maxHeaderBytes must be an integer from 1 to 2147483647',
      'gatehouse.yaml:7:26 GH_CONFIG_OVERLAY_INVALID limits.backendTimeoutSeconds must be a number greater than 0',
      'gatehouse.yaml:8:17 GH_CONFIG_OVERLAY_INVALID trustedProxies must be a list',
      'gatehouse.yaml:10:11 GH_CONFIG_OVERLAY_INVALID namedValues.nested must be a string or a number',
      'gatehouse.yaml:12:6 GH_CONFIG_OVERLAY_INVALID subscriptions.s must be a mapping',
    ]);
  });

  it('refuses a port out of range, a bad proxy address and a non-http backend URL', () => {
    const { lines } = parse('listen: { port: 70000 }\ntrustedProxies: [10.0.0.0/33, not-an-ip]\nbackends: { b: "ftp://x" }\n');
    assert.deepEqual(lines, [
      'gatehouse.yaml:1:17 GH_CONFIG_OVERLAY_INVALID listen.port must be an integer from 0 to 65535',
      "gatehouse.yaml:2:18 GH_CONFIG_OVERLAY_INVALID trustedProxies: '10.0.0.0/33' is not an IP address or CIDR range",
      "gatehouse.yaml:2:31 GH_CONFIG_OVERLAY_INVALID trustedProxies: 'not-an-ip' is not an IP address or CIDR range",
      "gatehouse.yaml:3:16 GH_CONFIG_SERVICE_URL_INVALID backends.b: 'ftp://x' is not an absolute http(s) URL",
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const { lines } = parse('listen:\n  port: 1\n  port: 2\n');
    assert.deepEqual(lines, ['gatehouse.yaml:3:3 GH_CONFIG_OVERLAY_INVALID invalid YAML: Map keys must be unique']);
  });

  it('treats __proto__ as an ordinary name', () => {
    const { overlay, bag } = parse('namedValues:\n  __proto__: polluted\n');
    assert.deepEqual(bag.items, []);
    assert.equal(Object.getOwnPropertyDescriptor(overlay.namedValues, '__proto__')?.value, 'polluted');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

describe('parseOverlay: ${env:NAME}', () => {
  it('expands environment variables in strings, numbers and booleans; $${ is a literal', () => {
    const { overlay, bag } = parse(`
listen: { host: '\${env:HOST}', port: '\${env:PORT}' }
compat: { corsOnGatewayErrors: '\${env:FLAG}' }
namedValues:
  Token: 'Bearer \${env:TOKEN}'
  Literal: '$\${env:TOKEN} and \${other}'
`, { HOST: '::', PORT: '3000', FLAG: 'true', TOKEN: 'abc' });
    assert.deepEqual(bag.items, []);
    assert.deepEqual(overlay.listen, { host: '::', port: 3000 });
    assert.equal(overlay.compat.corsOnGatewayErrors, true);
    assert.deepEqual({ ...overlay.namedValues }, { Token: 'Bearer abc', Literal: '${env:TOKEN} and ${other}' });
  });

  it('reports an unset variable at the value instead of using an empty string', () => {
    const { overlay, lines } = parse('namedValues:\n  Token: ${env:MISSING_TOKEN}\n');
    assert.deepEqual(lines, ['gatehouse.yaml:2:10 GH_CONFIG_OVERLAY_INVALID namedValues.Token: environment variable MISSING_TOKEN is not set']);
    assert.equal(overlay.namedValues['Token'], undefined);
  });
});

describe('parseOverlay: APIOps configuration.<env>.yaml', () => {
  it('maps named values (by resource name), backends, API service URLs and subscription keys; warns about the rest', () => {
    const r = parse(`apimServiceName: apim-dev
namedValues:
  - name: kv-token
    properties:
      value: \${env:KV}
      secret: true
backends:
  - name: orders
    properties: { url: 'http://localhost:1', protocol: http }
apis:
  - name: echo;rev=2
    properties: { serviceUrl: 'http://localhost:2' }
    diagnostics: []
subscriptions:
  - name: starter
    properties: { primaryKey: k1 }
policies:
  - name: policy
    properties: { format: rawxml }
listen: { port: 0 }
`, { KV: 'from-env' });
    assert.deepEqual({ ...r.namedValuesByName }, { 'kv-token': 'from-env' });
    assert.deepEqual({ ...r.overlay.namedValues }, {});
    assert.deepEqual({ ...r.overlay.backendUrls }, { orders: 'http://localhost:1' });
    assert.deepEqual({ ...r.overlay.serviceUrls }, { echo: 'http://localhost:2' });
    assert.deepEqual({ ...r.overlay.subscriptionKeys }, { starter: { primaryKey: 'k1' } });
    assert.equal(r.overlay.listen.port, 0);
    assert.deepEqual(r.lines, [
      "gatehouse.yaml:3:5 GH_CONFIG_ARTIFACT_SKIPPED warning: APIOps configuration 'namedValues[].properties.secret' is not used by gatehouse",
      "gatehouse.yaml:8:5 GH_CONFIG_ARTIFACT_SKIPPED warning: APIOps configuration 'backends[].properties.protocol' is not used by gatehouse",
      "gatehouse.yaml:11:5 GH_CONFIG_ARTIFACT_SKIPPED warning: APIOps configuration 'apis[].diagnostics' is not used by gatehouse",
      "gatehouse.yaml:17:1 GH_CONFIG_ARTIFACT_SKIPPED warning: APIOps configuration section 'policies' is not used by gatehouse",
    ]);
  });

  it('requires a name on every entry', () => {
    const { lines } = parse('namedValues:\n  - properties: { value: x }\n');
    assert.deepEqual(lines, ["gatehouse.yaml:2:5 GH_CONFIG_OVERLAY_INVALID namedValues: every entry needs a 'name'"]);
  });
});

describe('loadOverlay', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('reads gatehouse.yaml from the root when present, and uses defaults silently when absent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-overlay-'));
    dirs.push(dir);
    const bag = new DiagnosticBag();
    assert.deepEqual((await loadOverlay(dir, bag)).overlay, defaultOverlay());
    await writeFile(join(dir, 'gatehouse.yaml'), 'listen: { port: 1234 }\n');
    const loaded = await loadOverlay(dir, bag);
    assert.deepEqual(bag.items, []);
    assert.equal(loaded.overlay.file, 'gatehouse.yaml');
    assert.equal(loaded.overlay.listen.port, 1234);
  });

  it('reports an overlay file given explicitly that does not exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-overlay-'));
    dirs.push(dir);
    const bag = new DiagnosticBag();
    const missing = join(dir, 'nope.yaml');
    const loaded = await loadOverlay(dir, bag, { overlayFile: missing });
    assert.deepEqual(bag.items.map(formatDiagnostic), ["GH_CONFIG_NOT_FOUND cannot read overlay file 'nope.yaml' (ENOENT)"]);
    assert.equal(loaded.overlay.file, null);
  });
});
