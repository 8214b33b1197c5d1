import { createContext, useContext } from 'react';

/** Sets the card this page has focused (announced to the others as presence). */
export const FocusContext = createContext<(taskId: string | null) => void>(() => {});

export function useSetFocus(): (taskId: string | null) => void {
  return useContext(FocusContext);
}
