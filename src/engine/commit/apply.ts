/**
 * One commit, inside its savepoint: decide (`planCommit`, reading through the
 * transaction), write (`RowSink.write`, which allocates the sync ids), then
 * complete the receipt and store it under the idempotency key. Everything it
 * needs is passed in, so it can run wherever the storage runs.
 */
import type { CompiledSchema } from '../../schema/compile.js';
import type { CommitReadPort, RowSink } from '../storage/types.js';
import { completeReceipt, noSchemaError, planCommit } from './plan.js';
import type { CommitInput, CommitOutcome } from './types.js';

export async function applyCommit(
  tx: CommitReadPort & RowSink,
  input: CommitInput,
  schema: CompiledSchema | null,
  now: Date,
): Promise<CommitOutcome> {
  if (!schema) throw noSchemaError();
  input.authorized?.();
  const plan = await planCommit(
    { request: input.request, participant: input.participant, scope: input.scope, schema, now, claimCheck: input.claimCheck },
    tx,
  );
  if (plan.kind === 'replay') return { receipt: plan.receipt, changes: [], replayed: true };
  const changes = plan.changes.length > 0 ? await tx.write(plan.changes) : [];
  const receipt = completeReceipt(plan, changes, changes.length > 0 ? 0 : await tx.headSyncId());
  if (plan.idempotency) await tx.putIdempotency(plan.idempotency.key, { requestHash: plan.idempotency.requestHash, receipt });
  return { receipt, changes, replayed: false };
}
