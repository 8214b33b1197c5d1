/**
 * Edits the engine held as stale (`onStale: 'notify'`): what this person
 * tried, and what the row holds now, until they keep theirs or the other one.
 */
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import type { StaleNotification } from 'ablo';
import { useAbloClient } from './hooks.js';

export interface HeldEdit {
  id: string;
  rowId: string;
  fields: string[];
  mine: Record<string, unknown>;
  theirs: Record<string, unknown>;
  notification: StaleNotification;
}

interface ConflictsValue {
  conflicts: readonly HeldEdit[];
  add(rowId: string, mine: Record<string, unknown>, notification: StaleNotification): void;
  resolve(id: string, choice: 'mine' | 'theirs'): Promise<void>;
  dismiss(id: string): void;
}

const ConflictsContext = createContext<ConflictsValue | null>(null);

let seq = 0;

export function ConflictsProvider({ children }: { children: ReactNode }) {
  const ablo = useAbloClient();
  const [conflicts, setConflicts] = useState<readonly HeldEdit[]>([]);
  const add = useCallback((rowId: string, mine: Record<string, unknown>, notification: StaleNotification) => {
    const theirs = Object.fromEntries(notification.conflictingFields.map((f) => [f, notification.currentValues[f]]));
    setConflicts((list) => [...list, { id: `held-${++seq}`, rowId, fields: notification.conflictingFields, mine, theirs, notification }]);
  }, []);
  const dismiss = useCallback((id: string) => setConflicts((list) => list.filter((c) => c.id !== id)), []);
  const resolve = useCallback(
    async (id: string, choice: 'mine' | 'theirs') => {
      const c = conflicts.find((x) => x.id === id);
      if (!c) return;
      if (choice === 'mine') await ablo.tasks.update({ id: c.rowId, data: c.mine, onStale: 'overwrite' });
      dismiss(id);
    },
    [ablo, conflicts, dismiss],
  );
  const value = useMemo(() => ({ conflicts, add, resolve, dismiss }), [conflicts, add, resolve, dismiss]);
  return <ConflictsContext.Provider value={value}>{children}</ConflictsContext.Provider>;
}

export function useBoardConflicts(): ConflictsValue {
  const v = useContext(ConflictsContext);
  if (!v) throw new Error('useBoardConflicts outside <ConflictsProvider>');
  return v;
}
