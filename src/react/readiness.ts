/**
 * Whether a client's `ready()` has resolved, as an external store, one per
 * client (a WeakMap): every provider of the client, every render, and every
 * Suspense retry see the same promise, so `ready()` is called once per
 * attempt, not once per render.
 */
import { AbloConnectionError, AbloError } from '../errors.js';
import type { AnyClient } from './context.js';

export type ReadyState =
  | { status: 'pending' }
  | { status: 'ready' }
  | { status: 'error'; error: AbloError };

export interface Readiness {
  /** The current state; a new object on each change (it is a useSyncExternalStore snapshot). */
  state: ReadyState;
  /** Settles (never rejects) when the current attempt does: what a suspended render waits for. */
  settled: Promise<void>;
  subscribe(listener: () => void): () => void;
  /** After a failure: call `ready()` again. */
  retry(): void;
}

const PENDING: ReadyState = { status: 'pending' };
const READY: ReadyState = { status: 'ready' };
/** What a server render sees: the page is not connected there, so it renders the fallback. */
export const SERVER_STATE: ReadyState = PENDING;

const byClient = new WeakMap<object, Readiness>();

export function readinessOf(client: AnyClient): Readiness {
  let r = byClient.get(client);
  if (!r) {
    r = createReadiness(client);
    byClient.set(client, r);
  }
  return r;
}

function createReadiness(client: AnyClient): Readiness {
  const listeners = new Set<() => void>();
  let attempt = 0;
  let stopWatching: (() => void) | null = null;

  const set = (state: ReadyState): void => {
    readiness.state = state;
    for (const l of [...listeners]) l();
  };

  const start = (): void => {
    const mine = ++attempt;
    readiness.settled = client.ready().then(
      () => {
        if (mine !== attempt) return;
        stopWatching?.();
        stopWatching = null;
        set(READY);
      },
      (error: unknown) => {
        if (mine !== attempt) return;
        // ready() rejects with the SDK's typed errors; anything else (a bug) still reaches the app as one, with a code.
        const typed = error instanceof AbloError ? error : new AbloConnectionError(error instanceof Error ? error.message : String(error));
        set({ status: 'error', error: typed });
        watchForRecovery();
      },
    );
  };

  // The client keeps reconnecting after ready() gave up: when it gets through, wait for ready() again
  // without anyone pressing retry (a refused key never gets here: the client stops for good).
  const watchForRecovery = (): void => {
    if (stopWatching) return;
    stopWatching = client.on('connection:change', ({ status }) => {
      if (status === 'live' && readiness.state.status === 'error') readiness.retry();
    });
  };

  const readiness: Readiness = {
    state: PENDING,
    settled: Promise.resolve(),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    retry() {
      if (readiness.state.status !== 'error') return;
      set(PENDING);
      start();
    },
  };
  start();
  return readiness;
}
