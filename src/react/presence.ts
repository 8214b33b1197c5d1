/**
 * `usePresence(group?, state?)`: who is in a sync group now (people and
 * agents), and this client's own state there.
 */
import { useCallback, useContext, useEffect, useRef } from 'react';
import { deepEqual } from '../client/equal.js';
import { abloError } from '../errors.js';
import type { PresenceMember, PresenceState } from '../protocol/presence.js';
import { SyncGroupContext, useAbloClient } from './context.js';
import { useStructuralStore } from './store.js';

/** A member whose state has the shape your app sets (not checked at runtime: states come from other clients). */
export type PresenceMemberOf<T extends PresenceState = PresenceState> = Omit<PresenceMember, 'state'> & { state: T };

export interface PresenceView<T extends PresenceState = PresenceState> {
  /** The group this view is of. */
  group: string;
  /** Everyone in the group, this client's participant included (empty until the engine's first `sync`). */
  members: ReadonlyArray<PresenceMemberOf<T>>;
  /** `members` without this client's participant. */
  others: ReadonlyArray<PresenceMemberOf<T>>;
  /** This client's participant in the group, or null before it has set a state there. */
  self: PresenceMemberOf<T> | null;
  /** Set this client's state in the group (throttled by the SDK; the last state wins). */
  set(state: T): void;
  /** Leave the group: the others see this participant leave at once. */
  leave(): void;
}

/**
 * The members of `group` (default: the first group of the nearest `<SyncGroupProvider>`). With `state`, this
 * component announces it: set on mount, set again whenever it changes (compared by value, so an inline object
 * is fine), and left on unmount or when the group changes.
 */
export function usePresence<T extends PresenceState = PresenceState>(group?: string, state?: T): PresenceView<T> {
  const client = useAbloClient();
  const groups = useContext(SyncGroupContext);
  const g = group ?? groups?.[0];
  if (!g) throw abloError('missing_presence_group');

  const { members, me } = useStructuralStore(
    (onChange) => client.presence.subscribe(g, () => onChange()),
    () => ({ members: client.presence.get(g) as ReadonlyArray<PresenceMemberOf<T>>, me: client.participant }),
    [client, g],
  );

  // The state this component last sent to this group, so a re-render with an equal state sends nothing.
  const lastSet = useRef<{ client: unknown; group: string; state: T } | null>(null);
  const announcing = state !== undefined;
  useEffect(() => {
    if (!announcing) return;
    return () => {
      lastSet.current = null;
      client.presence.leave(g);
    };
  }, [client, g, announcing]);
  useEffect(() => {
    if (state === undefined) return;
    const prev = lastSet.current;
    if (prev && prev.client === client && prev.group === g && deepEqual(prev.state, state)) return;
    lastSet.current = { client, group: g, state };
    client.presence.set(g, state);
  });

  const set = useCallback((next: T) => client.presence.set(g, next), [client, g]);
  const leave = useCallback(() => client.presence.leave(g), [client, g]);
  const isMe = (m: PresenceMemberOf<T>): boolean => me !== null && m.participant.kind === me.kind && m.participant.id === me.id;
  return {
    group: g,
    members,
    others: members.filter((m) => !isMe(m)),
    self: members.find(isMe) ?? null,
    set,
    leave,
  };
}
