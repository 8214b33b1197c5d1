/**
 * Session tokens across engine processes on one Postgres database: a token
 * minted by one process is accepted by another (they share the signing key
 * kept in the database), and a revocation made in one is refused by the
 * other within its 500 ms revocation cache.
 */
import { afterEach, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startCluster, type Cluster, callAs } from '../helpers/cluster.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});


test('minted on one process, accepted on the other; revoked on one, refused on the other within 500 ms', async () => {
  cluster = await startCluster(2, schema.serialized);
  const [a, b] = cluster.urls as [string, string];
  expect((await callAs(a, 'POST', '/v1/commits', cluster.key, { operations: [{ op: 'create', model: 'notes', id: 'n1', data: { title: 'N1', owner: 'ana' } }] })).status).toBe(200);
  const minted = await callAs(a, 'POST', '/v1/sessions', cluster.key, { participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read'] });
  expect(minted.status).toBe(201);
  const token: string = minted.body.token;
  expect((await callAs(b, 'GET', '/v1/models/notes/n1', token)).body.title).toBe('N1');

  expect((await callAs(a, 'DELETE', `/v1/sessions/${minted.body.sessionId}`, cluster.key)).status).toBe(200);
  expect((await callAs(a, 'GET', '/v1/models/notes/n1', token)).body.error.code).toBe('revoked_token');
  await new Promise((r) => setTimeout(r, 600));
  const refused = await callAs(b, 'GET', '/v1/models/notes/n1', token);
  expect(refused.status).toBe(401);
  expect(refused.body.error.code).toBe('revoked_token');
});
