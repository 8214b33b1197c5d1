/**
 * examples/data-source end to end (issue 15, Acceptance): the example's own
 * backend (Node `http` + `dataSource()` over a fresh Postgres database of its
 * own, with its `ablo_outbox` and `ablo_commits` tables) as the source of
 * `tasks` for a real engine (port 0, SQLite cache in a temp dir), written
 * through real SDK clients and directly in SQL by the example's script.
 *
 * The example's modules import `ablo/...` (the package's own exports, so the
 * built dist/, which the test setup keeps current); the engine and the SDK
 * here are the sources.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type pg from 'pg';
import { afterEach, describe, expect, test } from 'vitest';
import Ablo, { AbloClaimedError, AbloStaleContextError } from '../../src/index.js';
import { generateSigningSecret } from '../../src/source/index.js';
import { startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { until } from '../helpers/sdk.js';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '../../examples/data-source');

interface TaskRow {
  id: string;
  title: string;
  done: boolean;
  assignee: string | null;
  points: number;
}

/** The example's modules, as a user's app would load them (typed by hand: they are plain .mjs). */
interface Example {
  schema: any;
  startBackend(o: { databaseUrl: string; signingSecret: string; port?: number; poolSize?: number }): Promise<{ url: string; pool: pg.Pool; close(): Promise<void> }>;
  startConnector(o: { databaseUrl: string; signingSecret: string; apiKey: string; engineUrl: string; poolSize?: number }): Promise<{ pool: pg.Pool; close(): Promise<void> }>;
  writeTaskInSql(pool: pg.Pool, id: string, patch: Partial<TaskRow>, options?: { create?: boolean }): Promise<TaskRow>;
  pokeEngine(engineUrl: string, source: string, secret: string): Promise<{ applied: number; skipped: number }>;
}

async function loadExample(): Promise<Example> {
  const load = (file: string): Promise<any> => import(pathToFileURL(join(EXAMPLE, file)).href);
  const [schema, backend, connector, sql] = await Promise.all([load('schema.mjs'), load('backend.mjs'), load('connector.mjs'), load('sql-write.mjs')]);
  return { ...schema, ...backend, ...connector, ...sql };
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Client = ReturnType<typeof Ablo>;

interface Setup {
  ex: Example;
  t: TestEngine;
  pool: pg.Pool;
  secret: string;
  client(id: string): Promise<any>;
  /** The row in the app's Postgres, or null. */
  sqlRow(id: string): Promise<TaskRow | null>;
  /** Write in SQL (row + outbox) as the example's script does, and push the engine as it does. */
  sqlWrite(id: string, patch: Partial<TaskRow>, create?: boolean): Promise<TaskRow>;
}

/** A fresh database, the example's source on it (HTTP, or `connector`: the reverse channel only), an engine. */
async function setup(mode: 'http' | 'connector' = 'http'): Promise<Setup> {
  const ex = await loadExample();
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const secret = generateSigningSecret();
  let pool: pg.Pool;
  let t: TestEngine;
  if (mode === 'http') {
    const backend = await ex.startBackend({ databaseUrl: db.url, signingSecret: secret, port: 0, poolSize: 4 });
    cleanups.push(() => backend.close());
    pool = backend.pool;
    t = await startTestEngine(ex.schema, {
      sources: { app: { url: backend.url, models: ['tasks'], signingSecret: secret, pollIntervalMs: 0, timeoutMs: 10_000 } },
    });
    cleanups.push(() => t.stop());
  } else {
    t = await startTestEngine(ex.schema, { sources: { app: { models: ['tasks'], signingSecret: secret, pollIntervalMs: 0, timeoutMs: 10_000 } } });
    cleanups.push(() => t.stop());
    const connector = await ex.startConnector({ databaseUrl: db.url, signingSecret: secret, apiKey: t.key, engineUrl: t.url, poolSize: 4 });
    cleanups.push(() => connector.close());
    pool = connector.pool;
  }
  await t.engine.sources!.ready();
  return {
    ex,
    t,
    pool,
    secret,
    async client(id) {
      const c = Ablo({ schema: ex.schema, apiKey: t.key, baseURL: t.url, participant: { kind: 'agent', id }, reconnect: { baseMs: 20, maxMs: 200 } });
      cleanups.push(() => c.dispose());
      await c.ready();
      return c;
    },
    async sqlRow(id) {
      const found = await pool.query('SELECT id, title, done, assignee, points FROM tasks WHERE id = $1', [id]);
      return (found.rows[0] as TaskRow | undefined) ?? null;
    },
    async sqlWrite(id, patch, create = false) {
      const row = await ex.writeTaskInSql(pool, id, patch, { create });
      await ex.pokeEngine(t.url, 'app', secret);
      return row;
    },
  };
}

/** A raw subscriber of every task change; `mine(id)` lists the changes it got for a row. */
async function subscriber(t: TestEngine): Promise<{ socket: TestSocket; mine(id: string): any[] }> {
  const socket = await t.socket();
  const all: any[] = [];
  socket.ws.on('message', (data) => {
    const frame = JSON.parse(String(data));
    if (frame.type === 'changes') all.push(...frame.changes);
  });
  await socket.hello({ apiKey: t.key });
  return { socket, mine: (id) => all.filter((c) => c.id === id) };
}

describe('the example backend as the source of tasks (HTTP)', () => {
  test('SDK create, update and delete arrive in the Postgres tables, with outbox and dedupe rows', async () => {
    const s = await setup();
    const a = await s.client('a');
    const task = await a.tasks.create({ data: { title: 'Write the walkthrough' } });
    expect(await s.sqlRow(task.id)).toEqual({ id: task.id, title: 'Write the walkthrough', done: false, assignee: null, points: 0 });
    await a.tasks.update({ id: task.id, data: { done: true, assignee: 'a' } });
    expect(await s.sqlRow(task.id)).toMatchObject({ done: true, assignee: 'a' });
    await a.tasks.delete({ id: task.id });
    expect(await s.sqlRow(task.id)).toBeNull();

    const outbox = await s.pool.query('SELECT type, client_tx_id FROM ablo_outbox WHERE entity_id = $1 ORDER BY id', [task.id]);
    expect(outbox.rows.map((r) => r.type)).toEqual(['create', 'update', 'delete']);
    // Each outbox row names its commit, and that commit's answer is stored for a resend.
    const commits = await s.pool.query('SELECT client_tx_id FROM ablo_commits WHERE client_tx_id = ANY($1)', [outbox.rows.map((r) => r.client_tx_id)]);
    expect(commits.rowCount).toBe(3);
  });

  test('a direct SQL write plus outbox row reaches every subscriber; the stale guard sees it', async () => {
    const s = await setup();
    const a = await s.client('a');
    const b = await s.client('b');
    const task = await a.tasks.create({ data: { title: 'Check the links' } });
    await until(b, () => b.tasks.get(task.id));
    const readAt = a.snapshot().stamp;

    await s.sqlWrite(task.id, { title: 'Check every link', assignee: 'ops' });
    for (const c of [a, b]) await until(c, () => c.tasks.get(task.id)?.title === 'Check every link' && c.tasks.get(task.id));
    expect(b.tasks.get(task.id)).toMatchObject({ title: 'Check every link', assignee: 'ops' });
    // Made in SQL too: a row the engine never wrote.
    const made = await s.sqlWrite('from-sql-1', { title: 'Made in SQL' }, true);
    for (const c of [a, b]) await until(c, () => c.tasks.get(made.id));

    // a decided on what it read before the SQL write: refused, and Postgres keeps the SQL title.
    const err = await a.tasks.update({ id: task.id, data: { title: 'Mine' }, readAt }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbloStaleContextError);
    expect((await s.sqlRow(task.id))!.title).toBe('Check every link');
  });

  test('a SQL write the engine has not pulled yet: the backend answers stale from its own version check', async () => {
    const s = await setup();
    const a = await s.client('a');
    const task = await a.tasks.create({ data: { title: 'Tag the release' } });
    // Written in SQL, outbox row and all, but the engine is not told (it polls only when asked here).
    await s.ex.writeTaskInSql(s.pool, task.id, { title: 'Tagged by a script' });
    const err = await a.tasks.update({ id: task.id, data: { title: 'Tagged by a' }, readAt: a.snapshot().stamp }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbloStaleContextError);
    expect((await s.sqlRow(task.id))!.title).toBe('Tagged by a script');
    // Asked to overwrite, the backend takes it.
    await s.t.engine.sources!.pull('app');
    await a.tasks.update({ id: task.id, data: { title: 'Tagged by a' }, onStale: 'overwrite' });
    expect((await s.sqlRow(task.id))!.title).toBe('Tagged by a');
  });

  test('an SDK write whose event comes back through the outbox is delivered once', async () => {
    const s = await setup();
    const watcher = await subscriber(s.t);
    const a = await s.client('a');
    const task = await a.tasks.create({ data: { title: 'Once' } });
    await a.tasks.update({ id: task.id, data: { done: true } });
    // The echoes are in the outbox, carrying their commits' ids.
    const echoes = await s.pool.query('SELECT client_tx_id FROM ablo_outbox WHERE entity_id = $1', [task.id]);
    expect(echoes.rows.map((r) => r.client_tx_id)).toEqual([expect.any(String), expect.any(String)]);
    // A later SQL write is the sentinel: the engine reads the outbox in order, so once it arrives, the echoes were read.
    await s.sqlWrite('sentinel', { title: 'sentinel' }, true);
    await watcher.socket.next((f) => f.type === 'changes' && f.changes.some((c: any) => c.id === 'sentinel'));
    expect(watcher.mine(task.id).map((c) => c.action)).toEqual(['create', 'update']);
    expect(watcher.mine('sentinel')).toHaveLength(1);
  });

  test('claims hold with the source canonical: a claimed row refuses another participant', async () => {
    const s = await setup();
    const holder = await s.client('holder');
    const other = await s.client('other');
    const task = await holder.tasks.create({ data: { title: 'Summarize the thread' } });
    await until(other, () => other.tasks.get(task.id));
    const claim = await holder.tasks.claim({ id: task.id, action: 'summarizing' });
    const refused = await other.tasks.update({ id: task.id, data: { title: 'Not yours' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AbloClaimedError);
    expect((await s.sqlRow(task.id))!.title).toBe('Summarize the thread');
    await holder.tasks.update({ id: task.id, data: { done: true, assignee: 'holder' } });
    expect(await s.sqlRow(task.id)).toMatchObject({ done: true, assignee: 'holder' });
    await claim.release();
    await other.tasks.update({ id: task.id, data: { title: 'Yours now' } });
    expect((await s.sqlRow(task.id))!.title).toBe('Yours now');
  });

  test('the guarded counter: 20 writers × 25 increments with readAt end at exactly 500, in Postgres and in the engine', async () => {
    const s = await setup();
    const first = await s.client('w0');
    const counter = await first.tasks.create({ data: { title: 'counter' } });
    const writers: Client[] = [first];
    for (let i = 1; i < 20; i++) writers.push(await s.client(`w${i}`));
    let stale = 0;
    await Promise.all(
      writers.map(async (c: any) => {
        await until(c, () => c.tasks.get(counter.id));
        for (let done = 0; done < 25; ) {
          const readAt = c.snapshot().stamp;
          const seen = c.tasks.get(counter.id).points as number;
          try {
            await c.tasks.update({ id: counter.id, data: { points: seen + 1 }, readAt, onStale: 'reject' });
            done++;
          } catch (err) {
            if (!(err instanceof AbloStaleContextError)) throw err;
            stale++;
            // Someone else's increment is on its way: read again once it is here.
            await until(c, () => c.tasks.get(counter.id)?.points !== seen, 15_000);
          }
        }
      }),
    );
    expect((await s.sqlRow(counter.id))!.points).toBe(500);
    expect((await s.t.http('GET', `/v1/models/tasks/${counter.id}`)).body.points).toBe(500);
    for (const c of writers as any[]) await until(c, () => c.tasks.get(counter.id)?.points === 500);
    // Every increment went to Postgres once: one outbox row each (plus the create).
    const outbox = await s.pool.query('SELECT count(*)::int AS n FROM ablo_outbox WHERE entity_id = $1', [counter.id]);
    expect(outbox.rows[0].n).toBe(501);
  }, 180_000);
});

describe('the same backend connected only through createSourceConnector', () => {
  test('create and update reach Postgres; a SQL write reaches a subscriber', async () => {
    const s = await setup('connector');
    expect(s.t.engine.sources!.health().app).toMatchObject({ transport: 'reverse_channel', connected: true, ready: true });
    const a = await s.client('a');
    const b = await s.client('b');
    const task = await a.tasks.create({ data: { title: 'Through the tunnel' } });
    expect(await s.sqlRow(task.id)).toMatchObject({ title: 'Through the tunnel', done: false });
    await a.tasks.update({ id: task.id, data: { done: true } });
    expect((await s.sqlRow(task.id))!.done).toBe(true);
    await until(b, () => b.tasks.get(task.id)?.done === true);

    await s.sqlWrite(task.id, { title: 'Renamed in SQL' });
    for (const c of [a, b]) await until(c, () => c.tasks.get(task.id)?.title === 'Renamed in SQL');
    await a.tasks.delete({ id: task.id });
    expect(await s.sqlRow(task.id)).toBeNull();
  });
});
