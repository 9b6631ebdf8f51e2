/**
 * The body of a backend response, fed by undici's dispatch handler (./forward.ts) chunk by chunk.
 *
 * Why not undici's `request()` body (a node Readable) piped into the client response: on a small
 * proxied call the Readable (its state object, 'data'/'end' events, pipe's listeners) and the
 * request API's handler are a large share of the work: the bare passthrough of the bench, rewritten
 * on dispatch, served 2–26 % more requests (three pairs of runs, bench/notes.md). Here a
 * chunk goes from the backend socket to whoever consumes the body in one call, backpressure is
 * undici's pause/resume, and a body that has fully arrived by the time the response is written
 * (the common case for small JSON) is written with the headers in one `end()`.
 *
 * Two ways to consume it, one at a time:
 * - `stream(consumer)`: the HTTP layer's fast path; chunks are handed over as they arrive.
 * - async iteration: for policies that read the body (jsonp); ending the iteration early releases it.
 * Releasing without reading: `dump()` (read and drop a bounded rest so the connection is reused)
 * or `destroy()` (abort the backend request).
 */

/** What undici's dispatch controller offers the body: flow control and abort. */
export interface BodyFlow {
  pause(): void;
  resume(): void;
  abort(reason: Error): void;
}

/** Receives the chunks of a {@link BackendBody} in order, then exactly one of end() or error(). */
export interface BodyConsumer {
  /** One chunk; return false to pause until {@link BackendBody.resume} is called. */
  data(chunk: Buffer): boolean;
  end(): void;
  error(err: Error): void;
}

/** Chunks held while nobody reads; past this the backend is paused (undici's Readable default). */
const HIGH_WATER_MARK = 64 * 1024;
/** What dump() reads and drops to keep the connection; past it the request is aborted (undici's dump default). */
const DUMP_LIMIT = 128 * 1024;

const EMPTY: Buffer[] = [];

/** The error a released body gives a late reader, and the abort reason the backend request gets. */
export class BodyReleasedError extends Error {
  readonly code = 'GH_BODY_RELEASED';
  constructor() {
    super('The backend response body was released before it was read.');
    this.name = 'BodyReleasedError';
  }
}

type State = 'open' | 'ended' | 'failed' | 'released';

export class BackendBody implements AsyncIterable<Buffer> {
  readonly #flow: BodyFlow;
  #state: State = 'open';
  #error: Error | null = null;
  /** Received, not yet handed to a consumer or reader. */
  #queue: Buffer[] = EMPTY;
  #queuedBytes = 0;
  #paused = false;
  #consumer: BodyConsumer | null = null;
  /** The consumer returned false: wait for resume(). */
  #consumerWaiting = false;
  /** A reader's pending next(). */
  #reader: { resolve: (result: IteratorResult<Buffer>) => void; reject: (err: unknown) => void } | null = null;
  /** dump() in progress: chunks are dropped and counted. */
  #dumping: { dropped: number; done: () => void } | null = null;

  constructor(flow: BodyFlow) {
    this.#flow = flow;
  }

  // ── Transport side (forward.ts) ──────────────────────────────────────────────────────────

  /** A chunk from the backend. */
  push(chunk: Buffer): void {
    if (this.#state !== 'open') return;
    const dump = this.#dumping;
    if (dump !== null) {
      dump.dropped += chunk.length;
      if (dump.dropped > DUMP_LIMIT) this.#abort();
      return;
    }
    const consumer = this.#consumer;
    if (consumer !== null && !this.#consumerWaiting && this.#queue.length === 0) {
      if (!consumer.data(chunk)) {
        this.#consumerWaiting = true;
        this.#pause();
      }
      return;
    }
    const reader = this.#reader;
    if (reader !== null) {
      this.#reader = null;
      reader.resolve({ done: false, value: chunk });
      return;
    }
    if (this.#queue === EMPTY) this.#queue = [chunk];
    else this.#queue.push(chunk);
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes >= HIGH_WATER_MARK) this.#pause();
  }

  /** The backend's body is complete. */
  end(): void {
    if (this.#state !== 'open') return;
    if (this.#dumping !== null) {
      this.#state = 'released';
      return this.#finishDump();
    }
    this.#state = 'ended';
    if (this.#consumer !== null && !this.#consumerWaiting && this.#queue.length === 0) return this.#consumer.end();
    if (this.#reader !== null && this.#queue.length === 0) {
      const reader = this.#reader;
      this.#reader = null;
      reader.resolve({ done: true, value: undefined });
    }
  }

  /** The transfer failed (reset, body timeout, abort). Chunks not yet handed over are dropped. */
  fail(err: Error): void {
    if (this.#state !== 'open') return;
    this.#state = 'failed';
    this.#error = err;
    this.#queue = EMPTY;
    this.#queuedBytes = 0;
    if (this.#dumping !== null) return this.#finishDump();
    const consumer = this.#consumer;
    if (consumer !== null) {
      this.#consumer = null;
      return consumer.error(err);
    }
    const reader = this.#reader;
    if (reader !== null) {
      this.#reader = null;
      reader.reject(err);
    }
  }

  // ── Consumer side ────────────────────────────────────────────────────────────────────────

  /**
   * What is left of the body, in one piece, when every byte has arrived and no consumer is
   * attached (all of it unless a reader took some); else null. Lets the HTTP layer write a small
   * response with its headers in one call.
   */
  takeComplete(): Buffer | null {
    if (this.#state !== 'ended' || this.#consumer !== null) return null;
    const queue = this.#queue;
    this.#queue = EMPTY;
    this.#queuedBytes = 0;
    this.#state = 'released';
    return queue.length === 1 ? (queue[0] as Buffer) : Buffer.concat(queue);
  }

  /** Hands the body to `consumer`: what has arrived now, the rest as it comes. Once per body. */
  stream(consumer: BodyConsumer): void {
    if (this.#consumer !== null || this.#reader !== null) throw new Error('BackendBody: already being read');
    if (this.#state === 'failed') return consumer.error(this.#error as Error);
    if (this.#state === 'released') return consumer.error(new BodyReleasedError());
    this.#consumer = consumer;
    this.#drainToConsumer();
  }

  /** The consumer can take more after returning false from data(). */
  resume(): void {
    if (!this.#consumerWaiting) return;
    this.#consumerWaiting = false;
    this.#drainToConsumer();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => this.#next(),
      return: () => {
        this.destroy();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /**
   * Releases the body so the backend connection can be reused: what is left is read and dropped,
   * up to 128 KiB, past which the backend request is aborted. Resolves when released; never rejects.
   */
  dump(): Promise<void> {
    this.#queue = EMPTY;
    this.#queuedBytes = 0;
    // A consumer is dropped without a word (its owner released the body); a waiting reader is done.
    this.#consumer = null;
    this.#finishReader();
    if (this.#state !== 'open' || this.#dumping !== null) {
      if (this.#state !== 'failed' && this.#dumping === null) this.#state = 'released';
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#dumping = { dropped: 0, done: resolve };
      this.#resumeFlow();
    });
  }

  /** Aborts the backend request (when still open) and drops what is held. Idempotent. */
  destroy(): void {
    this.#queue = EMPTY;
    this.#queuedBytes = 0;
    if (this.#state === 'open') this.#abort();
    else if (this.#state === 'ended') this.#state = 'released';
    this.#finishReader();
  }

  // ── Internals ────────────────────────────────────────────────────────────────────────────

  #next(): Promise<IteratorResult<Buffer>> {
    if (this.#consumer !== null || this.#reader !== null) return Promise.reject(new Error('BackendBody: already being read'));
    if (this.#queue.length > 0) {
      const chunk = this.#queue.shift() as Buffer;
      this.#queuedBytes -= chunk.length;
      if (this.#queuedBytes < HIGH_WATER_MARK) this.#resumeFlow();
      return Promise.resolve({ done: false, value: chunk });
    }
    switch (this.#state) {
      case 'ended':
      case 'released':
        return Promise.resolve({ done: true, value: undefined });
      case 'failed':
        return Promise.reject(this.#error);
      default:
        this.#resumeFlow();
        return new Promise((resolve, reject) => (this.#reader = { resolve, reject }));
    }
  }

  #drainToConsumer(): void {
    const consumer = this.#consumer as BodyConsumer;
    while (this.#queue.length > 0) {
      const chunk = this.#queue.shift() as Buffer;
      this.#queuedBytes -= chunk.length;
      if (!consumer.data(chunk)) {
        this.#consumerWaiting = true;
        this.#pause();
        return;
      }
      // data() may have released the body (the client went away).
      if (this.#consumer !== consumer) return;
    }
    this.#queue = EMPTY;
    if (this.#state === 'ended') consumer.end();
    else if (this.#state === 'open') this.#resumeFlow();
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#flow.pause();
  }

  #resumeFlow(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#flow.resume();
  }

  #abort(): void {
    this.#state = 'released';
    this.#consumer = null;
    this.#flow.abort(new BodyReleasedError());
    if (this.#dumping !== null) this.#finishDump();
  }

  #finishReader(): void {
    const reader = this.#reader;
    if (reader !== null) {
      this.#reader = null;
      reader.resolve({ done: true, value: undefined });
    }
  }

  #finishDump(): void {
    const dump = this.#dumping;
    this.#dumping = null;
    dump?.done();
  }
}
