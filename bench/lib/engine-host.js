/**
 * Child process running one engine (the built package) for the engine bench,
 * so the bench's clients and the engine do not share an event loop.
 *
 * Requests: `start { file }` → `{ url, devKey, startMs }`; `usage` → CPU and
 * memory of this process plus group-commit counters; `close`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { benchSchema } from './engine-schema.js';
import { importDist } from './dist.js';
import { serve } from './proc.js';
import { summarize } from './stats.js';

let engine = null;
const counters = { transactions: 0, changes: 0 };
/** Durations of the storage transactions (apply + COMMIT with its fsync), since the last reset. */
let txMs = [];
const loop = monitorEventLoopDelay({ resolution: 1 });

serve({
  async start({ file, devKey }) {
    const { createEngine } = await importDist('src/engine/index.js');
    const schema = await benchSchema(importDist);
    const t0 = performance.now();
    engine = await createEngine({
      file,
      port: 0,
      schema,
      ...(devKey ? { devKey } : {}),
      log: (line) => process.stderr.write(`[engine ${process.pid}] ${line}\n`),
    });
    const startMs = performance.now() - t0;
    // Time each storage transaction from outside: the pipeline calls `storage.transaction` on this object.
    const storage = engine.storage;
    const transaction = storage.transaction.bind(storage);
    storage.transaction = async (fn) => {
      const t0 = performance.now();
      try {
        return await transaction(fn);
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
      storageTx: summarize(txMs),
    };
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
