/**
 * `<SyncGroupProvider groups>`: the sync groups the client receives while
 * this is mounted (switch boards by rendering it with other groups), and the
 * default group of `usePresence` below it.
 */
import { createElement, useEffect, useMemo, useState, type ReactNode } from 'react';
import { SyncGroupContext, useAbloClient } from './context.js';

export interface SyncGroupProviderProps {
  /** The groups to receive; compared by value, so an inline array is fine. */
  groups: readonly string[];
  /** Rendered until the new groups' rows are in the local pool. Without it children render at once. */
  fallback?: ReactNode | undefined;
  children?: ReactNode;
}

function sameGroups(a: readonly string[] | undefined, b: readonly string[]): boolean {
  if (!a || a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((g) => set.has(g));
}

/**
 * Calls `client.setSyncGroups(groups)` when `groups` change (by value); children render once it resolves (or at
 * once, without `fallback`). A refusal (a session not allowed the group) is thrown to the nearest error boundary.
 */
export function SyncGroupProvider({ groups, fallback, children }: SyncGroupProviderProps): ReactNode {
  const client = useAbloClient();
  const key = JSON.stringify(groups);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const value = useMemo(() => [...groups], [key]);
  // Whether the client already received exactly these groups when they were given (checked before the effect
  // calls setSyncGroups, which may update client.syncGroups before the new rows are in).
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const alreadyThere = useMemo(() => sameGroups(client.syncGroups, value), [client, value]);
  const [done, setDone] = useState<{ client: unknown; key: string; error?: unknown } | null>(null);

  useEffect(() => {
    if (alreadyThere) return;
    let current = true;
    client.setSyncGroups([...value]).then(
      () => current && setDone({ client, key }),
      (error: unknown) => current && setDone({ client, key, error }),
    );
    return () => {
      current = false;
    };
  }, [client, key, value, alreadyThere]);

  const settled = done !== null && done.client === client && done.key === key;
  if (settled && done.error !== undefined) throw done.error;
  const ready = alreadyThere || settled;
  const content = !ready && fallback !== undefined ? fallback : children;
  return createElement(SyncGroupContext.Provider, { value }, content);
}
