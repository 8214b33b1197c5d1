/**
 * Who is on the board (people and agents), and which card each has focused:
 * presence state `{ focus }` in the board's sync group.
 */
import { createContext, useContext, type ReactNode } from 'react';
import type { PresenceMemberOf } from 'ablo/react';
import { usePresence } from './hooks.js';

export interface BoardPresence extends Record<string, unknown> {
  /** The task this member has focused (a person) or works on (an agent), or null. */
  focus: string | null;
  /** What the member does there, e.g. "editing", "thinking". */
  activity?: string | null;
}

type Member = PresenceMemberOf<BoardPresence>;

const OthersContext = createContext<readonly Member[]>([]);

/** Announces this page's focus and makes the others available to the cards. */
export function PresenceRoot({ focus, activity, children }: { focus: string | null; activity: string | null; children: ReactNode }) {
  const { others } = usePresence<BoardPresence>(undefined, { focus, activity });
  return <OthersContext.Provider value={others}>{children}</OthersContext.Provider>;
}

function initials(id: string): string {
  return id.replace(/[^A-Za-z0-9]/g, '').slice(0, 2).toUpperCase();
}

function Avatar({ m, small }: { m: Member; small?: boolean }) {
  const focus = m.state.focus ?? '';
  return (
    <span
      className={`avatar ${m.participant.kind}${m.status === 'reconnecting' ? ' reconnecting' : ''}`}
      data-testid={small ? 'card-avatar' : 'avatar'}
      data-key={m.key}
      data-focus={focus}
      data-status={m.status}
      title={`${m.participant.id}${m.state.activity ? ` · ${m.state.activity}` : ''}${m.status === 'reconnecting' ? ' (reconnecting)' : ''}`}
    >
      {initials(m.participant.id)}
    </span>
  );
}

/** Everyone else on the board, in the header. */
export function Avatars() {
  const others = useContext(OthersContext);
  return (
    <span className="avatars" data-testid="presence" aria-label="Also on this board">
      {others.map((m) => (
        <Avatar key={m.key} m={m} />
      ))}
    </span>
  );
}

/** The others whose focus is this card. */
export function CardAvatars({ taskId }: { taskId: string }) {
  const here = useContext(OthersContext).filter((m) => m.state.focus === taskId);
  if (here.length === 0) return null;
  return (
    <span className="card-avatars" data-testid="card-avatars">
      {here.map((m) => (
        <Avatar key={m.key} m={m} small />
      ))}
    </span>
  );
}
