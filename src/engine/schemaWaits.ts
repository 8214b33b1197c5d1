/**
 * Long-polls on the schema: `GET /v1/schema?changedFrom=<hash>&waitSeconds=N`
 * waits here until the engine's schema changes (a push through this process,
 * or one another process on the same database made), the wait runs out, the
 * client goes away, or the engine drains or closes. Whatever ends it, the
 * route then answers the schema as it is: the client compares the hash.
 *
 * Nothing outlives its request: a wait removes itself when it ends, and
 * `close()` ends every wait at once (a drain does not wait out a long-poll).
 */

/** Longest a client may ask to wait, in seconds (kept under common proxy idle timeouts ×2 and far under 300 s). */
export const MAX_SCHEMA_WAIT_SECONDS = 120;

export type SchemaWaitEnd = 'changed' | 'timeout' | 'aborted' | 'closed';

export class SchemaWaits {
  private readonly waiting = new Set<(end: SchemaWaitEnd) => void>();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(schema: { onChange(listener: () => void): () => void }) {
    this.unsubscribe = schema.onChange(() => this.endAll('changed'));
  }

  /** Waits running now. */
  get count(): number {
    return this.waiting.size;
  }

  /** Resolves when the schema changes, after `ms`, when `signal` aborts, or when the engine closes the waits. */
  wait(ms: number, signal?: AbortSignal): Promise<SchemaWaitEnd> {
    if (this.closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const end = (how: SchemaWaitEnd): void => {
        if (!this.waiting.delete(end)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(how);
      };
      const onAbort = (): void => end('aborted');
      const timer = setTimeout(() => end('timeout'), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.add(end);
    });
  }

  /** End every wait (draining or closing); later waits end at once. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.endAll('closed');
  }

  private endAll(how: SchemaWaitEnd): void {
    for (const end of [...this.waiting]) end(how);
  }
}
