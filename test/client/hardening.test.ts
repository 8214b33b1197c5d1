/**
 * Issue 10, SDK side, tried as a new user would: a refused or revoked key,
 * an engine that is not there, a schema that differs from the engine's,
 * idempotent creates without an id, and `onStale: 'notify'` results.
 * Real engines on real ports; a minimal real `ws` server where the engine
 * cannot (yet) be made to do the thing.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import Ablo, {
  AbloAuthenticationError,
  AbloConnectionError,
  AbloIdempotencyError,
  AbloSchemaError,
  type AbloOptions,
} from '../../src/index.js';
import { defineSchema, model, serializeSchema, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../../src/testing/index.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({
  projects: model({ name: z.string().min(1) }),
  tasks: model({
    title: z.string().min(1),
    status: z.enum(['todo', 'doing', 'done']).default('todo'),
    projectId: z.string(),
  }),
});
type Schema = typeof schema;
type Client = ReturnType<typeof Ablo<Schema>>;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engine(s: Parameters<typeof startTestEngine>[0]['schema'] = schema, extra: { port?: number; apiKey?: string } = {}): Promise<TestEngine> {
  const e = await startTestEngine({ schema: s, ...extra });
  cleanups.push(() => e.stop());
  return e;
}

function client(e: { url: string; apiKey: string }, extra: Partial<Omit<AbloOptions<Schema>, 'schema'>> = {}): Client {
  const c = Ablo({ schema, apiKey: e.apiKey, baseURL: e.url, reconnect: { baseMs: 20, maxMs: 200 }, ...extra });
  cleanups.push(() => c.dispose());
  return c;
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function statusesOf(c: Client): string[] {
  const seen: string[] = [];
  c.on('connection:change', (ev) => seen.push(ev.status));
  return seen;
}

// ---------------------------------------------------------------------------
// A minimal sync server: a real `ws` server that completes the handshake the
// way the engine does and then does what the test tells it to.

interface FakeEngine {
  url: string;
  connections: number;
  commits: Array<{ ws: ServerSocket; frame: { ref: string } }>;
  socket(): ServerSocket;
  /** Resolves when the next commit frame arrives. */
  nextCommit(): Promise<{ ws: ServerSocket; frame: { ref: string } }>;
}

async function fakeEngine(options: { sendDone: boolean }): Promise<FakeEngine> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  const hash = serializeSchema(schema).hash;
  let last: ServerSocket | null = null;
  const waiters: Array<(c: { ws: ServerSocket; frame: { ref: string } }) => void> = [];
  const fake: FakeEngine = {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    connections: 0,
    commits: [],
    socket: () => last!,
    nextCommit: () => new Promise((resolve) => waiters.push(resolve)),
  };
  wss.on('connection', (ws) => {
    fake.connections++;
    last = ws;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'hello') {
        ws.send(
          JSON.stringify({
            type: 'welcome',
            protocol: 1,
            connectionId: 'conn_1',
            mode: 'bootstrap',
            lastSyncId: 0,
            schemaHash: hash,
            groups: ['default'],
            participant: { kind: 'agent', id: 'fake' },
          }),
        );
        if (options.sendDone) ws.send(JSON.stringify({ type: 'bootstrap_done', lastSyncId: 0 }));
      } else if (frame.type === 'commit') {
        const c = { ws, frame };
        fake.commits.push(c);
        waiters.shift()?.(c);
      }
    });
  });
  return fake;
}

const revokedFrame = JSON.stringify({
  type: 'error',
  error: { type: 'authentication_error', code: 'revoked_api_key', message: 'API key sk_test_abc… was revoked.' },
});

describe('item 1: a 4001 close ends the client with AbloAuthenticationError', () => {
  test('live, write in flight: the error frame and 4001 reject it with the engine’s code; status unauthorized; no reconnect', async () => {
    const fake = await fakeEngine({ sendDone: true });
    const c = client({ url: fake.url, apiKey: 'sk_test_' + 'k'.repeat(32) }, { reconnect: { baseMs: 5, maxMs: 10 } });
    const statuses = statusesOf(c);
    await c.ready();
    const rollbacks: unknown[] = [];
    c.on('sync:rollback', (ev) => rollbacks.push(ev.error));

    const commitSeen = fake.nextCommit();
    const inFlight = c.projects.create({ id: 'p1', data: { name: 'in flight' } });
    inFlight.catch(() => {});
    await commitSeen;
    expect(c.projects.get('p1')?.name).toBe('in flight');

    fake.socket().send(revokedFrame);
    fake.socket().close(4001, 'authentication failed');

    const err = await inFlight.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbloAuthenticationError);
    expect(err).toMatchObject({ type: 'authentication_error', code: 'revoked_api_key' });
    await until(c, () => c.status === 'unauthorized');
    expect(statuses.at(-1)).toBe('unauthorized');
    // The optimistic row is rolled back, and sync:rollback said so.
    expect(c.projects.get('p1')).toBeUndefined();
    expect(rollbacks).toEqual([err]);
    // Later writes fail at once with the same error instead of queueing forever.
    await expect(c.projects.create({ data: { name: 'later' } })).rejects.toMatchObject({ code: 'revoked_api_key' });
    // The client is stopped: ready() says why.
    await expect(c.ready()).rejects.toMatchObject({ code: 'revoked_api_key' });

    // Give a reconnect many chances (base 5 ms): none is made.
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.connections).toBe(1);
    expect(c.status).toBe('unauthorized');
  });

  test('ready pending, writes queued: a bare 4001 rejects ready() and every queued write', async () => {
    const fake = await fakeEngine({ sendDone: false });
    const c = client({ url: fake.url, apiKey: 'sk_test_' + 'k'.repeat(32) }, { reconnect: { baseMs: 5, maxMs: 10 } });
    const ready = c.ready();
    ready.catch(() => {});
    await until(c, () => c.status === 'syncing');
    // Not live yet: these wait in the outbox.
    const queued = [c.projects.create({ data: { name: 'q1' } }), c.projects.create({ data: { name: 'q2' } })];
    for (const q of queued) q.catch(() => {});
    expect(fake.commits).toHaveLength(0);

    fake.socket().close(4001, 'authentication failed');

    const errors = await Promise.all([ready, ...queued].map((p) => p.then(() => null, (e: unknown) => e)));
    for (const e of errors) {
      expect(e).toBeInstanceOf(AbloAuthenticationError);
      expect(e).toMatchObject({ type: 'authentication_error' });
    }
    expect(c.status).toBe('unauthorized');
    expect(c.projects.getCount()).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.connections).toBe(1);
  });

  test('a wrong key at connect (real engine): ready() and the queued write reject, status unauthorized, no retry', async () => {
    const e = await engine();
    const c = client({ url: e.url, apiKey: 'sk_test_' + 'a'.repeat(32) });
    const ready = c.ready();
    const write = c.projects.create({ data: { name: 'before ready' } });
    await expect(ready).rejects.toMatchObject({ type: 'authentication_error', name: 'AbloAuthenticationError' });
    await expect(write).rejects.toBeInstanceOf(AbloAuthenticationError);
    expect(c.status).toBe('unauthorized');
    expect(e.engine.connections()).toBe(0);
  });

  test('a key revoked while connected (real engine): status unauthorized, pending and later writes reject', async () => {
    const e = await engine();
    const created = await fetch(`${e.url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${e.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'to revoke' }),
    }).then((r) => r.json() as Promise<{ id: string; key: string }>);
    const c = client({ url: e.url, apiKey: created.key });
    await c.ready();
    await c.projects.create({ data: { name: 'before revoke' } });

    const revoked = await fetch(`${e.url}/v1/keys/${created.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${e.apiKey}` } });
    expect(revoked.status).toBe(200);
    const write = c.projects.create({ data: { name: 'after revoke' } }).catch((x: unknown) => x);
    await until(c, () => c.status === 'unauthorized');
    expect(await write).toBeInstanceOf(AbloAuthenticationError);
    await expect(c.projects.create({ data: { name: 'later' } })).rejects.toMatchObject({ type: 'authentication_error', code: 'revoked_api_key' });
    const list = await fetch(`${e.url}/v1/models/projects`, { headers: { authorization: `Bearer ${e.apiKey}` } }).then((r) => r.json() as Promise<{ data: Array<{ name: string }> }>);
    expect(list.data.map((p) => p.name)).toEqual(['before revoke']);
  });
});

describe('item 9: ready() fails when the engine cannot be reached', () => {
  test('wrong port: ready() rejects after readyTimeoutMs with the server-read message; a later ready() succeeds once the engine is up', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const apiKey = 'sk_test_' + 'r'.repeat(32);
    const debug: Array<{ message: string; details: Record<string, unknown> | undefined }> = [];
    const c = client({ url, apiKey }, { readyTimeoutMs: 300, logger: { debug: (message, details) => debug.push({ message, details }) } });

    const err = await c.ready().catch((x: unknown) => x);
    expect(err).toBeInstanceOf(AbloConnectionError);
    const expected = `Cannot reach the Ablo engine at ${url} — is it running (npx ablo dev)?`;
    expect((err as Error).message).toContain(expected);
    // Server reads say the same.
    const readErr = await c.projects.list().catch((x: unknown) => x);
    expect(readErr).toBeInstanceOf(AbloConnectionError);
    expect((readErr as Error).message).toContain(expected);

    // Each retry was logged with its attempt, delay and reason.
    expect(debug.length).toBeGreaterThan(0);
    expect(debug[0]!.message).toMatch(/attempt 1 in \d+ ms/);
    expect(debug[0]!.details).toMatchObject({ attempt: 1, delayMs: expect.any(Number), reason: expect.stringMatching(/ECONNREFUSED/) });

    // Still reconnecting in the background: start the engine there, and ready() resolves.
    await engine(schema, { port, apiKey });
    await c.ready();
    expect(c.status).toBe('live');
    const p = await c.projects.create({ data: { name: 'after the engine came up' } });
    expect(p.syncId).toBeGreaterThan(0);
  });

  test('ABLO_DEBUG=1 prints each retry to stderr', async () => {
    const port = await freePort();
    const saved = process.env.ABLO_DEBUG;
    process.env.ABLO_DEBUG = '1';
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
    try {
      const c = client({ url: `http://127.0.0.1:${port}`, apiKey: 'sk_test_' + 'd'.repeat(32) }, { readyTimeoutMs: 200 });
      await expect(c.ready()).rejects.toBeInstanceOf(AbloConnectionError);
      await c.dispose();
    } finally {
      spy.mockRestore();
      if (saved === undefined) delete process.env.ABLO_DEBUG;
      else process.env.ABLO_DEBUG = saved;
    }
    expect(lines.some((l) => /\[ablo\] .*attempt \d+ in \d+ ms.*ECONNREFUSED/.test(l))).toBe(true);
  });
});

describe('item 10: a schema that differs from the engine’s', () => {
  // The engine runs an older schema: no `labels` model, no `tasks.priority`.
  const older = defineSchema({
    projects: model({ name: z.string().min(1) }),
    tasks: model({ title: z.string().min(1), status: z.enum(['todo', 'doing', 'done']).default('todo'), projectId: z.string() }),
  });
  const newer = defineSchema({
    projects: model({ name: z.string().min(1) }),
    tasks: model({
      title: z.string().min(1),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      projectId: z.string(),
      priority: z.number().int().optional(),
    }),
    labels: model({ name: z.string() }),
  });

  test('ready() warns naming the models and fields that differ, and the fix', async () => {
    const e = await engine(older);
    const warnings: string[] = [];
    const c = Ablo({ schema: newer, apiKey: e.apiKey, baseURL: e.url, logger: { warn: (m) => warnings.push(m) } });
    cleanups.push(() => c.dispose());
    await c.ready();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/labels/);
    expect(warnings[0]).toMatch(/tasks\.priority/);
    expect(warnings[0]).toMatch(/npx ablo push/);
    expect(warnings[0]).not.toMatch(/projects/);
  });

  test('strictSchema: ready() rejects with AbloSchemaError schema_mismatch', async () => {
    const e = await engine(older);
    const warnings: string[] = [];
    const c = Ablo({ schema: newer, apiKey: e.apiKey, baseURL: e.url, strictSchema: true, logger: { warn: (m) => warnings.push(m) } });
    cleanups.push(() => c.dispose());
    const err = await c.ready().catch((x: unknown) => x);
    expect(err).toBeInstanceOf(AbloSchemaError);
    expect(err).toMatchObject({ type: 'schema_error', code: 'schema_mismatch' });
    expect((err as AbloSchemaError).details).toMatchObject({ models: ['labels'], fields: ['tasks.priority'] });
    expect((err as Error).message).toMatch(/npx ablo push/);
    expect(warnings).toHaveLength(0);
    await expect(c.labels.create({ data: { name: 'x' } })).rejects.toBeInstanceOf(AbloSchemaError);
  });

  test('the same schema: no warning, and strictSchema is ready', async () => {
    const e = await engine(older);
    const warnings: string[] = [];
    const c = Ablo({ schema: older, apiKey: e.apiKey, baseURL: e.url, strictSchema: true, logger: { warn: (m) => warnings.push(m) } });
    cleanups.push(() => c.dispose());
    await c.ready();
    expect(warnings).toEqual([]);
  });
});

describe('item 11: create with an idempotency key and no id', () => {
  test('the same key and data twice: one row, one change, the first result', async () => {
    const e = await engine();
    const c = client(e);
    await c.ready();
    const first = await c.tasks.create({ data: { title: 'once', projectId: 'p' }, idempotencyKey: 'import-42' });
    expect(first.id).toMatch(/^task_[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    const second = await c.tasks.create({ data: { title: 'once', projectId: 'p' }, idempotencyKey: 'import-42' });
    expect(second).toEqual(first);

    // Another client (another process, after a restart...) with the same key gets the same row.
    const other = client(e);
    await other.ready();
    const third = await other.tasks.create({ data: { title: 'once', projectId: 'p' }, idempotencyKey: 'import-42' });
    expect(third).toEqual(first);

    const changes = (await fetch(`${e.url}/v1/changes?after=0`, { headers: { authorization: `Bearer ${e.apiKey}` } }).then((r) => r.json())) as {
      data: Array<{ model: string; id: string }>;
    };
    expect(changes.data.filter((ch) => ch.model === 'tasks')).toEqual([expect.objectContaining({ id: first.id })]);
    expect(c.tasks.getCount()).toBe(1);
  });

  test('the same key twice at once: both resolve with one row', async () => {
    const e = await engine();
    const c = client(e);
    await c.ready();
    const [a, b] = await Promise.all([
      c.tasks.create({ data: { title: 'racing', projectId: 'p' }, idempotencyKey: 'race-1' }),
      c.tasks.create({ data: { title: 'racing', projectId: 'p' }, idempotencyKey: 'race-1' }),
    ]);
    expect(b).toEqual(a);
    expect((await c.tasks.list()).data).toHaveLength(1);
  });

  test('the same key with different data: idempotency_key_reused, first row kept', async () => {
    const e = await engine();
    const c = client(e);
    await c.ready();
    const first = await c.tasks.create({ data: { title: 'one', projectId: 'p' }, idempotencyKey: 'k-7' });
    const err = await c.tasks.create({ data: { title: 'two', projectId: 'p' }, idempotencyKey: 'k-7' }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(AbloIdempotencyError);
    expect(err).toMatchObject({ code: 'idempotency_key_reused' });
    expect(c.tasks.getAll()).toEqual([first]);
  });
});

describe('item 12: onStale notify tells applied from held', () => {
  test('update and delete with notify resolve { status: held, notification } or { status: applied, row }', async () => {
    const e = await engine();
    const a = client(e, { participant: { kind: 'agent', id: 'a' } });
    const b = client(e, { participant: { kind: 'user', id: 'b' } });
    await Promise.all([a.ready(), b.ready()]);
    const p = await a.projects.create({ data: { name: 'n1' } });
    const q = await a.projects.create({ data: { name: 'q1' } });
    const stamp = a.snapshot().stamp;
    await until(b, () => b.projects.get(p.id));
    await b.projects.update({ id: p.id, data: { name: 'n2 by b' } });
    await until(a, () => a.projects.get(p.id)?.name === 'n2 by b');

    const held = await a.projects.update({ id: p.id, data: { name: 'n3 by a' }, readAt: stamp, onStale: 'notify' });
    expect(held.status).toBe('held');
    if (held.status !== 'held') throw new Error('unreachable');
    expect(held.notification).toMatchObject({ object: 'stale_notification', model: 'projects', id: p.id, conflictingFields: ['name'], currentValues: { name: 'n2 by b' } });
    expect(a.projects.get(p.id)!.name).toBe('n2 by b');

    const applied = await a.projects.update({ id: q.id, data: { name: 'q2 by a' }, readAt: stamp, onStale: 'notify' });
    expect(applied).toEqual({ status: 'applied', row: expect.objectContaining({ id: q.id, name: 'q2 by a' }) });

    const heldDelete = await a.projects.delete({ id: p.id, readAt: stamp, onStale: 'notify' });
    expect(heldDelete).toMatchObject({ status: 'held', notification: { id: p.id, conflictingFields: expect.any(Array) } });
    expect(a.projects.get(p.id)).toBeDefined();

    const appliedDelete = await a.projects.delete({ id: q.id, readAt: a.snapshot().stamp, onStale: 'notify' });
    expect(appliedDelete).toEqual({ status: 'applied', row: { id: q.id, deleted: true } });
    expect(a.projects.get(q.id)).toBeUndefined();

    // Other modes still resolve with the row.
    const plain = await a.projects.update({ id: p.id, data: { name: 'n4' }, readAt: a.snapshot().stamp, onStale: 'reject' });
    expect(plain.name).toBe('n4');
  });
});

describe('item 13: options given as undefined behave like absent ones', () => {
  test('every option explicitly undefined: env settings and defaults apply', async () => {
    const e = await engine();
    const saved = { key: process.env.ABLO_API_KEY, url: process.env.ABLO_URL };
    process.env.ABLO_API_KEY = e.apiKey;
    process.env.ABLO_URL = e.url;
    try {
      const c = Ablo({
        schema,
        apiKey: undefined,
        baseURL: undefined,
        participant: undefined,
        syncGroups: undefined,
        webSocket: undefined,
        fetch: undefined,
        reconnect: undefined,
        readyTimeoutMs: undefined,
        strictSchema: undefined,
        logger: undefined,
      });
      cleanups.push(() => c.dispose());
      await c.ready();
      const p = await c.projects.create({ data: { name: 'from env' }, idempotencyKey: undefined, wait: undefined, label: undefined });
      expect((await c.projects.retrieve({ id: p.id })).name).toBe('from env');
    } finally {
      for (const [k, v] of [['ABLO_API_KEY', saved.key], ['ABLO_URL', saved.url]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test('the missing-key error says how to load .env.local', () => {
    const saved = process.env.ABLO_API_KEY;
    delete process.env.ABLO_API_KEY;
    try {
      expect(() => Ablo({ schema })).toThrowError(/node --env-file=\.env\.local/);
      expect(() => Ablo({ schema })).toThrowError(/20\.6/);
    } finally {
      if (saved !== undefined) process.env.ABLO_API_KEY = saved;
    }
  });
});
