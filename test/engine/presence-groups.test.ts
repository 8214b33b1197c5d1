/**
 * The presence plugin's `onGroupsChanged` hook (called by the sync server after
 * a `set_groups` is done): a connection that stops receiving a group leaves it
 * at once, and gets the whole group (`sync`) for each group it newly receives
 * — exact groups always, groups a new pattern takes in when they have members.
 * Driven through the plugin's own hooks with a real PresenceService; the
 * connections are plain objects that record what they are sent (the socket
 * path is covered by presence.test.ts).
 */
import { expect, test } from 'vitest';
import type { Principal } from '../../src/engine/auth/principal.js';
import { resolvePresenceOptions } from '../../src/engine/presence/options.js';
import { PresenceService } from '../../src/engine/presence/service.js';
import type { SyncConnection } from '../../src/engine/sync/plugin.js';
import { presencePlugin } from '../../src/engine/sync/presence.js';
import { groupMatcher } from '../../src/protocol/groups.js';

interface Recorded extends SyncConnection {
  frames: any[];
  groups: Set<string>;
}

function connection(id: string, participantId: string, groups: string[]): Recorded {
  const conn = {
    id,
    principal: { participant: { kind: 'user', id: participantId }, groups: 'all', operations: ['presence'], expiresAt: null, credentialId: 'key_test' } as Principal,
    participant: { kind: 'user' as const, id: participantId },
    groups: new Set(groups),
    inGroups: (gs: readonly string[]) => groupMatcher(conn.groups).any(gs),
    state: 'live' as const,
    frames: [] as any[],
    send: (f: unknown) => conn.frames.push(typeof f === 'string' ? JSON.parse(f) : f),
  };
  return conn;
}

test('set_groups: the groups that left are left at once; new groups (and pattern-matched groups with members) get a sync', async () => {
  const presence = new PresenceService({ settings: resolvePresenceOptions({ ttlMs: 60_000 }) });
  const plugin = presencePlugin({ presence, revoked: () => false });
  const ana = connection('c_ana', 'ana', ['board:1']);
  const bo = connection('c_bo', 'bo', ['board:1', 'board:2', 'board:3']);
  plugin.start!({ connections: () => [ana, bo] });
  await plugin.onFrame(ana, { type: 'presence_set', group: 'board:1', state: { at: 1 } });
  await plugin.onFrame(bo, { type: 'presence_set', group: 'board:2', state: { at: 2 } });
  await plugin.onFrame(bo, { type: 'presence_set', group: 'board:3', state: { at: 3 } });
  ana.frames.length = bo.frames.length = 0;

  // ana moves from board:1 to board:2.
  const previous = new Set(ana.groups);
  ana.groups = new Set(['board:2']);
  plugin.onGroupsChanged!(ana, previous);
  expect(bo.frames).toEqual([{ type: 'presence', event: 'leave', group: 'board:1', key: 'user:ana' }]);
  expect(ana.frames).toHaveLength(1);
  expect(ana.frames[0]).toMatchObject({ type: 'presence', event: 'sync', group: 'board:2' });
  expect(ana.frames[0].members.map((m: any) => [m.key, m.state])).toEqual([['user:bo', { at: 2 }]]);
  expect(presence.members('board:1')).toEqual([]);

  // Then to every board: board:3 has members and is new; board:2 was already received (no second sync).
  ana.frames.length = 0;
  plugin.onGroupsChanged!(ana, new Set(ana.groups));
  expect(ana.frames).toEqual([]);
  const before = new Set(ana.groups);
  ana.groups = new Set(['board:*']);
  plugin.onGroupsChanged!(ana, before);
  expect(ana.frames.map((f) => [f.event, f.group, f.members.map((m: any) => m.key)])).toEqual([['sync', 'board:3', ['user:bo']]]);
  await presence.close();
});
