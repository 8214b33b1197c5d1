/**
 * The commit pipeline: validates each commit against the schema, applies it
 * atomically, and group-commits: commits that arrive while a transaction runs
 * share the next storage transaction (one fsync), each inside its own savepoint
 * so it keeps its own atomicity and receipt.
 */
import { createHash } from 'node:crypto';
import {
  AbloIdempotencyError,
  AbloNotFoundError,
  AbloServerError,
  AbloStaleContextError,
  AbloValidationError,
} from '../errors.js';
import type {
  CommitReceipt,
  CommitRequest,
  OnStale,
  Operation,
  OperationResult,
  ParticipantRef,
  ReadDependency,
  StaleNotification,
} from '../protocol/commit.js';
import { generateId, ulid } from '../protocol/ids.js';
import type { CompiledModel, CompiledSchema } from '../schema/compile.js';
import { canonicalJson } from '../schema/serialize.js';
import type { ChangeRecord, RowChangeMeta, Storage, StorageTx, StoredRow } from './storage/types.js';

export interface CommitInput {
  request: CommitRequest;
  participant: ParticipantRef;
  /** Checks a write against claims; throws `AbloClaimedError` when someone else holds the row. */
  claimCheck?: (model: string, id: string) => void;
  /**
   * Checked inside the storage transaction before the commit reads or writes
   * anything; throws to refuse it (e.g. its API key was revoked while it
   * waited in the queue).
   */
  authorized?: () => void;
}

export interface CommitOutcome {
  receipt: CommitReceipt;
  /** Changes this commit wrote (empty for a replay or a fully held commit). */
  changes: ChangeRecord[];
  /** True when the receipt is the stored one for a repeated idempotency key. */
  replayed: boolean;
}

export interface CommitPipelineOptions {
  storage: Storage;
  schema: () => CompiledSchema | null;
  /** Called with every committed change, in sync-id order, after the transaction is durable. */
  onCommitted: (changes: ChangeRecord[]) => void;
  /** Largest number of commits in one storage transaction. */
  maxBatch?: number;
  now?: () => Date;
}

interface Pending {
  input: CommitInput;
  resolve: (outcome: CommitOutcome) => void;
  reject: (err: unknown) => void;
}

interface ExclusiveJob {
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export function requestHash(request: CommitRequest): string {
  const { idempotencyKey: _key, ...rest } = request;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

function pick(row: StoredRow | null, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!row) return out;
  for (const f of fields) out[f] = row[f] ?? null;
  return out;
}

export class CommitPipeline {
  private readonly storage: Storage;
  private readonly schema: () => CompiledSchema | null;
  private readonly onCommitted: (changes: ChangeRecord[]) => void;
  private readonly maxBatch: number;
  private readonly now: () => Date;
  private queue: Array<Pending | ExclusiveJob> = [];
  private running = false;
  private lastSyncId = 0;
  private closed = false;

  /** Commits applied and receipts issued, for status views. */
  stats = { commits: 0, transactions: 0, changes: 0 };

  constructor(options: CommitPipelineOptions) {
    this.storage = options.storage;
    this.schema = options.schema;
    this.onCommitted = options.onCommitted;
    this.maxBatch = options.maxBatch ?? 256;
    this.now = options.now ?? (() => new Date());
  }

  async init(): Promise<void> {
    this.lastSyncId = await this.storage.lastSyncId();
  }

  get currentSyncId(): number {
    return this.lastSyncId;
  }

  /** Queue a commit; resolves with its receipt once durable. */
  submit(input: CommitInput): Promise<CommitOutcome> {
    if (this.closed) return Promise.reject(new AbloServerError('The engine is shutting down.', { code: 'shutting_down' }));
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.kick();
    });
  }

  /** Run `run` alone, between commit transactions (schema changes). */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** Stop taking commits and wait for the queue to drain. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running || this.queue.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // Let I/O callbacks run so that commits arriving together land in one transaction.
        await new Promise((r) => setImmediate(r));
        const head = this.queue[0]!;
        if ('run' in head) {
          this.queue.shift();
          try {
            head.resolve(await head.run());
          } catch (err) {
            head.reject(err);
          }
          continue;
        }
        const batch: Pending[] = [];
        while (batch.length < this.maxBatch && this.queue.length > 0 && !('run' in this.queue[0]!)) {
          batch.push(this.queue.shift() as Pending);
        }
        await this.runBatch(batch);
      }
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.kick();
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const results: Array<{ ok: true; outcome: CommitOutcome } | { ok: false; err: unknown }> = [];
    let syncId = this.lastSyncId;
    try {
      await this.storage.transaction(async (tx) => {
        results.length = 0;
        for (const p of batch) {
          try {
            const outcome = await tx.savepoint(() => this.apply(tx, p.input, () => syncId));
            const last = outcome.changes.at(-1);
            if (last) syncId = last.syncId;
            results.push({ ok: true, outcome });
          } catch (err) {
            results.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      // The transaction itself failed (disk full, I/O error): nothing in it was applied.
      const failure =
        err instanceof AbloServerError ? err : new AbloServerError(`Commit failed in storage: ${(err as Error).message}`, { code: 'storage_error' });
      for (const p of batch) p.reject(failure);
      return;
    }
    this.stats.transactions++;
    const changes: ChangeRecord[] = [];
    for (const r of results) if (r.ok) changes.push(...r.outcome.changes);
    if (changes.length > 0) {
      this.lastSyncId = changes.at(-1)!.syncId;
      this.stats.changes += changes.length;
      try {
        this.onCommitted(changes);
      } catch {
        // Fanout problems never undo a durable commit.
      }
    }
    batch.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) {
        this.stats.commits++;
        p.resolve(r.outcome);
      } else p.reject(r.err);
    });
  }

  /** One commit, inside its savepoint. `watermark` is the last sync id committed before it. */
  private async apply(tx: StorageTx, input: CommitInput, watermark: () => number): Promise<CommitOutcome> {
    const schema = this.schema();
    if (!schema) {
      throw new AbloValidationError('The engine has no schema yet. Push one with `ablo push` (or POST /v1/schema).', { code: 'no_schema' });
    }
    input.authorized?.();
    const { request, participant } = input;
    const hash = requestHash(request);
    const clientTxId = request.idempotencyKey ?? `tx_${ulid()}`;

    if (request.idempotencyKey) {
      const prior = await tx.getIdempotency(request.idempotencyKey);
      if (prior) {
        if (prior.requestHash !== hash) {
          throw new AbloIdempotencyError(
            `Idempotency key "${request.idempotencyKey}" was already used for a different request. Use a new key for a new request.`,
            { code: 'idempotency_key_reused' },
          );
        }
        return { receipt: prior.receipt, changes: [], replayed: true };
      }
    }

    const commitId = `cmt_${ulid()}`;
    const at = this.now().toISOString();
    const ownSyncIds = new Set<number>();
    const notifications: StaleNotification[] = [];

    // Read dependencies decide for the whole batch.
    let holdAll = false;
    for (const dep of request.reads ?? []) {
      const moved = await this.checkReadDependency(tx, schema, dep, ownSyncIds);
      if (!moved) continue;
      const disposition: OnStale = dep.onStale ?? 'reject';
      if (disposition === 'overwrite') continue;
      if (disposition === 'reject') {
        throw new AbloStaleContextError(
          'group' in dep
            ? `Sync group "${dep.group}" changed after readAt ${dep.readAt} (at sync id ${moved.observedSyncId}). Re-read and retry.`
            : `${dep.model} ${dep.id} changed after readAt ${dep.readAt} (at sync id ${moved.observedSyncId}). Re-read and retry.`,
          {
            conflictingFields: moved.conflictingFields,
            currentValues: moved.currentValues,
            observedSyncId: moved.observedSyncId,
            ...(moved.writtenBy ? { writtenBy: moved.writtenBy } : {}),
            readAt: dep.readAt,
            ...('group' in dep ? { group: dep.group, model: moved.notification.model, id: moved.notification.id } : { model: dep.model, id: dep.id }),
          },
        );
      }
      holdAll = true;
      notifications.push(moved.notification);
    }

    const results: OperationResult[] = [];
    const changes: ChangeRecord[] = [];
    for (let index = 0; index < request.operations.length; index++) {
      const op = request.operations[index]!;
      const model = schema.model(op.model);
      try {
        if (holdAll) {
          results.push({ op: op.op, model: op.model, id: op.id ?? '', status: 'held' });
          continue;
        }
        const change = await this.applyOperation(tx, model, op, { participant, clientTxId, commitId, at, ownSyncIds, notifications, claimCheck: input.claimCheck });
        if (change === 'held') {
          results.push({ op: op.op, model: op.model, id: op.id ?? '', status: 'held' });
        } else {
          changes.push(change);
          results.push({ op: op.op, model: op.model, id: change.id, status: 'applied', syncId: change.syncId });
        }
      } catch (err) {
        if (err instanceof AbloValidationError || err instanceof AbloNotFoundError) {
          err.details.operationIndex = index;
          if (request.operations.length > 1) err.message = `Operation ${index} (${op.op} ${op.model}): ${err.message}`;
        }
        throw err;
      }
    }

    const applied = results.filter((r) => r.status === 'applied').length;
    const receipt: CommitReceipt = {
      object: 'commit',
      id: commitId,
      clientTxId,
      status: applied === results.length ? 'committed' : applied === 0 ? 'held' : 'partial',
      lastSyncId: changes.at(-1)?.syncId ?? watermark(),
      results,
      ...(notifications.length > 0 ? { notifications } : {}),
    };
    if (request.idempotencyKey) await tx.putIdempotency(request.idempotencyKey, { requestHash: hash, receipt });
    return { receipt, changes, replayed: false };
  }

  private async checkReadDependency(
    tx: StorageTx,
    schema: CompiledSchema,
    dep: ReadDependency,
    ownSyncIds: Set<number>,
  ): Promise<{
    observedSyncId: number;
    conflictingFields: string[];
    currentValues: Record<string, unknown>;
    writtenBy: ParticipantRef | null;
    notification: StaleNotification;
  } | null> {
    if ('group' in dep) {
      const change = await tx.groupChangeAfter(dep.group, dep.readAt);
      if (!change || ownSyncIds.has(change.syncId)) return null;
      const conflictingFields = change.fields;
      const currentValues = pick(change.data, conflictingFields);
      return {
        observedSyncId: change.syncId,
        conflictingFields,
        currentValues,
        writtenBy: change.participant,
        notification: {
          object: 'stale_notification',
          model: change.model,
          id: change.id,
          readAt: dep.readAt,
          observedSyncId: change.syncId,
          conflictingFields,
          currentValues,
          writtenBy: change.participant,
          group: dep.group,
        },
      };
    }
    const model = schema.model(dep.model);
    for (const f of dep.fields ?? []) {
      if (!Object.prototype.hasOwnProperty.call(model.fields, f)) {
        throw new AbloValidationError(`Read dependency on ${dep.model}.${f}: unknown field. Known fields: ${model.fieldNames.join(', ')}.`, {
          code: 'unknown_field',
          model: dep.model,
          field: f,
        });
      }
    }
    const later = (await tx.rowChangesAfter(dep.model, dep.id, dep.readAt)).filter((c) => !ownSyncIds.has(c.syncId));
    const conflict = conflictsOf(later, dep.fields ?? null, model);
    if (!conflict) return null;
    const row = await tx.getRow(dep.model, dep.id);
    const currentValues = pick(row, conflict.fields);
    return {
      observedSyncId: conflict.last.syncId,
      conflictingFields: conflict.fields,
      currentValues,
      writtenBy: conflict.last.participant,
      notification: {
        object: 'stale_notification',
        model: dep.model,
        id: dep.id,
        readAt: dep.readAt,
        observedSyncId: conflict.last.syncId,
        conflictingFields: conflict.fields,
        currentValues,
        writtenBy: conflict.last.participant,
      },
    };
  }

  private async applyOperation(
    tx: StorageTx,
    model: CompiledModel,
    op: Operation,
    ctx: {
      participant: ParticipantRef;
      clientTxId: string;
      commitId: string;
      at: string;
      ownSyncIds: Set<number>;
      notifications: StaleNotification[];
      claimCheck?: (model: string, id: string) => void;
    },
  ): Promise<ChangeRecord | 'held'> {
    const base = { participant: ctx.participant, clientTxId: ctx.clientTxId, commitId: ctx.commitId, at: ctx.at, model: model.name };

    if (op.op === 'create') {
      const data = model.parseCreate(op.data);
      const id = op.id ?? generateId(model.idPrefix);
      if (await tx.getRow(model.name, id)) {
        throw new AbloValidationError(`A ${model.name} row with id "${id}" already exists. Use update, or leave the id out to get a new one.`, {
          code: 'id_exists',
          model: model.name,
          field: 'id',
        });
      }
      ctx.claimCheck?.(model.name, id);
      const syncId = await tx.nextSyncId();
      ctx.ownSyncIds.add(syncId);
      // Every field is present on a stored row; one left out (optional) is null.
      const row: StoredRow = { id, createdAt: ctx.at, updatedAt: ctx.at, syncId };
      for (const f of model.fieldNames) row[f] = data[f] ?? null;
      await tx.insertRow(model.name, row);
      const change: ChangeRecord = {
        ...base,
        syncId,
        id,
        action: 'create',
        fields: model.fieldNames.slice(),
        data: row,
        groups: model.syncGroups(row),
      };
      await tx.appendChange(change);
      return change;
    }

    const fields = op.op === 'update' ? model.parseUpdate(op.data) : null;
    if (fields && Object.keys(fields).length === 0) {
      throw new AbloValidationError(`Update of ${model.name} ${op.id} has no fields to write.`, { code: 'empty_update', model: model.name });
    }
    const written = fields ? Object.keys(fields) : model.fieldNames.slice();

    if (op.readAt !== undefined) {
      const later = (await tx.rowChangesAfter(model.name, op.id, op.readAt)).filter((c) => !ctx.ownSyncIds.has(c.syncId));
      const conflict = conflictsOf(later, written, model);
      if (conflict) {
        const disposition: OnStale = op.onStale ?? 'reject';
        if (disposition !== 'overwrite') {
          const row = await tx.getRow(model.name, op.id);
          const currentValues = pick(row, conflict.fields);
          if (disposition === 'reject') {
            const who = `${conflict.last.participant.kind} ${conflict.last.participant.id}`;
            throw new AbloStaleContextError(
              `${model.name} ${op.id} changed after readAt ${op.readAt}: ${conflict.fields.join(', ')} ${conflict.last.action === 'update' ? 'written' : conflict.last.action + 'd'} by ${who} at sync id ${conflict.last.syncId}. Re-read the row (or use the currentValues here) and retry.`,
              {
                model: model.name,
                id: op.id,
                readAt: op.readAt,
                conflictingFields: conflict.fields,
                currentValues,
                observedSyncId: conflict.last.syncId,
                writtenBy: conflict.last.participant,
              },
            );
          }
          ctx.notifications.push({
            object: 'stale_notification',
            model: model.name,
            id: op.id,
            readAt: op.readAt,
            observedSyncId: conflict.last.syncId,
            conflictingFields: conflict.fields,
            currentValues,
            writtenBy: conflict.last.participant,
          });
          return 'held';
        }
      }
    }

    const existing = await tx.getRow(model.name, op.id);
    if (!existing) {
      throw new AbloNotFoundError(`No ${model.name} row with id "${op.id}".`, { code: 'row_not_found', model: model.name, id: op.id });
    }
    ctx.claimCheck?.(model.name, op.id);
    const syncId = await tx.nextSyncId();
    ctx.ownSyncIds.add(syncId);
    const prevGroups = model.syncGroups(existing);

    if (op.op === 'delete') {
      await tx.deleteRow(model.name, op.id);
      const change: ChangeRecord = { ...base, syncId, id: op.id, action: 'delete', fields: written, data: null, groups: prevGroups };
      await tx.appendChange(change);
      return change;
    }

    await tx.updateRow(model.name, op.id, fields!, { updatedAt: ctx.at, syncId });
    const row: StoredRow = { ...existing, ...fields, updatedAt: ctx.at, syncId };
    const groups = model.syncGroups(row);
    const moved = groups.length !== prevGroups.length || groups.some((g, i) => g !== prevGroups[i]);
    const change: ChangeRecord = {
      ...base,
      syncId,
      id: op.id,
      action: 'update',
      fields: written,
      data: row,
      groups,
      ...(moved ? { prevGroups } : {}),
    };
    await tx.appendChange(change);
    return change;
  }
}

/**
 * Which of `fields` (null = any field) later changes touched. A create or
 * delete after the watermark conflicts on every field.
 */
function conflictsOf(
  later: RowChangeMeta[],
  fields: string[] | null,
  model: CompiledModel,
): { fields: string[]; last: RowChangeMeta } | null {
  const hit = new Set<string>();
  let last: RowChangeMeta | null = null;
  for (const c of later) {
    const touched = c.action === 'update' ? c.fields : model.fieldNames;
    const overlap = fields ? touched.filter((f) => fields.includes(f)) : touched;
    if (overlap.length === 0 && c.action === 'update') continue;
    for (const f of overlap.length > 0 ? overlap : fields ?? model.fieldNames) hit.add(f);
    last = c;
  }
  if (!last) return null;
  const order = fields ?? model.fieldNames;
  return { fields: order.filter((f) => hit.has(f)), last };
}
