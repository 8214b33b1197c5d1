/**
 * How an MCP session learns that the engine's schema changed, so that it can
 * rebuild its tools (./server.ts `refreshSchema`) and tell its client
 * (`notifications/tools/list_changed`).
 *
 * - `engineSchemaWatch`: inside the engine (its `/mcp` endpoint), straight
 *   from the engine's own schema changes (`RouteHost.onSchemaChange`: a push
 *   through this process, or one another process on the same Postgres
 *   database made).
 * - `pollingSchemaWatch`: from another process (`ablo mcp` on stdio), a
 *   long-poll on `GET /v1/schema?changedFrom=<hash>&waitSeconds=N` that the
 *   engine answers when the schema changes. An unreachable engine (restarting,
 *   say) is asked again with a growing pause; the session goes on with the
 *   tools it has.
 */
import type { RouteHost } from '../src/engine/index.js';
import type { EngineApi, SchemaDocument } from './engineApi.js';

/** Told about each change; `doc` is the new schema document when the watch has it (else the session reads it). */
export type SchemaChangeListener = (doc?: SchemaDocument) => void;

export interface SchemaWatch {
  /**
   * Start watching from the schema with hash `from` (the one the session's
   * tools were made from; null for none). Returns the function that stops it.
   */
  subscribe(from: string | null, listener: SchemaChangeListener): () => void;
}

/** Changes as the engine itself sees them (for sessions the engine serves). */
export function engineSchemaWatch(onSchemaChange: RouteHost['onSchemaChange']): SchemaWatch {
  return {
    subscribe: (_from, listener) => onSchemaChange(() => listener()),
  };
}

export interface PollingSchemaWatchOptions {
  /** Longest wait of one long-poll, in seconds (default 50: under common 60 s proxy idle timeouts; the engine allows 120). */
  waitSeconds?: number;
  /** First pause after a failed poll, in ms (default 500); it doubles on each failure in a row. */
  retryMs?: number;
  /** Longest pause between failed polls, in ms (default 15,000). */
  maxRetryMs?: number;
  log?: (line: string) => void;
}

export const DEFAULT_SCHEMA_WAIT_SECONDS = 50;
/**
 * An unchanged answer that came back this much sooner than asked means the
 * engine did not hold the request (it is draining, or predates long-polls):
 * pause this long before asking again instead of asking in a tight loop.
 */
const EARLY_ANSWER_MS = 1000;
const EARLY_ANSWER_PAUSE_MS = 2000;

/** `ms` of waiting, cut short when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Changes seen by long-polling the engine's HTTP API (for a session in another process). */
export function pollingSchemaWatch(api: Pick<EngineApi, 'schemaChange'>, options: PollingSchemaWatchOptions = {}): SchemaWatch {
  const waitSeconds = options.waitSeconds ?? DEFAULT_SCHEMA_WAIT_SECONDS;
  const retryMs = options.retryMs ?? 500;
  const maxRetryMs = options.maxRetryMs ?? 15_000;
  const log = options.log ?? (() => {});
  return {
    subscribe(from, listener) {
      const abort = new AbortController();
      const { signal } = abort;
      void (async () => {
        let seen = from;
        let failures = 0;
        while (!signal.aborted) {
          const started = Date.now();
          try {
            const doc = await api.schemaChange(seen, waitSeconds, signal);
            if (signal.aborted) return;
            if (failures > 0) log(`schema watch: the engine answers again`);
            failures = 0;
            const hash = doc.hash ?? null;
            if (hash !== seen) {
              seen = hash;
              listener(doc);
            } else if (Date.now() - started < EARLY_ANSWER_MS) {
              await pause(EARLY_ANSWER_PAUSE_MS, signal);
            }
          } catch (err) {
            if (signal.aborted) return;
            failures++;
            // Said once per outage; the tools stay as they are meanwhile.
            if (failures === 1) log(`schema watch: ${reason(err)}; the tools stay as they are, asking again`);
            await pause(Math.min(maxRetryMs, retryMs * 2 ** Math.min(failures - 1, 10)), signal);
          }
        }
      })();
      return () => abort.abort();
    },
  };
}
