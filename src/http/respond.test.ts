import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { GatewayResponse } from '../pipeline/context.ts';
import { notFound } from './errors.ts';
import { discardBody, WRITE_SENT, writeResponse } from './respond.ts';
import type { ResponseIssue, WriteResult } from './respond.ts';

/**
 * A server whose handler writes whatever `next` holds; each request records the write result and
 * the issues reported.
 */
let server: Server;
let base = '';
let next: () => GatewayResponse = () => notFound();
/** The `track` option passed to writeResponse; listeners on `res` right after the call are recorded. */
let track: boolean | undefined;
let listenersAfterWrite: { close: number; error: number } | null = null;
let results: { result: Promise<WriteResult>; issues: ResponseIssue[] }[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = createServer((req, res) => {
    const issues: ResponseIssue[] = [];
    results.push({ result: writeResponse(res, next(), { method: req.method ?? 'GET', onIssue: (i) => issues.push(i), track }), issues });
    listenersAfterWrite = { close: res.listenerCount('close'), error: res.listenerCount('error') };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  process.off('unhandledRejection', onUnhandled);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

async function call(response: GatewayResponse, method = 'GET') {
  results = [];
  next = () => response;
  const r = await request(`${base}/`, { method: method as 'GET' });
  const body = await r.body.text();
  const written = results[0];
  assert.ok(written !== undefined);
  return { status: r.statusCode, statusText: r.statusText, headers: r.headers, body, result: await written.result, issues: written.issues };
}

describe('writeResponse: status, headers, in-memory bodies', () => {
  it('writes a string body with its byte length', async () => {
    const r = await call({ status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '1' }, body: 'grüße' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'grüße');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength('grüße')));
    assert.equal(r.result, 'complete');
    assert.deepEqual(r.issues, []);
  });

  it('writes bytes and the APIM 404', async () => {
    const r = await call(notFound());
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body, '{"statusCode":404,"message":"Resource not found"}');
  });

  it('sends Content-Length: 0 for a null body', async () => {
    const r = await call({ status: 202, headers: {}, body: null });
    assert.equal(r.status, 202);
    assert.equal(r.headers['content-length'], '0');
    assert.equal(r.body, '');
  });

  it('writes header lists as several field lines', async () => {
    const r = await call({ status: 200, headers: { 'set-cookie': ['a=1', 'b=2'] }, body: null });
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  });

  it('uses a custom status text when it is writable', async () => {
    const r = await call({ status: 299, statusText: 'Quite Fine', headers: {}, body: null });
    assert.equal(r.status, 299);
    assert.equal(r.statusText, 'Quite Fine');
  });
});

describe('writeResponse: untracked in-memory writes (track: false)', () => {
  after(() => {
    track = undefined;
  });

  it('hands the body to node with no listener and returns the shared WRITE_SENT', async () => {
    track = false;
    const r = await call({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello');
    assert.equal(r.headers['content-length'], '5');
    assert.equal(r.result, 'sent');
    assert.equal(results[0]?.result, WRITE_SENT);
    assert.deepEqual(listenersAfterWrite, { close: 0, error: 0 });
  });

  it('still tracks a stream body', async () => {
    track = false;
    const r = await call({ status: 200, headers: {}, body: Readable.from([Buffer.from('a'), Buffer.from('b')]) });
    assert.equal(r.body, 'ab');
    assert.equal(r.result, 'complete');
  });

  it('tracks by default: the same write adds a close listener and reports complete', async () => {
    track = undefined;
    const r = await call({ status: 200, headers: {}, body: 'hello' });
    assert.equal(r.result, 'complete');
    assert.ok((listenersAfterWrite?.close ?? 0) > 0);
  });
});

describe('writeResponse: refusing what must not be written', () => {
  it('drops header values with CR/LF/NUL and reports them, writing the rest', async () => {
    const r = await call({
      status: 200,
      headers: {
        'x-injected': 'a\r\nSet-Cookie: stolen=1',
        'x-nul': 'a\0b',
        'x-list': ['fine', 'bad\nline'],
        'x-control': 'bell\x07',
        'x-good': 'kept',
      },
      body: 'ok',
    });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    assert.equal(r.headers['x-good'], 'kept');
    for (const gone of ['x-injected', 'x-nul', 'x-list', 'x-control', 'set-cookie']) assert.equal(r.headers[gone], undefined, gone);
    assert.deepEqual(
      r.issues.map((i) => [i.code, i.header, i.message]),
      [
        ['GH_RESPONSE_HEADER_INVALID', 'x-injected', 'the value of x-injected contains CR, LF or NUL; the header was dropped'],
        ['GH_RESPONSE_HEADER_INVALID', 'x-nul', 'the value of x-nul contains CR, LF or NUL; the header was dropped'],
        ['GH_RESPONSE_HEADER_INVALID', 'x-list', 'the value of x-list contains CR, LF or NUL; the header was dropped'],
        ['GH_RESPONSE_HEADER_INVALID', 'x-control', 'the value of x-control contains a control character; the header was dropped'],
      ],
    );
  });

  it('drops invalid header names', async () => {
    const r = await call({ status: 200, headers: { 'bad name': 'x', 'x-ok': '1' }, body: null });
    assert.equal(r.headers['x-ok'], '1');
    assert.deepEqual(r.issues.map((i) => i.header), ['bad?name']);
  });

  it('drops a status text with CR/LF and an impossible status', async () => {
    const text = await call({ status: 201, statusText: 'Created\r\nX-Evil: 1', headers: {}, body: null });
    assert.equal(text.status, 201);
    assert.equal(text.statusText, 'Created');
    assert.equal(text.headers['x-evil'], undefined);
    assert.equal(text.issues.length, 1);

    const status = await call({ status: 42, headers: {}, body: null });
    assert.equal(status.status, 500);
    assert.equal(status.issues[0]?.code, 'GH_RESPONSE_HEADER_INVALID');
  });

  it('drops hop-by-hop headers but honours Connection: close', async () => {
    const r = await call({ status: 200, headers: { 'transfer-encoding': 'gzip', 'keep-alive': 'timeout=1', upgrade: 'x', connection: 'close' }, body: 'x' });
    assert.equal(r.headers['connection'], 'close');
    assert.equal(r.headers['keep-alive'], undefined);
    assert.equal(r.headers['upgrade'], undefined);
    assert.equal(r.headers['transfer-encoding'], undefined);
    assert.equal(r.body, 'x');
  });
});

describe('writeResponse: streams, HEAD and bodiless statuses', () => {
  it('pipes an async iterable with its Content-Length kept', async () => {
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('ab');
      yield Buffer.from('cd');
    }
    const r = await call({ status: 200, headers: { 'content-length': '4' }, body: body() });
    assert.equal(r.body, 'abcd');
    assert.equal(r.headers['content-length'], '4');
    assert.equal(r.result, 'complete');
  });

  it('streams chunked when a stream has no length', async () => {
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('x');
    }
    const r = await call({ status: 200, headers: {}, body: body() });
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.body, 'x');
  });

  it('answers HEAD with headers only and releases the stream body', async () => {
    let closed = false;
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        yield Buffer.from('never sent');
      } finally {
        closed = true;
      }
    }
    const iterable = body();
    // Start the generator so return() runs its finally block.
    const first = await iterable.next();
    assert.equal(first.done, false);
    const r = await call({ status: 200, headers: { 'content-length': '10', 'content-type': 'text/plain' }, body: iterable }, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '10');
    assert.equal(r.body, '');
    assert.equal(r.result, 'complete');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, true);
  });

  it('sends no body and no Content-Length for 204', async () => {
    const r = await call({ status: 204, headers: { 'content-length': '5' }, body: 'ignored' });
    assert.equal(r.status, 204);
    assert.equal(r.headers['content-length'], undefined);
    assert.equal(r.body, '');
  });

  it('reports a body stream that fails after the headers, and breaks the connection', async () => {
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('partial');
      throw Object.assign(new Error('backend reset'), { code: 'UND_ERR_SOCKET' });
    }
    results = [];
    next = () => ({ status: 200, headers: { 'content-length': '100' }, body: body() });
    // The client sees a broken response: either before the headers arrive or in the body.
    await assert.rejects(async () => {
      const r = await request(`${base}/`);
      await r.body.text();
    });
    const written = results[0];
    assert.ok(written !== undefined);
    assert.equal(await written.result, 'failed');
    assert.deepEqual(written.issues, [{ code: 'GH_RESPONSE_BODY_FAILED', message: 'the response body stream failed after the headers were sent: UND_ERR_SOCKET' }]);
  });

  it('ends quietly when the client goes away mid-body, and stops the source', async () => {
    let sourceClosed = false;
    let produced = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          produced++;
          yield Buffer.alloc(16 * 1024, 0x7a);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } finally {
        sourceClosed = true;
      }
    }
    results = [];
    next = () => ({ status: 200, headers: {}, body: endless() });
    const controller = new AbortController();
    const r = await request(`${base}/`, { signal: controller.signal });
    for await (const _chunk of r.body) {
      controller.abort();
      break;
    }
    const written = results[0];
    assert.ok(written !== undefined);
    assert.equal(await written.result, 'aborted');
    assert.deepEqual(written.issues, []);
    assert.equal(sourceClosed, true);
    const producedAtEnd = produced;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(produced, producedAtEnd, 'the source keeps no pace after the abort');
  });
});

describe('writeResponse: node Readable bodies (piped by hand: a custom BackendForwarder may return one)', () => {
  it('pipes a Readable with its Content-Length kept and reports complete', async () => {
    const r = await call({ status: 200, headers: { 'content-length': '6' }, body: Readable.from([Buffer.from('abc'), Buffer.from('def')], { objectMode: false }) });
    assert.equal(r.body, 'abcdef');
    assert.equal(r.headers['content-length'], '6');
    assert.equal(r.result, 'complete');
    assert.deepEqual(r.issues, []);
  });

  it('reports a Readable that errors after the headers, and breaks the connection', async () => {
    const source = new Readable({ read() {} });
    results = [];
    next = () => ({ status: 200, headers: { 'content-length': '100' }, body: source });
    setTimeout(() => {
      source.push(Buffer.from('partial'));
      setTimeout(() => source.destroy(Object.assign(new Error('backend reset'), { code: 'UND_ERR_SOCKET' })), 20);
    }, 20);
    await assert.rejects(async () => {
      const r = await request(`${base}/`);
      await r.body.text();
    });
    const written = results[0];
    assert.ok(written !== undefined);
    assert.equal(await written.result, 'failed');
    assert.deepEqual(written.issues, [{ code: 'GH_RESPONSE_BODY_FAILED', message: 'the response body stream failed after the headers were sent: UND_ERR_SOCKET' }]);
  });

  it('breaks the connection when the Readable closes before its end without an error', async () => {
    const source = new Readable({ read() {} });
    results = [];
    next = () => ({ status: 200, headers: { 'content-length': '100' }, body: source });
    setTimeout(() => {
      source.push(Buffer.from('partial'));
      setTimeout(() => source.destroy(), 20);
    }, 20);
    await assert.rejects(async () => {
      const r = await request(`${base}/`);
      await r.body.text();
    });
    const written = results[0];
    assert.ok(written !== undefined);
    assert.equal(await written.result, 'aborted');
    assert.deepEqual(written.issues, []);
  });

  it('destroys the Readable when the client goes away mid-body, quietly', async () => {
    let pushed = 0;
    const source = new Readable({
      read() {
        pushed++;
        setTimeout(() => this.push(Buffer.alloc(16 * 1024, 0x7a)), 5);
      },
    });
    results = [];
    next = () => ({ status: 200, headers: {}, body: source });
    const controller = new AbortController();
    const r = await request(`${base}/`, { signal: controller.signal });
    for await (const _chunk of r.body) {
      controller.abort();
      break;
    }
    const written = results[0];
    assert.ok(written !== undefined);
    assert.equal(await written.result, 'aborted');
    assert.deepEqual(written.issues, []);
    assert.equal(source.destroyed, true);
    const pushedAtEnd = pushed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(pushed, pushedAtEnd, 'the source is not read any more');
  });

  it('takes the generic path for a Readable that already ended', async () => {
    const source = Readable.from([Buffer.from('x')], { objectMode: false });
    for await (const _chunk of source) {
      // drain it
    }
    assert.equal(source.readableEnded, true);
    const r = await call({ status: 200, headers: {}, body: source });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    assert.equal(r.result, 'complete');
  });
});

describe('discardBody', () => {
  it('ignores in-memory bodies and null', () => {
    discardBody(null);
    discardBody('x');
    discardBody(Buffer.from('x'));
  });

  it('prefers dump(), then destroy(), then return()', async () => {
    const calls: string[] = [];
    const dumpable = { dump: async () => void calls.push('dump'), destroy: () => calls.push('destroy'), [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) };
    discardBody(dumpable as unknown as AsyncIterable<Uint8Array>);
    const destroyable = { destroy: () => calls.push('destroy'), [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) };
    discardBody(destroyable as unknown as AsyncIterable<Uint8Array>);
    const plain = { [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }), return: async () => (calls.push('return'), { done: true, value: undefined }) }) };
    discardBody(plain as unknown as AsyncIterable<Uint8Array>);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['dump', 'destroy', 'return']);
  });
});
