/**
 * Presence and `setSyncGroups` together, end to end over real sockets: a
 * client that switches into a group gets that group's members (the engine's
 * `sync` for what is new), and the others see it leave the group it left, at
 * once (not after the TTL), without any reconnect.
 */
import { expect, test } from 'vitest';
import Ablo, { type PresenceMember } from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines } from '../helpers/engine.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), board: z.string() }, {}, { syncGroupFormat: 'board:{board}' }),
});

const { engines, clients } = trackedEngines();

function who(members: readonly PresenceMember[]): string {
  return members
    .map((m) => `${m.participant.id}@${String(m.state.focus)}:${m.status}`)
    .sort()
    .join(',');
}

test('switching groups brings the new group members and leaves the old group at once, on the same socket', async () => {
  // A TTL far longer than the test: a leave seen here is the switch, not the TTL.
  const t = await startTestEngine(schema, { presence: { ttlMs: 60_000 } });
  engines.push(t);
  const make = async (id: string, groups: string[]) => {
    const ablo = Ablo({ schema, apiKey: t.key, baseURL: t.url, participant: { kind: 'user', id }, syncGroups: groups });
    clients.push(ablo);
    await ablo.ready();
    return ablo;
  };
  const ana = await make('ana', ['board:1']);
  const bob = await make('bob', ['board:2']);
  const watcher = await make('wes', ['board:2']);
  let welcomes = 0;
  bob.on('connection:change', (e) => {
    if (e.status === 'connecting') welcomes++;
  });

  ana.presence.set('board:1', { focus: 't1' });
  bob.presence.set('board:2', { focus: 't2' });
  await until(watcher, () => who(watcher.presence.get('board:2')) === 'bob@t2:online');

  await bob.setSyncGroups(['board:1']);
  // The engine's sync for board:1 carried ana, who set her state before bob arrived.
  await until(bob, () => who(bob.presence.get('board:1')) === 'ana@t1:online');
  // Bob's member in board:2 is gone for the others at once, not reconnecting for the TTL.
  await until(watcher, () => who(watcher.presence.get('board:2')) === '');
  expect(bob.presence.get('board:2')).toEqual([]);

  bob.presence.set('board:1', { focus: 't1' });
  await until(ana, () => who(ana.presence.get('board:1')) === 'ana@t1:online,bob@t1:online');
  expect(welcomes).toBe(0);
});
