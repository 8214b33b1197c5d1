/**
 * The SDK with several engine URLs: it connects to the first that answers,
 * moves on when its engine drains (at once) or cannot be reached (with the
 * backoff), catches up from its last sync id, and resends unconfirmed writes
 * with the same client transaction id: nothing lost, nothing applied twice.
 *
 * Engines here are real `createEngine` instances on SQLite. A and B of the
 * restart test share one file (the second opens it once the first has
 * drained), as two processes behind one database would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import Ablo, { type AbloClient } from '../../src/index.js';
import { createEngine, generateApiKey, type Engine } from '../../src/engine/index.js';
import { CLOSE_CODES } from '../../src/protocol/sync.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({ notes: model({ body: z.string() }) });
type Client = AbloClient<typeof schema>;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-failover-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function engine(file: string, key: string, port = 0): Promise<Engine> {
  const e = await createEngine({ file, port, schema, devKey: key, log: () => {} });
  cleanups.push(() => e.close());
  return e;
}

function client(urls: string[], key: string, extra: Partial<Parameters<typeof Ablo<typeof schema>>[0]> = {}): Client {
  const c = Ablo({ schema, apiKey: key, baseURL: urls, reconnect: { baseMs: 20, maxMs: 200 }, ...extra });
  cleanups.push(() => c.dispose());
  return c;
}

describe('baseURL as a list', () => {
  test('engine A drains, B starts on the same file: the client ends up on B, its pending writes (one refused while A drained, one made while no engine ran) land once, the subscriber sees them and what follows', async () => {
    const file = join(tempDir(), 'ablo.db');
    const key = generateApiKey('live');
    const a = await engine(file, key);
    const portB = await freePort();
    const urls = [a.url, `http://127.0.0.1:${portB}`];
    const writer = client(urls, key);
    const subscriber = client(urls, key);
    await Promise.all([writer.ready(), subscriber.ready()]);
    await writer.notes.create({ id: 'n0', data: { body: 'on A' } });
    await until(subscriber, () => subscriber.notes.get('n0'));
    const closes: Array<number | undefined> = [];
    writer.on('connection:change', (e) => closes.push(e.code));

    // A write that reaches A once it drains is refused (`draining`) and waits in the outbox.
    const drained = a.drain();
    const refused = writer.notes.create({ id: 'n1', data: { body: 'refused by draining A' } });
    await drained;
    expect(closes).toContain(CLOSE_CODES.engine_draining);
    // No engine answers now: this write waits in the outbox too (applied locally, not confirmed).
    const confirmed = writer.commits.create({ operations: [{ op: 'create', model: 'notes', id: 'n1b', data: { body: 'written while no engine ran' } }], idempotencyKey: 'tx-n1b' });
    expect(writer.notes.get('n1')).toMatchObject({ body: 'refused by draining A' });
    expect(writer.notes.get('n1b')).toMatchObject({ body: 'written while no engine ran' });

    const b = await engine(file, key, portB);
    expect(await refused).toMatchObject({ id: 'n1', body: 'refused by draining A' });
    expect(await confirmed).toMatchObject({ status: 'committed', clientTxId: 'tx-n1b' });
    // Each landed once, on B: two changes after A's one.
    expect(await b.storage.getRow('notes', 'n1')).toMatchObject({ body: 'refused by draining A' });
    expect(await b.storage.getRow('notes', 'n1b')).toMatchObject({ body: 'written while no engine ran' });
    expect(b.lastSyncId()).toBe(3);
    await until(subscriber, () => subscriber.notes.get('n1') && subscriber.notes.get('n1b'));

    await writer.notes.create({ id: 'n2', data: { body: 'on B' } });
    await until(subscriber, () => subscriber.notes.get('n2'));
    expect(subscriber.notes.getAll().map((n) => n.id).sort()).toEqual(['n0', 'n1', 'n1b', 'n2']);
    expect(b.lastSyncId()).toBe(4);
    expect(writer.status).toBe('live');
    // Server reads follow the socket to B.
    expect((await writer.notes.list()).data.map((n) => n.id).sort()).toEqual(['n0', 'n1', 'n1b', 'n2']);
  });

  test('a drain close moves to the next engine at once (within a small jitter), without the backoff; a write the draining engine refused lands on the next', async () => {
    const dir = tempDir();
    const key = generateApiKey();
    const a = await engine(join(dir, 'a.db'), key);
    const b = await engine(join(dir, 'b.db'), key);
    const retries: Array<Record<string, unknown>> = [];
    // A backoff of a minute: only a reconnect at once can reach B within the test.
    const c = client([a.url, b.url], key, { reconnect: { baseMs: 60_000, maxMs: 60_000 }, logger: { debug: (_m, d) => retries.push(d ?? {}), warn: () => {} } });
    await c.ready();

    // A's next transaction waits, so its drain is still going when the second write arrives.
    const storage = a.storage;
    const original = storage.transaction.bind(storage);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let entered!: () => void;
    const inTx = new Promise<void>((r) => (entered = r));
    storage.transaction = (async (fn: never) => {
      entered();
      await gate;
      return original(fn);
    }) as typeof storage.transaction;

    const queued = c.notes.create({ id: 'on-a', data: { body: 'queued on A before the drain' } });
    await inTx;
    const drained = a.drain();
    const refused = c.notes.create({ id: 'on-b', data: { body: 'refused by A (draining), resent to B' } });
    open();
    await drained;
    expect(await queued).toMatchObject({ id: 'on-a' });
    expect(await refused).toMatchObject({ id: 'on-b' });
    expect(await b.storage.getRow('notes', 'on-b')).toMatchObject({ body: 'refused by A (draining), resent to B' });
    expect(b.lastSyncId()).toBe(1);
    expect(c.status).toBe('live');
    expect(b.connections()).toBe(1);
    expect(retries[0]).toMatchObject({ attempt: 1, url: b.url });
    // At once: within the drain jitter (250 ms), not the minute of backoff.
    expect(retries[0]!.delayMs).toBeLessThan(250);
    expect(retries[0]!.reason).toMatch(/4006/);
  });

  test('connects to the first engine that answers; server reads skip an engine that cannot be reached', async () => {
    const key = generateApiKey();
    const a = await engine(join(tempDir(), 'a.db'), key);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const c = client([dead, a.url], key);
    await c.ready();
    await c.notes.create({ id: 'x', data: { body: 'hello' } });
    expect(a.connections()).toBe(1);
    // A client whose socket is not up yet still reads over HTTP from the engine that answers.
    const reader = client([dead, a.url], key);
    expect((await reader.notes.retrieve({ id: 'x' })).body).toBe('hello');
  });

  test('ABLO_URL may list several engines, comma-separated; a bad entry is invalid_url', async () => {
    const key = generateApiKey();
    const a = await engine(join(tempDir(), 'a.db'), key);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const c = client(`${dead}, ${a.url}/` as unknown as string[], key);
    await c.ready();
    expect(a.connections()).toBe(1);
    expect(() => Ablo({ schema, apiKey: key, baseURL: [a.url, 'ftp://nope'] })).toThrow(expect.objectContaining({ code: 'invalid_url' }));
    expect(() => Ablo({ schema, apiKey: key, baseURL: [] })).toThrow(expect.objectContaining({ code: 'invalid_url' }));
  });
});
