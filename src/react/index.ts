/**
 * `ablo/react`: hooks over an `Ablo()` client. Components re-render only when
 * the value they select changes (structural equality).
 *
 *   <AbloProvider client={ablo}><App /></AbloProvider>
 *   const todo = useAblo((a) => a.tasks.getAll({ where: { status: 'todo' } }));
 */
import { createContext, createElement, useCallback, useContext, useRef, useSyncExternalStore, type ReactNode } from 'react';
import type { ConnectionStatus } from '../client/connection.js';
import { deepEqual } from '../client/equal.js';
import type { AbloClient, AbloCore } from '../client/types.js';
import { abloError, AbloValidationError } from '../errors.js';
import type { Claim, ClaimQueueEntry } from '../protocol/claims.js';
import type { SchemaLike } from '../schema/types.js';

type AnyClient = AbloClient<SchemaLike>;

const AbloContext = createContext<AnyClient | null>(null);

export interface AbloProviderProps {
  /** A client made with `Ablo({ schema, ... })`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  client: AbloCore<any>;
  children?: ReactNode;
}

/** Makes `client` available to the hooks below. */
export function AbloProvider({ client, children }: AbloProviderProps): ReactNode {
  return createElement(AbloContext.Provider, { value: client as unknown as AnyClient }, children);
}

/** The client from the nearest `<AbloProvider>`. */
export function useAbloClient<S extends SchemaLike = SchemaLike>(): AbloClient<S> {
  const client = useContext(AbloContext);
  if (!client) {
    throw abloError('missing_provider');
  }
  return client as unknown as AbloClient<S>;
}

/**
 * Select a value from the local pool (or any client state). The component
 * re-renders when the selected value changes, and only then.
 */
export function useAblo<S extends SchemaLike, R>(selector: (ablo: AbloClient<S>) => R): R {
  const client = useAbloClient<S>();
  const selectorRef = useRef(selector);
  selectorRef.current = selector;
  // value: what the hook returns; raw: the selector's last result (a live query's array is the same
  // object until it changes, so an unchanged result is recognised by identity, without a deep compare).
  const cache = useRef<{ client: unknown; value: R; raw: R } | null>(null);

  const subscribe = useCallback(
    (onChange: () => void) =>
      (client as unknown as AnyClient).subscribe(
        () => selectorRef.current(client),
        () => onChange(),
      ),
    [client],
  );
  const getSnapshot = (): R => {
    const next = selectorRef.current(client);
    const prev = cache.current;
    if (prev && prev.client === client && (Object.is(prev.raw, next) || deepEqual(prev.value, next))) {
      prev.raw = next;
      return prev.value;
    }
    cache.current = { client, value: next, raw: next };
    return next;
  };
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

export interface SyncStatus {
  status: ConnectionStatus;
  /** True when the client is connected and current. */
  live: boolean;
  lastSyncId: number;
}

/** Connection status and the sync id this client is current to. */
export function useSyncStatus(): SyncStatus {
  return useAblo((a) => ({ status: a.status, live: a.status === 'live', lastSyncId: a.lastSyncId }));
}

export interface ClaimView {
  /** Who holds the row now, or null. */
  claim: Claim | null;
  /** Who waits, in order. */
  queue: ClaimQueueEntry[];
}

/** The live claim state of one row. */
export function useClaim(model: string, id: string): ClaimView {
  return useAblo((a) => {
    const m = (a as unknown as Record<string, { claim?: { state(x: { id: string }): Claim | null; queue(x: { id: string }): ClaimQueueEntry[] } }>)[model];
    if (!m?.claim) throw new AbloValidationError(`useClaim: unknown model "${model}".`, { code: 'unknown_model', model });
    return { claim: m.claim.state({ id }), queue: m.claim.queue({ id }) };
  });
}
