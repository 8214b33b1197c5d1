import { useAblo, useConflicts } from './hooks.js';

const show = (v: unknown): string => (v === null || v === undefined ? '—' : String(v));

/**
 * Writes of this person the engine held because someone changed the same field since (a title edit begun
 * before, or an undo of a field changed since): theirs vs mine, and a choice.
 */
export function ConflictBanner() {
  const { conflicts, resolve, dismiss } = useConflicts();
  const titles = useAblo((a) => Object.fromEntries(conflicts.map((c) => [c.rowId, a.tasks.get(c.rowId)?.title ?? c.rowId])));
  if (conflicts.length === 0) return null;
  return (
    <div className="conflicts" data-testid="conflict-banner" role="alert">
      {conflicts.map((c) => (
        <div className="conflict" key={c.id} data-testid="conflict" data-row-id={c.rowId}>
          <p>
            {c.notification.writtenBy ? <b>{c.notification.writtenBy.id}</b> : 'Someone'} changed {c.fields.join(', ')} of “{titles[c.rowId]}” after you read
            it: your change was not applied.
          </p>
          <dl>
            {c.fields.map((f) => (
              <div key={f}>
                <dt>Theirs</dt>
                <dd data-testid="conflict-theirs">{show(c.theirs[f])}</dd>
                <dt>Yours</dt>
                <dd data-testid="conflict-mine">{c.mine ? show(c.mine[f]) : '(delete)'}</dd>
              </div>
            ))}
          </dl>
          <button type="button" data-testid="keep-mine" onClick={() => void resolve(c.id, 'mine')}>
            Keep mine
          </button>
          <button type="button" data-testid="keep-theirs" onClick={() => void resolve(c.id, 'theirs')}>
            Keep theirs
          </button>
          <button type="button" className="link" data-testid="dismiss-conflict" onClick={() => dismiss(c.id)}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}
