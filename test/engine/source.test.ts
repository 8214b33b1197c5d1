/**
 * Data Source mode on a real engine (port 0, SQLite cache in a temp dir) with
 * a real HTTP source (test/helpers/memorySource.ts, signatures verified):
 * commits go to the source and fan out its canonical rows; external writes
 * come back as events; echoes are dropped; the source's own version check,
 * 5xx retries, a source that is down and mixed batches.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { SourcesConfig } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';
import { startMemorySource, type MemorySource } from '../helpers/memorySource.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), done: z.boolean().default(false), board: z.string() }, {}, { syncGroupFormat: 'board:{board}' }),
  notes: model({ text: z.string() }),
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: { poll?: number; handlers?: { events?: boolean; list?: boolean } } = {}): Promise<{ t: TestEngine; src: MemorySource }> {
  const src = await startMemorySource({ ...(options.handlers ? { handlers: options.handlers } : {}) });
  cleanups.push(() => src.close());
  const t = await startTestEngine(schema, {
    sources: { app: { url: src.url, models: ['tasks'], signingSecret: src.secret, pollIntervalMs: options.poll ?? 0, timeoutMs: 2000 } },
  });
  cleanups.push(() => t.stop());
  await t.engine.sources!.ready();
  return { t, src };
}

const seen = new WeakMap<TestSocket, any[]>();

/** A subscriber of board b1 and of the local notes; every change it receives is kept (`changesOf`). */
async function watch(t: TestEngine): Promise<TestSocket> {
  const s = await t.socket();
  const all: any[] = [];
  seen.set(s, all);
  s.ws.on('message', (data) => {
    const frame = JSON.parse(String(data));
    if (frame.type === 'changes') all.push(...frame.changes);
  });
  await s.hello({ apiKey: t.key, groups: ['board:b1', 'default'] });
  return s;
}

/** Every change a socket received so far. */
function changesOf(s: TestSocket): any[] {
  return seen.get(s)!;
}

/**
 * Wait until `s` has received everything committed so far: a local write (a note) is made and awaited; the
 * feed delivers in sync-id order, so whatever came before it has arrived.
 */
async function settle(t: TestEngine, s: TestSocket): Promise<void> {
  const note = await t.http('POST', '/v1/models/notes', { data: { text: 'sentinel' } });
  await s.next((f) => f.type === 'changes' && f.changes.some((c: any) => c.id === note.body.id));
}

describe('commits go to the source', () => {
  test('create, update, delete reach the source; subscribers get the canonical rows once', async () => {
    const { t, src } = await setup();
    const w = await watch(t);
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: 'write docs', board: 'b1' } });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(src.table('tasks').get(id)).toMatchObject({ id, title: 'write docs', done: false, board: 'b1' });
    await w.next((f) => f.type === 'changes' && f.changes.some((c: any) => c.id === id));

    const updated = await t.http('PATCH', `/v1/models/tasks/${id}`, { data: { done: true } });
    expect(updated.status).toBe(200);
    expect(src.table('tasks').get(id)!.done).toBe(true);
    const removed = await t.http('DELETE', `/v1/models/tasks/${id}`);
    expect(removed.status).toBe(200);
    expect(src.table('tasks').has(id)).toBe(false);
    await w.next((f) => f.type === 'changes' && f.changes.some((c: any) => c.id === id && c.action === 'delete'));
    // The echoes of all three are in the outbox; pulling them delivers nothing more.
    await t.engine.sources!.pull('app');
    await settle(t, w);
    const mine = changesOf(w).filter((c) => c.id === id);
    expect(mine.map((c) => c.action)).toEqual(['create', 'update', 'delete']);
    expect(src.applied).toBe(3);
  });

  test('the source canonicalizes a row: the engine stores and fans out what the source answered', async () => {
    const { t, src } = await setup();
    // The app trims titles: its answer is the canonical row.
    const original = src.table('tasks');
    const set = original.set.bind(original);
    original.set = (id, row) => set(id, { ...row, title: String(row.title).trim() });
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: '  padded  ', board: 'b1' } });
    expect(created.status).toBe(201);
    const read = await t.http('GET', `/v1/models/tasks/${created.body.id}`);
    expect(read.body.title).toBe('padded');
  });

  test('a model the engine stores itself is not sent; a batch mixing both is refused whole', async () => {
    const { t, src } = await setup();
    const note = await t.http('POST', '/v1/models/notes', { data: { text: 'local' } });
    expect(note.status).toBe(201);
    expect(src.received.commit ?? 0).toBe(0);
    const mixed = await t.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'notes', data: { text: 'x' } },
        { op: 'create', model: 'tasks', data: { title: 'y', board: 'b1' } },
      ],
    });
    expect(mixed.status).toBe(400);
    expect(mixed.body.error.code).toBe('mixed_storage_batch');
    expect(src.received.commit ?? 0).toBe(0);
    expect((await t.http('GET', '/v1/models/notes')).body.data).toHaveLength(1);
  });
});

describe('external writes', () => {
  test('a write in the app reaches subscribers through events; the stale guard sees it', async () => {
    const { t, src } = await setup();
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: 'a', board: 'b1' } });
    const id = created.body.id;
    const readAt = created.body.syncId;
    const w = await watch(t);
    src.external('tasks', id, { title: 'renamed in SQL' });
    await t.engine.sources!.pull('app');
    const frame = await w.next((f) => f.type === 'changes' && f.changes.some((c: any) => c.id === id));
    const change = frame.changes.find((c: any) => c.id === id);
    expect(change).toMatchObject({ action: 'update', fields: ['title'], participant: { kind: 'system', id: 'source:app' } });
    expect(change.data.title).toBe('renamed in SQL');
    // An agent that read before the external write is stale.
    const stale = await t.http('PATCH', `/v1/models/tasks/${id}`, { data: { title: 'mine' }, readAt });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('stale_context');
    expect(src.table('tasks').get(id)!.title).toBe('renamed in SQL');
  });

  test('an external write the engine has not pulled yet: the source answers stale from its own check', async () => {
    const { t, src } = await setup();
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: 'a', board: 'b1' } });
    const id = created.body.id;
    src.external('tasks', id, { title: 'moved in the app' });
    const res = await t.http('PATCH', `/v1/models/tasks/${id}`, { data: { title: 'mine' }, readAt: created.body.syncId });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ type: 'stale_context', code: 'stale_context' });
    expect(src.table('tasks').get(id)!.title).toBe('moved in the app');
  });

  test('rows made in the app before the engine started are listed into the cache at start', async () => {
    const src = await startMemorySource();
    cleanups.push(() => src.close());
    src.table('tasks').set('task_pre', { id: 'task_pre', title: 'old', done: false, board: 'b1' });
    const t = await startTestEngine(schema, { sources: { app: { url: src.url, models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0 } } });
    cleanups.push(() => t.stop());
    await t.engine.sources!.ready();
    const read = await t.http('GET', '/v1/models/tasks/task_pre');
    expect(read.status).toBe(200);
    expect(read.body.title).toBe('old');
  });
});

describe('faults', () => {
  test('the source answers 500 then 200: applied exactly once', async () => {
    const { t, src } = await setup();
    src.failNext = 1;
    const w = await watch(t);
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: 'retry me', board: 'b1' } });
    expect(created.status).toBe(201);
    expect(src.received.commit).toBe(2);
    expect(src.applied).toBe(1);
    await t.engine.sources!.pull('app');
    await settle(t, w);
    expect(changesOf(w).filter((c) => c.id === created.body.id)).toHaveLength(1);
  });

  test('the source is down: source_unavailable, nothing cached, nothing fanned out', async () => {
    const { t, src } = await setup();
    const w = await watch(t);
    const before = t.engine.lastSyncId();
    src.down = true;
    const res = await t.http('POST', '/v1/models/tasks', { data: { title: 'lost?', board: 'b1' } });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ type: 'connection_error', code: 'source_unavailable' });
    expect(t.engine.lastSyncId()).toBe(before);
    expect((await t.http('GET', '/v1/models/tasks')).body.data).toHaveLength(0);
    await settle(t, w);
    expect(changesOf(w).filter((c) => c.model === 'tasks')).toHaveLength(0);
    // Back up: the next write goes through.
    src.down = false;
    expect((await t.http('POST', '/v1/models/tasks', { data: { title: 'now', board: 'b1' } })).status).toBe(201);
  });

  test('an answer the engine cannot use is source_bad_response: nothing applied here; the app’s outbox event brings its write back', async () => {
    const { t, src } = await setup();
    const answers = ['not json', '{"rows": "nope"}', '{"rows": [{"id": "task_g2", "title": 7, "board": "b1"}]}'];
    for (const [i, garbage] of answers.entries()) {
      src.garbleCommit = garbage;
      const res = await t.http('POST', '/v1/models/tasks', { id: `task_g${i}`, data: { title: 'g', board: 'b1' } });
      expect(res.status, garbage).toBe(502);
      expect(res.body.error).toMatchObject({ type: 'server_error', code: 'source_bad_response' });
    }
    src.garbleCommit = null;
    expect((await t.http('GET', '/v1/models/tasks')).body.data).toHaveLength(0);
    expect(await t.engine.storage.listMeta('source_journal:')).toEqual([]);
    // The app did apply them: their events are external writes now, and arrive.
    await t.engine.sources!.pull('app');
    expect((await t.http('GET', '/v1/models/tasks')).body.data).toHaveLength(3);
  });

  test('notify holds an operation in the engine: it is never sent to the source', async () => {
    const { t, src } = await setup();
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: 'a', board: 'b1' } });
    const id = created.body.id;
    await t.http('PATCH', `/v1/models/tasks/${id}`, { data: { title: 'b' } });
    const sent = src.received.commit;
    const held = await t.http('POST', '/v1/commits', {
      operations: [{ op: 'update', model: 'tasks', id, data: { title: 'c' }, readAt: created.body.syncId, onStale: 'notify' }],
    });
    expect(held.status).toBe(200);
    expect(held.body.status).toBe('held');
    expect(src.received.commit).toBe(sent);
    expect(src.table('tasks').get(id)!.title).toBe('b');
  });
});

describe('coordination with the source canonical', () => {
  test('guarded counter: 20 writers × 25 increments with readAt end at exactly 500, in the source and the engine', async () => {
    const { t, src } = await setup();
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: '0', board: 'b1' } });
    const id = created.body.id;
    let conflicts = 0;
    const writer = async (): Promise<void> => {
      for (let done = 0; done < 25; ) {
        const row = await t.http('GET', `/v1/models/tasks/${id}`);
        const next = String(Number(row.body.title) + 1);
        const res = await t.http('PATCH', `/v1/models/tasks/${id}`, { data: { title: next }, readAt: row.body.syncId });
        if (res.status === 200) done++;
        else if (res.status === 409) conflicts++;
        else throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body)}`);
      }
    };
    await Promise.all(Array.from({ length: 20 }, writer));
    expect((await t.http('GET', `/v1/models/tasks/${id}`)).body.title).toBe('500');
    expect(src.table('tasks').get(id)!.title).toBe('500');
    expect(conflicts).toBeGreaterThan(0);
  }, 120_000);

  test('a claimed row refuses another participant’s write before anything is sent to the source', async () => {
    const { t, src } = await setup();
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: 'claimed', board: 'b1' } });
    const id = created.body.id;
    const claim = await t.http('POST', `/v1/models/tasks/${id}/claim`, {}, { 'ablo-participant': 'agent:a1' });
    expect(claim.status).toBe(200);
    const sent = src.received.commit;
    const other = await t.http('PATCH', `/v1/models/tasks/${id}`, { data: { title: 'not yours' } }, { 'ablo-participant': 'user:bo' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('row_claimed');
    expect(src.received.commit).toBe(sent);
    const holder = await t.http('PATCH', `/v1/models/tasks/${id}`, { data: { title: 'mine' } }, { 'ablo-participant': 'agent:a1', 'ablo-claim': claim.body.id });
    expect(holder.status).toBe(200);
    expect(src.table('tasks').get(id)!.title).toBe('mine');
  });
});

describe('start-up', () => {
  test('ready() with the source unreachable rejects with source_unavailable naming it, instead of waiting forever', async () => {
    const src = await startMemorySource();
    await src.close();
    const t = await startTestEngine(schema, { sources: { app: { url: src.url, models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0, timeoutMs: 200, attempts: 1 } } });
    cleanups.push(() => t.stop());
    const err = await t.engine.sources!.ready(1500).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'source_unavailable', details: expect.objectContaining({ source: 'app' }) });
    expect((await t.http('GET', '/v1/sources')).body.sources.app).toMatchObject({ ready: false, lastError: expect.stringContaining('did not answer') });
  });

  test('bad sources options are refused before anything opens', async () => {
    const bad: SourcesConfig[] = [
      { 'Bad Name': { url: 'http://x', models: ['tasks'], signingSecret: 'whsec_aGVsbG8=' } },
      { app: { url: 'ftp://x', models: ['tasks'], signingSecret: 'whsec_aGVsbG8=' } },
      { app: { url: 'http://x', models: [], signingSecret: 'whsec_aGVsbG8=' } },
      { app: { url: 'http://x', models: ['tasks'], signingSecret: '' } },
      { a: { url: 'http://x', models: ['tasks'], signingSecret: 'whsec_aGVsbG8=' }, b: { url: 'http://y', models: ['tasks'], signingSecret: 'whsec_aGVsbG8=' } },
    ];
    for (const sources of bad) {
      await expect(startTestEngine(schema, { sources })).rejects.toMatchObject({ code: 'invalid_option' });
    }
  });
});

test('engine.stats counts a source commit once (its check and journal steps are the engine’s own)', async () => {
  const { t } = await setup();
  const before = t.engine.stats().commits;
  expect((await t.http('POST', '/v1/models/tasks', { data: { title: 'one', board: 'b1' } })).status).toBe(201);
  expect(t.engine.stats().commits - before).toBe(1);
});
