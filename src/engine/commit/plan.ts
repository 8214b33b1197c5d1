/**
 * `planCommit`: the decision half of a commit. Given the request, the schema,
 * the writer, the time and the claim guard (all passed in), and a read port
 * into the transaction the commit will be applied in, it decides what to
 * write: validation, idempotency, read dependencies, the stale guard and the
 * claim guard. It writes nothing and touches no engine state; the `RowSink`
 * applies its plan (and allocates the sync ids).
 *
 * Operations of one commit see each other: the plan keeps the rows it has
 * planned so far (`PlannedRows`) in front of the read port. Changes written
 * by earlier commits are in the log; this commit's are not yet, so the stale
 * guard never sees the commit's own changes.
 *
 * The writer's sync groups (`scope`) are decided here too, on the rows as
 * they are in the transaction (see `PlanInput.scope`).
 */
import * as crypto from 'node:crypto';
import { abloError, AbloIdempotencyError, AbloNotFoundError, AbloPermissionError, AbloStaleContextError, AbloValidationError } from '../../errors.js';
import type {
  CommitReceipt,
  CommitRequest,
  OnStale,
  Operation,
  ParticipantRef,
  ReadDependency,
  StaleNotification,
} from '../../protocol/commit.js';
import { generateId, ulid } from '../../protocol/ids.js';
import type { CompiledModel, CompiledSchema } from '../../schema/compile.js';
import { canonicalJson } from '../../schema/serialize.js';
import { groupAllowed, seesGroups } from '../auth/guard.js';
import { logCoversAfter, type CommitReadPort, type PlannedChange, type RowChangeMeta, type StoredRow } from '../storage/types.js';
import type { ClaimCheck } from './types.js';

export interface PlanInput {
  request: CommitRequest;
  /** Who writes (the credential's own participant). */
  participant: ParticipantRef;
  /** Whom it acts for, when another participant (recorded with each change; see `CommitInput`). */
  onBehalfOf?: ParticipantRef;
  /** The committing credential's id, recorded with each change. */
  credentialId?: string;
  /**
   * The writer's sync groups, as the guard matches them (`'all'` for API
   * keys: nothing below is checked). A scoped commit is refused as a whole,
   * writing nothing, when it would:
   * - create a row it would not see, or move one (an update of a field in
   *   `syncGroupFormat`) to where it would not see it: 403 `group_not_allowed`;
   * - update or delete a row it does not see: `row_not_found`, the answer
   *   for a missing row (decided before the stale guard, which says nothing
   *   of it);
   * - depend on a group it may not use (403 `group_not_allowed`) or on a
   *   row it does not see (`row_not_found`).
   * "Sees" is the guard's rule for reads: one of the row's groups is allowed.
   */
  scope: 'all' | readonly string[];
  schema: CompiledSchema;
  /** The commit's time (createdAt / updatedAt / the change log's `at`). */
  now: Date;
  /** Claims as they stand while the commit is applied. */
  claimCheck?: ClaimCheck;
  /**
   * Look the idempotency key up before deciding (default true). False: the
   * caller does it (see `applyCommit`'s optimistic path).
   */
  lookUpKey?: boolean;
  /**
   * The idempotency window (ms): a keyed request whose `ageMs` is over it,
   * and whose key has no stored receipt, is refused (`idempotency_expired`).
   * Undefined: no age is checked.
   */
  idempotencyWindowMs?: number;
}

/** One operation's outcome: held, or applied as `changes[change]` of the plan. */
export type PlannedResult =
  | { op: Operation['op']; model: string; id: string; status: 'held' }
  | { op: Operation['op']; model: string; id: string; status: 'applied'; change: number };

export type CommitPlan =
  /** The idempotency key was used for this same request: hand its receipt back, write nothing. */
  | { kind: 'replay'; receipt: CommitReceipt }
  | {
      kind: 'write';
      commitId: string;
      clientTxId: string;
      /** In operation order; may be empty (everything held). */
      changes: PlannedChange[];
      /** One per operation, in order (the receipt's `results`). */
      results: PlannedResult[];
      notifications: StaleNotification[];
      /** Store the receipt under this key once it is complete. */
      idempotency: { key: string; requestHash: string } | null;
    };

/** Node's one-shot digest (20.12+), else a Hash object: same bytes, less work per call. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function requestHash(request: CommitRequest): string {
  // The key names the request; its age changes with every resend: neither is part of what it asks for.
  const { idempotencyKey: _key, ageMs: _age, ...rest } = request;
  const text = canonicalJson(rest);
  return oneShotHash ? oneShotHash('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}

export function noSchemaError(): AbloValidationError {
  return new AbloValidationError('The engine has no schema yet. Push one with `ablo push` (or POST /v1/schema).', { code: 'no_schema' });
}

/**
 * The rows this plan has written so far, in front of the transaction's reads
 * (kept only when the commit has more than one operation).
 */
class PlannedRows {
  private rows: Map<string, StoredRow | null> | null = null;
  constructor(
    private readonly read: CommitReadPort,
    private readonly track: boolean,
  ) {}

  get(model: string, id: string): Promise<StoredRow | null> | StoredRow | null {
    const key = this.rows ? `${model}\u0000${id}` : '';
    return this.rows?.has(key) ? this.rows.get(key)! : this.read.getRow(model, id);
  }

  set(model: string, id: string, row: StoredRow | null): void {
    if (this.track) (this.rows ??= new Map()).set(`${model}\u0000${id}`, row);
  }
}

interface OpContext {
  base: Pick<PlannedChange, 'participant' | 'onBehalfOf' | 'credentialId' | 'clientTxId' | 'commitId' | 'at'>;
  rows: PlannedRows;
  read: CommitReadPort;
  notifications: StaleNotification[];
  claimCheck: ClaimCheck | undefined;
  scope: PlanInput['scope'];
}

function pick(row: StoredRow | null, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!row) return out;
  for (const f of fields) out[f] = row[f] ?? null;
  return out;
}

/** Decide one commit. Throws the commit's error (validation, stale reject, claimed, idempotency reuse). */
export async function planCommit(input: PlanInput, read: CommitReadPort): Promise<CommitPlan> {
  const { request, participant, schema } = input;
  const clientTxId = request.idempotencyKey ?? `tx_${ulid()}`;
  // Only a keyed request is ever compared with another one (same key, different body: refused).
  const hash = request.idempotencyKey ? requestHash(request) : '';

  if (request.idempotencyKey && input.lookUpKey !== false) {
    const replay = await replayOf(request, read, hash);
    if (replay) return replay;
  }
  // Past the window its receipt may be pruned: applying it could apply it twice. (With a stored receipt it was replayed above.)
  const window = input.idempotencyWindowMs;
  if (request.idempotencyKey && request.ageMs !== undefined && window !== undefined && request.ageMs > window) {
    throw abloError('idempotency_expired', { ageMs: request.ageMs, windowMs: window, idempotencyKey: request.idempotencyKey });
  }

  const commitId = `cmt_${ulid()}`;
  const notifications: StaleNotification[] = [];
  // Read dependencies decide for the whole batch.
  let holdAll = false;
  for (const dep of request.reads ?? []) {
    const moved = await checkReadDependency(read, schema, dep, input.scope);
    if (!moved) continue;
    const disposition: OnStale = dep.onStale ?? 'reject';
    if (disposition === 'overwrite') continue;
    if (disposition === 'reject') throw readDependencyError(dep, moved);
    holdAll = true;
    notifications.push(moved.notification);
  }

  const ctx: OpContext = {
    base: {
      participant,
      ...(input.onBehalfOf ? { onBehalfOf: input.onBehalfOf } : {}),
      ...(input.credentialId !== undefined ? { credentialId: input.credentialId } : {}),
      clientTxId,
      commitId,
      at: input.now.toISOString(),
    },
    rows: new PlannedRows(read, request.operations.length > 1),
    read,
    notifications,
    claimCheck: input.claimCheck,
    scope: input.scope,
  };
  const results: PlannedResult[] = [];
  const changes: PlannedChange[] = [];
  for (let index = 0; index < request.operations.length; index++) {
    const op = request.operations[index]!;
    const model = schema.model(op.model);
    try {
      const change = holdAll ? 'held' : await planOperation(model, op, ctx);
      if (change === 'held') {
        results.push({ op: op.op, model: op.model, id: op.id ?? '', status: 'held' });
      } else {
        results.push({ op: op.op, model: op.model, id: change.id, status: 'applied', change: changes.length });
        changes.push(change);
      }
    } catch (err) {
      if (err instanceof AbloValidationError || err instanceof AbloNotFoundError || err instanceof AbloPermissionError) {
        err.details.operationIndex = index;
        if (request.operations.length > 1) err.message = `Operation ${index} (${op.op} ${op.model}): ${err.message}`;
      }
      throw err;
    }
  }
  return {
    kind: 'write',
    commitId,
    clientTxId,
    changes,
    results,
    notifications,
    idempotency: request.idempotencyKey ? { key: request.idempotencyKey, requestHash: hash } : null,
  };
}

/**
 * When the request's idempotency key was used: its stored receipt (a replay
 * of the same request), or the reuse error (another request). Null when the
 * key is new (or the request has none).
 */
export async function replayOf(
  request: CommitRequest,
  read: Pick<CommitReadPort, 'getIdempotency'>,
  hash?: string,
): Promise<Extract<CommitPlan, { kind: 'replay' }> | null> {
  const key = request.idempotencyKey;
  if (!key) return null;
  const prior = await read.getIdempotency(key);
  if (!prior) return null;
  if (prior.requestHash !== (hash ?? requestHash(request))) {
    throw new AbloIdempotencyError(`Idempotency key "${key}" was already used for a different request. Use a new key for a new request.`, {
      code: 'idempotency_key_reused',
    });
  }
  return { kind: 'replay', receipt: prior.receipt };
}

/**
 * The receipt of a written plan, once the sink gave its changes their sync
 * ids (`written`, in plan order). `headSyncId`: the transaction's head, the
 * receipt's `lastSyncId` when nothing was written.
 */
export function completeReceipt(
  plan: Extract<CommitPlan, { kind: 'write' }>,
  written: readonly { syncId: number }[],
  headSyncId: number,
): CommitReceipt {
  let applied = 0;
  const results = plan.results.map((r) => {
    if (r.status === 'held') return { op: r.op, model: r.model, id: r.id, status: 'held' as const };
    applied++;
    return { op: r.op, model: r.model, id: r.id, status: 'applied' as const, syncId: written[r.change]!.syncId };
  });
  return {
    object: 'commit',
    id: plan.commitId,
    clientTxId: plan.clientTxId,
    status: applied === results.length ? 'committed' : applied === 0 ? 'held' : 'partial',
    lastSyncId: written.length > 0 ? written[written.length - 1]!.syncId : headSyncId,
    results,
    ...(plan.notifications.length > 0 ? { notifications: plan.notifications } : {}),
  };
}

/** 403 `group_not_allowed`: a scoped writer would put a row where it does not see it, or depend on a group it may not use. */
function outsideScope(scope: readonly string[], groups: readonly string[], what: string): AbloPermissionError {
  const refused = groups.filter((g) => !groupAllowed(scope, g));
  return new AbloPermissionError(
    `This credential may not ${what} sync group${refused.length === 1 ? '' : 's'} ${refused.map((g) => JSON.stringify(g)).join(', ')}; it allows ${scope.map((g) => JSON.stringify(g)).join(', ') || 'none'}.`,
    { code: 'group_not_allowed', groups: refused, allowed: [...scope] },
  );
}

interface Moved {
  observedSyncId: number;
  conflictingFields: string[];
  currentValues: Record<string, unknown>;
  writtenBy: ParticipantRef | null;
  /** Whom the writer of that change acted for, if another participant. */
  onBehalfOf?: ParticipantRef | undefined;
  notification: StaleNotification;
  /** Set when the history after readAt was pruned: the change log's floor (it counts as moved, never as unchanged). */
  prunedFloor?: number;
}

/**
 * The change log's floor when it no longer holds every change after
 * `readAt` (retention pruned them), else null. Read after the history it
 * completes, so a prune between the two shows here (see
 * `CommitReadPort.changeLogFloor`).
 */
async function historyPruned(read: CommitReadPort, readAt: number): Promise<number | null> {
  const floor = await read.changeLogFloor();
  return logCoversAfter(readAt, floor) ? null : floor;
}

/** What a stale error says of history that retention pruned. */
function prunedText(readAt: number, floor: number): string {
  return `its history after readAt ${readAt} is gone (the change log keeps sync ids from ${floor} on; older entries were pruned by retention), so it counts as changed`;
}

function readDependencyError(dep: ReadDependency, moved: Moved): AbloStaleContextError {
  const what = 'group' in dep ? `Sync group "${dep.group}"` : `${dep.model} ${dep.id}`;
  return new AbloStaleContextError(
    moved.prunedFloor !== undefined
      ? `${what}: ${prunedText(dep.readAt, moved.prunedFloor)}. Re-read and retry.`
      : `${what} changed after readAt ${dep.readAt} (at sync id ${moved.observedSyncId}). Re-read and retry.`,
    {
      conflictingFields: moved.conflictingFields,
      currentValues: moved.currentValues,
      observedSyncId: moved.observedSyncId,
      ...(moved.writtenBy ? { writtenBy: moved.writtenBy } : {}),
      ...(moved.onBehalfOf ? { onBehalfOf: moved.onBehalfOf } : {}),
      readAt: dep.readAt,
      ...('group' in dep ? { group: dep.group, model: moved.notification.model, id: moved.notification.id } : { model: dep.model, id: dep.id }),
      ...(moved.prunedFloor !== undefined ? { historyPruned: true, changeLogFloor: moved.prunedFloor } : {}),
    },
  );
}

async function checkReadDependency(read: CommitReadPort, schema: CompiledSchema, dep: ReadDependency, scope: PlanInput['scope']): Promise<Moved | null> {
  if ('group' in dep) {
    if (scope !== 'all' && !groupAllowed(scope, dep.group)) throw outsideScope(scope, [dep.group], 'depend on');
    const change = await read.groupChangeAfter(dep.group, dep.readAt);
    if (!change) return prunedGroup(read, dep);
    const conflictingFields = change.fields;
    const currentValues = pick(change.data, conflictingFields);
    return {
      observedSyncId: change.syncId,
      conflictingFields,
      currentValues,
      writtenBy: change.participant,
      onBehalfOf: change.onBehalfOf,
      notification: {
        object: 'stale_notification',
        model: change.model,
        id: change.id,
        readAt: dep.readAt,
        observedSyncId: change.syncId,
        conflictingFields,
        currentValues,
        writtenBy: change.participant,
        ...(change.onBehalfOf ? { onBehalfOf: change.onBehalfOf } : {}),
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
  // A scoped writer depends only on rows it sees; one it does not see is "not found" before its changes are looked at.
  const row = scope === 'all' ? undefined : await read.getRow(dep.model, dep.id);
  if (row && !seesGroups(scope, model.syncGroups(row))) {
    throw new AbloNotFoundError(`Read dependency on ${dep.model} ${dep.id}: no ${dep.model} row with id "${dep.id}".`, {
      code: 'row_not_found',
      model: dep.model,
      id: dep.id,
    });
  }
  const conflict = await rowConflict(read, model, dep.id, dep.readAt, dep.fields ?? null, () => (row === undefined ? read.getRow(dep.model, dep.id) : row));
  if (!conflict) return null;
  const currentValues = pick(conflict.current, conflict.fields);
  return {
    observedSyncId: conflict.observedSyncId,
    conflictingFields: conflict.fields,
    currentValues,
    writtenBy: conflict.writtenBy,
    onBehalfOf: conflict.onBehalfOf,
    ...(conflict.prunedFloor !== undefined ? { prunedFloor: conflict.prunedFloor } : {}),
    notification: {
      object: 'stale_notification',
      model: dep.model,
      id: dep.id,
      readAt: dep.readAt,
      observedSyncId: conflict.observedSyncId,
      conflictingFields: conflict.fields,
      currentValues,
      writtenBy: conflict.writtenBy,
      ...(conflict.onBehalfOf ? { onBehalfOf: conflict.onBehalfOf } : {}),
    },
  };
}

/** A group read dependency with no change in the log after readAt: moved all the same when that history was pruned. */
async function prunedGroup(read: CommitReadPort, dep: Extract<ReadDependency, { group: string }>): Promise<Moved | null> {
  const floor = await historyPruned(read, dep.readAt);
  if (floor === null) return null;
  return {
    observedSyncId: floor - 1,
    conflictingFields: [],
    currentValues: {},
    writtenBy: null,
    prunedFloor: floor,
    notification: {
      object: 'stale_notification',
      model: '',
      id: '',
      readAt: dep.readAt,
      observedSyncId: floor - 1,
      conflictingFields: [],
      currentValues: {},
      writtenBy: null,
      group: dep.group,
    },
  };
}

interface RowConflict {
  /** The fields (of those asked about) that changed: all of them when the history was pruned. */
  fields: string[];
  /** The last change's sync id; when pruned, the stored row's sync id (or the floor - 1 for a missing row). */
  observedSyncId: number;
  /** The last change's action; null when pruned. */
  action: RowChangeMeta['action'] | null;
  writtenBy: ParticipantRef | null;
  /** Whom the last change's writer acted for, if another participant. */
  onBehalfOf?: ParticipantRef | undefined;
  /** The row as the commit sees it now. */
  current: StoredRow | null;
  prunedFloor?: number;
}

/**
 * Did `fields` (null: any) of the row change after `readAt`? From the change
 * log. When the log no longer holds that history (retention pruned it), the
 * stored row's own sync id (its last change) answers what it can: at or
 * below readAt, nothing changed since (certain: every write of a row gives it
 * a new sync id, a re-created row too); above it, or no row, it counts as
 * changed, every field asked about (which ones is gone with the history).
 */
async function rowConflict(
  read: CommitReadPort,
  model: CompiledModel,
  id: string,
  readAt: number,
  fields: string[] | null,
  current: () => Promise<StoredRow | null> | StoredRow | null,
): Promise<RowConflict | null> {
  const conflict = conflictsOf(await read.rowChangesAfter(model.name, id, readAt), fields, model);
  if (conflict) {
    const { last } = conflict;
    return {
      fields: conflict.fields,
      observedSyncId: last.syncId,
      action: last.action,
      writtenBy: last.participant,
      onBehalfOf: last.onBehalfOf,
      current: await current(),
    };
  }
  const floor = await historyPruned(read, readAt);
  if (floor === null) return null;
  // The stored row (before this commit: a row it planned has no sync id yet).
  const stored = await read.getRow(model.name, id);
  if (stored && stored.syncId <= readAt) return null;
  const row = await current();
  return { fields: (fields ?? model.fieldNames).slice(), observedSyncId: stored ? stored.syncId : floor - 1, action: null, writtenBy: null, current: row, prunedFloor: floor };
}

async function planOperation(model: CompiledModel, op: Operation, ctx: OpContext): Promise<PlannedChange | 'held'> {
  const at = ctx.base.at;
  if (op.op === 'create') {
    const data = model.parseCreate(op.data);
    const id = op.id ?? generateId(model.idPrefix);
    // Every field is present on a stored row; one left out (optional) is null. The sink sets syncId.
    const row: StoredRow = { id, createdAt: at, updatedAt: at, syncId: 0 };
    for (const f of model.fieldNames) row[f] = data[f] ?? null;
    const groups = model.syncGroups(row);
    // Decided before the id is looked up: a create outside learns nothing of the rows there.
    if (ctx.scope !== 'all' && !seesGroups(ctx.scope, groups)) throw outsideScope(ctx.scope, groups, `create a ${model.name} row in`);
    if (await ctx.rows.get(model.name, id)) {
      throw new AbloValidationError(`A ${model.name} row with id "${id}" already exists. Use update, or leave the id out to get a new one.`, {
        code: 'id_exists',
        model: model.name,
        field: 'id',
      });
    }
    await ctx.claimCheck?.(model.name, id);
    ctx.rows.set(model.name, id, row);
    return { ...ctx.base, model: model.name, id, action: 'create', fields: model.fieldNames.slice(), data: row, groups };
  }

  const fields = op.op === 'update' ? model.parseUpdate(op.data) : null;
  if (fields && Object.keys(fields).length === 0) {
    throw new AbloValidationError(`Update of ${model.name} ${op.id} has no fields to write.`, { code: 'empty_update', model: model.name });
  }
  const written = fields ? Object.keys(fields) : model.fieldNames.slice();
  // The row as this commit sees it (with its earlier operations). One a scoped writer does not see is missing to it,
  // decided before the stale guard (which would tell of its changes).
  const found = await ctx.rows.get(model.name, op.id);
  const prevGroups = found ? model.syncGroups(found) : [];
  const existing = found && seesGroups(ctx.scope, prevGroups) ? found : null;
  if (op.readAt !== undefined && existing === found && (await staleHold(model, op, op.readAt, written, existing, ctx))) return 'held';

  if (!existing) {
    throw new AbloNotFoundError(`No ${model.name} row with id "${op.id}".`, { code: 'row_not_found', model: model.name, id: op.id });
  }
  if (op.op === 'delete') {
    await ctx.claimCheck?.(model.name, op.id);
    ctx.rows.set(model.name, op.id, null);
    return { ...ctx.base, model: model.name, id: op.id, action: 'delete', fields: written, data: null, groups: prevGroups };
  }
  const row: StoredRow = { ...existing, ...fields, updatedAt: at, syncId: 0 };
  const groups = model.syncGroups(row);
  if (ctx.scope !== 'all' && !seesGroups(ctx.scope, groups)) throw outsideScope(ctx.scope, groups, `move ${model.name} ${op.id} to`);
  await ctx.claimCheck?.(model.name, op.id);
  ctx.rows.set(model.name, op.id, row);
  const moved = groups.length !== prevGroups.length || groups.some((g, i) => g !== prevGroups[i]);
  return {
    ...ctx.base,
    model: model.name,
    id: op.id,
    action: 'update',
    fields: written,
    data: row,
    patch: fields!,
    groups,
    ...(moved ? { prevGroups } : {}),
  };
}

/**
 * The stale guard of one update/delete with `readAt`: false when nothing it
 * writes moved since (or `onStale: 'overwrite'`); true when it is held
 * (`notify`, with a notification added); throws the stale error (`reject`).
 */
async function staleHold(
  model: CompiledModel,
  op: Extract<Operation, { op: 'update' | 'delete' }>,
  readAt: number,
  written: string[],
  current: StoredRow | null,
  ctx: OpContext,
): Promise<boolean> {
  const conflict = await rowConflict(ctx.read, model, op.id, readAt, written, () => current);
  if (!conflict) return false;
  const disposition: OnStale = op.onStale ?? 'reject';
  if (disposition === 'overwrite') return false;
  // The row as this commit sees it (with its earlier operations).
  const currentValues = pick(current, conflict.fields);
  if (disposition === 'reject') {
    const what =
      conflict.prunedFloor !== undefined
        ? prunedText(readAt, conflict.prunedFloor)
        : `${conflict.fields.join(', ')} ${conflict.action === 'update' ? 'written' : conflict.action + 'd'} by ${whoWrote(conflict.writtenBy!, conflict.onBehalfOf)} at sync id ${conflict.observedSyncId}`;
    throw new AbloStaleContextError(
      `${model.name} ${op.id} changed after readAt ${readAt}: ${what}. Re-read the row (or use the currentValues here) and retry.`,
      {
        model: model.name,
        id: op.id,
        readAt,
        conflictingFields: conflict.fields,
        currentValues,
        observedSyncId: conflict.observedSyncId,
        ...(conflict.writtenBy ? { writtenBy: conflict.writtenBy } : {}),
        ...(conflict.onBehalfOf ? { onBehalfOf: conflict.onBehalfOf } : {}),
        ...(conflict.prunedFloor !== undefined ? { historyPruned: true, changeLogFloor: conflict.prunedFloor } : {}),
      },
    );
  }
  ctx.notifications.push({
    object: 'stale_notification',
    model: model.name,
    id: op.id,
    readAt,
    observedSyncId: conflict.observedSyncId,
    conflictingFields: conflict.fields,
    currentValues,
    writtenBy: conflict.writtenBy,
    ...(conflict.onBehalfOf ? { onBehalfOf: conflict.onBehalfOf } : {}),
  });
  return true;
}

/** `user ana`, or `system key_1 on behalf of user ana`: who wrote a change, for messages. */
function whoWrote(writtenBy: ParticipantRef, onBehalfOf: ParticipantRef | undefined): string {
  return `${writtenBy.kind} ${writtenBy.id}${onBehalfOf ? ` on behalf of ${onBehalfOf.kind} ${onBehalfOf.id}` : ''}`;
}

/**
 * Which of `fields` (null = any field) later changes touched. A create or
 * delete after the watermark conflicts on every field.
 */
function conflictsOf(later: RowChangeMeta[], fields: string[] | null, model: CompiledModel): { fields: string[]; last: RowChangeMeta } | null {
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
