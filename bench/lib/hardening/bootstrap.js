/**
 * Hardening, item 3: bootstrap reads only the requested groups.
 *
 * A 50,000-row database (`cards`, `syncGroupFormat: 'board:{boardId}'`, 1,000
 * boards of 50 rows), then 1,000 fresh clients, each on its own board, send
 * their hello at once (sockets opened beforehand). Reported:
 *  - `health_p50_ms` / `health_p99_ms` / `health_max_ms`: GET /v1/health,
 *    polled back to back from this process while the clients bootstrap;
 *  - `engine_cpu_ms` (process.cpuUsage of the engine child) and its share of
 *    the wall time, the engine's event-loop delay p99;
 *  - `wall_ms`: first hello sent → last bootstrap_done, per-client p50/p99;
 *  - `rows_sent` (rows the clients received) and `rows_read` (the engine's
 *    read counter: rows read from storage for these bootstraps);
 *  - baseline, same run, same file: raw better-sqlite3 reading the same 1,000
 *    groups of rows through the same index (`baseline_read_ms`), and with
 *    JSON encoding of each row (`baseline_read_encode_ms`); `cpu_ratio` =
 *    engine CPU ÷ baseline read+encode time.
 *
 *   npm run bench -- hardening --only bootstrap [--clients 1000] [--rows-per-client 50]
 *
 * The clients run in a child process (this module, forked with
 * ABLO_BENCH_ROLE=bootstrap-clients), apart from the engine's and this
 * process's event loops.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { waitForDist } from '../dist.js';
import { Child, serve } from '../proc.js';
import { ENGINE_HOST, option, Scope, seedRows } from '../scope.js';
import { round, summarize } from '../stats.js';
import { closeAll, hello, openSocket } from '../ws-client.js';

export const name = 'bootstrap';

const ROLE = 'bootstrap-clients';
const self = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------
// Client child: opens the sockets, then sends every hello at once.

if (process.env.ABLO_BENCH_ROLE === ROLE) {
  const sockets = [];
  serve({
    async open({ url, count }) {
      // In batches, so the listen backlog never overflows (the measured part starts at hello).
      for (let i = 0; i < count; i += 50) {
        const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => openSocket(url)));
        sockets.push(...batch);
      }
      return { open: sockets.length };
    },
    async run({ key }) {
      const perClient = new Array(sockets.length);
      let rows = 0;
      const errors = [];
      const t0 = performance.now();
      await Promise.all(
        sockets.map(async (ws, i) => {
          try {
            await hello(ws, { apiKey: key, groups: [`board:b${i}`] }, { onFrame: (f) => (rows += f.type === 'bootstrap' ? f.rows.length : 0) });
          } catch (err) {
            errors.push(err.message);
          }
          perClient[i] = performance.now() - t0;
        }),
      );
      return { wallMs: performance.now() - t0, rows, perClient, errors: errors.slice(0, 5), errorCount: errors.length };
    },
    async close() {
      await closeAll(sockets);
    },
  });
}

// ---------------------------------------------------------------------------
// The case

/** GET /v1/health back to back until `stop()`; latencies in ms. */
function pollHealth(url) {
  const lat = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/health`);
      await res.arrayBuffer();
      lat.push(performance.now() - t0);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return lat;
    },
  };
}

/** Read each client's group of rows with raw better-sqlite3, through the same index the engine uses. */
function baseline(file, clients) {
  const Database = require('better-sqlite3');
  const db = new Database(file, { readonly: true });
  try {
    const cols = db.prepare(`SELECT name FROM pragma_table_info('cards')`).pluck().all().map((c) => `"${c}"`).join(', ');
    const stmt = db.prepare(
      `SELECT ${cols} FROM "cards" WHERE "id" IN (SELECT row_id FROM _ablo_row_groups WHERE grp = ? AND model = 'cards' ORDER BY row_id) ORDER BY "id"`,
    );
    let t0 = performance.now();
    let rows = 0;
    for (let i = 0; i < clients; i++) rows += stmt.all(`board:b${i}`).length;
    const readMs = performance.now() - t0;
    t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < clients; i++) for (const r of stmt.all(`board:b${i}`)) bytes += JSON.stringify(r).length;
    const readEncodeMs = performance.now() - t0;
    return { rows, readMs, readEncodeMs, bytes };
  } finally {
    db.close();
  }
}

export default async function run({ emit, progress, args }) {
  const clients = Math.floor(option(args, '--clients', 1000));
  const perClient = Math.floor(option(args, '--rows-per-client', 50));
  const total = clients * perClient;
  if (!(await waitForDist(['src/engine/index.js', 'src/schema/index.js']))) throw new Error('dist/ is missing: run `npx tsup` first');

  const scope = new Scope('hardening-bootstrap');
  try {
    const engine = scope.child(ENGINE_HOST, 'engine');
    const info = await engine.call('start', { file: scope.file, schema: 'hardening' }, 90_000);
    scope.key = info.devKey;
    const url = info.url;

    progress(`seeding ${total} rows: ${clients} boards × ${perClient}`);
    await seedRows(url, scope.key, 'cards', total, (i) => ({
      id: `card_${String(i).padStart(7, '0')}`,
      title: `Card ${i} on board ${i % clients}`,
      boardId: `b${i % clients}`,
      n: i,
    }));

    progress(`opening ${clients} sockets`);
    const client = new Child(self, { name: 'bootstrap clients', env: { ABLO_BENCH_ROLE: ROLE } });
    scope.children.push(client);
    await client.call('open', { url, count: clients }, 120_000);

    progress(`${clients} hellos at once`);
    await engine.call('resetLoop');
    const before = await engine.call('usage');
    const health = pollHealth(url);
    const r = await client.call('run', { key: scope.key }, 600_000);
    const healthLat = await health.stop();
    const after = await engine.call('usage');
    await client.stop();

    progress('baseline: raw better-sqlite3 reads of the same groups');
    const base = baseline(scope.file, clients);
    const h = summarize(healthLat);
    const per = summarize(r.perClient);
    const engineCpuMs = after.cpuMs - before.cpuMs;
    emit({
      clients,
      rows_in_database: total,
      rows_per_client: perClient,
      wall_ms: round(r.wallMs, 0),
      client_done_p50_ms: round(per.p50, 0),
      client_done_p99_ms: round(per.p99, 0),
      rows_sent: r.rows,
      rows_read: after.rowsRead - before.rowsRead,
      errors: r.errorCount,
      ...(r.errorCount ? { first_errors: r.errors } : {}),
      health_requests: h.count,
      health_p50_ms: round(h.p50, 2),
      health_p99_ms: round(h.p99, 2),
      health_max_ms: round(h.max, 2),
      engine_cpu_ms: round(engineCpuMs, 0),
      engine_cpu_share: round(engineCpuMs / r.wallMs, 2),
      engine_loop_delay_p99_ms: round(after.loopDelayP99Ms, 2),
      engine_loop_delay_max_ms: round(after.loopDelayMaxMs, 2),
      engine_max_rss_mb: round(after.maxRssMb, 0),
      baseline_rows: base.rows,
      baseline_read_ms: round(base.readMs, 1),
      baseline_read_encode_ms: round(base.readEncodeMs, 1),
      cpu_ratio: round(engineCpuMs / base.readEncodeMs, 1),
    });
  } finally {
    await scope.close();
  }
}
