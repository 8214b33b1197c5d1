/**
 * The commit path, in three parts (see docs/engine.md, "The commit path"):
 *
 * - `commit/batcher.ts`: group commit and back-pressure (the queue,
 *   `exclusive` jobs, one storage transaction per batch, a savepoint per
 *   commit);
 * - `commit/plan.ts`: `planCommit`, the decision (validation, idempotency,
 *   read dependencies, stale and claim guards) from explicit inputs and a
 *   read port into the transaction;
 * - the storage's `RowSink` (`tx.write`), which applies the plan and
 *   allocates sync ids inside the transaction.
 *
 * `CommitPipeline` puts them together for the HTTP API and the sync server:
 * `submit(input)` runs `applyCommit` for that input in the next batch, with
 * the schema current at that moment. Durable changes are announced by the
 * storage's `ChangeFeed`, not here.
 */
import type { CompiledSchema } from '../schema/compile.js';
import type { Actor } from './auth/principal.js';
import { applyCommit } from './commit/apply.js';
import type { CommitBatcher } from './commit/batcher.js';
import type { CommitInput, CommitOutcome } from './commit/types.js';
import type { ChangeFeed, RowRef } from './storage/types.js';

export type { CommitInput, CommitOutcome, ClaimCheck } from './commit/types.js';
export { CommitBatcher, type CommitBatcherOptions, type CommitJob } from './commit/batcher.js';
export { applyCommit } from './commit/apply.js';
export { receiptWithRows } from './commit/receipt.js';
export { completeReceipt, planCommit, requestHash, type CommitPlan, type PlanInput, type PlannedResult } from './commit/plan.js';

/** What a commit records of its actor (the guard's `actor`): the writer, whom it acts for, the credential. */
export function commitWriter(actor: Actor): Pick<CommitInput, 'participant' | 'onBehalfOf' | 'credentialId'> {
  return { participant: actor.writtenBy, ...(actor.onBehalfOf ? { onBehalfOf: actor.onBehalfOf } : {}), credentialId: actor.credentialId };
}

export interface CommitPipelineOptions {
  batcher: CommitBatcher;
  /** Where the current schema comes from (read when a commit's turn comes). */
  schema: { current(): CompiledSchema | null };
  /** The storage's feed: its head is the engine's current sync id. */
  feed: Pick<ChangeFeed, 'head'>;
  now?: () => Date;
  /** Refuse keyed commits older than this (ms, their `ageMs`) with `idempotency_expired` (see `PlanInput`). */
  idempotencyWindowMs?: number;
}

export class CommitPipeline {
  private readonly batcher: CommitBatcher;
  private readonly schema: { current(): CompiledSchema | null };
  private readonly feed: Pick<ChangeFeed, 'head'>;
  private readonly now: () => Date;
  private readonly idempotencyWindowMs: number | undefined;
  /** Data Source mode: commits to source models take the source's path (`SourceService.route`). */
  private router: ((input: CommitInput) => Promise<CommitOutcome> | null) | null = null;

  constructor(options: CommitPipelineOptions) {
    this.batcher = options.batcher;
    this.schema = options.schema;
    this.feed = options.feed;
    this.now = options.now ?? (() => new Date());
    this.idempotencyWindowMs = options.idempotencyWindowMs;
  }

  /** Last durable sync id (the change feed's head). */
  get currentSyncId(): number {
    return this.feed.head();
  }

  /** Commits applied, storage transactions and changes written, since start. */
  get stats(): { commits: number; transactions: number; changes: number } {
    return this.batcher.stats;
  }

  /**
   * Send commits elsewhere when `route` answers a promise (Data Source models); null keeps them on this
   * path. Set once, at engine start.
   */
  routeWith(route: (input: CommitInput) => Promise<CommitOutcome> | null): void {
    this.router = route;
  }

  /** Queue a commit; resolves with its receipt once durable. */
  submit(input: CommitInput): Promise<CommitOutcome> {
    const routed = this.router?.(input);
    if (routed) return routed;
    return this.batcher.submit(
      (tx, unit) =>
        applyCommit(tx, input, this.schema.current(), this.now(), {
          optimistic: !unit.guarded,
          ...(this.idempotencyWindowMs !== undefined ? { idempotencyWindowMs: this.idempotencyWindowMs } : {}),
        }),
      { rows: rowsNamed(input) },
    );
  }

  /** Run `run` alone, between commit transactions. */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    return this.batcher.exclusive(run);
  }

  /** Stop taking commits and wait for the queue to drain. */
  close(): Promise<void> {
    return this.batcher.close();
  }
}

/** The rows a commit's operations name (each one is read to plan it). */
function rowsNamed(input: CommitInput): RowRef[] {
  const ops = (input.request as { operations?: unknown }).operations;
  if (!Array.isArray(ops)) return [];
  const rows: RowRef[] = [];
  for (const op of ops as Array<{ model?: unknown; id?: unknown }>) {
    if (typeof op?.model === 'string' && typeof op.id === 'string') rows.push({ model: op.model, id: op.id });
  }
  return rows;
}
