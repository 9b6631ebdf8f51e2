/**
 * The control plane for products, versions and revisions: `validate` warns about the two APIM
 * preflight failures (with the <cors> position), `effective-policy` composes with --product and
 * finds versions and revisions by API name; config errors for keys and open products.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.ts';
import { loadGatewayConfig } from '../../src/gateway.ts';
import { formatDiagnostic } from '../../src/policy/diagnostics.ts';
import { startServices } from '../../src/start.ts';

const FOLDER = fileURLToPath(new URL('../fixtures/subscriptions', import.meta.url));
const SHOWN = relative(process.cwd(), FOLDER);

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n'), lines: [...out, ...err] };
}

test('validate: both preflight failures are warnings at the <cors> element, and the folder is valid', async () => {
  const { diagnostics } = await loadGatewayConfig({ configDir: FOLDER });
  const warnings = diagnostics.filter((d) => d.code === 'GH_CORS_PRODUCT_SCOPE_HEADER_KEY' || d.code === 'GH_CORS_HEADER_VERSIONING');
  assert.deepEqual(warnings.map((d) => [d.code, d.severity, `${d.location?.file}:${d.location?.line}:${d.location?.column}`]), [
    ['GH_CORS_PRODUCT_SCOPE_HEADER_KEY', 'warning', 'products/gold/policy.xml:3:5'],
    ['GH_CORS_HEADER_VERSIONING', 'warning', 'apis/films-v1/policy.xml:3:5'],
    ['GH_CORS_HEADER_VERSIONING', 'warning', 'apis/films-v2/policy.xml:3:5'],
  ]);
  const product = warnings[0]?.message ?? '';
  assert.match(product, /product scope \('gold'\)/);
  assert.match(product, /'Ocp-Apim-Subscription-Key', 'X-Api-Key'/);
  assert.match(product, /API\(s\) 'anon', 'catalog', 'custom'/);
  assert.match(product, /\?subscription-key=… or \?apikey=…/);
  assert.match(warnings[1]?.message ?? '', /'films-v1', versioned by header in version set 'films' \(header 'Api-Version'\).*answers 404/);
  // Segment (books), Query (music) and the open product's APIs give no such warning.
  assert.equal(diagnostics.filter((d) => d.severity !== 'info').length, 3);

  const cli = await run('validate', '--config', SHOWN);
  assert.equal(cli.code, 0);
  assert.match(cli.out, /^valid: .*\(0 error\(s\), 3 warning\(s\)/m);
  assert.match(cli.out, /products\/gold\/policy\.xml:3:5 GH_CORS_PRODUCT_SCOPE_HEADER_KEY warning: /);
});

test('effective-policy --product composes the product scope; without it the product is absent', async () => {
  const gold = await run('effective-policy', '--config', FOLDER, '--api', 'catalog', '--product', 'gold');
  assert.equal(gold.code, 0, gold.err);
  assert.match(gold.out, /<!-- product:gold · products\/gold\/policy\.xml:3 -->\n {4}<cors>/);
  assert.match(gold.out, /<!-- product:gold · products\/gold\/policy\.xml:23 -->/);
  const none = await run('effective-policy', '--config', FOLDER, '--api', 'catalog');
  assert.equal(none.code, 0);
  assert.doesNotMatch(none.out, /product:gold|<cors>/);
  const wrong = await run('effective-policy', '--config', FOLDER, '--api', 'catalog', '--product', 'free');
  assert.equal(wrong.code, 1);
  assert.equal(wrong.err, "GH_CLI_NOT_FOUND API 'catalog' is not in product 'free' (its products: gold)");
});

test('effective-policy finds revisions with name;rev=N (the plain name is the current revision)', async () => {
  const rev = async (api: string) => {
    const r = await run('effective-policy', '--config', FOLDER, '--api', api, '--operation', 'list-items');
    assert.equal(r.code, 0, `${api}: ${r.err}`);
    return /<value>(\d)<\/value>/.exec(r.out)?.[1];
  };
  assert.equal(await rev('echo'), '2');
  assert.equal(await rev('echo;rev=1'), '1');
  assert.equal(await rev('echo;rev=2'), '2');
  assert.equal(await rev('echo;rev=3'), '3');
  const missing = await run('effective-policy', '--config', FOLDER, '--api', 'echo;rev=9');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^GH_CLI_NOT_FOUND no API named 'echo;rev=9' \(known: .*echo;rev=1, echo, echo;rev=3/);
});

test('effective-policy finds each version by its API name (Segment, Query, Header, Original)', async () => {
  for (const [api, version] of [['books', 'books-original'], ['books-v2', 'books-v2'], ['music-v1', 'music-v1'], ['films-v2', 'films-v2']]) {
    const r = await run('effective-policy', '--config', FOLDER, '--api', api as string);
    assert.equal(r.code, 0, `${api}: ${r.err}`);
    assert.match(r.out, new RegExp(`<!-- api:${api} · apis/${api}/policy\\.xml:3 -->\\n {4}<cors>`));
    assert.match(r.out, new RegExp(`<value>${version}</value>`));
  }
});

test('config errors: unusable and shared keys, an API in two open products', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-subs-cli-'));
  try {
    await cp(FOLDER, dir, { recursive: true });
    const info = (props: Record<string, unknown>) => JSON.stringify({ properties: props }, null, 2);
    await writeFile(join(dir, 'subscriptions/gold-sub/subscriptionInformation.json'), info({ scope: '/products/gold', state: 'active', primaryKey: 'free-key', secondaryKey: 'has space' }));
    await writeFile(join(dir, 'products/gold/productInformation.json'), info({ displayName: 'Gold', state: 'published', subscriptionRequired: false }));
    const { diagnostics } = await loadGatewayConfig({ configDir: dir });
    const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
    assert.deepEqual(errors, [
      "subscriptions/gold-sub/subscriptionInformation.json:1:1 GH_CONFIG_SUBSCRIPTION_KEY_DUPLICATE the primary key of subscription 'gold-sub' is also the primary key of subscription 'free-sub'; every key must belong to one subscription",
      "subscriptions/gold-sub/subscriptionInformation.json:1:1 GH_CONFIG_SUBSCRIPTION_KEY_INVALID the secondary key of subscription 'gold-sub' has a space, control or non-ASCII character at position 4; keys must be visible ASCII to travel in a header or query string",
    ]);
    // gold is open now: its cors answers keyless preflights, so that warning is gone.
    assert.equal(diagnostics.filter((d) => d.code === 'GH_CORS_PRODUCT_SCOPE_HEADER_KEY').length, 0);

    await writeFile(join(dir, 'products/free/apis.json'), JSON.stringify([{ name: 'public' }, { name: 'catalog' }]));
    await writeFile(join(dir, 'subscriptions/gold-sub/subscriptionInformation.json'), info({ scope: '/products/gold', state: 'active' }));
    const second = await loadGatewayConfig({ configDir: dir });
    assert.deepEqual(second.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), [
      "products/gold/productInformation.json:1:1 GH_CONFIG_OPEN_PRODUCT_DUPLICATE API 'catalog' is in 2 products that require no subscription ('free', 'gold'); APIM allows at most one open product per API, so it would refuse this. gatehouse would use 'free' for requests without a key",
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('start prints the keys it generated, and never a configured key', async () => {
  const before = process.env.GATEHOUSE_LOG_LEVEL;
  process.env.GATEHOUSE_LOG_LEVEL = 'silent';
  const out: string[] = [];
  const started = await startServices({ out: (t) => out.push(t), err: () => {} }, { configDir: FOLDER, port: 0, host: '127.0.0.1' });
  try {
    const generated = started.gateway.snapshot.subscriptions.generated;
    assert.deepEqual(generated.map((g) => g.subscription), ['gold-generated']);
    const text = out.join('\n');
    assert.match(text, /^ {2}subscription keys generated for this run \(set subscriptions\.<name>\.primaryKey in the overlay to keep a key\):$/m);
    assert.match(text, new RegExp(`^ {4}gold-generated \\(product gold\\): primary ${generated[0]?.primaryKey}  secondary ${generated[0]?.secondaryKey}$`, 'm'));
    assert.doesNotMatch(text, /gold-primary-key|overlay-primary-key|all-apis-key/);
  } finally {
    await started.close();
    if (before === undefined) delete process.env.GATEHOUSE_LOG_LEVEL;
    else process.env.GATEHOUSE_LOG_LEVEL = before;
  }
});
