/**
 * Revocations reach every engine process on one Postgres database: a session
 * revoked (or an API key deleted) through process A closes the sockets of that
 * credential on process B, and a commit that reaches B after the revocation's
 * answer is refused and writes nothing (the write path of every process sees
 * the revocation: docs/auth.md, "Across processes").
 */
import { afterEach, expect, test } from 'vitest';
import { PostgresStorage } from '../../src/engine/storage/postgres.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startCluster, type Cluster, callAs } from '../helpers/cluster.js';
import { TestSocket } from '../helpers/engine.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

let cluster: Cluster | undefined;
let db: TestDatabase | undefined;
const storages: PostgresStorage[] = [];
const sockets: TestSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(storages.splice(0).map((s) => s.close()));
  await cluster?.stop();
  cluster = undefined;
  await db?.drop();
  db = undefined;
});


async function socket(url: string): Promise<TestSocket> {
  const s = await TestSocket.open(`${url.replace(/^http/, 'ws')}/v1/sync`);
  sockets.push(s);
  return s;
}

const createOp = (id: string) => ({ operations: [{ op: 'create', model: 'notes', id, data: { title: id, owner: 'ana' } }] });

test('a session revoked on A: its socket on B closes 4001 revoked_token; its commits on B after the answer write nothing', async () => {
  cluster = await startCluster(2, schema.serialized);
  const [a, b] = cluster.urls as [string, string];
  const minted = await callAs(a, 'POST', '/v1/sessions', cluster.key, { participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read', 'write'] });
  expect(minted.status).toBe(201);
  const token: string = minted.body.token;
  const s = await socket(b);
  await s.hello({ apiKey: token, groups: ['user:ana'] });
  // B has read the token's state just now (its per-request cache is fresh): only the revocation path can refuse.
  expect((await callAs(b, 'POST', '/v1/commits', token, createOp('before'))).status).toBe(200);

  const revoked = await callAs(a, 'DELETE', `/v1/sessions/${minted.body.sessionId}`, cluster.key);
  expect(revoked.status).toBe(200);
  // Right after the answer: an HTTP commit and a socket commit on B.
  s.send({ type: 'commit', ref: 'c1', ...{ commit: createOp('after-socket') } });
  const http = await callAs(b, 'POST', '/v1/commits', token, createOp('after-http'));
  expect(http.status).toBe(401);
  expect(http.body.error.code).toBe('revoked_token');
  const closed = await s.waitClose();
  expect(closed.code).toBe(4001);
  expect(s.frames.find((f) => f.type === 'receipt' && f.ref === 'c1')).toBeUndefined();
  expect(s.frames.find((f) => f.type === 'error')?.error.code).toBe('revoked_token');
  for (const id of ['after-socket', 'after-http']) expect((await callAs(a, 'GET', `/v1/models/notes/${id}`, cluster.key)).status).toBe(404);
  expect((await callAs(a, 'GET', '/v1/models/notes/before', cluster.key)).status).toBe(200);
});

test('an API key deleted on A: its socket on B closes 4001 revoked_api_key; its commits on B after the answer write nothing', async () => {
  cluster = await startCluster(2, schema.serialized);
  const [a, b] = cluster.urls as [string, string];
  const created = await callAs(a, 'POST', '/v1/keys', cluster.key, { name: 'job', mode: 'live' });
  expect(created.status).toBe(201);
  const key: string = created.body.key;
  const s = await socket(b);
  await s.hello({ apiKey: key, groups: ['user:ana'] });
  const deleted = await callAs(a, 'DELETE', `/v1/keys/${created.body.id}`, cluster.key);
  expect(deleted.status).toBe(200);
  s.send({ type: 'commit', ref: 'c1', commit: createOp('after-socket') });
  const http = await callAs(b, 'POST', '/v1/commits', key, createOp('after-http'));
  expect(http.status).toBe(401);
  expect(http.body.error.code).toBe('revoked_api_key');
  expect((await s.waitClose()).code).toBe(4001);
  expect(s.frames.find((f) => f.type === 'receipt' && f.ref === 'c1')).toBeUndefined();
  for (const id of ['after-socket', 'after-http']) expect((await callAs(a, 'GET', `/v1/models/notes/${id}`, cluster.key)).status).toBe(404);
});

test('storage: a write transaction that starts after another instance revoked waits for a revocation read that started after it', async () => {
  db = await createTestDatabase();
  const a = new PostgresStorage({ url: db.url, schema: 'ablo', poolSize: 2 });
  const b = new PostgresStorage({ url: db.url, schema: 'ablo', poolSize: 2 });
  storages.push(a, b);
  await a.open();
  await b.open();
  const reads: Array<{ startedAt: number; doneAt: number }> = [];
  b.onRevocation(async () => {
    const startedAt = performance.now();
    // A slow read: the transaction below must still wait for it.
    await new Promise((r) => setTimeout(r, 150));
    reads.push({ startedAt, doneAt: performance.now() });
  });
  await a.ensureMeta('session_revoked:ses_test', new Date(Date.now() + 60_000).toISOString(), { revocation: true });
  const answeredAt = performance.now();
  const bodyAt = await b.transaction(async () => performance.now());
  expect(reads.some((r) => r.startedAt >= answeredAt - 1 && r.doneAt <= bodyAt)).toBe(true);
  // Nothing new (once the feed's hint, too, has been read): a transaction does not wait.
  await new Promise((r) => setTimeout(r, 400));
  const before = reads.length;
  await b.transaction(async () => undefined);
  await a.transaction(async () => undefined);
  expect(reads.length).toBe(before);
});
