/**
 * Audit on a real engine (port 0, SQLite in a temp dir, real sockets): every
 * change records the credential that committed it and its own participant
 * (`participant`, "written by"); a secret key that names another participant
 * (`Ablo-Participant`, `hello.participant`) writes on its behalf
 * (`onBehalfOf`), and claims it takes are that participant's. A session
 * token writes as its participant, with its `ses_…` id. `GET /v1/changes`
 * filters by participant, model and row id, within a scoped credential's
 * groups.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { EngineApiClient } from '../../src/client/engineApi.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
  tags: model({ name: z.string() }),
});

const engines: TestEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const ANA = { kind: 'user', id: 'ana' };

async function start(): Promise<{ t: TestEngine; keyId: string }> {
  const t = await startTestEngine(schema);
  engines.push(t);
  const keys = await t.http('GET', '/v1/keys');
  expect(keys.status).toBe(200);
  return { t, keyId: keys.body.data[0].id };
}

async function mint(t: TestEngine, participant: { kind: string; id: string }, syncGroups: string[]): Promise<{ token: string; sessionId: string }> {
  const res = await t.http('POST', '/v1/sessions', { participant, syncGroups, operations: ['read', 'write'] });
  expect(res.status).toBe(201);
  return res.body;
}

describe('who wrote a change', () => {
  test('a secret key naming user:ana writes on her behalf: the change is written by the key, for ana, over HTTP and in a socket’s changes frame', async () => {
    const { t, keyId } = await start();
    const key = { kind: 'system', id: keyId };
    const watcher = await t.socket();
    await watcher.hello({ apiKey: t.key, groups: ['user:ana'] });

    const created = await t.http('POST', '/v1/models/notes', { data: { title: 'hello', owner: 'ana' } }, { 'ablo-participant': 'user:ana' });
    expect(created.status).toBe(201);
    const frame = await watcher.next('changes');
    expect(frame.changes).toHaveLength(1);
    expect(frame.changes[0]).toMatchObject({ model: 'notes', id: created.body.id, action: 'create', participant: key, onBehalfOf: ANA });
    // The credential is in the change log, not in sync frames.
    expect(frame.changes[0]).not.toHaveProperty('credentialId');

    const log = await t.http('GET', '/v1/changes');
    expect(log.status).toBe(200);
    expect(log.body.data).toEqual([expect.objectContaining({ syncId: created.body.syncId, participant: key, onBehalfOf: ANA, credentialId: keyId })]);

    // Naming itself, or nobody: no onBehalfOf.
    await t.http('PATCH', `/v1/models/notes/${created.body.id}`, { data: { title: 'own' } });
    await t.http('PATCH', `/v1/models/notes/${created.body.id}`, { data: { title: 'self' } }, { 'ablo-participant': `system:${keyId}` });
    const after = await t.http('GET', `/v1/changes?after=${created.body.syncId}`);
    expect(after.body.data).toHaveLength(2);
    for (const c of after.body.data) {
      expect(c).toMatchObject({ participant: key, credentialId: keyId });
      expect(c).not.toHaveProperty('onBehalfOf');
    }
  });

  test('hello.participant: a key’s socket commits on behalf of the participant it named; the welcome names that participant', async () => {
    const { t, keyId } = await start();
    const s = await t.socket();
    const { welcome } = await s.hello({ apiKey: t.key, groups: ['user:ana'], participant: { kind: 'agent', id: 'bot' } });
    expect(welcome.participant).toEqual({ kind: 'agent', id: 'bot' });
    s.send({ type: 'commit', ref: 'c1', commit: { operations: [{ op: 'create', model: 'notes', id: 'n1', data: { title: 'x', owner: 'ana' } }] } });
    expect((await s.next('receipt')).receipt.status).toBe('committed');
    const log = await t.http('GET', '/v1/changes');
    expect(log.body.data[0]).toMatchObject({ participant: { kind: 'system', id: keyId }, onBehalfOf: { kind: 'agent', id: 'bot' }, credentialId: keyId });
  });

  test('a session token’s writes carry its ses_ id and its participant, and no onBehalfOf', async () => {
    const { t } = await start();
    const session = await mint(t, ANA, ['user:ana']);
    const s = await t.socket();
    await s.hello({ apiKey: session.token, groups: ['user:ana'] });
    s.send({ type: 'commit', ref: 'c1', commit: { operations: [{ op: 'create', model: 'notes', id: 'n1', data: { title: 'x', owner: 'ana' } }] } });
    expect((await s.next('receipt')).receipt.status).toBe('committed');
    const created = await t.http('POST', '/v1/models/notes', { data: { title: 'y', owner: 'ana' } }, bearer(session.token));
    expect(created.status).toBe(201);
    const log = await t.http('GET', '/v1/changes');
    expect(log.body.data).toHaveLength(2);
    for (const c of log.body.data) {
      expect(c).toMatchObject({ participant: ANA, credentialId: session.sessionId });
      expect(c).not.toHaveProperty('onBehalfOf');
    }
    expect(session.sessionId).toMatch(/^ses_/);
  });

  test('a claim taken while naming user:ana is held by ana; a stale write names the key and ana', async () => {
    const { t, keyId } = await start();
    const created = await t.http('POST', '/v1/models/notes', { data: { title: 'a', owner: 'ana' } });
    const claim = await t.http('POST', `/v1/models/notes/${created.body.id}/claim`, { action: 'editing' }, { 'ablo-participant': 'user:ana' });
    expect(claim.status).toBe(200);
    expect(claim.body.holder).toEqual(ANA);
    const write = await t.http('PATCH', `/v1/models/notes/${created.body.id}`, { data: { title: 'b' } }, { 'ablo-participant': 'user:ana', 'ablo-claim': claim.body.id });
    expect(write.status).toBe(200);
    // Someone who read before that write is stale, and told who moved the row.
    const stale = await t.http('PATCH', `/v1/models/notes/${created.body.id}`, { data: { title: 'c' }, readAt: created.body.syncId }, { 'ablo-claim': claim.body.id });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ type: 'stale_context', writtenBy: { kind: 'system', id: keyId }, onBehalfOf: ANA });
    expect(stale.body.error.message).toContain(`by system ${keyId} on behalf of user ana`);
  });
});

describe('GET /v1/changes filters', () => {
  test('participant (written by or on behalf of), model and id, combined with after and limit', async () => {
    const { t, keyId } = await start();
    const bo = await mint(t, { kind: 'user', id: 'bo' }, ['user:*']);
    const n1 = await t.http('POST', '/v1/models/notes', { data: { title: '1', owner: 'ana' } }, { 'ablo-participant': 'user:ana' });
    const n2 = await t.http('POST', '/v1/models/notes', { data: { title: '2', owner: 'bo' } }, bearer(bo.token));
    await t.http('POST', '/v1/models/tags', { data: { name: 'x' } });
    await t.http('PATCH', `/v1/models/notes/${n1.body.id}`, { data: { title: '1b' } }, bearer(bo.token));
    await t.http('PATCH', `/v1/models/notes/${n1.body.id}`, { data: { title: '1c' } }, { 'ablo-participant': 'user:ana' });

    const ids = async (query: string): Promise<number[]> => {
      const res = await t.http('GET', `/v1/changes?${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.data.map((c: { syncId: number }) => c.syncId);
    };
    expect(await ids('participant=user:ana')).toEqual([1, 5]);
    expect(await ids('participant=user:bo')).toEqual([2, 4]);
    expect(await ids(`participant=system:${keyId}`)).toEqual([1, 3, 5]);
    expect(await ids('model=tags')).toEqual([3]);
    expect(await ids(`id=${n1.body.id}`)).toEqual([1, 4, 5]);
    expect(await ids(`model=notes&id=${n2.body.id}`)).toEqual([2]);
    expect(await ids(`participant=user:bo&model=notes&id=${n1.body.id}`)).toEqual([4]);
    expect(await ids('participant=user:ana&after=1')).toEqual([5]);
    const first = await t.http('GET', '/v1/changes?model=notes&limit=2');
    expect(first.body).toMatchObject({ hasMore: true, lastSyncId: 5 });
    expect(first.body.data.map((c: { syncId: number }) => c.syncId)).toEqual([1, 2]);
    const rest = await t.http('GET', '/v1/changes?model=notes&limit=2&after=2');
    expect(rest.body.hasMore).toBe(false);
    expect(rest.body.data.map((c: { syncId: number }) => c.syncId)).toEqual([4, 5]);
    // The engine API client (SDK, CLI, MCP) sends the same filters.
    const api = new EngineApiClient({ baseURL: t.url, apiKey: t.key });
    const page = await api.changes({ participant: { kind: 'user', id: 'ana' }, model: 'notes', id: n1.body.id, limit: 1 });
    expect(page.data).toEqual([expect.objectContaining({ syncId: 1, onBehalfOf: ANA, credentialId: keyId })]);
    expect(page.hasMore).toBe(true);
    expect((await api.changes({ participant: 'user:bo', after: 2 })).data.map((c) => c.syncId)).toEqual([4]);
  });

  test('a scoped credential’s filtered log holds only changes of its groups', async () => {
    const { t } = await start();
    await t.http('POST', '/v1/models/notes', { data: { title: '1', owner: 'ana' } }, { 'ablo-participant': 'user:bo' });
    await t.http('POST', '/v1/models/notes', { data: { title: '2', owner: 'bo' } }, { 'ablo-participant': 'user:bo' });
    await t.http('POST', '/v1/models/notes', { data: { title: '3', owner: 'ana' } }, { 'ablo-participant': 'user:bo' });
    const ana = await mint(t, ANA, ['user:ana']);
    const res = await t.http('GET', '/v1/changes?participant=user:bo&model=notes&limit=1', undefined, bearer(ana.token));
    expect(res.status).toBe(200);
    expect(res.body.data.map((c: { syncId: number }) => c.syncId)).toEqual([1]);
    expect(res.body.hasMore).toBe(true);
    const next = await t.http('GET', '/v1/changes?participant=user:bo&model=notes&limit=1&after=1', undefined, bearer(ana.token));
    expect(next.body.data.map((c: { syncId: number }) => c.syncId)).toEqual([3]);
    expect(next.body.hasMore).toBe(false);
  });

  test('bad filter values are 400 invalid_query naming the field', async () => {
    const { t } = await start();
    for (const [query, field] of [
      ['participant=ana', 'participant'],
      ['participant=robot:x', 'participant'],
      ['participant=user:', 'participant'],
      ['model=1notes', 'model'],
      ['model=no%20tes', 'model'],
      ['id=a%20b', 'id'],
      [`id=${'x'.repeat(200)}`, 'id'],
    ] as const) {
      const res = await t.http('GET', `/v1/changes?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error, query).toMatchObject({ type: 'validation_error', code: 'invalid_query', field });
    }
  });
});
