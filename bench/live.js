/**
 * Live queries (issue 12): the per-change cost of subscriptions that read
 * `getAll`, served by live queries, against the full re-scan per change that
 * `getAll` did before. In-process, no engine: real SDK clients (src/, loaded
 * through jiti) with a socket that never opens; the bench feeds them the
 * frames an engine sends (welcome, bootstrap of 1,000 rows, then one
 * `changes` frame per change) and times each change from the frame to the
 * last subscription's listener (the store's flush included).
 *
 *   npm run bench -- live [--rows 1000] [--subs 100] [--changes 2000] [--blocks 8] [--base DIR]
 *
 * Cases (one JSON line each):
 *  - `clients`: 100 clients, each with one `subscribe((a) => a.items.getAll(), …)`
 *    (phase b's subscribers); every change reaches all of them.
 *  - `queries`: one client with 100 subscriptions over distinct queries
 *    (where on a field that changes move rows in and out of, orderBy asc/desc,
 *    limit 20 or none).
 * Variants, run in alternating blocks over the same change sequence:
 *  - `live`: this tree's `getAll` inside the selector (a live query);
 *  - `scan`: the same client and subscription, the selector doing what
 *    `getAll` did before (`runQuery` over the pool: filter, sort, limit).
 *    With `--base DIR` (a checkout of the code before, e.g. `git worktree add
 *    /tmp/base main`, with node_modules linked), `scan` is that tree's
 *    client and its own `getAll` instead.
 * `ratio` = scan p50 ÷ live p50 per change (> 1: live queries are faster).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import { machineBusyMs, otherCpuShare } from './lib/machine.js';
import { cpuMs } from './lib/proc.js';
import { option } from './lib/scope.js';
import { round, summarize } from './lib/stats.js';
import { prng } from './lib/prng.js';

export const description = 'Live queries: per-change cost of 100 getAll subscriptions over 1,000 rows, live vs re-scan';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'live', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench live] ${text}\n`);
}


async function loadTree(root) {
  const jiti = createJiti(import.meta.url, { moduleCache: true });
  const client = await jiti.import(join(root, 'src/client/client.ts'));
  const schemaMod = await jiti.import(join(root, 'src/schema/index.ts'));
  const query = await jiti.import(join(root, 'src/client/query.ts'));
  const { defineSchema, model, z } = schemaMod;
  const schema = defineSchema({ items: model({ lane: z.string(), n: z.number().int(), title: z.string() }) });
  return { Ablo: client.Ablo, runQuery: query.runQuery, schema };
}

/** A socket that never opens: the bench hands frames to the client itself. */
const deadSocket = () => ({ readyState: 0, send() {}, close() {}, onopen: null, onclose: null, onerror: null, onmessage: null });

const LANES = Array.from({ length: 10 }, (_, i) => `l${i}`);

function makeClient(tree, rows) {
  const ablo = tree.Ablo({ schema: tree.schema, apiKey: 'bench', baseURL: 'http://127.0.0.1:9', webSocket: deadSocket, logger: { warn() {} } });
  const frame = (f) => ablo.onFrame(f);
  frame({ type: 'welcome', mode: 'bootstrap', schemaHash: ablo.schema.hash, lastSyncId: 0 });
  frame({ type: 'bootstrap', model: 'items', rows });
  frame({ type: 'bootstrap_done', lastSyncId: rows.length });
  return { ablo, frame };
}

/** What getAll did before live queries: a scan of the pool (the selector of the `scan` variant). */
function scanGetAll(tree, ablo, options) {
  if (tree.base) return ablo.items.getAll(options);
  return tree.runQuery(ablo.store.rows('items'), ablo.localQuery(ablo.schema.model('items'), options));
}

function queryOptions(i) {
  const where = i % 4 === 3 ? undefined : { lane: LANES[i % LANES.length] };
  const orderBy = i % 3 === 0 ? undefined : { n: i % 2 === 0 ? 'asc' : 'desc' };
  const limit = i % 5 < 2 ? 20 : undefined;
  return { ...(where ? { where } : {}), ...(orderBy ? { orderBy } : {}), ...(limit ? { limit } : {}) };
}

/** One variant's clients and subscriptions; `calls` counts listener calls. */
function setup(tree, variant, caseName, rows, subs) {
  const state = { calls: 0, clients: [] };
  const read = (ablo, options) => (variant === 'live' ? ablo.items.getAll(options) : scanGetAll(tree, ablo, options));
  const listener = () => state.calls++;
  if (caseName === 'clients') {
    for (let i = 0; i < subs; i++) {
      const c = makeClient(tree, rows);
      c.ablo.subscribe((a) => read(a, {}), listener);
      state.clients.push(c);
    }
  } else {
    const c = makeClient(tree, rows);
    for (let i = 0; i < subs; i++) {
      const options = queryOptions(i);
      c.ablo.subscribe((a) => read(a, options), listener);
    }
    state.clients.push(c);
  }
  return state;
}

/** The engine side: rows and a sequence of changes (updates that reorder and move lanes, deletes, creates). */
class Feed {
  constructor(rows, seed) {
    this.rand = prng(seed);
    this.rows = new Map(rows.map((r) => [r.id, r]));
    this.ids = rows.map((r) => r.id);
    this.syncId = rows.length;
    this.next = rows.length;
  }

  change() {
    const r = this.rand();
    const syncId = ++this.syncId;
    const at = new Date(1_700_000_000_000 + syncId).toISOString();
    const base = { syncId, model: 'items', fields: [], groups: ['default'], participant: { kind: 'agent', id: 'writer' }, clientTxId: null, at };
    if (r < 0.075 && this.ids.length > 10) {
      const i = Math.floor(this.rand() * this.ids.length);
      const id = this.ids[i];
      this.ids[i] = this.ids[this.ids.length - 1];
      this.ids.pop();
      this.rows.delete(id);
      return { ...base, id, action: 'delete', data: null };
    }
    if (r < 0.15) {
      const id = `item-${String(this.next++).padStart(6, '0')}`;
      const row = { id, createdAt: at, updatedAt: at, syncId, lane: LANES[Math.floor(this.rand() * 10)], n: Math.floor(this.rand() * 1000), title: `item ${id}` };
      this.rows.set(id, row);
      this.ids.push(id);
      return { ...base, id, action: 'create', data: row };
    }
    const id = this.ids[Math.floor(this.rand() * this.ids.length)];
    const old = this.rows.get(id);
    const row = { ...old, updatedAt: at, syncId, n: Math.floor(this.rand() * 1000), ...(this.rand() < 0.3 ? { lane: LANES[Math.floor(this.rand() * 10)] } : {}) };
    this.rows.set(id, row);
    return { ...base, id, action: 'update', data: row };
  }
}

const macrotask = () => new Promise((r) => setImmediate(r));

async function runBlock(state, changes) {
  const times = [];
  for (const change of changes) {
    const frame = { type: 'changes', changes: [change] };
    const t0 = performance.now();
    for (const c of state.clients) c.frame(frame);
    // Every client's store flushes in a microtask: wait until they all ran.
    await Promise.resolve();
    await Promise.resolve();
    const t1 = performance.now();
    times.push((t1 - t0) * 1000);
    await macrotask();
  }
  return times;
}

async function runCase(caseName, trees, opts) {
  const rows = Array.from({ length: opts.rows }, (_, i) => ({
    id: `item-${String(i).padStart(6, '0')}`,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    syncId: i + 1,
    lane: LANES[i % 10],
    n: (i * 7919) % 1000,
    title: `item ${i}`,
  }));
  const variants = ['scan', 'live'];
  const states = { scan: setup(trees.scan, 'scan', caseName, rows, opts.subs), live: setup(trees.live, 'live', caseName, rows, opts.subs) };
  // One feed per variant with the same seed: both see the same changes.
  const feeds = { scan: new Feed(rows, 12), live: new Feed(rows, 12) };
  const per = Math.floor(opts.changes / opts.blocks);
  const times = { scan: [], live: [] };
  const calls = { scan: 0, live: 0 };
  const busy0 = machineBusyMs();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  // Warm-up, then ABBA blocks.
  for (const v of variants) await runBlock(states[v], Array.from({ length: 100 }, () => feeds[v].change()));
  for (const v of variants) calls[v] = -states[v].calls;
  for (let b = 0; b < opts.blocks; b++) {
    const order = b % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) times[v].push(...(await runBlock(states[v], Array.from({ length: per }, () => feeds[v].change()))));
  }
  for (const v of variants) calls[v] += states[v].calls;
  const wall = performance.now() - wall0;
  const share = otherCpuShare(busy0, machineBusyMs(), cpuMs(cpu0), wall);
  // Same changes, same queries: both variants must have called their listeners equally often and hold the same rows.
  const [a, b] = [states.scan.clients[0].ablo, states.live.clients[0].ablo];
  const same = JSON.stringify(a.items.getAll({ orderBy: { n: 'asc' } }).map((r) => r.id)) === JSON.stringify(b.items.getAll({ orderBy: { n: 'asc' } }).map((r) => r.id));
  if (!same || calls.scan !== calls.live) throw new Error(`variants disagree: listener calls ${calls.scan} vs ${calls.live}, same rows ${same}`);
  const s = summarize(times.scan);
  const l = summarize(times.live);
  emit({
    case: caseName,
    rows: opts.rows,
    subscriptions: opts.subs,
    clients: states.live.clients.length,
    changes: times.live.length,
    listener_calls: calls.live,
    baseline: trees.scan.base ? `getAll of ${trees.scan.base}` : 'runQuery over the pool in the selector (getAll before live queries)',
    scan_p50_us_per_change: round(s.p50, 1),
    scan_p99_us_per_change: round(s.p99, 1),
    live_p50_us_per_change: round(l.p50, 1),
    live_p99_us_per_change: round(l.p99, 1),
    ratio: round(s.p50 / l.p50, 1),
    ratio_mean: round(s.mean / l.mean, 1),
    other_processes_cpu_share: share === null ? null : round(share, 2),
  });
  for (const v of variants) for (const c of states[v].clients) await c.ablo.dispose();
}

export default async function main(args) {
  const opts = {
    rows: option(args, '--rows', 1000),
    subs: option(args, '--subs', 100),
    changes: option(args, '--changes', 2000),
    blocks: Math.max(2, option(args, '--blocks', 8)),
  };
  const b = args.indexOf('--base');
  const baseDir = b === -1 ? null : args[b + 1];
  const live = await loadTree(repo);
  const scan = baseDir ? { ...(await loadTree(resolve(baseDir))), base: resolve(baseDir) } : live;
  for (const caseName of ['clients', 'queries']) {
    progress(`${caseName}: ${opts.subs} subscriptions, ${opts.rows} rows, ${opts.changes} changes per variant`);
    await runCase(caseName, { scan, live }, opts);
  }
}
