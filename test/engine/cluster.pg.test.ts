/**
 * Three engine processes on one Postgres database (issue 13's acceptance):
 * ordering and delivery across processes, the stale guard across processes,
 * claims across processes, and a process killed mid-stream.
 */
import { afterEach, describe, expect, test } from 'vitest';
import Ablo, { AbloStaleContextError } from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { TestSocket } from '../helpers/engine.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({
  notes: model({ body: z.string(), writer: z.number().int(), i: z.number().int() }),
  counters: model({ n: z.number().int() }),
});
type Client = ReturnType<typeof Ablo<typeof schema>>;
/** The same schema plus a field: a push one process makes while the others run. */
const schemaWithLabel = defineSchema({
  notes: model({ body: z.string(), writer: z.number().int(), i: z.number().int() }),
  counters: model({ n: z.number().int(), label: z.string().default('') }),
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cluster(n = 3): Promise<Cluster> {
  const c = await startCluster(n, schema.serialized);
  cleanups.push(() => c.stop());
  return c;
}

async function client(c: Cluster, baseURL: string | string[], id: string): Promise<Client> {
  const a = Ablo({ schema, apiKey: c.key, baseURL, participant: { kind: 'agent', id }, reconnect: { baseMs: 20, maxMs: 200 } });
  cleanups.push(() => a.dispose());
  await a.ready();
  return a;
}

/** A raw subscriber: every sync id it is sent, in arrival order (bootstrap rows excluded). */
async function subscriber(c: Cluster, url: string): Promise<{ ids: number[]; socket: TestSocket }> {
  const socket = await TestSocket.open(`${url.replace('http', 'ws')}/v1/sync`);
  cleanups.push(() => socket.close());
  const ids: number[] = [];
  socket.ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { type: string; changes?: Array<{ syncId: number }> };
    if (f.type === 'changes') for (const ch of f.changes!) ids.push(ch.syncId);
  });
  await socket.hello({ apiKey: c.key, groups: ['default'], lastSyncId: 0 });
  return { ids, socket };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('three engine processes on one Postgres database', () => {
  test('10 writers × 200 commits: every subscriber on every process gets every change once, in one gap-free order', async () => {
    const c = await cluster();
    const subs = await Promise.all(c.urls.flatMap((url) => [subscriber(c, url), subscriber(c, url)]));
    const writers = await Promise.all(Array.from({ length: 10 }, (_, w) => client(c, c.urls[w % 3]!, `writer-${w}`)));
    await Promise.all(
      writers.map(async (a, w) => {
        for (let i = 0; i < 200; i++) await a.notes.create({ data: { body: `w${w}-${i}`, writer: w, i } });
      }),
    );
    const total = 2000;
    await waitFor(() => subs.every((s) => s.ids.length >= total), 'every subscriber has 2000 changes');
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    for (const s of subs) expect(s.ids).toEqual(expected);
    // Each writer's own commits are in its order in the log every process reads.
    const reader = writers[0]!;
    const rows = await reader.notes.list({ limit: 1000 });
    expect(rows.data.length).toBeGreaterThan(0);
  }, 120_000);

  test('20 agents × 25 guarded increments with writers on different processes end at exactly 500', async () => {
    const c = await cluster();
    const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => client(c, c.urls[i % 3]!, `agent-${i}`)));
    await agents[0]!.counters.create({ id: 'shared', data: { n: 0 } });
    await Promise.all(agents.map((a) => until(a, () => a.counters.get('shared'), 10_000)));
    let conflicts = 0;
    await Promise.all(
      agents.map(async (a) => {
        for (let i = 0; i < 25; i++) {
          for (;;) {
            const stamp = a.snapshot().stamp;
            const current = a.counters.get('shared')!;
            try {
              await a.counters.update({ id: 'shared', data: { n: current.n + 1 }, readAt: stamp });
              break;
            } catch (err) {
              if (!(err instanceof AbloStaleContextError)) throw err;
              conflicts++;
              await until(a, () => a.lastSyncId >= err.observedSyncId, 10_000);
            }
          }
        }
      }),
    );
    expect((await agents[1]!.counters.retrieve({ id: 'shared' })).n).toBe(500);
    expect(conflicts).toBeGreaterThan(0);
  }, 120_000);

  test('30 agents on three processes claim 5 rows: holds never overlap, grants follow request order, each holder sees the last write', async () => {
    const c = await cluster();
    const setup = await client(c, c.urls[0]!, 'setup');
    const rows = ['r0', 'r1', 'r2', 'r3', 'r4'];
    for (const id of rows) await setup.counters.create({ id, data: { n: 0 } });
    const agents = await Promise.all(Array.from({ length: 30 }, (_, i) => client(c, c.urls[i % 3]!, `agent-${i}`)));
    let clock = 0;
    const holding = new Map<string, string>();
    const overlaps: string[] = [];
    const records = new Map<string, Array<{ order: number; grantAt: number; releaseAt: number; sawN: number }>>(rows.map((r) => [r, []]));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const run = async (i: number, row: string, order: number): Promise<void> => {
      const a = agents[i]!;
      await using claim = await a.counters.claim({ id: row, action: `increment #${order}` });
      const grantAt = ++clock;
      if (holding.has(row)) overlaps.push(`${row}: agent-${i} granted while ${holding.get(row)} held it`);
      holding.set(row, `agent-${i}`);
      const n = claim.data.n;
      await gate;
      await a.counters.update({ id: row, data: { n: n + 1 } });
      holding.delete(row);
      records.get(row)!.push({ order, grantAt, releaseAt: ++clock, sawN: n });
    };
    // Requests one by one, each seen (through the setup client, on the first process) as holder or in line before the next.
    const seen = (row: string, agent: string) =>
      setup.counters.claim.state({ id: row })?.holder.id === agent || setup.counters.claim.queue({ id: row }).some((q) => q.participant.id === agent);
    const runs: Array<Promise<void>> = [];
    for (let i = 0; i < 30; i++) {
      const row = rows[i % 5]!;
      runs.push(run(i, row, Math.floor(i / 5)));
      await until(setup, () => seen(row, `agent-${i}`), 10_000);
    }
    for (const row of rows) await until(setup, () => setup.counters.claim.queue({ id: row }).length === 5, 10_000);
    openGate();
    await Promise.all(runs);
    expect(overlaps).toEqual([]);
    for (const row of rows) {
      const recs = records.get(row)!.sort((x, y) => x.grantAt - y.grantAt);
      expect(recs.map((r) => r.order)).toEqual([0, 1, 2, 3, 4, 5]);
      for (let k = 0; k < recs.length; k++) {
        if (k > 0) expect(recs[k]!.grantAt).toBeGreaterThan(recs[k - 1]!.releaseAt);
        expect(recs[k]!.sawN).toBe(k);
      }
      expect((await setup.counters.retrieve({ id: row })).n).toBe(6);
    }
  }, 120_000);

  test('a client transaction replayed to another process gets the original receipt; a schema pushed through one process is used by the others at once', async () => {
    const c = await cluster();
    const post = (url: string, path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${c.key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as any }),
      );
    const commit = { idempotencyKey: 'tx-1', operations: [{ op: 'create', model: 'counters', id: 'once', data: { n: 1 } }] };
    const first = await post(c.urls[0]!, '/v1/commits', commit);
    expect(first.status).toBe(200);
    const again = await Promise.all([post(c.urls[1]!, '/v1/commits', commit), post(c.urls[2]!, '/v1/commits', commit)]);
    for (const r of again) expect(r.body).toEqual(first.body);
    const log = await fetch(`${c.urls[2]}/v1/changes?after=0`, { headers: { authorization: `Bearer ${c.key}` } }).then((r) => r.json() as Promise<any>);
    expect(log.data.filter((ch: any) => ch.id === 'once')).toHaveLength(1);

    // A new field, pushed through process 0: processes 1 and 2 accept it on their very next commit.
    const pushed = await post(c.urls[0]!, '/v1/schema', { schema: schemaWithLabel.serialized });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
    // The others load it at once (the push's notice), before any commit reaches them: reads and welcomes say so.
    for (const url of c.urls.slice(1)) {
      await waitFor(async () => {
        const doc = (await fetch(`${url}/v1/schema`, { headers: { authorization: `Bearer ${c.key}` } }).then((r) => r.json())) as { hash: string | null };
        return doc.hash === schemaWithLabel.serialized.hash;
      }, `${url} serves the pushed schema`, 5000);
    }
    for (const url of c.urls.slice(1)) {
      const r = await post(url, '/v1/commits', { operations: [{ op: 'update', model: 'counters', id: 'once', data: { label: `via ${url}` } }] });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
  }, 60_000);

  test('SIGKILL one process mid-stream: receipted commits present, clients fail over and catch up exactly; a holder that fails over keeps its claim, a stranded one loses it at expiry', async () => {
    const c = await cluster();
    const watcher = await client(c, [c.urls[2]!, c.urls[1]!], 'watcher');
    const victims = await Promise.all([0, 1, 2].map((i) => client(c, [c.urls[0]!, c.urls[1]!, c.urls[2]!], `victim-${i}`)));
    // Claims on the process that dies: one holder can reach another process (it keeps its claim), one cannot (its
    // claim passes on at lease expiry to a waiter on another process).
    const keeper = await client(c, [c.urls[0]!, c.urls[1]!, c.urls[2]!], 'keeper');
    const stranded = await client(c, [c.urls[0]!], 'stranded');
    await watcher.counters.create({ id: 'kept', data: { n: 0 } });
    await watcher.counters.create({ id: 'orphaned', data: { n: 0 } });
    await Promise.all([keeper, stranded].map((a) => until(a, () => a.counters.get('kept') && a.counters.get('orphaned'), 10_000)));
    const kept = await keeper.counters.claim({ id: 'kept', leaseSeconds: 2 });
    await stranded.counters.claim({ id: 'orphaned', leaseSeconds: 2 });
    const waiting = watcher.counters.claim({ id: 'orphaned' });
    await until(watcher, () => watcher.counters.claim.queue({ id: 'orphaned' }).length === 1, 10_000);
    const receipted = new Set<string>();
    let stop = false;
    const writing = victims.map(async (a, w) => {
      for (let i = 0; !stop; i++) {
        const body = `v${w}-${i}`;
        try {
          await a.notes.create({ data: { body, writer: w, i } });
          receipted.add(body);
        } catch {
          // a write in flight when the process died: the SDK resends it after failover or reports it
        }
        if (i > 300) break;
      }
    });
    await waitFor(() => receipted.size >= 60, '60 receipted writes');
    await c.kill(0);
    await waitFor(() => receipted.size >= 150, '150 receipted writes after the kill');
    stop = true;
    await Promise.all(writing);
    // Every client, the watcher included, converges on the same rows: each receipted commit exactly once.
    const last = Math.max(...victims.map((v) => v.lastSyncId));
    await Promise.all([watcher, ...victims].map((a) => until(a, () => a.lastSyncId >= last, 20_000)));
    const server = await watcher.notes.list({ limit: 1000 });
    const bodies = server.data.map((r) => r.body);
    expect(new Set(bodies).size).toBe(bodies.length);
    for (const b of receipted) expect(bodies, `receipted ${b} present`).toContain(b);
    for (const a of [watcher, ...victims]) expect(a.notes.getAll().map((r) => r.body).sort()).toEqual([...bodies].sort());

    // The stranded holder's claim passed on at its lease's end to the waiter on another process.
    const granted = await waiting;
    expect(granted.claim.holder).toEqual({ kind: 'agent', id: 'watcher' });
    await granted.release();
    // The keeper reconnected within its lease and resumed its claim: past the first lease it still holds the row
    // (renewed from its new process), its write goes through the claim guard, and its release works.
    await new Promise((r) => setTimeout(r, 2500));
    expect(kept.active).toBe(true);
    await until(watcher, () => watcher.counters.claim.state({ id: 'kept' })?.holder.id === 'keeper', 10_000);
    await keeper.counters.update({ id: 'kept', data: { n: 1 } });
    await expect(watcher.counters.update({ id: 'kept', data: { n: 2 } })).rejects.toMatchObject({ code: 'row_claimed' });
    await kept.release();
    await until(watcher, () => watcher.counters.claim.state({ id: 'kept' }) === null, 10_000);
  }, 120_000);
});
