/**
 * Sync group patterns, as a hello asks for them and a connection receives:
 * an exact group (`board:a`), a prefix ending in `*` (`board:*`), or `*`
 * alone (every group: what a client without `syncGroups` gets from a secret
 * key). The engine (fanout, catch-up, bootstrap) and the SDK (which changes
 * keep a row in its store) match groups with the same rule.
 */

/** Every group: the groups a client without `syncGroups` receives with a secret key. */
export const ALL_GROUPS = '*';

/** A pattern (`board:*`, `*`) rather than one group's name. */
export function isGroupPattern(group: string): boolean {
  return group.endsWith('*');
}

/**
 * The one matching rule: `group` is taken in by `pattern` when they are equal,
 * or when the pattern ends in `*` and the group starts with what comes before
 * it (`*` alone takes in every group). The engine's guard (a credential's
 * groups) and `groupMatcher` (a connection's, the SDK store's) both use it.
 */
export function patternMatches(pattern: string, group: string): boolean {
  return isGroupPattern(pattern) ? group.startsWith(pattern.slice(0, -1)) : pattern === group;
}

/** Which groups a list of groups and patterns takes in. */
export interface GroupMatcher {
  /** `*` is among them: every group. */
  readonly all: boolean;
  /** Some entry is a pattern (`all` included): reading them takes more than one group index range each. */
  readonly hasPatterns: boolean;
  /** The exact groups (no patterns). */
  readonly exact: ReadonlySet<string>;
  has(group: string): boolean;
  /** One of `groups` (or, for a change that moved a row, of `prevGroups`) is taken in. */
  any(groups: readonly string[], prevGroups?: readonly string[] | null): boolean;
}

export function groupMatcher(entries: Iterable<string>): GroupMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const e of entries) {
    if (isGroupPattern(e)) prefixes.push(e.slice(0, -1));
    else exact.add(e);
  }
  const all = prefixes.includes('');
  const has = all
    ? () => true
    : prefixes.length === 0
      ? (g: string) => exact.has(g)
      : (g: string) => {
          if (exact.has(g)) return true;
          for (const p of prefixes) if (g.startsWith(p)) return true;
          return false;
        };
  return {
    all,
    hasPatterns: prefixes.length > 0,
    exact,
    has,
    any(groups, prevGroups) {
      if (all) return true;
      for (const g of groups) if (has(g)) return true;
      if (prevGroups) for (const g of prevGroups) if (has(g)) return true;
      return false;
    },
  };
}
