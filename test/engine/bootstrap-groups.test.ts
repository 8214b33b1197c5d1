/**
 * Bootstrap and catch-up read only the sync groups a client asks for: a
 * hello for one group reads that group's rows (and its changes), never the
 * rest of the database. Counted with the engine's read counters.
 * Also: a database from before the group index (storage format 1) is
 * backfilled on start, and a push that changes `syncGroupFormat` re-derives
 * the groups of the stored rows.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { TestSocket } from '../helpers/engine.js';

const schema = defineSchema({
  cards: model({ title: z.string(), boardId: z.string(), ownerId: z.string().default('nobody') }, {}, { syncGroupFormat: 'board:{boardId}' }),
  notes: model({ body: z.string() }),
  // A row in two groups at once.
  pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
});

const dirs: string[] = [];
const engines: Engine[] = [];
const sockets: TestSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(engines.splice(0).map((e) => e.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-groups-'));
  dirs.push(dir);
  return join(dir, 'dev.db');
}

const KEY = 'sk_test_' + 'g'.repeat(32);

async function open(file: string, s: EngineOptions['schema'] = schema, extra: EngineOptions = {}): Promise<Engine> {
  const engine = await createEngine({ file, port: 0, schema: s, devKey: KEY, log: () => {}, ...extra });
  engines.push(engine);
  return engine;
}

async function close(engine: Engine): Promise<void> {
  engines.splice(engines.indexOf(engine), 1);
  await engine.close();
}

async function commit(engine: Engine, operations: unknown[]): Promise<void> {
  const res = await fetch(`${engine.url}/v1/commits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ operations }),
  });
  expect(res.status).toBe(200);
}

async function socket(engine: Engine): Promise<TestSocket> {
  const s = await TestSocket.open(engine.url.replace('http', 'ws') + '/v1/sync');
  sockets.push(s);
  return s;
}

/** 10 other boards × 300 cards, 200 notes, and `mine` cards on board "mine". */
async function seed(engine: Engine, mine = 7): Promise<void> {
  for (let b = 0; b < 10; b++) {
    await commit(
      engine,
      Array.from({ length: 300 }, (_, i) => ({ op: 'create', model: 'cards', id: `c${b}-${i}`, data: { title: `t${i}`, boardId: `b${b}`, ownerId: `u${i % 5}` } })),
    );
  }
  await commit(engine, Array.from({ length: 200 }, (_, i) => ({ op: 'create', model: 'notes', id: `n${i}`, data: { body: 'x' } })));
  await commit(engine, Array.from({ length: mine }, (_, i) => ({ op: 'create', model: 'cards', id: `m${i}`, data: { title: `mine ${i}`, boardId: 'mine' } })));
}

function bootRows(frames: any[]): Array<{ model: string; id: string }> {
  return frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows.map((r: any) => ({ model: f.model, id: r.id })));
}

describe('bootstrap reads only the requested groups', () => {
  test("a hello for one board reads that board's rows only", async () => {
    const engine = await open(tempFile());
    await seed(engine);
    const before = engine.stats().rowsRead;
    const s = await socket(engine);
    const { frames } = await s.hello({ apiKey: KEY, groups: ['board:mine'] });
    expect(bootRows(frames).map((r) => r.id).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    // 3,207 rows in the database; the hello read its 7.
    expect(engine.stats().rowsRead - before).toBe(7);

    // Several groups: each one's rows; 'default' holds the notes.
    const before2 = engine.stats().rowsRead;
    const s2 = await socket(engine);
    const two = await s2.hello({ apiKey: KEY, groups: ['board:b3', 'default'] });
    const rows = bootRows(two.frames);
    expect(rows.filter((r) => r.model === 'cards')).toHaveLength(300);
    expect(rows.filter((r) => r.model === 'notes')).toHaveLength(200);
    expect(engine.stats().rowsRead - before2).toBe(500);
  });

  test('a row in two requested groups is sent once', async () => {
    const engine = await open(tempFile());
    await commit(engine, [
      { op: 'create', model: 'pins', id: 'both', data: { boardId: 'x', ownerId: 'u' } },
      { op: 'create', model: 'pins', id: 'board-only', data: { boardId: 'x', ownerId: 'v' } },
      { op: 'create', model: 'pins', id: 'owner-only', data: { boardId: 'y', ownerId: 'u' } },
      { op: 'create', model: 'pins', id: 'neither', data: { boardId: 'y', ownerId: 'v' } },
    ]);
    const s = await socket(engine);
    const { frames } = await s.hello({ apiKey: KEY, groups: ['owner:u', 'board:x'] });
    expect(bootRows(frames).map((r) => r.id).sort()).toEqual(['board-only', 'both', 'owner-only']);
  });

  test("a catch-up reads only its groups' changes", async () => {
    const engine = await open(tempFile());
    await seed(engine);
    const watermark = engine.lastSyncId();
    // Missed while away: many changes elsewhere, three on its board (one moves a card out of it).
    for (let b = 0; b < 5; b++) {
      await commit(engine, Array.from({ length: 100 }, (_, i) => ({ op: 'update', model: 'cards', id: `c${b}-${i}`, data: { title: 'moved on' } })));
    }
    await commit(engine, [
      { op: 'update', model: 'cards', id: 'm0', data: { title: 'changed' } },
      { op: 'create', model: 'cards', id: 'm-new', data: { title: 'new', boardId: 'mine' } },
      { op: 'update', model: 'cards', id: 'm1', data: { boardId: 'b0' } },
    ]);
    const before = engine.stats().changesRead;
    const s = await socket(engine);
    const { welcome, frames } = await s.hello({ apiKey: KEY, groups: ['board:mine'], lastSyncId: watermark, schemaHash: schema.serialized.hash });
    expect(welcome.mode).toBe('catchup');
    const changes = frames.filter((f) => f.type === 'changes').flatMap((f) => f.changes);
    expect(changes.map((c: any) => [c.id, c.action])).toEqual([
      ['m0', 'update'],
      ['m-new', 'create'],
      ['m1', 'update'],
    ]);
    expect(changes[2]).toMatchObject({ groups: ['board:b0'], prevGroups: ['board:mine'] });
    expect(engine.stats().changesRead - before).toBe(3);
  });

  test('a read dependency on a group sees only that group’s changes', async () => {
    const engine = await open(tempFile());
    await seed(engine, 1);
    const readAt = engine.lastSyncId();
    await commit(engine, [{ op: 'update', model: 'cards', id: 'c1-1', data: { title: 'elsewhere' } }]);
    const ok = await fetch(`${engine.url}/v1/commits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operations: [{ op: 'update', model: 'cards', id: 'm0', data: { title: 'a' } }], reads: [{ group: 'board:mine', readAt }] }),
    });
    expect(ok.status).toBe(200);
    const stale = await fetch(`${engine.url}/v1/commits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operations: [{ op: 'update', model: 'cards', id: 'm0', data: { title: 'b' } }], reads: [{ group: 'board:mine', readAt }] }),
    });
    expect(stale.status).toBe(409);
    expect((await stale.json()).error).toMatchObject({ group: 'board:mine', id: 'm0' });
  });
});

describe('stored groups follow the database and the schema', () => {
  test('a database in the old format (storage format 1) is backfilled on start and bootstraps correctly', async () => {
    const file = tempFile();
    const first = await open(file);
    await seed(first, 4);
    await commit(first, [{ op: 'update', model: 'cards', id: 'c2-0', data: { boardId: 'mine' } }]);
    const watermark = first.lastSyncId();
    await commit(first, [{ op: 'update', model: 'cards', id: 'm0', data: { title: 'after' } }]);
    await close(first);

    // Back to the format-1 layout: no group tables, format 1 in _ablo_meta.
    const db = new Database(file);
    db.exec(`DROP TABLE IF EXISTS _ablo_row_groups; DROP TABLE IF EXISTS _ablo_change_groups;`);
    db.prepare(`UPDATE _ablo_meta SET value = '1' WHERE key = 'storage_format'`).run();
    db.close();

    const second = await open(file);
    const check = new Database(file, { readonly: true });
    expect(check.prepare(`SELECT value FROM _ablo_meta WHERE key = 'storage_format'`).pluck().get()).toBe('3');
    check.close();
    const before = second.stats().rowsRead;
    const s = await socket(second);
    const { frames } = await s.hello({ apiKey: KEY, groups: ['board:mine'] });
    expect(bootRows(frames).map((r) => r.id).sort()).toEqual(['c2-0', 'm0', 'm1', 'm2', 'm3']);
    expect(second.stats().rowsRead - before).toBe(5);
    // The change log's groups were backfilled too: catch-up works across the migration.
    const s2 = await socket(second);
    const caught = await s2.hello({ apiKey: KEY, groups: ['board:mine'], lastSyncId: watermark, schemaHash: schema.serialized.hash });
    expect(caught.frames.filter((f) => f.type === 'changes').flatMap((f) => f.changes.map((c: any) => c.id))).toEqual(['m0']);
  });

  test('a push that changes syncGroupFormat re-derives the stored groups: clients of the new groups get the rows', async () => {
    const file = tempFile();
    const engine = await open(file);
    await seed(engine, 3);
    const next = defineSchema({
      cards: model({ title: z.string(), boardId: z.string(), ownerId: z.string().default('nobody') }, {}, { syncGroupFormat: 'owner:{ownerId}' }),
      notes: model({ body: z.string() }),
      pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
    });
    const result = await engine.push(next.serialized);
    expect(result.applied).toBe(true);

    const s = await socket(engine);
    const { frames } = await s.hello({ apiKey: KEY, groups: ['owner:u1'] });
    // u1 owns every 5th card of each of the 10 boards.
    expect(bootRows(frames)).toHaveLength(600);
    expect(bootRows(frames).every((r) => r.model === 'cards' && /^c\d-\d*[16]$/.test(r.id))).toBe(true);
    const old = await socket(engine);
    const gone = await old.hello({ apiKey: KEY, groups: ['board:mine'] });
    expect(bootRows(gone.frames)).toEqual([]);
    const nobody = await socket(engine);
    expect(bootRows((await nobody.hello({ apiKey: KEY, groups: ['owner:nobody'] })).frames).map((r) => r.id).sort()).toEqual(['m0', 'm1', 'm2']);
  });

  test('renaming a model keeps its rows in their groups', async () => {
    const file = tempFile();
    const engine = await open(file);
    await seed(engine, 2);
    const next = defineSchema({
      tickets: model({ title: z.string(), boardId: z.string(), ownerId: z.string().default('nobody') }, {}, { syncGroupFormat: 'board:{boardId}' }),
      notes: model({ body: z.string() }),
      pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
    });
    expect((await engine.push(next.serialized, { renames: { cards: 'tickets' }, allowDestructive: true })).applied).toBe(true);
    const s = await socket(engine);
    const { frames } = await s.hello({ apiKey: KEY, groups: ['board:mine'] });
    expect(bootRows(frames)).toEqual([
      { model: 'tickets', id: 'm0' },
      { model: 'tickets', id: 'm1' },
    ]);
  });
});
