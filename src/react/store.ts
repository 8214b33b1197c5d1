/**
 * One external-store reader for every hook: `read()` is re-run on each
 * notification and its result kept while it is structurally equal, so
 * `useSyncExternalStore` sees the same value (and React renders nothing) until
 * what the component selected really changed.
 */
import { useCallback, useRef, useSyncExternalStore } from 'react';
import { deepEqual } from '../client/equal.js';

/**
 * `subscribe(onChange, read)` returns an unsubscribe; `read` there is always
 * the latest render's. `read` may build a fresh object each call. `key`
 * changes (a new client, another group) drop the cache and resubscribe.
 */
export function useStructuralStore<R>(
  subscribe: (onChange: () => void, read: () => R) => () => void,
  read: () => R,
  key: readonly unknown[],
): R {
  const readRef = useRef(read);
  readRef.current = read;
  // value: what the hook returns; raw: the last result of read() (a live query's array is the same object
  // until it changes, so an unchanged result is recognised by identity, without a deep compare).
  const cache = useRef<{ key: readonly unknown[]; value: R; raw: R } | null>(null);
  // Resubscribe only when the key changes, not on every render (selectors are usually inline functions).
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const stableSubscribe = useCallback((onChange: () => void) => subscribe(onChange, () => readRef.current()), key);
  const getSnapshot = (): R => {
    const next = readRef.current();
    const prev = cache.current;
    if (prev && sameKey(prev.key, key) && (Object.is(prev.raw, next) || deepEqual(prev.value, next))) {
      prev.raw = next;
      return prev.value;
    }
    cache.current = { key, value: next, raw: next };
    return next;
  };
  // The server renders from the same local state (an SSR client has no rows yet, so selectors see empty pools).
  return useSyncExternalStore(stableSubscribe, getSnapshot, getSnapshot);
}

function sameKey(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}
