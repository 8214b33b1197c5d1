/**
 * The SDK under the engine's rate limits: a session client that writes
 * faster than its credential may is told `rate_limited` for some commits,
 * waits and sends them again (same client transaction ids, in order), and
 * ends with every write applied exactly once. Over HTTP, a 429 is sent again
 * after its `retryAfterMs`, a bounded number of times.
 */
import { afterEach, expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { EngineApiClient } from '../../src/client/engineApi.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({ notes: model({ title: z.string(), n: z.number().int() }) });

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(rateLimits: { commitsPerSecond?: number; commitBurst?: number; connections?: number }): Promise<{ t: TestEngine; token: string }> {
  const t = await startTestEngine(schema, { rateLimits });
  cleanups.push(() => t.stop());
  const res = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['default'], operations: ['read', 'write'] });
  expect(res.status).toBe(201);
  return { t, token: res.body.token };
}

async function storedNotes(t: TestEngine): Promise<{ rows: number; creates: string[] }> {
  const rows = await t.engine.storage.scanRows('notes', null, 10_000);
  const changes = await t.engine.storage.changesAfter(0, 10_000);
  return { rows: rows.length, creates: changes.filter((c) => c.model === 'notes' && c.action === 'create').map((c) => c.id) };
}

test('a session client writing 200 rows fast under a low limit ends with exactly 200 rows, 200 receipts, no duplicates', async () => {
  const { t, token } = await start({ commitsPerSecond: 400, commitBurst: 10 });
  const waits: unknown[] = [];
  const ablo = Ablo({ schema, sessionToken: token, baseURL: t.url, logger: { debug: (_m, d) => waits.push(d), warn: () => {} } });
  cleanups.push(() => ablo.dispose());
  await ablo.ready();

  const writes = Array.from({ length: 200 }, (_, n) => ablo.notes.create({ data: { title: `note ${n}`, n } }));
  const rows = await Promise.all(writes);
  expect(rows).toHaveLength(200);
  expect(new Set(rows.map((r) => r.id)).size).toBe(200);
  // The limit was met: the client waited at least once.
  expect(waits.length).toBeGreaterThan(0);

  const stored = await storedNotes(t);
  expect(stored.rows).toBe(200);
  expect(stored.creates).toHaveLength(200);
  expect(new Set(stored.creates).size).toBe(200);
  expect(ablo.notes.getAll()).toHaveLength(200);
  expect(ablo.notes.getAll().map((r) => r.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, n) => n));
});

test('over HTTP a 429 is waited out and sent again: 30 commits at once all apply, exactly once', async () => {
  const { t, token } = await start({ commitsPerSecond: 10, commitBurst: 5 });
  let refused = 0;
  const counting: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (res.status === 429) refused++;
    return res;
  };
  const api = new EngineApiClient({ baseURL: t.url, apiKey: token, fetch: counting, rateLimitRetries: 20 });
  const receipts = await Promise.all(
    Array.from({ length: 30 }, (_, n) => api.commit({ operations: [{ op: 'create', model: 'notes', id: `h${n}`, data: { title: 'h', n } }] }, { idempotencyKey: `h-${n}` })),
  );
  expect(receipts.every((r) => r.results[0]!.status === 'applied')).toBe(true);
  expect(refused).toBeGreaterThan(0);
  const stored = await storedNotes(t);
  expect(stored.rows).toBe(30);
  expect(new Set(stored.creates).size).toBe(30);

  // Bounded: with no retries the 429 reaches the caller, typed.
  const impatient = new EngineApiClient({ baseURL: t.url, apiKey: token, rateLimitRetries: 0 });
  const burst = await Promise.allSettled(
    Array.from({ length: 20 }, (_, n) => impatient.commit({ operations: [{ op: 'create', model: 'notes', id: `i${n}`, data: { title: 'i', n } }] })),
  );
  const failures = burst.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(failures.length).toBeGreaterThan(0);
  expect(failures[0]!.reason).toMatchObject({ type: 'rate_limit', code: 'rate_limited' });
  expect(typeof failures[0]!.reason.details.retryAfterMs).toBe('number');
});

test('a client over the connection limit is not stopped: it reconnects with its backoff and gets in once a place is free', async () => {
  const { t, token } = await start({ connections: 1 });
  const first = Ablo({ schema, sessionToken: token, baseURL: t.url, reconnect: { baseMs: 20, maxMs: 100 } });
  cleanups.push(() => first.dispose());
  await first.ready();
  const second = Ablo({ schema, sessionToken: token, baseURL: t.url, reconnect: { baseMs: 20, maxMs: 100 }, readyTimeoutMs: 20_000 });
  cleanups.push(() => second.dispose());
  // Refused with 4029 (not 4001: the client keeps trying).
  const refused = new Promise<void>((resolve) => {
    second.on('connection:change', (e) => {
      if (e.code === 4029) resolve();
    });
  });
  const ready = second.ready();
  await refused;
  expect(second.status).not.toBe('unauthorized');
  await first.dispose();
  await ready;
  expect(second.status).toBe('live');
});
