import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayResponse } from '../pipeline/context.ts';
import { gatewayError, internalError, invalidSubscriptionKey, missingSubscriptionKey, notFound, requestTooLarge } from './errors.ts';

function text(response: GatewayResponse): string {
  const body = response.body;
  if (typeof body === 'string') return body;
  assert.ok(body instanceof Uint8Array);
  return Buffer.from(body).toString();
}

describe('gateway error responses', () => {
  it('404 is APIM\'s Resource not found', () => {
    const r = notFound();
    assert.equal(r.status, 404);
    assert.deepEqual(r.headers, { 'content-type': 'application/json' });
    assert.equal(text(r), '{"statusCode":404,"message":"Resource not found"}');
  });

  it('401 has both APIM texts', () => {
    assert.equal(
      text(missingSubscriptionKey()),
      '{"statusCode":401,"message":"Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."}',
    );
    assert.equal(
      text(invalidSubscriptionKey()),
      '{"statusCode":401,"message":"Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."}',
    );
    assert.equal(missingSubscriptionKey().status, 401);
  });

  it('413 closes the connection', () => {
    const r = requestTooLarge();
    assert.equal(r.status, 413);
    assert.equal(r.headers['connection'], 'close');
    assert.equal(text(r), '{"statusCode":413,"message":"Request entity too large"}');
  });

  it('500 carries the activity id when given', () => {
    assert.equal(text(internalError('abc-1')), '{"statusCode":500,"message":"Internal server error","activityId":"abc-1"}');
    assert.equal(text(internalError()), '{"statusCode":500,"message":"Internal server error"}');
  });

  it('the generic builder escapes the message into valid JSON', () => {
    const r = gatewayError(403, 'Caller "x" is not allowed\n');
    assert.equal(r.status, 403);
    assert.deepEqual(JSON.parse(text(r)), { statusCode: 403, message: 'Caller "x" is not allowed\n' });
  });

  it('returns fresh headers each time, so decorators cannot leak into the next response', () => {
    const a = notFound();
    a.headers['access-control-allow-origin'] = '*';
    assert.equal(notFound().headers['access-control-allow-origin'], undefined);
  });
});
