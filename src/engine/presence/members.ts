/**
 * The members of every group as this process sees them, merged from their
 * sources. A source is an engine process: this one (its own connections),
 * and — on Postgres — every other process on the database, as it announced
 * them. One participant may be present through several sources at once (two
 * tabs on two engines): the member is `online` when any source has it online,
 * and carries the state set last (latest `updatedAt`).
 *
 * Every change of a merged member is one diff (`join`, `update`, `leave`),
 * handed to the listener: the sync plugin fans it out to the connections in
 * the group. A change that leaves the merged member as it was (a second tab
 * dropping while the first holds on) is no diff at all: no flapping.
 */
import type { ParticipantRef } from '../../protocol/commit.js';
import type { PresenceMember, PresenceState } from '../../protocol/presence.js';

/** One source's view of one member. */
export interface SourceEntry {
  participant: ParticipantRef;
  state: PresenceState;
  status: 'online' | 'reconnecting';
  /** When its state was last set (ISO). */
  updatedAt: string;
}

export type PresenceDiff =
  | { event: 'join' | 'update'; group: string; member: PresenceMember }
  | { event: 'leave'; group: string; key: string };

interface Slot {
  /** Source id → its entry. */
  entries: Map<string, SourceEntry>;
  merged: PresenceMember;
  /** `JSON.stringify(merged)`, to tell a real change from none. */
  text: string;
}

/** `<participant kind>:<participant id>`: the member key, one per participant per group. */
export function memberKey(participant: ParticipantRef): string {
  return `${participant.kind}:${participant.id}`;
}

function merge(key: string, entries: Map<string, SourceEntry>): PresenceMember {
  let latest: { source: string; entry: SourceEntry } | null = null;
  let online = false;
  for (const [source, entry] of entries) {
    if (entry.status === 'online') online = true;
    // The state set last wins; two set at the same instant: the larger source id, so every process picks the same.
    if (!latest || entry.updatedAt > latest.entry.updatedAt || (entry.updatedAt === latest.entry.updatedAt && source > latest.source)) {
      latest = { source, entry };
    }
  }
  const e = latest!.entry;
  return { key, participant: e.participant, state: e.state, status: online ? 'online' : 'reconnecting', updatedAt: e.updatedAt };
}

export class PresenceMembers {
  private readonly groups = new Map<string, Map<string, Slot>>();

  constructor(private readonly onDiff: (diff: PresenceDiff) => void) {}

  /** Set `source`'s entry for the member `key` of `group`. */
  put(source: string, group: string, key: string, entry: SourceEntry): void {
    let slots = this.groups.get(group);
    if (!slots) this.groups.set(group, (slots = new Map()));
    const slot = slots.get(key);
    if (!slot) {
      const entries = new Map([[source, entry]]);
      const merged = merge(key, entries);
      slots.set(key, { entries, merged, text: JSON.stringify(merged) });
      this.onDiff({ event: 'join', group, member: merged });
      return;
    }
    slot.entries.set(source, entry);
    this.remerge(group, key, slot);
  }

  /** Drop `source`'s entry for the member; the member leaves when no source has it. */
  remove(source: string, group: string, key: string): void {
    const slots = this.groups.get(group);
    const slot = slots?.get(key);
    if (!slots || !slot || !slot.entries.delete(source)) return;
    if (slot.entries.size > 0) {
      this.remerge(group, key, slot);
      return;
    }
    slots.delete(key);
    if (slots.size === 0) this.groups.delete(group);
    this.onDiff({ event: 'leave', group, key });
  }

  private remerge(group: string, key: string, slot: Slot): void {
    const merged = merge(key, slot.entries);
    const text = JSON.stringify(merged);
    if (text === slot.text) return;
    slot.merged = merged;
    slot.text = text;
    this.onDiff({ event: 'update', group, member: merged });
  }

  /** `source`'s entry for the member, if any. */
  entry(source: string, group: string, key: string): SourceEntry | undefined {
    return this.groups.get(group)?.get(key)?.entries.get(source);
  }

  /** Whether the group has the member (from any source). */
  has(group: string, key: string): boolean {
    return this.groups.get(group)?.has(key) ?? false;
  }

  /** How many members the group has. */
  count(group: string): number {
    return this.groups.get(group)?.size ?? 0;
  }

  /** The group's members, by key. */
  members(group: string): PresenceMember[] {
    const slots = this.groups.get(group);
    if (!slots) return [];
    return [...slots.values()].map((s) => s.merged).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Every group that has members. */
  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** Every entry of one source: (group, key, entry). */
  *entriesOf(source: string): Iterable<{ group: string; key: string; entry: SourceEntry }> {
    for (const [group, slots] of this.groups) {
      for (const [key, slot] of slots) {
        const entry = slot.entries.get(source);
        if (entry) yield { group, key, entry };
      }
    }
  }
}
