/**
 * Bootstrap against clients that stop reading: frames are sized by bytes
 * (at most 256 KB of rows, a larger row alone), what a bootstrap queues counts
 * against maxBufferedBytes, and a socket over the limit, or one that takes
 * nothing for stallTimeoutMs, is told to resync and closed with 4003 instead
 * of being waited for forever. The engine keeps serving everyone else.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import type { SyncEvent } from '../../src/engine/index.js';

type Disconnect = Extract<SyncEvent, { type: 'disconnect' }>;
import { startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';

const schema = defineSchema({
  docs: model({ body: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  notes: model({ body: z.string() }),
});

const engines: TestEngine[] = [];
async function start(options: Parameters<typeof startTestEngine>[1]): Promise<TestEngine> {
  const t = await startTestEngine(schema, { maxBodyBytes: 16 * 1024 * 1024, ...options });
  engines.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

const ROW_BYTES = 100 * 1024;
const FRAME_LIMIT = 256 * 1024;

/** `count` docs of about 100 KB on board "big" (more than the kernel buffers of a paused socket hold). */
async function seedBig(t: TestEngine, count: number): Promise<void> {
  const body = 'x'.repeat(ROW_BYTES);
  for (let from = 0; from < count; from += 40) {
    const operations = [];
    for (let i = from; i < Math.min(count, from + 40); i++) {
      operations.push({ op: 'create', model: 'docs', id: `d${String(i).padStart(4, '0')}`, data: { body: `${i}:${body}`, boardId: 'big' } });
    }
    expect((await t.http('POST', '/v1/commits', { operations })).status).toBe(200);
  }
}

/** Hello, then stop reading at once (the TCP socket is paused; the kernel buffers fill, then the engine's queue). */
async function pausedHello(t: TestEngine, groups: string[]): Promise<{ socket: TestSocket; gone: Promise<Disconnect> }> {
  const socket = await t.socket();
  const gone = new Promise<Disconnect>((resolve) => {
    const off = t.engine.on('disconnect', (e) => {
      if (e.type === 'disconnect' && e.participant?.id === 'paused') {
        off();
        resolve(e);
      }
    });
  });
  socket.send({ type: 'hello', apiKey: t.key, groups, participant: { kind: 'agent', id: 'paused' } });
  (socket.ws as any)._socket.pause();
  return { socket, gone };
}

/** Resume a paused socket and wait for its close (it reads what was queued before the close frame). */
async function resumeAndClose(socket: TestSocket): Promise<{ code: number; reason: string }> {
  (socket.ws as any)._socket.resume();
  return socket.waitClose();
}

async function stillServing(t: TestEngine): Promise<void> {
  const other = await t.socket();
  const { frames } = await other.hello({ apiKey: t.key, groups: ['default'] });
  expect(frames.filter((f) => f.type === 'bootstrap')).toEqual([]);
  const ref = 'after-slow';
  other.send({ type: 'commit', ref, commit: { operations: [{ op: 'create', model: 'notes', id: 'n-after', data: { body: 'ok' } }] } });
  expect((await other.next((f) => f.ref === ref)).type).toBe('receipt');
  expect((await t.http('GET', '/v1/health')).body.ok).toBe(true);
}

describe('slow readers during bootstrap', () => {
  test('a socket that stops reading goes over a small maxBufferedBytes: resync frame, close 4003; the engine keeps serving', async () => {
    const t = await start({ maxBufferedBytes: 300 * 1024, stallTimeoutMs: 60_000 });
    await seedBig(t, 240);
    const { socket, gone } = await pausedHello(t, ['board:big']);
    const left = await gone;
    expect(left.reason).toMatch(/not reading fast enough/);
    expect(t.engine.connections()).toBe(0);
    await stillServing(t);

    const close = await resumeAndClose(socket);
    expect(close.code).toBe(4003);
    const resync = socket.frames.find((f) => f.type === 'resync');
    expect(resync.reason).toMatch(/not reading fast enough/);
    // It never got to the end of its bootstrap.
    expect(socket.frames.some((f) => f.type === 'bootstrap_done')).toBe(false);
  });

  test('a socket that takes nothing for stallTimeoutMs is dropped with 4003 while a reading client gets every row in frames of at most 256 KB', async () => {
    const t = await start({ stallTimeoutMs: 1000 });
    await seedBig(t, 240);
    // A row alone over the frame size still goes (alone).
    const huge = 'h'.repeat(FRAME_LIMIT + 10_000);
    expect((await t.http('POST', '/v1/models/docs', { id: 'huge', data: { body: huge, boardId: 'big' } }, {})).status).toBe(201);

    const { socket: paused, gone } = await pausedHello(t, ['board:big']);
    const reader = await t.socket();
    const sizes: Array<{ bytes: number; rows: number }> = [];
    reader.ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith('{"type":"bootstrap"')) sizes.push({ bytes: Buffer.byteLength(text), rows: JSON.parse(text).rows.length });
    });
    const { frames } = await reader.hello({ apiKey: t.key, groups: ['board:big'] });
    const rows = frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows.map((r: any) => r.id));
    expect(rows).toHaveLength(241);
    expect(new Set(rows).size).toBe(241);
    expect(sizes.length).toBeGreaterThan(90);
    for (const f of sizes) if (f.rows > 1) expect(f.bytes).toBeLessThanOrEqual(FRAME_LIMIT);
    // The one row over the limit went alone.
    expect(sizes.filter((f) => f.bytes > FRAME_LIMIT)).toEqual([{ bytes: expect.any(Number), rows: 1 }]);

    const left = await gone;
    expect(left.reason).toMatch(/stopped reading/);
    await stillServing(t);
    expect((await resumeAndClose(paused)).code).toBe(4003);
  });
});
