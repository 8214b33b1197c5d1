/**
 * `<AbloProvider client>`: makes the client available to the hooks, and
 * shows what the app should while the client bootstraps (`fallback`, or
 * Suspense with `suspense`) or cannot reach the engine (`errorFallback`).
 */
import { createElement, useCallback, useSyncExternalStore, type ReactNode } from 'react';
import type { AbloCore } from '../client/types.js';
import type { AbloError } from '../errors.js';
import { AbloContext, type AnyClient } from './context.js';
import { readinessOf, SERVER_STATE } from './readiness.js';

/** A node, or a function of the error and a `retry` that calls `ready()` again. */
/** What to show when the client cannot get ready: a node, or a function of the SDK's typed error (its `code` says why) and a retry. */
export type ErrorFallback = ReactNode | ((error: AbloError, retry: () => void) => ReactNode);

export interface AbloProviderProps {
  /** A client made with `Ablo({ schema, ... })` (the provider of `createAbloReact<typeof schema>()` takes only that schema's). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  client: AbloCore<any>;
  /** Rendered until `client.ready()` resolves. Without it (and without `suspense`) children render at once. */
  fallback?: ReactNode | undefined;
  /** Suspend (throw the ready promise to the nearest `<Suspense>`) until `client.ready()` resolves. */
  suspense?: boolean | undefined;
  /**
   * Rendered when `client.ready()` rejects (no engine answered within `readyTimeoutMs`, a refused key, a strict
   * schema mismatch). Without it, children render and `useSyncStatus()` tells them the status.
   */
  errorFallback?: ErrorFallback | undefined;
  children?: ReactNode;
}

/** Makes `client` available to the hooks below it. */
export function AbloProvider(props: AbloProviderProps): ReactNode {
  const { fallback, suspense, errorFallback, children } = props;
  const client = props.client as unknown as AnyClient;
  const readiness = readinessOf(client);
  const state = useSyncExternalStore(
    useCallback((onChange: () => void) => readiness.subscribe(onChange), [readiness]),
    () => readiness.state,
    () => SERVER_STATE,
  );
  const retry = useCallback(() => readiness.retry(), [readiness]);

  let content: ReactNode = children;
  if (state.status === 'pending') {
    // Suspend only while the attempt really is pending: a server render keeps reporting 'pending' (it has no
    // connection to wait for), and throwing a settled promise there would only retry the same render.
    if (suspense && readiness.state.status === 'pending') throw readiness.settled;
    if (fallback !== undefined) content = fallback;
  } else if (state.status === 'error' && errorFallback !== undefined) {
    content = typeof errorFallback === 'function' ? errorFallback(state.error, retry) : errorFallback;
  }
  return createElement(AbloContext.Provider, { value: client }, content);
}
