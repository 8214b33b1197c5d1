/**
 * The `auth` frame (docs/sync-protocol: replace a socket's credential without
 * reconnecting) on a real engine: a refreshed token for the same participant
 * is taken (`auth_ok`, the new expiry governs the socket), one for another
 * participant is refused (`participant_mismatch`, the socket keeps its
 * credential), one that no longer covers the socket's groups closes it 4008
 * (`scope_narrowed`), a bad token is refused and changes nothing; a token that
 * expires without one closes the socket 4007 `token_expired`.
 */
import { describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

const { engines } = trackedEngines();

async function start(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  engines.push(t);
  return t;
}

async function mint(t: TestEngine, body: Record<string, unknown> = {}): Promise<{ token: string; sessionId: string; expiresAt: string }> {
  const res = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read', 'write'], ...body });
  expect(res.status).toBe(201);
  return res.body;
}

const create = (id: string, ref: string) => ({
  type: 'commit',
  ref,
  commit: { operations: [{ op: 'create', model: 'notes', id, data: { title: id, owner: 'ana' } }] },
});

describe('auth frame', () => {
  test('a refreshed token for the same participant is taken: auth_ok with its expiry, and the socket outlives the old token', async () => {
    const t = await start();
    // Expiry is whole seconds: a 2 s token has 1 to 2 s left, enough for the hello on a busy machine.
    const old = await mint(t, { ttlSeconds: 2 });
    const fresh = await mint(t, { ttlSeconds: 600 });
    const s = await t.socket();
    await s.hello({ apiKey: old.token, groups: ['user:ana'] });
    s.send({ type: 'auth', ref: 'a1', token: fresh.token });
    // A frame right after the auth frame is checked against the new credential (it waits for it).
    s.send(create('n1', 'c1'));
    expect(await s.next((f) => f.ref === 'a1')).toEqual({ type: 'auth_ok', ref: 'a1', expiresAt: fresh.expiresAt });
    expect((await s.next((f) => f.ref === 'c1')).type).toBe('receipt');
    // Past the old token's expiry, the socket still works: its expiry is the new token's.
    await new Promise((r) => setTimeout(r, Date.parse(old.expiresAt) - Date.now() + 100));
    s.send(create('n2', 'c2'));
    expect((await s.next((f) => f.ref === 'c2')).type).toBe('receipt');
    // The old session's revocation no longer concerns this socket; the new one's does.
    await t.http('DELETE', `/v1/sessions/${old.sessionId}`);
    s.send(create('n3', 'c3'));
    expect((await s.next((f) => f.ref === 'c3')).type).toBe('receipt');
    await t.http('DELETE', `/v1/sessions/${fresh.sessionId}`);
    expect((await s.waitClose()).code).toBe(4001);
  });

  test('another participant: 403 participant_mismatch, the socket keeps its credential', async () => {
    const t = await start();
    const ana = await mint(t);
    const bo = await mint(t, { participant: { kind: 'user', id: 'bo' } });
    const s = await t.socket();
    await s.hello({ apiKey: ana.token, groups: ['user:ana'] });
    s.send({ type: 'auth', ref: 'a1', token: bo.token });
    const err = await s.next((f) => f.ref === 'a1');
    expect(err).toMatchObject({ type: 'error', error: { type: 'permission_error', code: 'participant_mismatch' } });
    s.send(create('n1', 'c1'));
    expect((await s.next((f) => f.ref === 'c1')).type).toBe('receipt');
    const changes = (await t.http('GET', '/v1/changes?after=0&limit=10')).body.data;
    expect(changes.find((c: any) => c.id === 'n1').participant).toEqual({ kind: 'user', id: 'ana' });
  });

  test('a bad or expired token changes nothing; a token that no longer covers the groups closes 4008 scope_narrowed', async () => {
    const t = await start();
    const ana = await mint(t);
    const s = await t.socket();
    await s.hello({ apiKey: ana.token, groups: ['user:ana'] });
    s.send({ type: 'auth', ref: 'bad', token: 'ek_nope.nope' });
    expect(await s.next((f) => f.ref === 'bad')).toMatchObject({ type: 'error', error: { type: 'authentication_error', code: 'unauthorized' } });
    const short = await mint(t, { ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, Date.parse(short.expiresAt) - Date.now() + 50));
    s.send({ type: 'auth', ref: 'late', token: short.token });
    expect(await s.next((f) => f.ref === 'late')).toMatchObject({ type: 'error', error: { code: 'token_expired' } });
    s.send(create('n1', 'c1'));
    expect((await s.next((f) => f.ref === 'c1')).type).toBe('receipt');

    const narrow = await mint(t, { syncGroups: ['user:ana:private'] });
    s.send({ type: 'auth', ref: 'narrow', token: narrow.token });
    expect(await s.next((f) => f.ref === 'narrow')).toMatchObject({ type: 'error', error: { type: 'permission_error', code: 'scope_narrowed' } });
    expect((await s.waitClose()).code).toBe(4008);
  });

  test('an auth frame before the hello is a protocol error; a malformed one is a validation error', async () => {
    const t = await start();
    const ana = await mint(t);
    const s = await t.socket();
    await s.hello({ apiKey: ana.token, groups: ['user:ana'] });
    s.send({ type: 'auth', ref: 'x' });
    expect(await s.next((f) => f.ref === 'x')).toMatchObject({ type: 'error', error: { type: 'validation_error' } });
    const early = await t.socket();
    early.send({ type: 'auth', ref: 'e', token: ana.token });
    expect(await early.next((f) => f.type === 'error')).toMatchObject({ error: { code: 'hello_required' } });
    expect((await early.waitClose()).code).toBe(1002);
  });

  test('a token that expires without an auth frame closes the socket 4007 token_expired (distinct from 4001)', async () => {
    const t = await start();
    const short = await mint(t, { ttlSeconds: 2 });
    const s = await t.socket();
    await s.hello({ apiKey: short.token, groups: ['user:ana'] });
    await new Promise((r) => setTimeout(r, Date.parse(short.expiresAt) - Date.now() + 50));
    s.send(create('late', 'c1'));
    expect(await s.next((f) => f.ref === 'c1')).toMatchObject({ type: 'error', error: { code: 'token_expired' } });
    expect(await s.waitClose()).toMatchObject({ code: 4007 });
    expect((await t.http('GET', '/v1/models/notes/late')).status).toBe(404);
  });
});
