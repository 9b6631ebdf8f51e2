// Shared by the bench's contender servers: argument parsing and the "listening" handshake the
// orchestrator (bench/run.mjs) waits for. Every server binds 127.0.0.1 only.
import process, { argv, stdout } from 'node:process';
import { URLSearchParams } from 'node:url';

/** `--name value` pairs → object. */
export function args() {
  const out = {};
  for (let i = 2; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

/** The CORS rule every contender implements (docs/performance.md, "The CORS rule"). */
export const CORS = {
  origin: 'http://localhost:3000',
  methods: ['GET', 'POST'],
  headers: ['content-type', 'x-requested-by'],
  maxAge: 600,
};

/** Tells the orchestrator the server is up: one line `LISTENING <port>`. */
export function announce(server) {
  // A clean exit on SIGTERM, so `node --cpu-prof` writes its profile.
  process.once('SIGTERM', () => process.exit(0));
  stdout.write(`LISTENING ${server.address().port}\n`);
}

/** Wraps a JSON body as `callback(<json>);` when the query names a valid `cb` (JSONP). */
export function jsonpCallback(url) {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const cb = new URLSearchParams(url.slice(q + 1)).get('cb');
  return cb && /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/.test(cb) ? cb : undefined;
}
