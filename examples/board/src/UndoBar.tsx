/**
 * Undo / redo of this person's own edits (Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y
 * outside a text field). An undo is guarded like an edit: a field someone
 * changed since is held and shows in the conflict banner instead of being
 * overwritten; a card someone holds says who.
 */
import { useEffect, useState } from 'react';
import type { UndoOutcome } from 'ablo';
import { useUndo } from './hooks.js';

function describe(what: 'Undo' | 'Redo', outcome: UndoOutcome): string | null {
  switch (outcome.status) {
    case 'applied':
    case 'empty':
      return null;
    case 'held':
      return `${what} not applied: someone changed it since (see above).`;
    case 'claimed':
      return `${what} waits: ${outcome.holder ? outcome.holder.id : 'someone'} is working on that card.`;
  }
}

export function UndoBar() {
  const { undo, redo, canUndo, canRedo } = useUndo();
  const [notice, setNotice] = useState<string | null>(null);
  const run = (what: 'Undo' | 'Redo'): void => {
    (what === 'Undo' ? undo() : redo()).then(
      (outcome) => setNotice(describe(what, outcome)),
      (err: Error) => setNotice(`${what} failed: ${err.message}`),
    );
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (!(e.ctrlKey || e.metaKey)) return;
      // Text fields keep their own undo.
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
      const key = e.key.toLowerCase();
      if (key === 'z' && !e.shiftKey) {
        e.preventDefault();
        run('Undo');
      } else if ((key === 'z' && e.shiftKey) || key === 'y') {
        e.preventDefault();
        run('Redo');
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });
  return (
    <span className="undo-bar">
      <button type="button" data-testid="undo" disabled={!canUndo} onClick={() => run('Undo')} title="Undo your last edit (Ctrl+Z)">
        ↶ Undo
      </button>
      <button type="button" data-testid="redo" disabled={!canRedo} onClick={() => run('Redo')} title="Redo (Ctrl+Shift+Z)">
        ↷ Redo
      </button>
      {notice && (
        <span className="notice" data-testid="undo-notice" role="status">
          {notice}
        </span>
      )}
    </span>
  );
}
