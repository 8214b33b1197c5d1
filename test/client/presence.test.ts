/**
 * `ablo.presence` with two SDK clients on a real engine: set, get (self
 * included), subscribe and client subscriptions, leave, the throttle (fewer
 * frames reach the engine, the last state wins), the state sent again after a
 * reconnect (one `update` back to online, never a leave), and engine refusals
 * surfacing as a warning and a `presence:error` event.
 */
import WebSocket from 'ws';
import { describe, expect, test } from 'vitest';
import Ablo, { AbloValidationError, type AbloOptions, type PresenceMember } from '../../src/index.js';
import type { SocketLike } from '../../src/client/connection.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine, type TestSocket } from '../helpers/engine.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), board: z.string() }, {}, { syncGroupFormat: 'board:{board}' }),
});
type Client = ReturnType<typeof Ablo<typeof schema>>;

const { engines, clients } = trackedEngines();

async function engine(presence: NonNullable<Parameters<typeof startTestEngine>[1]>['presence'] = {}): Promise<TestEngine> {
  const t = await startTestEngine(schema, { presence });
  engines.push(t);
  return t;
}

/** Frames this client's sockets sent (what the engine received), and the socket in use (to cut it). */
interface Wire {
  sent: any[];
  socket: WebSocket | null;
}

async function client(t: TestEngine, id: string, extra: Partial<Omit<AbloOptions<typeof schema>, 'schema'>> = {}): Promise<{ ablo: Client; wire: Wire }> {
  const wire: Wire = { sent: [], socket: null };
  const ablo = Ablo({
    schema,
    apiKey: t.key,
    baseURL: t.url,
    participant: { kind: 'user', id },
    syncGroups: ['board:1'],
    reconnect: { baseMs: 20, maxMs: 100 },
    webSocket: (url) => {
      const ws = new WebSocket(url);
      const send = ws.send.bind(ws);
      ws.send = ((data: string) => {
        wire.sent.push(JSON.parse(data));
        send(data);
      }) as typeof ws.send;
      wire.socket = ws;
      return ws as unknown as SocketLike;
    },
    ...extra,
  });
  clients.push(ablo);
  await ablo.ready();
  return { ablo, wire };
}

const keys = (members: readonly PresenceMember[]) => members.map((m) => m.key);
const member = (ablo: Client, group: string, key: string) => ablo.presence.get(group).find((m) => m.key === key);

describe('set, get, subscribe, leave', () => {
  test('A sets its state; both clients see it (A itself included); subscribe and client subscriptions fire; leave removes it', async () => {
    const t = await engine();
    const { ablo: a } = await client(t, 'ana');
    const { ablo: b } = await client(t, 'bo');
    const heard: Array<readonly PresenceMember[]> = [];
    const off = b.presence.subscribe('board:1', (members) => heard.push(members));
    const selected: string[][] = [];
    const unsubscribe = b.subscribe((x) => keys(x.presence.get('board:1')), (value) => selected.push(value));

    a.presence.set('board:1', { focus: 'task_12' });
    const seen = await until(b, () => member(b, 'board:1', 'user:ana'));
    expect(seen).toMatchObject({ key: 'user:ana', participant: { kind: 'user', id: 'ana' }, state: { focus: 'task_12' }, status: 'online' });
    expect(await until(a, () => member(a, 'board:1', 'user:ana'))).toMatchObject({ state: { focus: 'task_12' } });
    expect(heard.at(-1)!.map((m) => m.state)).toEqual([{ focus: 'task_12' }]);
    expect(selected.at(-1)).toEqual(['user:ana']);
    // The same array while nothing changes (selectors compare cheaply).
    expect(b.presence.get('board:1')).toBe(b.presence.get('board:1'));

    b.presence.set('board:1', { focus: 'task_3' });
    await until(a, () => a.presence.get('board:1').length === 2);
    expect(keys(a.presence.get('board:1'))).toEqual(['user:ana', 'user:bo']);

    a.presence.leave('board:1');
    await until(b, () => keys(b.presence.get('board:1')).join() === 'user:bo');
    expect(selected.at(-1)).toEqual(['user:bo']);
    off();
    unsubscribe();
    const before = heard.length;
    b.presence.set('board:1', { focus: 'task_4' });
    await until(a, () => member(a, 'board:1', 'user:bo')?.state.focus === 'task_4');
    expect(heard.length).toBe(before);
    expect(b.presence.get('board:404')).toEqual([]);
  });

  test('bad input is refused in the SDK before anything is sent', async () => {
    const t = await engine();
    const { ablo: a, wire } = await client(t, 'ana');
    expect(() => a.presence.set('board:*', {})).toThrow(AbloValidationError);
    expect(() => a.presence.set('', {})).toThrow(/one sync group/);
    expect(() => a.presence.set('board:1', ['x'] as never)).toThrow(/plain object/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => a.presence.set('board:1', cyclic)).toThrow(/must be JSON/);
    expect(wire.sent.filter((f) => f.type === 'presence_set')).toEqual([]);
    expect(() => Ablo({ schema, apiKey: t.key, baseURL: t.url, presence: { throttleMs: -1 } })).toThrow(
      expect.objectContaining({ code: 'invalid_option', field: 'presence.throttleMs' }),
    );
  });
});

describe('throttle', () => {
  test('40 states in 200 ms reach the engine as a few frames (at most one per 50 ms), and the last one wins', async () => {
    const t = await engine();
    const { ablo: a, wire } = await client(t, 'ana');
    const { ablo: b } = await client(t, 'bo');
    const started = performance.now();
    for (let i = 0; i < 40; i++) {
      a.presence.set('board:1', { x: i });
      await new Promise((r) => setTimeout(r, 5));
    }
    const elapsed = performance.now() - started;
    await until(b, () => member(b, 'board:1', 'user:ana')?.state.x === 39);
    const frames = wire.sent.filter((f) => f.type === 'presence_set');
    // The first state goes at once, then one per 50 ms at most, plus the trailing one.
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.length).toBeLessThanOrEqual(Math.floor(elapsed / 50) + 2);
    expect(frames.length).toBeLessThan(20);
    expect(frames[0]).toMatchObject({ state: { x: 0 } });
    expect(frames.at(-1)).toMatchObject({ group: 'board:1', state: { x: 39 } });
    // The same state again sends nothing.
    a.presence.set('board:1', { x: 39 });
    await new Promise((r) => setTimeout(r, 120));
    expect(wire.sent.filter((f) => f.type === 'presence_set').length).toBe(frames.length);
  });
});

describe('reconnect', () => {
  test('after the socket drops, the state is sent again once live: the others see reconnecting, then online, never a leave', async () => {
    const t = await engine({ ttlMs: 60_000 });
    const { ablo: a, wire } = await client(t, 'ana');
    const watcher: TestSocket = await t.socket();
    await watcher.hello({ apiKey: t.key, participant: { kind: 'agent', id: 'watcher' }, groups: ['board:1'] });
    a.presence.set('board:1', { focus: 'task_12' });
    await watcher.next((f) => f.type === 'presence' && f.event === 'join' && f.member.key === 'user:ana');
    const sentBefore = wire.sent.filter((f) => f.type === 'presence_set').length;

    wire.socket!.terminate();
    const reconnecting = await watcher.next((f) => f.type === 'presence' && (f.member?.key === 'user:ana' || f.key === 'user:ana'));
    expect(reconnecting).toMatchObject({ event: 'update', member: { status: 'reconnecting', state: { focus: 'task_12' } } });
    const online = await watcher.next((f) => f.type === 'presence' && (f.member?.key === 'user:ana' || f.key === 'user:ana'));
    expect(online).toMatchObject({ event: 'update', member: { status: 'online', state: { focus: 'task_12' } } });
    expect(wire.sent.filter((f) => f.type === 'presence_set').length).toBe(sentBefore + 1);
    await until(a, () => member(a, 'board:1', 'user:ana')?.status === 'online');
  });

  test('a leave while offline is sent once live again: the member leaves at once instead of after the TTL', async () => {
    const t = await engine({ ttlMs: 60_000 });
    const { ablo: a, wire } = await client(t, 'ana');
    const { ablo: b } = await client(t, 'bo');
    a.presence.set('board:1', { focus: 'task_12' });
    await until(b, () => member(b, 'board:1', 'user:ana'));
    wire.socket!.terminate();
    await until(b, () => member(b, 'board:1', 'user:ana')?.status === 'reconnecting');
    a.presence.leave('board:1');
    await until(b, () => member(b, 'board:1', 'user:ana') === undefined);
    expect(wire.sent.filter((f) => f.type === 'presence_leave').map((f) => f.group)).toEqual(['board:1']);
  });
});

describe('refusals', () => {
  test("the engine's caps surface as a warning and a presence:error event, and the client keeps working", async () => {
    const t = await engine({ maxStateBytes: 64 });
    const warnings: Array<{ message: string; details: unknown }> = [];
    const { ablo: a } = await client(t, 'ana', { logger: { warn: (message, details) => warnings.push({ message, details }) } });
    const { ablo: b } = await client(t, 'bo');
    const nextError = () =>
      new Promise<{ group: string; code: string }>((resolve) => {
        const off = a.on('presence:error', (e) => {
          off();
          resolve({ group: e.group, code: e.error.code });
        });
      });
    let error = nextError();
    a.presence.set('board:1', { text: 'x'.repeat(100) });
    expect(await error).toEqual({ group: 'board:1', code: 'presence_state_too_large' });
    expect(warnings.map((w) => w.details)).toContainEqual({ group: 'board:1', code: 'presence_state_too_large' });
    // A group this client does not receive.
    error = nextError();
    a.presence.set('board:2', { focus: 'x' });
    expect(await error).toEqual({ group: 'board:2', code: 'presence_group_not_received' });
    a.presence.set('board:1', { text: 'short' });
    expect((await until(b, () => member(b, 'board:1', 'user:ana'))).state).toEqual({ text: 'short' });
  });
});
