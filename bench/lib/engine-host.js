/**
 * Child process running one engine (the built package) for the benches, so
 * the bench's clients and the engine do not share an event loop.
 *
 * Requests:
 *  - `start { file, databaseUrl?, devKey?, schema?, options? }` → `{ url, devKey, startMs, pid }`
 *    (`databaseUrl`: the engine runs on that Postgres database instead of the SQLite `file`).
 *    `schema`: 'bench' (default, bench/lib/engine-schema.js) or 'hardening'
 *    (boards: `cards` and `docs` grouped by `board:{boardId}`); `options`:
 *    extra engine options (maxBufferedBytes, maxBodyBytes, stallTimeoutMs…).
 *  - `usage` → CPU and memory of this process, group-commit counters, the
 *    engine's read counters, and the main thread's cumulative event-loop
 *    active/idle time (`loopActiveMs` / `loopIdleMs`, for utilization) and
 *    its main thread's scheduler times (`sched`: run / run-queue wait ms).
 *  - `memory { gc? }` → process.memoryUsage() in MiB, after `gc()` when asked
 *    (needs `--expose-gc`).
 *  - `sampleMemory { everyMs? }` starts sampling memory; `stopSampling` → peak
 *    RSS, heapUsed and external since then, the sample count, and the
 *    process's maxRSS.
 *  - `close`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { benchSchema } from './engine-schema.js';
import { importDist } from './dist.js';
import { mainThreadSched } from './machine.js';
import { serve } from './proc.js';
import { summarize } from './stats.js';

let engine = null;
const counters = { transactions: 0, changes: 0 };
/** Durations of the storage transactions (apply + COMMIT with its fsync), since the last reset. */
let txMs = [];
const loop = monitorEventLoopDelay({ resolution: 1 });
let sampler = null;

/** The hardening benches' schema: rows grouped by board. */
async function hardeningSchema(dist) {
  const { defineSchema, model, z } = await dist('src/schema/index.js');
  return defineSchema({
    cards: model({ title: z.string(), boardId: z.string(), n: z.number().int() }, {}, { syncGroupFormat: 'board:{boardId}' }),
    docs: model({ body: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  });
}

const mb = (n) => n / 2 ** 20;

serve({
  async start({ file, databaseUrl, devKey, schema: schemaName = 'bench', options = {}, mcp = false }) {
    const { createEngine } = await importDist('src/engine/index.js');
    // `/mcp` only when asked (the MCP bench's http transport), as `ablo dev` mounts it.
    const routes = mcp ? [(await importDist('mcp/index.js')).mcpRoutes()] : [];
    const schema = schemaName === 'hardening' ? await hardeningSchema(importDist) : await benchSchema(importDist);
    const t0 = performance.now();
    engine = await createEngine({
      ...(databaseUrl ? { databaseUrl } : { file }),
      port: 0,
      schema,
      ...options,
      ...(routes.length ? { routes } : {}),
      ...(devKey ? { devKey } : {}),
      log: (line) => process.stderr.write(`[engine ${process.pid}] ${line}\n`),
    });
    const startMs = performance.now() - t0;
    // Time each storage transaction from outside: the pipeline calls `storage.transaction` on this object.
    const storage = engine.storage;
    const transaction = storage.transaction.bind(storage);
    storage.transaction = async (fn, options) => {
      const t0 = performance.now();
      try {
        return await transaction(fn, options);
      } finally {
        txMs.push(performance.now() - t0);
      }
    };
    engine.on('commit', (e) => {
      counters.transactions++;
      counters.changes += e.changes;
    });
    loop.enable();
    return { url: engine.url, devKey: engine.devKey, startMs, pid: process.pid };
  },
  usage() {
    const cpu = process.cpuUsage();
    const res = process.resourceUsage();
    const mem = process.memoryUsage();
    return {
      cpuMs: (cpu.user + cpu.system) / 1000,
      maxRssMb: res.maxRSS / 1024,
      rssMb: mem.rss / 2 ** 20,
      heapUsedMb: mem.heapUsed / 2 ** 20,
      transactions: counters.transactions,
      changes: counters.changes,
      lastSyncId: engine ? engine.lastSyncId() : 0,
      connections: engine ? engine.connections() : 0,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loopDelayMaxMs: loop.max / 1e6,
      // Cumulative event-loop busy/idle time (ms) of the main thread: busy includes time blocked in a synchronous fsync.
      loopActiveMs: performance.eventLoopUtilization().active,
      loopIdleMs: performance.eventLoopUtilization().idle,
      sched: mainThreadSched(),
      storageTx: summarize(txMs),
      rowsRead: engine ? engine.stats().rowsRead : 0,
      changesRead: engine ? engine.stats().changesRead : 0,
    };
  },
  memory({ gc = false }) {
    if (gc) {
      if (typeof globalThis.gc !== 'function') throw new Error('memory { gc: true } needs the engine process started with --expose-gc');
      globalThis.gc();
      globalThis.gc();
    }
    const m = process.memoryUsage();
    return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) };
  },
  sampleMemory({ everyMs = 10 }) {
    if (sampler) clearInterval(sampler.timer);
    const m = process.memoryUsage();
    sampler = { peak: m.rss, peakHeap: m.heapUsed, peakExternal: m.external, samples: 1, timer: null };
    sampler.timer = setInterval(() => {
      const now = process.memoryUsage();
      sampler.samples++;
      sampler.peak = Math.max(sampler.peak, now.rss);
      sampler.peakHeap = Math.max(sampler.peakHeap, now.heapUsed);
      sampler.peakExternal = Math.max(sampler.peakExternal, now.external);
    }, everyMs);
    return { rssMb: mb(sampler.peak) };
  },
  stopSampling() {
    if (!sampler) throw new Error('sampleMemory was not started');
    clearInterval(sampler.timer);
    const out = {
      peakRssMb: mb(Math.max(sampler.peak, process.memoryUsage.rss())),
      peakHeapUsedMb: mb(sampler.peakHeap),
      peakExternalMb: mb(sampler.peakExternal),
      samples: sampler.samples,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    };
    sampler = null;
    return out;
  },
  resetLoop() {
    loop.reset();
    txMs = [];
  },
  async close() {
    if (engine) await engine.close();
    engine = null;
  },
});
