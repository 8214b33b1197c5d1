/**
 * Identity roles on a real engine: `POST /v1/sessions` (and the SDK's
 * `sessions.create`) without `syncGroups` gives the session every role of the
 * schema expanded for its participant; `@role` entries expand; unknown roles,
 * wildcard-making participant ids and a schema without roles are 400; a push
 * that changes only the roles is applied and used by the next mint.
 */
import { afterEach, describe, expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

const models = { notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }) };
const schema = defineSchema({ models, identityRoles: { self: 'user:{participantId}' } });

const engines: TestEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function start(s = schema): Promise<TestEngine> {
  const t = await startTestEngine(s);
  engines.push(t);
  const seeded = await t.http('POST', '/v1/commits', {
    operations: [
      { op: 'create', model: 'notes', id: 'ana1', data: { title: 'A1', owner: 'ana' } },
      { op: 'create', model: 'notes', id: 'bo1', data: { title: 'B1', owner: 'bo' } },
    ],
  });
  expect(seeded.status).toBe(200);
  return t;
}

describe('sessions and identity roles', () => {
  test('sessions.create without syncGroups gets the participant\'s roles: user:ana sees her rows only', async () => {
    const t = await start();
    const server = Ablo({ schema, apiKey: t.key, baseURL: t.url });
    try {
      const session = await server.sessions.create({ participant: { kind: 'user', id: 'ana' }, operations: ['read', 'write'] });
      const me = await t.http('GET', '/v1/me', undefined, bearer(session.token));
      expect(me.body).toMatchObject({ kind: 'session', participant: { kind: 'user', id: 'ana' }, groups: ['user:ana'] });
      expect((await t.http('GET', '/v1/models/notes', undefined, bearer(session.token))).body.data.map((r: any) => r.id)).toEqual(['ana1']);
    } finally {
      await server.dispose();
    }
  });

  test('@self in syncGroups expands for the participant, next to plain groups', async () => {
    const t = await start();
    const res = await t.http('POST', '/v1/sessions', { participant: { kind: 'agent', id: 'bo' }, syncGroups: ['@self', 'team:*'], operations: ['read'] });
    expect(res.status).toBe(201);
    expect((await t.http('GET', '/v1/me', undefined, bearer(res.body.token))).body.groups).toEqual(['user:bo', 'team:*']);
  });

  test('unknown role → 400 unknown_identity_role naming the known ones; an id with * → 400 invalid_participant; no roles and no groups → 400 sync_groups_required', async () => {
    const t = await start();
    const unknown = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['@admin'], operations: ['read'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ type: 'validation_error', code: 'unknown_identity_role', role: 'admin', known: ['self'] });
    expect(unknown.body.error.message).toContain('@self');
    for (const id of ['*', 'an*']) {
      const wild = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id }, operations: ['read'] });
      expect(wild.status, id).toBe(400);
      expect(wild.body.error.code).toBe('invalid_participant');
    }

    const plain = await start(defineSchema(models));
    const none = await plain.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, operations: ['read'] });
    expect(none.status).toBe(400);
    expect(none.body.error).toMatchObject({ type: 'validation_error', code: 'sync_groups_required' });
    expect(none.body.error.message).toContain('identityRoles');
  });

  test('a push that changes only the identity roles is applied (a safe change) and the next mint uses them', async () => {
    const t = await start(defineSchema(models));
    const next = defineSchema({ models, identityRoles: { self: 'user:{participantId}', mine: '{participantKind}:{participantId}:*' } });
    const pushed = await t.http('POST', '/v1/schema', { schema: next.serialized });
    expect(pushed.status).toBe(200);
    expect(pushed.body).toMatchObject({ applied: true, hash: next.serialized.hash });
    expect(pushed.body.plan.changes.map((c: any) => [c.kind, c.class])).toEqual([['change_identity_roles', 'safe']]);
    expect((await t.http('GET', '/v1/schema')).body.schema.identityRoles).toEqual(next.serialized.identityRoles);
    const res = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, operations: ['read'] });
    expect(res.status).toBe(201);
    expect((await t.http('GET', '/v1/me', undefined, bearer(res.body.token))).body.groups).toEqual(['user:ana:*', 'user:ana']);
  });
});
