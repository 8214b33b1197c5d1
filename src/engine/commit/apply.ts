/**
 * One commit, inside its savepoint: decide (`planCommit`, reading through the
 * transaction), write (`RowSink.write`, which allocates the sync ids), then
 * complete the receipt and store it under the idempotency key. Everything it
 * needs is passed in, so it can run wherever the storage runs.
 */
import type { CompiledSchema } from '../../schema/compile.js';
import type { CommitReadPort, RowSink } from '../storage/types.js';
import { completeReceipt, noSchemaError, planCommit, replayOf, type CommitPlan, type PlanInput } from './plan.js';
import type { CommitInput, CommitOutcome } from './types.js';

/** What `planCommit` is given for a commit input (the writer, its scope and claims, the schema, the time). */
export function planInputOf(
  input: CommitInput,
  schema: CompiledSchema,
  now: Date,
  options: { lookUpKey?: boolean; idempotencyWindowMs?: number | undefined } = {},
): PlanInput {
  return {
    request: input.request,
    participant: input.participant,
    ...(input.onBehalfOf ? { onBehalfOf: input.onBehalfOf } : {}),
    ...(input.credentialId !== undefined ? { credentialId: input.credentialId } : {}),
    scope: input.scope,
    schema,
    now,
    claimCheck: input.claimCheck,
    ...(options.lookUpKey !== undefined ? { lookUpKey: options.lookUpKey } : {}),
    ...(options.idempotencyWindowMs !== undefined ? { idempotencyWindowMs: options.idempotencyWindowMs } : {}),
  };
}

export async function applyCommit(
  tx: CommitReadPort & RowSink,
  input: CommitInput,
  schema: CompiledSchema | null,
  now: Date,
  options: { optimistic?: boolean; idempotencyWindowMs?: number } = {},
): Promise<CommitOutcome> {
  if (!schema) throw noSchemaError();
  input.authorized?.();
  const key = input.request.idempotencyKey;
  // Optimistic (a unit without a savepoint): the key is not looked up first. A used key shows when storing it
  // fails after the writes, which dooms the transaction: it runs again with savepoints, looking first. A commit
  // that fails before writing looks then, so a resend still gets its receipt rather than, say, stale_context.
  const lookFirst = !options.optimistic || !key;
  let plan: CommitPlan;
  try {
    plan = await planCommit(planInputOf(input, schema, now, { lookUpKey: lookFirst, idempotencyWindowMs: options.idempotencyWindowMs }), tx);
  } catch (err) {
    if (lookFirst) throw err;
    const prior = await priorReceipt(tx, input.request);
    if (prior) return prior;
    throw err;
  }
  if (plan.kind === 'replay') return { receipt: plan.receipt, changes: [], replayed: true };
  const changes = plan.changes.length > 0 ? await tx.write(plan.changes) : [];
  const receipt = completeReceipt(plan, changes, changes.length > 0 ? 0 : await tx.headSyncId());
  if (plan.idempotency) await tx.putIdempotency(plan.idempotency.key, { requestHash: plan.idempotency.requestHash, receipt });
  return { receipt, changes, replayed: false };
}

/** The stored outcome of this request's key, if it was used (a replay, or the reuse error). */
async function priorReceipt(tx: CommitReadPort, request: CommitInput['request']): Promise<CommitOutcome | null> {
  const plan = await replayOf(request, tx);
  return plan ? { receipt: plan.receipt, changes: [], replayed: true } : null;
}
