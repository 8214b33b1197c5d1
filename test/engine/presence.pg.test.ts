/**
 * Presence across engine processes on one Postgres database: each process
 * runs in a child of its own (the built engine, test/fixtures/engine-child.mjs).
 * A member set through one process shows on the others (joins, updates,
 * leaves, and the whole group for a process that starts later); a process
 * killed with SIGKILL says nothing, so the others notice its silence: its
 * members turn `reconnecting` and leave after the TTL, unless the participant
 * comes back through another process first (one update, no leave). Two
 * engines in this process: one participant present through both is one
 * member, and an engine that closes says so (its members reconnect, then
 * leave after the TTL).
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, expect, test } from 'vitest';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { spawnEngineChild } from '../helpers/crash.js';
import { TestSocket } from '../helpers/engine.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), board: z.string() }, {}, { syncGroupFormat: 'board:{board}' }),
});
const TTL_MS = 1500;

let db: TestDatabase | undefined;
const children: Array<{ child: ChildProcess; exited: Promise<void> }> = [];
const sockets: TestSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const c of children.splice(0)) {
    c.child.kill('SIGKILL');
    await c.exited;
  }
  await db?.drop();
  db = undefined;
});

/** One engine process on the test database. */
async function engineProcess(key: string): Promise<{ url: string; kill: () => Promise<void> }> {
  const started = await spawnEngineChild({
    ABLO_TEST_DATABASE_URL: db!.url,
    ABLO_TEST_SCHEMA: JSON.stringify(schema.serialized),
    ABLO_TEST_KEY: key,
    ABLO_TEST_PRESENCE: JSON.stringify({ ttlMs: TTL_MS }),
  });
  children.push(started);
  return {
    url: started.url,
    kill: async () => {
      started.child.kill('SIGKILL');
      await started.exited;
    },
  };
}

async function join(url: string, key: string, id: string, kind: 'user' | 'agent' = 'user'): Promise<TestSocket> {
  const s = await TestSocket.open(`${url.replace(/^http/, 'ws')}/v1/sync`);
  sockets.push(s);
  const { frames } = await s.hello({ apiKey: key, participant: { kind, id }, groups: ['board:1'] });
  s.frames.unshift(...frames.filter((f) => f.type === 'presence'));
  return s;
}

/** The next presence frame about member `key` (a join, update or leave). */
function about(s: TestSocket, key: string, timeoutMs = 10_000): Promise<any> {
  return s.next((f) => f.type === 'presence' && f.event !== 'sync' && (f.member?.key ?? f.key) === key, timeoutMs);
}

/** Follows one socket's view of board:1 from its presence frames; resolves when `check` holds. */
async function view(s: TestSocket, check: (members: Map<string, any>) => boolean, timeoutMs = 10_000): Promise<Map<string, any>> {
  const members = new Map<string, any>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check(members)) return members;
    const f = await s.next((x) => x.type === 'presence' && x.group === 'board:1', Math.max(1, deadline - Date.now()));
    if (f.event === 'sync') {
      members.clear();
      for (const m of f.members) members.set(m.key, m);
    } else if (f.event === 'leave') members.delete(f.key);
    else members.set(f.member.key, f.member);
  }
}

test('two processes see each other\'s members; a third that starts later gets both; SIGKILL: its members reconnect or leave after the TTL', async () => {
  db = await createTestDatabase();
  const key = generateApiKey();
  const a = await engineProcess(key);
  const b = await engineProcess(key);

  const watcherB = await join(b.url, key, 'watcher-b', 'agent');
  const watcherA = await join(a.url, key, 'watcher-a', 'agent');
  const ana = await join(a.url, key, 'ana');
  ana.send({ type: 'presence_set', group: 'board:1', state: { focus: 'task_12' } });
  const joined = await about(watcherB, 'user:ana');
  expect(joined).toMatchObject({ event: 'join', group: 'board:1', member: { key: 'user:ana', status: 'online', state: { focus: 'task_12' } } });

  const bo = await join(b.url, key, 'bo');
  bo.send({ type: 'presence_set', group: 'board:1', state: { focus: 'task_3' } });
  expect((await about(watcherA, 'user:bo')).member).toMatchObject({ status: 'online', state: { focus: 'task_3' } });
  ana.send({ type: 'presence_set', group: 'board:1', state: { focus: 'task_13' } });
  expect((await about(watcherB, 'user:ana'))).toMatchObject({ event: 'update', member: { state: { focus: 'task_13' } } });

  // A connection on B going live now gets A's member in its sync.
  const late = await join(b.url, key, 'late');
  const synced = await late.next((f) => f.type === 'presence' && f.event === 'sync');
  expect(synced.members.map((m: any) => [m.key, m.state])).toEqual([
    ['user:ana', { focus: 'task_13' }],
    ['user:bo', { focus: 'task_3' }],
  ]);

  // A third process starts: it asks the others and learns both members.
  const c = await engineProcess(key);
  const watcherC = await join(c.url, key, 'watcher-c', 'agent');
  const seen = await view(watcherC, (m) => m.has('user:ana') && m.has('user:bo'));
  expect(seen.get('user:ana')).toMatchObject({ status: 'online', state: { focus: 'task_13' } });
  expect(seen.get('user:bo')).toMatchObject({ status: 'online', state: { focus: 'task_3' } });
  // Over HTTP too (GET /v1/presence, what MCP's ablo_presence reads): the third process lists members set through the others.
  const listed = await (await fetch(`${c.url}/v1/presence?group=board:1`, { headers: { authorization: `Bearer ${key}` } })).json();
  expect(listed).toMatchObject({ object: 'presence', group: 'board:1' });
  expect(listed.members.map((m: any) => [m.key, m.status, m.state])).toEqual([
    ['user:ana', 'online', { focus: 'task_13' }],
    ['user:bo', 'online', { focus: 'task_3' }],
  ]);

  // cy is on A too; then A is killed without a word.
  const cy = await join(a.url, key, 'cy');
  cy.send({ type: 'presence_set', group: 'board:1', state: { focus: 'task_9' } });
  await about(watcherC, 'user:cy');
  await about(watcherB, 'user:cy');
  await a.kill();
  const killedAt = Date.now();
  for (const w of [watcherB, watcherC]) {
    expect((await about(w, 'user:ana')).member.status).toBe('reconnecting');
    expect((await about(w, 'user:cy')).member.status).toBe('reconnecting');
  }
  // ana comes back through B within the TTL: back online, no leave anywhere.
  const anaAgain = await join(b.url, key, 'ana');
  anaAgain.send({ type: 'presence_set', group: 'board:1', state: { focus: 'task_13' } });
  expect((await about(watcherC, 'user:ana')).member).toMatchObject({ status: 'online', state: { focus: 'task_13' } });
  expect((await about(watcherB, 'user:ana')).member).toMatchObject({ status: 'online', state: { focus: 'task_13' } });
  // cy does not: it leaves after the TTL, on both remaining processes.
  expect((await about(watcherC, 'user:cy'))).toEqual({ type: 'presence', event: 'leave', group: 'board:1', key: 'user:cy' });
  expect((await about(watcherB, 'user:cy')).event).toBe('leave');
  expect(Date.now() - killedAt).toBeGreaterThanOrEqual(TTL_MS / 2);
  // ana stayed: no presence frame about her since she came back (well past the TTL now).
  await expect(watcherC.next((f) => f.type === 'presence' && (f.member?.key ?? f.key) === 'user:ana', 500)).rejects.toThrow(/timed out/);
  const final = await join(c.url, key, 'final');
  const finalSync = await final.next((f) => f.type === 'presence' && f.event === 'sync');
  expect(finalSync.members.map((m: any) => [m.key, m.status])).toEqual([
    ['user:ana', 'online'],
    ['user:bo', 'online'],
  ]);
}, 60_000);

test('an explicit leave and a dropped socket cross processes: leave at once, reconnecting then leave after the TTL', async () => {
  db = await createTestDatabase();
  const key = generateApiKey();
  const a = await engineProcess(key);
  const b = await engineProcess(key);
  const watcher = await join(b.url, key, 'watcher', 'agent');
  const ana = await join(a.url, key, 'ana');
  const bo = await join(a.url, key, 'bo');
  ana.send({ type: 'presence_set', group: 'board:1', state: { n: 1 } });
  bo.send({ type: 'presence_set', group: 'board:1', state: { n: 2 } });
  await about(watcher, 'user:ana');
  await about(watcher, 'user:bo');
  ana.send({ type: 'presence_leave', group: 'board:1' });
  expect(await about(watcher, 'user:ana')).toEqual({ type: 'presence', event: 'leave', group: 'board:1', key: 'user:ana' });
  bo.ws.terminate();
  expect((await about(watcher, 'user:bo')).member).toMatchObject({ status: 'reconnecting', state: { n: 2 } });
  expect((await about(watcher, 'user:bo')).event).toBe('leave');
}, 60_000);

test('in one Node process, two engines on one database: one participant on both is one member (no flapping when one side drops); a closed engine says bye', async () => {
  db = await createTestDatabase();
  const { createEngine } = await import('../../src/engine/index.js');
  const key = generateApiKey();
  const options = { databaseUrl: db.url, port: 0, schema, devKey: key, presence: { ttlMs: 800 }, log: () => {} };
  const a = await createEngine(options);
  let aClosed = false;
  const b = await createEngine(options);
  try {
    const watcher = await join(b.url, key, 'watcher', 'agent');
    const tabA = await join(a.url, key, 'ana');
    tabA.send({ type: 'presence_set', group: 'board:1', state: { tab: 'a' } });
    expect((await about(watcher, 'user:ana')).member).toMatchObject({ status: 'online', state: { tab: 'a' } });
    const tabB = await join(b.url, key, 'ana');
    tabB.send({ type: 'presence_set', group: 'board:1', state: { tab: 'b' } });
    expect((await about(watcher, 'user:ana'))).toMatchObject({ event: 'update', member: { status: 'online', state: { tab: 'b' } } });
    // ana's tab on A drops: B still holds her, with the later state. Nothing changes for anyone, past A's TTL too.
    tabA.ws.terminate();
    await expect(about(watcher, 'user:ana', 1500)).rejects.toThrow(/timed out/);

    // bo on A; then A closes: bo turns reconnecting on B and leaves after the TTL.
    const bo = await join(a.url, key, 'bo');
    bo.send({ type: 'presence_set', group: 'board:1', state: { n: 1 } });
    await about(watcher, 'user:bo');
    await a.close();
    aClosed = true;
    expect((await about(watcher, 'user:bo')).member.status).toBe('reconnecting');
    expect((await about(watcher, 'user:bo')).event).toBe('leave');
    expect(b.presence.ttlMs).toBe(800);
  } finally {
    for (const s of sockets.splice(0)) s.close();
    if (!aClosed) await a.close();
    await b.close();
  }
}, 60_000);
