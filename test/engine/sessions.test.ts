/**
 * Session tokens `ek_…` on a real engine (port 0, SQLite in a temp dir, real
 * sockets): minted by a secret key, scoped to their groups and operations by
 * the guard, acting as their own participant, refused when expired, tampered,
 * signed by another engine or revoked, on HTTP and on the WebSocket hello.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { SessionAuthenticator } from '../../src/engine/auth/sessions.js';
import { OPERATIONS } from '../../src/engine/auth/principal.js';
import { ApiKeyAuthenticator } from '../../src/engine/apiKeys.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';
import { TestAuthenticator } from '../helpers/principals.js';
import { tamper } from '../helpers/tokens.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

const engines: TestEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function start(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  engines.push(t);
  const seeded = await t.http('POST', '/v1/commits', {
    operations: [
      { op: 'create', model: 'notes', id: 'ana1', data: { title: 'A1', owner: 'ana' } },
      { op: 'create', model: 'notes', id: 'bo1', data: { title: 'B1', owner: 'bo' } },
      { op: 'create', model: 'notes', id: 'ana2', data: { title: 'A2', owner: 'ana' } },
    ],
  });
  expect(seeded.status).toBe(200);
  return t;
}

async function mint(t: TestEngine, body: Record<string, unknown> = {}): Promise<{ token: string; sessionId: string; expiresAt: string }> {
  const res = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read', 'write'], ...body });
  expect(res.status).toBe(201);
  return res.body;
}

/** A hello refused with an error frame and close 4001 (4007 for an expired token: refresh and reconnect); answers the error. */
async function refusedHello(s: TestSocket, hello: Record<string, unknown>): Promise<any> {
  s.send({ type: 'hello', ...hello });
  const err = await s.next((f) => f.type === 'error' || f.type === 'welcome');
  expect(err.type).toBe('error');
  expect((await s.waitClose()).code).toBe(err.error.code === 'token_expired' ? 4007 : 4001);
  return err.error;
}


describe('POST /v1/sessions', () => {
  test('a secret key mints a token (default TTL 900 s); bad bodies and TTLs out of range are validation errors', async () => {
    const t = await start();
    const before = Date.now();
    const s = await mint(t);
    expect(s).toMatchObject({ object: 'session', sessionId: expect.stringMatching(/^ses_/), token: expect.stringMatching(/^ek_/) });
    const ttl = (Date.parse(s.expiresAt) - before) / 1000;
    expect(ttl).toBeGreaterThan(898);
    expect(ttl).toBeLessThanOrEqual(901);

    const base = { participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read'] };
    for (const body of [
      { ...base, ttlSeconds: 24 * 3600 + 1 },
      { ...base, ttlSeconds: 0 },
      { ...base, operations: ['admin'] },
      { ...base, participant: { kind: 'system', id: 'x' } },
      { ...base, extra: true },
      { participant: base.participant, operations: ['read'] },
    ]) {
      const res = await t.http('POST', '/v1/sessions', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.type).toBe('validation_error');
    }
  });

  test('a scoped credential cannot mint or revoke (403 operation_not_allowed): not a session, not a scoped principal', async () => {
    const t = await start();
    const s = await mint(t, { operations: ['read', 'write', 'claim'] });
    const byToken = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'x' }, syncGroups: ['user:*'], operations: ['read'] }, bearer(s.token));
    expect(byToken.status).toBe(403);
    expect(byToken.body.error).toMatchObject({ type: 'permission_error', code: 'operation_not_allowed' });
    const revoke = await t.http('DELETE', `/v1/sessions/${s.sessionId}`, undefined, bearer(s.token));
    expect(revoke.status).toBe(403);
  });

  test('GET /v1/me tells each credential what it is: `write` stands for create, update and delete', async () => {
    const t = await start();
    const s = await mint(t, { operations: ['read', 'write', 'claim'] });
    const me = await t.http('GET', '/v1/me', undefined, bearer(s.token));
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      object: 'principal',
      kind: 'session',
      credentialId: s.sessionId,
      participant: { kind: 'user', id: 'ana' },
      groups: ['user:ana'],
      operations: ['read', 'create', 'update', 'delete', 'claim'],
      expiresAt: s.expiresAt,
    });
    const secret = await t.http('GET', '/v1/me');
    expect(secret.body).toMatchObject({ object: 'principal', kind: 'secret', groups: 'all', expiresAt: null });
    expect(secret.body.operations).toContain('sessions');
    expect((await t.http('GET', '/v1/me', undefined, bearer('sk_test_nope'))).status).toBe(401);

    // A session given only create may create but not update or delete, on every path.
    const creator = await mint(t, { operations: ['read', 'create'] });
    const created = await t.http('POST', '/v1/models/notes', { data: { title: 'mine', owner: 'ana' } }, bearer(creator.token));
    expect(created.status).toBe(201);
    const upd = await t.http('POST', '/v1/commits', { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }] }, bearer(creator.token));
    expect(upd.status).toBe(403);
    expect(upd.body.error).toMatchObject({ code: 'operation_not_allowed', operation: 'update' });
    const del = await t.http('DELETE', '/v1/models/notes/ana1', undefined, bearer(creator.token));
    expect(del.body.error).toMatchObject({ code: 'operation_not_allowed', operation: 'delete' });
    expect((await t.http('GET', '/v1/models/notes/ana1')).body.title).toBe('A1');
  });
});

describe('a session for user:ana', () => {
  test('reads its rows; rows of user:bo are 404, lists are filtered, bootstrap has only its rows, user:bo is refused at hello', async () => {
    const t = await start();
    const { token } = await mint(t);
    expect((await t.http('GET', '/v1/models/notes/ana1', undefined, bearer(token))).body.title).toBe('A1');
    const bo = await t.http('GET', '/v1/models/notes/bo1', undefined, bearer(token));
    expect(bo.status).toBe(404);
    expect(bo.body.error.code).toBe('row_not_found');
    const list = await t.http('GET', '/v1/models/notes', undefined, bearer(token));
    expect(list.body.data.map((r: any) => r.id).sort()).toEqual(['ana1', 'ana2']);

    const s = await t.socket();
    const { welcome, frames } = await s.hello({ apiKey: token, groups: ['user:ana'] });
    expect(welcome.participant).toEqual({ kind: 'user', id: 'ana' });
    expect(frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows.map((r: any) => r.id)).sort()).toEqual(['ana1', 'ana2']);
    expect(await refusedHello(await t.socket(), { apiKey: token, groups: ['user:bo'] })).toMatchObject({ code: 'group_not_allowed' });
  });

  test("writes are the token's participant's; naming another participant is refused (participant_not_allowed), nothing written", async () => {
    const t = await start();
    const { token } = await mint(t);
    const ok = await t.http('POST', '/v1/commits', { operations: [{ op: 'create', model: 'notes', id: 'ana3', data: { title: 'A3', owner: 'ana' } }] }, bearer(token));
    expect(ok.status).toBe(200);
    const claimed = await t.http(
      'POST',
      '/v1/commits',
      { operations: [{ op: 'create', model: 'notes', id: 'ana4', data: { title: 'A4', owner: 'ana' } }] },
      { ...bearer(token), 'ablo-participant': 'user:bo' },
    );
    expect(claimed.status).toBe(403);
    expect(claimed.body.error.code).toBe('participant_not_allowed');
    expect((await t.http('GET', '/v1/models/notes/ana4')).status).toBe(404);
    expect(await refusedHello(await t.socket(), { apiKey: token, groups: ['user:ana'], participant: { kind: 'user', id: 'bo' } })).toMatchObject({
      code: 'participant_not_allowed',
    });
    const changes = await t.http('GET', '/v1/changes?after=0&limit=100');
    const created = changes.body.data.find((c: any) => c.id === 'ana3');
    expect(created.participant).toEqual({ kind: 'user', id: 'ana' });
    // A row moved into someone else's group is refused (the guard keeps writes inside the groups).
    const moved = await t.http('POST', '/v1/commits', { operations: [{ op: 'update', model: 'notes', id: 'ana3', data: { owner: 'bo' } }] }, bearer(token));
    expect(moved.status).toBe(403);
    expect(moved.body.error).toMatchObject({ type: 'permission_error', code: 'group_not_allowed', groups: ['user:bo'] });
  });
});

describe('refused tokens', () => {
  test('expired → 401 token_expired; tampered, another engine\'s, garbage → 401 unauthorized; on HTTP and the WebSocket hello', async () => {
    const t = await start();
    const other = await startTestEngine(schema);
    engines.push(other);
    const short = await mint(t, { ttlSeconds: 1 });
    const good = await mint(t);
    const foreign = await mint(other);
    const cases: Array<[string, string]> = [
      [tamper(good.token), 'unauthorized'],
      [foreign.token, 'unauthorized'],
      ['ek_notatoken', 'unauthorized'],
      [`${good.token.slice(0, -2)}AA`, 'unauthorized'],
    ];
    await new Promise((r) => setTimeout(r, Date.parse(short.expiresAt) - Date.now() + 50));
    cases.push([short.token, 'token_expired']);
    for (const [token, code] of cases) {
      const res = await t.http('GET', '/v1/models/notes/ana1', undefined, bearer(token));
      expect(res.status, code).toBe(401);
      expect(res.body.error).toMatchObject({ type: 'authentication_error', code });
      expect(await refusedHello(await t.socket(), { apiKey: token, groups: ['user:ana'] })).toMatchObject({ type: 'authentication_error', code });
    }
    // The good one still works.
    expect((await t.http('GET', '/v1/models/notes/ana1', undefined, bearer(good.token))).status).toBe(200);
  });

  test('a token that expires on an open socket ends it at its next frame (token_expired, close 4007, not 4001)', async () => {
    const t = await start();
    const short = await mint(t, { ttlSeconds: 2 });
    const s = await t.socket();
    await s.hello({ apiKey: short.token, groups: ['user:ana'] });
    await new Promise((r) => setTimeout(r, Date.parse(short.expiresAt) - Date.now() + 50));
    s.send({ type: 'claim_state', model: 'notes', id: 'ana1', ref: 'late' });
    const err = await s.next((f) => f.ref === 'late' || f.type === 'error');
    expect(err).toMatchObject({ type: 'error', error: { type: 'authentication_error', code: 'token_expired' } });
    expect((await s.waitClose()).code).toBe(4007);
  });

  test('DELETE /v1/sessions/:id revokes: the open socket closes, HTTP and hello get 401 revoked_token; another authenticator on the same storage refuses it too', async () => {
    const t = await start();
    const s = await mint(t);
    const keep = await mint(t);
    const socket = await t.socket();
    await socket.hello({ apiKey: s.token, groups: ['user:ana'] });
    // A second process's view: its own authenticator over the same database.
    const elsewhere = new SessionAuthenticator(t.engine.storage, new ApiKeyAuthenticator(t.engine.storage));
    await elsewhere.open();
    expect((await elsewhere.authenticate(s.token)).participant).toEqual({ kind: 'user', id: 'ana' });

    const revoked = await t.http('DELETE', `/v1/sessions/${s.sessionId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ object: 'session', sessionId: s.sessionId, revoked: true });
    expect((await socket.waitClose()).code).toBe(4001);
    const http = await t.http('GET', '/v1/models/notes/ana1', undefined, bearer(s.token));
    expect(http.status).toBe(401);
    expect(http.body.error.code).toBe('revoked_token');
    expect(await refusedHello(await t.socket(), { apiKey: s.token, groups: ['user:ana'] })).toMatchObject({ code: 'revoked_token' });
    // The other process refuses it once its cache refreshes (at most 500 ms).
    await new Promise((r) => setTimeout(r, 600));
    await expect(elsewhere.authenticate(s.token)).rejects.toMatchObject({ code: 'revoked_token' });
    expect((await elsewhere.authenticate(keep.token)).credentialId).toBe(keep.sessionId);
    expect((await t.http('DELETE', '/v1/sessions/not-a-session')).body.error.code).toBe('session_not_found');
  });

  test('rotation: the newest key signs, tokens of the one before still verify, older ones are refused', async () => {
    const t = await start();
    const first = await mint(t);
    const auth = new SessionAuthenticator(t.engine.storage, new ApiKeyAuthenticator(t.engine.storage));
    await auth.open();
    expect(await auth.rotate()).toBe('0002');
    const second = auth.mint({ participant: { kind: 'agent', id: 'job' }, syncGroups: ['user:*'], operations: ['read'] });
    // The engine learns a new key id when a token names it (reading the keys at most every 500 ms).
    await new Promise((r) => setTimeout(r, 550));
    expect((await t.http('GET', '/v1/models/notes', undefined, bearer(second.token))).body.data).toHaveLength(3);
    expect((await t.http('GET', '/v1/models/notes/ana1', undefined, bearer(first.token))).status).toBe(200);
    await auth.rotate();
    expect((await auth.authenticate(second.token)).participant).toEqual({ kind: 'agent', id: 'job' });
    await expect(auth.authenticate(first.token)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  test('an engine with its own authenticator does not accept or mint session tokens', async () => {
    const auth = new TestAuthenticator();
    const t = await startTestEngine(schema, { authenticator: auth });
    engines.push(t);
    auth.add('tok_admin', { participant: { kind: 'system', id: 'admin' }, groups: 'all', operations: OPERATIONS });
    const res = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'a' }, syncGroups: [], operations: ['read'] }, bearer('tok_admin'));
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ type: 'not_found', code: 'sessions_unavailable' });
  });
});
