/**
 * The SDK and session tokens, on a real engine: a server-side client (secret
 * key) mints a token with `ablo.sessions.create`; a client made with
 * `Ablo({ sessionToken })` syncs only the token's groups and writes as the
 * token's participant.
 */
import { expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { AbloPermissionError } from '../../src/errors.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

const { engines, clients } = trackedEngines();

test('ablo.sessions.create mints a token; Ablo({ sessionToken }) sees its groups only and writes as its participant', async () => {
  const t = await startTestEngine(schema);
  engines.push(t);
  const server = Ablo({ schema, apiKey: t.key, baseURL: t.url, syncGroups: ['user:ana', 'user:bo'] });
  clients.push(server);
  await server.ready();
  await server.notes.create({ id: 'ana1', data: { title: 'A1', owner: 'ana' } });
  await server.notes.create({ id: 'bo1', data: { title: 'B1', owner: 'bo' } });

  const session = await server.sessions.create({ participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read', 'write'], ttlSeconds: 600 });
  expect(session).toMatchObject({ object: 'session', token: expect.stringMatching(/^ek_/), sessionId: expect.stringMatching(/^ses_/) });

  const browser = Ablo({ schema, sessionToken: session.token, baseURL: t.url, syncGroups: ['user:ana'] });
  clients.push(browser);
  await browser.ready();
  expect(browser.notes.getAll().map((n) => n.id)).toEqual(['ana1']);
  await browser.notes.create({ id: 'ana2', data: { title: 'A2', owner: 'ana' } });
  const changes = (await t.http('GET', '/v1/changes?after=0&limit=100')).body.data;
  expect(changes.find((c: any) => c.id === 'ana2').participant).toEqual({ kind: 'user', id: 'ana' });

  // A session cannot mint another.
  await expect(browser.sessions.create({ participant: { kind: 'user', id: 'bo' }, syncGroups: ['user:bo'], operations: ['read'] })).rejects.toBeInstanceOf(AbloPermissionError);
  const revoked = await server.sessions.revoke(session.sessionId);
  expect(revoked).toMatchObject({ sessionId: session.sessionId, revoked: true });
});
