/**
 * `set_groups` on a live connection (../sync.ts runs it): what changes
 * between the old and the new set of groups and patterns, and the one-at-a-time
 * order of the switches of one connection.
 *
 * `added` are the entries of the new set the old set did not take in (their
 * rows are bootstrapped): `board:b` is not new when the old set had
 * `board:*`, and `board:x:*` is not new under `board:*` or `*`. `removed` are
 * the entries of the old set the new one does not take in (the client drops
 * the rows no longer in any of its groups; it knows a row's groups from the
 * schema). An entry taken in by both sides is in neither list.
 */
import { isGroupPattern, patternMatches } from '../../protocol/groups.js';

/**
 * Whether `entries` take in everything `entry` names: an exact group when one
 * entry matches it; a pattern only when a pattern of `entries` has a prefix
 * of its prefix (an exact group never takes in a pattern).
 */
export function covers(entries: Iterable<string>, entry: string): boolean {
  const pattern = isGroupPattern(entry);
  for (const e of entries) {
    if (!pattern) {
      if (patternMatches(e, entry)) return true;
    } else if (isGroupPattern(e) && entry.slice(0, -1).startsWith(e.slice(0, -1))) return true;
  }
  return false;
}

export interface GroupsChange {
  /** The new set, in the order given, each entry once. */
  groups: string[];
  added: string[];
  removed: string[];
}

/** What goes from `previous` to `next` (see the module comment). */
export function groupsChange(previous: Iterable<string>, next: readonly string[]): GroupsChange {
  const before = [...previous];
  const groups = [...new Set(next)];
  return {
    groups,
    added: groups.filter((g) => !covers(before, g)),
    removed: before.filter((g) => !covers(groups, g)),
  };
}

/**
 * Runs one connection's switches one after the other, in the order their
 * frames came: a second `set_groups` waits until the first has sent its
 * `groups_done` (or failed), so the client sees each answer whole.
 */
export class SwitchQueue {
  private tail: Promise<void> = Promise.resolve();

  /** Run `task` after every task queued before it; resolves or rejects with it. */
  run(task: () => Promise<void>): Promise<void> {
    const mine = this.tail.then(task);
    // The next task waits for this one whatever its outcome.
    this.tail = mine.catch(() => undefined);
    return mine;
  }
}
