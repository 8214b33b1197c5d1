/**
 * The batcher: group commit and back-pressure for the write path.
 *
 * Commits queue in arrival order. While a storage transaction runs, the ones
 * that arrive wait; then up to `maxBatch` of them share the next transaction
 * (one fsync), each in its own savepoint so it keeps its own atomicity and
 * outcome. `exclusive` jobs (schema pushes, reads that must come after every
 * queued commit) run alone, between two transactions, in queue order.
 *
 * The batcher knows nothing of what a commit does (that is the job passed to
 * `submit`) and announces nothing: the storage's change feed does, once the
 * transaction is durable. It resolves each commit after its transaction
 * returned.
 */
import { abloError, AbloServerError } from '../../errors.js';
import { TransactionDoomed, type RowRef, type Storage, type StorageTx } from '../storage/types.js';
import type { CommitOutcome } from './types.js';

/**
 * One commit's work, a unit of its transaction. `unit.guarded`: false when it
 * runs without a savepoint (`StorageTx.unguarded`), where a failure after a
 * write dooms the transaction (it runs again, guarded); a job may then take
 * the optimistic path (see `applyCommit`).
 */
export type CommitJob = (tx: StorageTx, unit: { guarded: boolean }) => Promise<CommitOutcome>;

export interface CommitBatcherOptions {
  /** Its `transaction()` is looked up on every batch (so a wrapper installed later, e.g. by a bench, is used). */
  storage: Pick<Storage, 'transaction'>;
  /** Largest number of commits in one storage transaction (default 256). */
  maxBatch?: number;
}

interface Pending {
  job: CommitJob;
  /** Rows the job will read (a hint for `StorageTx.prefetchRows`). */
  rows: readonly RowRef[] | undefined;
  resolve: (outcome: CommitOutcome) => void;
  reject: (err: unknown) => void;
}

interface ExclusiveJob {
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Result = { ok: true; outcome: CommitOutcome } | { ok: false; err: unknown };

export class CommitBatcher {
  private readonly storage: Pick<Storage, 'transaction'>;
  private readonly maxBatch: number;
  private queue: Array<Pending | ExclusiveJob> = [];
  private running = false;
  private closed = false;

  /** Told the rows of each batch inside its transaction, before its commits run, and when they have run (see `readAheadWith`). */
  private readAhead: { start(rows: readonly RowRef[]): Promise<void>; end(): void } | null = null;

  /** Commits applied, storage transactions (group commit shares them) and changes written. */
  readonly stats = { commits: 0, transactions: 0, changes: 0 };

  constructor(options: CommitBatcherOptions) {
    this.storage = options.storage;
    this.maxBatch = options.maxBatch ?? 256;
  }

  /**
   * Queue a commit; resolves with its outcome once its transaction is durable. `rows`: the rows it will read, read
   * for the whole batch at once where the storage can (`StorageTx.prefetchRows`).
   */
  submit(job: CommitJob, options: { rows?: readonly RowRef[] } = {}): Promise<CommitOutcome> {
    if (this.closed) return Promise.reject(abloError('shutting_down'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, rows: options.rows, resolve, reject });
      this.kick();
    });
  }

  /**
   * Have `hook.start` told the rows a batch's commits name, inside its transaction before they run (e.g. the claim
   * store reads their claims at once), and `hook.end` once they ran (before COMMIT), also when they failed.
   */
  readAheadWith(hook: { start(rows: readonly RowRef[]): Promise<void>; end(): void }): void {
    this.readAhead = hook;
  }

  /** Run `run` alone, after every commit queued before it and before any queued after. */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** Resolves once every commit and job queued so far has run (new ones are still taken). */
  async idle(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise((r) => setTimeout(r, 5));
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
    const results: Result[] = [];
    // Each commit is a unit of its own. First without savepoints (a commit that fails does so before it writes:
    // validation, stale, claimed…); one that fails after writing dooms the transaction, and the batch runs again
    // with a savepoint per commit (the jobs only decide and write inside `tx`, so running them again is safe).
    let guarded = false;
    for (;;) {
      try {
        await this.storage.transaction(
          async (tx) => {
            results.length = 0;
            const rows = batch.flatMap((p) => p.rows ?? []);
            if (rows.length > 0 && tx.prefetchRows) await tx.prefetchRows(rows);
            const ahead = rows.length > 0 ? this.readAhead : null;
            try {
              await ahead?.start(rows);
              await this.runJobs(tx, batch, guarded, results);
            } finally {
              ahead?.end();
            }
          },
          // Trusted: the jobs only use `tx` (no nested transaction to detect).
          { trusted: true },
        );
        break;
      } catch (err) {
        if (err instanceof TransactionDoomed && !guarded) {
          guarded = true;
          continue;
        }
        // The transaction itself failed (disk full, I/O error): nothing in it was applied.
        const cause = err instanceof TransactionDoomed ? err.reason : err;
        const failure =
          cause instanceof AbloServerError ? cause : new AbloServerError(`Commit failed in storage: ${(cause as Error).message}`, { code: 'storage_error' });
        for (const p of batch) p.reject(failure);
        return;
      }
    }
    this.stats.transactions++;
    batch.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) {
        if (!r.outcome.internal) this.stats.commits++;
        this.stats.changes += r.outcome.changes.length;
        p.resolve(r.outcome);
      } else p.reject(r.err);
    });
  }

  /** Each commit of the batch as a unit of `tx`, its result in `results` (a doomed transaction throws). */
  private async runJobs(tx: StorageTx, batch: Pending[], guarded: boolean, results: Result[]): Promise<void> {
    for (const p of batch) {
      const inSavepoint = guarded || !tx.unguarded;
      const job = (): Promise<CommitOutcome> => p.job(tx, { guarded: inSavepoint });
      try {
        results.push({ ok: true, outcome: await (inSavepoint ? tx.savepoint(job) : tx.unguarded!(job)) });
      } catch (err) {
        if (err instanceof TransactionDoomed) throw err;
        results.push({ ok: false, err });
      }
    }
  }
}
