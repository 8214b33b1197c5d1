/**
 * The engine on Postgres (issue 13, "Measure"): real engine processes (the
 * built package, `databaseUrl`) on a Postgres database created for the run
 * and dropped after, driven by WebSocket clients in other processes. Fields
 * of every line: docs/benchmarks.md ("postgres").
 *
 *   npm run bench -- postgres [--only commits,three,fanout] [--clients 48]
 *       [--per-client 100] [--pool 4] [--subscribers 100] [--rate 200] [--seconds 5]
 *
 * Server: ABLO_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 *
 *  `pg_commits_one_process`: `--clients` writers on one engine process, each
 *      updating its own row with single-op commits back to back (the next
 *      after the receipt): confirmed commits/s, p50/p99. Baseline in the same
 *      run: raw `pg` single-row UPDATE transactions (BEGIN; UPDATE; COMMIT) on
 *      a plain table with the same columns, from `--pool` connections at once
 *      (the engine's pool size), half before and half after the engine →
 *      `ratio`.
 *  `pg_commits_three_processes`: the same writers split over three engine
 *      processes on the one database: total confirmed commits/s, its ratio to
 *      the one-process figure of this run, CPU of each engine process and of
 *      Postgres (every `postgres` process on the machine).
 *  `pg_fanout_three_processes`: `--subscribers` WebSocket subscribers split
 *      over three engine processes, one writer on the first at a paced
 *      `--rate` commits/s: latency from the writer's send to each delivery on
 *      every process (clock offsets corrected), p50/p99, deliveries vs expected.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { waitForDist } from './lib/dist.js';
import { clockOffset } from './lib/proc.js';
import { round, summarize, wallNow } from './lib/stats.js';
import { creates, onlyCases, option, post, Scope, sleep, withSignalCleanup } from './lib/scope.js';
import { closeAll, hello, openSocket } from './lib/ws-client.js';

export const description = 'postgres: confirmed commits/s on one engine process vs raw pg transactions, three processes vs one, fanout over three processes';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENT = join(here, 'lib/engine-client.js');
const CASES = ['commits', 'three', 'fanout'];
const ADMIN_URL = process.env.ABLO_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'postgres', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench postgres] ${text}\n`);
}

/** A database for one case, dropped by `drop()`. */
async function benchDatabase() {
  const name = `ablo_bench_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** CPU milliseconds used so far by every process named `postgres` (server and backends), from /proc. */
function postgresCpuMs() {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const f = stat.slice(close + 2).split(' ');
      // utime, stime, cutime, cstime are fields 14-17 (1-based); f starts at field 3.
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks * 10;
}

/** Seed one `items` row per writer (its own lane) through the engine at `url`. */
async function seedItems(url, key, clients) {
  await post(url, key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
  const rows = Array.from({ length: clients }, (_, i) => ({ id: `item-${i}`, lane: String(i), projectId: 'p1', title: 'start', n: 0 }));
  await post(url, key, '/v1/commits', creates('items', rows));
}

/** `total` raw single-row UPDATE transactions from `pool` connections at once, on a plain table of `rows` rows. */
async function rawUpdates(url, pool, rows, total) {
  const conns = await Promise.all(
    Array.from({ length: pool }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  try {
    await conns[0].query(
      'CREATE TABLE IF NOT EXISTS bench_raw (id text PRIMARY KEY, lane text NOT NULL, project_id text NOT NULL, title text NOT NULL, n integer NOT NULL, updated_at text NOT NULL, sync_id bigint NOT NULL)',
    );
    await conns[0].query(
      `INSERT INTO bench_raw SELECT 'item-' || i, i::text, 'p1', 'start', 0, now()::text, 0 FROM generate_series(0, $1 - 1) i ON CONFLICT DO NOTHING`,
      [rows],
    );
    const lat = new Float64Array(total);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      conns.map(async (c) => {
        for (let k = next++; k < total; k = next++) {
          const s = performance.now();
          await c.query('BEGIN');
          await c.query('UPDATE bench_raw SET title = $1, n = $2, updated_at = $3, sync_id = sync_id + 1 WHERE id = $4', [
            `raw ${k}`,
            k,
            new Date().toISOString(),
            `item-${k % rows}`,
          ]);
          await c.query('COMMIT');
          lat[k] = performance.now() - s;
        }
      }),
    );
    const ms = performance.now() - t0;
    return { ms, perSec: total / (ms / 1000), lat };
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}

/** Writers split over `urls` (one client process per engine), run at once: total commits/s and latencies. */
async function runWriters(scope, urls, clients, perClient) {
  const share = urls.map((_, i) => Math.floor(clients / urls.length) + (i < clients % urls.length ? 1 : 0));
  const procs = urls.map((_, i) => scope.child(CLIENT, `clients-${i}`));
  // Each process's writers own rows item-<offset + j>: lanes never overlap across processes.
  let offset = 0;
  const offsets = share.map((n) => ((offset += n), offset - n));
  await Promise.all(procs.map((p, i) => p.call('writersPrepare', { url: urls[i], key: scope.key, clients: share[i], warmup: 5, offset: offsets[i] }, 60_000)));
  const t0 = performance.now();
  const results = await Promise.all(procs.map((p) => p.call('writersRun', { perClient }, 300_000)));
  const wallMs = performance.now() - t0;
  await Promise.all(procs.map((p) => p.stop()));
  const latencies = results.flatMap((r) => Array.from(r.latencies));
  return { wallMs, latencies, errors: results.flatMap((r) => r.errors), clientCpuMs: results.reduce((a, r) => a + r.clientCpuMs, 0) };
}

async function caseCommits(opts, one) {
  const { clients, perClient, pool } = opts;
  const total = clients * perClient;
  const scope = new Scope('pg-commits');
  const db = await benchDatabase();
  try {
    let { engine, url } = await scope.startEngine({ databaseUrl: db.url });
    await seedItems(url, scope.key, clients);
    await engine.stop();
    progress(`one process: baseline ${total} raw pg transactions from ${pool} connections (half now, half after)`);
    const rawA = await rawUpdates(db.url, pool, clients, Math.floor(total / 2));
    ({ engine, url } = await scope.startEngine({ databaseUrl: db.url }));
    progress(`one process: ${clients} writers × ${perClient} single-op commits`);
    const before = await engine.call('usage');
    const pg0 = postgresCpuMs();
    const r = await runWriters(scope, [url], clients, perClient);
    const pgCpuMs = postgresCpuMs() - pg0;
    const after = await engine.call('usage');
    await engine.stop();
    const rawB = await rawUpdates(db.url, pool, clients, total - Math.floor(total / 2));
    const rawPerSec = total / ((rawA.ms + rawB.ms) / 1000);
    const perSec = total / (r.wallMs / 1000);
    const lat = summarize(r.latencies);
    const rawLat = summarize([...rawA.lat, ...rawB.lat]);
    one.perSec = perSec;
    emit({
      case: 'pg_commits_one_process',
      clients,
      commits: total,
      pool_size: pool,
      commits_per_s: round(perSec, 0),
      p50_ms: round(lat.p50, 3),
      p99_ms: round(lat.p99, 3),
      baseline_tx_per_s: round(rawPerSec, 0),
      baseline_halves_tx_per_s: [round(rawA.perSec, 0), round(rawB.perSec, 0)],
      baseline_p50_ms: round(rawLat.p50, 3),
      baseline_p99_ms: round(rawLat.p99, 3),
      ratio: round(perSec / rawPerSec, 2),
      commits_per_storage_tx: round(total / Math.max(1, after.transactions - before.transactions), 1),
      engine_cpu_ms_per_commit: round((after.cpuMs - before.cpuMs) / total, 4),
      postgres_cpu_ms_per_commit: round(pgCpuMs / total, 4),
      client_cpu_share: round(r.clientCpuMs / r.wallMs, 2),
      errors: r.errors.length,
    });
  } finally {
    await scope.close();
    await db.drop();
  }
}

async function caseThree(opts, one) {
  const { clients, perClient } = opts;
  const total = clients * perClient;
  const scope = new Scope('pg-three');
  const db = await benchDatabase();
  try {
    const first = await scope.startEngine({ databaseUrl: db.url });
    await seedItems(first.url, scope.key, clients);
    const rest = [await scope.startEngine({ databaseUrl: db.url }), await scope.startEngine({ databaseUrl: db.url })];
    const nodes = [first, ...rest];
    progress(`three processes: ${clients} writers × ${perClient} single-op commits, split over three`);
    const before = await Promise.all(nodes.map((n) => n.engine.call('usage')));
    const pg0 = postgresCpuMs();
    const r = await runWriters(
      scope,
      nodes.map((n) => n.url),
      clients,
      perClient,
    );
    const pgCpuMs = postgresCpuMs() - pg0;
    const after = await Promise.all(nodes.map((n) => n.engine.call('usage')));
    const perSec = total / (r.wallMs / 1000);
    const lat = summarize(r.latencies);
    const tx = after.reduce((a, u, i) => a + u.transactions - before[i].transactions, 0);
    emit({
      case: 'pg_commits_three_processes',
      clients,
      commits: total,
      commits_per_s: round(perSec, 0),
      ratio_to_one_process: one.perSec ? round(perSec / one.perSec, 2) : null,
      p50_ms: round(lat.p50, 3),
      p99_ms: round(lat.p99, 3),
      commits_per_storage_tx: round(total / Math.max(1, tx), 1),
      engine_cpu_ms_per_commit: after.map((u, i) => round((u.cpuMs - before[i].cpuMs) / total, 4)),
      engine_cpu_share: after.map((u, i) => round((u.cpuMs - before[i].cpuMs) / r.wallMs, 2)),
      postgres_cpu_ms_per_commit: round(pgCpuMs / total, 4),
      postgres_cpu_share: round(pgCpuMs / r.wallMs, 2),
      client_cpu_share: round(r.clientCpuMs / r.wallMs, 2),
      errors: r.errors.length,
    });
  } finally {
    await scope.close();
    await db.drop();
  }
}

/** One writer socket on `url` sending `total` commits at `rate`/s; resolves with the send times and confirm latencies. */
async function pacedWriter(scope, url, rate, total, targets) {
  const writer = await openSocket(url);
  await hello(writer, { apiKey: scope.key, groups: ['bench:writer'] });
  const sentAt = new Float64Array(total);
  const confirm = new Float64Array(total);
  let answered = 0;
  let errors = 0;
  let done;
  const all = new Promise((r) => (done = r));
  writer.handler = (text) => {
    const f = JSON.parse(text);
    if (f.type !== 'receipt' && f.type !== 'error') return;
    if (f.type === 'receipt') confirm[Number(f.ref)] = wallNow() - sentAt[Number(f.ref)];
    else errors++;
    if (++answered === total) done();
  };
  const start = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        const i = sent++;
        const at = wallNow();
        sentAt[i] = at;
        const commit = { operations: [{ op: 'update', model: 'tasks', id: `task-${i % targets}`, data: { sentAt: at, n: i } }] };
        writer.send(JSON.stringify({ type: 'commit', ref: String(i), commit }));
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 0);
    };
    tick();
  });
  await Promise.race([all, sleep(20_000)]);
  await closeAll([writer]);
  return { sentAt, confirm, errors };
}

async function caseFanout(opts) {
  const { subscribers, rate, seconds } = opts;
  const targets = 100;
  const scope = new Scope('pg-fanout');
  const db = await benchDatabase();
  try {
    const nodes = [await scope.startEngine({ databaseUrl: db.url })];
    const rows = Array.from({ length: targets }, (_, i) => ({ id: `task-${i}`, title: `t${i}`, status: 'todo', projectId: 'p1', n: 0, sentAt: 0, done: false }));
    await post(nodes[0].url, scope.key, '/v1/commits', creates('projects', [{ id: 'p1', name: 'bench' }]));
    await post(nodes[0].url, scope.key, '/v1/commits', creates('tasks', rows));
    nodes.push(await scope.startEngine({ databaseUrl: db.url }), await scope.startEngine({ databaseUrl: db.url }));
    progress(`fanout: ${subscribers} subscribers over three processes, one writer at ${rate}/s for ${seconds} s`);
    const share = nodes.map((_, i) => Math.floor(subscribers / 3) + (i < subscribers % 3 ? 1 : 0));
    const subs = nodes.map((_, i) => scope.child(CLIENT, `subscribers-${i}`));
    await Promise.all(subs.map((s, i) => s.call('subscribe', { url: nodes[i].url, key: scope.key, count: share[i] }, 60_000)));
    const clocks = [];
    for (const s of subs) clocks.push(await clockOffset(s));
    await Promise.all(subs.map((s) => s.call('mark')));
    const total = Math.round(rate * seconds);
    const w = await pacedWriter(scope, nodes[0].url, rate, total, targets);
    const results = await Promise.all(subs.map((s) => s.call('collect', { expectedPerSub: total, timeoutMs: 20_000 }, 60_000)));
    const lat = [];
    const perProcess = results.map((r, i) => {
      const own = [];
      for (let k = 0; k < r.sent.length; k++) own.push(r.recv[k] - clocks[i].offset - r.sent[k]);
      lat.push(...own);
      const s = summarize(own);
      return { p50_ms: round(s.p50, 3), p99_ms: round(s.p99, 3), deliveries: own.length };
    });
    const s = summarize(lat);
    const conf = summarize(Array.from(w.confirm));
    emit({
      case: 'pg_fanout_three_processes',
      subscribers,
      target_rate: rate,
      commits: total,
      deliveries: lat.length,
      expected_deliveries: total * subscribers,
      missing: total * subscribers - lat.length,
      p50_ms: round(s.p50, 3),
      p99_ms: round(s.p99, 3),
      max_ms: round(s.max, 3),
      per_process: perProcess,
      writer_confirm_p50_ms: round(conf.p50, 3),
      writer_confirm_p99_ms: round(conf.p99, 3),
      resyncs: results.reduce((a, r) => a + r.resyncs, 0),
      errors: w.errors,
    });
  } finally {
    await scope.close();
    await db.drop();
  }
}

export default async function main(args) {
  const only = onlyCases(args, CASES);
  if (!only) return 2;
  if (!(await waitForDist(['src/engine/index.js', 'src/schema/index.js']))) {
    process.stderr.write('error: dist/ is not built\nfix: npm run build\n');
    return 1;
  }
  const opts = {
    clients: Math.floor(option(args, '--clients', 48)),
    perClient: Math.floor(option(args, '--per-client', 100)),
    pool: Math.floor(option(args, '--pool', 4)),
    subscribers: Math.floor(option(args, '--subscribers', 100)),
    rate: option(args, '--rate', 200),
    seconds: option(args, '--seconds', 5),
  };
  const one = { perSec: null };
  return withSignalCleanup('postgres', async () => {
    let code = 0;
    const run = async (name, fn) => {
      if (!only.includes(name)) return;
      try {
        await fn();
      } catch (err) {
        code = 1;
        emit({ case: name, error: String(err && err.message ? err.message : err) });
      }
    };
    await run('commits', () => caseCommits(opts, one));
    await run('three', () => caseThree(opts, one));
    await run('fanout', () => caseFanout(opts));
    return code;
  });
}
