/**
 * Item 5: `/mcp` session caps. 2,000 `initialize` requests (each one opens a
 * session) against an engine child, spread over `--keys` API keys, first with
 * the default caps (32 per key, 256 in total), then with no caps, in the same
 * run. Reports the engine's RSS before and after, how many initializes got a
 * session or a 429, how many sessions are still alive (a ping on each: 200
 * alive, 404 evicted), and what the uncapped sessions cost per session.
 *
 *   npm run bench -- hardening --only mcp-sessions [--sessions 2000] [--keys 16] [--concurrency 16]
 *
 * The engine child is this same file, forked with ABLO_BENCH_MCP_SESSIONS_ENGINE=1
 * (so it can pass `mcpRoutes(caps)` to `createEngine({ routes })`).
 */
import { fileURLToPath } from 'node:url';
import { benchSchema } from '../engine-schema.js';
import { importDist, waitForDist } from '../dist.js';
import { Child, serve } from '../proc.js';
import { Scope, option, sleep } from '../scope.js';
import { round } from '../stats.js';

export const name = 'mcp-sessions';

const SELF = fileURLToPath(import.meta.url);
const ROLE = 'ABLO_BENCH_MCP_SESSIONS_ENGINE';

if (process.env[ROLE] === '1') {
  let engine = null;
  let evictions = 0;
  serve({
    async start({ file, mcp }) {
      const { createEngine } = await importDist('src/engine/index.js');
      const { mcpRoutes } = await importDist('mcp/index.js');
      engine = await createEngine({
        file,
        port: 0,
        schema: await benchSchema(importDist),
        routes: [mcpRoutes(mcp ?? {})],
        log: (line) => {
          if (/evicted/.test(line)) evictions++;
          else process.stderr.write(`[engine ${process.pid}] ${line}\n`);
        },
      });
      return { url: engine.url, devKey: engine.devKey };
    },
    usage() {
      globalThis.gc?.();
      const mem = process.memoryUsage();
      return { rssMb: mem.rss / 2 ** 20, heapUsedMb: mem.heapUsed / 2 ** 20, heapTotalMb: mem.heapTotal / 2 ** 20, maxRssMb: process.resourceUsage().maxRSS / 1024, evictions };
    },
    async close() {
      if (engine) await engine.close();
      engine = null;
    },
  });
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
};

function mcpPost(url, key, body, sessionId) {
  return fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${key}`,
      ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' } : {}),
    },
    body: JSON.stringify(body),
  });
}

/** Run `fn(i)` for i in [0, n) with `width` in flight. */
async function pool(n, width, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function measure({ label, mcp, sessions, keyCount, concurrency, progress }) {
  const scope = new Scope(`mcp-sessions-${label}`);
  try {
    const engine = new Child(SELF, { name: `engine (${label})`, env: { [ROLE]: '1' }, execArgv: ['--expose-gc'] });
    scope.children.push(engine);
    const { url, devKey } = await engine.call('start', { file: scope.file, mcp }, 90_000);
    const keys = [devKey];
    while (keys.length < keyCount) {
      const res = await fetch(`${url}/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${devKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `bench-${keys.length}` }),
      });
      if (res.status !== 201) throw new Error(`POST /v1/keys → ${res.status}: ${await res.text()}`);
      keys.push((await res.json()).key);
    }
    // Load the MCP host once (it is imported on the first /mcp request), so "before" is the idle engine with MCP loaded.
    const warm = await mcpPost(url, devKey, INITIALIZE);
    await warm.text();
    await fetch(`${url}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${devKey}`, 'mcp-session-id': warm.headers.get('mcp-session-id') } }).then((r) => r.text());
    const before = await engine.call('usage');

    progress(`${label}: ${sessions} initialize requests over ${keyCount} keys, ${concurrency} in flight`);
    const opened = [];
    const statuses = {};
    await pool(sessions, concurrency, async (i) => {
      const key = keys[i % keys.length];
      const res = await mcpPost(url, key, INITIALIZE);
      await res.text();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      const id = res.headers.get('mcp-session-id');
      if (res.status === 200 && id) opened.push({ id, key });
    });
    const after = await engine.call('usage');

    let alive = 0;
    let gone = 0;
    await pool(opened.length, concurrency, async (i) => {
      const { id, key } = opened[i];
      const res = await mcpPost(url, key, { jsonrpc: '2.0', id: 2, method: 'ping' }, id);
      await res.text();
      if (res.status === 200) alive++;
      else if (res.status === 404) gone++;
    });
    // V8 gives freed pages back lazily: RSS again a few seconds later.
    await sleep(3000);
    const settled = await engine.call('usage');
    return { before, after, settled, statuses, opened: opened.length, alive, gone };
  } finally {
    await scope.close();
  }
}

export default async function run({ emit, progress, args }) {
  if (!(await waitForDist(['src/engine/index.js', 'mcp/index.js'], 30_000))) throw new Error('dist/ is missing: run `npm run build` first.');
  const sessions = option(args, '--sessions', 2000);
  const keyCount = Math.floor(option(args, '--keys', 16));
  const concurrency = Math.floor(option(args, '--concurrency', 16));
  const runs = [
    { label: 'capped', mcp: undefined, caps: { perKey: 32, total: 256 } },
    { label: 'uncapped', mcp: { maxSessionsPerKey: Infinity, maxSessions: Infinity }, caps: null },
  ];
  const results = {};
  for (const r of runs) {
    const m = await measure({ label: r.label, mcp: r.mcp, sessions, keyCount, concurrency, progress });
    results[r.label] = m;
    emit({
      mode: r.label,
      caps: r.caps,
      keys: keyCount,
      initialize_requests: sessions,
      sessions_opened: m.opened,
      refused_429: m.statuses[429] ?? 0,
      other_status: Object.fromEntries(Object.entries(m.statuses).filter(([s]) => s !== '200' && s !== '429')),
      evicted: m.gone,
      evictions_logged: m.after.evictions,
      sessions_alive: m.alive,
      rss_before_mb: round(m.before.rssMb, 1),
      rss_after_mb: round(m.after.rssMb, 1),
      rss_delta_mb: round(m.after.rssMb - m.before.rssMb, 1),
      rss_settled_mb: round(m.settled.rssMb, 1),
      rss_peak_mb: round(m.settled.maxRssMb, 1),
      heap_total_after_mb: round(m.after.heapTotalMb, 1),
      heap_used_after_gc_mb: round(m.after.heapUsedMb, 1),
      heap_delta_after_gc_mb: round(m.after.heapUsedMb - m.before.heapUsedMb, 1),
    });
  }
  const u = results.uncapped;
  const c = results.capped;
  const perSessionKb = u.alive > 0 ? ((u.after.heapUsedMb - u.before.heapUsedMb) * 1024) / u.alive : null;
  emit({
    mode: 'comparison',
    heap_per_session_kb: perSessionKb === null ? null : round(perSessionKb, 1),
    heap_for_256_sessions_mb: perSessionKb === null ? null : round((perSessionKb * 256) / 1024, 1),
    rss_saved_by_caps_mb: round(u.after.rssMb - c.after.rssMb, 1),
    alive_capped: c.alive,
    alive_uncapped: u.alive,
  });
}
