/**
 * SQLite storage: the WAL's fsync and checkpoints, off the event loop.
 *
 * - `WalSync`: with `durability: 'full'` the writer runs with
 *   `synchronous = NORMAL` (a COMMIT writes its WAL frames but does not wait
 *   for the disk) and the storage then waits for an `fdatasync` of the WAL
 *   file on libuv's thread pool before it resolves or announces the
 *   transaction. The bytes and the guarantee are those of `synchronous =
 *   FULL` (a resolved transaction is on disk), but the event loop keeps
 *   serving sockets while the disk works. One sync covers every commit
 *   written before it starts, so concurrent waiters share one.
 *   If the disk refuses a sync the storage refuses every later write (what
 *   was committed is in an unknown state until the engine restarts).
 * - `Checkpointer`: the writer's automatic checkpoint (copying the WAL back
 *   into the database file, with two fsyncs) used to run inside a COMMIT,
 *   every 1,000 pages: the slow commits. It is raised to a safety net
 *   (`WAL_AUTOCHECKPOINT_PAGES`) and a worker thread with its own connection
 *   runs PASSIVE checkpoints (they never block the writer or readers) every
 *   `CHECKPOINT_EVERY_TX` transactions; the WAL is then reused from its start
 *   and stays bounded. `close()` still ends with a TRUNCATE checkpoint.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The writer checkpoints by itself only if the background checkpoints fall this far behind (pages of 4 KiB). */
export const WAL_AUTOCHECKPOINT_PAGES = 16_000;

/** Transactions between two background checkpoint requests. */
export const CHECKPOINT_EVERY_TX = 64;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class WalSync {
  private fd: number | null;
  private running = false;
  private waiters: Waiter[] = [];
  private failure: Error | null = null;
  /** fdatasync calls made (each may cover several transactions). */
  syncs = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  /** The sticky failure, once a sync failed. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Resolves once an fdatasync of the WAL that started after this call has completed. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.running) this.start();
    });
  }

  /** fdatasync now, on this thread (opening and closing only). */
  syncNow(): void {
    if (this.fd !== null) fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private start(): void {
    const batch = this.waiters;
    this.waiters = [];
    this.running = true;
    const done = (err: Error | null): void => {
      this.running = false;
      if (err) this.failure ??= err;
      for (const w of batch) this.failure ? w.reject(this.failure) : w.resolve();
      if (this.waiters.length > 0) this.start();
    };
    if (this.failure) return done(this.failure);
    const fd = this.fd;
    if (fd === null) return done(new Error('the WAL file is closed'));
    this.syncs++;
    // The writer's connection keeps the WAL file open for the storage's lifetime (SQLite removes it only
    // when the last connection closes, and a TRUNCATE checkpoint keeps the file), so this fd stays its file.
    fdatasync(fd, (err) => done(err ?? null));
  }
}

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
    if (!this.busy) this.request();
    return new Promise((r) => this.idle.push(r));
  }

  private request(): void {
    this.since = 0;
    this.busy = true;
    this.ensureWorker().postMessage('checkpoint');
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
      this.stats.lastError = err.message;
      this.busy = false;
      this.worker = null;
      this.wake();
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
