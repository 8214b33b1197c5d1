import { createContext, useContext } from 'react';
import type { Session } from './client.js';

/** The signed-in session, with the board on screen and a way to switch it. */
export interface BoardSession extends Session {
  switchBoard(boardId: string): void;
}

export const SessionContext = createContext<BoardSession | null>(null);

export function useSession(): BoardSession {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside <SessionContext.Provider>');
  return s;
}
