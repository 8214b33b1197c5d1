/** `useUndo(scope?)`: undo and redo this client's own writes, and whether there is anything to undo. */
import { useCallback } from 'react';
import type { UndoOutcome, UndoState } from '../client/types.js';
import { useAbloClient } from './context.js';
import { useAblo } from './useAblo.js';

export interface UndoView extends UndoState {
  /** Undo the last recorded write of the scope; see `UndoOutcome` for what came of it. */
  undo(): Promise<UndoOutcome>;
  /** Redo the last undone write of the scope. */
  redo(): Promise<UndoOutcome>;
}

/** Undo and redo in `scope` (default `'default'`: every write made without an `undoScope`). */
export function useUndo(scope?: string): UndoView {
  const client = useAbloClient();
  const state = useAblo((a) => a.undoState(scope));
  const undo = useCallback(() => client.undo(scope), [client, scope]);
  const redo = useCallback(() => client.redo(scope), [client, scope]);
  return { ...state, undo, redo };
}
