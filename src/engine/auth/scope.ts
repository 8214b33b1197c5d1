/**
 * Scopes within scopes: what a restricted key that holds the `keys`
 * operation may hand on. A key it creates (or revokes) must be a restricted
 * key whose sync groups and operations are all within its own, so key
 * management never widens what a credential reaches (docs/auth.md,
 * "Restricted keys").
 */
import { AbloPermissionError } from '../../errors.js';
import type { Operation, Principal } from './principal.js';

/**
 * Whether every group `child` patterns allow is allowed by `parent` patterns.
 * A pattern is an exact group (`board:a`), a prefix ending in `*`
 * (`board:*`), or `*` (every group); `'all'` is every group.
 *
 * - an exact child group is within a parent pattern that matches it;
 * - a child prefix `p*` is within a parent prefix `q*` when `p` starts with
 *   `q` (an exact parent group never covers a wildcard).
 */
export function patternsWithin(child: 'all' | readonly string[], parent: 'all' | readonly string[]): boolean {
  if (parent === 'all') return true;
  const parentAll = parent.some((q) => q === '*');
  if (child === 'all') return parentAll;
  if (parentAll) return true;
  return child.every((p) => patternWithin(p, parent));
}

function patternWithin(p: string, parent: readonly string[]): boolean {
  const wild = p.endsWith('*');
  const stem = wild ? p.slice(0, -1) : p;
  for (const q of parent) {
    if (q.endsWith('*')) {
      if (stem.startsWith(q.slice(0, -1))) return true;
    } else if (!wild && q === p) return true;
  }
  return false;
}

/** Whether every operation of `child` is one of `parent`'s. */
export function operationsWithin(child: readonly Operation[], parent: readonly Operation[]): boolean {
  return child.every((op) => parent.includes(op));
}

/** A key's scope as `assertKeyWithin` sees it. */
export interface KeyScope {
  kind: 'secret' | 'restricted';
  groups: readonly string[] | null;
  operations: readonly Operation[] | null;
}

/**
 * A secret key may create and revoke any key. Any other credential (a
 * restricted key with `keys`) only restricted keys within its own groups and
 * operations; 403 `scope_exceeds_credential` names what is wider. `what` says
 * what was tried (`create`, `revoke`).
 */
export function assertKeyWithin(principal: Principal, key: KeyScope, what: 'create' | 'revoke'): void {
  if (principal.kind === 'secret') return;
  const mine = { groups: principal.groups === 'all' ? ['all'] : [...principal.groups], operations: [...principal.operations] };
  if (key.kind === 'secret' || key.groups === null || key.operations === null) {
    throw new AbloPermissionError(`Only a secret key may ${what} a secret key; this credential may ${what} restricted keys within its own scope.`, {
      code: 'scope_exceeds_credential',
      credentialKind: principal.kind ?? 'custom',
      ...mine,
    });
  }
  const groups = key.groups.filter((g) => !patternsWithin([g], principal.groups));
  const operations = key.operations.filter((op) => !principal.operations.includes(op));
  if (groups.length === 0 && operations.length === 0) return;
  const parts: string[] = [];
  if (groups.length) parts.push(`sync group${groups.length === 1 ? '' : 's'} ${groups.map((g) => JSON.stringify(g)).join(', ')}`);
  if (operations.length) parts.push(`operation${operations.length === 1 ? '' : 's'} ${operations.join(', ')}`);
  throw new AbloPermissionError(
    `This credential may not ${what} a key with ${parts.join(' and ')}: a key it manages must stay within its own groups (${mine.groups.map((g) => JSON.stringify(g)).join(', ') || 'none'}) and operations (${mine.operations.join(', ') || 'none'}).`,
    { code: 'scope_exceeds_credential', groups, operations, allowed: mine },
  );
}
