/**
 * Presence in the SDK (`ablo.presence`): this client's state per group, sent
 * throttled (at most one `presence_set` per group per `throttleMs`, the last
 * state wins) and sent again whenever the socket is live again; and the
 * members of every group this client receives, kept from the engine's
 * `presence` frames (`sync`, then `join` / `update` / `leave`), this client
 * included (the engine echoes its own member back).
 */
import { type AbloError, AbloValidationError, errorFromEnvelope } from '../errors.js';
import { groupMatcher, isGroupPattern } from '../protocol/groups.js';
import { ulid } from '../protocol/ids.js';
import type { PresenceMember, PresenceState } from '../protocol/presence.js';
import { PRESENCE_DEFAULTS } from '../protocol/presence.js';
import type { PresenceApi } from './types.js';

interface Wanted {
  state: PresenceState;
  /** The state as JSON, to skip sending what the engine already has. */
  text: string;
  /** What was last sent on this socket (null: nothing yet). */
  sent: string | null;
  /** When the last frame for this group went (ms). */
  sentAt: number;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface PresenceIo {
  send: (frame: Record<string, unknown>) => boolean;
  live: () => boolean;
  /** Members changed: re-run the client's subscriptions. */
  changed: () => void;
  /** The engine refused a presence frame. */
  error: (group: string, error: AbloError) => void;
  throttleMs: number;
}

const EMPTY: readonly PresenceMember[] = Object.freeze([]);
/** Refs of frames sent, to name the group of an error: only the last few are kept (the engine answers at once). */
const MAX_REFS = 256;

export class PresenceTracker implements PresenceApi {
  /** Group → member key → member. */
  private readonly groups = new Map<string, Map<string, PresenceMember>>();
  /** Group → its members as one array (the same array until they change, for selectors). */
  private readonly lists = new Map<string, readonly PresenceMember[]>();
  private readonly wanted = new Map<string, Wanted>();
  private readonly listeners = new Map<string, Set<(members: readonly PresenceMember[]) => void>>();
  private readonly refs = new Map<string, string>();
  /** Groups left while offline: the engine may still hold this participant there (reconnecting) until told. */
  private readonly leftOffline = new Set<string>();
  private disposed = false;

  constructor(private readonly io: PresenceIo) {}

  set(group: string, state: PresenceState): void {
    checkGroup(group);
    if (state === null || typeof state !== 'object' || Array.isArray(state)) {
      throw new AbloValidationError('A presence state is a plain object, e.g. { focus: "task_12" }.', { code: 'invalid_input', field: 'state' });
    }
    let text: string;
    try {
      text = JSON.stringify(state);
    } catch (err) {
      throw new AbloValidationError(`A presence state must be JSON: ${(err as Error).message}`, { code: 'invalid_input', field: 'state' });
    }
    if (this.disposed) return;
    const w = this.wanted.get(group);
    if (w) {
      w.state = JSON.parse(text) as PresenceState;
      w.text = text;
    } else {
      this.wanted.set(group, { state: JSON.parse(text) as PresenceState, text, sent: null, sentAt: -Infinity, timer: null });
    }
    this.leftOffline.delete(group);
    this.schedule(group);
  }

  leave(group: string): void {
    checkGroup(group);
    const w = this.wanted.get(group);
    if (w?.timer) clearTimeout(w.timer);
    this.wanted.delete(group);
    if (this.io.live()) this.sendFrame(group, { type: 'presence_leave', group });
    else if (w) this.leftOffline.add(group);
  }

  get(group: string): readonly PresenceMember[] {
    const cached = this.lists.get(group);
    if (cached) return cached;
    const members = this.groups.get(group);
    if (!members || members.size === 0) return EMPTY;
    const list = Object.freeze([...members.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
    this.lists.set(group, list);
    return list;
  }

  subscribe(group: string, listener: (members: readonly PresenceMember[]) => void): () => void {
    let set = this.listeners.get(group);
    if (!set) this.listeners.set(group, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (set!.size === 0 && this.listeners.get(group) === set) this.listeners.delete(group);
    };
  }

  // ---- sending ---------------------------------------------------------------

  /** Send the group's state now if the throttle allows, else once it does (whatever the state is by then). */
  private schedule(group: string): void {
    const w = this.wanted.get(group);
    if (!w || w.timer || !this.io.live()) return;
    if (w.text === w.sent) return;
    const wait = w.sentAt + this.io.throttleMs - monotonicNow();
    if (wait <= 0) {
      this.flush(group);
      return;
    }
    w.timer = setTimeout(() => {
      w.timer = null;
      this.flush(group);
    }, wait);
  }

  private flush(group: string): void {
    const w = this.wanted.get(group);
    if (!w || !this.io.live() || w.text === w.sent) return;
    if (this.sendFrame(group, { type: 'presence_set', group, state: w.state })) {
      w.sent = w.text;
      w.sentAt = monotonicNow();
    }
  }

  private sendFrame(group: string, frame: Record<string, unknown>): boolean {
    const ref = `p_${ulid()}`;
    this.refs.set(ref, group);
    if (this.refs.size > MAX_REFS) this.refs.delete(this.refs.keys().next().value!);
    return this.io.send({ ...frame, ref });
  }

  // ---- frames and connection events --------------------------------------------

  /** A frame from the engine; true when it was a presence frame (a `groups` answer is looked at, not taken). */
  onFrame(frame: Record<string, unknown>): boolean {
    if (frame.type === 'groups' && Array.isArray(frame.groups)) {
      this.keepGroups(frame.groups as string[]);
      return false;
    }
    if (frame.type !== 'presence' || typeof frame.group !== 'string') return false;
    const group = frame.group;
    switch (frame.event) {
      case 'sync': {
        const members = new Map<string, PresenceMember>();
        for (const m of (frame.members as PresenceMember[] | undefined) ?? []) members.set(m.key, m);
        this.groups.set(group, members);
        break;
      }
      case 'join':
      case 'update': {
        const m = frame.member as PresenceMember;
        let members = this.groups.get(group);
        if (!members) this.groups.set(group, (members = new Map()));
        members.set(m.key, m);
        break;
      }
      case 'leave':
        this.groups.get(group)?.delete(frame.key as string);
        break;
      default:
        return true;
    }
    this.changedGroup(group);
    return true;
  }

  /** An error frame; true when it answers one of our presence frames. */
  onError(ref: string | undefined, envelope: unknown): boolean {
    const group = ref ? this.refs.get(ref) : undefined;
    if (group === undefined) return false;
    this.refs.delete(ref!);
    const error = errorFromEnvelope({ error: envelope });
    const w = this.wanted.get(group);
    if (w && error.code === 'rate_limited') {
      // Not applied: send the latest state again once the engine takes it.
      w.sent = null;
      const retry = typeof error.details.retryAfterMs === 'number' ? error.details.retryAfterMs : this.io.throttleMs;
      w.sentAt = monotonicNow() + retry - this.io.throttleMs;
      this.schedule(group);
    }
    // Anything else (too large, a group not received…) is not sent again until the state changes.
    this.io.error(group, error);
    return true;
  }

  /** A new sync session: the engine sends every group's members again once live. */
  onWelcome(): void {
    const had = [...this.groups.keys()];
    this.groups.clear();
    this.lists.clear();
    for (const w of this.wanted.values()) {
      if (w.timer) clearTimeout(w.timer);
      w.timer = null;
      w.sent = null;
      w.sentAt = -Infinity;
    }
    for (const g of had) this.notify(g);
    if (had.length > 0) this.io.changed();
  }

  /** The socket is live: send this client's state in every group it set (a new connection holds nothing yet). */
  onLive(): void {
    for (const group of this.leftOffline) this.sendFrame(group, { type: 'presence_leave', group });
    this.leftOffline.clear();
    for (const group of this.wanted.keys()) this.schedule(group);
  }

  dispose(): void {
    this.disposed = true;
    for (const w of this.wanted.values()) if (w.timer) clearTimeout(w.timer);
    this.wanted.clear();
    this.listeners.clear();
  }

  /** The connection's groups changed (`set_groups`): forget the members and the states of groups it left. */
  private keepGroups(groups: string[]): void {
    const match = groupMatcher(groups);
    for (const group of [...this.wanted.keys()]) {
      if (match.has(group)) continue;
      const w = this.wanted.get(group)!;
      if (w.timer) clearTimeout(w.timer);
      this.wanted.delete(group);
    }
    let changed = false;
    for (const group of [...this.groups.keys()]) {
      if (match.has(group)) continue;
      this.groups.delete(group);
      this.lists.delete(group);
      this.notify(group);
      changed = true;
    }
    if (changed) this.io.changed();
  }

  private changedGroup(group: string): void {
    this.lists.delete(group);
    this.notify(group);
    this.io.changed();
  }

  private notify(group: string): void {
    const set = this.listeners.get(group);
    if (!set) return;
    const members = this.get(group);
    for (const l of [...set]) {
      try {
        l(members);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

function checkGroup(group: unknown): asserts group is string {
  if (typeof group !== 'string' || group.length === 0 || group.length > 200 || isGroupPattern(group)) {
    throw new AbloValidationError(`Presence takes one sync group by name (e.g. "board:123"), not ${JSON.stringify(group)}.`, {
      code: 'invalid_input',
      field: 'group',
    });
  }
}

/** A monotonic clock in ms where there is one, else the wall clock. */
function monotonicNow(): number {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf ? perf.now() : Date.now();
}

/** The throttle in ms from the client's options (default 50 ms). */
export function presenceThrottle(options: { throttleMs?: number | undefined } | undefined): number {
  const ms = options?.throttleMs ?? PRESENCE_DEFAULTS.throttleMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new AbloValidationError(`presence.throttleMs must be a number of ms, 0 or more (got ${String(ms)}).`, { code: 'invalid_option', field: 'presence.throttleMs' });
  }
  return ms;
}
