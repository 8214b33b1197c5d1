/**
 * `useConflicts()`: this client's writes the engine held (`onStale: 'notify'`,
 * and undo of a field someone changed since), with the row's current values,
 * so a person can choose.
 */
import { useCallback } from 'react';
import type { Conflict } from '../client/types.js';
import { useAbloClient } from './context.js';
import { useStructuralStore } from './store.js';

export interface ConflictsView {
  /** Held writes not yet resolved or dismissed, oldest first. */
  conflicts: readonly Conflict[];
  /** `'mine'`: write this client's values again over the current ones; `'theirs'`: keep the row. */
  resolve(id: string, choice: 'mine' | 'theirs'): Promise<void>;
  /** Forget it without writing. */
  dismiss(id: string): void;
}

export function useConflicts(): ConflictsView {
  const client = useAbloClient();
  const conflicts = useStructuralStore(
    (onChange) => client.conflicts.subscribe(() => onChange()),
    () => client.conflicts.list(),
    [client],
  );
  const resolve = useCallback((id: string, choice: 'mine' | 'theirs') => client.conflicts.resolve(id, choice), [client]);
  const dismiss = useCallback((id: string) => client.conflicts.dismiss(id), [client]);
  return { conflicts, resolve, dismiss };
}
