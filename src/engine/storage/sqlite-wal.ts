/**
 * SQLite storage: WAL checkpoints off the commit path.
 *
 * The writer's automatic checkpoint (copying the WAL back into the database
 * file, with two fsyncs) used to run inside a COMMIT every 1,000 pages: the
 * slow commits. It is raised to a safety net (`WAL_AUTOCHECKPOINT_PAGES`), and
 * a worker thread with its own connection runs PASSIVE checkpoints (they never
 * block the writer or readers) every `CHECKPOINT_EVERY_TX` transactions; the
 * WAL is then reused from its start and stays bounded. `close()` stops the
 * worker and still ends with a TRUNCATE checkpoint on the writer.
 *
 * The commit path itself keeps `synchronous = FULL` (one fsync per
 * transaction, shared by a batch). Moving that fsync to the thread pool too
 * (NORMAL + our own fdatasync of the WAL, with the next batch pipelined
 * behind it) was measured (issue 12): it freed the event loop but cost more
 * CPU per commit (smaller batches, more wake-ups) and was slower on a
 * CPU-bound 2-core machine, so it is not done.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The writer checkpoints by itself only if the background checkpoints fall this far behind (pages of 4 KiB). */
export const WAL_AUTOCHECKPOINT_PAGES = 16_000;

/** Transactions between two background checkpoint requests. */
export const CHECKPOINT_EVERY_TX = 64;

/** Runs in the checkpoint worker (CommonJS, eval'd): one connection, a PASSIVE checkpoint per request. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: workerData.busyTimeoutMs, fileMustExist: true });
parentPort.on('message', (m) => {
  if (m === 'stop') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String((e && e.message) || e) });
  }
});
`;

export interface CheckpointStats {
  /** Background checkpoints completed. */
  checkpoints: number;
  /** WAL frames in the log at the last one, and how many of them it had copied back. */
  lastLogFrames: number;
  lastCheckpointedFrames: number;
  /** The last error a background checkpoint reported (they are retried on the next request). */
  lastError: string | null;
}

export class Checkpointer {
  private worker: Worker | null = null;
  private busy = false;
  private since = 0;
  private stopped = false;
  private failures = 0;
  readonly stats: CheckpointStats = { checkpoints: 0, lastLogFrames: 0, lastCheckpointedFrames: 0, lastError: null };
  private idle: Array<() => void> = [];

  constructor(
    private readonly file: string,
    private readonly busyTimeoutMs: number,
    private readonly every = CHECKPOINT_EVERY_TX,
  ) {}

  /** A write transaction committed: ask for a checkpoint every `every` of them. */
  noteCommit(): void {
    if (++this.since >= this.every && !this.busy && !this.stopped) this.request();
  }

  /** Checkpoint now (if none is running); resolves when the worker answered. */
  checkpoint(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const answered = new Promise<void>((r) => this.idle.push(r));
    if (!this.busy) this.request();
    return answered;
  }

  private request(): void {
    this.since = 0;
    try {
      this.ensureWorker().postMessage('checkpoint');
      this.busy = true;
    } catch (err) {
      // Called right after a COMMIT: never throw there. The writer's auto-checkpoint still bounds the WAL.
      this.giveUp((err as Error).message);
    }
  }

  /** After repeated worker failures, stop asking (the writer's WAL_AUTOCHECKPOINT_PAGES still applies). */
  private giveUp(message: string): void {
    this.stats.lastError = message;
    if (++this.failures >= 3) this.stopped = true;
    this.wake();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file: this.file, busyTimeoutMs: this.busyTimeoutMs } });
    // Never keeps the process alive; close() stops it.
    worker.unref();
    worker.on('message', (m: { ok: boolean; log?: number; checkpointed?: number; error?: string }) => {
      this.busy = false;
      if (m.ok) {
        this.stats.checkpoints++;
        this.stats.lastLogFrames = m.log ?? 0;
        this.stats.lastCheckpointedFrames = m.checkpointed ?? 0;
        this.stats.lastError = null;
      } else this.stats.lastError = m.error ?? 'unknown error';
      this.wake();
    });
    worker.on('error', (err) => {
      // The writer's own auto-checkpoint (WAL_AUTOCHECKPOINT_PAGES) still bounds the WAL.
      this.busy = false;
      this.worker = null;
      this.giveUp(err.message);
    });
    this.worker = worker;
    return worker;
  }

  private wake(): void {
    const idle = this.idle;
    this.idle = [];
    for (const r of idle) r();
  }

  /** Stop the worker (after its current checkpoint) and close its connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.postMessage('stop');
    const timer = setTimeout(() => void worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
    this.wake();
  }
}
