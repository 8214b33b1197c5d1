/**
 * API keys: insert, find by hash, list, revoke, count.
 */
import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord } from '../../../../src/engine/storage/types.js';
import { T0, type ContractContext } from './harness.js';

export function keysContract(ctx: ContractContext): void {
  describe('API keys', () => {
    it('inserts, finds by hash, lists in creation order, revokes (keeping the first time) and counts keys', async () => {
      const s = await ctx.fresh();
      expect(await s.countApiKeys()).toBe(0);
      expect(await s.listApiKeys()).toEqual([]);
      const k1: ApiKeyRecord = {
        id: 'key_1',
        name: 'dev',
        prefix: 'sk_test_AbC1',
        hash: 'h1',
        createdAt: T0,
        revokedAt: null,
        participant: { kind: 'system', id: 'dev' },
        kind: 'secret',
        groups: null,
        operations: null,
      };
      const k2: ApiKeyRecord = { ...k1, id: 'key_2', name: 'agent 😀', hash: 'h2', createdAt: '2024-01-02T00:00:00.000Z', participant: { kind: 'agent', id: 'bot' } };
      // Same creation time as k1: the id breaks the tie.
      const k0: ApiKeyRecord = { ...k1, id: 'key_0', name: 'user', hash: 'h0', participant: { kind: 'user', id: 'ann' } };
      const kr: ApiKeyRecord = { ...k1, id: 'key_r', name: 'born revoked', hash: 'hr', createdAt: '2024-01-03T00:00:00.000Z', revokedAt: '2024-01-04T00:00:00.000Z' };
      await s.insertApiKey(k1);
      await s.insertApiKey(k2);
      await s.insertApiKey(k0);
      await s.insertApiKey(kr);
      await expect(s.insertApiKey({ ...k2, id: 'key_3' })).rejects.toThrow(); // the hash is unique
      expect(await s.findApiKeyByHash('h2')).toEqual(k2);
      expect(await s.findApiKeyByHash('h0')).toEqual(k0);
      expect(await s.findApiKeyByHash('hr')).toEqual(kr);
      expect(await s.findApiKeyByHash('nope')).toBeNull();
      expect(await s.findApiKeyByHash('H2')).toBeNull();
      expect(await s.listApiKeys()).toEqual([k0, k1, k2, kr]);
      expect(await s.countApiKeys()).toBe(4);
      expect(await s.revokeApiKey('key_1', '2024-02-01T00:00:00.000Z')).toBe(true);
      expect(await s.revokeApiKey('key_1', '2024-03-01T00:00:00.000Z')).toBe(true);
      expect(await s.revokeApiKey('missing', '2024-02-01T00:00:00.000Z')).toBe(false);
      expect(await s.findApiKeyByHash('h1')).toEqual({ ...k1, revokedAt: '2024-02-01T00:00:00.000Z' });
      expect(await s.findApiKeyByHash('h2')).toEqual(k2);
      // Revoked keys stay listed and counted.
      expect(await s.countApiKeys()).toBe(4);
      expect((await s.listApiKeys()).map((k) => [k.id, k.revokedAt])).toEqual([
        ['key_0', null],
        ['key_1', '2024-02-01T00:00:00.000Z'],
        ['key_2', null],
        ['key_r', '2024-01-04T00:00:00.000Z'],
      ]);
      // Keys are not changes.
      expect(await s.lastSyncId()).toBe(0);
    });

    it('keeps a restricted key\'s kind, groups and operations (and a secret key\'s none) through insert, find, list and revoke', async () => {
      const s = await ctx.fresh();
      const secret: ApiKeyRecord = {
        id: 'key_s',
        name: 'server',
        prefix: 'sk_live_Zz90',
        hash: 'hs',
        createdAt: T0,
        revokedAt: null,
        participant: { kind: 'system', id: 'key_s' },
        kind: 'secret',
        groups: null,
        operations: null,
      };
      const restricted: ApiKeyRecord = {
        ...secret,
        id: 'key_r',
        name: 'indexer',
        prefix: 'rk_test_Ab12',
        hash: 'hr',
        createdAt: '2024-01-02T00:00:00.000Z',
        participant: { kind: 'agent', id: 'indexer' },
        kind: 'restricted',
        groups: ['board:*', 'user:ana', 'ünï:*'],
        operations: ['read', 'create', 'update', 'delete', 'claim'],
      };
      // A restricted key with an empty scope stays restricted (never read back as everything).
      const empty: ApiKeyRecord = { ...restricted, id: 'key_e', hash: 'he', createdAt: '2024-01-03T00:00:00.000Z', groups: [], operations: [] };
      await s.insertApiKey(secret);
      await s.insertApiKey(restricted);
      await s.insertApiKey(empty);
      expect(await s.findApiKeyByHash('hs')).toEqual(secret);
      expect(await s.findApiKeyByHash('hr')).toEqual(restricted);
      expect(await s.findApiKeyByHash('he')).toEqual(empty);
      expect(await s.listApiKeys()).toEqual([secret, restricted, empty]);
      expect(await s.revokeApiKey('key_r', '2024-02-01T00:00:00.000Z')).toBe(true);
      expect(await s.findApiKeyByHash('hr')).toEqual({ ...restricted, revokedAt: '2024-02-01T00:00:00.000Z' });
    });

    it('engine records: ensureMeta keeps the first value written, listMeta answers a prefix in key order', async () => {
      const s = await ctx.fresh();
      expect(await s.listMeta('session_')).toEqual([]);
      expect(await s.ensureMeta('session_key:0002', 'b')).toBe('b');
      expect(await s.ensureMeta('session_key:0001', 'a')).toBe('a');
      // Never overwritten: a second writer gets the first value back.
      expect(await s.ensureMeta('session_key:0001', 'other')).toBe('a');
      expect(await s.ensureMeta('session_revoked:ses_1', '2030-01-01T00:00:00.000Z')).toBe('2030-01-01T00:00:00.000Z');
      expect(await s.ensureMeta('session_key_', 'x')).toBe('x');
      expect(await s.listMeta('session_key:')).toEqual([
        { key: 'session_key:0001', value: 'a' },
        { key: 'session_key:0002', value: 'b' },
      ]);
      expect((await s.listMeta('session_revoked:')).map((r) => r.key)).toEqual(['session_revoked:ses_1']);
      // A prefix matches literally (no LIKE wildcards).
      expect(await s.listMeta('session%')).toEqual([]);
      expect(await s.lastSyncId()).toBe(0);
    });
  });
}
