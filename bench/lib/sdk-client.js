/**
 * Child process holding the SDK clients (the built `ablo` package) and the raw
 * protocol sockets of the sdk and claims benches, so their CPU is measured
 * apart from the engine's (`engine-host.js`) and the parent stays idle.
 *
 * Requests:
 *  - `readsPrepare` / `readsRun`: one SDK client bootstrapping every `tasks`
 *    row, then local reads timed against a plain Map / array over the same
 *    row objects.
 *  - `writersPrepare` / `writersBlock`: N SDK clients and/or N raw sockets,
 *    each updating its own `items` row (and subscribed to that row's lane
 *    only); one block = every writer sends `perClient` confirmed updates back
 *    to back. Variants: `sdk`, `raw`, `sdk_guarded` (readAt = the row's
 *    syncId, onStale 'reject'), `sdk_unguarded`.
 *  - `handoffPrepare` / `handoffBlock`: agents (SDK clients or raw sockets)
 *    that claim a row, write it, release it, round after round.
 */
import { loadSdk } from './engine-schema.js';
import { importDist } from './dist.js';
import { cpuMs, serve } from './proc.js';
import { RawClient } from './raw-client.js';
import { prng } from './prng.js';

const sdk = () => loadSdk(importDist);

/** Every SDK client and raw socket opened, for `close`. */
const clients = { sdk: [], raw: [] };

async function sdkClient({ url, key }, participantId, syncGroups) {
  const { Ablo, schema } = await sdk();
  const ablo = Ablo({ schema, apiKey: key, baseURL: url, participant: { kind: 'agent', id: participantId }, syncGroups });
  clients.sdk.push(ablo);
  await ablo.ready();
  return ablo;
}

async function rawClient({ url, key }, participantId, groups) {
  const raw = await RawClient.connect(url, { apiKey: key, groups, participant: { kind: 'agent', id: participantId } });
  clients.raw.push(raw);
  return raw;
}


// ---------------------------------------------------------------------------
// local reads

let reader = null;

async function readsPrepare({ url, key }) {
  await sdk();
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const ablo = await sdkClient({ url, key }, 'reader', ['default']);
  const bootstrapMs = performance.now() - t0;
  globalThis.gc?.();
  const heap1 = process.memoryUsage().heapUsed;
  // The baseline holds the very row objects the SDK's pool holds.
  const rows = ablo.tasks.getAll();
  const map = new Map(rows.map((r) => [r.id, r]));
  reader = { ablo, rows, map };
  return { rows: rows.length, bootstrapMs, poolHeapMb: (heap1 - heap0) / 2 ** 20 };
}

// Specialized loops (one call site each), so neither side pays for a generic callback.
function sdkGets(tasks, ids, from, count) {
  let s = 0;
  for (let i = from; i < from + count; i++) s += tasks.get(ids[i]).n;
  return s;
}

function mapGets(map, ids, from, count) {
  let s = 0;
  for (let i = from; i < from + count; i++) s += map.get(ids[i]).n;
  return s;
}

const byIdAsc = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Every measurement alternates SDK and baseline (and which goes first), so GC
 * and machine noise hit both alike. Times are per call (ms) or per op (ns).
 */
function readsRun({ getBatch, getRounds, whereIters, orderIters, projects }) {
  const { ablo, rows, map } = reader;
  const tasks = ablo.tasks;
  const rand = prng(42);
  const ids = rows.map((r) => r.id);
  const pool = Array.from({ length: getBatch * 20 }, () => ids[Math.floor(rand() * ids.length)]);
  let sink = 0;
  const out = {};

  // get(id): batches of random ids.
  const sdkNs = [];
  const mapNs = [];
  for (let r = -10; r < getRounds; r++) {
    const from = (Math.abs(r) % 20) * getBatch;
    for (const side of r % 2 === 0 ? ['sdk', 'map'] : ['map', 'sdk']) {
      const t0 = performance.now();
      sink += side === 'sdk' ? sdkGets(tasks, pool, from, getBatch) : mapGets(map, pool, from, getBatch);
      const ns = ((performance.now() - t0) * 1e6) / getBatch;
      if (r >= 0) (side === 'sdk' ? sdkNs : mapNs).push(ns);
    }
  }
  out.get = { sdk: sdkNs, base: mapNs };

  // getAll({ where }) matching one project of `projects` (~1% of rows).
  const where = { sdk: [], base: [], sorted: [] };
  let matched = 0;
  for (let k = -5; k < whereIters; k++) {
    const projectId = `p${Math.floor(rand() * projects)}`;
    const runs = {
      sdk: () => tasks.getAll({ where: { projectId } }),
      base: () => rows.filter((r) => r.projectId === projectId),
      sorted: () => rows.filter((r) => r.projectId === projectId).sort(byIdAsc),
    };
    const order = k % 2 === 0 ? ['sdk', 'base', 'sorted'] : ['sorted', 'base', 'sdk'];
    const lens = {};
    for (const side of order) {
      const t0 = performance.now();
      const res = runs[side]();
      const ms = performance.now() - t0;
      lens[side] = res.length;
      sink += res.length;
      if (k >= 0) where[side].push(ms);
    }
    if (lens.sdk !== lens.base) throw new Error(`getAll where matched ${lens.sdk} rows, the filter ${lens.base}`);
    if (k >= 0) matched += lens.sdk;
  }
  out.where = { ...where, matchedMean: matched / whereIters };

  // getAll({ orderBy, limit }) over every row, and with the 1% where.
  const order = { sdk: [], base: [] };
  const whereOrder = { sdk: [], base: [] };
  for (let k = -2; k < orderIters; k++) {
    const projectId = `p${Math.floor(rand() * projects)}`;
    const cases = [
      [order, () => tasks.getAll({ orderBy: { sentAt: 'desc' }, limit: 20 }), () => rows.slice().sort((a, b) => b.sentAt - a.sentAt).slice(0, 20)],
      [
        whereOrder,
        () => tasks.getAll({ where: { projectId }, orderBy: { n: 'desc' }, limit: 20 }),
        () =>
          rows
            .filter((r) => r.projectId === projectId)
            .sort((a, b) => b.n - a.n)
            .slice(0, 20),
      ],
    ];
    for (const [acc, sdkRun, baseRun] of cases) {
      const got = {};
      for (const side of k % 2 === 0 ? ['sdk', 'base'] : ['base', 'sdk']) {
        const t0 = performance.now();
        const res = side === 'sdk' ? sdkRun() : baseRun();
        const ms = performance.now() - t0;
        got[side] = res.map((r) => r.id).join();
        if (k >= 0) acc[side].push(ms);
      }
      if (got.sdk !== got.base) throw new Error('getAll orderBy/limit returned other rows than the baseline sort');
    }
  }
  out.orderLimit = order;
  out.whereOrderLimit = whereOrder;
  out.sink = sink;
  return out;
}

// ---------------------------------------------------------------------------
// confirmed writes: SDK clients and raw sockets, each on its own row

/** `kind` → writers `{ ablo | raw, row, n }`. */
const writers = { sdk: [], raw: [] };

/** `sdkRows` / `rawRows`: `{ id, lane }` of the rows the writers own (one each). */
async function writersPrepare({ url, key, sdkRows = [], rawRows = [], warmup = 10 }) {
  const conn = { url, key };
  writers.sdk = await Promise.all(
    sdkRows.map(async (r, i) => ({ ablo: await sdkClient(conn, `sdk-writer-${i}`, [`lane:${r.lane}`]), row: r.id, n: 0 })),
  );
  writers.raw = await Promise.all(
    rawRows.map(async (r, i) => ({ raw: await rawClient(conn, `raw-writer-${i}`, [`lane:${r.lane}`]), row: r.id, n: 0 })),
  );
  for (const w of writers.sdk) if (!w.ablo.items.get(w.row)) throw new Error(`SDK writer does not see its row ${w.row}`);
  // Warm up every variant (JIT, socket buffers) before anything is timed.
  const variants = [...(writers.raw.length ? ['raw'] : []), ...(writers.sdk.length ? ['sdk', 'sdk_guarded'] : [])];
  for (const v of variants) {
    const r = await writersBlock({ variant: v, perClient: warmup });
    if (r.errorCount) throw new Error(`warmup ${v}: ${r.errors[0]}`);
  }
  return { sdk: writers.sdk.length, raw: writers.raw.length };
}

async function writeOnce(w, variant) {
  const k = ++w.n;
  const data = { title: `${variant} ${k}`, n: k };
  switch (variant) {
    case 'raw':
      await w.raw.commit([{ op: 'update', model: 'items', id: w.row, data }]);
      return;
    case 'sdk':
      await w.ablo.items.update({ id: w.row, data });
      return;
    case 'sdk_guarded': {
      // What an agent does: read the row locally, decide, write back guarded by what it read.
      const seen = w.ablo.items.get(w.row);
      await w.ablo.items.update({ id: w.row, data, readAt: seen.syncId, onStale: 'reject' });
      return;
    }
    case 'sdk_unguarded': {
      const seen = w.ablo.items.get(w.row);
      if (!seen) throw new Error('row missing from the pool');
      await w.ablo.items.update({ id: w.row, data });
      return;
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

/** Every writer of the variant's kind sends `perClient` confirmed updates back to back; all writers at once. */
async function writersBlock({ variant, perClient }) {
  const list = variant === 'raw' ? writers.raw : writers.sdk;
  const latencies = new Float64Array(list.length * perClient);
  const errors = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    list.map(async (w, i) => {
      for (let k = 0; k < perClient; k++) {
        const s = performance.now();
        try {
          await writeOnce(w, variant);
        } catch (err) {
          errors.push(`${err.type ?? ''}/${err.code ?? ''} ${err.message}`.slice(0, 300));
        }
        latencies[i * perClient + k] = performance.now() - s;
      }
    }),
  );
  const wallMs = performance.now() - t0;
  return { latencies, wallMs, clientCpuMs: cpuMs(cpu0), errorCount: errors.length, errors: errors.slice(0, 3) };
}

// ---------------------------------------------------------------------------
// claim hand-off

/** `kind` → agents `{ ablo | raw, row }`; per row: the count of holds so far (= its `n`). */
const handoff = { sdk: [], raw: [], holds: new Map() };

/** `rows[kind]`: `{ id, lane }` rows; agent i of a kind contends for row i % rows. */
async function handoffPrepare({ url, key, agents, rows }) {
  const conn = { url, key };
  for (const kind of Object.keys(rows)) {
    const rs = rows[kind];
    for (const r of rs) handoff.holds.set(r.id, 0);
    handoff[kind] = await Promise.all(
      Array.from({ length: agents }, async (_, i) => {
        const r = rs[i % rs.length];
        const id = `${kind}-agent-${i}`;
        return kind === 'sdk'
          ? { ablo: await sdkClient(conn, id, [`lane:${r.lane}`]), row: r.id }
          : { raw: await rawClient(conn, id, [`lane:${r.lane}`]), row: r.id };
      }),
    );
  }
  return { agents };
}

/** One hold: claim (waiting in line), check the grant's data, write n + 1, release. */
async function holdOnce(agent, kind, st, rec) {
  const tReq = performance.now();
  let claimId;
  let data;
  let handle;
  if (kind === 'sdk') {
    handle = await agent.ablo.items.claim({ id: agent.row, action: 'bench hand-off' });
    data = handle.data;
  } else {
    const f = await agent.raw.request({ type: 'claim', model: 'items', id: agent.row, action: 'bench hand-off' });
    claimId = f.claim.id;
    data = f.claim.data;
  }
  const tGrant = performance.now();
  // Waiting when the previous holder released: that release handed the row to us.
  if (st.lastReleaseAt > tReq) rec.handoffs.push(tGrant - st.lastReleaseAt);
  else rec.uncontended++;
  rec.waits.push(tGrant - tReq);
  if (st.held) rec.overlaps++;
  st.held = true;
  const expected = handoff.holds.get(agent.row);
  if (data.n !== expected) rec.staleGrants++;
  const n = data.n + 1;
  try {
    if (kind === 'sdk') await agent.ablo.items.update({ id: agent.row, data: { n } });
    else await agent.raw.commit([{ op: 'update', model: 'items', id: agent.row, data: { n } }]);
    handoff.holds.set(agent.row, n);
  } finally {
    st.held = false;
    st.lastReleaseAt = performance.now();
    if (kind === 'sdk') await handle.release();
    else await agent.raw.request({ type: 'release', claimId });
  }
}

/** Every agent of the kind holds its row `rounds` times, re-joining the line right after each release. */
async function handoffBlock({ kind, rounds }) {
  const rec = { handoffs: [], waits: [], uncontended: 0, overlaps: 0, staleGrants: 0, errors: [] };
  const state = new Map();
  for (const a of handoff[kind]) state.set(a.row, { lastReleaseAt: -Infinity, held: false });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    handoff[kind].map(async (a) => {
      for (let k = 0; k < rounds; k++) {
        try {
          await holdOnce(a, kind, state.get(a.row), rec);
        } catch (err) {
          rec.errors.push(`${err.type ?? ''}/${err.code ?? ''} ${err.message}`.slice(0, 300));
          if (rec.errors.length > 20) throw err;
        }
      }
    }),
  );
  const wallMs = performance.now() - t0;
  return {
    handoffs: Float64Array.from(rec.handoffs),
    waits: Float64Array.from(rec.waits),
    uncontended: rec.uncontended,
    overlaps: rec.overlaps,
    staleGrants: rec.staleGrants,
    errorCount: rec.errors.length,
    errors: rec.errors.slice(0, 3),
    holds: Object.fromEntries([...new Set(handoff[kind].map((a) => a.row))].map((r) => [r, handoff.holds.get(r)])),
    wallMs,
    clientCpuMs: cpuMs(cpu0),
  };
}

serve({
  readsPrepare,
  readsRun,
  writersPrepare,
  writersBlock,
  handoffPrepare,
  handoffBlock,
  async close() {
    await Promise.all([...clients.sdk.map((c) => c.dispose()), ...clients.raw.map((c) => c.close())]);
    clients.sdk = [];
    clients.raw = [];
    reader = null;
  },
});
