/**
 * The SDK (issue 4, "Measure"): the built `ablo` package against a real
 * engine (dist/, own child process, SQLite file in a temp dir), with the SDK
 * clients and raw sockets in another child process (bench/lib/sdk-client.js).
 *
 *   npm run bench -- sdk [--only reads,writes]
 *       [--rows 100000] [--projects 100]                     (1)
 *       [--clients 20] [--per-block 100] [--blocks 24]         (2)
 *
 * One JSON line per measurement:
 *  (1) `local_reads`, one line per `op`: an SDK client whose pool holds
 *      100,000 `tasks` rows (seeded by HTTP commits of 1,000 creates, loaded by
 *      `await ablo.ready()`):
 *      - `get`: `ablo.tasks.get(id)` on random ids, timed in batches of
 *        10,000: ns per op, p50/p99 over the batches;
 *      - `getAll_where`: `getAll({ where: { projectId } })` matching 1% of the
 *        rows: ms per call;
 *      - `getAll_orderBy_limit`: `getAll({ orderBy: { sentAt: 'desc' }, limit: 20 })`
 *        over every row; `getAll_where_orderBy_limit`: the same on the 1% where.
 *      Baseline, interleaved call by call in the same process: the same lookups
 *      on a plain `Map` / array holding the very same row objects (`Map.get`,
 *      `Array#filter`, `filter`/`sort`/`slice`). `ratio` = SDK ops/s ÷ baseline
 *      ops/s (= baseline time ÷ SDK time; 1 = parity). For `getAll_where` the
 *      SDK also sorts by id (its documented order), so `baseline_sorted_*`
 *      shows filter + sort by id too.
 *  (2) `confirmed_writes`: 20 SDK clients, each awaiting
 *      `ablo.items.update({ id: ownRow, data })` (wait 'confirmed') back to
 *      back, against 20 raw `ws` sockets sending
 *      `{ type: 'commit', ref, commit: { operations: [update], idempotencyKey } }`
 *      and awaiting each receipt, on the same engine in the same run. Every
 *      client owns one row and subscribes to that row's lane only. The two run
 *      in alternating blocks (ABBA: raw, sdk, sdk, raw, …). commits/s and
 *      p50/p99 (call → confirmed) for both; `ratio` = SDK commits/s ÷ raw
 *      commits/s (target ≥ 0.8), `pair_ratios` per adjacent raw/sdk pair.
 *
 * `other_processes_cpu_share`: how much of the machine other processes used
 * meanwhile (from /proc/stat). Needs the build (`npx tsup`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternate, comparisonFigures, requireBuiltPackage } from './lib/alternate.js';
import { creates, onlyCases, option, post, Scope, seedRows, withSignalCleanup } from './lib/scope.js';
import { round, summarize } from './lib/stats.js';

export const description = 'SDK: local get/getAll over 100k rows vs a plain Map; confirmed writes through the SDK vs raw frames';

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'lib/sdk-client.js');
const CASES = ['reads', 'writes'];

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'sdk', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench sdk] ${text}\n`);
}

// ---------------------------------------------------------------------------
// (1) local reads over 100,000 rows

async function caseReads(opts) {
  const total = Math.floor(opts.rows);
  const projects = Math.floor(opts.projects);
  const scope = new Scope('sdk-reads');
  try {
    const { url } = await scope.startEngine();
    progress(`(1) seeding ${total} tasks over ${projects} projects through the engine`);
    await post(url, scope.key, '/v1/commits', creates('projects', Array.from({ length: projects }, (_, i) => ({ id: `p${i}`, name: `project ${i}` }))));
    const statuses = ['todo', 'doing', 'done'];
    const seed0 = performance.now();
    await seedRows(url, scope.key, 'tasks', total, (i) => ({
      id: `task-${String(i).padStart(6, '0')}`,
      title: `Task number ${i} of the sdk bench`,
      status: statuses[i % 3],
      projectId: `p${i % projects}`,
      n: i,
      sentAt: 1_700_000_000_000 + ((i * 7919) % total),
      done: i % 2 === 0,
    }));
    const seedMs = performance.now() - seed0;

    progress('(1) SDK client bootstrap, then reads (SDK and baseline interleaved)');
    const client = scope.child(CLIENT, 'reader', ['--expose-gc']);
    const prep = await client.call('readsPrepare', { url, key: scope.key }, 120_000);
    if (prep.rows !== total) throw new Error(`the SDK pool holds ${prep.rows} tasks, expected ${total}`);
    const getBatch = 10_000;
    const r = await client.call('readsRun', { getBatch, getRounds: 100, whereIters: 200, orderIters: 30, projects }, 180_000);
    await client.stop();

    const common = { rows: total, bootstrap_ms: round(prep.bootstrapMs, 0), pool_heap_mb: round(prep.poolHeapMb, 1), seed_rows_per_s: round(total / (seedMs / 1000), 0) };
    const line = (op, unit, s, b, extra = {}) => {
      const digits = unit === 'ns' ? 1 : 3;
      emit({
        case: 'local_reads',
        op,
        ...extra,
        calls: s.count,
        [`p50_${unit}`]: round(s.p50, digits),
        [`p99_${unit}`]: round(s.p99, digits),
        [`baseline_p50_${unit}`]: round(b.p50, digits),
        [`baseline_p99_${unit}`]: round(b.p99, digits),
        ratio: round(b.p50 / s.p50, 2),
        ...common,
      });
    };
    line('get', 'ns', summarize(r.get.sdk), summarize(r.get.base), { batch: getBatch, call: 'tasks.get(randomId)', baseline: 'map.get(randomId)' });
    const sorted = summarize(r.where.sorted);
    line('getAll_where', 'ms', summarize(r.where.sdk), summarize(r.where.base), {
      call: 'tasks.getAll({ where: { projectId } })',
      baseline: 'rows.filter(r => r.projectId === projectId)',
      matched_rows: round(r.where.matchedMean, 0),
      baseline_sorted_p50_ms: round(sorted.p50, 3),
      baseline_sorted_p99_ms: round(sorted.p99, 3),
      ratio_vs_sorted: round(sorted.p50 / summarize(r.where.sdk).p50, 2),
    });
    line('getAll_orderBy_limit', 'ms', summarize(r.orderLimit.sdk), summarize(r.orderLimit.base), {
      call: "tasks.getAll({ orderBy: { sentAt: 'desc' }, limit: 20 })",
      baseline: 'rows.slice().sort(bySentAtDesc).slice(0, 20)',
    });
    line('getAll_where_orderBy_limit', 'ms', summarize(r.whereOrderLimit.sdk), summarize(r.whereOrderLimit.base), {
      call: "tasks.getAll({ where: { projectId }, orderBy: { n: 'desc' }, limit: 20 })",
      baseline: 'rows.filter(byProject).sort(byNDesc).slice(0, 20)',
    });
  } finally {
    await scope.close();
  }
}

// ---------------------------------------------------------------------------
// (2) confirmed writes: SDK vs raw frames

async function caseWrites(opts) {
  const clients = Math.floor(opts.clients);
  const perBlock = Math.floor(opts.perBlock);
  const blocks = Math.max(2, Math.floor(opts.blocks / 2) * 2);
  const scope = new Scope('sdk-writes');
  try {
    const { engine, url } = await scope.startEngine();
    const sdkRows = Array.from({ length: clients }, (_, i) => ({ id: `item-s${i}`, lane: `s${i}` }));
    const rawRows = Array.from({ length: clients }, (_, i) => ({ id: `item-r${i}`, lane: `r${i}` }));
    await post(url, scope.key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
    await post(url, scope.key, '/v1/commits', creates('items', [...sdkRows, ...rawRows].map((r) => ({ id: r.id, lane: r.lane, projectId: 'p1', title: 'start', n: 0 }))));

    progress(`(2) ${clients} SDK clients and ${clients} raw sockets, ${blocks} alternating blocks of ${perBlock} confirmed updates per client`);
    const client = scope.child(CLIENT, 'writers');
    await client.call('writersPrepare', { url, key: scope.key, sdkRows, rawRows, warmup: 50 }, 120_000);
    await engine.call('resetLoop');
    const r = await alternate({
      engine,
      variants: ['raw', 'sdk'],
      blocks,
      runBlock: (variant) => client.call('writersBlock', { variant, perClient: perBlock }, 120_000),
    });
    const after = await engine.call('usage');
    await client.stop();

    const sdk = r.byVariant.sdk;
    const raw = r.byVariant.raw;
    emit({
      case: 'confirmed_writes',
      clients,
      commits_per_variant: sdk.ops,
      blocks,
      ...comparisonFigures(r, after, sdk, raw, 'raw_'),
    });
  } finally {
    await scope.close();
  }
}

// ---------------------------------------------------------------------------

export default async function run(args = []) {
  const only = onlyCases(args, CASES);
  if (!only) return 2;
  const opts = {
    rows: option(args, '--rows', 100_000),
    projects: option(args, '--projects', 100),
    clients: option(args, '--clients', 20),
    perBlock: option(args, '--per-block', 100),
    blocks: option(args, '--blocks', 24),
  };
  if (!(await requireBuiltPackage('sdk'))) return 1;
  return withSignalCleanup('sdk', async () => {
    if (only.includes('reads')) await caseReads(opts);
    if (only.includes('writes')) await caseWrites(opts);
    return 0;
  });
}
