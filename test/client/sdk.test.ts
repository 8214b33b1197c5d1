import { describe, expect, test } from 'vitest';
import Ablo, { AbloStaleContextError, AbloValidationError, AbloConnectionError } from '../../src/index.js';
import { createEngine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine } from '../../src/testing/index.js';
import { sdkKit, until } from '../helpers/sdk.js';

const schema = defineSchema({
  projects: model({ name: z.string().min(1) }),
  tasks: model(
    {
      title: z.string().min(1),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      assigneeId: z.string().nullable().default(null),
      projectId: z.string(),
      estimate: z.number().int().optional(),
      done: z.boolean().default(false),
    },
    {},
    { syncGroupFormat: 'project:{projectId}' },
  ),
});

const { engine, client, cleanups } = sdkKit(schema);


describe('two actors on one engine', () => {
  test('a human and an agent see each other’s creates, updates and deletes', async () => {
    const e = await engine();
    const groups = ['default', 'project:p1'];
    const human = await client(e, { participant: { kind: 'user', id: 'ana' }, syncGroups: groups });
    const agent = await client(e, { participant: { kind: 'agent', id: 'summarizer' }, syncGroups: groups });

    const p = await human.projects.create({ data: { name: 'Apollo' }, id: 'p1' });
    expect(p).toMatchObject({ id: 'p1', name: 'Apollo' });
    const t = await human.tasks.create({ data: { title: 'Ship', projectId: 'p1' } });
    expect(t.id).toMatch(/^task_/);
    expect(t).toMatchObject({ status: 'todo', assigneeId: null, estimate: null, done: false });

    const seen = await until(agent, () => agent.tasks.get(t.id));
    expect(seen.title).toBe('Ship');

    // subscribe fires on the other side, only when the selected value changes.
    const statuses: string[] = [];
    const stop = human.subscribe(
      (a) => a.tasks.get(t.id)?.status,
      (s) => statuses.push(String(s)),
    );
    await agent.tasks.update({ id: t.id, data: { status: 'doing', assigneeId: 'summarizer' } });
    await until(human, () => human.tasks.get(t.id)?.status === 'doing');
    await agent.tasks.update({ id: t.id, data: { assigneeId: 'summarizer' } }); // no status change
    await agent.tasks.update({ id: t.id, data: { status: 'done' } });
    await until(human, () => human.tasks.get(t.id)?.status === 'done');
    stop();
    expect(statuses).toEqual(['doing', 'done']);

    expect(human.tasks.getAll({ where: { projectId: 'p1' } }).map((r) => r.id)).toEqual([t.id]);
    await agent.tasks.delete({ id: t.id });
    await until(human, () => human.tasks.get(t.id) === undefined);
    expect(human.tasks.getCount()).toBe(0);
  });

  test('a client only holds rows of its sync groups', async () => {
    const e = await engine();
    const a = await client(e, { syncGroups: ['project:a'] });
    const writer = await client(e, { syncGroups: ['project:a', 'project:b'] });
    await writer.tasks.create({ id: 'ta', data: { title: 'a', projectId: 'a' } });
    await writer.tasks.create({ id: 'tb', data: { title: 'b', projectId: 'b' } });
    await until(a, () => a.tasks.get('ta'));
    expect(a.tasks.get('tb')).toBeUndefined();
    // Moving a row out of the group removes it locally.
    await writer.tasks.update({ id: 'ta', data: { projectId: 'b' } });
    await until(a, () => a.tasks.get('ta') === undefined);
  });
});

describe('writes to rows outside the client\'s groups', () => {
  test('create and update return the row from the receipt, with no read after it', async () => {
    const e = await engine();
    const requests: string[] = [];
    const recorded: typeof fetch = (input, init) => {
      requests.push(`${init?.method ?? 'GET'} ${new URL(String(input instanceof Request ? input.url : input)).pathname}`);
      return fetch(input, init);
    };
    const c = await client(e, { syncGroups: ['project:a'], fetch: recorded });
    const before = requests.length;
    const created = await c.tasks.create({ id: 'tb', data: { title: 'in b', projectId: 'b' } });
    const updated = await c.tasks.update({ id: 'tb', data: { title: 'in b!', estimate: 3 } });
    expect(requests.slice(before)).toEqual([]);
    // The row as stored, read by someone who sees it.
    const stored = await fetch(`${e.url}/v1/models/tasks/tb`, { headers: { authorization: `Bearer ${e.apiKey}` } }).then((r) => r.json());
    expect(updated).toEqual(stored);
    expect(created).toMatchObject({ id: 'tb', title: 'in b', projectId: 'b', status: 'todo', estimate: null, done: false });
    expect(updated).toMatchObject({ id: 'tb', title: 'in b!', estimate: 3, createdAt: created.createdAt });
    expect(updated.syncId).toBeGreaterThan(created.syncId);
    // The client still does not hold the row.
    expect(c.tasks.get('tb')).toBeUndefined();
  });
});

describe('optimistic writes', () => {
  test('get shows the new value before the receipt; the confirmed row follows', async () => {
    const e = await engine();
    const c = await client(e);
    const p = await c.projects.create({ data: { name: 'before' } });
    const pending = c.projects.update({ id: p.id, data: { name: 'after' } });
    expect(c.projects.get(p.id)!.name).toBe('after'); // synchronously, before any receipt
    const confirmed = await pending;
    expect(confirmed.name).toBe('after');
    expect(confirmed.syncId).toBeGreaterThan(p.syncId);
  });

  test('a write the engine rejects restores the old value and fires sync:rollback', async () => {
    const e = await engine();
    const c = await client(e);
    await c.projects.create({ id: 'dup', data: { name: 'original' } });
    const rollbacks: Array<{ clientTxId: string; error: unknown }> = [];
    c.on('sync:rollback', (ev) => rollbacks.push(ev));
    // Creating an existing id passes local validation but the engine refuses it.
    const write = c.projects.create({ id: 'dup', data: { name: 'clobber' } });
    expect(c.projects.get('dup')!.name).toBe('clobber');
    await expect(write).rejects.toMatchObject({ type: 'validation_error', code: 'id_exists' });
    expect(c.projects.get('dup')!.name).toBe('original');
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]!.error).toBeInstanceOf(AbloValidationError);
  });

  test('a stale write is rejected with the current values and rolled back', async () => {
    const e = await engine();
    const a = await client(e, { participant: { kind: 'agent', id: 'a' } });
    const b = await client(e, { participant: { kind: 'user', id: 'b' } });
    const p = await a.projects.create({ data: { name: 'v1' } });
    const snap = a.snapshot({ projects: p.id });
    await until(b, () => b.projects.get(p.id));
    await b.projects.update({ id: p.id, data: { name: 'v2 by b' } });
    await until(a, () => a.projects.get(p.id)?.name === 'v2 by b');
    const err = await a.projects.update({ id: p.id, data: { name: 'v2 by a' }, readAt: snap.stamp }).catch((x) => x);
    expect(err).toBeInstanceOf(AbloStaleContextError);
    expect(err).toMatchObject({ conflictingFields: ['name'], currentValues: { name: 'v2 by b' }, writtenBy: { kind: 'system', id: expect.stringMatching(/^key_/) }, onBehalfOf: { kind: 'user', id: 'b' } });
    expect(a.projects.get(p.id)!.name).toBe('v2 by b');
  });

  test('invalid data is refused locally with a typed error naming the field', async () => {
    const e = await engine();
    const c = await client(e);
    await expect(c.tasks.create({ data: { title: '', projectId: 'p' } })).rejects.toMatchObject({ type: 'validation_error', field: 'title' });
    // @ts-expect-error: unknown field
    await expect(c.tasks.create({ data: { title: 'x', projectId: 'p', nope: 1 } })).rejects.toMatchObject({ field: 'nope' });
    expect(c.tasks.getCount()).toBe(0);
  });

  test('wait: queued resolves at once and the write still lands', async () => {
    const e = await engine();
    const c = await client(e);
    const row = await c.projects.create({ data: { name: 'fast' }, wait: 'queued' });
    expect(row!.name).toBe('fast');
    const server = await until(c, () => (c.projects.get(row!.id)?.syncId ?? 0) > 0 && c.projects.get(row!.id));
    expect(server.name).toBe('fast');
  });

  test('commits.create applies a batch atomically and returns the receipt', async () => {
    const e = await engine();
    const c = await client(e, { syncGroups: ['default', 'project:p9'] });
    const receipt = await c.commits.create({
      operations: [
        { op: 'create', model: 'projects', id: 'p9', data: { name: 'Batch' } },
        { op: 'create', model: 'tasks', id: 't9', data: { title: 'one', projectId: 'p9' } },
      ],
    });
    expect(receipt).toMatchObject({ object: 'commit', status: 'committed' });
    expect(receipt.results.map((r) => r.id)).toEqual(['p9', 't9']);
    expect(c.tasks.get('t9')!.syncId).toBe(receipt.lastSyncId);
  });

  test('notify holds the stale op, commits the rest, and fires conflict:notified', async () => {
    const e = await engine();
    const a = await client(e, { participant: { kind: 'agent', id: 'a' } });
    const b = await client(e, { participant: { kind: 'user', id: 'b' } });
    const p = await a.projects.create({ data: { name: 'n1' } });
    const q = await a.projects.create({ data: { name: 'q1' } });
    const stamp = a.snapshot().stamp;
    await until(b, () => b.projects.get(p.id));
    await b.projects.update({ id: p.id, data: { name: 'n2 by b' } });
    await until(a, () => a.projects.get(p.id)?.name === 'n2 by b');
    const events: unknown[] = [];
    a.on('conflict:notified', (ev) => events.push(ev));
    const receipt = await a.commits.create({
      operations: [
        { op: 'update', model: 'projects', id: p.id, data: { name: 'n3 by a' }, readAt: stamp, onStale: 'notify' },
        { op: 'update', model: 'projects', id: q.id, data: { name: 'q2 by a' }, readAt: stamp, onStale: 'notify' },
      ],
    });
    expect(receipt.status).toBe('partial');
    expect(receipt.notifications).toHaveLength(1);
    expect(receipt.notifications![0]).toMatchObject({ object: 'stale_notification', model: 'projects', id: p.id, conflictingFields: ['name'], currentValues: { name: 'n2 by b' }, writtenBy: { kind: 'system', id: expect.stringMatching(/^key_/) }, onBehalfOf: { kind: 'user', id: 'b' } });
    expect(events).toHaveLength(1);
    expect(a.projects.get(p.id)!.name).toBe('n2 by b');
    expect(a.projects.get(q.id)!.name).toBe('q2 by a');
  });
});

describe('reads agree with the engine', () => {
  test('getAll with where / IN / orderBy / limit agrees with list', async () => {
    const e = await engine();
    const c = await client(e, { syncGroups: ['project:p'] });
    const titles = ['delta', 'alpha', 'charlie', 'bravo', 'echo', 'Zulu', 'ämber', 'foxtrot'];
    const statuses = ['todo', 'doing', 'done'] as const;
    await c.commits.create({
      operations: titles.map((title, i) => ({
        op: 'create' as const,
        model: 'tasks' as const,
        data: { title, projectId: 'p', status: statuses[i % 3]!, done: i % 2 === 0, ...(i % 3 === 0 ? {} : { estimate: i }) },
      })),
    });
    const queries = [
      {},
      { where: { status: 'todo' as const } },
      { where: { status: ['todo', 'done'] as Array<'todo' | 'done'> }, orderBy: { title: 'asc' as const } },
      { where: { done: true }, orderBy: { estimate: 'desc' as const, title: 'asc' as const } },
      { orderBy: { estimate: 'asc' as const }, limit: 3 },
      { where: { estimate: null }, orderBy: { title: 'desc' as const } },
      { orderBy: { status: 'asc' as const, title: 'desc' as const }, limit: 5 },
    ];
    for (const q of queries) {
      const local = c.tasks.getAll(q).map((r) => r.id);
      const server = (await c.tasks.list(q)).data.map((r) => r.id);
      if (!('orderBy' in q)) {
        // Without orderBy both sides order by id.
        expect(local).toEqual(server);
      } else expect(local, JSON.stringify(q)).toEqual(server);
    }
    expect(c.tasks.getCount({ where: { status: 'todo' } })).toBe((await c.tasks.list({ where: { status: 'todo' } })).data.length);
    const one = await c.tasks.retrieve({ id: c.tasks.getAll()[0]!.id });
    expect(one).toEqual(c.tasks.getAll()[0]);
  });

  test('bad query names are refused by name, locally and on the server', async () => {
    const e = await engine();
    const c = await client(e);
    // @ts-expect-error: not a field
    expect(() => c.tasks.getAll({ where: { nope: 1 } })).toThrowError(/nope/);
    // @ts-expect-error: not a field
    await expect(c.tasks.list({ orderBy: { 'title; DROP TABLE tasks': 'asc' } })).rejects.toBeInstanceOf(AbloValidationError);
  });
});

describe('connection life', () => {
  test('engine restarted while a client holds queued writes: every write applied exactly once, every promise settles', async () => {
    const first = await startTestEngine({ schema, keepFiles: true });
    const { file, apiKey } = first;
    const port = first.engine.port;
    const c = Ablo({ schema, apiKey, baseURL: first.url, reconnect: { baseMs: 20, maxMs: 100 } });
    cleanups.push(() => c.dispose());
    await c.ready();
    const statuses: string[] = [];
    c.on('connection:change', (ev) => statuses.push(ev.status));

    // Writes in flight as the engine goes down, and more while it is down.
    const inFlight = Array.from({ length: 20 }, (_, i) => c.projects.create({ data: { name: `flight-${i}` } }));
    await first.engine.close();
    const offline = Array.from({ length: 20 }, (_, i) => c.projects.create({ data: { name: `offline-${i}` } }));
    expect(c.projects.getCount()).toBe(40); // all visible optimistically

    const second = await createEngine({ file, port, log: () => {} });
    cleanups.push(() => second.close());
    const results = await Promise.allSettled([...inFlight, ...offline]);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(statuses).toContain('offline');

    const rows = await c.projects.list({ limit: 1000 });
    const names = rows.data.map((r) => r.name).sort();
    expect(names).toEqual([...Array.from({ length: 20 }, (_, i) => `flight-${i}`), ...Array.from({ length: 20 }, (_, i) => `offline-${i}`)].sort());
    const changes = await second.storage.changesAfter(0, 1000);
    expect(changes.filter((ch) => ch.model === 'projects')).toHaveLength(40);
    expect(c.projects.getCount()).toBe(40);
  });

  test('reconnect catches up on changes made while offline', async () => {
    const first = await startTestEngine({ schema, keepFiles: true });
    const { file, apiKey } = first;
    const port = first.engine.port;
    const c = Ablo({ schema, apiKey, baseURL: first.url, reconnect: { baseMs: 20, maxMs: 100 } });
    cleanups.push(() => c.dispose());
    await c.ready();
    await c.projects.create({ id: 'keep', data: { name: 'k' } });
    await first.engine.close();
    const second = await createEngine({ file, port, log: () => {} });
    cleanups.push(() => second.close());
    const other = await client({ url: second.url, apiKey });
    await other.projects.create({ id: 'new', data: { name: 'made while c was away' } });
    await other.projects.delete({ id: 'keep' });
    await until(c, () => c.projects.get('new') && !c.projects.get('keep'));
  });

  test('a wrong key rejects ready() with an authentication error', async () => {
    const e = await engine();
    const c = Ablo({ schema, apiKey: 'sk_test_' + 'a'.repeat(32), baseURL: e.url });
    cleanups.push(() => c.dispose());
    await expect(c.ready()).rejects.toMatchObject({ type: 'authentication_error', name: 'AbloAuthenticationError' });
  });

  test('dispose settles writes that were never confirmed', async () => {
    const c = Ablo({ schema, apiKey: 'sk_test_' + 'b'.repeat(32), baseURL: 'http://127.0.0.1:9', reconnect: { baseMs: 1000, maxMs: 1000 } });
    const write = c.projects.create({ data: { name: 'never sent' } });
    await c.dispose();
    await expect(write).rejects.toBeInstanceOf(AbloConnectionError);
  });

  test('missing configuration fails fast with a clear error', () => {
    const saved = process.env.ABLO_API_KEY;
    delete process.env.ABLO_API_KEY;
    try {
      expect(() => Ablo({ schema })).toThrowError(/ABLO_API_KEY/);
      expect(() => Ablo({ schema, apiKey: 'sk_test_x', baseURL: 'ftp://x' })).toThrowError(/http/);
    } finally {
      if (saved !== undefined) process.env.ABLO_API_KEY = saved;
    }
  });
});
