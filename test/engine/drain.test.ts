/**
 * `engine.drain()`: readiness goes false at once, new work is refused with
 * `draining` (health and readiness still answer), commits already queued land
 * and are receipted, sockets close with 4006, then the storage closes (the
 * next engine opens the same file).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import type { StorageTx } from '../../src/engine/storage/types.js';
import { CLOSE_CODES } from '../../src/protocol/sync.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, TestSocket, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({ notes: model({ body: z.string() }) });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engine(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  cleanups.push(() => t.stop());
  return t;
}

/** Hold every storage transaction until `open()`; `entered` resolves when the first one waits. */
function gateTransactions(t: TestEngine): { entered: Promise<void>; open: () => void } {
  const storage = t.engine.storage;
  const original = storage.transaction.bind(storage);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let entered!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  storage.transaction = (async <T>(fn: (tx: StorageTx) => Promise<T>) => {
    entered();
    await gate;
    return original(fn);
  }) as typeof storage.transaction;
  return { entered: enteredP, open };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.json() };
}

describe('engine.drain()', () => {
  test('ready and health answer 200 while the engine takes work', async () => {
    const t = await engine();
    expect(await get(`${t.url}/v1/ready`)).toEqual({ status: 200, body: { ready: true } });
    expect(t.engine.readiness()).toEqual({ ready: true });
    const health = await get(`${t.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ ok: true, lastSyncId: 0 });
  });

  test('queued commits (socket and HTTP) land and are receipted; new work is refused; sockets close 4006; the storage closes', async () => {
    const t = await engine();
    const s = await t.socket();
    await s.hello({ apiKey: t.key });
    const gate = gateTransactions(t);

    // A commit over HTTP, held in its transaction; one on the socket, queued behind it (a socket's frames are
    // handled in order, so once the ping after it is answered, the commit is in the queue).
    const httpCommit = t.http('POST', '/v1/commits', { operations: [{ op: 'create', model: 'notes', id: 'n2', data: { body: 'http' } }] });
    await gate.entered;
    s.send({ type: 'commit', ref: 'before', commit: { operations: [{ op: 'create', model: 'notes', id: 'n1', data: { body: 'socket' } }] } });
    s.send({ type: 'ping', t: 1 });
    await s.next('pong');

    const drained = t.engine.drain();
    expect(t.engine.readiness()).toEqual({ ready: false, reason: 'draining' });
    expect(await get(`${t.url}/v1/ready`)).toEqual({ status: 503, body: { ready: false, reason: 'draining' } });
    expect((await get(`${t.url}/v1/health`)).status).toBe(200);
    // New keyed requests, new sockets and new commit frames are refused with `draining`.
    const refused = await t.http('GET', '/v1/models/notes');
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ type: 'connection_error', code: 'draining' });
    await expect(TestSocket.open(t.url.replace('http', 'ws') + '/v1/sync')).rejects.toMatchObject({ status: 503 });
    s.send({ type: 'commit', ref: 'after', commit: { operations: [{ op: 'create', model: 'notes', id: 'n3', data: { body: 'late' } }] } });
    const late = await s.next((f) => f.ref === 'after');
    expect(late).toMatchObject({ type: 'error', ref: 'after', error: { code: 'draining', type: 'connection_error' } });

    gate.open();
    const receipt = await s.next((f) => f.ref === 'before');
    expect(receipt).toMatchObject({ type: 'receipt', receipt: { status: 'committed' } });
    const answered = await httpCommit;
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ status: 'committed' });
    expect(await s.waitClose()).toEqual({ code: CLOSE_CODES.engine_draining, reason: 'engine draining: reconnect to another engine' });
    await drained;
    expect(t.engine.readiness()).toEqual({ ready: false, reason: 'closed' });

    // The storage is closed: another engine opens the file, and finds both receipted commits, and not the refused one.
    const next = await createEngine({ file: t.file, port: 0, log: () => {} });
    cleanups.push(() => next.close());
    expect(await next.storage.getRow('notes', 'n1')).toMatchObject({ body: 'socket' });
    expect(await next.storage.getRow('notes', 'n2')).toMatchObject({ body: 'http' });
    expect(await next.storage.getRow('notes', 'n3')).toBeNull();
    expect(next.lastSyncId()).toBe(2);
  });

  test('drain() twice is one drain; close() after it is a no-op', async () => {
    const t = await engine();
    const a = t.engine.drain();
    const b = t.engine.drain();
    expect(a).toBe(b);
    await a;
    await t.engine.close();
    expect(t.engine.readiness()).toEqual({ ready: false, reason: 'closed' });
  });
});
