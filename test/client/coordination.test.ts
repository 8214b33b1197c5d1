/**
 * Coordination through the SDK, on a real engine: stale guards, read
 * dependencies, claims. Each actor is its own client with its own socket.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import Ablo, { AbloClaimedError, AbloStaleContextError, type AbloOptions } from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../../src/testing/index.js';
import { until } from '../helpers/sdk.js';
import { memoryClaims } from '../helpers/engine.js';

const schema = defineSchema({
  counters: model({ n: z.number().int(), note: z.string().default('') }),
  tasks: model(
    { title: z.string(), status: z.enum(['todo', 'doing', 'done']).default('todo'), projectId: z.string() },
    {},
    { syncGroupFormat: 'project:{projectId}' },
  ),
});
type Client = ReturnType<typeof Ablo<typeof schema>>;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engine(): Promise<TestEngine> {
  const e = await startTestEngine({ schema });
  cleanups.push(() => e.stop());
  return e;
}

async function actor(e: TestEngine, id: string, extra: Partial<Omit<AbloOptions<typeof schema>, 'schema'>> = {}): Promise<Client> {
  const c = Ablo({ schema, apiKey: e.apiKey, baseURL: e.url, participant: { kind: 'agent', id }, syncGroups: ['default', 'project:p'], ...extra });
  cleanups.push(() => c.dispose());
  await c.ready();
  return c;
}


describe('stale-write guard', () => {
  test('disjoint fields do not conflict; the same field is rejected with B’s value and B as writer', async () => {
    const e = await engine();
    const a = await actor(e, 'a');
    const b = await actor(e, 'b', { participant: { kind: 'user', id: 'b' } });
    const t = await a.tasks.create({ data: { title: 'T', projectId: 'p' } });
    const snap = a.snapshot({ tasks: t.id });
    await until(b, () => b.tasks.get(t.id));
    await b.tasks.update({ id: t.id, data: { status: 'doing' } });

    const titled = await a.tasks.update({ id: t.id, data: { title: 'T2' }, readAt: snap.stamp });
    expect(titled.title).toBe('T2');
    const err = await a.tasks.update({ id: t.id, data: { status: 'done' }, readAt: snap.stamp }).catch((x) => x);
    expect(err).toBeInstanceOf(AbloStaleContextError);
    expect(err.conflictingFields).toEqual(['status']);
    expect(err.currentValues).toEqual({ status: 'doing' });
    // B's client uses a key that names user:b: the key wrote, on b's behalf.
    expect(err.writtenBy).toEqual({ kind: 'system', id: expect.stringMatching(/^key_/) });
    expect(err.onBehalfOf).toEqual({ kind: 'user', id: 'b' });
    expect(err.observedSyncId).toBeGreaterThan(snap.stamp);
  });

  test('overwrite applies anyway', async () => {
    const e = await engine();
    const a = await actor(e, 'a');
    const b = await actor(e, 'b');
    const c = await a.counters.create({ data: { n: 1 } });
    const stamp = a.snapshot().stamp;
    await until(b, () => b.counters.get(c.id));
    await b.counters.update({ id: c.id, data: { n: 2 } });
    const row = await a.counters.update({ id: c.id, data: { n: 10 }, readAt: stamp, onStale: 'overwrite' });
    expect(row.n).toBe(10);
  });

  test('a delete after readAt makes an update stale', async () => {
    const e = await engine();
    const a = await actor(e, 'a');
    const b = await actor(e, 'b');
    const c = await a.counters.create({ data: { n: 1 } });
    const stamp = a.snapshot().stamp;
    await until(b, () => b.counters.get(c.id));
    await b.counters.delete({ id: c.id });
    await expect(a.counters.update({ id: c.id, data: { n: 2 }, readAt: stamp })).rejects.toBeInstanceOf(AbloStaleContextError);
  });

  test('20 agents × 25 read-increment-write cycles with readAt + reject + retry end at exactly 500', async () => {
    const e = await engine();
    const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => actor(e, `agent-${i}`)));
    const counter = await agents[0]!.counters.create({ id: 'shared', data: { n: 0 } });
    await Promise.all(agents.map((a) => until(a, () => a.counters.get(counter.id))));
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
              // Wait until the change that beat us has arrived, then re-read.
              await until(a, () => a.lastSyncId >= err.observedSyncId);
            }
          }
        }
      }),
    );
    const final = await agents[0]!.counters.retrieve({ id: 'shared' });
    expect(final.n).toBe(500);
    expect(conflicts).toBeGreaterThan(0); // the guard really did refuse stale increments
  }, 60_000);
});

describe('read dependencies', () => {
  async function setup() {
    const e = await engine();
    const a = await actor(e, 'a');
    const b = await actor(e, 'b');
    const premise = await a.tasks.create({ data: { title: 'premise', projectId: 'p' } });
    const target = await a.counters.create({ data: { n: 0 } });
    const stamp = a.snapshot().stamp;
    await until(b, () => b.tasks.get(premise.id));
    return { a, b, premise, target, stamp };
  }

  test('row: a moved premise rejects the whole batch', async () => {
    const { a, b, premise, target, stamp } = await setup();
    await b.tasks.update({ id: premise.id, data: { status: 'done' } });
    const err = await a.commits
      .create({
        operations: [{ op: 'update', model: 'counters', id: target.id, data: { n: 1 } }],
        reads: [{ model: 'tasks', id: premise.id, readAt: stamp }],
      })
      .catch((x) => x);
    expect(err).toBeInstanceOf(AbloStaleContextError);
    expect(err.conflictingFields).toEqual(['status']);
    expect((await a.counters.retrieve({ id: target.id })).n).toBe(0);
  });

  test('row + fields: an unrelated field moving does not fire', async () => {
    const { a, b, premise, target, stamp } = await setup();
    await b.tasks.update({ id: premise.id, data: { title: 'renamed' } });
    const receipt = await a.commits.create({
      operations: [{ op: 'update', model: 'counters', id: target.id, data: { n: 1 } }],
      reads: [{ model: 'tasks', id: premise.id, readAt: stamp, fields: ['status'] }],
    });
    expect(receipt.status).toBe('committed');
    await b.tasks.update({ id: premise.id, data: { status: 'doing' } });
    await expect(
      a.commits.create({
        operations: [{ op: 'update', model: 'counters', id: target.id, data: { n: 2 } }],
        reads: [{ model: 'tasks', id: premise.id, readAt: stamp, fields: ['status'] }],
      }),
    ).rejects.toBeInstanceOf(AbloStaleContextError);
  });

  test('group: anything in the group moving fires; notify holds every op and returns notifications', async () => {
    const { a, b, target, stamp } = await setup();
    await b.tasks.create({ data: { title: 'new in group', projectId: 'p' } });
    const receipt = await a.commits.create({
      operations: [
        { op: 'update', model: 'counters', id: target.id, data: { n: 5 } },
        { op: 'update', model: 'counters', id: target.id, data: { note: 'x' } },
      ],
      reads: [{ group: 'project:p', readAt: stamp, onStale: 'notify' }],
    });
    expect(receipt.status).toBe('held');
    expect(receipt.results.every((r) => r.status === 'held')).toBe(true);
    expect(receipt.notifications).toHaveLength(1);
    expect(receipt.notifications![0]).toMatchObject({ group: 'project:p', model: 'tasks', writtenBy: { kind: 'system', id: expect.stringMatching(/^key_/) }, onBehalfOf: { kind: 'agent', id: 'b' } });
    expect((await a.counters.retrieve({ id: target.id })).n).toBe(0);
    // overwrite ignores the moved premise.
    const forced = await a.commits.create({
      operations: [{ op: 'update', model: 'counters', id: target.id, data: { n: 6 } }],
      reads: [{ group: 'project:p', readAt: stamp, onStale: 'overwrite' }],
    });
    expect(forced.status).toBe('committed');
  });
});

describe('claims', () => {
  test('50 agents contend for 5 rows: real lines of 9, grants in request order, holds never overlap, each holder sees the previous write', async () => {
    const e = await engine();
    const setupClient = await actor(e, 'setup');
    const rows = ['r0', 'r1', 'r2', 'r3', 'r4'];
    for (const id of rows) await setupClient.counters.create({ id, data: { n: 0 } });
    const agents = await Promise.all(Array.from({ length: 50 }, (_, i) => actor(e, `agent-${i}`)));

    let clock = 0; // logical time in this process: every grant and every release gets the next tick
    const holding = new Map<string, string>();
    const granted = new Set<number>();
    const overlaps: string[] = [];
    const records = new Map<string, Array<{ order: number; grantAt: number; releaseAt: number; sawN: number }>>(rows.map((r) => [r, []]));
    // The first holder of each row keeps it until every request is in line, so each row has a real queue of 9.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));

    const run = async (i: number, row: string, order: number): Promise<void> => {
      const a = agents[i]!;
      await using claim = await a.counters.claim({ id: row, action: `increment #${order}` });
      const grantAt = ++clock;
      granted.add(i);
      if (holding.has(row)) overlaps.push(`${row}: agent-${i} granted while ${holding.get(row)} held it`);
      holding.set(row, `agent-${i}`);
      expect(claim.claim.holder).toEqual({ kind: 'agent', id: `agent-${i}` });
      const n = claim.data.n;
      await gate;
      await a.counters.update({ id: row, data: { n: n + 1 } });
      holding.delete(row);
      records.get(row)!.push({ order, grantAt, releaseAt: ++clock, sawN: n });
      // `await using` releases the claim here, after the write.
    };
    const inLine = (row: string, agent: string) => {
      const state = memoryClaims(e.engine).state('counters', row);
      return state.claim?.holder.id === agent || state.queue.some((q) => q.participant.id === agent);
    };

    // Send the requests one by one, each seen by the engine as holder or in line before the next, so request order is known.
    const runs: Array<Promise<void>> = [];
    for (let i = 0; i < 50; i++) {
      const row = rows[i % 5]!;
      runs.push(run(i, row, Math.floor(i / 5)));
      await vi.waitFor(() => expect(inLine(row, `agent-${i}`) || granted.has(i)).toBe(true), { timeout: 5000, interval: 5 });
    }
    // Every row: held by its first requester, 9 waiting behind it in request order (and the SDK clients see the same line).
    for (const [r, row] of rows.entries()) {
      const state = memoryClaims(e.engine).state('counters', row);
      expect(state.claim?.holder).toEqual({ kind: 'agent', id: `agent-${r}` });
      expect(state.queue.map((q) => q.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(state.queue.map((q) => q.participant.id)).toEqual(Array.from({ length: 9 }, (_, k) => `agent-${r + 5 * (k + 1)}`));
      await until(setupClient, () => setupClient.counters.claim.queue({ id: row }).length === 9);
    }
    expect(overlaps).toEqual([]);
    openGate();
    await Promise.all(runs);

    expect(overlaps).toEqual([]);
    for (const row of rows) {
      const recs = records.get(row)!.sort((x, y) => x.grantAt - y.grantAt);
      expect(recs).toHaveLength(10);
      // Grants follow request order.
      expect(recs.map((r) => r.order)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (let k = 0; k < recs.length; k++) {
        // Hold intervals never overlap: the next grant comes after the previous holder's write and release.
        if (k > 0) expect(recs[k]!.grantAt).toBeGreaterThan(recs[k - 1]!.releaseAt);
        // Each holder saw the previous holder's write.
        expect(recs[k]!.sawN).toBe(k);
      }
      expect((await setupClient.counters.retrieve({ id: row })).n).toBe(10);
      expect(memoryClaims(e.engine).state('counters', row)).toEqual({ claim: null, queue: [] });
    }
  }, 60_000);

  test('wait: false fails at once naming the holder; maxQueueDepth refuses', async () => {
    const e = await engine();
    const a = await actor(e, 'holder');
    const b = await actor(e, 'b');
    const c = await actor(e, 'c');
    const row = await a.counters.create({ data: { n: 0 } });
    const held = await a.counters.claim({ id: row.id, action: 'thinking' });
    const fast = await b.counters.claim({ id: row.id, wait: false }).catch((x) => x);
    expect(fast).toBeInstanceOf(AbloClaimedError);
    expect(fast.message).toMatch(/holder/);
    expect(fast.holder).toEqual({ kind: 'agent', id: 'holder' });
    const waiting = b.counters.claim({ id: row.id });
    await until(a, () => a.counters.claim.queue({ id: row.id }).length === 1);
    await expect(c.counters.claim({ id: row.id, maxQueueDepth: 1 })).rejects.toMatchObject({ code: 'queue_full' });
    await held.release();
    const granted = await waiting;
    expect(granted.active).toBe(true);
    await granted.release();
  });

  test('writes to a claimed row: others get AbloClaimedError naming the holder, the holder succeeds, reads never block', async () => {
    const e = await engine();
    const a = await actor(e, 'holder');
    const b = await actor(e, 'other');
    const row = await a.counters.create({ data: { n: 0 } });
    await until(b, () => b.counters.get(row.id));
    const claim = await a.counters.claim({ id: row.id, action: 'summarizing' });
    await until(b, () => b.counters.claim.state({ id: row.id }));
    expect(b.counters.claim.state({ id: row.id })).toMatchObject({ holder: { kind: 'agent', id: 'holder' }, action: 'summarizing' });
    const err = await b.counters.update({ id: row.id, data: { n: 99 } }).catch((x) => x);
    expect(err).toBeInstanceOf(AbloClaimedError);
    expect(err.holder).toEqual({ kind: 'agent', id: 'holder' });
    expect(b.counters.get(row.id)!.n).toBe(0); // rolled back locally
    expect((await b.counters.retrieve({ id: row.id })).n).toBe(0); // reads are not blocked
    expect((await a.counters.update({ id: row.id, data: { n: 1 } })).n).toBe(1);
    await claim.release();
    await until(b, () => b.counters.claim.state({ id: row.id }) === null);
    expect((await b.counters.update({ id: row.id, data: { n: 2 } })).n).toBe(2);
  });

  test('await using releases the claim when the block throws', async () => {
    const e = await engine();
    const a = await actor(e, 'a');
    const b = await actor(e, 'b');
    const row = await a.counters.create({ data: { n: 0 } });
    await expect(
      (async () => {
        await using claim = await a.counters.claim({ id: row.id });
        expect(claim.active).toBe(true);
        throw new Error('the LLM call failed');
      })(),
    ).rejects.toThrowError('the LLM call failed');
    const next = await b.counters.claim({ id: row.id, wait: false });
    expect(next.data.id).toBe(row.id);
    await next.release();
  });

  test('a holder whose client goes away loses the row; the next in line gets it', async () => {
    const e = await engine();
    const a = await actor(e, 'a');
    const b = await actor(e, 'b');
    const row = await a.counters.create({ data: { n: 0 } });
    await a.counters.claim({ id: row.id });
    const waiting = b.counters.claim({ id: row.id });
    await until(b, () => b.counters.claim.queue({ id: row.id }).length === 1);
    await a.dispose();
    const granted = await waiting;
    expect(granted.claim.holder).toEqual({ kind: 'agent', id: 'b' });
    await granted.release();
  });

  test('a holder whose connection dropped asks for its claim back on reconnect; an engine that no longer has it makes it claim:lost', async () => {
    // One engine (SQLite) forgets claims when it restarts; several on Postgres keep them for a lease (claims-postgres.pg.test.ts).
    const first = await startTestEngine({ schema, keepFiles: true });
    const port = first.engine.port;
    cleanups.push(async () => rmSync(dirname(first.file), { recursive: true, force: true }));
    const c = Ablo({ schema, apiKey: first.apiKey, baseURL: first.url, participant: { kind: 'agent', id: 'a' }, reconnect: { baseMs: 20, maxMs: 100 } });
    cleanups.push(() => c.dispose());
    await c.ready();
    const row = await c.counters.create({ data: { n: 0 } });
    const claim = await c.counters.claim({ id: row.id, leaseSeconds: 60 });
    const lost = new Promise<{ claimId: string; reason: string }>((resolve) => c.on('claim:lost', resolve));
    const offline = new Promise<void>((resolve) => c.on('connection:change', (ev) => ev.status === 'offline' && resolve()));
    await first.engine.close();
    await offline;
    expect(claim.active).toBe(true); // not lost while away: it may come back
    const second = await createEngine({ file: first.file, port, log: () => {} });
    cleanups.push(() => second.close());
    expect(await lost).toEqual({ claimId: claim.id, model: 'counters', id: row.id, reason: expect.stringContaining('claim_not_found') });
    expect(claim.active).toBe(false);
  });

  test('claim.release({ id }) releases this client’s claim by row', async () => {
    const e = await engine();
    const a = await actor(e, 'a');
    const row = await a.counters.create({ data: { n: 0 } });
    const claim = await a.counters.claim({ id: row.id });
    await a.counters.claim.release({ id: row.id });
    expect(claim.active).toBe(false);
    await until(a, () => a.counters.claim.state({ id: row.id }) === null);
  });
});
