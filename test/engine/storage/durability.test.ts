/**
 * The power-loss promise of the SQLite storage: a resolved transaction is on
 * disk. That rests on the writer connection's pragmas — WAL with
 * `synchronous = FULL` (durability 'full', the default: the WAL is synced on
 * every commit) — and `NORMAL` only when 'normal' is asked for. No crash test
 * can see a missing fsync, so read the pragmas off the engine's own writer.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { createEngine, type Engine } from '../../../src/engine/index.js';
import { createSqliteStorage, SqliteStorage } from '../../../src/engine/storage/sqlite.js';
import type { Storage } from '../../../src/engine/storage/types.js';
import { defineSchema, model, z } from '../../../src/schema/index.js';

const schema = defineSchema({ notes: model({ text: z.string() }) });
// SQLite's numbering of PRAGMA synchronous.
const SYNC = { OFF: 0, NORMAL: 1, FULL: 2, EXTRA: 3 } as const;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engineWith(storage?: (file: string) => Storage): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-durability-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'dev.db');
  const engine = await createEngine({ port: 0, schema, log: () => {}, ...(storage ? { storage: storage(file) } : { file }) });
  cleanups.push(() => engine.close());
  // A write went through this connection, so these are the pragmas commits really run under.
  const res = await fetch(`${engine.url}/v1/models/notes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${engine.devKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ data: { text: 'x' } }),
  });
  expect(res.status).toBe(201);
  return engine;
}

function writerPragma(engine: Engine, name: string): unknown {
  expect(engine.storage).toBeInstanceOf(SqliteStorage);
  return (engine.storage as SqliteStorage).writerCache().db.pragma(name, { simple: true });
}

test("the engine's default storage commits with journal_mode WAL and synchronous FULL", async () => {
  const engine = await engineWith();
  expect(writerPragma(engine, 'journal_mode')).toBe('wal');
  expect(writerPragma(engine, 'synchronous')).toBe(SYNC.FULL);
});

test("durability 'full' is FULL and 'normal' is NORMAL, both in WAL", async () => {
  const full = await engineWith((file) => createSqliteStorage({ file, durability: 'full' }));
  expect(writerPragma(full, 'journal_mode')).toBe('wal');
  expect(writerPragma(full, 'synchronous')).toBe(SYNC.FULL);

  const normal = await engineWith((file) => createSqliteStorage({ file, durability: 'normal' }));
  expect(writerPragma(normal, 'journal_mode')).toBe('wal');
  expect(writerPragma(normal, 'synchronous')).toBe(SYNC.NORMAL);
});

test('checkpoints run in the background, off the commit path, and keep the WAL bounded', async () => {
  const engine = await engineWith();
  const storage = engine.storage as SqliteStorage;
  const file = storage.file;
  // The writer would only checkpoint by itself far beyond SQLite's default of 1,000 pages.
  expect(Number(writerPragma(engine, 'wal_autocheckpoint'))).toBeGreaterThan(1000);
  const sizes: number[] = [];
  for (let round = 0; round < 6; round++) {
    const ops = Array.from({ length: 200 }, (_, i) => ({ op: 'create', model: 'notes', data: { text: `r${round} ${i} ${'x'.repeat(2000)}` } }));
    for (let k = 0; k < 100; k++) {
      const res = await fetch(`${engine.url}/v1/commits`, {
        method: 'POST',
        headers: { authorization: `Bearer ${engine.devKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ operations: ops.slice(k * 2, k * 2 + 2) }),
      });
      expect(res.status).toBe(200);
    }
    await storage.checkpointNow();
    sizes.push(statSync(`${file}-wal`).size);
  }
  const stats = storage.checkpointStats();
  expect(stats.lastError).toBeNull();
  expect(stats.checkpoints).toBeGreaterThanOrEqual(6);
  // The last checkpoint copied the whole log back: the WAL is reused from its start, not grown.
  expect(stats.lastCheckpointedFrames).toBe(stats.lastLogFrames);
  // ~2.4 MB written per round; the WAL stays at about one round's size instead of growing with the total.
  expect(Math.max(...sizes)).toBeLessThan(3 * sizes[0]!);
  // Every row is in the database (read on a fresh connection after close).
  await engine.close();
  const db = new Database(file, { readonly: true });
  try {
    expect(db.prepare('SELECT COUNT(*) FROM notes').pluck().get()).toBe(1 + 6 * 200);
  } finally {
    db.close();
  }
});
