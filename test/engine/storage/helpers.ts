/**
 * Helpers for the SQLite storage tests: a fresh temp directory per test,
 * storages opened there and closed afterwards, and small write helpers that
 * go through `transaction()` like the engine does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { createSqliteStorage } from '../../../src/engine/storage/sqlite.js';
import type { ChangeRecord, Storage, StorageTx, StoredRow } from '../../../src/engine/storage/types.js';
import type { SerializedSchema } from '../../../src/schema/descriptor.js';
import { planSchemaChange } from '../../../src/schema/plan.js';

export interface TempStorage {
  dir: () => string;
  file: () => string;
  /** Open a storage on the test's file (or another file in the test's directory). */
  open: (options?: { file?: string; durability?: 'full' | 'normal' }) => Promise<Storage>;
}

/** Call at the top of a `describe` (or file): one temp dir per test, removed after. */
export function useTempStorage(): TempStorage {
  let dir = '';
  const opened: Storage[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ablo-sqlite-'));
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    file: () => join(dir, 'test.db'),
    open: async (options = {}) => {
      const s = createSqliteStorage({ file: options.file ?? join(dir, 'test.db'), ...(options.durability ? { durability: options.durability } : {}) });
      await s.open();
      opened.push(s);
      return s;
    },
  };
}

/** Apply `next` over the storage's current schema (renames optional). */
export async function push(storage: Storage, next: SerializedSchema, renames?: Record<string, string>) {
  const current = await storage.getSchema();
  const plan = planSchemaChange(current?.serialized ?? null, next, renames ? { renames } : {});
  return storage.applySchema(plan, next);
}

export const T0 = '2024-01-01T00:00:00.000Z';

export function change(syncId: number, model: string, id: string, extra: Partial<ChangeRecord> = {}): ChangeRecord {
  return {
    syncId,
    model,
    id,
    action: 'create',
    fields: [],
    data: null,
    groups: ['default'],
    participant: { kind: 'user', id: 'u1' },
    clientTxId: null,
    at: T0,
    commitId: `c${syncId}`,
    ...extra,
  };
}

/** Insert a row and its change inside an open transaction; returns the row. */
export async function insertIn(tx: StorageTx, model: string, id: string, fields: Record<string, unknown>, groups = ['default']): Promise<StoredRow> {
  const syncId = await tx.nextSyncId();
  const row: StoredRow = { id, createdAt: T0, updatedAt: T0, syncId, ...fields };
  await tx.insertRow(model, row);
  await tx.appendChange(change(syncId, model, id, { fields: Object.keys(fields), data: row, groups }));
  return row;
}

/** Insert rows in one committed transaction. */
export async function insertRows(storage: Storage, model: string, rows: Array<{ id: string } & Record<string, unknown>>): Promise<void> {
  await storage.transaction(async (tx) => {
    for (const { id, ...fields } of rows) await insertIn(tx, model, id, fields);
  });
}
