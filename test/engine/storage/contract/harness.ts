/**
 * The storage contract's harness: what a storage under test provides (a
 * fixture), the per-test lifecycle (every storage opened in a test is closed
 * after it, then the fixture cleans up), and write helpers that go through the
 * ports only — the single-row primitives of `StorageTx`, the `RowSink`, and
 * the real commit path (`applyCommit`: `planCommit` over the read port, then
 * `tx.write`), as the engine drives them.
 */
import { afterEach, expect } from 'vitest';
import { applyCommit } from '../../../../src/engine/commit/apply.js';
import type { CommitOutcome } from '../../../../src/engine/commit/types.js';
import type { ChangeBatch, ChangeRecord, PlannedChange, Storage, StorageTx, StoredRow } from '../../../../src/engine/storage/types.js';
import type { CommitRequest, Operation, ParticipantRef } from '../../../../src/protocol/commit.js';
import { compileSchema } from '../../../../src/schema/compile.js';
import type { SerializedSchema } from '../../../../src/schema/descriptor.js';
import { planSchemaChange } from '../../../../src/schema/plan.js';
import { prng } from '../../../helpers/prng.js';

/** One storage under test, on data nobody else uses. */
export interface StorageFixture {
  /** A fresh storage (opened or not: the contract calls `open()`, which must be idempotent) with no schema and no data. */
  storage: Storage;
  /**
   * A new storage instance on the same data (not opened yet), as a restarted
   * process would create. Called only after `storage` (or the previous
   * reopened instance) was closed.
   */
  reopen: () => Storage | Promise<Storage>;
  /** Remove the data (after every storage of the fixture was closed). */
  cleanup: () => void | Promise<void>;
}

export interface StorageContractOptions {
  /** Shown in the test names: `storage contract (<name>)`. */
  name: string;
  /** A fresh fixture; called once per test, in the test. */
  create: () => StorageFixture | Promise<StorageFixture>;
}

export interface ContractContext {
  /** A fresh, opened storage with no schema. */
  fresh(): Promise<Storage>;
  /** A fresh, opened storage with `schema` applied (version 1). */
  withSchema(schema: SerializedSchema): Promise<Storage>;
  /** Close `storage` and open a new instance on its data (a restart); the old instance stays closed. */
  restart(storage: Storage): Promise<Storage>;
}

export function contractContext(options: StorageContractOptions): ContractContext {
  interface Live {
    fixture: StorageFixture;
    storages: Storage[];
  }
  const live: Live[] = [];
  const owner = new Map<Storage, Live>();

  afterEach(async () => {
    const errors: unknown[] = [];
    for (const l of live.splice(0)) {
      for (const s of l.storages) {
        try {
          await s.close();
        } catch (err) {
          errors.push(err);
        }
        owner.delete(s);
      }
      try {
        await l.fixture.cleanup();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });

  const fresh = async (): Promise<Storage> => {
    const fixture = await options.create();
    const l: Live = { fixture, storages: [fixture.storage] };
    live.push(l);
    owner.set(fixture.storage, l);
    await fixture.storage.open();
    return fixture.storage;
  };

  return {
    fresh,
    async withSchema(schema) {
      const s = await fresh();
      await push(s, schema);
      return s;
    },
    async restart(storage) {
      const l = owner.get(storage);
      if (!l) throw new Error('restart(): not a storage of this test');
      await storage.close();
      const next = await l.fixture.reopen();
      l.storages.push(next);
      owner.set(next, l);
      await next.open();
      return next;
    },
  };
}

/** Apply `next` over the storage's current schema (renames optional): what `ablo push` does, approved. */
export async function push(storage: Storage, next: SerializedSchema, renames?: Record<string, string>) {
  const current = await storage.getSchema();
  return storage.applySchema(planSchemaChange(current?.serialized ?? null, next, renames ? { renames } : {}), next, current?.version ?? 0);
}

export const T0 = '2024-01-01T00:00:00.000Z';
export const USER: ParticipantRef = { kind: 'user', id: 'u1' };

/** A change-log entry with defaults, for `tx.appendChange`. */
export function change(syncId: number, model: string, id: string, extra: Partial<ChangeRecord> = {}): ChangeRecord {
  return {
    syncId,
    model,
    id,
    action: 'create',
    fields: [],
    data: null,
    groups: ['default'],
    participant: USER,
    clientTxId: null,
    at: T0,
    commitId: `c${syncId}`,
    ...extra,
  };
}

/**
 * With the primitives: insert a row (its stored groups follow the schema)
 * and append its change (with `groups`); returns the row.
 */
export async function insertIn(tx: StorageTx, model: string, id: string, fields: Record<string, unknown>, groups = ['default']): Promise<StoredRow> {
  const syncId = await tx.nextSyncId();
  const row: StoredRow = { id, createdAt: T0, updatedAt: T0, syncId, ...fields };
  await tx.insertRow(model, row);
  await tx.appendChange(change(syncId, model, id, { fields: Object.keys(fields), data: row, groups }));
  return row;
}

/** Insert rows with the primitives in one committed transaction. */
export async function insertRows(storage: Storage, model: string, rows: Array<{ id: string } & Record<string, unknown>>): Promise<void> {
  await storage.transaction(async (tx) => {
    for (const { id, ...fields } of rows) await insertIn(tx, model, id, fields);
  });
}

export interface CommitOptions {
  participant?: ParticipantRef;
  /** Whom the writer acts for (the change log's `onBehalfOf`). */
  onBehalfOf?: ParticipantRef;
  /** The committing credential (the change log's `credentialId`). */
  credentialId?: string;
  idempotencyKey?: string;
  reads?: CommitRequest['reads'];
  now?: Date;
}

/** One commit through the real commit path, in its own savepoint of the open transaction (as the batcher runs it). */
export async function commitIn(tx: StorageTx, storage: Storage, operations: Operation[], options: CommitOptions = {}): Promise<CommitOutcome> {
  const schema = compileSchema((await storage.getSchema())!.serialized);
  const request: CommitRequest = {
    operations,
    ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
    ...(options.reads ? { reads: options.reads } : {}),
  };
  const writer = {
    participant: options.participant ?? USER,
    ...(options.onBehalfOf ? { onBehalfOf: options.onBehalfOf } : {}),
    ...(options.credentialId !== undefined ? { credentialId: options.credentialId } : {}),
  };
  return tx.savepoint(() => applyCommit(tx, { request, ...writer, scope: 'all' }, schema, options.now ?? new Date(T0)));
}

/** One commit in its own transaction. */
export function commit(storage: Storage, operations: Operation[], options: CommitOptions = {}): Promise<CommitOutcome> {
  return storage.transaction((tx) => commitIn(tx, storage, operations, options));
}

/** A planned create for `tx.write` (the row's groups given by the caller, as `planCommit` computes them). */
export function plannedCreate(model: string, row: Omit<StoredRow, 'createdAt' | 'updatedAt' | 'syncId'>, groups: string[], extra: Partial<PlannedChange> = {}): PlannedChange {
  const data = { createdAt: T0, updatedAt: T0, syncId: 0, ...row } as StoredRow;
  const fields = Object.keys(row).filter((k) => k !== 'id');
  return { participant: USER, clientTxId: 'tx_1', commitId: 'cmt_1', at: T0, model, id: row.id, action: 'create', fields, data, groups, ...extra } as PlannedChange;
}

/** Record every batch the feed announces from now on. */
export function recordFeed(storage: Storage): { batches: ChangeBatch[]; ids: () => number[][]; stop: () => void } {
  const batches: ChangeBatch[] = [];
  const stop = storage.feed.subscribe((b) => batches.push(b));
  return { batches, ids: () => batches.map((b) => b.changes.map((c) => c.syncId)), stop };
}

/** 1..n */
export function range(n: number, from = 1): number[] {
  return Array.from({ length: n }, (_, i) => i + from);
}

/** The whole change log, paged through `changesAfter`. */
export async function wholeLog(storage: Storage, pageSize = 500): Promise<ChangeRecord[]> {
  const out: ChangeRecord[] = [];
  for (;;) {
    const page = await storage.changesAfter(out.at(-1)?.syncId ?? 0, pageSize);
    out.push(...page);
    if (page.length < pageSize) return out;
  }
}

/** The log is 1..lastSyncId with no gap and no repeat, and the feed's head is there. */
export async function expectGapFreeLog(storage: Storage): Promise<ChangeRecord[]> {
  const log = await wholeLog(storage);
  const last = await storage.lastSyncId();
  expect(log.map((c) => c.syncId)).toEqual(range(last));
  expect(storage.feed.head()).toBe(last);
  return log;
}

/** Ids of the rows a group scan returns. */
export async function groupIds(storage: Storage, model: string, group: string, after: string | null = null, limit = 1000): Promise<string[]> {
  return (await storage.scanGroupRows(model, group, after, limit)).map((r) => r.id);
}

/** Deterministic pseudo-random numbers in [0, 1). */
export const rng = prng;

/** A promise and its resolver. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
