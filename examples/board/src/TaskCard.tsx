import { useState } from 'react';
import type { ClaimHandle } from 'ablo';
import { STATUSES } from '../ablo.schema.js';
import { moveTask } from './moves.js';
import type { BoardClient } from './client.js';
import { useDraft } from './edits.js';
import { useSetFocus } from './focus.js';
import { useAbloClient, useClaim } from './hooks.js';
import { CardAvatars } from './Presence.js';
import { useSession } from './session.js';

export type Task = NonNullable<ReturnType<BoardClient['tasks']['get']>>;

/** The claims this page holds, by task id (one client per page). */
const held = new Map<string, ClaimHandle<Task>>();

export function TaskCard({ task }: { task: Task }) {
  const ablo = useAbloClient();
  const { boardId } = useSession();
  const setFocus = useSetFocus();
  const { claim, heldByMe } = useClaim('tasks', task.id);
  const heldByOther = claim !== null && !heldByMe;
  const [draft, setDraft] = useDraft(task.id);
  const editing = draft !== null;
  const [notice, setNotice] = useState<string | null>(null);
  const column = STATUSES.indexOf(task.status);

  const startEdit = (): void => {
    if (heldByOther) {
      setNotice(`${claim.holder.id} is working on this${claim.action ? ` (${claim.action})` : ''}; edit it when they release it.`);
      return;
    }
    setNotice(null);
    setDraft({ text: task.title, readAt: ablo.snapshot().stamp });
  };

  const save = (): void => {
    if (!draft) return;
    setDraft(null);
    const title = draft.text.trim();
    if (!title || title === task.title) return;
    // Held (someone changed the title since readAt): the SDK lists it in ablo.conflicts, the banner shows it.
    ablo.tasks.update({ id: task.id, data: { title }, readAt: draft.readAt, onStale: 'notify' }).catch(
      (err: { type?: string; message: string }) => {
        const holder = ablo.tasks.claim.state({ id: task.id })?.holder;
        setNotice(err.type === 'claimed' && holder ? `${holder.id} is working on this; your edit was not saved.` : `Not saved: ${err.message}`);
      },
    );
  };

  const toggleClaim = async (): Promise<void> => {
    setNotice(null);
    const mine = held.get(task.id);
    if (mine) {
      held.delete(task.id);
      await mine.release();
      return;
    }
    try {
      held.set(task.id, await ablo.tasks.claim({ id: task.id, wait: false, action: 'editing' }));
    } catch (err) {
      setNotice(`Could not claim it: ${(err as Error).message}`);
    }
  };

  return (
    <li
      className={`card${heldByOther ? ' claimed' : ''}`}
      data-testid={`task-${task.id}`}
      data-task-id={task.id}
      data-status={task.status}
      tabIndex={0}
      onFocus={() => setFocus(task.id)}
      draggable={!editing}
      onDragStart={(e) => {
        e.dataTransfer.setData('application/x-ablo-task', task.id);
        e.dataTransfer.effectAllowed = 'move';
      }}
      onKeyDown={(e) => {
        if (editing || e.target !== e.currentTarget) return;
        if (e.key === 'Enter') startEdit();
        else if (e.altKey && e.key === 'ArrowLeft' && column > 0) moveTask(ablo, boardId, task.id, STATUSES[column - 1]!);
        else if (e.altKey && e.key === 'ArrowRight' && column < STATUSES.length - 1) moveTask(ablo, boardId, task.id, STATUSES[column + 1]!);
      }}
    >
      <CardAvatars taskId={task.id} />
      {draft ? (
        <input
          className="title-input"
          data-testid="title-input"
          value={draft.text}
          maxLength={200}
          autoFocus
          onChange={(e) => setDraft({ ...draft, text: e.target.value })}
          onBlur={save}
          onKeyDown={(e) => {
            if (e.key === 'Enter') save();
            else if (e.key === 'Escape') setDraft(null);
          }}
        />
      ) : (
        <span className="title" data-testid="task-title" onDoubleClick={startEdit}>
          {task.title}
        </span>
      )}
      {task.result && <p className="result">{task.result}</p>}
      {claim && (
        <span className="claim-badge" data-testid="claim-badge" data-holder={`${claim.holder.kind}:${claim.holder.id}`}>
          {heldByMe ? 'you' : claim.holder.id}
          {claim.action ? ` · ${claim.action}` : ''}
        </span>
      )}
      {notice && (
        <p className="notice" data-testid="claim-notice" role="status">
          {notice}
        </p>
      )}
      <div className="actions">
        <button type="button" data-testid="edit" onClick={startEdit} title="Edit the title (Enter)">
          Edit
        </button>
        <button type="button" data-testid="move-left" disabled={column === 0} onClick={() => moveTask(ablo, boardId, task.id, STATUSES[column - 1]!)} title="Move left (Alt+←)">
          ◀
        </button>
        <button
          type="button"
          data-testid="move-right"
          disabled={column === STATUSES.length - 1}
          onClick={() => moveTask(ablo, boardId, task.id, STATUSES[column + 1]!)}
          title="Move right (Alt+→)"
        >
          ▶
        </button>
        {!heldByOther && (
          <button type="button" data-testid={heldByMe ? 'release' : 'claim'} onClick={() => void toggleClaim()}>
            {heldByMe ? 'Release' : 'Claim'}
          </button>
        )}
        <button
          type="button"
          data-testid="delete"
          disabled={heldByOther}
          onClick={() => ablo.tasks.delete({ id: task.id }).catch((err: Error) => setNotice(`Not deleted: ${err.message}`))}
          title="Delete"
        >
          ✕
        </button>
      </div>
    </li>
  );
}
