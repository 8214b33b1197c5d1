/**
 * `patternsWithin(child, parent)`: a restricted key may only hand on groups
 * within its own. Exact cases, then properties over random patterns: when it
 * says "within", every group the child allows the parent allows; when it says
 * "not within", a group exists that the child allows and the parent refuses.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { groupAllowed } from '../../src/engine/auth/guard.js';
import { assertKeyWithin, patternsWithin } from '../../src/engine/auth/scope.js';
import type { Principal } from '../../src/engine/auth/principal.js';
import { AbloPermissionError } from '../../src/errors.js';

describe('patternsWithin', () => {
  test('exact groups, prefixes ending in *, * and all', () => {
    const cases: Array<[child: 'all' | string[], parent: 'all' | string[], within: boolean]> = [
      [['board:a'], ['board:a'], true],
      [['board:a'], ['board:b'], false],
      [['board:a'], ['board:*'], true],
      [['board:*'], ['board:*'], true],
      [['board:x:*'], ['board:*'], true],
      [['board:*'], ['board:x:*'], false],
      // An exact group never covers a wildcard, even the one that starts like it.
      [['board:*'], ['board:'], false],
      [['board'], ['board:*'], false],
      [['*'], ['board:*'], false],
      [['*'], ['*'], true],
      [['anything', 'x:*'], ['*'], true],
      [['board:a', 'user:ana'], ['board:*'], false],
      [['board:a', 'user:ana'], ['board:*', 'user:ana'], true],
      [[], ['board:a'], true],
      [[], [], true],
      [['board:a'], [], false],
      ['all', ['board:*'], false],
      ['all', ['*'], true],
      ['all', 'all', true],
      [['x'], 'all', true],
    ];
    for (const [child, parent, within] of cases) expect(patternsWithin(child, parent), `${JSON.stringify(child)} within ${JSON.stringify(parent)}`).toBe(within);
  });

  // Small alphabet so that prefixes overlap often; '~' never occurs in a pattern (the witness below).
  const group = fc.string({ unit: fc.constantFrom('a', 'b', ':'), maxLength: 4 });
  const pattern = fc.oneof(group, group.map((g) => `${g}*`));
  const patterns = fc.array(pattern, { maxLength: 4 });

  test('within: every group the child allows, the parent allows', () => {
    fc.assert(
      fc.property(patterns, patterns, fc.array(fc.string({ unit: fc.constantFrom('a', 'b', ':', '~'), maxLength: 7 }), { maxLength: 20 }), (child, parent, groups) => {
        if (!patternsWithin(child, parent)) return;
        // Groups the child allows: random ones, and each of its patterns' own stems.
        const probes = [...groups, ...child.map((p) => p.replace(/\*$/, '')), ...child.map((p) => p.replace(/\*$/, '~'))];
        for (const g of probes) if (groupAllowed(child, g)) expect(groupAllowed(parent, g), `${g}`).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test('not within: some group the child allows is refused by the parent', () => {
    fc.assert(
      fc.property(patterns, patterns, (child, parent) => {
        if (patternsWithin(child, parent)) return;
        // The witness: an exact child group, or a wildcard's stem followed by a character no parent pattern has.
        const witnesses = child.flatMap((p) => (p.endsWith('*') ? [p.slice(0, -1), `${p.slice(0, -1)}~`] : [p]));
        expect(witnesses.some((g) => groupAllowed(child, g) && !groupAllowed(parent, g))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('assertKeyWithin', () => {
  const restricted: Principal = {
    kind: 'restricted',
    participant: { kind: 'agent', id: 'ops' },
    groups: ['board:*'],
    operations: ['read', 'create', 'update', 'delete', 'keys'],
    expiresAt: null,
    credentialId: 'key_ops',
  };
  const refused = (fn: () => void): AbloPermissionError => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(AbloPermissionError);
      return err as AbloPermissionError;
    }
    throw new Error('expected a refusal');
  };

  test('a restricted key manages restricted keys within its groups and operations only', () => {
    expect(() => assertKeyWithin(restricted, { kind: 'restricted', groups: ['board:a', 'board:x:*'], operations: ['read', 'update'] }, 'create')).not.toThrow();
    const secret = refused(() => assertKeyWithin(restricted, { kind: 'secret', groups: null, operations: null }, 'create'));
    expect(secret.code).toBe('scope_exceeds_credential');
    const wider = refused(() => assertKeyWithin(restricted, { kind: 'restricted', groups: ['board:a', 'user:*'], operations: ['read', 'claim'] }, 'revoke'));
    expect(wider.code).toBe('scope_exceeds_credential');
    expect(wider.details).toMatchObject({ groups: ['user:*'], operations: ['claim'] });
    expect(wider.message).toContain('revoke');
  });

  test('a secret key manages any key', () => {
    const secret: Principal = { ...restricted, kind: 'secret', groups: 'all', operations: [] };
    expect(() => assertKeyWithin(secret, { kind: 'secret', groups: null, operations: null }, 'create')).not.toThrow();
    expect(() => assertKeyWithin(secret, { kind: 'restricted', groups: ['*'], operations: ['schema'] }, 'revoke')).not.toThrow();
  });
});
