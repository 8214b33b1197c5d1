import { useBoardConflicts } from './conflicts.js';
import { useAblo } from './hooks.js';

/** An edit the engine held because someone changed the same field since: theirs vs mine, and a choice. */
export function ConflictBanner() {
  const { conflicts, resolve, dismiss } = useBoardConflicts();
  const titles = useAblo((a) => Object.fromEntries(conflicts.map((c) => [c.rowId, a.tasks.get(c.rowId)?.title ?? c.rowId])));
  if (conflicts.length === 0) return null;
  return (
    <div className="conflicts" data-testid="conflict-banner" role="alert">
      {conflicts.map((c) => (
        <div className="conflict" key={c.id} data-testid="conflict" data-row-id={c.rowId}>
          <p>
            Someone changed <b>{c.fields.join(', ')}</b> of “{titles[c.rowId]}” while you were editing
            {c.notification.writtenBy ? ` (${c.notification.writtenBy.id})` : ''}.
          </p>
          <dl>
            {c.fields.map((f) => (
              <div key={f}>
                <dt>Theirs</dt>
                <dd data-testid="conflict-theirs">{String(c.theirs[f])}</dd>
                <dt>Yours</dt>
                <dd data-testid="conflict-mine">{String(c.mine[f])}</dd>
              </div>
            ))}
          </dl>
          <button type="button" data-testid="keep-mine" onClick={() => void resolve(c.id, 'mine')}>
            Keep mine
          </button>
          <button type="button" data-testid="keep-theirs" onClick={() => void resolve(c.id, 'theirs')}>
            Keep theirs
          </button>
          <button type="button" className="link" onClick={() => dismiss(c.id)}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}
