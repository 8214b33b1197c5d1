/**
 * `ablo.setSyncGroups(groups)` in the SDK, against a real engine: a switch
 * from board A to board B on the open socket (no reconnect: one socket, one
 * welcome), A's rows dropped, B's in, live queries and subscriptions
 * updated, pending writes kept; offline, the next hello asks for the new
 * groups with a fresh bootstrap; a credential scoped to board A is refused
 * board B and keeps A; two calls in a row end on the last.
 */
import WebSocket from 'ws';
import { describe, expect, test } from 'vitest';
import type { SocketLike } from '../../src/client/connection.js';
import { AbloPermissionError, AbloValidationError } from '../../src/errors.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { relay } from '../helpers/relay.js';
import { sdkKit, until } from '../helpers/sdk.js';

const schema = defineSchema({
  cards: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  notes: model({ body: z.string() }),
});
const kit = sdkKit(schema);

/** A socket factory that counts the sockets it opens and logs every frame each way, in order. */
function wiretap(): { factory: (url: string) => SocketLike; opened: () => number; log: Array<{ dir: 'in' | 'out'; frame: any }> } {
  let opened = 0;
  const log: Array<{ dir: 'in' | 'out'; frame: any }> = [];
  const factory = (url: string): SocketLike => {
    opened++;
    const ws = new WebSocket(url);
    ws.addEventListener('message', (ev) => log.push({ dir: 'in', frame: JSON.parse(String(ev.data)) }));
    const send = ws.send.bind(ws);
    (ws as unknown as { send: (d: string) => void }).send = (data: string) => {
      log.push({ dir: 'out', frame: JSON.parse(data) });
      send(data);
    };
    return ws as unknown as SocketLike;
  };
  return { factory, opened: () => opened, log };
}

function frames(log: Array<{ dir: 'in' | 'out'; frame: any }>, dir: 'in' | 'out', type: string): any[] {
  return log.filter((e) => e.dir === dir && e.frame.type === type).map((e) => e.frame);
}

async function seeded() {
  const e = await kit.engine();
  const server = await kit.client(e);
  await server.commits.create({
    operations: [
      { op: 'create', model: 'cards', id: 'a1', data: { title: 'A one', boardId: 'A' } },
      { op: 'create', model: 'cards', id: 'a2', data: { title: 'A two', boardId: 'A' } },
      { op: 'create', model: 'cards', id: 'b1', data: { title: 'B one', boardId: 'B' } },
      { op: 'create', model: 'cards', id: 'b2', data: { title: 'B two', boardId: 'B' } },
      { op: 'create', model: 'cards', id: 'c1', data: { title: 'C one', boardId: 'C' } },
    ],
  });
  return { e, server };
}

const ids = (rows: ReadonlyArray<{ id: string }>): string[] => rows.map((r) => r.id).sort();

describe('setSyncGroups on a live connection', () => {
  test("A → B on the same socket: A's rows go, B's come, a live query and a subscription on B update, changes of B arrive after", async () => {
    const { e, server } = await seeded();
    const tap = wiretap();
    const browser = await kit.client(e, { syncGroups: ['board:A'], webSocket: tap.factory });
    expect(browser.syncGroups).toEqual(['board:A']);
    expect(ids(browser.cards.getAll())).toEqual(['a1', 'a2']);

    const onB = browser.cards.live({ where: { boardId: 'B' } });
    const seenByLive: string[][] = [];
    onB.subscribe((rows) => seenByLive.push(ids(rows)));
    const seenBySelector: string[][] = [];
    const stop = browser.subscribe(
      (a) => a.cards.getAll({ where: { boardId: 'B' } }).map((c) => c.id),
      (value) => seenBySelector.push([...value].sort()),
    );

    await browser.setSyncGroups(['board:B']);
    expect(browser.syncGroups).toEqual(['board:B']);
    expect(ids(browser.cards.getAll())).toEqual(['b1', 'b2']);
    expect(browser.cards.get('a1')).toBeUndefined();
    expect(ids(onB.rows)).toEqual(['b1', 'b2']);
    expect(seenByLive.at(-1)).toEqual(['b1', 'b2']);
    expect(seenBySelector.at(-1)).toEqual(['b1', 'b2']);
    expect(browser.lastSyncId).toBe(server.lastSyncId);

    // No reconnect: one socket, one welcome; one set_groups answered.
    expect(tap.opened()).toBe(1);
    expect(frames(tap.log, 'in', 'welcome')).toHaveLength(1);
    expect(frames(tap.log, 'out', 'set_groups').map((f) => f.groups)).toEqual([['board:B']]);
    expect(frames(tap.log, 'in', 'groups')).toMatchObject([{ groups: ['board:B'], added: ['board:B'], removed: ['board:A'] }]);

    // Live on B: a new card of B shows in the live query; a change on A does not come back.
    await server.cards.update({ id: 'a1', data: { title: 'A changed' } });
    await server.cards.create({ id: 'b3', data: { title: 'B three', boardId: 'B' } });
    await until(browser, () => browser.cards.get('b3'));
    expect(ids(onB.rows)).toEqual(['b1', 'b2', 'b3']);
    expect(seenBySelector.at(-1)).toEqual(['b1', 'b2', 'b3']);
    expect(browser.cards.get('a1')).toBeUndefined();
    stop();
    onB.dispose();
  });

  test("writes not yet confirmed survive the switch and land once; a write to a row of A that left is still confirmed", async () => {
    const { e, server } = await seeded();
    const tap = wiretap();
    const browser = await kit.client(e, { syncGroups: ['board:A'], webSocket: tap.factory });
    // Both go on the socket before set_groups; their receipts come after it.
    const toA = browser.cards.update({ id: 'a2', data: { title: 'edited on A' } });
    const created = browser.cards.create({ id: 'b9', data: { title: 'new on B', boardId: 'B' } });
    const switched = browser.setSyncGroups(['board:B']);
    expect(browser.cards.get('b9')).toMatchObject({ title: 'new on B', boardId: 'B' });
    await switched;
    await expect(toA).resolves.toMatchObject({ id: 'a2', title: 'edited on A' });
    await expect(created).resolves.toMatchObject({ id: 'b9', title: 'new on B' });
    expect(ids(browser.cards.getAll())).toEqual(['b1', 'b2', 'b9']);
    expect(browser.cards.get('a2')).toBeUndefined();
    expect((await server.cards.retrieve({ id: 'a2' })).title).toBe('edited on A');
    // Each write went once.
    expect(frames(tap.log, 'out', 'commit').map((f) => f.ref)).toHaveLength(2);
    expect(new Set(frames(tap.log, 'out', 'commit').map((f) => f.ref)).size).toBe(2);
    expect(tap.opened()).toBe(1);
  });

  test('a session scoped to board A is refused board B: the promise rejects with the typed error, A stays, the socket stays live', async () => {
    const { e, server } = await seeded();
    const { token } = await server.sessions.create({ participant: { kind: 'user', id: 'ana' }, syncGroups: ['board:A'], operations: ['read', 'write'] });
    const tap = wiretap();
    const browser = await kit.client(e, { apiKey: undefined, sessionToken: token, syncGroups: ['board:A'], webSocket: tap.factory });
    const groupsSeen: Array<readonly string[]> = [];
    browser.subscribe(
      (a) => a.syncGroups,
      (value) => groupsSeen.push(value),
    );

    const refused = await browser.setSyncGroups(['board:B']).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(AbloPermissionError);
    expect(refused).toMatchObject({ code: 'group_not_allowed', details: { groups: ['board:B'], allowed: ['board:A'] } });
    expect(browser.syncGroups).toEqual(['board:A']);
    expect(groupsSeen).toEqual([['board:B'], ['board:A']]);
    expect(ids(browser.cards.getAll())).toEqual(['a1', 'a2']);
    expect(browser.status).toBe('live');

    await server.cards.update({ id: 'a1', data: { title: 'still here' } });
    await until(browser, () => browser.cards.get('a1')?.title === 'still here');
    expect(tap.opened()).toBe(1);
    // Writes go on as before.
    await browser.cards.update({ id: 'a2', data: { title: 'by ana' } });
    expect((await server.cards.retrieve({ id: 'a2' })).title).toBe('by ana');
  });

  test('two calls in a row: the last wins and both resolve; bad groups reject with a validation error', async () => {
    const { e } = await seeded();
    const tap = wiretap();
    const browser = await kit.client(e, { syncGroups: ['board:A'], webSocket: tap.factory });
    const first = browser.setSyncGroups(['board:B']);
    const second = browser.setSyncGroups(['board:C', 'default']);
    await Promise.all([first, second]);
    expect(browser.syncGroups).toEqual(['board:C', 'default']);
    expect(ids(browser.cards.getAll())).toEqual(['c1']);
    expect(tap.opened()).toBe(1);

    // Back to A with a pattern that takes it in: nothing of C's stays.
    await browser.setSyncGroups(['board:A*']);
    expect(ids(browser.cards.getAll())).toEqual(['a1', 'a2']);

    await expect(browser.setSyncGroups([])).rejects.toBeInstanceOf(AbloValidationError);
    await expect(browser.setSyncGroups([''])).rejects.toMatchObject({ code: 'invalid_request' });
    expect(browser.syncGroups).toEqual(['board:A*']);
  });

  test('the same groups again resolve at once, without a frame', async () => {
    const { e } = await seeded();
    const tap = wiretap();
    const browser = await kit.client(e, { syncGroups: ['board:A'], webSocket: tap.factory });
    await browser.setSyncGroups(['board:A']);
    expect(frames(tap.log, 'out', 'set_groups')).toEqual([]);
  });
});

describe('setSyncGroups without a live connection', () => {
  test('offline: the next hello names B with no lastSyncId (a fresh bootstrap); a write made offline lands once', async () => {
    const { e, server } = await seeded();
    const port = Number(new URL(e.url).port);
    const link = await relay(port);
    kit.cleanups.push(() => link.cut());
    const tap = wiretap();
    const browser = await kit.client({ url: link.url, apiKey: e.apiKey }, { syncGroups: ['board:A'], webSocket: tap.factory });
    expect(ids(browser.cards.getAll())).toEqual(['a1', 'a2']);

    await link.cut();
    await until(browser, () => browser.status === 'offline' || browser.status === 'connecting');
    const created = browser.cards.create({ id: 'b7', data: { title: 'made offline', boardId: 'B' } });
    const switched = browser.setSyncGroups(['board:B']);
    expect(browser.syncGroups).toEqual(['board:B']);
    // Nothing happens to the pool until the engine answers.
    expect(ids(browser.cards.getAll())).toEqual(['a1', 'a2', 'b7']);
    await server.cards.create({ id: 'b3', data: { title: 'while offline', boardId: 'B' } });

    await link.restore();
    await switched;
    await created;
    expect(ids(browser.cards.getAll())).toEqual(['b1', 'b2', 'b3', 'b7']);
    const hellos = frames(tap.log, 'out', 'hello');
    expect(hellos).toHaveLength(2);
    expect(hellos[0]).toMatchObject({ groups: ['board:A'] });
    expect(hellos[1].groups).toEqual(['board:B']);
    expect(hellos[1].lastSyncId).toBeUndefined();
    expect(frames(tap.log, 'in', 'welcome').map((w) => w.mode)).toEqual(['bootstrap', 'bootstrap']);
    expect(frames(tap.log, 'out', 'set_groups')).toEqual([]);
    // The offline write went once (same clientTxId on the one socket that took it).
    const list = await server.cards.list({ where: { boardId: 'B' } });
    expect(ids(list.data)).toEqual(['b1', 'b2', 'b3', 'b7']);
  });

  test('offline, groups the session may not use: the hello naming them is refused, the call rejects, and the client says hello again with its old groups', async () => {
    const { e, server } = await seeded();
    const { token } = await server.sessions.create({ participant: { kind: 'user', id: 'ana' }, syncGroups: ['board:A'], operations: ['read', 'write'] });
    const link = await relay(Number(new URL(e.url).port));
    kit.cleanups.push(() => link.cut());
    const tap = wiretap();
    const browser = await kit.client({ url: link.url, apiKey: e.apiKey }, { apiKey: undefined, sessionToken: token, syncGroups: ['board:A'], webSocket: tap.factory });

    await link.cut();
    await until(browser, () => browser.status === 'offline' || browser.status === 'connecting');
    const edited = browser.cards.update({ id: 'a1', data: { title: 'edited offline' } });
    const switched = browser.setSyncGroups(['board:B']).then(
      () => null,
      (err: unknown) => err,
    );
    await link.restore();
    const refused = await switched;
    expect(refused).toBeInstanceOf(AbloPermissionError);
    expect(refused).toMatchObject({ code: 'group_not_allowed' });
    await until(browser, () => browser.status === 'live');
    expect(browser.syncGroups).toEqual(['board:A']);
    await expect(edited).resolves.toMatchObject({ id: 'a1', title: 'edited offline' });
    expect(ids(browser.cards.getAll())).toEqual(['a1', 'a2']);
    const hellos = frames(tap.log, 'out', 'hello');
    expect(hellos.map((h) => h.groups)).toEqual([['board:A'], ['board:B'], ['board:A']]);
    // Back on its own groups the pool is current: a catch-up from where it was.
    expect(hellos[1].lastSyncId).toBeUndefined();
    expect(hellos[2].lastSyncId).toBe(frames(tap.log, 'in', 'bootstrap_done')[0].lastSyncId);
    expect(frames(tap.log, 'in', 'welcome').map((w) => w.mode)).toEqual(['bootstrap', 'catchup']);
  });

  test('called before the first hello: the hello names the new groups', async () => {
    const { e } = await seeded();
    const tap = wiretap();
    const { default: Ablo } = await import('../../src/index.js');
    const browser = Ablo({ schema, apiKey: e.apiKey, baseURL: e.url, syncGroups: ['board:A'], webSocket: tap.factory });
    kit.cleanups.push(() => browser.dispose());
    const switched = browser.setSyncGroups(['board:C']);
    await browser.ready();
    await switched;
    expect(frames(tap.log, 'out', 'hello')[0].groups).toEqual(['board:C']);
    expect(ids(browser.cards.getAll())).toEqual(['c1']);
  });
});
