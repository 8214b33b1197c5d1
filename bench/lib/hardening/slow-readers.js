/**
 * Hardening, item 4: slow readers during bootstrap must not blow up memory.
 *
 * A database of 2,000 rows of 100 KB (`docs`, one board), an engine child run
 * with `--expose-gc` and the default limits (maxBufferedBytes 16 MiB,
 * stallTimeoutMs 15 s), restarted after seeding so its memory starts clean.
 * Then 20 sockets (in this process) send a hello for that board and never read
 * (their TCP sockets are paused). Reported:
 *  - `baseline_rss_mb` / `baseline_heap_used_mb` (after gc) before they connect;
 *  - `peak_rss_mb`: RSS sampled every 10 ms in the engine while they are
 *    connected (and the process's maxRSS), against the bound
 *    `baseline + 20 × maxBufferedBytes + 64 MB` (`under_bound`);
 *  - `dropped_after_s`: time until the engine has dropped all 20 (resync, 4003);
 *  - `heap_used_after_gc_mb` once they are gone, and its difference from the
 *    baseline (`heap_retained_mb`, must be within 20 MB: `heap_within_20mb`).
 *
 *   npm run bench -- hardening --only slow-readers [--sockets 20] [--rows 2000]
 */
import WebSocket from 'ws';
import { waitForDist } from '../dist.js';
import { ENGINE_HOST, option, post, Scope, sleep } from '../scope.js';
import { round } from '../stats.js';
import { syncUrl } from '../ws-client.js';

export const name = 'slow-readers';

const ROW_BYTES = 100 * 1024;
const MAX_BUFFERED = 16 * 1024 * 1024;

/** Open a socket, send hello, and stop reading at once. */
function stalledSocket(url, key) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(syncUrl(url), { perMessageDeflate: false });
    ws.on('error', () => {});
    ws.once('open', () => {
      ws._socket.pause();
      ws.send(JSON.stringify({ type: 'hello', apiKey: key, groups: ['board:slow'] }));
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

async function startEngine(scope) {
  const engine = scope.child(ENGINE_HOST, 'engine', ['--expose-gc']);
  const info = await engine.call('start', { file: scope.file, schema: 'hardening', options: { maxBodyBytes: 16 * 1024 * 1024 }, ...(scope.key ? { devKey: scope.key } : {}) }, 120_000);
  scope.key ??= info.devKey;
  return { engine, url: info.url };
}

export default async function run({ emit, progress, args }) {
  const count = Math.floor(option(args, '--sockets', 20));
  const rows = Math.floor(option(args, '--rows', 2000));
  if (!(await waitForDist(['src/engine/index.js', 'src/schema/index.js']))) throw new Error('dist/ is missing: run `npx tsup` first');

  const scope = new Scope('hardening-slow-readers');
  const sockets = [];
  try {
    let { engine, url } = await startEngine(scope);
    progress(`seeding ${rows} rows of ${ROW_BYTES / 1024} KB`);
    const body = 'x'.repeat(ROW_BYTES - 16);
    for (let from = 0; from < rows; from += 40) {
      const operations = [];
      for (let i = from; i < Math.min(rows, from + 40); i++) {
        operations.push({ op: 'create', model: 'docs', id: `doc_${String(i).padStart(6, '0')}`, data: { body: `${i}:${body}`, boardId: 'slow' } });
      }
      await post(url, scope.key, '/v1/commits', { operations });
    }
    await engine.stop();
    ({ engine, url } = await startEngine(scope));

    const baseline = await engine.call('memory', { gc: true });
    progress(`baseline rss ${round(baseline.rssMb, 1)} MB, heapUsed ${round(baseline.heapUsedMb, 1)} MB; ${count} sockets that never read`);
    await engine.call('sampleMemory', { everyMs: 10 });
    const t0 = performance.now();
    for (let i = 0; i < count; i++) sockets.push(await stalledSocket(url, scope.key));
    // Wait until the engine has let go of every one of them (stall timeout, then close).
    let connected = count;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      connected = (await engine.call('usage')).connections;
      if (connected === 0) break;
      await sleep(100);
    }
    const droppedAfterMs = performance.now() - t0;
    const sampled = await engine.call('stopSampling');
    for (const ws of sockets) ws.terminate();
    await sleep(500);
    const after = await engine.call('memory', { gc: true });

    const peak = Math.max(sampled.peakRssMb, sampled.maxRssMb);
    const bound = baseline.rssMb + (count * MAX_BUFFERED) / 2 ** 20 + 64;
    const retained = after.heapUsedMb - baseline.heapUsedMb;
    emit({
      sockets: count,
      rows,
      row_kb: ROW_BYTES / 1024,
      max_buffered_mb: MAX_BUFFERED / 2 ** 20,
      baseline_rss_mb: round(baseline.rssMb, 1),
      baseline_heap_used_mb: round(baseline.heapUsedMb, 1),
      peak_rss_mb: round(peak, 1),
      peak_rss_samples: sampled.samples,
      peak_heap_used_mb: round(sampled.peakHeapUsedMb, 1),
      peak_external_mb: round(sampled.peakExternalMb, 1),
      bound_mb: round(bound, 1),
      under_bound: peak < bound,
      peak_over_baseline_mb: round(peak - baseline.rssMb, 1),
      still_connected: connected,
      dropped_after_s: round(droppedAfterMs / 1000, 1),
      heap_used_after_gc_mb: round(after.heapUsedMb, 1),
      heap_retained_mb: round(retained, 1),
      heap_within_20mb: retained <= 20,
      rss_after_gc_mb: round(after.rssMb, 1),
    });
  } finally {
    for (const ws of sockets) ws.terminate();
    await scope.close();
  }
}
