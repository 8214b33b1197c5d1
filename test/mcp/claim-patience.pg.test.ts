/**
 * Claims that keep their place with the engine on Postgres, across two engine
 * processes of one database (two engines in this Node process): agent one on
 * engine A's `/mcp`, agent two on engine B's, both wait past the patience
 * (1 s) behind a holder, get tickets, resume them — and the line stays
 * first-come, first-served: one is granted first, two after one releases.
 */
import { afterEach, expect, test } from 'vitest';
import { mcpRoutes } from '../../mcp/route.js';
import { createEngine, generateApiKey, type Engine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { api, httpSession, structured, type McpSession } from './helpers.js';

const schema = defineSchema({ jobs: model({ title: z.string() }) });

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function engineOn(url: string, key: string): Promise<Engine> {
  const engine = await createEngine({ databaseUrl: url, port: 0, schema, devKey: key, log: () => {}, routes: [mcpRoutes({ server: { claimPatienceSeconds: 1 } })] });
  cleanups.push(() => engine.close());
  return engine;
}

async function agent(engine: Engine, key: string, id: string): Promise<McpSession> {
  const s = await httpSession(engine.url, key, { 'ablo-participant': `agent:${id}` });
  cleanups.push(() => s.close());
  return s;
}

async function claimUntilGranted(s: McpSession, ticket: string): Promise<any> {
  for (;;) {
    const out = structured(await s.call('jobs_claim', { id: 'j1', ticket }));
    if (out.status === 'granted') return out;
    expect(out).toMatchObject({ status: 'waiting', ticket });
  }
}

test('two agents on two engine processes keep their FIFO places across calls with tickets', async () => {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const key = generateApiKey('test');
  const a = await engineOn(db.url, key);
  const b = await engineOn(db.url, key);
  expect((await api(a.url, key, 'POST', '/v1/models/jobs', { id: 'j1', data: { title: 'one' } })).status).toBe(201);
  const holder = await api(a.url, key, 'POST', '/v1/models/jobs/j1/claim', { leaseSeconds: 600 }, { 'ablo-participant': 'agent:holder' });
  expect(holder.status).toBe(200);

  const one = await agent(a, key, 'one');
  const two = await agent(b, key, 'two');
  const w1 = structured(await one.call('jobs_claim', { id: 'j1' }));
  expect(w1).toMatchObject({ status: 'waiting', position: 1, holder: { kind: 'agent', id: 'holder' } });
  const w2 = structured(await two.call('jobs_claim', { id: 'j1' }));
  expect(w2).toMatchObject({ status: 'waiting', position: 2 });
  const line = async () => (await api(b.url, key, 'GET', '/v1/models/jobs/j1/claim')).body.queue.map((q: any) => q.participant.id);
  expect(await line()).toEqual(['one', 'two']);
  // _get through engine B shows the holder and the line as the database has them.
  expect(structured(await two.call('jobs_get', { id: 'j1' }))).toMatchObject({
    claim: { holder: { kind: 'agent', id: 'holder' } },
    queue: [{ participant: { id: 'one' }, position: 1 }, { participant: { id: 'two' }, position: 2 }],
  });

  let twoGranted = false;
  const g1 = claimUntilGranted(one, w1.ticket);
  const g2 = claimUntilGranted(two, w2.ticket).then((out) => {
    twoGranted = true;
    return out;
  });
  expect((await api(a.url, key, 'DELETE', `/v1/claims/${holder.body.id}`)).status).toBe(200);
  const granted1 = await g1;
  expect(granted1).toMatchObject({ status: 'granted', claim: { holder: { kind: 'agent', id: 'one' } } });
  expect(twoGranted).toBe(false);
  expect(await line()).toEqual(['two']);

  expect(structured(await one.call('jobs_release', { id: 'j1' }))).toMatchObject({ released: true });
  expect(await g2).toMatchObject({ status: 'granted', claim: { holder: { kind: 'agent', id: 'two' } } });
});
