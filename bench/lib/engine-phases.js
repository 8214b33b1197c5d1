/**
 * The engine bench's phases of issue 12 (run by bench/engine.js, which
 * documents every field). Each phase: a fresh engine child process on a
 * SQLite file in a temp dir, 1,000 `tasks` rows in the default group, and
 * ordinary `Ablo()` clients from dist/ in child processes of their own
 * (bench/lib/phase-client.js), so the engine's and the clients' CPU are
 * measured apart.
 *
 *  - phase a (`phaseA`, variants `subscribed` and `silent`): confirmed
 *    single-row updates of random rows by 50 SDK clients in a closed loop,
 *    against raw better-sqlite3 single-row UPDATE transactions (WAL,
 *    synchronous=FULL) on a plain table in the same directory, run half
 *    before and half after the engine.
 *  - phase b (`phaseB`): 100 SDK subscribers each holding
 *    `ablo.tasks.live({})`; one SDK writer at an open-loop rate; write →
 *    listener latency.
 */
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { NO_LIVE, rowId } from './engine-schema.js';
import { machineBusyMs, otherCpuShare } from './machine.js';
import { clockOffset } from './proc.js';
import { round, summarize } from './stats.js';
import { creates, post, Scope, seedRows } from './scope.js';
import { prng } from './prng.js';

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'phase-client.js');
/** Extra Node flags for the client processes, e.g. `ABLO_BENCH_CLIENT_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`. */
const CLIENT_NODE_ARGS = (process.env.ABLO_BENCH_CLIENT_ARGS ?? '').split(/\s+/).filter(Boolean);

/** A share of one core at or above this counts as saturated. */
const HOT = 0.9;

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'engine', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench engine] ${text}\n`);
}

/** `total` items split over `parts` as evenly as possible. */
const split = (total, parts) => Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

const seedRow = (i) => ({ id: rowId(i), title: `row ${i}`, status: 'todo', projectId: 'p1', n: -1, sentAt: 0, done: false });

/** A fresh engine holding one project and `rows` tasks in the default group. */
async function seededEngine(scope, rows) {
  const started = await scope.startEngine();
  await post(started.url, scope.key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
  await seedRows(started.url, scope.key, 'tasks', rows, seedRow);
  return started;
}

// ---------------------------------------------------------------------------
// raw SQLite baselines

/**
 * A plain table `raw_tasks` in `rawFile` with the columns of the engine's
 * `tasks` table (same names and types, `id` the primary key, no other index)
 * and a copy of its rows.
 */
function createRawTable(engineFile, rawFile) {
  const src = new Database(engineFile, { readonly: true });
  let cols;
  let rows;
  try {
    cols = src.prepare('PRAGMA table_info("tasks")').all();
    rows = src.prepare('SELECT * FROM "tasks"').all();
  } finally {
    src.close();
  }
  const db = new Database(rawFile);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE "raw_tasks" (${cols.map((c) => `"${c.name}" ${c.type}${c.pk ? ' PRIMARY KEY' : ''}`).join(', ')})`);
    const names = cols.map((c) => `"${c.name}"`).join(', ');
    const insert = db.prepare(`INSERT INTO "raw_tasks" (${names}) VALUES (${cols.map(() => '?').join(', ')})`);
    db.transaction(() => {
      for (const r of rows) insert.run(...cols.map((c) => r[c.name]));
    })();
  } finally {
    db.close();
  }
  return rows.length;
}

/**
 * Single-row UPDATE transactions of random rows (BEGIN IMMEDIATE … COMMIT,
 * WAL, synchronous=FULL) on `table` of `file`, one after another for `ms`:
 * what one durable write per transaction costs on this disk. Sets the same
 * columns an engine update does (title, n, updatedAt, syncId); the sync ids
 * are put back afterwards (not timed).
 */
function rawUpdates(file, table, ids, ms, rand) {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const update = db.prepare(`UPDATE "${table}" SET "title" = ?, "n" = ?, "updatedAt" = ?, "syncId" = ? WHERE "id" = ?`);
    // The engine hands out sync ids after its change log, and SDK clients skip a change older than the row they hold:
    // the rows get their sync ids back afterwards, so the baseline's ids never shadow the engine's.
    const saved = db.prepare(`SELECT "id", "syncId" FROM "${table}"`).raw().all();
    let syncId = db.prepare(`SELECT MAX("syncId") FROM "${table}"`).pluck().get() ?? 0;
    const one = db.transaction((id, k) => {
      if (update.run(`raw write ${k}`, k, new Date().toISOString(), ++syncId, id).changes !== 1) throw new Error(`raw update missed row ${id}`);
    });
    for (let k = 0; k < 100; k++) one.immediate(ids[Math.floor(rand() * ids.length)], k);
    const lat = [];
    const t0 = performance.now();
    const end = t0 + ms;
    let now = t0;
    while (now < end) {
      one.immediate(ids[Math.floor(rand() * ids.length)], lat.length);
      const t = performance.now();
      lat.push(t - now);
      now = t;
    }
    const restore = db.prepare(`UPDATE "${table}" SET "syncId" = ? WHERE "id" = ?`);
    db.transaction(() => {
      for (const [id, sid] of saved) restore.run(sid, id);
    })();
    return { count: lat.length, ms: now - t0, lat };
  } finally {
    db.close();
  }
}

/** Both halves of a baseline → tx/s over both, each half's tx/s, latency. */
function baselineFigures(a, b) {
  const count = a.count + b.count;
  const lat = summarize([...a.lat, ...b.lat]);
  return {
    perSec: count / ((a.ms + b.ms) / 1000),
    halves: [round(a.count / (a.ms / 1000), 0), round(b.count / (b.ms / 1000), 0)],
    p50: lat.p50,
    p99: lat.p99,
    count,
  };
}

// ---------------------------------------------------------------------------
// what bounds a figure

/**
 * Where a process's event loop spent a run, as shares of the wall time: `loop`
 * busy (event-loop utilization), of which `run` on a CPU and `wait` runnable
 * but waiting for a CPU (main-thread scheduler times), and `blocked` = the
 * rest of the busy time: inside a synchronous call that sleeps (fsync).
 * Without scheduler times, `run` is the process's CPU share.
 */
function loopSplit(loop, sched, cpuShare, wallMs) {
  const run = sched ? sched.runMs / wallMs : cpuShare;
  const wait = sched ? sched.waitMs / wallMs : 0;
  return { loop, run, wait, blocked: Math.max(0, loop - run - wait) };
}

/**
 * Which side bounds a figure, from where the event loops' time went (shares
 * of one core over the run), in this order:
 *  1. the engine's event loop is ≥ 90% busy: `engine` when most of that is
 *     running JavaScript/SQLite on a CPU, `machine` when most is waiting for
 *     a CPU (the cores are taken), `storage` when most is blocked in a
 *     synchronous call (the COMMIT's fsync);
 *  2. a client process's loop is ≥ 90% busy: `clients` (or `machine` when it
 *     mostly waits for a CPU);
 *  3. every core is ≥ 90% busy, or a loop (engine or client) waits for a CPU
 *     longer than it runs (≥ 10% of the run): `machine`;
 *  4. else `storage`: no loop is saturated, the time goes to waiting (fsync,
 *     round trips).
 */
export function boundBy({ engine, clients, machineBusy }) {
  const pct = (x) => `${Math.round(x * 100)}%`;
  const split = (x) => `${pct(x.loop)} busy (run ${pct(x.run)}, wait for CPU ${pct(x.wait)}, blocked ${pct(x.blocked)})`;
  const figures = `engine loop ${split(engine)}; client loops ${clients.map((c) => pct(c.loop)).join(', ')}; machine ${machineBusy === null ? '?' : pct(machineBusy)} busy`;
  const largest = (x) => (x.run >= x.wait && x.run >= x.blocked ? 'run' : x.wait >= x.blocked ? 'wait' : 'blocked');
  if (engine.loop >= HOT) {
    const side = { run: 'engine', wait: 'machine', blocked: 'storage' }[largest(engine)];
    return { bound_by: side, bound_reason: figures };
  }
  const hotClient = clients.find((c) => c.loop >= HOT);
  if (hotClient) return { bound_by: hotClient.wait > hotClient.run ? 'machine' : 'clients', bound_reason: figures };
  const starved = [engine, ...clients].some((x) => x.wait > x.run && x.wait >= 0.1);
  if ((machineBusy !== null && machineBusy >= HOT) || starved) return { bound_by: 'machine', bound_reason: figures };
  return { bound_by: 'storage', bound_reason: `no event loop saturated: waiting on fsync / round trips; ${figures}` };
}

/** The `engine_loop_*` / per-client loop fields of a line. */
function loopFields(prefix, x) {
  return {
    [`${prefix}_loop_utilization`]: round(x.loop, 2),
    [`${prefix}_loop_run_share`]: round(x.run, 2),
    [`${prefix}_loop_cpu_wait_share`]: round(x.wait, 2),
    [`${prefix}_loop_blocked_share`]: round(x.blocked, 2),
  };
}

/** Engine usage between two `usage` answers, over `wallMs`. */
function engineDelta(before, after, wallMs) {
  const cpuMs = after.cpuMs - before.cpuMs;
  const active = after.loopActiveMs - before.loopActiveMs;
  const idle = after.loopIdleMs - before.loopIdleMs;
  const sched = before.sched && after.sched ? { runMs: after.sched.runMs - before.sched.runMs, waitMs: after.sched.waitMs - before.sched.waitMs } : null;
  return {
    cpuMs,
    cpuShare: cpuMs / wallMs,
    split: loopSplit(active / Math.max(1e-9, active + idle), sched, cpuMs / wallMs, wallMs),
    transactions: after.transactions - before.transactions,
    storageTx: after.storageTx,
    loopDelayP99Ms: after.loopDelayP99Ms,
    loopDelayMaxMs: after.loopDelayMaxMs,
  };
}

/** The machine-wide figures of a run: busy share of all cores, and the share other processes used. */
function machineFigures(busy0, busy1, ourCpuMs, wallMs) {
  const machineBusy = busy0 === null || busy1 === null ? null : (busy1 - busy0) / (wallMs * cpus().length);
  return { machineBusy, other: otherCpuShare(busy0, busy1, ourCpuMs, wallMs) };
}

// ---------------------------------------------------------------------------
// phase a


/**
 * Phase a: `writers` SDK clients (split over `clientProcs` processes) doing
 * confirmed `update()`s of random rows for `seconds`. `variant`: `subscribed`
 * (default sync groups: every client receives every change) or `silent`
 * (sync group `bench-none`, which holds no rows: writers receive nothing).
 */
export async function phaseA(opts, variant) {
  const { rows, writers, seconds, clientProcs, rawSeconds } = opts;
  const syncGroups = variant === 'silent' ? ['bench-none'] : undefined;
  const scope = new Scope(`phase-a-${variant}`);
  try {
    progress(`phase a (${variant}): seeding ${rows} rows`);
    let { engine, url } = await seededEngine(scope, rows);
    await engine.stop();

    const ids = Array.from({ length: rows }, (_, i) => rowId(i));
    const rawFile = join(scope.dir, 'raw.db');
    createRawTable(scope.file, rawFile);
    const rand = prng(7);
    const halfMs = (rawSeconds * 1000) / 2;
    // Half of each baseline before the engine and half after, so disk noise hits both alike.
    progress(`phase a (${variant}): raw baselines, ${rawSeconds / 2} s each (the other half after the engine)`);
    const rawA = rawUpdates(rawFile, 'raw_tasks', ids, halfMs, rand);
    const ownA = rawUpdates(scope.file, 'tasks', ids, halfMs, rand);

    ({ engine, url } = await scope.startEngine());
    const procs = split(writers, clientProcs).map((n, p) => ({ n, child: scope.child(CLIENT, `phase a writers ${p}`, CLIENT_NODE_ARGS) }));
    const prepared = await Promise.all(
      procs.map(({ n, child }, p) => child.call('writersPrepare', { url, key: scope.key, clients: n, rows, syncGroups, seed: p + 1 }, 120_000)),
    );
    const held = prepared[0].heldRows;
    if (variant === 'silent' ? held !== 0 : held !== rows) throw new Error(`a ${variant} writer holds ${held} rows`);
    progress(`phase a (${variant}): ${writers} SDK writers × ${seconds} s closed loop (${clientProcs} process(es))`);
    await engine.call('resetLoop');
    const before = await engine.call('usage');
    const busy0 = machineBusyMs();
    const t0 = performance.now();
    const runs = await Promise.all(procs.map(({ child }) => child.call('writersRun', { seconds }, (seconds + 120) * 1000)));
    const wallMs = performance.now() - t0;
    const busy1 = machineBusyMs();
    const after = await engine.call('usage');
    const inSync = variant === 'silent' ? null : await clientsInSync(scope.file, procs, 'writersDigest');
    for (const { child } of procs) await child.stop();
    await engine.stop();

    const ownB = rawUpdates(scope.file, 'tasks', ids, halfMs, rand);
    const rawB = rawUpdates(rawFile, 'raw_tasks', ids, halfMs, rand);
    emit(phaseALine({ variant, opts, runs, wallMs, eng: engineDelta(before, after, wallMs), busy0, busy1, raw: baselineFigures(rawA, rawB), own: baselineFigures(ownA, ownB), inSync }));
  } finally {
    await scope.close();
  }
}

/** The engine's `tasks` rows as `id:syncId` lines in id order (read while it runs: WAL lets a reader in). */
function engineDigest(file) {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare('SELECT "id", "syncId" FROM "tasks"')
      .raw()
      .all()
      .map(([id, syncId]) => `${id}:${syncId}`)
      .sort()
      .join('\n');
  } finally {
    db.close();
  }
}

/**
 * How many clients hold every row at the engine's sync id (they received and
 * applied every change), asking each process `request` for its clients'
 * digests until all agree or 5 s have passed.
 */
async function clientsInSync(file, procs, request) {
  const want = engineDigest(file);
  const deadline = performance.now() + 5000;
  for (;;) {
    const digests = (await Promise.all(procs.map(({ child }) => child.call(request)))).flat();
    const same = digests.filter((d) => d === want).length;
    if (same === digests.length || performance.now() > deadline) return same;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function phaseALine({ variant, opts, runs, wallMs, eng, busy0, busy1, raw, own, inSync }) {
  const confirmed = runs.reduce((a, r) => a + r.confirmed, 0);
  const runWallMs = Math.max(...runs.map((r) => r.wallMs));
  const perSec = confirmed / (runWallMs / 1000);
  const lat = summarize(runs.flatMap((r) => [...r.latencies]));
  const clientCpuMs = runs.reduce((a, r) => a + r.cpuMs, 0);
  const clientCpu = runs.map((r) => r.cpuMs / wallMs);
  const clientLoops = runs.map((r) => loopSplit(r.loopUtilization, r.sched, r.cpuMs / wallMs, wallMs));
  const m = machineFigures(busy0, busy1, eng.cpuMs + clientCpuMs, wallMs);
  const ratio = perSec / raw.perSec;
  const cpuPerWrite = eng.cpuMs / confirmed;
  const goal = variant === 'silent' ? { ratio: 1.0 } : { ratio: 0.5, engine_cpu_ms_per_write: 0.1, confirm_p99_ms: 20 };
  const met = ratio >= goal.ratio && (variant === 'silent' || (cpuPerWrite <= goal.engine_cpu_ms_per_write && lat.p99 <= goal.confirm_p99_ms));
  return {
    case: `phase_a_${variant}`,
    rows: opts.rows,
    writers: opts.writers,
    sync_groups: variant === 'silent' ? ['bench-none'] : ['*'],
    client_procs: runs.length,
    seconds: opts.seconds,
    confirmed_writes: confirmed,
    writers_in_sync: inSync,
    writes_per_s: round(perSec, 0),
    confirm_p50_ms: round(lat.p50, 3),
    confirm_p99_ms: round(lat.p99, 3),
    confirm_max_ms: round(lat.max, 3),
    raw_tx_per_s: round(raw.perSec, 0),
    raw_halves_tx_per_s: raw.halves,
    raw_p50_ms: round(raw.p50, 3),
    raw_p99_ms: round(raw.p99, 3),
    ratio: round(ratio, 3),
    own_table_tx_per_s: round(own.perSec, 0),
    own_table_halves_tx_per_s: own.halves,
    ratio_own_table: round(perSec / own.perSec, 3),
    goal,
    goal_met: met,
    engine_cpu_s: round(eng.cpuMs / 1000, 2),
    engine_cpu_ms_per_write: round(cpuPerWrite, 4),
    engine_cpu_share: round(eng.cpuShare, 2),
    ...loopFields('engine', eng.split),
    engine_loop_delay_p99_ms: round(eng.loopDelayP99Ms, 2),
    engine_loop_delay_max_ms: round(eng.loopDelayMaxMs, 2),
    client_cpu_s: round(clientCpuMs / 1000, 2),
    client_cpu_share: round(clientCpuMs / wallMs, 2),
    client_proc_cpu_share: clientCpu.map((c) => round(c, 2)),
    client_loop_utilization: clientLoops.map((c) => round(c.loop, 2)),
    client_loop_cpu_wait_share: clientLoops.map((c) => round(c.wait, 2)),
    client_loop_delay_p99_ms: runs.map((r) => round(r.loopDelayP99Ms, 2)),
    machine_busy_share: round(m.machineBusy, 2),
    other_processes_cpu_share: round(m.other, 2),
    ...boundBy({ engine: eng.split, clients: clientLoops, machineBusy: m.machineBusy }),
    storage_tx: eng.transactions,
    writes_per_storage_tx: round(confirmed / Math.max(1, eng.transactions), 2),
    storage_tx_p50_ms: round(eng.storageTx.p50, 3),
    storage_tx_p99_ms: round(eng.storageTx.p99, 3),
    storage_tx_max_ms: round(eng.storageTx.max, 3),
    client_http_requests_per_write: round(runs.reduce((a, r) => a + r.httpRequests, 0) / Math.max(1, confirmed), 3),
    wall_s: round(runWallMs / 1000, 2),
    errors: runs.reduce((a, r) => a + r.errorCount, 0),
    first_error: runs.find((r) => r.errors.length)?.errors[0],
  };
}

// ---------------------------------------------------------------------------
// phase b

/**
 * Phase b: `subscribers` SDK clients (split over `subProcs` processes), each
 * holding `ablo.tasks.live({})` over the rows; one SDK writer (its own
 * process) updating row `n % rows` with `{ sentAt, n }` at `liveRate`
 * writes/s for `seconds` after a 0.5 s warmup. False (after a line saying
 * so) when the built SDK has no live queries.
 */
export async function phaseB(opts) {
  const { rows, subscribers, subProcs, liveRate, seconds } = opts;
  const warmupSeconds = 0.5;
  const scope = new Scope('phase-b');
  try {
    progress(`phase b: seeding ${rows} rows`);
    const { engine, url } = await seededEngine(scope, rows);
    const procs = split(subscribers, subProcs).map((n, p) => ({ n, child: scope.child(CLIENT, `phase b subscribers ${p}`, CLIENT_NODE_ARGS) }));
    try {
      for (const [p, { n, child }] of procs.entries()) await child.call('subscribersPrepare', { url, key: scope.key, count: n, rows, seed: p }, 120_000);
    } catch (err) {
      if (!String(err.message).includes(NO_LIVE)) throw err;
      // Said on its own line, and the run goes on with the other cases (exit code 1 at the end).
      emit({ case: 'phase_b_live_fanout', error: err.message.slice(err.message.indexOf(NO_LIVE)), fix: 'build a tree whose SDK has live queries (npx tsup), or pass --only phase_a,commits,fanout,bootstrap' });
      return false;
    }
    const writer = scope.child(CLIENT, 'phase b writer', CLIENT_NODE_ARGS);
    await writer.call('writerPrepare', { url, key: scope.key }, 60_000);
    const clocks = [];
    for (const { child } of procs) clocks.push(await clockOffset(child));
    const writerClock = await clockOffset(writer);

    const total = Math.round(liveRate * (warmupSeconds + seconds));
    const warmup = Math.round(liveRate * warmupSeconds);
    progress(`phase b: ${subscribers} live-query subscribers (${subProcs} process(es)), one writer at ${liveRate} writes/s for ${seconds} s (+${warmupSeconds} s warmup)`);
    for (const { child } of procs) await child.call('expect', { total, warmup });
    await engine.call('resetLoop');
    const before = await engine.call('usage');
    const busy0 = machineBusyMs();
    const t0 = performance.now();
    const w = await writer.call('writerRun', { rate: liveRate, seconds, warmupSeconds, rows }, (seconds + 120) * 1000);
    const subs = await Promise.all(procs.map(({ child }) => child.call('collect', { timeoutMs: 20_000 }, 60_000)));
    const wallMs = performance.now() - t0;
    const busy1 = machineBusyMs();
    const after = await engine.call('usage');
    const inSync = await clientsInSync(scope.file, procs, 'subscribersDigest');

    // recv (subscriber clock) − sent (writer clock), both brought to this process's clock.
    const lat = [];
    subs.forEach((s, p) => {
      const shift = writerClock.offset - clocks[p].offset;
      for (let k = 0; k < s.sent.length; k++) lat.push(s.recv[k] - s.sent[k] + shift);
    });
    const eng = engineDelta(before, after, wallMs);
    emit(phaseBLine({ opts, w, subs, lat, wallMs, eng, busy0, busy1, clocks: [...clocks, writerClock], inSync }));
    return true;
  } finally {
    await scope.close();
  }
}

function phaseBLine({ opts, w, subs, lat, wallMs, eng, busy0, busy1, clocks, inSync }) {
  const measured = w.total - w.warmup;
  const expected = measured * opts.subscribers;
  const deliveries = subs.reduce((a, s) => a + s.deliveries, 0);
  const s = summarize(lat);
  const conf = summarize(w.confirm);
  const subCpuMs = subs.reduce((a, x) => a + x.cpuMs, 0);
  const clientLoops = [...subs, w].map((x) => loopSplit(x.loopUtilization, x.sched, x.cpuMs / wallMs, wallMs));
  const m = machineFigures(busy0, busy1, eng.cpuMs + subCpuMs + w.cpuMs, wallMs);
  const goal = { p50_ms: 2, p99_ms: 10 };
  return {
    case: 'phase_b_live_fanout',
    rows: opts.rows,
    subscribers: opts.subscribers,
    subscriber_procs: subs.length,
    query: 'ablo.tasks.live({})',
    target_rate: opts.liveRate,
    writes: measured,
    achieved_rate: round(((measured - 1) * 1000) / (w.lastSent - w.firstMeasured), 0),
    deliveries,
    expected_deliveries: expected,
    missing: expected - deliveries,
    duplicates: subs.reduce((a, x) => a + x.duplicates, 0),
    live_queries_in_sync: inSync,
    p50_ms: round(s.p50, 3),
    p99_ms: round(s.p99, 3),
    max_ms: round(s.max, 3),
    goal,
    goal_met: s.p50 <= goal.p50_ms && s.p99 <= goal.p99_ms && deliveries === expected,
    writer_confirm_p50_ms: round(conf.p50, 3),
    writer_confirm_p99_ms: round(conf.p99, 3),
    engine_cpu_s: round(eng.cpuMs / 1000, 2),
    engine_cpu_share: round(eng.cpuShare, 2),
    ...loopFields('engine', eng.split),
    engine_loop_delay_p99_ms: round(eng.loopDelayP99Ms, 2),
    client_cpu_s: round((subCpuMs + w.cpuMs) / 1000, 2),
    subscriber_cpu_s: subs.map((x) => round(x.cpuMs / 1000, 2)),
    subscriber_cpu_share: subs.map((x) => round(x.cpuMs / wallMs, 2)),
    subscriber_cpu_us_per_delivery: round((subCpuMs * 1000) / Math.max(1, deliveries), 1),
    subscriber_loop_utilization: subs.map((x) => round(x.loopUtilization, 2)),
    subscriber_loop_cpu_wait_share: clientLoops.slice(0, subs.length).map((c) => round(c.wait, 2)),
    subscriber_loop_delay_p99_ms: subs.map((x) => round(x.loopDelayP99Ms, 2)),
    subscriber_loop_delay_max_ms: subs.map((x) => round(x.loopDelayMaxMs, 2)),
    writer_cpu_s: round(w.cpuMs / 1000, 2),
    writer_loop_utilization: round(w.loopUtilization, 2),
    machine_busy_share: round(m.machineBusy, 2),
    other_processes_cpu_share: round(m.other, 2),
    ...boundBy({ engine: eng.split, clients: clientLoops, machineBusy: m.machineBusy }),
    storage_tx: eng.transactions,
    writes_per_storage_tx: round(w.total / Math.max(1, eng.transactions), 2),
    storage_tx_p50_ms: round(eng.storageTx.p50, 3),
    storage_tx_p99_ms: round(eng.storageTx.p99, 3),
    clock_offsets_ms: clocks.map((c) => round(c.offset, 3)),
    clock_probe_rtt_max_ms: round(Math.max(...clocks.map((c) => c.rtt)), 3),
    wall_s: round(wallMs / 1000, 2),
    errors: w.errorCount,
    first_error: w.errors[0],
  };
}
