/**
 * BackendBody on its own, fed by hand, with a fake BodyFlow that records what the body asked of
 * the transport (pause, resume, abort): the flow-control and release contract forward.ts and
 * respond.ts rely on.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BackendBody, BodyReleasedError, type BodyConsumer, type BodyFlow } from './body.ts';

const KiB = 1024;

/** Records every call the body makes on its transport, in order. */
class FakeFlow implements BodyFlow {
  readonly calls: string[] = [];
  readonly abortReasons: Error[] = [];
  pause(): void {
    this.calls.push('pause');
  }
  resume(): void {
    this.calls.push('resume');
  }
  abort(reason: Error): void {
    this.calls.push('abort');
    this.abortReasons.push(reason);
  }
}

/** A consumer that records what it receives; `accept` decides data()'s answer per call. */
class RecordingConsumer implements BodyConsumer {
  readonly events: string[] = [];
  readonly errors: Error[] = [];
  constructor(private readonly accept: (chunk: Buffer, index: number) => boolean = () => true) {}
  #count = 0;
  data(chunk: Buffer): boolean {
    this.events.push(`data:${chunk.toString()}`);
    return this.accept(chunk, this.#count++);
  }
  end(): void {
    this.events.push('end');
  }
  error(err: Error): void {
    this.events.push('error');
    this.errors.push(err);
  }
}

function setup(): { flow: FakeFlow; body: BackendBody } {
  const flow = new FakeFlow();
  return { flow, body: new BackendBody(flow) };
}

const b = (text: string): Buffer => Buffer.from(text);

/** 'pending' when `promise` has not settled after a macrotask turn (every microtask has run by then). */
async function state(promise: Promise<unknown>): Promise<'pending' | 'fulfilled' | 'rejected'> {
  const marker = Symbol('pending');
  const settled = promise.then(
    () => 'fulfilled' as const,
    () => 'rejected' as const,
  );
  const result = await Promise.race([settled, new Promise<typeof marker>((resolve) => setImmediate(() => resolve(marker)))]);
  return result === marker ? 'pending' : result;
}

/** Awaits `promise` but fails the test instead of hanging when it does not settle within `ms`. */
async function within<T>(promise: Promise<T>, ms = 1_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('BackendBody: stream()', () => {
  it('delivers chunks pushed before the consumer in order, then those pushed after, then end', () => {
    const { flow, body } = setup();
    body.push(b('a'));
    body.push(b('b'));
    const consumer = new RecordingConsumer();
    body.stream(consumer);
    assert.deepEqual(consumer.events, ['data:a', 'data:b']);
    body.push(b('c'));
    assert.deepEqual(consumer.events, ['data:a', 'data:b', 'data:c']);
    body.end();
    assert.deepEqual(consumer.events, ['data:a', 'data:b', 'data:c', 'end']);
    assert.deepEqual(flow.calls, [], 'no backpressure and no abort for a small body');
  });

  it('delivers a body that ended before the consumer came, then end, exactly once', () => {
    const { body } = setup();
    body.push(b('x'));
    body.push(b('y'));
    body.end();
    const consumer = new RecordingConsumer();
    body.stream(consumer);
    assert.deepEqual(consumer.events, ['data:x', 'data:y', 'end']);
    // Late transport calls after the end change nothing.
    body.push(b('z'));
    body.end();
    body.fail(new Error('late'));
    assert.deepEqual(consumer.events, ['data:x', 'data:y', 'end']);
  });

  it('a consumer returning false pauses the flow; resume() delivers what waited, resumes the flow, then the rest and end', () => {
    const { flow, body } = setup();
    const consumer = new RecordingConsumer((_chunk, index) => index !== 0);
    body.stream(consumer);
    body.push(b('1'));
    assert.deepEqual(flow.calls, ['pause']);
    // undici may still hand over chunks after pause(): they wait, in order.
    body.push(b('2'));
    body.push(b('3'));
    assert.deepEqual(consumer.events, ['data:1']);
    assert.deepEqual(flow.calls, ['pause'], 'paused once, not once per chunk');
    body.resume();
    assert.deepEqual(consumer.events, ['data:1', 'data:2', 'data:3']);
    assert.deepEqual(flow.calls, ['pause', 'resume']);
    body.push(b('4'));
    body.end();
    assert.deepEqual(consumer.events, ['data:1', 'data:2', 'data:3', 'data:4', 'end']);
  });

  it('a body that ends while the consumer waits is ended by resume(), after the waiting chunks', () => {
    const { flow, body } = setup();
    const consumer = new RecordingConsumer((_chunk, index) => index !== 0);
    body.push(b('1'));
    body.push(b('2'));
    body.stream(consumer);
    assert.deepEqual(consumer.events, ['data:1'], 'the drain stops at the first false');
    body.end();
    assert.deepEqual(consumer.events, ['data:1'], 'no end while chunks wait');
    body.resume();
    assert.deepEqual(consumer.events, ['data:1', 'data:2', 'end']);
    assert.deepEqual(flow.calls, ['pause']);
    body.resume();
    assert.deepEqual(consumer.events, ['data:1', 'data:2', 'end'], 'a second resume() delivers nothing more');
  });

  it('resume() without a waiting consumer does nothing', () => {
    const { flow, body } = setup();
    const consumer = new RecordingConsumer();
    body.stream(consumer);
    body.resume();
    body.push(b('a'));
    body.resume();
    assert.deepEqual(consumer.events, ['data:a']);
    assert.deepEqual(flow.calls, []);
  });

  it('a failure after some chunks reaches the consumer as error(), with the transport error', () => {
    const { body } = setup();
    const consumer = new RecordingConsumer();
    body.stream(consumer);
    body.push(b('a'));
    const err = new Error('socket reset');
    body.fail(err);
    assert.deepEqual(consumer.events, ['data:a', 'error']);
    assert.equal(consumer.errors[0], err);
    body.end();
    assert.deepEqual(consumer.events, ['data:a', 'error'], 'nothing after the error');
  });

  it('a body that failed before stream() gives the consumer the error at once; chunks that waited are dropped', () => {
    const { body } = setup();
    body.push(b('lost'));
    const err = new Error('reset');
    body.fail(err);
    const consumer = new RecordingConsumer();
    body.stream(consumer);
    assert.deepEqual(consumer.events, ['error']);
    assert.equal(consumer.errors[0], err);
  });

  it('a released body gives a late consumer BodyReleasedError', () => {
    const { body } = setup();
    body.push(b('a'));
    body.end();
    assert.deepEqual(body.takeComplete(), b('a'));
    const consumer = new RecordingConsumer();
    body.stream(consumer);
    assert.deepEqual(consumer.events, ['error']);
    assert.ok(consumer.errors[0] instanceof BodyReleasedError);
    assert.equal((consumer.errors[0] as BodyReleasedError).code, 'GH_BODY_RELEASED');
  });

  it('a consumer that destroys the body from data() (the client went away) gets nothing more', () => {
    const { flow, body } = setup();
    body.push(b('1'));
    body.push(b('2'));
    body.push(b('3'));
    const consumer = new RecordingConsumer(() => {
      body.destroy();
      return true;
    });
    body.stream(consumer);
    assert.deepEqual(consumer.events, ['data:1']);
    assert.deepEqual(flow.calls, ['abort']);
    body.push(b('4'));
    body.end();
    assert.deepEqual(consumer.events, ['data:1']);
  });
});

describe('BackendBody: backpressure while nobody reads', () => {
  it('pauses the flow when 64 KiB are held, not before, and resumes when a reader takes it below', async () => {
    const { flow, body } = setup();
    body.push(Buffer.alloc(32 * KiB, 1));
    body.push(Buffer.alloc(32 * KiB - 1, 2));
    assert.deepEqual(flow.calls, [], '64 KiB - 1 held: still flowing');
    body.push(Buffer.alloc(1, 3));
    assert.deepEqual(flow.calls, ['pause'], 'exactly 64 KiB held: paused');
    body.push(Buffer.alloc(10, 4));
    assert.deepEqual(flow.calls, ['pause'], 'a chunk arriving while paused does not pause again');

    const it = body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    assert.equal(first.value?.length, 32 * KiB);
    assert.equal(first.value?.[0], 1);
    assert.deepEqual(flow.calls, ['pause', 'resume'], 'below 64 KiB after one read: resumed');
    const second = await it.next();
    assert.equal(second.value?.length, 32 * KiB - 1);
    assert.deepEqual(flow.calls, ['pause', 'resume'], 'resumed once');
  });

  it('stays paused while a read leaves 64 KiB or more held', async () => {
    const { flow, body } = setup();
    body.push(Buffer.alloc(1, 1));
    body.push(Buffer.alloc(64 * KiB, 2));
    assert.deepEqual(flow.calls, ['pause']);
    const it = body[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.length, 1);
    assert.deepEqual(flow.calls, ['pause'], '64 KiB still held');
    assert.equal((await it.next()).value?.length, 64 * KiB);
    assert.deepEqual(flow.calls, ['pause', 'resume']);
  });

  it('a stream() consumer drains a paused queue and resumes the flow', () => {
    const { flow, body } = setup();
    body.push(Buffer.alloc(40 * KiB, 1));
    body.push(Buffer.alloc(40 * KiB, 2));
    assert.deepEqual(flow.calls, ['pause']);
    const sizes: number[] = [];
    body.stream({ data: (chunk) => (sizes.push(chunk.length), true), end: () => sizes.push(-1), error: () => sizes.push(-2) });
    assert.deepEqual(sizes, [40 * KiB, 40 * KiB]);
    assert.deepEqual(flow.calls, ['pause', 'resume']);
    body.end();
    assert.deepEqual(sizes, [40 * KiB, 40 * KiB, -1]);
  });
});

describe('BackendBody: async iteration', () => {
  it('yields every chunk in order, those held and those arriving while a reader waits, then done', async () => {
    const { flow, body } = setup();
    body.push(b('a'));
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of body) seen.push(chunk.toString());
    })();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ['a']);
    body.push(b('b'));
    body.push(b('c'));
    await new Promise((resolve) => setImmediate(resolve));
    body.end();
    await within(reading);
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.deepEqual(flow.calls, []);
  });

  it('a pending next() resolves done at the end, and next() keeps answering done', async () => {
    const { body } = setup();
    const it = body[Symbol.asyncIterator]();
    const pending = it.next();
    assert.equal(await state(pending), 'pending');
    body.end();
    assert.deepEqual(await within(pending), { done: true, value: undefined });
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  });

  it('breaking out of for-await while the body is open aborts the flow once, with BodyReleasedError', async () => {
    const { flow, body } = setup();
    body.push(b('a'));
    body.push(b('b'));
    for await (const chunk of body) {
      assert.equal(chunk.toString(), 'a');
      break;
    }
    assert.deepEqual(flow.calls, ['abort']);
    assert.ok(flow.abortReasons[0] instanceof BodyReleasedError);
    // The transport keeps calling after an abort until it notices: ignored.
    body.push(b('c'));
    body.end();
    assert.deepEqual(await body[Symbol.asyncIterator]().next(), { done: true, value: undefined });
    body.destroy();
    assert.deepEqual(flow.calls, ['abort'], 'no second abort');
  });

  it('breaking out of for-await after the body ended does not abort', async () => {
    const { flow, body } = setup();
    body.push(b('a'));
    body.push(b('b'));
    body.end();
    for await (const chunk of body) {
      assert.equal(chunk.toString(), 'a');
      break;
    }
    assert.deepEqual(flow.calls, []);
    // Released: the rest is gone.
    assert.equal(body.takeComplete(), null);
  });

  it('a failure rejects the pending reader and the next next() with the transport error', async () => {
    const { body } = setup();
    const it = body[Symbol.asyncIterator]();
    body.push(b('a'));
    assert.deepEqual(await it.next(), { done: false, value: b('a') });
    const pending = it.next();
    assert.equal(await state(pending), 'pending');
    const err = new Error('body timeout');
    body.fail(err);
    await assert.rejects(within(pending), (e) => e === err);
    await assert.rejects(it.next(), (e) => e === err);
  });

  it('a failure drops the chunks not yet read: the next next() rejects at once', async () => {
    const { body } = setup();
    body.push(b('a'));
    body.push(b('b'));
    const err = new Error('reset');
    body.fail(err);
    await assert.rejects(body[Symbol.asyncIterator]().next(), (e) => e === err);
  });

  it('destroy() while a reader waits resolves it done and aborts the flow', async () => {
    const { flow, body } = setup();
    const it = body[Symbol.asyncIterator]();
    const pending = it.next();
    body.destroy();
    assert.deepEqual(await within(pending), { done: true, value: undefined });
    assert.deepEqual(flow.calls, ['abort']);
  });
});

describe('BackendBody: takeComplete()', () => {
  it('returns the concatenation of a body that ended unread, once', () => {
    const { flow, body } = setup();
    body.push(b('he'));
    body.push(b('llo'));
    body.end();
    assert.deepEqual(body.takeComplete(), b('hello'));
    assert.equal(body.takeComplete(), null, 'taken: nothing left to take');
    assert.deepEqual(flow.calls, []);
  });

  it('returns the single chunk of a one-chunk body and an empty buffer for an empty body', () => {
    const one = setup().body;
    const chunk = b('only');
    one.push(chunk);
    one.end();
    assert.equal(one.takeComplete(), chunk, 'the chunk itself, not a copy');
    const empty = setup().body;
    empty.end();
    assert.deepEqual(empty.takeComplete(), Buffer.alloc(0));
  });

  it('returns null while the body is open, and leaves it readable', async () => {
    const { body } = setup();
    body.push(b('a'));
    assert.equal(body.takeComplete(), null);
    body.push(b('b'));
    body.end();
    const seen: string[] = [];
    for await (const chunk of body) seen.push(chunk.toString());
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('returns null for a body that failed, was destroyed, or is being streamed', () => {
    const failed = setup().body;
    failed.push(b('a'));
    failed.fail(new Error('reset'));
    assert.equal(failed.takeComplete(), null);

    const destroyed = setup().body;
    destroyed.push(b('a'));
    destroyed.end();
    destroyed.destroy();
    assert.equal(destroyed.takeComplete(), null);

    const streamed = setup().body;
    streamed.push(b('a'));
    streamed.stream(new RecordingConsumer((_chunk, index) => index !== 0));
    streamed.push(b('b'));
    streamed.end();
    assert.equal(streamed.takeComplete(), null, 'the consumer owns it');
  });

  it('after a reader took part of an ended body, returns the unread rest (what stream() would deliver)', async () => {
    const { body } = setup();
    body.push(b('a'));
    body.push(b('b'));
    body.push(b('c'));
    body.end();
    const it = body[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { done: false, value: b('a') });
    // The rest, as the streaming path would write it (the response is the same either way).
    assert.deepEqual(body.takeComplete(), b('bc'));
    assert.equal(body.takeComplete(), null);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  });
});

describe('BackendBody: dump()', () => {
  it('ends a reader waiting for the next chunk', async () => {
    const { flow, body } = setup();
    const pending = body[Symbol.asyncIterator]().next();
    const dumped = body.dump();
    assert.deepEqual(await within(pending), { done: true, value: undefined });
    body.end();
    assert.equal(await within(dumped), undefined);
    assert.deepEqual(flow.calls, []);
  });

  it('drops held and arriving chunks, resumes a paused flow, and resolves at the end', async () => {
    const { flow, body } = setup();
    body.push(Buffer.alloc(64 * KiB));
    assert.deepEqual(flow.calls, ['pause']);
    const dumped = body.dump();
    assert.deepEqual(flow.calls, ['pause', 'resume'], 'the rest must flow to be dropped');
    body.push(Buffer.alloc(10 * KiB));
    assert.equal(await state(dumped), 'pending', 'not released before the end');
    body.end();
    assert.equal(await within(dumped), undefined);
    assert.deepEqual(flow.calls, ['pause', 'resume'], 'no abort under the limit');
    assert.equal(body.takeComplete(), null);
    assert.deepEqual(await body[Symbol.asyncIterator]().next(), { done: true, value: undefined });
  });

  it('aborts the flow (once) and resolves when more than 128 KiB arrive while dumping', async () => {
    const { flow, body } = setup();
    const dumped = body.dump();
    body.push(Buffer.alloc(64 * KiB));
    body.push(Buffer.alloc(64 * KiB));
    assert.deepEqual(flow.calls, [], 'exactly 128 KiB dropped: still within the limit');
    assert.equal(await state(dumped), 'pending');
    body.push(Buffer.alloc(1));
    assert.deepEqual(flow.calls, ['abort']);
    assert.ok(flow.abortReasons[0] instanceof BodyReleasedError);
    assert.equal(await within(dumped), undefined);
    body.push(Buffer.alloc(64 * KiB));
    body.end();
    assert.deepEqual(flow.calls, ['abort']);
  });

  it('counts only what arrives after dump(), not what was already held', async () => {
    const { flow, body } = setup();
    body.push(Buffer.alloc(100 * KiB));
    const dumped = body.dump();
    body.push(Buffer.alloc(100 * KiB));
    body.end();
    await within(dumped);
    assert.deepEqual(flow.calls, ['pause', 'resume']);
  });

  it('resolves (never rejects) when the transfer fails while dumping', async () => {
    const { body } = setup();
    const dumped = body.dump();
    body.fail(new Error('reset'));
    assert.equal(await within(dumped), undefined);
  });

  it('resolves at once for a body that ended, failed or was destroyed, without touching the flow', async () => {
    const ended = setup();
    ended.body.push(b('a'));
    ended.body.end();
    assert.equal(await within(ended.body.dump()), undefined);
    assert.equal(ended.body.takeComplete(), null, 'dumped: released');

    const failed = setup();
    failed.body.fail(new Error('x'));
    assert.equal(await within(failed.body.dump()), undefined);

    const destroyed = setup();
    destroyed.body.destroy();
    assert.equal(await within(destroyed.body.dump()), undefined);
    for (const { flow } of [ended, failed]) assert.deepEqual(flow.calls, []);
    assert.deepEqual(destroyed.flow.calls, ['abort']);
  });

  it('a second dump() while the first is still dropping resolves at once; the first still resolves at the end', async () => {
    const { body } = setup();
    const first = body.dump();
    const second = body.dump();
    assert.equal(await state(second), 'fulfilled', 'released already: nothing more to wait for');
    body.push(b('rest'));
    assert.equal(await state(first), 'pending');
    body.end();
    assert.equal(await state(first), 'fulfilled', 'the first dump() must resolve at the end');
  });

  it('a second dump() keeps the 128 KiB limit of the first', async () => {
    const { flow, body } = setup();
    const first = body.dump();
    void body.dump();
    body.push(Buffer.alloc(100 * KiB));
    body.push(Buffer.alloc(100 * KiB));
    assert.deepEqual(flow.calls, ['abort'], 'past 128 KiB the request is aborted, not drained without limit');
    assert.equal(await within(first), undefined);
  });

  it('destroy() during a dump aborts and resolves the dump', async () => {
    const { flow, body } = setup();
    const dumped = body.dump();
    body.destroy();
    assert.equal(await within(dumped), undefined);
    assert.deepEqual(flow.calls, ['abort']);
  });
});

describe('BackendBody: destroy()', () => {
  it('aborts an open body exactly once, with BodyReleasedError, and is idempotent', () => {
    const { flow, body } = setup();
    body.push(b('a'));
    body.destroy();
    body.destroy();
    body.destroy();
    assert.deepEqual(flow.calls, ['abort']);
    assert.ok(flow.abortReasons[0] instanceof BodyReleasedError);
    assert.equal(body.takeComplete(), null);
  });

  it('does not abort a body that ended (the connection is already free) or failed', () => {
    const ended = setup();
    ended.body.push(b('a'));
    ended.body.end();
    ended.body.destroy();
    assert.deepEqual(ended.flow.calls, []);
    assert.equal(ended.body.takeComplete(), null, 'released: what was held is dropped');

    const failed = setup();
    failed.body.fail(new Error('x'));
    failed.body.destroy();
    assert.deepEqual(failed.flow.calls, []);
  });

  it('a stream() consumer whose body is destroyed receives nothing more', () => {
    const { flow, body } = setup();
    const consumer = new RecordingConsumer();
    body.stream(consumer);
    body.push(b('a'));
    body.destroy();
    body.push(b('b'));
    body.end();
    body.fail(new Error('late'));
    assert.deepEqual(consumer.events, ['data:a']);
    assert.deepEqual(flow.calls, ['abort']);
  });
});

describe('BackendBody: one reader at a time', () => {
  it('refuses a second stream() consumer', () => {
    const { body } = setup();
    body.stream(new RecordingConsumer());
    assert.throws(() => body.stream(new RecordingConsumer()), { message: 'BackendBody: already being read' });
  });

  it('refuses next() while a stream() consumer reads, and stream() while a next() waits', async () => {
    const streamed = setup().body;
    streamed.stream(new RecordingConsumer());
    await assert.rejects(streamed[Symbol.asyncIterator]().next(), { message: 'BackendBody: already being read' });

    const iterated = setup().body;
    const pending = iterated[Symbol.asyncIterator]().next();
    assert.throws(() => iterated.stream(new RecordingConsumer()), { message: 'BackendBody: already being read' });
    iterated.push(b('a'));
    assert.deepEqual(await within(pending), { done: false, value: b('a') }, 'the first reader is unaffected');
  });

  it('refuses a second next() while one waits, without disturbing the first', async () => {
    const { body } = setup();
    const it = body[Symbol.asyncIterator]();
    const first = it.next();
    await assert.rejects(it.next(), { message: 'BackendBody: already being read' });
    body.push(b('a'));
    assert.deepEqual(await within(first), { done: false, value: b('a') });
  });
});
