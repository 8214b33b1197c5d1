/**
 * Coordination (issue 5, "Measure"): claims and the stale-write guard on a
 * real engine (dist/, own child process, SQLite file in a temp dir), driven by
 * SDK clients (the built `ablo` package) in another child process
 * (bench/lib/sdk-client.js).
 *
 *   npm run bench -- claims [--only handoff,stale]
 *       [--agents 50] [--rows 5] [--rounds 20] [--handoff-blocks 8]   (1)
 *       [--clients 20] [--per-block 100] [--stale-blocks 24]          (2)
 *
 * One JSON line per case:
 *  (1) `handoff`: 50 agents, each its own SDK client (own socket, own
 *      participant), contend for 5 `items` rows (10 per row; each agent
 *      subscribes to its row's lane). One hold: `await ablo.items.claim({ id })`
 *      (waiting in the fair queue), a confirmed `update` of `n` to
 *      `claim.data.n + 1`, `await handle.release()`, then straight back into
 *      the line, `--rounds` times per block. Hand-off latency: from the
 *      previous holder's `release()` call to the next holder's `claim()`
 *      resolving, for every grant whose request was waiting when that release
 *      was called (all agents are in one process, one clock). Hand-offs/s:
 *      those grants ÷ wall time, over all 5 rows. Checked on the way:
 *      `overlaps` (a grant while the previous holder had not released),
 *      `stale_grants` (`claim.data.n` not showing the previous holder's
 *      write) and `lost_writes` (final `n` on the engine ≠ number of holds).
 *      Reference in the same run, in alternating blocks (ABBA) on 5 other
 *      rows: the same loop by 50 raw `ws` sockets speaking the claim /
 *      commit / release frames directly (`raw_*`), so the SDK's share of the
 *      latency is visible.
 *  (2) `stale_checked_commits`: 20 SDK clients, each on its own row, each
 *      sending confirmed updates back to back: guarded (`readAt` = the row's
 *      `syncId` as the local pool shows it, `onStale: 'reject'`; nobody else
 *      writes the row, so none is stale) against unguarded (the same update
 *      without `readAt`), same clients, alternating blocks (ABBA).
 *      commits/s and p50/p99 for both; `ratio` = guarded ÷ unguarded
 *      commits/s (target ≥ 0.8); `engine_cpu_ms_per_commit` isolates the
 *      engine's cost of the check.
 *
 * Needs the build (`npx tsup`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternate, comparisonFigures, requireBuiltPackage } from './lib/alternate.js';
import { creates, getJson, onlyCases, option, post, Scope, withSignalCleanup } from './lib/scope.js';
import { round, summarize } from './lib/stats.js';

export const description = 'claims: hand-off latency and rate under contention (50 agents, 5 rows); stale-checked vs unguarded commits/s';

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'lib/sdk-client.js');
const CASES = ['handoff', 'stale'];
const WARMUP_ROUNDS = 5;

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'claims', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench claims] ${text}\n`);
}

// ---------------------------------------------------------------------------
// (1) claim hand-off under contention

function handoffFigures(x, prefix = '') {
  const h = summarize(x.latencies);
  const waits = summarize(x.results.flatMap((r) => Array.from(r.waits)));
  const sum = (f) => x.results.reduce((s, r) => s + f(r), 0);
  const holds = sum((r) => r.waits.length);
  return {
    [`${prefix}handoffs`]: x.ops,
    [`${prefix}handoff_p50_ms`]: round(h.p50, 3),
    [`${prefix}handoff_p99_ms`]: round(h.p99, 3),
    [`${prefix}handoff_max_ms`]: round(h.max, 3),
    [`${prefix}handoffs_per_s`]: round(x.ops / (x.wallMs / 1000), 0),
    [`${prefix}block_handoffs_per_s`]: x.blockRates.map((r) => round(r, 0)),
    [`${prefix}queue_wait_p50_ms`]: round(waits.p50, 2),
    [`${prefix}queue_wait_p99_ms`]: round(waits.p99, 2),
    [`${prefix}uncontended_grants`]: sum((r) => r.uncontended),
    [`${prefix}overlaps`]: sum((r) => r.overlaps),
    [`${prefix}stale_grants`]: sum((r) => r.staleGrants),
    [`${prefix}engine_cpu_ms_per_hold`]: round(x.engineCpuMs / holds, 4),
    [`${prefix}client_cpu_ms_per_hold`]: round(x.clientCpuMs / holds, 4),
    [`${prefix}errors`]: x.errorCount,
  };
}

async function caseHandoff(opts) {
  const agents = Math.floor(opts.agents);
  const rowsPer = Math.floor(opts.rows);
  const rounds = Math.floor(opts.rounds);
  const blocks = Math.max(2, Math.floor(opts.handoffBlocks / 2) * 2);
  const scope = new Scope('claims-handoff');
  try {
    const { engine, url } = await scope.startEngine();
    const rows = {
      sdk: Array.from({ length: rowsPer }, (_, r) => ({ id: `hand-s${r}`, lane: `hs${r}` })),
      raw: Array.from({ length: rowsPer }, (_, r) => ({ id: `hand-r${r}`, lane: `hr${r}` })),
    };
    await post(url, scope.key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
    await post(url, scope.key, '/v1/commits', creates('items', [...rows.sdk, ...rows.raw].map((r) => ({ ...r, projectId: 'p1', title: 'contended', n: 0 }))));

    progress(`(1) ${agents} SDK agents on ${rowsPer} rows (and ${agents} raw sockets on ${rowsPer} others), ${blocks} alternating blocks of ${rounds} holds per agent`);
    const client = scope.child(CLIENT, 'agents');
    await client.call('handoffPrepare', { url, key: scope.key, agents, rows }, 120_000);
    // Warm up both kinds (JIT, sockets) before anything is timed.
    for (const kind of ['sdk', 'raw']) {
      const w = await client.call('handoffBlock', { kind, rounds: WARMUP_ROUNDS }, 120_000);
      if (w.errorCount) throw new Error(`warmup ${kind}: ${w.errors[0]}`);
    }
    await engine.call('resetLoop');
    const r = await alternate({
      engine,
      variants: ['raw', 'sdk'],
      blocks,
      runBlock: async (kind) => {
        const b = await client.call('handoffBlock', { kind, rounds }, 120_000);
        return { ...b, latencies: b.handoffs, ops: b.handoffs.length };
      },
    });
    const after = await engine.call('usage');
    await client.stop();

    // Every hold wrote n + 1 under its claim: the engine's n is the number of holds.
    const lastHolds = (kind) => r.byVariant[kind].results.at(-1).holds;
    let lost = 0;
    for (const kind of ['sdk', 'raw']) {
      for (const [id, expected] of Object.entries(lastHolds(kind))) {
        const row = await getJson(url, scope.key, `/v1/models/items/${id}`);
        if (row.n !== expected) lost += Math.abs(expected - row.n);
      }
    }
    const sdkHolds = Object.values(lastHolds('sdk')).reduce((s, n) => s + n, 0);

    const sdk = r.byVariant.sdk;
    const raw = r.byVariant.raw;
    emit({
      case: 'handoff',
      clients: 'sdk',
      agents,
      rows: rowsPer,
      rounds_per_block: rounds,
      blocks,
      holds_per_kind_incl_warmup: sdkHolds,

      ...handoffFigures(sdk),
      ...handoffFigures(raw, 'raw_'),
      handoff_p50_ratio_raw_over_sdk: round(summarize(raw.latencies).p50 / summarize(sdk.latencies).p50, 2),
      lost_writes: lost,
      storage_tx_p50_ms: round(after.storageTx.p50, 3),
      storage_tx_p99_ms: round(after.storageTx.p99, 3),
      engine_loop_delay_p99_ms: round(after.loopDelayP99Ms, 2),
      other_processes_cpu_share: round(r.otherShare, 2),
      wall_s: round(r.wallMs / 1000, 1),
      ...(sdk.errors.length || raw.errors.length ? { first_errors: [...sdk.errors, ...raw.errors].slice(0, 3) } : {}),
    });
  } finally {
    await scope.close();
  }
}

// ---------------------------------------------------------------------------
// (2) stale-checked vs unguarded commits

async function caseStale(opts) {
  const clients = Math.floor(opts.clients);
  const perBlock = Math.floor(opts.perBlock);
  const blocks = Math.max(2, Math.floor(opts.staleBlocks / 2) * 2);
  const scope = new Scope('claims-stale');
  try {
    const { engine, url } = await scope.startEngine();
    const sdkRows = Array.from({ length: clients }, (_, i) => ({ id: `item-g${i}`, lane: `g${i}` }));
    await post(url, scope.key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
    await post(url, scope.key, '/v1/commits', creates('items', sdkRows.map((r) => ({ ...r, projectId: 'p1', title: 'start', n: 0 }))));

    progress(`(2) ${clients} SDK clients, ${blocks} alternating blocks of ${perBlock} guarded / unguarded updates per client`);
    const client = scope.child(CLIENT, 'writers');
    await client.call('writersPrepare', { url, key: scope.key, sdkRows, warmup: 50 }, 120_000);
    await engine.call('resetLoop');
    const r = await alternate({
      engine,
      variants: ['sdk_unguarded', 'sdk_guarded'],
      blocks,
      runBlock: (variant) => client.call('writersBlock', { variant, perClient: perBlock }, 120_000),
    });
    const after = await engine.call('usage');
    await client.stop();

    const g = r.byVariant.sdk_guarded;
    const u = r.byVariant.sdk_unguarded;
    emit({
      case: 'stale_checked_commits',
      clients: 'sdk',
      writers: clients,
      commits_per_variant: g.ops,
      blocks,
      ...comparisonFigures(r, after, g, u, 'unguarded_'),
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
    agents: option(args, '--agents', 50),
    rows: option(args, '--rows', 5),
    rounds: option(args, '--rounds', 20),
    handoffBlocks: option(args, '--handoff-blocks', 8),
    clients: option(args, '--clients', 20),
    perBlock: option(args, '--per-block', 100),
    staleBlocks: option(args, '--stale-blocks', 24),
  };
  if (!(await requireBuiltPackage('claims'))) return 1;
  return withSignalCleanup('claims', async () => {
    if (only.includes('handoff')) await caseHandoff(opts);
    if (only.includes('stale')) await caseStale(opts);
    return 0;
  });
}
