/**
 * A/B measurement in one run: blocks of variant A and variant B in ABBA
 * order (A B B A A B B A …), so drift and machine noise hit both alike, with
 * the engine child's CPU and storage transactions counted per block.
 */
import { machineBusyMs, otherCpuShare } from './machine.js';
import { waitForDist } from './dist.js';
import { round, summarize } from './stats.js';

/**
 * `runBlock(variant)` runs one block and resolves with `{ latencies, wallMs,
 * clientCpuMs, errorCount, errors, ops? }` (`ops` defaults to the number of
 * latencies; every block's whole result is kept in `results`). `engine` is
 * the engine-host child (its `usage` is read around every block).
 */
export async function alternate({ engine, variants: [a, b], blocks, runBlock }) {
  const acc = {};
  for (const v of [a, b]) acc[v] = { latencies: [], wallMs: 0, ops: 0, clientCpuMs: 0, engineCpuMs: 0, transactions: 0, blockRates: [], errorCount: 0, errors: [], results: [] };
  const pairRatios = [];
  let pending = {};
  const busy0 = machineBusyMs();
  let ourCpuMs = 0;
  const t0 = performance.now();
  for (let k = 0; k < blocks; k++) {
    const v = [a, b, b, a][k % 4];
    const before = await engine.call('usage');
    const r = await runBlock(v);
    const after = await engine.call('usage');
    const x = acc[v];
    const ops = r.ops ?? r.latencies.length;
    for (const l of r.latencies) x.latencies.push(l);
    x.wallMs += r.wallMs;
    x.ops += ops;
    x.clientCpuMs += r.clientCpuMs;
    x.engineCpuMs += after.cpuMs - before.cpuMs;
    x.transactions += after.transactions - before.transactions;
    ourCpuMs += r.clientCpuMs + (after.cpuMs - before.cpuMs);
    const rate = ops / (r.wallMs / 1000);
    x.blockRates.push(rate);
    x.errorCount += r.errorCount;
    x.errors.push(...(r.errors ?? []));
    x.results.push(r);
    // Each consecutive pair of blocks (A B, B A) holds one of each: a ratio B/A per pair.
    pending[v] = rate;
    if (k % 2 === 1) {
      pairRatios.push(pending[b] / pending[a]);
      pending = {};
    }
  }
  const wallMs = performance.now() - t0;
  const busy1 = machineBusyMs();
  return { byVariant: acc, pairRatios, otherShare: otherCpuShare(busy0, busy1, ourCpuMs, wallMs), wallMs };
}

/** The figures of one variant, with `prefix` on every key. */
export function variantFigures(x, prefix = '') {
  const lat = summarize(x.latencies);
  return {
    [`${prefix}commits_per_s`]: round(x.ops / (x.wallMs / 1000), 0),
    [`${prefix}p50_ms`]: round(lat.p50, 3),
    [`${prefix}p99_ms`]: round(lat.p99, 3),
    [`${prefix}max_ms`]: round(lat.max, 3),
    [`${prefix}block_commits_per_s`]: x.blockRates.map((r) => round(r, 0)),
    [`${prefix}commits_per_storage_tx`]: round(x.ops / Math.max(1, x.transactions), 1),
    [`${prefix}engine_cpu_ms_per_commit`]: round(x.engineCpuMs / x.ops, 4),
    [`${prefix}client_cpu_ms_per_commit`]: round(x.clientCpuMs / x.ops, 4),
    [`${prefix}errors`]: x.errorCount,
  };
}

/** Median of a list of numbers. */
export function median(values) {
  return summarize(values).p50;
}

/**
 * The JSON-line fields every alternating A/B case reports: both variants'
 * figures, the overall and per-block-pair ratios, engine storage and loop
 * figures, and how busy the rest of the machine was.
 */
export function comparisonFigures(r, after, a, b, bPrefix) {
  const rate = (x) => x.ops / (x.wallMs / 1000);
  return {
    ...variantFigures(a),
    ...variantFigures(b, bPrefix),
    ratio: round(rate(a) / rate(b), 2),
    pair_ratios: r.pairRatios.map((x) => round(x, 2)),
    pair_ratio_median: round(median(r.pairRatios), 2),
    storage_tx_p50_ms: round(after.storageTx.p50, 3),
    storage_tx_p99_ms: round(after.storageTx.p99, 3),
    engine_loop_delay_p99_ms: round(after.loopDelayP99Ms, 2),
    other_processes_cpu_share: round(r.otherShare, 2),
    wall_s: round(r.wallMs / 1000, 1),
    ...(a.errors.length || b.errors.length ? { first_errors: [...a.errors, ...b.errors].slice(0, 3) } : {}),
  };
}

/** False (after saying how to fix it) when the built package a bench needs is missing. */
export async function requireBuiltPackage(bench) {
  if (await waitForDist(['src/index.js', 'src/engine/index.js', 'src/schema/index.js'])) return true;
  process.stderr.write(`error: dist/src/index.js is missing; the ${bench} bench runs the built package.\nfix: run "npx tsup" (or "npm run build") first.\n`);
  return false;
}
