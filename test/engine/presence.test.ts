/**
 * Presence on a real engine (port 0, SQLite in a temp dir) with raw sockets:
 * the whole group on going live, join / update / leave diffs, one member per
 * participant whatever its sockets, `reconnecting` then a leave after a short
 * TTL (or back online without a leave), the caps and their error codes, bad
 * frames, groups the connection does not receive, revocation, and the engine
 * options.
 */
import { describe, expect, test } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { startTestEngine as startPublicTestEngine } from '../../src/testing/index.js';
import { presenceFrameSchema, PRESENCE_DEFAULTS } from '../../src/protocol/presence.js';
import { serverFrameSchema } from '../../src/protocol/sync.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine, type TestSocket } from '../helpers/engine.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), board: z.string() }, {}, { syncGroupFormat: 'board:{board}' }),
});

const { engines } = trackedEngines();
async function start(presence: Parameters<typeof startTestEngine>[1] extends infer O ? (O extends { presence?: infer P } ? P : never) : never = {}): Promise<TestEngine> {
  const t = await startTestEngine(schema, { presence });
  engines.push(t);
  return t;
}

async function join(t: TestEngine, participant: { kind: 'user' | 'agent'; id: string }, groups: string[], apiKey = t.key): Promise<TestSocket> {
  const s = await t.socket();
  const { frames } = await s.hello({ apiKey, participant, groups });
  // Presence frames that came in with the bootstrap's end stay queued for the test to read.
  s.frames.unshift(...frames.filter((f) => f.type === 'presence'));
  return s;
}

/** The next presence frame of `event` in `group` (optionally for member `key`). */
function presence(s: TestSocket, event: string, group: string, key?: string, timeoutMs = 5000): Promise<any> {
  return s.next(
    (f) => f.type === 'presence' && f.event === event && f.group === group && (key === undefined || (f.member?.key ?? f.key) === key),
    timeoutMs,
  );
}

let refs = 0;
/** Send a frame with a ref and wait for the error carrying it. */
function refused(s: TestSocket, frame: Record<string, unknown>): Promise<any> {
  const ref = `p${++refs}`;
  s.send({ ...frame, ref });
  return s.next((f) => f.type === 'error' && f.ref === ref);
}

/** No frame matching `match` arrives within `ms`. */
async function nothing(s: TestSocket, match: (f: any) => boolean, ms = 300): Promise<void> {
  await expect(s.next(match, ms)).rejects.toThrow(/timed out/);
}

const ana = { kind: 'user', id: 'ana' } as const;
const bot = { kind: 'agent', id: 'triage-bot' } as const;

describe('members and diffs', () => {
  test('a connection gets the whole group when it goes live, then join / update / leave as they happen (itself included)', async () => {
    const t = await start();
    const a = await join(t, ana, ['board:1']);
    const first = await presence(a, 'sync', 'board:1');
    expect(first.members).toEqual([]);
    expect(presenceFrameSchema.safeParse(first).success).toBe(true);

    a.send({ type: 'presence_set', group: 'board:1', state: { focus: 'task-12' } });
    const self = await presence(a, 'join', 'board:1', 'user:ana');
    expect(self.member).toMatchObject({ key: 'user:ana', participant: ana, state: { focus: 'task-12' }, status: 'online' });
    expect(Number.isNaN(Date.parse(self.member.updatedAt))).toBe(false);
    expect(serverFrameSchema.safeParse(self).success).toBe(true);

    // A second participant arrives: it gets ana in its sync, ana gets its join.
    const b = await join(t, bot, ['board:1']);
    const synced = await presence(b, 'sync', 'board:1');
    expect(synced.members.map((m: any) => [m.key, m.state, m.status])).toEqual([['user:ana', { focus: 'task-12' }, 'online']]);
    b.send({ type: 'presence_set', group: 'board:1', state: { working: 'task 12' } });
    expect((await presence(a, 'join', 'board:1', 'agent:triage-bot')).member.state).toEqual({ working: 'task 12' });

    a.send({ type: 'presence_set', group: 'board:1', state: { focus: 'task-13' } });
    const moved = await presence(b, 'update', 'board:1', 'user:ana');
    expect(moved.member.state).toEqual({ focus: 'task-13' });
    expect(moved.member.updatedAt > self.member.updatedAt).toBe(true);

    a.send({ type: 'presence_leave', group: 'board:1' });
    expect((await presence(b, 'leave', 'board:1')).key).toBe('user:ana');
    // A newcomer sees only the bot now.
    const c = await join(t, { kind: 'user', id: 'cy' }, ['board:1']);
    expect((await presence(c, 'sync', 'board:1')).members.map((m: any) => m.key)).toEqual(['agent:triage-bot']);
  });

  test('diffs reach only the connections that receive the group; a pattern takes in the groups it matches', async () => {
    const t = await start();
    const a = await join(t, ana, ['board:1']);
    await presence(a, 'sync', 'board:1');
    const other = await join(t, { kind: 'user', id: 'bo' }, ['board:2']);
    await presence(other, 'sync', 'board:2');
    const wide = await join(t, { kind: 'user', id: 'wide' }, ['board:*']);
    a.send({ type: 'presence_set', group: 'board:1', state: { x: 1 } });
    expect((await presence(wide, 'join', 'board:1', 'user:ana')).member.state).toEqual({ x: 1 });
    await nothing(other, (f) => f.type === 'presence' && f.group === 'board:1');
    // A connection with a pattern that goes live later gets a sync of the matching group that has members.
    const late = await join(t, { kind: 'user', id: 'late' }, ['board:*']);
    expect((await presence(late, 'sync', 'board:1')).members.map((m: any) => m.key)).toEqual(['user:ana']);
    // Setting in a group its pattern takes in is allowed.
    late.send({ type: 'presence_set', group: 'board:7', state: { here: true } });
    expect((await presence(wide, 'join', 'board:7', 'user:late')).member.state).toEqual({ here: true });
  });

  test('one member per participant: two sockets of ana hold one member; it stays while one of them is connected', async () => {
    const t = await start({ ttlMs: 200 });
    const watcher = await join(t, bot, ['board:1']);
    await presence(watcher, 'sync', 'board:1');
    const tab1 = await join(t, ana, ['board:1']);
    const tab2 = await join(t, ana, ['board:1']);
    tab1.send({ type: 'presence_set', group: 'board:1', state: { tab: 1 } });
    await presence(watcher, 'join', 'board:1', 'user:ana');
    tab2.send({ type: 'presence_set', group: 'board:1', state: { tab: 2 } });
    expect((await presence(watcher, 'update', 'board:1', 'user:ana')).member.state).toEqual({ tab: 2 });
    tab1.close();
    await tab1.waitClose();
    // Still held by tab 2: no reconnecting, no leave (well past the TTL).
    await nothing(watcher, (f) => f.type === 'presence' && f.group === 'board:1', 500);
    tab2.close();
    expect((await presence(watcher, 'update', 'board:1', 'user:ana')).member.status).toBe('reconnecting');
    expect((await presence(watcher, 'leave', 'board:1', 'user:ana')).key).toBe('user:ana');
  });
});

/** The bot watches board:1; ana joins it with focus 'x', and the bot has seen her join. */
async function anaWatched(t: Parameters<typeof join>[0]) {
  const watcher = await join(t, bot, ['board:1']);
  await presence(watcher, 'sync', 'board:1');
  const a = await join(t, ana, ['board:1']);
  a.send({ type: 'presence_set', group: 'board:1', state: { focus: 'x' } });
  await presence(watcher, 'join', 'board:1', 'user:ana');
  return { watcher, a };
}

describe('disconnects and the TTL', () => {
  test('a dropped member turns reconnecting, then leaves after the TTL', async () => {
    const t = await start({ ttlMs: 300 });
    const { watcher, a } = await anaWatched(t);
    a.ws.terminate();
    const dropped = Date.now();
    const reconnecting = await presence(watcher, 'update', 'board:1', 'user:ana');
    expect(reconnecting.member).toMatchObject({ status: 'reconnecting', state: { focus: 'x' } });
    // A connection going live meanwhile sees it as reconnecting.
    const late = await join(t, { kind: 'user', id: 'late' }, ['board:1']);
    expect((await presence(late, 'sync', 'board:1')).members.map((m: any) => [m.key, m.status])).toEqual([['user:ana', 'reconnecting']]);
    await presence(watcher, 'leave', 'board:1', 'user:ana');
    expect(Date.now() - dropped).toBeGreaterThanOrEqual(250);
  });

  test('the same participant back within the TTL: one update back to online, no leave and no join', async () => {
    const t = await start({ ttlMs: 1500 });
    const { watcher, a } = await anaWatched(t);
    a.ws.terminate();
    expect((await presence(watcher, 'update', 'board:1', 'user:ana')).member.status).toBe('reconnecting');
    const back = await join(t, ana, ['board:1']);
    expect((await presence(back, 'sync', 'board:1')).members.map((m: any) => m.status)).toEqual(['reconnecting']);
    back.send({ type: 'presence_set', group: 'board:1', state: { focus: 'y' } });
    const online = await presence(watcher, 'update', 'board:1', 'user:ana');
    expect(online.member).toMatchObject({ status: 'online', state: { focus: 'y' } });
    // Past the old TTL: it stays.
    await nothing(watcher, (f) => f.type === 'presence' && (f.event === 'leave' || f.event === 'join'), 1800);
  });

  test('presence_leave from a new connection ends a reconnecting member at once', async () => {
    const t = await start({ ttlMs: 60_000 });
    const watcher = await join(t, bot, ['board:1']);
    await presence(watcher, 'sync', 'board:1');
    const a = await join(t, ana, ['board:1']);
    a.send({ type: 'presence_set', group: 'board:1', state: {} });
    await presence(watcher, 'join', 'board:1', 'user:ana');
    a.ws.terminate();
    await presence(watcher, 'update', 'board:1', 'user:ana');
    const back = await join(t, ana, ['board:1']);
    back.send({ type: 'presence_leave', group: 'board:1' });
    expect((await presence(watcher, 'leave', 'board:1', 'user:ana')).key).toBe('user:ana');
  });

  test('a revoked session token: its member leaves at once (no reconnecting grace)', async () => {
    const t = await start({ ttlMs: 60_000 });
    const minted = await t.http('POST', '/v1/sessions', { participant: ana, syncGroups: ['board:1'], operations: ['read', 'presence'] });
    expect(minted.status).toBe(201);
    const watcher = await join(t, bot, ['board:1']);
    await presence(watcher, 'sync', 'board:1');
    const s = await join(t, ana, ['board:1'], minted.body.token);
    s.send({ type: 'presence_set', group: 'board:1', state: { focus: 'x' } });
    await presence(watcher, 'join', 'board:1', 'user:ana');
    expect((await t.http('DELETE', `/v1/sessions/${minted.body.sessionId}`)).status).toBe(200);
    expect((await s.waitClose()).code).toBe(4001);
    const next = await watcher.next((f) => f.type === 'presence' && f.group === 'board:1');
    expect(next).toEqual({ type: 'presence', event: 'leave', group: 'board:1', key: 'user:ana' });
  });
});

describe('caps and refusals', () => {
  test('state size, key count, members per group and update rate: typed errors; the socket stays open and serving', async () => {
    const t = await start({ maxStateBytes: 64, maxKeys: 3, maxMembersPerGroup: 2, maxUpdatesPerSecond: 5 });
    const a = await join(t, ana, ['board:1', 'board:2']);
    const big = await refused(a, { type: 'presence_set', group: 'board:1', state: { text: 'x'.repeat(80) } });
    expect(big.error).toMatchObject({ type: 'too_large', code: 'presence_state_too_large', maxStateBytes: 64 });
    expect(big.error.bytes).toBe(JSON.stringify({ text: 'x'.repeat(80) }).length);
    const keys = await refused(a, { type: 'presence_set', group: 'board:1', state: { a: 1, b: 2, c: 3, d: 4 } });
    expect(keys.error).toMatchObject({ type: 'validation_error', code: 'presence_too_many_keys', maxKeys: 3, keys: 4 });

    // Two members fill board:2; a third participant is refused; a member already there may still update.
    const b = await join(t, bot, ['board:2']);
    await presence(b, 'sync', 'board:2');
    a.send({ type: 'presence_set', group: 'board:2', state: { n: 1 } });
    b.send({ type: 'presence_set', group: 'board:2', state: { n: 2 } });
    await presence(b, 'join', 'board:2', 'agent:triage-bot');
    await presence(b, 'join', 'board:2', 'user:ana');
    const c = await join(t, { kind: 'user', id: 'cy' }, ['board:2']);
    const full = await refused(c, { type: 'presence_set', group: 'board:2', state: {} });
    expect(full.error).toMatchObject({ type: 'rate_limit', code: 'presence_full', group: 'board:2', maxMembersPerGroup: 2 });

    // 5 per second, burst 5, on a fresh connection: the sixth frame at once is refused.
    const r = await join(t, { kind: 'user', id: 'rapid' }, ['board:1']);
    for (let i = 0; i < 5; i++) r.send({ type: 'presence_set', group: 'board:1', state: { i } });
    const limited = await refused(r, { type: 'presence_set', group: 'board:1', state: { i: 5 } });
    expect(limited.error).toMatchObject({ type: 'rate_limit', code: 'rate_limited', limit: 'presence', maxUpdatesPerSecond: 5 });
    expect(limited.error.retryAfterMs).toBeGreaterThan(0);
    expect(limited.error.retryAfterMs).toBeLessThanOrEqual(200);
    // The refused state never went out; the socket still serves (a ping answers, a later set lands).
    const watcher = await join(t, { kind: 'user', id: 'watcher' }, ['board:1']);
    const synced = await presence(watcher, 'sync', 'board:1');
    expect(synced.members.find((m: any) => m.key === 'user:rapid').state).toEqual({ i: 4 });
    await new Promise((res) => setTimeout(res, limited.error.retryAfterMs + 20));
    r.send({ type: 'presence_set', group: 'board:1', state: { i: 6 } });
    expect((await presence(watcher, 'update', 'board:1', 'user:rapid')).member.state).toEqual({ i: 6 });
  });

  test('a group the connection does not receive, a pattern, a bad frame, and a credential without presence are refused', async () => {
    const t = await start();
    const a = await join(t, ana, ['board:1']);
    const elsewhere = await refused(a, { type: 'presence_set', group: 'board:2', state: {} });
    expect(elsewhere.error).toMatchObject({ type: 'permission_error', code: 'presence_group_not_received', group: 'board:2' });
    const leaveElsewhere = await refused(a, { type: 'presence_leave', group: 'board:2' });
    expect(leaveElsewhere.error.code).toBe('presence_group_not_received');
    const pattern = await refused(a, { type: 'presence_set', group: 'board:*', state: {} });
    expect(pattern.error).toMatchObject({ type: 'validation_error', code: 'invalid_request', field: 'group' });
    const notObject = await refused(a, { type: 'presence_set', group: 'board:1', state: ['x'] });
    expect(notObject.error.type).toBe('validation_error');
    const extra = await refused(a, { type: 'presence_set', group: 'board:1', state: {}, color: 'red' });
    expect(extra.error.type).toBe('validation_error');
    const noGroup = await refused(a, { type: 'presence_leave' });
    expect(noGroup.error.type).toBe('validation_error');

    const minted = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'viewer' }, syncGroups: ['board:1'], operations: ['read'] });
    const viewer = await t.socket();
    await viewer.hello({ apiKey: minted.body.token, groups: ['board:1'] });
    const denied = await refused(viewer, { type: 'presence_set', group: 'board:1', state: {} });
    expect(denied.error).toMatchObject({ type: 'permission_error', code: 'operation_not_allowed', operation: 'presence' });

    // After all that, the first socket still works.
    a.send({ type: 'presence_set', group: 'board:1', state: { ok: true } });
    expect((await presence(a, 'join', 'board:1', 'user:ana')).member.state).toEqual({ ok: true });
  });
});

describe('engine options', () => {
  test('defaults are the protocol defaults; bad values are invalid_option before anything opens', async () => {
    const t = await start();
    expect(t.engine.presence).toEqual({
      ttlMs: PRESENCE_DEFAULTS.ttlMs,
      maxStateBytes: PRESENCE_DEFAULTS.maxStateBytes,
      maxKeys: PRESENCE_DEFAULTS.maxKeys,
      maxUpdatesPerSecond: PRESENCE_DEFAULTS.maxUpdatesPerSecond,
      maxMembersPerGroup: PRESENCE_DEFAULTS.maxMembersPerGroup,
    });
    const bad: Array<[unknown, string]> = [
      [{ ttlMs: 0 }, 'presence.ttlMs'],
      [{ ttlMs: 1.5 }, 'presence.ttlMs'],
      [{ maxStateBytes: 7000 }, 'presence.maxStateBytes'],
      [{ maxKeys: -1 }, 'presence.maxKeys'],
      [{ maxUpdatesPerSecond: '30' }, 'presence.maxUpdatesPerSecond'],
      [{ maxMembersPerGroup: 0 }, 'presence.maxMembersPerGroup'],
      [{ ttl: 5 }, 'presence.ttl'],
      ['fast', 'presence'],
    ];
    // ablo/testing passes the settings on.
    const pub = await startPublicTestEngine({ schema, presence: { ttlMs: 250, maxKeys: 4 } });
    try {
      expect(pub.engine.presence).toMatchObject({ ttlMs: 250, maxKeys: 4, maxStateBytes: PRESENCE_DEFAULTS.maxStateBytes });
    } finally {
      await pub.stop();
    }
    for (const [presence, field] of bad) {
      await expect(createEngine({ file: '/nonexistent/never-opened.db', port: 0, presence: presence as never, log: () => {} })).rejects.toMatchObject({
        code: 'invalid_option',
        field,
      });
    }
  });
});
