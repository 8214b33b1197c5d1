/**
 * Data Source mode (issue 15, "Measure"): what a commit costs when the row's
 * system of record is the app's backend instead of the engine's own storage.
 *
 *   npm run bench -- source [--only sequential,concurrent]
 *       [--sequential 400]                 commits per variant, one after another   (sequential)
 *       [--concurrency 16] [--per-worker 40]  workers × commits each, per variant    (concurrent)
 *       [--blocks 4]                       alternating blocks per case (ABBA…)
 *
 * One engine (dist/, in this process, a SQLite file in a temp dir) with two
 * models of the same shape: `tasks`, bound to a local source, and `notes`,
 * stored by the engine. The source is a tiny app backend in this process: a
 * Node `http` server on port 0 serving `dataSource()` (from dist/, signatures
 * verified) over in-memory maps, with an outbox of what it applied (the
 * engine pulls it every second and drops the echoes, as in production) and
 * the default in-memory commit dedupe. Every commit is a confirmed
 * single-row update (`POST /v1/commits`, HTTP keep-alive), timed from send to
 * receipt; a source commit's receipt comes after the source answered and the
 * engine applied its canonical row.
 *
 * Cases, each measured in alternating blocks (source, local, local, source, …)
 * so both variants see the same machine:
 *  `sequential_commits`: one writer, each commit after the previous receipt
 *      (one row per model).
 *  `concurrent_commits`: `--concurrency` writers at once, each on its own
 *      row, each back to back.
 * Fields: `source_*` and `local_*` commits/s (commits ÷ the variant's summed
 * block time), p50/p99/max ms; `ratio` = source ÷ local commits/s;
 * `added_p50_ms` / `added_p99_ms` = source − local latency (what the trip to
 * the source adds per commit); `source_requests` and `source_applied` (every
 * source commit applied once).
 *
 * Needs the build (`npx tsup`). About 20–40 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importDist, waitForDist } from './lib/dist.js';
import { onlyCases, option } from './lib/scope.js';
import { round, summarize } from './lib/stats.js';

export const description = 'source: confirmed commits/s and p50/p99 through a local Data Source (dataSource() over memory, HTTP) vs the same commits on the engine storage; added latency per commit';

const CASES = ['sequential', 'concurrent'];
const WARMUP = 100;

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'source', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench source] ${text}\n`);
}

/** The app's backend: `dataSource()` over maps, on Node `http`; counts what it was asked and applied. */
async function startMemoryBackend({ dataSource, toNodeHandler, schema, signingSecret }) {
  const tasks = new Map();
  const outbox = [];
  const stats = { requests: 0, applied: 0 };
  const handler = dataSource({
    schema,
    signingSecret,
    commit({ clientTxId, operations }) {
      const rows = [];
      for (const op of operations) {
        const before = tasks.get(op.id);
        if (op.op === 'delete') tasks.delete(op.id);
        else tasks.set(op.id, { ...before, ...op.data, id: op.id });
        const after = tasks.get(op.id) ?? null;
        if (after) rows.push({ ...after, model: op.model });
        outbox.push({ id: String(outbox.length + 1), model: op.model, entityId: op.id, type: op.op, data: after, clientTxId });
      }
      stats.applied++;
      return { rows };
    },
    events({ cursor, limit }) {
      const from = cursor === null ? 0 : Number(cursor);
      const events = outbox.slice(from, from + limit);
      return { events, nextCursor: String(from + events.length) };
    },
    tasks: {
      loadMany: ({ ids }) => ids.map((id) => tasks.get(id)).filter(Boolean),
      list({ cursor, limit }) {
        const all = [...tasks.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).filter((r) => cursor === null || r.id > cursor);
        const rows = all.slice(0, limit);
        return { rows, nextCursor: rows.length === limit ? rows.at(-1).id : null };
      },
    },
  });
  const node = toNodeHandler(handler);
  const server = createServer((req, res) => {
    stats.requests++;
    node(req, res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/ablo`,
    stats,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** One confirmed single-row update; its latency in ms. */
async function timedUpdate(url, key, model, id, n) {
  const started = performance.now();
  const res = await fetch(`${url}/v1/commits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ operations: [{ op: 'update', model, id, data: { n } }] }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`commit to ${model}/${id} → ${res.status}: ${text.slice(0, 300)}`);
  return performance.now() - started;
}

/** Run `writers` workers of `each` back-to-back commits on their own rows of `model`; latencies and wall ms. */
async function runBlock(ctx, model, rows, each) {
  const latencies = [];
  const started = performance.now();
  await Promise.all(
    rows.map(async (id) => {
      for (let i = 0; i < each; i++) latencies.push(await timedUpdate(ctx.url, ctx.key, model, id, ++ctx.n));
    }),
  );
  return { latencies, wallMs: performance.now() - started };
}

/** Blocks alternating source/local (ABBA…); figures of each variant and the comparison. */
async function measure(ctx, { rows, each, blocks }) {
  const order = Array.from({ length: blocks }, (_, i) => (i % 4 === 0 || i % 4 === 3 ? 'source' : 'local'));
  const acc = { source: { latencies: [], wallMs: 0 }, local: { latencies: [], wallMs: 0 } };
  for (const variant of order) {
    const b = await runBlock(ctx, variant === 'source' ? 'tasks' : 'notes', rows[variant], each);
    acc[variant].latencies.push(...b.latencies);
    acc[variant].wallMs += b.wallMs;
  }
  const figures = {};
  const s = {};
  for (const variant of ['source', 'local']) {
    s[variant] = summarize(acc[variant].latencies);
    figures[`${variant}_commits`] = acc[variant].latencies.length;
    figures[`${variant}_commits_per_s`] = round(acc[variant].latencies.length / (acc[variant].wallMs / 1000), 0);
    figures[`${variant}_p50_ms`] = round(s[variant].p50, 3);
    figures[`${variant}_p99_ms`] = round(s[variant].p99, 3);
    figures[`${variant}_max_ms`] = round(s[variant].max, 3);
  }
  figures.ratio = round(figures.source_commits_per_s / figures.local_commits_per_s, 3);
  figures.added_p50_ms = round(s.source.p50 - s.local.p50, 3);
  figures.added_p99_ms = round(s.source.p99 - s.local.p99, 3);
  return figures;
}

export default async function main(args) {
  const cases = onlyCases(args, CASES);
  if (!cases) return 2;
  if (!(await waitForDist(['src/engine/index.js', 'src/source/index.js', 'src/schema/index.js']))) {
    process.stderr.write('error: dist/ is missing; the source bench runs the built package.\nfix: run "npx tsup" (or "npm run build") first.\n');
    return 1;
  }
  const { createEngine } = await importDist('src/engine/index.js');
  const { dataSource, toNodeHandler, generateSigningSecret } = await importDist('src/source/index.js');
  const { defineSchema, model, z } = await importDist('src/schema/index.js');
  const sequential = Math.floor(option(args, '--sequential', 400));
  const concurrency = Math.floor(option(args, '--concurrency', 16));
  const perWorker = Math.floor(option(args, '--per-worker', 40));
  const blocks = Math.max(2, Math.floor(option(args, '--blocks', 4) / 2) * 2);

  const fields = { title: z.string(), n: z.number().int() };
  const schema = defineSchema({ tasks: model(fields), notes: model(fields) });
  const signingSecret = generateSigningSecret();
  const dir = mkdtempSync(join(tmpdir(), 'ablo-bench-source-'));
  const backend = await startMemoryBackend({ dataSource, toNodeHandler, schema, signingSecret });
  let engine;
  try {
    engine = await createEngine({
      file: join(dir, 'engine.db'),
      port: 0,
      schema,
      log: () => {},
      sources: { app: { url: backend.url, models: ['tasks'], signingSecret, pollIntervalMs: 1000 } },
    });
    await engine.sources.ready();
    const ctx = { url: engine.url, key: engine.devKey, n: 0 };
    const ids = (prefix, count) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    const rowIds = { sequential: ids('s', 1), concurrent: ids('c', concurrency) };
    for (const m of ['tasks', 'notes']) {
      const all = [...rowIds.sequential, ...rowIds.concurrent];
      const res = await fetch(`${ctx.url}/v1/commits`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ctx.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ operations: all.map((id) => ({ op: 'create', model: m, id, data: { title: 'bench', n: 0 } })) }),
      });
      if (res.status !== 200) throw new Error(`seeding ${m} → ${res.status}: ${(await res.text()).slice(0, 300)}`);
    }
    progress(`warming up (${WARMUP} commits per variant)`);
    await runBlock(ctx, 'tasks', rowIds.sequential, WARMUP);
    await runBlock(ctx, 'notes', rowIds.sequential, WARMUP);

    const sourceCommitsBefore = backend.stats.applied;
    let sourceCommitsSent = 0;
    if (cases.includes('sequential')) {
      const each = Math.max(1, Math.floor(sequential / (blocks / 2)));
      progress(`sequential: ${each * (blocks / 2)} commits per variant, one after another, ${blocks} blocks`);
      const f = await measure(ctx, { rows: { source: rowIds.sequential, local: rowIds.sequential }, each, blocks });
      sourceCommitsSent += f.source_commits;
      emit({ case: 'sequential_commits', writers: 1, ...f });
    }
    if (cases.includes('concurrent')) {
      const each = Math.max(1, Math.floor(perWorker / (blocks / 2)));
      progress(`concurrent: ${concurrency} writers × ${each * (blocks / 2)} commits per variant, ${blocks} blocks`);
      const f = await measure(ctx, { rows: { source: rowIds.concurrent, local: rowIds.concurrent }, each, blocks });
      sourceCommitsSent += f.source_commits;
      emit({ case: 'concurrent_commits', writers: concurrency, ...f });
    }
    const applied = backend.stats.applied - sourceCommitsBefore;
    emit({ case: 'source_check', source_commits_sent: sourceCommitsSent, source_applied: applied, source_requests: backend.stats.requests, exactly_once: applied === sourceCommitsSent });
    return applied === sourceCommitsSent ? 0 : 1;
  } finally {
    await engine?.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
