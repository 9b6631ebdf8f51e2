import type { Body } from './context.ts';

const noop = (): void => {};

/**
 * Releases a body that will not be sent (HEAD, 204, a response replaced by on-error). Streams from
 * undici are dumped (read to a small cap, so the connection can be reused) or destroyed; other
 * async iterables are closed. Never throws.
 */
export function discardBody(body: Body): void {
  if (body === null || typeof body === 'string' || body instanceof Uint8Array) return;
  const b = body as { dump?: () => Promise<void>; destroy?: () => void };
  try {
    if (typeof b.dump === 'function') {
      b.dump().catch(noop);
      return;
    }
    if (typeof b.destroy === 'function') {
      b.destroy();
      return;
    }
    const it = body[Symbol.asyncIterator]();
    if (typeof it.return === 'function') it.return().catch(noop);
  } catch {
    // Releasing is best effort; the body is gone either way.
  }
}
