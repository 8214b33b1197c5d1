import { useEffect, useMemo, useState } from 'react';
import { STATUSES, type Status } from '../ablo.schema.js';
import type { BoardClient, Session } from './client.js';
import { ConflictBanner } from './ConflictBanner.js';
import { EditsProvider, useDrafts } from './edits.js';
import { FocusContext } from './focus.js';
import { AbloProvider, SyncGroupProvider, useAblo, useAbloClient, useSyncStatus } from './hooks.js';
import { BoardPicker } from './BoardPicker.js';
import { Avatars, PresenceRoot } from './Presence.js';
import { UndoBar } from './UndoBar.js';
import { SessionContext, useSession } from './session.js';
import { moveTask } from './moves.js';
import { TaskCard } from './TaskCard.js';

const COLUMN_NAMES: Record<Status, string> = { todo: 'To do', doing: 'Doing', done: 'Done' };

export function App({ ablo, session }: { ablo: BoardClient; session: Session }) {
  const [boardId, setBoardId] = useState(session.boardId);
  const value = useMemo(
    () => ({
      ...session,
      boardId,
      switchBoard(id: string) {
        const params = new URLSearchParams(location.search);
        params.set('board', id);
        history.replaceState(null, '', `?${params}`);
        setBoardId(id);
      },
    }),
    [session, boardId],
  );
  return (
    <AbloProvider
      client={ablo}
      fallback={
        <p className="loading" data-testid="loading">
          Loading the board…
        </p>
      }
      errorFallback={(error, retry) => (
        <div className="error" data-testid="connect-error" role="alert">
          <p>Could not open the board: {error instanceof Error ? error.message : String(error)}</p>
          <button type="button" onClick={retry}>
            Try again
          </button>
        </div>
      )}
    >
      <SessionContext.Provider value={value}>
        {/* Another board: the client's groups change on the open connection (setSyncGroups), no reconnect. */}
        <SyncGroupProvider
          groups={[`board:${boardId}`]}
          fallback={
            <p className="loading" data-testid="switching">
              Opening the board…
            </p>
          }
        >
          <EditsProvider>
            <Board key={boardId} />
          </EditsProvider>
        </SyncGroupProvider>
      </SessionContext.Provider>
    </AbloProvider>
  );
}

/** Rendered once the client is ready (the first bootstrap is in); shown from then on, also while offline. */
function Board() {
  const { boardId, user } = useSession();
  const name = useAblo((a) => a.boards.get(boardId)?.name ?? null);
  const { drafts } = useDrafts();
  const [focus, setFocus] = useState<string | null>(null);
  // For `npm run bench -- browser`: time from navigation to the first board on screen.
  useEffect(() => {
    performance.mark('ablo-board-ready');
  }, []);
  return (
    <PresenceRoot focus={focus} activity={focus && drafts[focus] ? 'editing' : null}>
      <FocusContext.Provider value={setFocus}>
        <div
          className="board"
          data-testid="board"
          data-ready="true"
          onBlur={(e) => {
            // Focus left the cards (not to another card: that card's onFocus sets it).
            if (!(e.relatedTarget instanceof Element && e.relatedTarget.closest('[data-task-id]'))) setFocus(null);
          }}
        >
          <header>
            <h1 data-testid="board-name">{name ?? boardId}</h1>
            <BoardPicker />
            <span className="me" data-testid="me">
              signed in as <b>{user}</b>
            </span>
            <ConnectionBadge />
            <Avatars />
            <span className="spacer" />
            <UndoBar />
          </header>
          <ConflictBanner />
          <main className="columns">
            {STATUSES.map((s) => (
              <Column key={s} status={s} />
            ))}
          </main>
        </div>
      </FocusContext.Provider>
    </PresenceRoot>
  );
}

/**
 * live / offline. The board shows once loaded, so any status but `live` is "offline": the SDK alternates
 * between `connecting` and `offline` while it retries, and to the person it is one state — their edits are kept
 * (`pendingWrites`) and sent when the connection is back.
 */
function ConnectionBadge() {
  const { status, pendingWrites } = useSyncStatus();
  const shown = status === 'live' ? 'live' : status === 'unauthorized' ? 'signed out' : 'offline';
  const waiting = pendingWrites === 1 ? '1 edit waits' : `${pendingWrites} edits wait`;
  return (
    <span
      className={`connection connection-${shown.replace(' ', '-')}`}
      data-testid="connection"
      data-status={shown}
      data-sdk-status={status}
      data-pending={pendingWrites}
      title={`SDK status: ${status}`}
    >
      {shown === 'offline' ? `offline${pendingWrites > 0 ? ` — ${waiting} and will be sent when the connection is back` : ''}` : shown}
    </span>
  );
}

function Column({ status }: { status: Status }) {
  const ablo = useAbloClient();
  const { boardId } = useSession();
  const tasks = useAblo((a) => a.tasks.getAll({ where: { boardId, status }, orderBy: { position: 'asc' } }));
  const [over, setOver] = useState(false);
  return (
    <section
      className={`column${over ? ' drop-target' : ''}`}
      data-testid={`column-${status}`}
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes('application/x-ablo-task')) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'move';
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        setOver(false);
        const id = e.dataTransfer.getData('application/x-ablo-task');
        if (!id) return;
        e.preventDefault();
        moveTask(ablo, boardId, id, status);
      }}
    >
      <h2>
        {COLUMN_NAMES[status]} <span className="count">{tasks.length}</span>
      </h2>
      <ul>
        {tasks.map((t) => (
          <TaskCard key={t.id} task={t} />
        ))}
      </ul>
      {status === 'todo' && <NewTaskForm />}
    </section>
  );
}

function NewTaskForm() {
  const ablo = useAbloClient();
  const { boardId } = useSession();
  const [title, setTitle] = useState('');
  return (
    <form
      className="new-task"
      onSubmit={(e) => {
        e.preventDefault();
        const text = title.trim();
        if (!text) return;
        const position = ablo.tasks.getAll({ where: { boardId, status: 'todo' } }).reduce((m, t) => Math.max(m, t.position), 0) + 1;
        ablo.tasks.create({ data: { title: text, boardId, status: 'todo', position } }).catch((err: Error) => console.warn(`create failed: ${err.message}`));
        setTitle('');
      }}
    >
      <input data-testid="new-task-title" placeholder="New task…" value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} />
      <button type="submit" data-testid="add-task">
        Add
      </button>
    </form>
  );
}
