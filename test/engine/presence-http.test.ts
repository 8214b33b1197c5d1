/**
 * `GET /v1/presence?group=<group>` on a real engine: the members a socket set
 * (what the `presence` frames show), an empty group, a bad group named as a
 * 400, a group outside a scoped credential's 403 (the hello's group check),
 * and the `read` operation it needs.
 */
import { expect, test } from 'vitest';
import { presenceMembersSchema } from '../../src/protocol/presence.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), board: z.string() }, {}, { syncGroupFormat: 'board:{board}' }),
});

const { engines } = trackedEngines();

async function start(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  engines.push(t);
  return t;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('lists the members of one group as the sockets set them; an empty group has none', async () => {
  const t = await start();
  const s = await t.socket();
  await s.hello({ apiKey: t.key, participant: { kind: 'user', id: 'ana' }, groups: ['board:1'] });
  s.send({ type: 'presence_set', group: 'board:1', state: { focus: 'task_12' } });
  await s.next((f) => f.type === 'presence' && f.event === 'join');

  const res = await t.http('GET', '/v1/presence?group=board:1');
  expect(res.status).toBe(200);
  expect(presenceMembersSchema.parse(res.body)).toEqual({
    object: 'presence',
    group: 'board:1',
    members: [{ key: 'user:ana', participant: { kind: 'user', id: 'ana' }, state: { focus: 'task_12' }, status: 'online', updatedAt: expect.any(String) }],
  });
  expect((await t.http('GET', '/v1/presence?group=board:2')).body).toEqual({ object: 'presence', group: 'board:2', members: [] });
  s.close();
});

test('a missing, repeated, over-long or pattern group is a 400 naming group', async () => {
  const t = await start();
  for (const query of ['', '?group=', '?group=a&group=b', `?group=${'g'.repeat(201)}`, '?group=board:*', '?group=*']) {
    const res = await t.http('GET', `/v1/presence${query}`);
    expect(res.status, query).toBe(400);
    expect(res.body.error, query).toMatchObject({ type: 'validation_error', code: 'invalid_query', field: 'group' });
  }
});

test('a scoped session token lists only groups it may use, and needs read', async () => {
  const t = await start();
  const reader = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['board:1'], operations: ['read'] });
  expect(reader.status).toBe(201);
  expect((await t.http('GET', '/v1/presence?group=board:1', undefined, bearer(reader.body.token))).status).toBe(200);
  const other = await t.http('GET', '/v1/presence?group=board:2', undefined, bearer(reader.body.token));
  expect(other.status).toBe(403);
  expect(other.body.error).toMatchObject({ type: 'permission_error', code: 'group_not_allowed', groups: ['board:2'] });

  const presenceOnly = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'bo' }, syncGroups: ['board:1'], operations: ['presence'] });
  expect(presenceOnly.status).toBe(201);
  const refused = await t.http('GET', '/v1/presence?group=board:1', undefined, bearer(presenceOnly.body.token));
  expect(refused.status).toBe(403);
  expect(refused.body.error).toMatchObject({ code: 'operation_not_allowed', operation: 'read' });
});
