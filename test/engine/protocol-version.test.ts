/**
 * The sync protocol version in `hello`: the engine serves the documented
 * range (`SYNC_PROTOCOL_RANGE`, a hello without `protocol` counts as 1) and
 * refuses anything else with an `unsupported_protocol` error frame that says
 * which side to upgrade, then close code 4005. The SDK sends its version and
 * turns that refusal into a typed error: `ready()` rejects, the client stops,
 * it does not reconnect.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import Ablo, { AbloConnectionError } from '../../src/index.js';
import { CLOSE_CODES, SYNC_PROTOCOL_RANGE, SYNC_PROTOCOL_VERSION } from '../../src/protocol/sync.js';
import type { SocketLike } from '../../src/client/connection.js';
import { schema } from '../fixtures/example.schema.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
beforeAll(async () => {
  t = await startTestEngine(schema);
});
afterAll(async () => {
  await t.stop();
});

const newer = SYNC_PROTOCOL_RANGE.max + 1;
const older = SYNC_PROTOCOL_RANGE.min - 1;

describe('the engine checks hello.protocol', () => {
  test('the SDK package and the engine speak the same version, inside the range', () => {
    expect(SYNC_PROTOCOL_VERSION).toBeGreaterThanOrEqual(SYNC_PROTOCOL_RANGE.min);
    expect(SYNC_PROTOCOL_VERSION).toBeLessThanOrEqual(SYNC_PROTOCOL_RANGE.max);
    expect(CLOSE_CODES.unsupported_protocol).toBe(4005);
  });

  test.each([
    ['in the range', { protocol: SYNC_PROTOCOL_VERSION }],
    ['absent (counts as 1)', {}],
  ])('protocol %s: welcome', async (_what, extra) => {
    const s = await t.socket();
    const { welcome } = await s.hello({ apiKey: t.key, ...extra });
    expect(welcome).toMatchObject({ type: 'welcome', protocol: SYNC_PROTOCOL_VERSION });
    s.close();
  });

  test('a client newer than the engine: refused with 4005, "upgrade the engine"', async () => {
    const s = await t.socket();
    s.send({ type: 'hello', protocol: newer, apiKey: t.key });
    const frame = await s.next('error');
    expect(frame.error).toMatchObject({
      type: 'connection_error',
      code: 'unsupported_protocol',
      protocol: newer,
      minProtocol: SYNC_PROTOCOL_RANGE.min,
      maxProtocol: SYNC_PROTOCOL_RANGE.max,
      upgrade: 'engine',
    });
    expect(frame.error.message).toMatch(/Upgrade the engine/);
    const closed = await s.waitClose();
    expect(closed.code).toBe(4005);
    expect(closed.reason).toBe(`unsupported protocol ${newer}; engine supports ${SYNC_PROTOCOL_RANGE.min}-${SYNC_PROTOCOL_RANGE.max}`);
    expect(s.frames.filter((f) => f.type === 'welcome')).toEqual([]);
  });

  test('a client older than the engine: refused with 4005, "upgrade the client package"', async () => {
    const s = await t.socket();
    s.send({ type: 'hello', protocol: older, apiKey: t.key });
    const frame = await s.next('error');
    expect(frame.error).toMatchObject({ code: 'unsupported_protocol', protocol: older, upgrade: 'client' });
    expect(frame.error.message).toMatch(/Upgrade the client package/);
    expect((await s.waitClose()).code).toBe(4005);
  });

  test('the engine keeps serving: a good hello after a refused one gets its welcome', async () => {
    const bad = await t.socket();
    bad.send({ type: 'hello', protocol: newer, apiKey: t.key });
    await bad.waitClose();
    const good = await t.socket();
    const { welcome } = await good.hello({ apiKey: t.key, protocol: SYNC_PROTOCOL_VERSION });
    expect(welcome.type).toBe('welcome');
    good.close();
  });
});

/** A real `ws` socket whose hello claims another protocol version (a client package of another release). */
function speaking(protocol: number, opened: { count: number }) {
  return (url: string): SocketLike => {
    opened.count++;
    const ws = new WebSocket(url);
    const send = ws.send.bind(ws);
    (ws as unknown as { send: (data: string) => void }).send = (data: string) => {
      const frame = JSON.parse(data);
      send(JSON.stringify(frame.type === 'hello' ? { ...frame, protocol } : frame));
    };
    return ws as unknown as SocketLike;
  };
}

describe('the SDK', () => {
  test('sends its protocol version in hello and connects', async () => {
    const sent: unknown[] = [];
    const ablo = Ablo({
      schema,
      apiKey: t.key,
      baseURL: t.url,
      webSocket: (url) => {
        const ws = new WebSocket(url);
        const send = ws.send.bind(ws);
        (ws as unknown as { send: (data: string) => void }).send = (data: string) => {
          sent.push(JSON.parse(data));
          send(data);
        };
        return ws as unknown as SocketLike;
      },
    });
    await ablo.ready();
    expect(sent.find((f) => (f as { type: string }).type === 'hello')).toMatchObject({ type: 'hello', protocol: SYNC_PROTOCOL_VERSION });
    await ablo.dispose();
  });

  test.each([
    ['newer than the engine', newer, 'engine', /Upgrade the engine/],
    ['older than the engine', older, 'client', /Upgrade the client package/],
  ])('a client %s: ready() rejects with a typed unsupported_protocol error and the client does not reconnect', async (_what, protocol, side, fix) => {
    const opened = { count: 0 };
    const ablo = Ablo({ schema, apiKey: t.key, baseURL: t.url, webSocket: speaking(protocol, opened), reconnect: { baseMs: 5, maxMs: 20 } });
    const err = await ablo.ready().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AbloConnectionError);
    expect(err).toMatchObject({ type: 'connection_error', code: 'unsupported_protocol', details: { protocol, upgrade: side } });
    expect((err as Error).message).toMatch(fix);
    expect(ablo.status).toBe('closed');
    // With a 5-20 ms backoff, a client that retried would have opened more sockets by now.
    await new Promise((r) => setTimeout(r, 200));
    expect(opened.count).toBe(1);
    // Writes fail the same way instead of waiting for a connection that never comes.
    await expect(ablo.projects.create({ data: { name: 'x' } })).rejects.toMatchObject({ code: 'unsupported_protocol' });
    await ablo.dispose();
  });
});

test('the SDK words the refusal from the close reason alone when no error frame came (an engine that sent only the close)', async () => {
  // A socket that opens and is closed at once with 4005, as by an engine of protocols 2-3.
  const socket = (): SocketLike => {
    const s: SocketLike = { readyState: 1, send: () => undefined, close: () => undefined, onopen: null, onclose: null, onerror: null, onmessage: null };
    setTimeout(() => {
      s.onopen?.({});
      s.onclose?.({ code: 4005, reason: 'unsupported protocol 1; engine supports 2-3' });
    }, 0);
    return s;
  };
  const ablo = Ablo({ schema, apiKey: t.key, baseURL: t.url, webSocket: socket });
  const err = await ablo.ready().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AbloConnectionError);
  expect(err).toMatchObject({ code: 'unsupported_protocol', details: { protocol: SYNC_PROTOCOL_VERSION, minProtocol: 2, maxProtocol: 3, upgrade: 'client' } });
  await ablo.dispose();
});
