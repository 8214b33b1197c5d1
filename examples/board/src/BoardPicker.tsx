/**
 * Switch boards, or start a new one. The page receives one board at a time
 * (its sync group); the list of boards comes from the engine (`boards.list`:
 * every board this person's token may read).
 */
import { useEffect, useState } from 'react';
import { useAbloClient } from './hooks.js';
import { useSession } from './session.js';

export function BoardPicker() {
  const ablo = useAbloClient();
  const { boardId, switchBoard } = useSession();
  const [boards, setBoards] = useState<ReadonlyArray<{ id: string; name: string }>>([]);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    ablo.boards.list({ limit: 100, orderBy: { name: 'asc' } }).then(
      (page) => current && setBoards(page.data.map((b) => ({ id: b.id, name: b.name }))),
      (err: Error) => current && setError(`Could not list the boards: ${err.message}`),
    );
    return () => {
      current = false;
    };
  }, [ablo, boardId]);

  const create = async (): Promise<void> => {
    const text = name.trim();
    if (!text) return;
    const id = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'board';
    try {
      await ablo.boards.create({ id, data: { name: text } });
      setName('');
      switchBoard(id);
    } catch (err) {
      setError(`Could not create the board: ${(err as Error).message}`);
    }
  };

  return (
    <span className="board-picker">
      <select data-testid="board-select" value={boardId} onChange={(e) => switchBoard(e.target.value)} aria-label="Board">
        {!boards.some((b) => b.id === boardId) && <option value={boardId}>{boardId}</option>}
        {boards.map((b) => (
          <option key={b.id} value={b.id}>
            {b.name}
          </option>
        ))}
      </select>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <input data-testid="new-board-name" placeholder="New board…" value={name} maxLength={60} onChange={(e) => setName(e.target.value)} />
      </form>
      {error && (
        <span className="notice" role="status">
          {error}
        </span>
      )}
    </span>
  );
}
