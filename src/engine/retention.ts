/**
 * Retention: how long the change log and the idempotency records are kept,
 * and the timer that prunes them (`Storage.prune`). See docs/engine.md,
 * "Retention".
 *
 * - Change log (default 7 days): a client whose last sync id is older than
 *   what the log still holds gets a fresh bootstrap instead of a catch-up,
 *   and a `readAt` older than it counts as stale.
 * - Idempotency records (default 24 h): the engine refuses a keyed
 *   transaction older than this (`idempotency_expired`, by the `ageMs` the
 *   SDK sends) and keeps each receipt a little longer (`IDEMPOTENCY_GRACE_MS`),
 *   so a transaction it accepts either finds its receipt or was never
 *   applied: never applied twice.
 */
import { AbloValidationError } from '../errors.js';
import type { PruneCutoff, PruneResult, Storage } from './storage/types.js';

export interface RetentionOptions {
  /** Keep change-log entries this long, in ms (default 7 days). */
  changeLogMs?: number;
  /**
   * Refuse client transactions older than this, in ms (`idempotency_expired`),
   * and keep idempotency records this long plus a grace minute (default 24 h).
   * It bounds how long an SDK client may hold a write in its outbox (offline).
   */
  idempotencyMs?: number;
  /** How often the engine prunes, in ms (default 10 minutes); `engine.prune()` runs one now. */
  intervalMs?: number;
}

export type RetentionSettings = Required<RetentionOptions>;

const HOUR = 60 * 60 * 1000;

export const DEFAULT_RETENTION: RetentionSettings = {
  changeLogMs: 7 * 24 * HOUR,
  idempotencyMs: 24 * HOUR,
  intervalMs: 10 * 60 * 1000,
};

/**
 * Receipts are kept this much longer than the idempotency window: a
 * transaction's age is measured by the client up to when it sent it, so the
 * time on the wire and in the queue is not in it.
 */
export const IDEMPOTENCY_GRACE_MS = 60 * 1000;

/** The settings with defaults filled in; a value that is not a positive number of ms is refused (`invalid_option`). */
export function resolveRetention(options: RetentionOptions | undefined): RetentionSettings {
  const out = { ...DEFAULT_RETENTION };
  for (const key of Object.keys(DEFAULT_RETENTION) as Array<keyof RetentionSettings>) {
    const v = options?.[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new AbloValidationError(`retention.${key} must be a positive number of milliseconds, got ${JSON.stringify(v)}.`, {
        code: 'invalid_option',
        field: `retention.${key}`,
      });
    }
    out[key] = Math.floor(v);
  }
  return out;
}

/** What a prune at `now` removes under `settings`. */
export function pruneCutoff(settings: RetentionSettings, now: Date): PruneCutoff {
  const t = now.getTime();
  return {
    changesBefore: new Date(t - settings.changeLogMs).toISOString(),
    idempotencyBefore: new Date(t - settings.idempotencyMs - IDEMPOTENCY_GRACE_MS).toISOString(),
  };
}

/** The first prune after a start comes this soon (or after `intervalMs`, if shorter): an engine restarted more often than `intervalMs` still prunes. */
export const FIRST_PRUNE_MS = 60 * 1000;

/** Prunes the storage every `intervalMs` (unref'd timers: they never keep the process alive), one prune at a time. */
export class Pruner {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<PruneResult> | null = null;
  private stopped = false;

  constructor(
    private readonly storage: Pick<Storage, 'prune'>,
    readonly settings: RetentionSettings,
    private readonly log: (line: string) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule(Math.min(FIRST_PRUNE_MS, this.settings.intervalMs));
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => {
      this.prune()
        .catch((err: unknown) => {
          if (!this.stopped) this.log(`retention: prune failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          if (!this.stopped) this.schedule(this.settings.intervalMs);
        });
    }, delay);
    this.timer.unref();
  }

  /** Prune now (a prune already running is waited for instead of starting another). */
  prune(): Promise<PruneResult> {
    this.running ??= this.storage.prune(pruneCutoff(this.settings, this.now())).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stop the timer. A prune under way stops at its next chunk, when the storage closes. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
