/**
 * The engine (issues 3 and 12, "Measure"): a real engine from dist/ in a
 * child process, on a real SQLite file (WAL, synchronous=FULL, as `ablo dev`)
 * in a temp dir, driven by clients in other child processes. Fields of every
 * line: docs/benchmarks.md.
 *
 *   npm run bench -- engine [--only phase_a,phase_b,commits,fanout,bootstrap]
 *       [--seconds N]        duration of every timed run (default 10 for the
 *                            phases, 5 for fanout)
 *       [--phase-rows 1000]                                       (phases a and b)
 *       [--writers 50] [--client-procs 2] [--raw-seconds 4]       (phase a)
 *       [--subscribers 100] [--sub-procs 2] [--live-rate 200]     (phase b)
 *       [--clients 50] [--per-client 200]                         (a)
 *       [--subscribers 100] [--rate 1000]                         (b)
 *       [--rows 100000]                                           (c)
 *
 * With no arguments every case runs (about 1.5–3 minutes). One JSON line per case:
 *  phase a (issue 12), two lines, `phase_a_subscribed` and `phase_a_silent`:
 *      1,000 `tasks` rows in the default group; 50 ordinary SDK clients
 *      (`Ablo()` from dist/, split over `--client-procs` processes), each
 *      awaiting `ablo.tasks.update({ id: <random row>, data })` back to back
 *      (closed loop) for 10 s. `subscribed`: default sync groups, so every
 *      writer also receives every change; `silent`: `syncGroups:
 *      ['bench-none']` (a group holding no rows), so writers receive nothing.
 *      confirmed writes/s, confirm p50/p99/max (call → resolved). Baseline in
 *      the same run: raw better-sqlite3 single-row UPDATE transactions of
 *      random rows (BEGIN IMMEDIATE…COMMIT, WAL, synchronous=FULL) on a plain
 *      table with the columns of the engine's `tasks` table, in a file in the
 *      same temp dir, for `--raw-seconds` (half before, half after the
 *      engine) → `ratio` = writes/s ÷ raw tx/s; the same on the engine's own
 *      `tasks` table (its file and indexes) → `ratio_own_table`. Engine CPU
 *      per confirmed write, CPU seconds and shares of the engine and of each
 *      client process, event-loop delay and utilization, and `bound_by`.
 *  phase b (issue 12), `phase_b_live_fanout`: 100 SDK subscribers (split over
 *      `--sub-procs` processes), each holding `ablo.tasks.live({})` over the
 *      1,000 rows with a `subscribe` listener; one SDK writer (own process)
 *      updates row `n % 1000` with `{ sentAt: <its wall time just before the
 *      call>, n }` at an open-loop 200 writes/s for 10 s (+0.5 s warmup).
 *      Latency of a delivery = wall time at the listener call that carries
 *      the row in `changes` (subscriber process) − `sentAt` (writer process),
 *      both corrected by measured clock offsets: p50/p99/max, deliveries vs
 *      expected (100 × writes) and `missing`, CPU of the engine, of each
 *      subscriber process and of the writer, subscriber loop delay, `bound_by`.
 *      Fails with its own line (`error`) and exit code 1, the other cases
 *      still running, when the built SDK has no `live()`.
 *  (a) `confirmed_update_commits` — the engine's own-table baseline: 50
 *      clients, each updating its own row with
 *      single-op commits back to back (the next one after the receipt):
 *      commits/s, confirm latency p50/p99 (send → receipt). Each client
 *      subscribes to its own row's sync group only, so this measures commits,
 *      not fanout. Baseline in the same run: the same number of single-row
 *      UPDATE transactions with better-sqlite3 on the engine's own table (same
 *      file, columns and indexes; WAL, synchronous=FULL, one BEGIN
 *      IMMEDIATE…COMMIT per update), half before and half after the engine
 *      run. `ratio` = engine commits/s ÷ raw transactions/s.
 *  (b) `fanout_latency`: 100 subscribers on the default group, one writer at a
 *      paced 1,000 commits/s; every delivery's latency is its receive wall time
 *      (subscriber process) − the `sentAt` wall time written into the row by
 *      the writer (this process), corrected by the measured clock offset
 *      between the two processes. How much of it is the bench's own cost:
 *      `bench_cpu_share` (writer + subscribers vs engine CPU),
 *      `subscriber_loop_delay_p99_ms`, and `writer_confirm_*` — the engine
 *      writes a transaction's fanout frames before its receipts, so the
 *      writer's confirm latency bounds the engine-side part of a delivery.
 *  (c) `bootstrap_100k`: 100,000 rows written through the engine (HTTP commits
 *      of 1,000 creates), the engine restarted, then a fresh client process
 *      from `hello` to `bootstrap_done` holding every row: time, rows/s, peak
 *      RSS and heap. Baseline: `SELECT * … .all()` of the same table with
 *      better-sqlite3 → `ratio` = engine rows/s ÷ raw rows/s.
 *
 * The phases, (a) and (b) also carry `storage_tx_*` (duration of the engine's storage
 * transactions, timed from outside in the engine process) and
 * `other_processes_cpu_share`: the share of the machine that processes other
 * than the bench used meanwhile (from /proc/stat). On a shared box, read the
 * latencies together with it.
 *
 * Needs the build (`npx tsup`). To profile the engine process, pass Node flags
 * in ABLO_BENCH_ENGINE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"); the
 * phases' client processes take them in ABLO_BENCH_CLIENT_ARGS.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { waitForDist } from './lib/dist.js';
import { machineBusyMs, otherCpuShare } from './lib/machine.js';
import { clockOffset, cpuMs } from './lib/proc.js';
import { round, summarize, wallNow } from './lib/stats.js';
import { creates, onlyCases, option, post, Scope as BaseScope, sleep, withSignalCleanup } from './lib/scope.js';
import { phaseA, phaseB } from './lib/engine-phases.js';
import { closeAll, hello, openSocket } from './lib/ws-client.js';

export const description = 'engine: phase a (SDK writers vs raw SQLite FULL), phase b (live-query fanout), confirmed commits/s vs raw SQLite, fanout latency, 100k-row bootstrap';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENT = join(here, 'lib/engine-client.js');
const CASES = ['phase_a', 'phase_b', 'commits', 'fanout', 'bootstrap'];

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'engine', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench engine] ${text}\n`);
}

/** Scopes not closed yet, for cleanup when the bench is interrupted. */
const openScopes = new Set();

/** The shared bench scope, plus raw SQLite handles and sockets this bench opens itself. */
class Scope extends BaseScope {
  constructor(label) {
    super(label);
    this.dbs = [];
    this.sockets = [];
  }

  open(file, options) {
    const db = new Database(file, options);
    this.dbs.push(db);
    return db;
  }

  closeOwn() {
    for (const db of this.dbs) {
      try {
        if (db.open) db.close();
      } catch {
        // Removed with the directory.
      }
    }
  }

  async close() {
    await closeAll(this.sockets).catch(() => {});
    this.closeOwn();
    await super.close();
  }

  abandon() {
    this.closeOwn();
    super.abandon();
  }
}


// ---------------------------------------------------------------------------
// (a) confirmed single-op update commits vs one raw transaction per update

async function caseCommits(opts) {
  const clients = Math.floor(opts.clients);
  const perClient = Math.floor(opts.perClient);
  const total = clients * perClient;
  const scope = new Scope('commits');
  try {
    let { engine, url } = await scope.startEngine();
    await post(url, scope.key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
    await post(
      url,
      scope.key,
      '/v1/commits',
      creates(
        'items',
        Array.from({ length: clients }, (_, i) => ({ id: `item-${i}`, lane: String(i), projectId: 'p1', title: 'start', n: 0 })),
      ),
    );
    await engine.stop();

    // The baseline runs half before and half after the engine, on the same table, so disk noise hits both alike.
    progress(`(a) baseline: ${total} raw UPDATE transactions (half now, half after the engine)`);
    const rawA = rawUpdates(scope, clients, Math.floor(total / 2));

    progress(`(a) ${clients} clients × ${perClient} single-op update commits`);
    ({ engine, url } = await scope.startEngine());
    const client = scope.child(CLIENT, 'clients');
    await client.call('writersPrepare', { url, key: scope.key, clients, warmup: 10 }, 60_000);
    await engine.call('resetLoop');
    const before = await engine.call('usage');
    const busy0 = machineBusyMs();
    const r = await client.call('writersRun', { perClient }, 180_000);
    const busy1 = machineBusyMs();
    const after = await engine.call('usage');
    await client.stop();
    await engine.stop();

    const rawB = rawUpdates(scope, clients, total - Math.floor(total / 2));
    const rawMs = rawA.ms + rawB.ms;
    const rawPerSec = total / (rawMs / 1000);
    const rawLat = summarize([...rawA.lat, ...rawB.lat]);

    const commitsPerSec = total / (r.wallMs / 1000);
    const lat = summarize(r.latencies);
    const transactions = after.transactions - before.transactions;
    const engineCpuMs = after.cpuMs - before.cpuMs;

    emit({
      case: 'confirmed_update_commits',
      clients,
      commits: total,
      commits_per_s: round(commitsPerSec, 0),
      p50_ms: round(lat.p50, 3),
      p99_ms: round(lat.p99, 3),
      max_ms: round(lat.max, 3),
      baseline_tx_per_s: round(rawPerSec, 0),
      baseline_p50_ms: round(rawLat.p50, 3),
      baseline_p99_ms: round(rawLat.p99, 3),
      baseline_max_ms: round(rawLat.max, 3),
      baseline_halves_tx_per_s: [round(rawA.perSec, 0), round(rawB.perSec, 0)],
      ratio: round(commitsPerSec / rawPerSec, 2),
      commits_per_storage_tx: round(total / Math.max(1, transactions), 1),
      storage_tx: transactions,
      storage_tx_p50_ms: round(after.storageTx.p50, 3),
      storage_tx_p99_ms: round(after.storageTx.p99, 3),
      storage_tx_max_ms: round(after.storageTx.max, 3),
      engine_loop_delay_p99_ms: round(after.loopDelayP99Ms, 2),
      engine_cpu_ms_per_commit: round(engineCpuMs / total, 4),
      engine_cpu_share: round(engineCpuMs / r.wallMs, 2),
      client_cpu_share: round(r.clientCpuMs / r.wallMs, 2),
      other_processes_cpu_share: round(otherCpuShare(busy0, busy1, engineCpuMs + r.clientCpuMs, r.wallMs), 2),
      wall_s: round(r.wallMs / 1000, 2),
      errors: r.errors.length,
    });
  } finally {
    await scope.close();
  }
}

/** The same number of single-row updates, one durable transaction each, on the engine's own table. */
function rawUpdates(scope, rowsCount, total) {
  const db = scope.open(scope.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const update = db.prepare('UPDATE "items" SET "title" = ?, "n" = ?, "updatedAt" = ?, "syncId" = ? WHERE "id" = ?');
  let syncId = db.prepare('SELECT MAX("syncId") FROM "items"').pluck().get() ?? 0;
  const one = db.transaction((i, k) => {
    if (update.run(`raw ${i} ${k}`, k, new Date().toISOString(), ++syncId, `item-${i}`).changes !== 1) throw new Error('raw update missed its row');
  });
  for (let k = 0; k < 200; k++) one.immediate(k % rowsCount, -k);
  const lat = new Float64Array(total);
  const t0 = performance.now();
  for (let k = 0; k < total; k++) {
    const s = performance.now();
    one.immediate(k % rowsCount, k);
    lat[k] = performance.now() - s;
  }
  const ms = performance.now() - t0;
  db.close();
  return { ms, perSec: total / (ms / 1000), lat };
}

// ---------------------------------------------------------------------------
// (b) commit → subscriber latency at a paced rate

async function caseFanout(opts) {
  const subscribers = Math.floor(opts.subscribers);
  const rate = opts.rate;
  const seconds = opts.seconds;
  const warmupSeconds = 0.5;
  const targets = 100;
  const scope = new Scope('fanout');
  try {
    const { engine, url } = await scope.startEngine();
    await post(url, scope.key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
    await post(
      url,
      scope.key,
      '/v1/commits',
      creates(
        'tasks',
        Array.from({ length: targets }, (_, i) => ({ id: `task-${i}`, title: `task ${i}`, status: 'todo', projectId: 'p1', n: 0, sentAt: 0, done: false })),
      ),
    );

    progress(`(b) ${subscribers} subscribers, one writer at ${rate} commits/s for ${seconds} s (+${warmupSeconds} s warmup)`);
    const subs = scope.child(CLIENT, 'subscribers');
    await subs.call('subscribe', { url, key: scope.key, count: subscribers }, 60_000);
    const clock = await clockOffset(subs);

    // The writer lives in this process and subscribes to an empty group, so it only gets receipts.
    const writer = await openSocket(url);
    scope.sockets.push(writer);
    await hello(writer, { apiKey: scope.key, groups: ['bench:writer'] });
    const total = Math.round(rate * (warmupSeconds + seconds));
    const warmupCount = Math.round(rate * warmupSeconds);
    const sentAtOf = new Float64Array(total);
    const confirm = new Float64Array(total);
    let receipts = 0;
    const writerErrors = [];
    let allConfirmed;
    const confirmed = new Promise((r) => (allConfirmed = r));
    writer.handler = (text) => {
      const f = JSON.parse(text);
      if (f.type === 'receipt') {
        const i = Number(f.ref);
        confirm[i] = wallNow() - sentAtOf[i];
        if (++receipts === total) allConfirmed();
      } else if (f.type === 'error') {
        writerErrors.push(text.slice(0, 200));
        if (++receipts === total) allConfirmed();
      }
    };

    await subs.call('mark');
    await engine.call('resetLoop');
    const engine0 = await engine.call('usage');
    const cpu0 = process.cpuUsage();
    const busy0 = machineBusyMs();
    const wall0 = performance.now();
    let sent = 0;
    let measureStart = 0;
    let lastSend = 0;
    const start = performance.now();
    await new Promise((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
        while (sent < due) {
          const i = sent++;
          const at = wallNow();
          if (i === warmupCount) measureStart = at;
          lastSend = at;
          sentAtOf[i] = at;
          writer.send(
            JSON.stringify({
              type: 'commit',
              ref: String(i),
              commit: { operations: [{ op: 'update', model: 'tasks', id: `task-${i % targets}`, data: { sentAt: at, n: i } }] },
            }),
          );
        }
        if (sent >= total) resolve();
        else setTimeout(tick, 0);
      };
      tick();
    });
    await Promise.race([confirmed, sleep(20_000)]);
    const r = await subs.call('collect', { expectedPerSub: total, timeoutMs: 20_000 }, 60_000);
    const engine1 = await engine.call('usage');
    const busy1 = machineBusyMs();
    const wallMs = performance.now() - wall0;
    const writerCpuMs = cpuMs(cpu0);
    await closeAll([writer]);
    await subs.stop();
    await engine.stop();

    // Deliveries of the measured window, in the writer's clock.
    const lat = [];
    for (let k = 0; k < r.sent.length; k++) if (r.sent[k] >= measureStart) lat.push(r.recv[k] - clock.offset - r.sent[k]);
    const s = summarize(lat);
    const measured = total - warmupCount;
    const windowMs = lastSend - measureStart;
    const conf = summarize(confirm.subarray(warmupCount));
    const benchCpuMs = writerCpuMs + r.clientCpuMs;
    const engineCpuMs = engine1.cpuMs - engine0.cpuMs;
    emit({
      case: 'fanout_latency',
      subscribers,
      target_rate: rate,
      commits: measured,
      achieved_rate: round(((measured - 1) * 1000) / windowMs, 0),
      deliveries: lat.length,
      expected_deliveries: measured * subscribers,
      p50_ms: round(s.p50, 3),
      p99_ms: round(s.p99, 3),
      max_ms: round(s.max, 3),
      writer_confirm_p50_ms: round(conf.p50, 3),
      writer_confirm_p99_ms: round(conf.p99, 3),
      changes_per_frame: round((r.recv.length / Math.max(1, r.frames)), 2),
      commits_per_storage_tx: round((engine1.transactions - engine0.transactions) > 0 ? total / (engine1.transactions - engine0.transactions) : NaN, 2),
      storage_tx_p50_ms: round(engine1.storageTx.p50, 3),
      storage_tx_p99_ms: round(engine1.storageTx.p99, 3),
      storage_tx_max_ms: round(engine1.storageTx.max, 3),
      engine_cpu_ms: round(engineCpuMs, 0),
      bench_cpu_ms: round(benchCpuMs, 0),
      bench_cpu_share: round(benchCpuMs / (benchCpuMs + engineCpuMs), 2),
      other_processes_cpu_share: round(otherCpuShare(busy0, busy1, benchCpuMs + engineCpuMs, wallMs), 2),
      subscriber_handler_ms: round(r.handlerMs, 0),
      subscriber_loop_delay_p99_ms: round(r.loopDelayP99Ms, 2),
      engine_loop_delay_p99_ms: round(engine1.loopDelayP99Ms, 2),
      engine_loop_delay_max_ms: round(engine1.loopDelayMaxMs, 2),
      clock_offset_ms: round(clock.offset, 3),
      clock_probe_rtt_ms: round(clock.rtt, 3),
      resyncs: r.resyncs,
      closed: r.closed,
      errors: writerErrors.length,
    });
  } finally {
    await scope.close();
  }
}

// ---------------------------------------------------------------------------
// (c) bootstrap of 100,000 rows vs reading them raw

async function caseBootstrap(opts) {
  const rowsTotal = Math.floor(opts.rows);
  const scope = new Scope('bootstrap');
  try {
    progress(`(c) seeding ${rowsTotal} rows through the engine`);
    let { engine, url } = await scope.startEngine();
    await post(url, scope.key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
    const perCommit = 1000;
    const statuses = ['todo', 'doing', 'done'];
    const seed0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < rowsTotal) {
        const from = next;
        next = Math.min(rowsTotal, next + perCommit);
        const rows = [];
        for (let i = from; i < next; i++) {
          rows.push({
            id: `task-${String(i).padStart(6, '0')}`,
            title: `Task number ${i} of the bootstrap bench`,
            status: statuses[i % 3],
            projectId: 'p1',
            n: i,
            sentAt: 1_700_000_000_000 + i,
            done: i % 2 === 0,
          });
        }
        await post(url, scope.key, '/v1/commits', creates('tasks', rows));
      }
    };
    await Promise.all([worker(), worker()]);
    const seedMs = performance.now() - seed0;
    await engine.stop();

    progress('(c) baseline: raw SELECT of every row');
    const rawRuns = [];
    for (let i = 0; i < 3; i++) {
      const db = scope.open(scope.file, { readonly: true });
      const t0 = performance.now();
      const rows = db.prepare('SELECT * FROM "tasks"').all();
      rawRuns.push(performance.now() - t0);
      if (rows.length !== rowsTotal) throw new Error(`raw read saw ${rows.length} rows, expected ${rowsTotal}`);
      db.close();
    }
    const rawMs = summarize(rawRuns).p50;

    progress('(c) fresh client bootstrap');
    let restartMs;
    ({ engine, url, startMs: restartMs } = await scope.startEngine());
    const client = scope.child(CLIENT, 'bootstrap client', ['--expose-gc']);
    const r = await client.call('bootstrap', { url, key: scope.key }, 180_000);
    const eng = await engine.call('usage');
    await client.stop();
    await engine.stop();
    // Plus the one project row the tasks belong to.
    if (r.byModel.tasks !== rowsTotal || r.rows !== rowsTotal + 1) {
      throw new Error(`the client got ${JSON.stringify(r.byModel)} rows, expected ${rowsTotal} tasks and 1 project`);
    }

    const rowsPerSec = rowsTotal / (r.ms / 1000);
    const rawPerSec = rowsTotal / (rawMs / 1000);
    emit({
      case: 'bootstrap_100k',
      rows: r.byModel.tasks,
      total_rows: r.rows,
      ms: round(r.ms, 1),
      rows_per_s: round(rowsPerSec, 0),
      first_rows_ms: round(r.firstRowMs, 1),
      frames: r.frames,
      client_peak_rss_mb: round(r.peakRssMb, 1),
      client_base_rss_mb: round(r.baseRssMb, 1),
      client_peak_heap_used_mb: round(r.peakHeapUsedMb, 1),
      client_retained_heap_mb: round(r.retainedHeapUsedMb, 1),
      engine_peak_rss_mb: round(eng.maxRssMb, 1),
      baseline_ms: round(rawMs, 1),
      baseline_rows_per_s: round(rawPerSec, 0),
      ratio: round(rowsPerSec / rawPerSec, 3),
      seed_rows_per_s: round(rowsTotal / (seedMs / 1000), 0),
      engine_restart_ms: round(restartMs, 1),
    });
  } finally {
    await scope.close();
  }
}

// ---------------------------------------------------------------------------

export default async function run(args = []) {
  const only = onlyCases(args, CASES);
  if (!only) return 2;
  const seconds = option(args, '--seconds', 0);
  const opts = {
    clients: option(args, '--clients', 50),
    perClient: option(args, '--per-client', 200),
    subscribers: option(args, '--subscribers', 100),
    rate: option(args, '--rate', 1000),
    seconds: seconds || 5,
    rows: option(args, '--rows', 100_000),
  };
  const phases = {
    rows: Math.floor(option(args, '--phase-rows', 1000)),
    writers: Math.floor(option(args, '--writers', 50)),
    clientProcs: Math.floor(option(args, '--client-procs', 2)),
    rawSeconds: option(args, '--raw-seconds', 4),
    subscribers: Math.floor(opts.subscribers),
    subProcs: Math.floor(option(args, '--sub-procs', 2)),
    liveRate: option(args, '--live-rate', 200),
    seconds: seconds || 10,
  };
  if (!(await waitForDist(['src/engine/index.js', 'src/schema/index.js']))) {
    process.stderr.write('error: dist/src/engine/index.js is missing; the engine bench runs the built package.\nfix: run "npx tsup" (or "npm run build") first.\n');
    return 1;
  }
  return withSignalCleanup('engine', async () => {
    if (only.includes('phase_a')) {
      await phaseA(phases, 'subscribed');
      await phaseA(phases, 'silent');
    }
    let code = 0;
    if (only.includes('phase_b') && !(await phaseB(phases))) code = 1;
    if (only.includes('commits')) await caseCommits(opts);
    if (only.includes('fanout')) await caseFanout(opts);
    if (only.includes('bootstrap')) await caseBootstrap(opts);
    return code;
  });
}
