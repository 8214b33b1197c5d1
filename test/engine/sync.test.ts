import { afterEach, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, TestSocket, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({
  notes: model({ body: z.string(), n: z.number().int().default(0) }),
  tasks: model({ title: z.string(), projectId: z.string() }, {}, { syncGroupFormat: 'project:{projectId}' }),
});

const engines: TestEngine[] = [];
async function start(options: Parameters<typeof startTestEngine>[1] = {}): Promise<TestEngine> {
  const t = await startTestEngine(schema, options);
  engines.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

let refCounter = 0;
async function commitOver(socket: TestSocket, operations: unknown[], extra: Record<string, unknown> = {}): Promise<any> {
  const ref = `r${++refCounter}`;
  socket.send({ type: 'commit', ref, commit: { operations, ...extra } });
  return socket.next((f) => (f.type === 'receipt' || f.type === 'error') && f.ref === ref);
}

/** Collect change frames until `count` changes arrived. */
async function collectChanges(socket: TestSocket, count: number, timeoutMs = 20_000): Promise<any[]> {
  const out: any[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    const f = await socket.next('changes', Math.max(1, deadline - Date.now()));
    out.push(...f.changes);
  }
  return out;
}

describe('handshake and bootstrap', () => {
  test('hello with a key in the frame bootstraps the subscribed groups', async () => {
    const t = await start();
    await t.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'notes', id: 'n1', data: { body: 'hello' } },
        { op: 'create', model: 'tasks', id: 'a1', data: { title: 'in a', projectId: 'a' } },
        { op: 'create', model: 'tasks', id: 'b1', data: { title: 'in b', projectId: 'b' } },
      ],
    });
    const s = await t.socket();
    const { welcome, frames, done } = await s.hello({ apiKey: t.key, groups: ['project:a', 'default'] });
    expect(welcome).toMatchObject({ mode: 'bootstrap', lastSyncId: 3, schemaHash: schema.serialized.hash });
    const rows = frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows.map((r: any) => r.id));
    expect(rows.sort()).toEqual(['a1', 'n1']);
    expect(done.lastSyncId).toBe(3);
  });

  test('a key in the Authorization header works, and a wrong one gets HTTP 401 before the upgrade', async () => {
    const t = await start();
    const s = await t.socket({ headers: { authorization: `Bearer ${t.key}` } });
    const { welcome } = await s.hello({});
    // No groups: every group the key may read.
    expect(welcome.groups).toEqual(['*']);
    await expect(TestSocket.open(t.url.replace('http', 'ws') + '/v1/sync', { authorization: 'Bearer sk_test_' + '0'.repeat(32) })).rejects.toMatchObject({
      status: 401,
    });
  });

  test('a wrong key in hello gets an error frame and close 4001', async () => {
    const t = await start();
    const s = await t.socket();
    s.send({ type: 'hello', apiKey: 'sk_test_' + '1'.repeat(32) });
    const err = await s.next('error');
    expect(err.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    expect((await s.waitClose()).code).toBe(4001);
  });

  test('a commit before hello is refused and the socket closed', async () => {
    const t = await start();
    const s = await t.socket();
    s.send({ type: 'commit', ref: 'x', commit: { operations: [{ op: 'create', model: 'notes', data: { body: 'x' } }] } });
    const err = await s.next('error');
    expect(err).toMatchObject({ ref: 'x', error: { code: 'hello_required' } });
    expect((await s.waitClose()).code).toBe(1002);
  });
});

describe('commits over the socket and fanout', () => {
  test('the writer gets its own change before the receipt; receipts and errors carry the ref', async () => {
    const t = await start();
    const s = await t.socket();
    await s.hello({ apiKey: t.key, participant: { kind: 'agent', id: 'bot-1' } });
    const ref = 'one';
    s.send({ type: 'commit', ref, commit: { operations: [{ op: 'create', model: 'notes', id: 'w1', data: { body: 'mine' } }] } });
    const first = await s.next((f) => f.type === 'changes' || f.type === 'receipt');
    expect(first.type).toBe('changes');
    // Written by the key, on behalf of the participant its hello named.
    expect(first.changes[0]).toMatchObject({ id: 'w1', action: 'create', participant: { kind: 'system', id: expect.stringMatching(/^key_/) }, onBehalfOf: { kind: 'agent', id: 'bot-1' } });
    const receipt = await s.next('receipt');
    expect(receipt).toMatchObject({ ref, receipt: { status: 'committed', lastSyncId: first.changes[0].syncId } });
    const bad = await commitOver(s, [{ op: 'create', model: 'notes', data: { body: 5 } }]);
    expect(bad).toMatchObject({ type: 'error', error: { type: 'validation_error', field: 'body' } });
  });

  test('10 concurrent writers × 200 commits: every subscriber gets every change exactly once, in gap-free order', async () => {
    const t = await start();
    const subscribers = await Promise.all(Array.from({ length: 3 }, () => t.socket()));
    for (const s of subscribers) await s.hello({ apiKey: t.key });
    const writers = await Promise.all(Array.from({ length: 10 }, () => t.socket()));
    for (const w of writers) await w.hello({ apiKey: t.key, groups: ['none'] });

    const start0 = t.engine.lastSyncId();
    const receipts = await Promise.all(
      writers.map(async (w, wi) => {
        const out = [];
        // Keep several commits in flight per writer so commits really overlap.
        for (let batch = 0; batch < 200; batch += 20) {
          const round = await Promise.all(
            Array.from({ length: 20 }, (_, k) => commitOver(w, [{ op: 'create', model: 'notes', id: `w${wi}-${batch + k}`, data: { body: `w${wi}`, n: batch + k } }])),
          );
          out.push(...round);
        }
        return out;
      }),
    );
    const flat = receipts.flat();
    expect(flat.every((r) => r.type === 'receipt')).toBe(true);
    const total = 10 * 200;
    for (const s of subscribers) {
      const changes = await collectChanges(s, total);
      expect(changes).toHaveLength(total);
      const ids = changes.map((c) => c.syncId);
      expect(ids).toEqual(Array.from({ length: total }, (_, i) => start0 + 1 + i));
      expect(new Set(changes.map((c) => c.id)).size).toBe(total);
      // Nothing more arrives.
      await new Promise((r) => setTimeout(r, 50));
      expect(s.frames.filter((f) => f.type === 'changes')).toHaveLength(0);
    }
    const health = await (await fetch(`${t.url}/v1/health`)).json();
    expect(health.lastSyncId).toBe(start0 + total);
    // Group commit really happened: commits that arrived together shared storage transactions.
    const stats = t.engine.stats();
    expect(stats.commits).toBeGreaterThanOrEqual(total);
    expect(stats.transactions).toBeLessThan(stats.commits / 2);
  });

  test('a client on project:a never receives project:b rows, in bootstrap or fanout', async () => {
    const t = await start();
    await t.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'tasks', id: 'ta', data: { title: 'a', projectId: 'a' } },
        { op: 'create', model: 'tasks', id: 'tb', data: { title: 'b', projectId: 'b' } },
      ],
    });
    const a = await t.socket();
    const { frames } = await a.hello({ apiKey: t.key, groups: ['project:a'] });
    const booted = frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows);
    expect(booted.map((r: any) => r.projectId)).toEqual(['a']);

    await t.http('POST', '/v1/models/tasks', { id: 'tb2', data: { title: 'b2', projectId: 'b' } });
    await t.http('PATCH', '/v1/models/tasks/tb', { data: { title: 'b!' } });
    await t.http('POST', '/v1/models/tasks', { id: 'ta2', data: { title: 'a2', projectId: 'a' } });
    const got = await collectChanges(a, 1);
    expect(got.map((c) => c.id)).toEqual(['ta2']);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.frames.filter((f) => f.type === 'changes')).toHaveLength(0);
  });

  test('a receipt carries the written row exactly when the writer does not get the change (row outside its groups)', async () => {
    const t = await start();
    const s = await t.socket();
    await s.hello({ apiKey: t.key, groups: ['project:a'] });
    // Inside its groups: the change frame brings the row, the receipt does not repeat it.
    const inside = await commitOver(s, [{ op: 'create', model: 'tasks', id: 'in', data: { title: 'in a', projectId: 'a' } }]);
    expect(inside.receipt.results[0].row).toBeUndefined();
    // Outside: no change frame reaches this socket, so the receipt has the row as written.
    const created = await commitOver(s, [
      { op: 'create', model: 'tasks', id: 'out', data: { title: 'in b', projectId: 'b' } },
      { op: 'update', model: 'tasks', id: 'in', data: { title: 'in a!' } },
    ]);
    const stored = await t.http('GET', '/v1/models/tasks/out');
    expect(created.receipt.results[0].row).toEqual(stored.body);
    expect(created.receipt.results[0].row).toMatchObject({ id: 'out', title: 'in b', projectId: 'b', syncId: created.receipt.results[0].syncId });
    expect(created.receipt.results[1].row).toBeUndefined();
    // An update that moves a row out of the writer's groups: the change reaches it (prevGroups), the row rides along too.
    const moved = await commitOver(s, [{ op: 'update', model: 'tasks', id: 'in', data: { projectId: 'b' } }]);
    expect(moved.receipt.results[0].row).toEqual((await t.http('GET', '/v1/models/tasks/in')).body);
    // A delete has no row; a replay hands back the stored receipt, without rows.
    const del = await commitOver(s, [{ op: 'delete', model: 'tasks', id: 'out' }], { idempotencyKey: 'del-out' });
    expect(del.receipt.results[0]).not.toHaveProperty('row');
    const upd = await commitOver(s, [{ op: 'update', model: 'tasks', id: 'in', data: { title: 'x' } }], { idempotencyKey: 'upd-in' });
    expect(upd.receipt.results[0].row).toMatchObject({ id: 'in', title: 'x' });
    const replay = await commitOver(s, [{ op: 'update', model: 'tasks', id: 'in', data: { title: 'x' } }], { idempotencyKey: 'upd-in' });
    expect(replay.receipt).toEqual({ ...upd.receipt, results: [{ ...upd.receipt.results[0], row: undefined }].map(({ row: _row, ...r }) => r) });
  });

  test('a row moving out of a group reaches the old group with its previous groups', async () => {
    const t = await start();
    await t.http('POST', '/v1/models/tasks', { id: 'mv', data: { title: 'move me', projectId: 'a' } });
    const a = await t.socket();
    await a.hello({ apiKey: t.key, groups: ['project:a'] });
    await t.http('PATCH', '/v1/models/tasks/mv', { data: { projectId: 'b' } });
    const [change] = await collectChanges(a, 1);
    // A departure: the old group learns the row left, not what it holds now or where it went.
    expect(change).toMatchObject({ id: 'mv', action: 'update', data: null, fields: [], groups: [], prevGroups: ['project:a'] });
    // A socket of both groups gets the whole change.
    const both = await t.socket();
    await both.hello({ apiKey: t.key, groups: ['project:a', 'project:b'] });
    await t.http('PATCH', '/v1/models/tasks/mv', { data: { projectId: 'a' } });
    const [back] = await collectChanges(both, 1);
    expect(back).toMatchObject({ id: 'mv', groups: ['project:a'], prevGroups: ['project:b'], data: { title: 'move me', projectId: 'a' } });
  });
});

describe('reconnect', () => {
  test('reconnecting with lastSyncId receives exactly the missed changes', async () => {
    const t = await start();
    const s1 = await t.socket();
    await s1.hello({ apiKey: t.key, groups: ['default'] });
    await t.http('POST', '/v1/models/notes', { id: 'r1', data: { body: 'seen' } });
    const [seen] = await collectChanges(s1, 1);
    s1.close();
    await s1.waitClose();

    await t.http('POST', '/v1/models/notes', { id: 'r2', data: { body: 'missed 1' } });
    await t.http('PATCH', '/v1/models/notes/r1', { data: { body: 'missed 2' } });
    await t.http('POST', '/v1/models/tasks', { id: 'other', data: { title: 'x', projectId: 'zzz' } });

    const s2 = await t.socket();
    const { welcome, frames } = await s2.hello({ apiKey: t.key, groups: ['default'], lastSyncId: seen.syncId, schemaHash: schema.serialized.hash });
    expect(welcome.mode).toBe('catchup');
    const missed = frames.filter((f) => f.type === 'changes').flatMap((f) => f.changes);
    expect(missed.map((c: any) => [c.id, c.action])).toEqual([
      ['r2', 'create'],
      ['r1', 'update'],
    ]);
    expect(frames.some((f) => f.type === 'bootstrap')).toBe(false);
    // And then it is live.
    await t.http('POST', '/v1/models/notes', { id: 'r3', data: { body: 'live' } });
    expect((await collectChanges(s2, 1))[0].id).toBe('r3');
  });

  test('a lastSyncId from the future or another schema gets a fresh bootstrap', async () => {
    const t = await start();
    await t.http('POST', '/v1/models/notes', { id: 'x1', data: { body: 'x' } });
    const s = await t.socket();
    const future = await s.hello({ apiKey: t.key, lastSyncId: 999 });
    expect(future.welcome.mode).toBe('bootstrap');
    const s2 = await t.socket();
    const other = await s2.hello({ apiKey: t.key, lastSyncId: 0, schemaHash: 'different' });
    expect(other.welcome.mode).toBe('bootstrap');
  });
});

describe('bad frames get a typed error or a close with a code; others keep being served', () => {
  test('malformed JSON, unknown types, wrong shapes, wrong field types', async () => {
    const t = await start();
    const bystander = await t.socket();
    await bystander.hello({ apiKey: t.key });
    const s = await t.socket();
    await s.hello({ apiKey: t.key });

    s.send('{not json');
    expect((await s.next('error')).error.code).toBe('invalid_json');
    s.send({ type: 'explode' });
    expect((await s.next('error')).error.code).toBe('unknown_frame');
    s.send({ type: 'commit', ref: 'shape', commit: { operations: 'all of them' } });
    expect(await s.next('error')).toMatchObject({ ref: 'shape', error: { type: 'validation_error' } });
    const wrongType = await commitOver(s, [{ op: 'update', model: 'notes', id: 'x', data: { n: 'three' } }]);
    expect(wrongType.error).toMatchObject({ field: 'n' });
    s.send({ type: 'hello', apiKey: t.key });
    expect((await s.next('error')).error.code).toBe('duplicate_hello');
    s.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await s.next('error')).error.code).toBe('invalid_frame');

    // Still serving both.
    const ok = await commitOver(s, [{ op: 'create', model: 'notes', id: 'after-bad', data: { body: 'fine' } }]);
    expect(ok.type).toBe('receipt');
    expect((await collectChanges(bystander, 1))[0].id).toBe('after-bad');
  });

  test('a 10 MB frame closes that socket with 1009; the engine keeps serving', async () => {
    const t = await start();
    const s = await t.socket();
    await s.hello({ apiKey: t.key });
    s.send({ type: 'commit', ref: 'big', commit: { operations: [{ op: 'create', model: 'notes', data: { body: 'x'.repeat(10 * 1024 * 1024) } }] } });
    expect((await s.waitClose()).code).toBe(1009);
    const other = await t.socket();
    await other.hello({ apiKey: t.key });
    expect((await commitOver(other, [{ op: 'create', model: 'notes', data: { body: 'small' } }])).type).toBe('receipt');
    expect((await t.http('GET', '/v1/models/notes')).body.data.every((r: any) => r.body.length < 100)).toBe(true);
  });

  test('no hello in time closes with 4002', async () => {
    const t = await start({ helloTimeoutMs: 300 });
    const ws = new WebSocket(t.url.replace('http', 'ws') + '/v1/sync');
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('timeout'), 5_000))])).toBe(4002);
  });

  test('a slow consumer is told to resync and dropped without stalling others', async () => {
    const t = await start({ maxBufferedBytes: 64 * 1024 });
    const fast = await t.socket();
    await fast.hello({ apiKey: t.key });
    const slow = await t.socket();
    await slow.hello({ apiKey: t.key });
    // Stop reading on the slow socket: once the kernel buffers are full, the engine's queue for it grows.
    (slow.ws as any)._socket.pause();
    const payload = 'y'.repeat(30 * 1024);
    const commits = 20;
    const perCommit = 20;
    for (let i = 0; i < commits; i++) {
      const res = await t.http('POST', '/v1/commits', {
        operations: Array.from({ length: perCommit }, () => ({ op: 'create', model: 'notes', data: { body: payload } })),
      });
      expect(res.status).toBe(200);
    }
    // The fast client got everything, while the slow one was over its limit.
    expect((await collectChanges(fast, commits * perCommit)).length).toBe(commits * perCommit);
    (slow.ws as any)._socket.resume();
    const close = await slow.waitClose();
    expect(close.code).toBe(4003);
    expect(slow.frames.some((f) => f.type === 'resync')).toBe(true);
    expect(t.engine.connections()).toBe(1);
  });
});
