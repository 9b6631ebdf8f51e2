import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadGatewayConfig } from '../../gateway.ts';

const FOLDER = fileURLToPath(new URL('../../../test/fixtures/cors-placement', import.meta.url));

test('cors placement: not first, and shadowed by an earlier cors; each reported once, at the <cors>', async () => {
  const { diagnostics } = await loadGatewayConfig({ configDir: FOLDER });
  const lint = diagnostics.filter((d) => d.code === 'GH_CORS_NOT_FIRST' || d.code === 'GH_CORS_SHADOWED');
  assert.deepEqual(
    lint.map((d) => [d.code, d.severity, d.location?.file, d.location?.line, d.location?.column]),
    [
      // apis/late: a set-header runs first (two operations inherit it: still one warning).
      ['GH_CORS_NOT_FIRST', 'warning', 'apis/late/policy.xml', 4, 5],
      // apis/twice: the global cors arrives through <base/> first, so the API's own never decides.
      ['GH_CORS_SHADOWED', 'warning', 'apis/twice/policy.xml', 4, 5],
    ],
  );
  assert.match(lint[0]?.message ?? '', /<set-header> \(api:late, apis\/late\/policy\.xml:3\) runs before it/);
  assert.match(lint[1]?.message ?? '', /follows the <cors> at policy\.xml:3 \(global\)/);
  assert.equal(diagnostics.filter((d) => d.severity === 'error').length, 0);
});
