/**
 * Identity roles on the schema: `defineSchema({ models, identityRoles })`,
 * carried by the serialized form (and its hash), read back from JSON, planned
 * as a safe change, and expanded per participant.
 */
import { describe, expect, test } from 'vitest';
import { AbloSchemaError, AbloValidationError } from '../../src/errors.js';
import { defineSchema, model, parseSerializedSchema, planSchemaChange, resolveSyncGroups, serializeSchema, z } from '../../src/schema/index.js';

const models = { notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }) };

describe('defineSchema({ models, identityRoles })', () => {
  test('keeps the roles in the serialized form, sorted, in the hash; without roles the schema is as before', () => {
    const plain = defineSchema(models);
    const viaDefinition = defineSchema({ models });
    expect(viaDefinition.serialized).toEqual(plain.serialized);
    expect(plain.serialized.identityRoles).toBeUndefined();

    const withRoles = defineSchema({ models, identityRoles: { self: 'user:{participantId}', kind: '{participantKind}:{participantId}:*' } });
    expect(withRoles.serialized.identityRoles).toEqual({ kind: '{participantKind}:{participantId}:*', self: 'user:{participantId}' });
    expect(Object.keys(withRoles.serialized.identityRoles!)).toEqual(['kind', 'self']);
    expect(withRoles.serialized.hash).not.toBe(plain.serialized.hash);
    expect(withRoles.serialized.models).toEqual(plain.serialized.models);
    expect(Object.keys(withRoles.models)).toEqual(['notes']);
  });

  test('a model named `models` is still a model map', () => {
    const s = defineSchema({ models: model({ name: z.string() }) });
    expect(Object.keys(s.serialized.models)).toEqual(['models']);
  });

  test('round-trips through JSON; a changed role breaks the hash', () => {
    const s = defineSchema({ models, identityRoles: { self: 'user:{participantId}' } });
    const json = JSON.stringify(serializeSchema(s));
    const back = parseSerializedSchema(json);
    expect(back).toEqual(s.serialized);
    const edited = JSON.parse(json);
    edited.identityRoles.self = 'user:*';
    expect(() => parseSerializedSchema(edited)).toThrow(expect.objectContaining({ code: 'hash_mismatch' }));
  });

  test('bad role names and templates are schema errors naming the role', () => {
    const bad: Array<Record<string, string>> = [
      { '1self': 'user:{participantId}' },
      { self: '' },
      { self: 'user:{owner}' },
      { self: 'user :{participantId}' },
      { self: 'us*er:{participantId}' },
      { self: 'user:{participantId' },
    ];
    for (const identityRoles of bad) {
      expect(() => defineSchema({ models, identityRoles }), JSON.stringify(identityRoles)).toThrow(AbloSchemaError);
    }
    expect(() => parseSerializedSchema({ ...defineSchema(models).serialized, hash: undefined, identityRoles: { self: 'user:{x}' } })).toThrow(/\{x\}/);
  });
});

describe('planSchemaChange: identity roles', () => {
  test('adding, changing or removing a role is one safe change; the same roles are no change', () => {
    const a = defineSchema({ models, identityRoles: { self: 'user:{participantId}', team: 'team:{participantId}' } }).serialized;
    const b = defineSchema({ models, identityRoles: { self: 'person:{participantId}', org: 'org:*' } }).serialized;
    const plan = planSchemaChange(a, b);
    expect(plan.safe).toBe(true);
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0]).toMatchObject({ kind: 'change_identity_roles', class: 'safe', model: '' });
    expect(plan.changes[0]!.description).toContain('add @org (org:*)');
    expect(plan.changes[0]!.description).toContain('change @self: user:{participantId} → person:{participantId}');
    expect(plan.changes[0]!.description).toContain('remove @team');
    expect(planSchemaChange(a, a).changes).toEqual([]);
    expect(planSchemaChange(defineSchema(models).serialized, a).changes.map((c) => c.kind)).toEqual(['change_identity_roles']);
  });
});

describe('resolveSyncGroups', () => {
  const roles = { self: 'user:{participantId}', mine: '{participantKind}:{participantId}:*' };
  const ana = { kind: 'user', id: 'ana' };

  test('no syncGroups: every role expanded for the participant; @role entries expanded, others kept', () => {
    expect(resolveSyncGroups(undefined, roles, ana)).toEqual(['user:ana', 'user:ana:*']);
    expect(resolveSyncGroups(['@self', 'board:*', 'user:ana'], roles, ana)).toEqual(['user:ana', 'board:*']);
    expect(resolveSyncGroups(['@mine'], roles, { kind: 'agent', id: 'indexer' })).toEqual(['agent:indexer:*']);
  });

  test('an unknown role names the known ones; no roles and no groups says what to pass', () => {
    try {
      resolveSyncGroups(['@boss'], roles, ana);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AbloValidationError);
      expect(err).toMatchObject({ code: 'unknown_identity_role' });
      expect((err as Error).message).toContain('@self, @mine');
    }
    expect(() => resolveSyncGroups(undefined, undefined, ana)).toThrow(expect.objectContaining({ code: 'sync_groups_required' }));
    expect(() => resolveSyncGroups(undefined, {}, ana)).toThrow(expect.objectContaining({ code: 'sync_groups_required' }));
    expect(resolveSyncGroups([], undefined, ana)).toEqual([]);
  });

  test('a participant id with * (or white space) never becomes a wildcard', () => {
    for (const id of ['*', 'ana*', 'a b', 'x{participantId}']) {
      expect(() => resolveSyncGroups(['@self'], roles, { kind: 'user', id }), id).toThrow(expect.objectContaining({ code: 'invalid_participant' }));
      expect(() => resolveSyncGroups(undefined, roles, { kind: 'user', id }), id).toThrow(expect.objectContaining({ code: 'invalid_participant' }));
    }
  });
});
