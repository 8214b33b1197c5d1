/**
 * Child process holding the bench's WebSocket clients, so their CPU cost is
 * measured apart from the engine's (which runs in `engine-host.js`).
 *
 * Requests:
 *  - `commits`: N writers, each updating its own row with single-op commits,
 *    the next one sent when the previous receipt arrived.
 *  - `subscribe` / `mark` / `collect`: M subscribers that time every change
 *    they receive against the `sentAt` wall time carried in the row.
 *  - `clock`: this process's wall clock, for the parent's offset estimate.
 *  - `bootstrap`: one fresh client from hello to bootstrap_done, with memory.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { closeAll, hello, openSocket } from './ws-client.js';
import { cpuMs, serve } from './proc.js';
import { wallNow } from './stats.js';

const sockets = [];

// ---------------------------------------------------------------------------
// (a) confirmed commits

const writers = { socks: [], refSeq: 0, errors: [], offset: 0 };

function commitOnce(ws, i, k) {
  return new Promise((resolve, reject) => {
    const ref = `c${++writers.refSeq}`;
    ws.handler = (text) => {
      // The writer's own change arrives first; only the receipt (or an error) ends the wait.
      if (text.startsWith('{"type":"changes"')) return;
      const f = JSON.parse(text);
      if (f.ref !== ref) return;
      if (f.type === 'receipt' && f.receipt.status === 'committed') resolve();
      else reject(new Error(`commit ${ref} failed: ${text.slice(0, 300)}`));
    };
    ws.send(
      JSON.stringify({
        type: 'commit',
        ref,
        commit: { operations: [{ op: 'update', model: 'items', id: `item-${i}`, data: { title: `client ${i} commit ${k}`, n: k } }] },
      }),
    );
  });
}

/** Client `i` sends `count` commits one after another; latencies go to `lat[i * count + k]`. */
async function runWriter(ws, i, count, lat, offset) {
  for (let k = 0; k < count; k++) {
    const t0 = performance.now();
    try {
      await commitOnce(ws, writers.offset + i, offset + k);
    } catch (err) {
      writers.errors.push(err.message);
      if (writers.errors.length > 10) throw err;
    }
    if (lat) lat[i * count + k] = performance.now() - t0;
  }
}

/**
 * Connect `clients` writers, each subscribed to its own row's group, and warm up. Writer `i` owns row
 * `item-<offset + i>` (several client processes split one set of rows).
 */
async function writersPrepare({ url, key, clients, warmup, offset = 0 }) {
  const socks = await Promise.all(Array.from({ length: clients }, () => openSocket(url)));
  sockets.push(...socks);
  writers.socks = socks;
  writers.offset = offset;
  await Promise.all(socks.map((ws, i) => hello(ws, { apiKey: key, groups: [`lane:${offset + i}`] })));
  await Promise.all(socks.map((ws, i) => runWriter(ws, i, warmup, null, 0)));
  return { clients: socks.length };
}

/** Every writer sends `perClient` commits back to back; all writers run at once. */
async function writersRun({ perClient }) {
  const socks = writers.socks;
  writers.errors = [];
  const latencies = new Float64Array(socks.length * perClient);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(socks.map((ws, i) => runWriter(ws, i, perClient, latencies, 1_000_000)));
  const wallMs = performance.now() - t0;
  const clientCpuMs = cpuMs(cpu0);
  loop.disable();
  await closeAll(socks);
  sockets.length = 0;
  writers.socks = [];
  return { latencies, wallMs, clientCpuMs, errors: writers.errors, loopDelayP99Ms: loop.percentile(99) / 1e6 };
}

// ---------------------------------------------------------------------------
// (b) fanout subscribers

const SENT_AT = /"sentAt":(-?[0-9.eE+]+)/g;
const fan = {
  subs: [],
  sent: [],
  recv: [],
  frames: 0,
  perSub: [],
  resyncs: 0,
  handlerMs: 0,
  cpu0: null,
  loop: null,
};

async function subscribe({ url, key, count }) {
  const subs = await Promise.all(Array.from({ length: count }, () => openSocket(url)));
  sockets.push(...subs);
  fan.subs = subs;
  fan.perSub = new Array(count).fill(0);
  await Promise.all(
    subs.map((ws, s) =>
      hello(
        ws,
        { apiKey: key },
        {
          after: (text) => {
            const h0 = performance.now();
            const now = performance.timeOrigin + h0;
            if (!text.startsWith('{"type":"changes"')) {
              if (text.includes('"type":"resync"')) fan.resyncs++;
              return;
            }
            fan.frames++;
            SENT_AT.lastIndex = 0;
            let m;
            while ((m = SENT_AT.exec(text)) !== null) {
              fan.sent.push(Number(m[1]));
              fan.recv.push(now);
              fan.perSub[s]++;
            }
            fan.handlerMs += performance.now() - h0;
          },
        },
      ),
    ),
  );
  return { subscribers: subs.length };
}

function mark() {
  fan.cpu0 = process.cpuUsage();
  fan.loop = monitorEventLoopDelay({ resolution: 1 });
  fan.loop.enable();
  fan.sent = [];
  fan.recv = [];
  fan.frames = 0;
  fan.handlerMs = 0;
  fan.perSub.fill(0);
  return {};
}

/** Wait until every subscriber has `expectedPerSub` changes (or the timeout), then report. */
async function collect({ expectedPerSub, timeoutMs }) {
  const deadline = performance.now() + timeoutMs;
  while (fan.perSub.some((n) => n < expectedPerSub) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const clientCpuMs = cpuMs(fan.cpu0);
  fan.loop.disable();
  const closed = fan.subs.filter((ws) => ws.closeInfo !== null).length;
  const out = {
    sent: Float64Array.from(fan.sent),
    recv: Float64Array.from(fan.recv),
    frames: fan.frames,
    minPerSub: Math.min(...fan.perSub),
    maxPerSub: Math.max(...fan.perSub),
    resyncs: fan.resyncs,
    closed,
    clientCpuMs,
    handlerMs: fan.handlerMs,
    loopDelayP99Ms: fan.loop.percentile(99) / 1e6,
    loopDelayMaxMs: fan.loop.max / 1e6,
  };
  await closeAll(fan.subs);
  sockets.length = 0;
  fan.subs = [];
  fan.sent = [];
  fan.recv = [];
  return out;
}

// ---------------------------------------------------------------------------
// (c) bootstrap

async function bootstrap({ url, key }) {
  globalThis.gc?.();
  const base = process.memoryUsage();
  let peakHeap = base.heapUsed;
  let peakRss = base.rss;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
    if (m.rss > peakRss) peakRss = m.rss;
  };
  const timer = setInterval(sample, 5);
  const rows = new Map();
  const byModel = {};
  let frames = 0;
  const tConnect = performance.now();
  const ws = await openSocket(url);
  sockets.push(ws);
  const t0 = performance.now();
  let firstRowMs = null;
  const { welcome, done } = await hello(
    ws,
    { apiKey: key },
    {
      onFrame: (f) => {
        if (f.type !== 'bootstrap') return;
        if (firstRowMs === null) firstRowMs = performance.now() - t0;
        frames++;
        byModel[f.model] = (byModel[f.model] ?? 0) + f.rows.length;
        for (const row of f.rows) rows.set(`${f.model}/${row.id}`, row);
        if ((frames & 7) === 0) sample();
      },
    },
  );
  const ms = performance.now() - t0;
  sample();
  clearInterval(timer);
  globalThis.gc?.();
  const retained = process.memoryUsage();
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  await closeAll([ws]);
  sockets.length = 0;
  return {
    rows: rows.size,
    byModel,
    frames,
    mode: welcome?.mode,
    watermark: done.lastSyncId,
    connectMs: t0 - tConnect,
    firstRowMs,
    ms,
    baseRssMb: base.rss / 2 ** 20,
    baseHeapUsedMb: base.heapUsed / 2 ** 20,
    peakRssMb: Math.max(peakRss / 2 ** 20, maxRssMb),
    peakHeapUsedMb: peakHeap / 2 ** 20,
    retainedHeapUsedMb: retained.heapUsed / 2 ** 20,
    // Keep the rows alive until the retained figure is taken.
    lastId: [...rows.keys()].at(-1),
  };
}

serve({
  writersPrepare,
  writersRun,
  subscribe,
  mark,
  collect,
  bootstrap,
  clock: () => wallNow(),
  async close() {
    await closeAll(sockets);
  },
});
