#!/usr/bin/env node
// Fixed-rate load for "p99 at the same load": sends `rate` requests/s for `seconds` over a pool of
// `connections` keep-alive connections and measures each latency from the moment the request was
// due, not from when it could be sent (no coordinated omission), in microseconds. Prints one JSON
// line. Usage: node rate.mjs URL METHOD HEADERS_JSON BODY|'' RATE SECONDS CONNECTIONS
import { argv, hrtime, stdout } from 'node:process';
import { setTimeout } from 'node:timers';
import { Pool } from 'undici';

const [url, method, headersJson, body, rateArg, secondsArg, connectionsArg] = argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const u = new URL(url);
const pool = new Pool(u.origin, { connections: Number(connectionsArg), pipelining: 1 });
const headers = JSON.parse(headersJson);
const latencies = [];
let errors = 0;
let non2xx = 0;
let inFlight = 0;

const now = () => Number(hrtime.bigint() / 1000n); // µs
// One second at the same rate first, not recorded: connections are opened and this process's
// code is compiled before anything is timed.
const WARMUP_S = 1;
let start = now();
let total = Math.floor(rate * WARMUP_S);
const intervalUs = 1e6 / rate;
let sent = 0;
let recording = false;

function fire(due) {
  const rec = recording;
  inFlight++;
  pool.request({ path: u.pathname + u.search, method, headers, body: body === '' ? undefined : body }).then(
    async (res) => {
      await res.body.dump();
      if (!rec) return;
      if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
      latencies.push(now() - due);
    },
    () => {
      if (rec) errors++;
    },
  ).finally(() => inFlight--);
}

// Bounded: exactly `total` requests, then wait (at most 10 s) for the last answers.
function tick() {
  const t = now();
  while (sent < total && start + sent * intervalUs <= t) fire(start + sent++ * intervalUs);
  // A 1 ms timer, not a busy loop: the load core also runs the backend, and spinning would starve
  // it. Requests due in the meantime go out together and are timed from when they were due.
  if (sent < total) setTimeout(tick, 1);
  else if (!recording) {
    // Warm-up done: the measured part starts now, at the same rate.
    recording = true;
    start = now();
    sent = 0;
    total = Math.floor(rate * seconds);
    setTimeout(tick, 1);
  } else finish(Date.now() + 10_000);
}

function finish(deadline) {
  if (inFlight > 0 && Date.now() < deadline) return setTimeout(() => finish(deadline), 5);
  latencies.sort((a, b) => a - b);
  const p = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] / 1000 : NaN);
  stdout.write(`${JSON.stringify({ requests: latencies.length, seconds, rps: latencies.length / seconds, p50Ms: p(0.5), p99Ms: p(0.99), errors, non2xx })}\n`);
  pool.destroy().then(() => process.exit(0));
}

tick();
