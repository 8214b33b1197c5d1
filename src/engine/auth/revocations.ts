/**
 * Revocations reach every engine process on one database.
 *
 * A revocation (an API key's `DELETE /v1/keys/:id` or `ablo keys revoke`, a
 * session's `DELETE /v1/sessions/:id`) is a record in the storage: the key's
 * `revokedAt`, a `session_revoked:<id>` engine record. The process that
 * revokes tells its own listeners at once (the guard, sockets, claims, `/mcp`
 * sessions). Every other process learns of it through the watcher here:
 *
 * - a poll of the records every `pollMs` (default 500 ms): the backstop;
 * - a hint on the storage's change-feed channel (Postgres `NOTIFY … 'revoked'`,
 *   sent at the revocation's COMMIT): a refresh at once, usually within a few ms;
 * - the write path (Postgres): a revocation moves a counter on the head row
 *   that every write transaction takes first; a transaction that finds it
 *   moved waits for a refresh before any of its commits is authorized. So a
 *   commit that reaches any process after the revocation's answer is refused
 *   and writes nothing, whatever the timing of the poll or the hint.
 *
 * On a credential it had not seen revoked, the watcher tells the
 * authenticator that owns it (`ApiKeyAuthenticator.revoked`,
 * `SessionAuthenticator`'s own listeners), which tells the guard and the rest.
 */
import type { ApiKeyAuthenticator } from '../apiKeys.js';
import type { ApiKeyRecord, Storage } from '../storage/types.js';

/** How often each process reads the revocation records at most (the backstop of the feed's hint). */
export const REVOCATION_POLL_MS = 500;

/**
 * Runs `load` one at a time. `fresh()` answers a load that starts after the
 * call (joining one queued, never one already running: that one may have read
 * before what the caller knows was written); `recent()` any load in flight.
 */
export class SerialLoad {
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly load: () => Promise<void>) {}

  fresh(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    const queued = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.start();
      });
    this.queued = queued;
    return queued;
  }

  recent(): Promise<void> {
    return this.queued ?? this.running ?? this.start();
  }

  private start(): Promise<void> {
    const p: Promise<void> = this.load().finally(() => {
      if (this.running === p) this.running = null;
    });
    this.running = p;
    return p;
  }
}

/** What the watcher needs of the session authenticator: read the session revocations and tell its listeners of new ones. */
export interface SessionRevocationSource {
  refreshRevoked(): Promise<void>;
}

export interface RevocationWatcherOptions {
  storage: Storage;
  apiKeys: ApiKeyAuthenticator;
  sessions?: SessionRevocationSource | undefined;
  pollMs?: number;
  log?: (line: string) => void;
}

export class RevocationWatcher {
  /** API keys known revoked (their listeners were told, or they were revoked before this process started). */
  private readonly revokedKeys = new Set<string>();
  private readonly loads = new SerialLoad(() => this.load());
  private timer: NodeJS.Timeout | null = null;
  private offStorage: (() => void) | null = null;
  private failing = false;

  constructor(private readonly opts: RevocationWatcherOptions) {}

  /** Read the records once (what is revoked already is the baseline: nothing here can hold it), then poll. */
  async start(): Promise<void> {
    for (const k of await this.opts.storage.listApiKeys()) if (k.revokedAt) this.revokedKeys.add(k.id);
    this.offStorage = this.opts.storage.onRevocation?.(() => this.refresh()) ?? null;
    const every = this.opts.pollMs ?? REVOCATION_POLL_MS;
    this.timer = setInterval(() => {
      this.refresh().then(
        () => {
          this.failing = false;
        },
        (err: unknown) => {
          if (!this.failing) this.opts.log?.(`revocations: reading the revocation records failed (${(err as Error)?.message ?? String(err)}); retrying every ${every} ms`);
          this.failing = true;
        },
      );
    }, every);
    this.timer.unref();
  }

  /** Read the revocation records now (a load that starts after this call) and tell the listeners of new ones. */
  refresh(): Promise<void> {
    return this.loads.fresh();
  }

  /** This process revoked `record`: tell its listeners now (once: the poll will not tell them again). */
  keyRevoked(record: ApiKeyRecord): void {
    if (this.revokedKeys.has(record.id)) return;
    this.revokedKeys.add(record.id);
    this.opts.apiKeys.revoked(record);
  }

  private async load(): Promise<void> {
    const [keys] = await Promise.all([this.opts.storage.listApiKeys(), this.opts.sessions?.refreshRevoked()]);
    for (const k of keys) if (k.revokedAt) this.keyRevoked(k);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.offStorage?.();
    this.offStorage = null;
  }
}
