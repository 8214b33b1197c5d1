import { useEffect, useState } from 'react';
import { STATUSES, type Status } from '../ablo.schema.js';
import type { BoardClient, Session } from './client.js';
import { ConflictBanner } from './ConflictBanner.js';
import { ConflictsProvider } from './conflicts.js';
import { EditsProvider } from './edits.js';
import { AbloProvider, useAblo, useAbloClient, useSyncStatus } from './hooks.js';
import { SessionContext, useSession } from './session.js';
import { moveTask } from './moves.js';
import { TaskCard } from './TaskCard.js';

const COLUMN_NAMES: Record<Status, string> = { todo: 'To do', doing: 'Doing', done: 'Done' };

export function App({ ablo, session }: { ablo: BoardClient; session: Session }) {
  return (
    <AbloProvider client={ablo}>
      <SessionContext.Provider value={session}>
        <ConflictsProvider>
          <EditsProvider>
            <Board />
          </EditsProvider>
        </ConflictsProvider>
      </SessionContext.Provider>
    </AbloProvider>
  );
}

function Board() {
  const { boardId, user } = useSession();
  const name = useAblo((a) => a.boards.get(boardId)?.name ?? null);
  const { status } = useSyncStatus();
  // Ready once the first bootstrap is in: the board is shown from then on, also while offline.
  const [ready, setReady] = useState(false);
  if (!ready && status === 'live') setReady(true);
  // For `npm run bench -- browser`: time from navigation to the first board on screen.
  useEffect(() => {
    if (ready) performance.mark('ablo-board-ready');
  }, [ready]);
  return (
    <div className="board" data-testid="board" data-ready={ready ? 'true' : 'false'}>
      <header>
        <h1 data-testid="board-name">{name ?? boardId}</h1>
        <span className="me" data-testid="me">
          signed in as <b>{user}</b>
        </span>
        <ConnectionBadge loaded={ready} />
      </header>
      <ConflictBanner />
      {ready ? (
        <main className="columns">
          {STATUSES.map((s) => (
            <Column key={s} status={s} />
          ))}
        </main>
      ) : (
        <p className="loading" data-testid="loading">
          Loading the board…
        </p>
      )}
    </div>
  );
}

/**
 * live / offline / connecting. Once the board has loaded, any status but `live` is "offline": the SDK
 * alternates between `connecting` and `offline` while it retries, and to the person it is one state — their
 * edits are kept and sent when the connection is back.
 */
function ConnectionBadge({ loaded }: { loaded: boolean }) {
  const { status } = useSyncStatus();
  const shown = status === 'live' ? 'live' : status === 'unauthorized' ? 'signed out' : loaded ? 'offline' : 'connecting';
  return (
    <span className={`connection connection-${shown.replace(' ', '-')}`} data-testid="connection" data-status={shown} data-sdk-status={status} title={`SDK status: ${status}`}>
      {shown === 'offline' ? 'offline — edits are kept and sent when the connection is back' : shown}
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
