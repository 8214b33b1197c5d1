/**
 * Child process holding the SDK clients of the engine bench's phases (issue
 * 12): ordinary `Ablo()` clients from dist/, so the CPU the clients use is
 * measured apart from the engine's (`engine-host.js`). A phase may start
 * several of these processes and split its clients over them.
 *
 * Requests:
 *  - `writersPrepare { url, key, clients, rows, syncGroups, seed, warmup }` /
 *    `writersRun { seconds }` (phase a): `clients` SDK clients, each doing
 *    confirmed `ablo.tasks.update()`s of random rows (of `rows` seeded ones)
 *    one after another, in a closed loop for `seconds`. `writersDigest`: each
 *    writer's rows as `id:syncId` lines, to check they hold what the engine has.
 *  - `subscribersPrepare { url, key, count, rows }` / `expect` / `collect`
 *    (phase b): `count` SDK clients, each holding `ablo.tasks.live({})` and
 *    timing every `updated` change its listener receives against the
 *    `sentAt` wall time the writer put in the row. `subscribersDigest`: each
 *    live query's rows as `id:syncId` lines.
 *  - `writerPrepare` / `writerRun { rate, seconds, warmupSeconds, rows }`
 *    (phase b): one SDK client writing rows in turn at an open-loop rate.
 *  - `clock`: this process's wall clock, for the parent's offset estimate.
 *
 * Every run answers with this process's CPU ms, event-loop delay p99 and
 * event-loop utilization over the run; `writersRun` also with the HTTP
 * requests the clients made (each SDK client gets a counting `fetch`).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadSdk, NO_LIVE, rowId } from './engine-schema.js';
import { importDist } from './dist.js';
import { mainThreadSched } from './machine.js';
import { cpuMs, serve } from './proc.js';
import { wallNow } from './stats.js';
import { prng } from './prng.js';

const sdk = () => loadSdk(importDist);

const clients = [];
/** HTTP requests the SDK clients of this process made (they get a counting `fetch`). */
let httpRequests = 0;
const countingFetch = (...args) => {
  httpRequests++;
  return fetch(...args);
};

async function sdkClient({ url, key }, participantId, syncGroups) {
  const { Ablo, schema } = await sdk();
  const ablo = Ablo({
    schema,
    apiKey: key,
    baseURL: url,
    participant: { kind: 'agent', id: participantId },
    fetch: countingFetch,
    ...(syncGroups ? { syncGroups } : {}),
  });
  clients.push(ablo);
  await ablo.ready();
  return ablo;
}


/** CPU, event-loop delay and utilization of this process from `start()` to `stop()`. */
function meter() {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const sched0 = mainThreadSched();
  return {
    stop() {
      const sched1 = mainThreadSched();
      const out = {
        sched: sched0 && sched1 ? { runMs: sched1.runMs - sched0.runMs, waitMs: sched1.waitMs - sched0.waitMs } : null,
        cpuMs: cpuMs(cpu0),
        loopDelayP99Ms: loop.percentile(99) / 1e6,
        loopDelayMaxMs: loop.max / 1e6,
        loopUtilization: performance.eventLoopUtilization(elu0).utilization,
      };
      loop.disable();
      return out;
    },
  };
}

const errorText = (err) => `${err?.type ?? ''}/${err?.code ?? ''} ${err?.message ?? String(err)}`.slice(0, 300);

// ---------------------------------------------------------------------------
// phase a: closed-loop confirmed single-row updates of random rows

const phaseA = { writers: [] };

/** `syncGroups` undefined = the SDK's default (every group the key may read: `*`, every row); `seed` makes each process pick other rows. */
async function writersPrepare({ url, key, clients: count, rows, syncGroups, seed, warmup = 5 }) {
  const ids = Array.from({ length: rows }, (_, i) => rowId(i));
  phaseA.writers = await Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      i,
      ablo: await sdkClient({ url, key }, `writer-${seed}-${i}`, syncGroups),
      rand: prng(seed * 1000 + i + 1),
      ids,
      n: 0,
    })),
  );
  const held = phaseA.writers[0].ablo.tasks.getAll().length;
  // Warm up (JIT, sockets) before anything is timed.
  const r = await writersRun({ seconds: 0, perWriter: warmup });
  if (r.errors.length) throw new Error(`warmup: ${r.errors[0]}`);
  return { writers: phaseA.writers.length, heldRows: held };
}

async function writeLoop(w, deadline, perWriter, lat, errors) {
  for (let k = 0; perWriter ? k < perWriter : performance.now() < deadline; k++) {
    const id = w.ids[Math.floor(w.rand() * w.ids.length)];
    const n = ++w.n;
    const s = performance.now();
    try {
      await w.ablo.tasks.update({ id, data: { title: `writer ${w.i} write ${n}`, n } });
      lat.push(performance.now() - s);
    } catch (err) {
      errors.push(errorText(err));
      if (errors.length > 50) throw err;
    }
  }
}

/** Every writer updates random rows back to back (the next once the previous is confirmed) until `seconds` have passed. */
async function writersRun({ seconds, perWriter = 0 }) {
  const lat = [];
  const errors = [];
  const http0 = httpRequests;
  const m = meter();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(phaseA.writers.map((w) => writeLoop(w, deadline, perWriter, lat, errors)));
  const wallMs = performance.now() - t0;
  return { latencies: Float64Array.from(lat), confirmed: lat.length, wallMs, httpRequests: httpRequests - http0, errors: errors.slice(0, 3), errorCount: errors.length, ...m.stop() };
}

/** Per writer: its rows as `id:syncId` lines in id order, to compare with the engine's table. */
function writersDigest() {
  return phaseA.writers.map((w) =>
    w.ablo.tasks
      .getAll()
      .map((r) => `${r.id}:${r.syncId}`)
      .sort()
      .join('\n'),
  );
}

// ---------------------------------------------------------------------------
// phase b: live-query subscribers

const phaseB = { subs: [], sent: [], recv: [], expect: null, meter: null };

async function subscribersPrepare({ url, key, count, rows, seed = 0 }) {
  phaseB.subs = await Promise.all(
    Array.from({ length: count }, async (_, s) => {
      const ablo = await sdkClient({ url, key }, `subscriber-${seed}-${s}`, undefined);
      if (typeof ablo.tasks.live !== 'function') {
        throw new Error(`${NO_LIVE}: the built SDK (dist/) has no ablo.tasks.live()`);
      }
      const query = ablo.tasks.live({});
      const sub = { query, seen: null, deliveries: 0, duplicates: 0, stray: 0, stop: null };
      sub.stop = query.subscribe((_rows, changes) => onLiveChanges(sub, changes));
      return sub;
    }),
  );
  const sizes = phaseB.subs.map((s) => s.query.rows.length);
  if (sizes.some((n) => n !== rows)) throw new Error(`live queries hold ${Math.min(...sizes)}..${Math.max(...sizes)} rows, expected ${rows}`);
  return { subscribers: phaseB.subs.length };
}

/** The listener: one wall-clock reading per call, one delivery per `updated` change written by the measured run. */
function onLiveChanges(sub, changes) {
  const now = wallNow();
  const e = phaseB.expect;
  if (!e) return;
  for (const c of changes) {
    const row = c.row;
    if (c.kind !== 'updated' || !row || !(row.n >= 0)) {
      sub.stray++;
      continue;
    }
    if (row.n >= e.total) {
      sub.stray++;
      continue;
    }
    if (sub.seen[row.n]) {
      sub.duplicates++;
      continue;
    }
    sub.seen[row.n] = 1;
    if (row.n < e.warmup) continue;
    sub.deliveries++;
    phaseB.sent.push(row.sentAt);
    phaseB.recv.push(now);
  }
}

/** Per subscriber: its live query's rows as `id:syncId` lines in id order, to compare with the engine's table. */
function subscribersDigest() {
  return phaseB.subs.map((s) =>
    s.query.rows
      .map((r) => `${r.id}:${r.syncId}`)
      .sort()
      .join('\n'),
  );
}

/** Before the writer starts: writes `n` < `total` will come, the first `warmup` of them not measured. */
function expect({ total, warmup }) {
  phaseB.expect = { total, warmup };
  phaseB.sent = [];
  phaseB.recv = [];
  for (const s of phaseB.subs) {
    s.seen = new Uint8Array(total);
    s.deliveries = 0;
    s.duplicates = 0;
    s.stray = 0;
  }
  phaseB.meter = meter();
  return {};
}

/** Wait until every subscriber has seen every write (or the timeout), then report. */
async function collect({ timeoutMs }) {
  const { total, warmup } = phaseB.expect;
  const measured = total - warmup;
  const deadline = performance.now() + timeoutMs;
  while (phaseB.subs.some((s) => s.deliveries < measured) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const usage = phaseB.meter.stop();
  const per = phaseB.subs.map((s) => s.deliveries);
  const out = {
    sent: Float64Array.from(phaseB.sent),
    recv: Float64Array.from(phaseB.recv),
    deliveries: per.reduce((a, b) => a + b, 0),
    minPerSub: Math.min(...per),
    maxPerSub: Math.max(...per),
    duplicates: phaseB.subs.reduce((a, s) => a + s.duplicates, 0),
    stray: phaseB.subs.reduce((a, s) => a + s.stray, 0),
    ...usage,
  };
  phaseB.expect = null;
  phaseB.sent = [];
  phaseB.recv = [];
  return out;
}

// ---------------------------------------------------------------------------
// phase b: the writer

const phaseBWriter = { ablo: null };

async function writerPrepare({ url, key }) {
  phaseBWriter.ablo = await sdkClient({ url, key }, 'live-writer', undefined);
  return {};
}

/**
 * Open loop: write `n` goes out at `n / rate` s after the start, whatever the
 * confirmations do; row `n % rows` gets `{ sentAt: <wall time just before the
 * call>, n }`. Resolves once every write is confirmed (or failed).
 */
async function writerRun({ rate, seconds, warmupSeconds, rows }) {
  const ablo = phaseBWriter.ablo;
  const total = Math.round(rate * (warmupSeconds + seconds));
  const warmup = Math.round(rate * warmupSeconds);
  const confirm = new Float64Array(total);
  const errors = [];
  const pending = [];
  let firstMeasured = 0;
  let lastSent = 0;
  const m = meter();
  const start = performance.now();
  await new Promise((resolve) => {
    let sent = 0;
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        const n = sent++;
        const at = wallNow();
        if (n === warmup) firstMeasured = at;
        lastSent = at;
        const s = performance.now();
        pending.push(
          ablo.tasks.update({ id: rowId(n % rows), data: { sentAt: at, n } }).then(
            () => {
              confirm[n] = performance.now() - s;
            },
            (err) => {
              errors.push(errorText(err));
            },
          ),
        );
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 0);
    };
    tick();
  });
  await Promise.all(pending);
  return {
    total,
    warmup,
    confirm: confirm.subarray(warmup),
    // Wall times of the first and last measured writes, for the achieved rate.
    firstMeasured,
    lastSent,
    errors: errors.slice(0, 3),
    errorCount: errors.length,
    ...m.stop(),
  };
}

serve({
  writersPrepare,
  writersRun,
  writersDigest,
  subscribersPrepare,
  subscribersDigest,
  expect,
  collect,
  writerPrepare,
  writerRun,
  clock: () => wallNow(),
  async close() {
    for (const s of phaseB.subs) {
      s.stop?.();
      s.query.dispose?.();
    }
    phaseB.subs = [];
    await Promise.all(clients.map((c) => c.dispose()));
    clients.length = 0;
  },
});
