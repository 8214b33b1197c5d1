/**
 * Title edits in progress, by task id. Kept above the cards: a card moved to
 * another column (by anyone) is a new element there, and the person's draft
 * must come along.
 */
import { createContext, useContext, useMemo, useState, type ReactNode } from 'react';

export interface Draft {
  text: string;
  /** The sync id the person started from: the write is held if someone changed the title since. */
  readAt: number;
}

interface EditsValue {
  drafts: Readonly<Record<string, Draft>>;
  set(id: string, draft: Draft | null): void;
}

const EditsContext = createContext<EditsValue | null>(null);

export function EditsProvider({ children }: { children: ReactNode }) {
  const [drafts, setDrafts] = useState<Readonly<Record<string, Draft>>>({});
  const value = useMemo<EditsValue>(
    () => ({
      drafts,
      set: (id, draft) =>
        setDrafts((all) => {
          const next = { ...all };
          if (draft) next[id] = draft;
          else delete next[id];
          return next;
        }),
    }),
    [drafts],
  );
  return <EditsContext.Provider value={value}>{children}</EditsContext.Provider>;
}

export function useDrafts(): EditsValue {
  const v = useContext(EditsContext);
  if (!v) throw new Error('useDrafts outside <EditsProvider>');
  return v;
}

export function useDraft(id: string): [Draft | null, (draft: Draft | null) => void] {
  const v = useContext(EditsContext);
  if (!v) throw new Error('useDraft outside <EditsProvider>');
  return [v.drafts[id] ?? null, (d) => v.set(id, d)];
}
