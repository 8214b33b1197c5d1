/**
 * Retention through the real engine (port 0, a temp SQLite file) and real SDK
 * clients: a client offline past the change log's floor comes back with a
 * full, correct copy (a bootstrap); a `readAt` whose history was pruned is
 * stale over HTTP; a queued write held past the idempotency window is
 * refused (`idempotency_expired`), rolled back and dropped by the SDK; the
 * floor and the settings show on `/v1/health` and in `ablo status`.
 *
 * The SDK client that goes offline reaches the engine through a TCP relay the
 * test cuts and restores (the engine stays up while the others write).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import Ablo, { AbloIdempotencyError, type AbloClient, type SocketLike } from '../../src/index.js';
import { createEngine, type Engine, type RetentionOptions } from '../../src/engine/index.js';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { runCli } from '../helpers/tempProject.js';
import { mcpRoutes } from '../../mcp/route.js';
import { httpSession, structured, textOf } from '../mcp/helpers.js';
import { relay } from '../helpers/relay.js';
import { until } from '../helpers/sdk.js';
import { startTestEngine as startTestEngineWith } from '../helpers/engine.js';
import { CLOSE_CODES } from '../../src/protocol/sync.js';

const schema = defineSchema({
  projects: model({ name: z.string().min(1), stars: z.number().int().default(0) }),
});
type Client = AbloClient<typeof schema>;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startEngine(retention: RetentionOptions): Promise<{ engine: Engine; apiKey: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-retention-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const apiKey = generateApiKey('test');
  const engine = await createEngine({ file: join(dir, 'dev.db'), port: 0, schema, devKey: apiKey, retention, routes: [mcpRoutes()], log: () => {} });
  cleanups.push(() => engine.close());
  return { engine, apiKey, dir };
}

function client(url: string, apiKey: string): Client {
  const c = Ablo({ schema, apiKey, baseURL: url, reconnect: { baseMs: 20, maxMs: 100 } });
  cleanups.push(() => c.dispose());
  return c;
}

async function http(engine: Engine, apiKey: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${engine.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

/** Wait until `ms` have passed on the wall clock (entries must be older than a 1 ms window). */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server's rows, as the SDK holds them. */
async function serverRows(engine: Engine): Promise<unknown[]> {
  return engine.storage.scanRows('projects', null, 10_000);
}

describe('retention through the engine', () => {
  test('an SDK client offline past the floor comes back with a full, correct copy (bootstrap), its own queued write applied once', async () => {
    const { engine, apiKey } = await startEngine({ changeLogMs: 1, intervalMs: 3_600_000 });
    const r = await relay(engine.port);
    cleanups.push(r.cut);
    const away = client(r.url, apiKey);
    const writer = client(engine.url, apiKey);
    await Promise.all([away.ready(), writer.ready()]);
    for (let i = 1; i <= 5; i++) await writer.projects.create({ id: `p${i}`, data: { name: `project ${i}` } });
    await until(away, () => away.projects.getCount() === 5);
    const seenAt = away.lastSyncId;

    await r.cut();
    await until(away, () => away.status !== 'live');
    // While it is away: updates, deletes and creates by others, and a write of its own, queued.
    await writer.projects.update({ id: 'p1', data: { name: 'renamed', stars: 3 } });
    await writer.projects.delete({ id: 'p2' });
    await writer.projects.create({ id: 'p6', data: { name: 'six' } });
    await writer.projects.update({ id: 'p6', data: { stars: 1 } });
    await writer.projects.delete({ id: 'p3' });
    const mine = away.projects.create({ id: 'mine', data: { name: 'made offline' } });
    await pause(5);
    const pruned = await engine.prune();
    expect(pruned.changes).toBeGreaterThan(0);
    expect(pruned.floor).toBeGreaterThan(seenAt + 1);
    expect(await engine.storage.changeLogFloor()).toBe(pruned.floor);

    await r.restore();
    await mine;
    const server = await serverRows(engine);
    await until(away, () => away.lastSyncId === engine.lastSyncId() && away.projects.getCount() === server.length, 10_000);
    const local = [...away.projects.getAll()].sort((a, b) => a.id.localeCompare(b.id));
    expect(local).toEqual(await serverRows(engine));
    expect(local.map((p) => p.id)).toEqual(['mine', 'p1', 'p4', 'p5', 'p6']);
    // Applied once: one create of "mine" in what the log holds, and one row.
    expect((await engine.storage.changesAfter(0, 1000)).filter((c) => c.id === 'mine')).toHaveLength(1);
  });

  test('a readAt whose history was pruned is stale over HTTP (409, history gone); overwrite writes', async () => {
    const { engine, apiKey } = await startEngine({ changeLogMs: 1, intervalMs: 3_600_000 });
    expect((await http(engine, apiKey, 'POST', '/v1/models/projects', { data: { name: 'a' }, id: 'a' })).status).toBe(201);
    const readAt = engine.lastSyncId();
    await http(engine, apiKey, 'PATCH', '/v1/models/projects/a', { data: { stars: 1 } });
    await http(engine, apiKey, 'POST', '/v1/models/projects', { data: { name: 'b' }, id: 'b' });
    await pause(5);
    const { floor } = await engine.prune();
    expect(floor).toBe(engine.lastSyncId());

    const stale = await http(engine, apiKey, 'PATCH', '/v1/models/projects/a', { data: { name: 'mine' }, readAt });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ type: 'stale_context', code: 'stale_context', historyPruned: true, changeLogFloor: floor, readAt });
    expect(stale.body.error.message).toMatch(/pruned/);
    // The row's own version (its sync id) is exact: readAt at it is not stale, history or not.
    const current = (await http(engine, apiKey, 'GET', '/v1/models/projects/a')).body as { syncId: number };
    expect((await http(engine, apiKey, 'PATCH', '/v1/models/projects/a', { data: { name: 'fresh' }, readAt: current.syncId })).status).toBe(200);
    const over = await http(engine, apiKey, 'PATCH', '/v1/models/projects/a', { data: { name: 'forced' }, readAt, onStale: 'overwrite' });
    expect(over.status).toBe(200);
    expect((await engine.storage.getRow('projects', 'a'))!.name).toBe('forced');
  });

  test('MCP: a stale update whose history was pruned says so, and the readAt it hands back works', async () => {
    const { engine, apiKey } = await startEngine({ changeLogMs: 1, intervalMs: 3_600_000 });
    await http(engine, apiKey, 'POST', '/v1/models/projects', { data: { name: 'a' }, id: 'a' });
    const readAt = engine.lastSyncId();
    await http(engine, apiKey, 'PATCH', '/v1/models/projects/a', { data: { stars: 2 } });
    await http(engine, apiKey, 'POST', '/v1/models/projects', { data: { name: 'b' }, id: 'b' });
    await pause(5);
    const { floor } = await engine.prune();
    const s = await httpSession(engine.url, apiKey);
    cleanups.push(() => s.close());
    const stale = await s.call('projects_update', { id: 'a', data: { name: 'agent' }, readAt });
    expect(stale.isError).toBe(true);
    expect(textOf(stale)).toMatch(/pruned/);
    const info = structured(stale).error;
    expect(info).toMatchObject({ code: 'stale_context', historyPruned: true, changeLogFloor: floor, staleReadAt: readAt });
    // The readAt to retry with is the row's own version: not stale again (no loop).
    const retried = await s.call('projects_update', { id: 'a', data: { name: 'agent' }, readAt: info.readAt });
    expect(retried.isError).toBeFalsy();
    expect((await engine.storage.getRow('projects', 'a'))!.name).toBe('agent');
  });

  test('a queued SDK write held past the idempotency window is refused (idempotency_expired), rolled back and dropped; later writes go on', async () => {
    const { engine, apiKey } = await startEngine({ idempotencyMs: 300, intervalMs: 3_600_000 });
    const r = await relay(engine.port);
    cleanups.push(r.cut);
    const c = client(r.url, apiKey);
    await c.ready();
    await c.projects.create({ id: 'before', data: { name: 'sent at once' } });
    const rollbacks: Array<{ clientTxId: string; code: string }> = [];
    c.on('sync:rollback', (e) => rollbacks.push({ clientTxId: e.clientTxId, code: e.error.code }));

    await r.cut();
    await until(c, () => c.status !== 'live');
    const late = c.projects.create({ id: 'late', data: { name: 'held too long' } });
    late.catch(() => {});
    expect(c.projects.get('late')).toBeDefined(); // optimistic
    await pause(400);
    await r.restore();

    const err = await late.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AbloIdempotencyError);
    expect(err).toMatchObject({ type: 'idempotency_error', code: 'idempotency_expired' });
    expect(rollbacks).toEqual([{ clientTxId: expect.any(String), code: 'idempotency_expired' }]);
    expect(c.projects.get('late')).toBeUndefined();
    expect(await engine.storage.getRow('projects', 'late')).toBeNull();
    // Dropped from the outbox: a later write is applied, and the refused one never comes back.
    await c.projects.create({ id: 'after', data: { name: 'fresh' } });
    await until(c, () => c.projects.get('after'));
    expect((await serverRows(engine)).map((p) => (p as { id: string }).id).sort()).toEqual(['after', 'before']);
    expect(rollbacks).toHaveLength(1);
  });

  test('HTTP: a keyed commit with ageMs past the window is 409 idempotency_expired; its stored receipt is replayed instead', async () => {
    const { engine, apiKey } = await startEngine({ idempotencyMs: 60_000, intervalMs: 3_600_000 });
    const body = { operations: [{ op: 'create', model: 'projects', id: 'x', data: { name: 'x' } }], idempotencyKey: 'k-1' };
    const refused = await http(engine, apiKey, 'POST', '/v1/commits', { ...body, ageMs: 120_000 });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_expired', ageMs: 120_000, windowMs: 60_000 });
    expect(await engine.storage.getRow('projects', 'x')).toBeNull();
    const first = await http(engine, apiKey, 'POST', '/v1/commits', { ...body, ageMs: 10 });
    expect(first.status).toBe(200);
    const replay = await http(engine, apiKey, 'POST', '/v1/commits', { ...body, ageMs: 120_000 });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
  });

  test('/v1/health and `ablo status` show the floor and the retention settings', async () => {
    const { engine, apiKey, dir } = await startEngine({ changeLogMs: 1, idempotencyMs: 7_200_000, intervalMs: 3_600_000 });
    const before = await (await fetch(`${engine.url}/v1/health`)).json();
    expect(before).toMatchObject({ changeLogFloor: 0, retention: { changeLogMs: 1, idempotencyMs: 7_200_000 } });
    for (const id of ['a', 'b', 'c']) await http(engine, apiKey, 'POST', '/v1/models/projects', { data: { name: id }, id });
    await pause(5);
    await engine.prune();
    const after = await (await fetch(`${engine.url}/v1/health`)).json();
    expect(after.changeLogFloor).toBe(3);

    const json = await runCli(['status', '--json', '--url', engine.url, '--api-key', apiKey], dir);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ changeLogFloor: 3, retention: { changeLogMs: 1, idempotencyMs: 7_200_000 } });
    const text = await runCli(['status', '--url', engine.url, '--api-key', apiKey], dir);
    expect(text.stdout).toMatch(/change log\s+from sync id 3 \(older entries pruned\); kept 1ms, idempotency 2h/);
  });

  test('the retention timer prunes on its own, and stops with the engine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ablo-retention-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const logged: string[] = [];
    const apiKey = generateApiKey('test');
    const engine = await createEngine({ file: join(dir, 't.db'), port: 0, schema, devKey: apiKey, retention: { changeLogMs: 1, intervalMs: 20 }, log: (l) => logged.push(l) });
    let closed = false;
    cleanups.push(() => (closed ? undefined : engine.close()));
    for (const id of ['a', 'b', 'c']) await http(engine, apiKey, 'POST', '/v1/models/projects', { data: { name: id }, id });
    for (let i = 0; i < 500 && (await engine.storage.changeLogFloor()) !== 3; i++) await pause(10);
    expect(await engine.storage.changeLogFloor()).toBe(3);
    await engine.close();
    closed = true;
    await pause(60);
    expect(logged.filter((l) => /retention/.test(l))).toEqual([]);
  });

  test('retention options are checked: a window that is not a positive number is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ablo-retention-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await expect(createEngine({ file: join(dir, 'x.db'), port: 0, retention: { changeLogMs: 0 }, log: () => {} })).rejects.toMatchObject({
      code: 'invalid_option',
      details: { field: 'retention.changeLogMs' },
    });
    const e = await createEngine({ file: join(dir, 'y.db'), port: 0, log: () => {} });
    cleanups.push(() => e.close());
    expect(e.retention).toEqual({ changeLogMs: 7 * 86_400_000, idempotencyMs: 86_400_000, intervalMs: 600_000 });
  });
});

describe('a prune that overtakes a catch-up', () => {
  test('ends it with a resync before any gap is sent; the client reconnects from what it has and bootstraps', async () => {
    const t = await startTestEngineWith(schema, { retention: { changeLogMs: 1, intervalMs: 3_600_000 }, stallTimeoutMs: 60_000 });
    cleanups.push(() => t.stop());
    await t.http('POST', '/v1/commits', { operations: [{ op: 'create', model: 'projects', id: 'base', data: { name: 'base' } }] });
    // ~30 MB of changes after sync id 1: far more than the socket buffers hold, so the catch-up waits on the client.
    const big = 'x'.repeat(10_000);
    for (let c = 0; c < 60; c++) {
      const operations = Array.from({ length: 50 }, (_, i) => ({ op: 'create', model: 'projects', id: `p${c}_${i}`, data: { name: big } }));
      expect((await t.http('POST', '/v1/commits', { operations })).status).toBe(200);
    }
    const head = t.engine.lastSyncId();
    expect(head).toBe(3001);

    const s = await t.socket();
    const socket = (s.ws as unknown as { _socket: Socket })._socket;
    s.send({ type: 'hello', apiKey: t.key, lastSyncId: 1 });
    const welcome = await s.next('welcome');
    expect(welcome.mode).toBe('catchup');
    socket.pause(); // the client stops reading: the engine's catch-up blocks on its socket
    await pause(300);
    const pruned = await t.engine.prune();
    expect(pruned.floor).toBe(head);
    socket.resume();

    const closed = await s.waitClose();
    expect(closed.code).toBe(CLOSE_CODES.resync_required);
    const frames = s.frames.splice(0);
    expect(frames.at(-1)).toMatchObject({ type: 'resync', reason: expect.stringMatching(/pruned/) });
    expect(frames.some((f) => f.type === 'bootstrap_done')).toBe(false);
    // What arrived is gap-free from 2: the client has everything up to its last change, and nothing after.
    const got = frames.filter((f) => f.type === 'changes').flatMap((f) => f.changes.map((c: { syncId: number }) => c.syncId));
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(head - 1);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 2));

    const again = await t.socket();
    const { welcome: second, frames: rows } = await again.hello({ apiKey: t.key, lastSyncId: got.at(-1) });
    expect(second.mode).toBe('bootstrap');
    expect(rows.filter((f) => f.type === 'bootstrap').reduce((n, f) => n + f.rows.length, 0)).toBe(3001);
  }, 60_000);
});

describe('a live client in quiet groups', () => {
  const teams = defineSchema({ notes: model({ body: z.string(), team: z.string() }, {}, { syncGroupFormat: 'team:{team}' }) });

  test('pong carries the watermark: its lastSyncId follows the head, so its readAt stays above the floor', async () => {
    const t = await startTestEngineWith(teams, { retention: { changeLogMs: 1, intervalMs: 3_600_000 } });
    cleanups.push(() => t.stop());
    let socket: WebSocket | null = null;
    const c = Ablo({
      schema: teams,
      apiKey: t.key,
      baseURL: t.url,
      syncGroups: ['team:a'],
      webSocket: (url) => (socket = new WebSocket(url)) as unknown as SocketLike,
    });
    cleanups.push(() => c.dispose());
    await c.ready();
    await c.notes.create({ id: 'a1', data: { body: 'ours', team: 'a' } });
    const ours = c.lastSyncId;
    // Others write in another group: nothing reaches this client, its lastSyncId stays.
    for (let i = 0; i < 5; i++) await t.http('POST', '/v1/models/notes', { data: { body: 'theirs', team: 'b' } });
    expect(c.lastSyncId).toBe(ours);
    await pause(5);
    const { floor } = await t.engine.prune();
    expect(floor).toBeGreaterThan(ours + 1);

    // A ping (the SDK sends one every 15 s; sent here at once on its socket): the pong moves the watermark.
    socket!.send(JSON.stringify({ type: 'ping', t: 1 }));
    // (A pong changes no row: nothing to subscribe to, so this polls.)
    for (let i = 0; i < 200 && c.lastSyncId !== t.engine.lastSyncId(); i++) await pause(10);
    expect(c.lastSyncId).toBe(t.engine.lastSyncId());
    // Its group read dependency at that watermark is answered by the log (nothing moved in team:a).
    const receipt = await c.commits.create({
      operations: [{ op: 'create', model: 'notes', id: 'a2', data: { body: 'after a quiet week', team: 'a' } }],
      reads: [{ group: 'team:a', readAt: c.lastSyncId }],
    });
    expect(receipt.status).toBe('committed');
  });
});
