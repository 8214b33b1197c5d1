/**
 * Retention on Postgres, across engine processes: two engines on one
 * database; a client of the first goes offline, the second writes and prunes
 * the log, and the client comes back to the first with a full, correct copy.
 * The first engine learns the floor from the database (it pruned nothing).
 */
import { afterEach, expect, test } from 'vitest';
import Ablo, { type AbloClient } from '../../src/index.js';
import { createEngine, type Engine } from '../../src/engine/index.js';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { relay } from '../helpers/relay.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({ projects: model({ name: z.string().min(1), stars: z.number().int().default(0) }) });

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function client(url: string, apiKey: string): AbloClient<typeof schema> {
  const c = Ablo({ schema, apiKey, baseURL: url, reconnect: { baseMs: 20, maxMs: 100 } });
  cleanups.push(() => c.dispose());
  return c;
}

test('a client offline past the floor another engine process pruned to comes back with a full, correct copy', async () => {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const apiKey = generateApiKey('test');
  const engines: Engine[] = [];
  for (let i = 0; i < 2; i++) {
    const e = await createEngine({ databaseUrl: db.url, port: 0, schema, devKey: apiKey, retention: { changeLogMs: 1, intervalMs: 3_600_000 }, log: () => {} });
    cleanups.push(() => e.close());
    engines.push(e);
  }
  const [first, second] = engines as [Engine, Engine];
  const r = await relay(first.port);
  cleanups.push(r.cut);
  const away = client(r.url, apiKey);
  const writer = client(second.url, apiKey);
  await Promise.all([away.ready(), writer.ready()]);
  for (let i = 1; i <= 5; i++) await writer.projects.create({ id: `p${i}`, data: { name: `project ${i}` } });
  await until(away, () => away.projects.getCount() === 5);
  const seenAt = away.lastSyncId;

  await r.cut();
  await until(away, () => away.status !== 'live');
  await writer.projects.update({ id: 'p1', data: { name: 'renamed', stars: 3 } });
  await writer.projects.delete({ id: 'p2' });
  await writer.projects.create({ id: 'p6', data: { name: 'six' } });
  await writer.projects.delete({ id: 'p3' });
  const mine = away.projects.create({ id: 'mine', data: { name: 'made offline' } });
  await new Promise((res) => setTimeout(res, 5));
  const pruned = await second.prune();
  expect(pruned.changes).toBeGreaterThan(0);
  expect(pruned.floor).toBeGreaterThan(seenAt + 1);
  // The other process reads the floor from the database.
  expect(await first.storage.changeLogFloor()).toBe(pruned.floor);

  await r.restore();
  await mine;
  const server = await first.storage.scanRows('projects', null, 10_000);
  await until(away, () => away.lastSyncId >= second.lastSyncId() && away.projects.getCount() === server.length, 10_000);
  const local = [...away.projects.getAll()].sort((a, b) => a.id.localeCompare(b.id));
  expect(local).toEqual(await first.storage.scanRows('projects', null, 10_000));
  expect(local.map((p) => p.id)).toEqual(['mine', 'p1', 'p4', 'p5', 'p6']);
  expect((await first.storage.changesAfter(0, 1000)).filter((c) => c.id === 'mine')).toHaveLength(1);
}, 60_000);
