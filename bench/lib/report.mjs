// Turns one bench run into docs/performance.md + docs/performance.svg (full run) or
// .bench-out/<mode>.md + .svg (quick/partial runs). Every figure is from that one run; ratios are
// what the page quotes, never absolute numbers as promises.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const COLORS = {
  direct: '#9e9e9e',
  'node-limit': '#424242',
  gatehouse: '#1565c0',
  fastify: '#2e7d32',
  express: '#ef6c00',
  nginx: '#6a1b9a',
  'gatehouse-w1': '#64b5f6',
  'gatehouse-w2': '#0d47a1',
};

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
const fr = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');

function ok(r) {
  return r !== undefined && r !== null && !r.skipped;
}

/** Targets of issue 6, evaluated on this run's figures. */
export function evaluateTargets(data) {
  const R = data.results;
  const g = (s, c) => (ok(R[s]?.[c]) ? R[s][c] : undefined);
  const rows = [];
  const add = (target, measured, met, note = '') => rows.push({ target, measured, met, note });

  for (const [s, min] of [['preflight', 0.9], ['get', 0.85], ['post', 0.85]]) {
    const gh = g(s, 'gatehouse');
    const lim = g(s, 'node-limit');
    if (!gh || !lim) continue;
    const rr = ratio(gh.rps, lim.rps);
    const cr = ratio(lim.cpuUsPerReq, gh.cpuUsPerReq);
    add(`${s === 'preflight' ? 'Preflight' : s === 'get' ? 'Proxied GET' : 'POST 1 KiB'} ≥ ${min} × the Node limit`, `req/s ${fr(rr)}; CPU/request efficiency ${fr(cr)}`, rr >= min, rr >= min ? '' : `missed by ${((min - rr) * 100).toFixed(0)} points of the limit`);
  }
  for (const peer of ['fastify', 'express']) {
    const behind = [];
    let compared = 0;
    for (const sc of data.scenarios) {
      const gh = g(sc.id, 'gatehouse');
      const p = g(sc.id, peer);
      if (!gh || !p) continue;
      compared++;
      const rr = ratio(gh.rps, p.rps);
      if (!(rr > 1)) behind.push(`${sc.n} (${fr(rr)})`);
    }
    if (compared > 0) {
      const ratios = data.scenarios.filter((sc) => g(sc.id, 'gatehouse') && g(sc.id, peer)).map((sc) => `${sc.n}: ${fr(ratio(g(sc.id, 'gatehouse').rps, g(sc.id, peer).rps))}`);
      add(`Ahead of ${peer} in every scenario (req/s)`, ratios.join(', '), behind.length === 0, behind.length ? `behind in ${behind.join(', ')}` : '');
    }
  }
  for (const s of ['preflight', 'get']) {
    const L = data.latency?.[s];
    if (!L?.gatehouse || !L['node-limit']) continue;
    const rr = ratio(L.gatehouse.p99Ms, L['node-limit'].p99Ms);
    add(`p99 ≤ 1.2 × the Node limit at the same load (${s === 'preflight' ? 'scenario 1' : 'scenario 2'}, ${f0(L.gatehouse.rate)} req/s)`, `${f2(L.gatehouse.p99Ms)} ms vs ${f2(L['node-limit'].p99Ms)} ms = ${fr(rr)}`, rr <= 1.2);
  }
  {
    // Preferably both folders measured interleaved inside scenario 5b; else 5a against 5b.
    const a = g('route-4000', 'gatehouse-1api') ?? g('route-1', 'gatehouse');
    const b = g('route-4000', 'gatehouse');
    if (a && b) {
      const rr = ratio(b.rps, a.rps);
      const cr = ratio(b.cpuUsPerReq, a.cpuUsPerReq);
      // Flat means no cost for the 3,999 other operations: 5b at most 5 % slower (or costlier) than 5a.
      add('Routing flat from 1 to 4,000 operations (5b within 5 % of 5a)', `${g('route-4000', 'gatehouse-1api') ? '200 × 20 vs 1 × 1 folder, interleaved in one scenario: ' : ''}req/s ${fr(rr)}, CPU/request ${fr(cr)}`, rr >= 0.95 || cr <= 1.05, rr > 1.05 ? 'the larger folder came out faster: run-to-run noise, not a routing gain' : '');
    }
  }
  if (data.soak && data.soak.samples.length > 30) {
    // RSS is a sawtooth (it climbs until the collector runs); a leak raises the floor, so compare
    // the lowest RSS early in the run with the lowest in its last third.
    const s = data.soak.samples;
    const third = Math.floor(s.length / 3);
    const early = Math.min(...s.slice(5, 5 + third));
    const late = Math.min(...s.slice(-third));
    const growth = late - early;
    add(`Memory flat over a ${data.soak.seconds} s run (scenario 2)`, `RSS floor ${f0(early)} MiB early → ${f0(late)} MiB in the last third (${growth >= 0 ? '+' : ''}${f1(growth)} MiB; peaks up to ${f0(Math.max(...s))} MiB between collections) over ${f0(data.soak.requests)} requests`, growth < Math.max(5, early * 0.05), 'floor = lowest RSS after a collection; a leak would raise it');
  }
  if (data.streaming) {
    const s = data.streaming;
    add('Streamed responses never buffered whole', `one ${f0(s.bytes / 2 ** 20)} MiB response read slowly: RSS +${f1(s.growthMiB)} MiB (${f0(s.rssBeforeMiB)} → peak ${f0(s.rssPeakMiB)})`, s.bytes === 256 * 2 ** 20 && s.growthMiB < 128, 'holding it whole would add ≥ 256 MiB; what grows is garbage not yet collected (the Node limit grows as much)');
  }
  for (const s of ['preflight', 'get']) {
    const w1 = g(s, 'gatehouse-w1');
    const w2 = g(s, 'gatehouse-w2');
    if (!w1 || !w2) continue;
    const rr = ratio(w2.rps, w1.rps);
    add(`--workers 2 near-linear on two cores (scenario ${s === 'preflight' ? 1 : 2})`, `${fr(rr)} the single process (both unpinned, load generator${s === 'get' ? ' and backend' : ''} on the same two cores)`, rr >= 1.7, rr >= 1.7 ? '' : 'the two cores are shared with the load generator; see below');
  }
  return rows;
}

/** Grouped horizontal bars: req/s ÷ Node limit, and Node-limit CPU ÷ contender CPU, per scenario. */
export function chartSvg(data) {
  const main = data.contenders.filter((c) => c.group === 'main' && c.id !== 'direct');
  const scen = data.scenarios.filter((s) => data.results[s.id]?.['node-limit'] && ok(data.results[s.id]['node-limit']) || s.id === 'route-4000');
  const limitOf = (s) => {
    const id = s.id === 'route-4000' ? 'route-1' : s.id;
    return data.results[id]?.['node-limit'];
  };
  const bar = 14;
  const gap = 10;
  const left = 250;
  const panelW = 330;
  const rowsPer = main.length;
  const height = 70 + scen.length * (rowsPer * bar + gap + 18) + 40;
  const width = left + panelW * 2 + 60;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="10" y="20" font-size="14" font-weight="bold">gatehouse vs peers, as ratios to the Node limit (one run, ${data.date.slice(0, 10)}; longer bar = better)</text>`);
  const panels = [
    { title: 'throughput: req/s ÷ Node limit', x: left, value: (r, lim) => ratio(r.rps, lim.rps) },
    { title: 'CPU efficiency: Node-limit µs/req ÷ contender µs/req', x: left + panelW + 30, value: (r, lim) => ratio(lim.cpuUsPerReq, r.cpuUsPerReq) },
  ];
  const maxV = 2;
  const scale = (v) => (Math.min(v, maxV) / maxV) * (panelW - 40);
  for (const p of panels) {
    out.push(`<text x="${p.x}" y="45" font-weight="bold">${p.title}</text>`);
    const x1 = p.x + scale(1);
    out.push(`<line x1="${x1}" y1="52" x2="${x1}" y2="${height - 30}" stroke="#000" stroke-dasharray="3,3"/>`);
    out.push(`<text x="${x1 - 8}" y="${height - 18}">1.0</text>`);
    out.push(`<text x="${p.x + scale(2) - 8}" y="${height - 18}">2.0</text>`);
    out.push(`<text x="${p.x + scale(2) - 70}" y="${height - 4}" fill="#666">bars stop at 2.0</text>`);
    out.push(`<text x="${p.x - 4}" y="${height - 18}">0</text>`);
  }
  let y = 60;
  for (const s of scen) {
    out.push(`<text x="10" y="${y + 10}" font-weight="bold">${s.n}. ${escapeXml(s.title)}</text>`);
    y += 16;
    const lim = limitOf(s);
    for (const c of main) {
      const r = data.results[s.id]?.[c.id];
      out.push(`<text x="${left - 6}" y="${y + bar - 3}" text-anchor="end" fill="#333">${escapeXml(c.id)}</text>`);
      for (const p of panels) {
        if (ok(r) && ok(lim)) {
          const v = p.value(r, lim);
          out.push(`<rect x="${p.x}" y="${y}" width="${Math.max(1, scale(v)).toFixed(1)}" height="${bar - 3}" fill="${COLORS[c.id] ?? '#888'}"/>`);
          out.push(`<text x="${p.x + Math.max(1, scale(v)) + 4}" y="${y + bar - 4}">${v.toFixed(2)}</text>`);
        } else {
          out.push(`<text x="${p.x + 4}" y="${y + bar - 4}" fill="#999">n/a</text>`);
        }
      }
      y += bar;
    }
    y += gap;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function escapeXml(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function markdown(data, { chartFile, notes }) {
  const L = [];
  const R = data.results;
  L.push('# Performance');
  L.push('');
  L.push('<!-- Generated by `npm run bench` (bench/run.mjs) from one run; the analysis section comes from bench/notes.md. -->');
  L.push('');
  L.push("A gateway's cost is the latency and CPU it adds to every call. This page measures it side by side with what");
  L.push('you would use instead, on one machine in one run. **Read the figures as ratios from this run, never as absolute');
  L.push('promises**: absolute numbers move with the machine, the kernel and whatever else shares it.');
  L.push('');
  L.push(`Run: ${data.date} (${data.mode}, ${data.minutes.toFixed(1)} min). Reproduce with \`npm run bench\` after the README's set-up`);
  L.push('(`npm run bench -- --quick` is the under-a-minute check for a change). Optional: `apt-get install -y wrk nginx-light`;');
  L.push('without them the bench uses autocannon and skips nginx, saying so.');
  L.push('');
  L.push('## Machine and versions');
  L.push('');
  const m = data.machine;
  L.push(`- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB} GiB; ${m.os}`);
  L.push(`- Pinning: ${m.pinning}`);
  L.push(`- Load: ${data.settings.tool}, ${data.settings.warmup} s warm-up, then median of ${data.settings.runs} runs × ${data.settings.seconds} s; ${Object.entries(data.settings.connections).map(([k, v]) => `${k} ${v}`).join(', ')} connections; every contender started afresh for each scenario and checked with one request before it is measured; the runs are interleaved (run 1 of every contender, then run 2 …) so a burst of load from elsewhere on the machine does not land on one contender`);
  L.push(`- Versions: ${Object.entries(data.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  L.push('');
  L.push('## Method');
  L.push('');
  L.push('- **requests/s**: completed requests ÷ run time (closed loop: a fixed number of connections, each sending its next request when the last answer arrived).');
  L.push("- **CPU µs/request**: the server's own CPU time (user + system, its whole process tree, from /proc) ÷ requests served. It does not depend on how busy the load generator's core was, so it is the steadier figure on a shared machine.");
  L.push('- **p50 / p99**: latency under that closed-loop load; the separate *p99 at the same load* table below sends the same fixed rate to every contender.');
  L.push('- **errors**: socket errors, timeouts and non-2xx answers over all runs. **peak RSS**: VmHWM of the server process tree over its life (it is started fresh for each scenario).');
  L.push('- **Contenders**: the backend directly (the limit for proxied calls); the Node limits — a bare `node:http` server answering every OPTIONS with fixed preflight headers and passing everything else through one undici Agent with fixed CORS headers (no checks at all); gatehouse (compiled `dist/`, `gatehouse start --workers 1`, NODE_ENV=production); fastify + @fastify/cors + @fastify/http-proxy; express + cors + http-proxy-middleware; nginx (one worker, `proxy_buffering off`, upstream keep-alive). Sources: `bench/servers/`, `bench/lib/nginx.mjs`.');
  L.push('- **The CORS rule** (the same everywhere): origin `http://localhost:3000`, methods GET and POST, request headers `content-type` and `x-requested-by`, max-age 600, `Vary: Origin`. gatehouse checks the Origin, method and headers and echoes the origin; the Node limit checks nothing.');
  L.push('- **Scenario 5** serves a generated APIOps folder (`bench/lib/apiops.mjs`, written to .bench-out/ at bench time): 5a is one API with one operation, 5b 200 APIs × 20 operations, each API with the same `<cors>` + `<base/>` chain and each operation a policy of `<base/>` in every section; the request goes to the last operation of the last API. fastify, express and nginx get one (5a) or 200 (5b) prefix proxies, as their users would configure them. Scenario 5b also runs gatehouse on the 5a folder, interleaved with the 200 × 20 one, and the routing target compares those two: 5a and 5b run minutes apart, and the machine can change in between.');
  L.push('');
  L.push(`![throughput and CPU efficiency as ratios to the Node limit](${chartFile})`);
  L.push('');
  L.push('## Targets');
  L.push('');
  L.push('| target (issue 6) | measured in this run | met? | note |');
  L.push('| --- | --- | --- | --- |');
  for (const t of evaluateTargets(data)) L.push(`| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} | ${t.note} |`);
  L.push('');
  L.push('## Results');
  L.push('');
  const main = data.contenders.filter((c) => c.group === 'main');
  for (const s of data.scenarios) {
    const row = R[s.id];
    if (!row) continue;
    const present = data.contenders.filter((c) => ok(row[c.id]));
    if (present.length === 0) continue;
    L.push(`### ${s.n}. ${s.title}`);
    L.push('');
    L.push(`\`${s.method} ${s.path}\``);
    L.push('');
    const limId = s.id === 'route-4000' ? R['route-1']?.['node-limit'] : row['node-limit'];
    L.push('| contender | req/s | CPU µs/req | p50 ms | p99 ms | errors | peak RSS MiB | req/s ÷ Node limit | CPU ÷ Node limit |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const c of present) {
      const r = row[c.id];
      L.push(`| ${c.label} | ${f0(r.rps)} | ${f1(r.cpuUsPerReq)} | ${f2(r.p50Ms)} | ${f2(r.p99Ms)} | ${r.errors} | ${f0(r.peakRssMiB)} | ${ok(limId) ? fr(ratio(r.rps, limId.rps)) : '–'} | ${ok(limId) ? fr(ratio(r.cpuUsPerReq, limId.cpuUsPerReq)) : '–'} |`);
    }
    const skipped = data.contenders.filter((c) => row[c.id]?.skipped && c.group === 'main');
    if (skipped.length) L.push(`\nNot measured here: ${skipped.map((c) => `${c.id} (${row[c.id].skipped})`).join('; ')}.`);
    const peers = main.filter((c) => ok(row[c.id]));
    if (peers.length > 1) {
      L.push('');
      L.push('req/s of the row ÷ req/s of the column:');
      L.push('');
      L.push(`| | ${peers.map((c) => c.id).join(' | ')} |`);
      L.push(`| --- | ${peers.map(() => '---:').join(' | ')} |`);
      for (const a of peers) L.push(`| ${a.id} | ${peers.map((b) => (a === b ? '1' : fr(ratio(row[a.id].rps, row[b.id].rps)))).join(' | ')} |`);
    }
    L.push('');
  }
  if (data.latency && Object.keys(data.latency).length) {
    L.push('## p99 at the same load');
    L.push('');
    L.push('A fixed rate (20 % of the Node limit\'s closed-loop rate, at most 5,000 req/s) over 16 connections from `bench/lib/rate.mjs`, an open-loop generator that times each request from the moment it was due (no coordinated omission), so every contender faces the same load; after its own 1 s warm-up, median of the runs. The generator sends on a 1 ms timer (a busy loop would starve the backend on the same core), so every figure includes up to ~1 ms of send delay: compare the ratios.');
    L.push('');
    if (data.latencyNote) {
      L.push(`(This table is from a ${data.latencyNote}, right after the closed-loop run above, on the same machine and builds.)`);
      L.push('');
    }
    L.push('| scenario | contender | rate req/s | p50 ms | p99 ms (median) | p99 of each run | p99 ÷ Node limit | errors |');
    L.push('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |');
    for (const [s, row] of Object.entries(data.latency)) {
      const lim = row['node-limit'];
      for (const [c, r] of Object.entries(row)) L.push(`| ${s} | ${c} | ${f0(r.rate)} | ${f2(r.p50Ms)} | ${f2(r.p99Ms)} | ${(r.p99sMs ?? []).map(f2).join(', ')} | ${lim ? fr(ratio(r.p99Ms, lim.p99Ms)) : '–'} | ${r.errors} |`);
    }
    L.push('');
  }
  if (data.soak) {
    const s = data.soak.samples;
    L.push(`## Memory over ${data.soak.seconds} s`);
    L.push('');
    L.push(`gatehouse under scenario 2 for ${data.soak.seconds} s (${f0(data.soak.rps)} req/s, ${f0(data.soak.requests)} requests); RSS in MiB, one sample a second:`);
    L.push('');
    L.push(`\`${s.map(f0).join(' ')}\``);
    L.push('');
  }
  const w = ['preflight', 'get'].filter((s) => ok(R[s]?.['gatehouse-w1']) && ok(R[s]?.['gatehouse-w2']));
  if (w.length) {
    L.push('## gatehouse --workers');
    L.push('');
    L.push('Both unpinned (node:cluster, one worker per core), with the load generator — and for scenario 2 the backend — on the same two cores.');
    L.push('');
    L.push('| scenario | 1 process req/s | 2 workers req/s | ratio | 1 process CPU µs/req | 2 workers CPU µs/req |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const s of w) {
      const a = R[s]['gatehouse-w1'];
      const b = R[s]['gatehouse-w2'];
      L.push(`| ${s} | ${f0(a.rps)} | ${f0(b.rps)} | ${fr(ratio(b.rps, a.rps))} | ${f1(a.cpuUsPerReq)} | ${f1(b.cpuUsPerReq)} |`);
    }
    L.push('');
  }
  if (data.spread && data.spread.length > 0) {
    const runs = [data, ...data.spread];
    L.push('## Spread across runs');
    L.push('');
    L.push(`The same bench run ${runs.length} times on this machine the same day (this page's run first, then the earlier ones, with the build each measured where it was not this page's; ${data.spread.map((r) => r.date.slice(11, 16) + ' UTC' + (r.spreadNote ? ` (${r.spreadNote})` : '')).join(', ')}). Differences smaller than this spread are not differences.`);
    L.push('');
    L.push(`| scenario | gatehouse req/s ÷ Node limit | gatehouse CPU ÷ Node limit | gatehouse req/s ÷ fastify | gatehouse req/s ÷ express |`);
    L.push('| --- | --- | --- | --- | --- |');
    for (const sc of data.scenarios) {
      const cell = (fn) => runs.map((r) => {
        const res = r.results?.[sc.id];
        const lim = sc.id === 'route-4000' ? r.results?.['route-1']?.['node-limit'] : res?.['node-limit'];
        return fn(res?.gatehouse, lim, res?.fastify, res?.express);
      }).join(' · ');
      L.push(`| ${sc.n} | ${cell((g, l) => (ok(g) && ok(l) ? fr(ratio(g.rps, l.rps)) : '–'))} | ${cell((g, l) => (ok(g) && ok(l) ? fr(ratio(g.cpuUsPerReq, l.cpuUsPerReq)) : '–'))} | ${cell((g, _l, f) => (ok(g) && ok(f) ? fr(ratio(g.rps, f.rps)) : '–'))} | ${cell((g, _l, _f, e) => (ok(g) && ok(e) ? fr(ratio(g.rps, e.rps)) : '–'))} |`);
    }
    const p99 = (r, s) => {
      const L2 = r.latency?.[s];
      return L2?.gatehouse && L2['node-limit'] ? fr(ratio(L2.gatehouse.p99Ms, L2['node-limit'].p99Ms)) : '–';
    };
    const routing = (r) => {
      const b = r.results?.['route-4000']?.gatehouse;
      const a = r.results?.['route-4000']?.['gatehouse-1api'] ?? r.results?.['route-1']?.gatehouse;
      return ok(a) && ok(b) ? fr(ratio(b.rps, a.rps)) : '–';
    };
    L.push('');
    L.push(`p99 at the same load, gatehouse ÷ Node limit: scenario 1 ${runs.map((r) => p99(r, 'preflight')).join(' · ')}; scenario 2 ${runs.map((r) => p99(r, 'get')).join(' · ')}. Routing, 200 × 20 folder ÷ 1 × 1 folder (req/s): ${runs.map(routing).join(' · ')}.`);
    L.push('');
  }
  const before = data.contenders.find((c) => c.group === 'before');
  if (before) {
    L.push('## Before and after the profile work');
    L.push('');
    L.push(`The same run also measured ${before.label}, built from that commit (\`GATEHOUSE_BEFORE=DIR npm run bench\`), interleaved with the current build, so both met the same machine.`);
    L.push('');
    L.push('| scenario | before req/s ÷ Node limit | after req/s ÷ Node limit | before CPU µs/req | after CPU µs/req | CPU after ÷ before |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const s of data.scenarios) {
      const b = R[s.id]?.[before.id];
      const a = R[s.id]?.gatehouse;
      if (!ok(a) || !ok(b)) continue;
      const lim = s.id === 'route-4000' ? R['route-1']?.['node-limit'] : R[s.id]?.['node-limit'];
      L.push(`| ${s.n}. ${s.title} | ${ok(lim) ? fr(ratio(b.rps, lim.rps)) : '–'} | ${ok(lim) ? fr(ratio(a.rps, lim.rps)) : '–'} | ${f1(b.cpuUsPerReq)} | ${f1(a.cpuUsPerReq)} | ${fr(ratio(a.cpuUsPerReq, b.cpuUsPerReq))} |`);
    }
    L.push('');
  }
  if (notes) {
    L.push(notes.trim());
    L.push('');
  }
  return `${L.join('\n')}\n`;
}

/** Writes the page and the chart; returns the paths written. */
export function writeReport(data, { root, full }) {
  const notesFile = join(root, 'bench/notes.md');
  const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8') : '';
  if (full) {
    const md = join(root, 'docs/performance.md');
    const svg = join(root, 'docs/performance.svg');
    writeFileSync(svg, chartSvg(data));
    writeFileSync(md, markdown(data, { chartFile: 'performance.svg', notes }));
    return [md, svg];
  }
  const md = join(root, '.bench-out', `${data.mode}.md`);
  const svg = join(root, '.bench-out', `${data.mode}.svg`);
  writeFileSync(svg, chartSvg(data));
  writeFileSync(md, markdown(data, { chartFile: `${data.mode}.svg`, notes: '' }));
  return [md, svg];
}
