/**
 * Presence in one engine process: who is in which group, with what state.
 *
 * A member (one participant in one group) is held by the connections that
 * set it. When its last holder drops it turns `reconnecting` and leaves after
 * the TTL, unless a connection of the same participant sets it again first
 * (then it is `online` again: an `update`, never a leave and a join). An
 * explicit leave by its last holder, or a revoked credential, removes it at
 * once.
 *
 * Across processes (an engine on Postgres) a bridge (./postgres.ts) announces
 * this process's members to the others and hands theirs in; the two are
 * merged per member (./members.ts). Presence is ephemeral: nothing is stored.
 */
import { abloError, AbloTooLargeError, AbloValidationError } from '../../errors.js';
import type { ParticipantRef } from '../../protocol/commit.js';
import type { PresenceMember, PresenceState } from '../../protocol/presence.js';
import { memberKey, PresenceMembers, type PresenceDiff, type SourceEntry } from './members.js';
import type { PresenceSettings } from './options.js';

/** What the service tells a bridge, and what a bridge hands in. */
export interface PresenceBridge {
  /** This process's source id (unique per process start). */
  readonly id: string;
  /** Start sharing: `peer` hears the other processes' members. */
  start(peer: PresencePeer): Promise<void>;
  /** This process's entry for a member changed (or is new). */
  put(group: string, key: string, entry: SourceEntry): void;
  /** This process no longer has the member. */
  remove(group: string, key: string): void;
  close(): Promise<void>;
}

/** The service as a bridge sees it. */
export interface PresencePeer {
  put(source: string, group: string, key: string, entry: SourceEntry): void;
  remove(source: string, group: string, key: string): void;
  /** `source` is about to announce all of its members: the ones it does not announce before `snapshotEnd` are gone. */
  snapshotBegin(source: string): void;
  snapshotEnd(source: string): void;
  /** `source` stopped (it said so, or went silent): its members turn `reconnecting` and leave at `leaveAt` (ms). */
  down(source: string, leaveAt: number): void;
  /** `source` is heard from again after `down`. */
  up(source: string): void;
  /** This process's own entries, for a snapshot. */
  own(): Iterable<{ group: string; key: string; entry: SourceEntry }>;
}

interface LocalMember {
  group: string;
  key: string;
  participant: ParticipantRef;
  state: PresenceState;
  updatedAt: string;
  /** Connection ids that set it and have not left or dropped. */
  holders: Set<string>;
  /** Set while no connection holds it: it leaves when this fires. */
  timer: NodeJS.Timeout | null;
}

export interface PresenceServiceOptions {
  settings: PresenceSettings;
  /** Shares members with the other engine processes on the same database (Postgres); absent: this process only. */
  bridge?: PresenceBridge;
  now?: () => number;
}

function slotId(group: string, key: string): string {
  return `${group}\u0000${key}`;
}

export class PresenceService {
  readonly settings: PresenceSettings;
  private readonly registry: PresenceMembers;
  private readonly local = new Map<string, LocalMember>();
  /** Connection id → the local members it holds. */
  private readonly byConnection = new Map<string, Set<string>>();
  private readonly listeners = new Set<(diff: PresenceDiff) => void>();
  private readonly bridge: PresenceBridge | undefined;
  private readonly source: string;
  private readonly now: () => number;
  /** Other processes that went down: when their members leave. */
  private readonly downTimers = new Map<string, NodeJS.Timeout>();
  /** Snapshots being received: source → members of it not announced again yet. */
  private readonly snapshots = new Map<string, Set<string>>();
  private closed = false;

  constructor(options: PresenceServiceOptions) {
    this.settings = options.settings;
    this.bridge = options.bridge;
    this.source = options.bridge?.id ?? 'local';
    this.now = options.now ?? Date.now;
    this.registry = new PresenceMembers((diff) => {
      for (const l of this.listeners) l(diff);
    });
  }

  /** Start sharing with the other processes (when there is a bridge). */
  async start(): Promise<void> {
    await this.bridge?.start(this.peer());
  }

  /** Hear every diff (join, update, leave) of every group. */
  onDiff(listener: (diff: PresenceDiff) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  members(group: string): PresenceMember[] {
    return this.registry.members(group);
  }

  /** Every group that has members now. */
  groups(): string[] {
    return this.registry.groupNames();
  }

  /** The groups in which this connection holds a member. */
  heldBy(connectionId: string): string[] {
    return [...(this.byConnection.get(connectionId) ?? [])].map((id) => this.local.get(id)!.group);
  }

  /**
   * Connection `connectionId` (acting as `participant`) sets its state in `group` (the caller checked the group is
   * one the connection receives). Refused over the caps: `presence_state_too_large`, `presence_too_many_keys`,
   * `presence_full` (a new member in a full group).
   */
  set(connectionId: string, participant: ParticipantRef, group: string, state: PresenceState): void {
    this.checkState(state);
    const key = memberKey(participant);
    if (!this.registry.has(group, key) && this.registry.count(group) >= this.settings.maxMembersPerGroup) {
      throw abloError('presence_full', { group, maxMembersPerGroup: this.settings.maxMembersPerGroup });
    }
    const id = slotId(group, key);
    let member = this.local.get(id);
    if (!member) {
      member = { group, key, participant, state, updatedAt: '', holders: new Set(), timer: null };
      this.local.set(id, member);
    }
    if (member.timer) clearTimeout(member.timer);
    member.timer = null;
    member.holders.add(connectionId);
    let held = this.byConnection.get(connectionId);
    if (!held) this.byConnection.set(connectionId, (held = new Set()));
    held.add(id);
    member.participant = participant;
    member.state = state;
    // Strictly later than the last set, so the merge across processes always takes this one.
    const at = new Date(this.now()).toISOString();
    member.updatedAt = at > member.updatedAt ? at : new Date(Date.parse(member.updatedAt) + 1).toISOString();
    this.publish(member, 'online');
  }

  /**
   * Connection `connectionId` leaves `group`: when it was the member's last holder — or the member is held by
   * nobody (reconnecting) — the member leaves at once; another tab still holding it keeps it.
   */
  leave(connectionId: string, participant: ParticipantRef, group: string): void {
    const id = slotId(group, memberKey(participant));
    const member = this.local.get(id);
    if (!member) return;
    member.holders.delete(connectionId);
    this.byConnection.get(connectionId)?.delete(id);
    if (member.holders.size === 0) this.drop(member);
  }

  /**
   * The connection went. Members it alone held turn `reconnecting` and leave after the TTL — or at once when
   * `revoked` (its credential was revoked: it is not coming back with it).
   */
  detach(connectionId: string, revoked: boolean): void {
    const held = this.byConnection.get(connectionId);
    this.byConnection.delete(connectionId);
    if (!held) return;
    for (const id of held) {
      const member = this.local.get(id);
      if (!member || !member.holders.delete(connectionId) || member.holders.size > 0) continue;
      if (revoked || this.closed) {
        this.drop(member);
        continue;
      }
      this.publish(member, 'reconnecting');
      member.timer = setTimeout(() => {
        member.timer = null;
        if (member.holders.size === 0 && this.local.get(id) === member) this.drop(member);
      }, this.settings.ttlMs);
      member.timer.unref();
    }
  }

  /** Stop: timers end; what the bridge shares is withdrawn by the bridge's own close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.local.values()) if (m.timer) clearTimeout(m.timer);
    for (const t of this.downTimers.values()) clearTimeout(t);
    this.downTimers.clear();
    this.listeners.clear();
    await this.bridge?.close();
  }

  private checkState(state: PresenceState): void {
    const keys = Object.keys(state).length;
    if (keys > this.settings.maxKeys) throw abloError('presence_too_many_keys', { maxKeys: this.settings.maxKeys, keys });
    let text: string;
    try {
      text = JSON.stringify(state);
    } catch {
      throw new AbloValidationError('A presence state must be JSON.', { code: 'invalid_request', field: 'state' });
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > this.settings.maxStateBytes) {
      throw new AbloTooLargeError(
        `This presence state takes ${bytes} bytes as JSON; this engine takes at most ${this.settings.maxStateBytes}. Keep presence small (a cursor, a focused row).`,
        { code: 'presence_state_too_large', bytes, maxStateBytes: this.settings.maxStateBytes },
      );
    }
  }

  private entryOf(member: LocalMember, status: SourceEntry['status']): SourceEntry {
    return { participant: member.participant, state: member.state, status, updatedAt: member.updatedAt };
  }

  private publish(member: LocalMember, status: SourceEntry['status']): void {
    const entry = this.entryOf(member, status);
    this.registry.put(this.source, member.group, member.key, entry);
    if (!this.closed) this.bridge?.put(member.group, member.key, entry);
  }

  private drop(member: LocalMember): void {
    const id = slotId(member.group, member.key);
    if (member.timer) clearTimeout(member.timer);
    member.timer = null;
    if (this.local.get(id) !== member) return;
    this.local.delete(id);
    for (const c of member.holders) this.byConnection.get(c)?.delete(id);
    this.registry.remove(this.source, member.group, member.key);
    if (!this.closed) this.bridge?.remove(member.group, member.key);
  }

  /** What a bridge calls with the other processes' members. */
  private peer(): PresencePeer {
    return {
      put: (source, group, key, entry) => {
        if (this.closed || source === this.source) return;
        this.snapshots.get(source)?.delete(slotId(group, key));
        this.registry.put(source, group, key, entry);
      },
      remove: (source, group, key) => {
        if (this.closed || source === this.source) return;
        this.snapshots.get(source)?.delete(slotId(group, key));
        this.registry.remove(source, group, key);
      },
      snapshotBegin: (source) => {
        if (this.closed || source === this.source) return;
        const pending = new Set<string>();
        for (const { group, key } of this.registry.entriesOf(source)) pending.add(slotId(group, key));
        this.snapshots.set(source, pending);
      },
      snapshotEnd: (source) => {
        const pending = this.snapshots.get(source);
        this.snapshots.delete(source);
        if (!pending || this.closed) return;
        for (const id of pending) {
          const [group, key] = id.split('\u0000') as [string, string];
          this.registry.remove(source, group, key);
        }
      },
      down: (source, leaveAt) => {
        if (this.closed || source === this.source || this.downTimers.has(source)) return;
        for (const { group, key, entry } of [...this.registry.entriesOf(source)]) {
          if (entry.status !== 'reconnecting') this.registry.put(source, group, key, { ...entry, status: 'reconnecting' });
        }
        const timer = setTimeout(() => {
          this.downTimers.delete(source);
          for (const { group, key } of [...this.registry.entriesOf(source)]) this.registry.remove(source, group, key);
        }, Math.max(0, leaveAt - this.now()));
        timer.unref();
        this.downTimers.set(source, timer);
      },
      up: (source) => {
        const timer = this.downTimers.get(source);
        if (timer) clearTimeout(timer);
        this.downTimers.delete(source);
      },
      own: () => [...this.registry.entriesOf(this.source)],
    };
  }
}
