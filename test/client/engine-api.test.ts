/**
 * The one engine client (src/client/engineApi.ts) against a real engine:
 * every call's answer matches its protocol schema (src/protocol/api.ts,
 * claims.ts, commit.ts; parsed strictly here), the headers it sends do what
 * they say (participant, idempotency key, claims), and every failure is one
 * typed error: the engine's envelope, an engine that does not answer, a
 * server that is not an engine, an answer of the wrong shape.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EngineApiClient } from '../../src/client/engineApi.js';
import { AbloClaimedError, AbloConnectionError, AbloNotFoundError } from '../../src/errors.js';
import {
  apiKeyPageSchema,
  apiKeySchema,
  changesPageSchema,
  deletedSchema,
  healthSchema,
  rowPageSchema,
  schemaDocumentSchema,
  schemaPushAnswerSchema,
} from '../../src/protocol/api.js';
import { claimGrantSchema, claimReleasedSchema, claimSchema, claimStateSchema } from '../../src/protocol/claims.js';
import { commitReceiptSchema, rowSchema } from '../../src/protocol/commit.js';
import { serializeSchema } from '../../src/schema/index.js';
import { schema } from '../fixtures/example.schema.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let api: EngineApiClient;
beforeAll(async () => {
  t = await startTestEngine(schema);
  api = new EngineApiClient({ baseURL: t.url, apiKey: t.key });
});
afterAll(async () => {
  await t.stop();
});

/** Every documented field present, with its type. */
const strict = <T>(s: { parse: (v: unknown) => T }, v: unknown): T => s.parse(v);

describe('answers match the protocol schemas', () => {
  test('engine: health, schema, a dry-run push, changes', async () => {
    strict(healthSchema, await api.health());
    const doc = strict(schemaDocumentSchema, await api.schema());
    expect(doc.hash).toBe(serializeSchema(schema).hash);
    const push = strict(schemaPushAnswerSchema, await api.pushSchema({ schema: serializeSchema(schema), dryRun: true }));
    expect(push).toMatchObject({ object: 'schema_push', applied: false });
    await api.create('projects', { id: 'p1', data: { name: 'Apollo' } });
    const page = strict(changesPageSchema, await api.changes({ after: 0, limit: 1 }));
    expect(page.data).toHaveLength(1);
    expect(page.lastSyncId).toBeGreaterThanOrEqual(page.data[0]!.syncId);
  });

  test('rows: create, get, list, update, delete, commit; held writes answer with the receipt', async () => {
    const created = strict(rowSchema, await api.create('tasks', { id: 't1', data: { title: 'Ship', projectId: 'p1' } }));
    strict(rowSchema, await api.get('tasks', 't1'));
    const page = strict(rowPageSchema, await api.list('tasks', { where: { projectId: 'p1' }, orderBy: [{ field: 'title', direction: 'asc' }], limit: 10 }));
    expect(page.data.map((r) => r.id)).toEqual(['t1']);
    const updated = strict(rowSchema, await api.update('tasks', 't1', { data: { status: 'doing' }, readAt: created.syncId }));
    // Someone else wrote `status` after created.syncId: notify holds the write and answers with the receipt.
    const held = strict(commitReceiptSchema, await api.update('tasks', 't1', { data: { status: 'done' }, readAt: created.syncId, onStale: 'notify' }));
    expect(held.status).toBe('held');
    const heldDelete = strict(commitReceiptSchema, await api.delete('tasks', 't1', { readAt: created.syncId, onStale: 'notify' }));
    expect(heldDelete.status).toBe('held');
    const deleted = strict(deletedSchema, await api.delete('tasks', 't1', { readAt: updated.syncId }));
    expect(deleted).toMatchObject({ object: 'deleted', id: 't1', deleted: true });
    const receipt = strict(commitReceiptSchema, await api.commit({ operations: [{ op: 'create', model: 'tasks', id: 't2', data: { title: 'Two', projectId: 'p1' } }] }));
    expect(receipt.status).toBe('committed');
  });

  test('claims: claim, state, renew, a write presenting the claim, release', async () => {
    const grant = strict(claimGrantSchema, await api.claim('tasks', 't2', { leaseSeconds: 60, action: 'editing' }));
    const state = strict(claimStateSchema, await api.claimState('tasks', 't2'));
    expect(state.claim?.id).toBe(grant.id);
    strict(claimSchema, await api.renew(grant.id, 120));
    // Without the claim the write is refused; presenting it (Ablo-Claim) passes.
    await expect(api.update('tasks', 't2', { data: { title: 'no' } })).rejects.toBeInstanceOf(AbloClaimedError);
    strict(rowSchema, await api.update('tasks', 't2', { data: { title: 'mine' } }, { claimIds: [grant.id] }));
    strict(claimReleasedSchema, await api.release(grant.id));
  });

  test('keys: create (the key once), list, revoke', async () => {
    const created = strict(apiKeySchema, await api.createKey({ name: 'ci' }));
    expect(created.key).toMatch(/^sk_test_/);
    const list = strict(apiKeyPageSchema, await api.listKeys());
    expect(list.data.every((k) => k.key === undefined)).toBe(true);
    const revoked = strict(apiKeySchema, await api.revokeKey(created.id));
    expect(revoked.revoked).toBe(true);
  });
});

describe('headers', () => {
  test('Ablo-Participant (client-wide or per call): the key writes on behalf of that participant', async () => {
    const agent = new EngineApiClient({ baseURL: t.url, apiKey: t.key, participant: { kind: 'agent', id: 'planner' } });
    const a = await agent.create('tasks', { data: { title: 'by agent', projectId: 'p1' } });
    const u = await agent.create('tasks', { data: { title: 'by user', projectId: 'p1' } }, { participant: { kind: 'user', id: 'ada' } });
    const changes = (await api.changes({ after: a.syncId - 1 })).data;
    expect(changes.find((c) => c.id === a.id)).toMatchObject({ participant: { kind: 'system', id: expect.stringMatching(/^key_/) }, onBehalfOf: { kind: 'agent', id: 'planner' } });
    expect(changes.find((c) => c.id === u.id)).toMatchObject({ participant: { kind: 'system', id: expect.stringMatching(/^key_/) }, onBehalfOf: { kind: 'user', id: 'ada' } });
  });

  test('Idempotency-Key replays: same row, nothing written twice, the replay is reported', async () => {
    let replayed: string | null = null;
    const first = await api.create('tasks', { data: { title: 'once', projectId: 'p1' } }, { idempotencyKey: 'create-once' });
    const again = await api.create('tasks', { data: { title: 'once', projectId: 'p1' } }, { idempotencyKey: 'create-once' });
    expect(again.id).toBe(first.id);
    const body = { operations: [{ op: 'create' as const, model: 'tasks', data: { title: 'batch once', projectId: 'p1' } }] };
    const r1 = await api.commit(body, { idempotencyKey: 'commit-once' });
    const r2 = await api.commit(body, { idempotencyKey: 'commit-once', onHeaders: (h) => (replayed = h.get('idempotent-replayed')) });
    expect(r2).toEqual(r1);
    expect(replayed).toBe('true');
  });
});

describe('failures are typed errors', () => {
  let other: Server;
  let otherUrl: string;
  beforeAll(async () => {
    // Something that is not an engine: HTML for everything, and a /v1/health of the wrong shape.
    other = createServer((req, res) => {
      if (req.url === '/v1/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: 'yes' }));
        return;
      }
      if (req.url === '/v1/schema') {
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'bad gateway' }));
        return;
      }
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>not here</h1>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => other.close(() => resolve()));
  });

  test("the engine's envelope becomes its class", async () => {
    const err = await api.get('tasks', 'nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbloNotFoundError);
    expect(err).toMatchObject({ type: 'not_found', code: 'row_not_found' });
  });

  test('nothing listening: unreachable, with the errno', async () => {
    // A port that was free a moment ago.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await new EngineApiClient({ baseURL: `http://127.0.0.1:${port}`, apiKey: t.key }).health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbloConnectionError);
    expect(err).toMatchObject({ code: 'unreachable', details: { errno: 'ECONNREFUSED', url: `http://127.0.0.1:${port}` } });
    expect((err as Error).message).toMatch(/^Cannot reach the Ablo engine at http:\/\/127\.0\.0\.1:\d+ — is it running \(npx ablo dev\)\?/);
  });

  test('a server that is not an engine: not_an_engine (no JSON, or an error without the envelope)', async () => {
    const client = new EngineApiClient({ baseURL: otherUrl, apiKey: t.key });
    await expect(client.get('tasks', 't1')).rejects.toMatchObject({ type: 'connection_error', code: 'not_an_engine', details: { reason: 'not_json', status: 404 } });
    await expect(client.schema()).rejects.toMatchObject({ code: 'not_an_engine', details: { reason: 'no_envelope', status: 502 } });
  });

  test('an answer of the wrong shape: bad_response naming the field', async () => {
    const err = await new EngineApiClient({ baseURL: otherUrl }).health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbloConnectionError);
    expect(err).toMatchObject({ code: 'bad_response' });
    expect((err as Error).message).toMatch(/GET \/v1\/health .*at "ok"/);
  });

  test('an aborted request: cancelled', async () => {
    const abort = new AbortController();
    // The row is held, so the claim waits its turn until aborted.
    const grant = await api.claim('tasks', 't2', { leaseSeconds: 60 });
    const waiting = api.claim('tasks', 't2', { waitSeconds: 30 }, { signal: abort.signal });
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ type: 'connection_error', code: 'cancelled' });
    await api.release(grant.id);
  });
});
