/**
 * The reverse channel against a real WebSocket server playing the engine:
 * it checks the subprotocol, the bearer key and the source name, says
 * `ready`, sends signed request frames and reads the responses; it drops the
 * socket and the connector dials back; it refuses the key and `ready` rejects.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { AbloAuthenticationError, AbloPermissionError } from '../../src/errors.js';
import { createSourceConnector, SOURCE_SUBPROTOCOL, type ConnectorResponseFrame, type SourceConnector } from '../../src/source/index.js';
import { backoffDelay, BACKOFF_MAX_MS, BACKOFF_MIN_MS } from '../../src/source/backoff.js';
import { commitBody, createTaskApp, signedHeaders } from '../helpers/source.js';

const API_KEY = 'sk_test_source_connector';

/** One accepted socket, with its messages queued for the test to take in order. */
interface EngineSocket {
  ws: WebSocket;
  request: IncomingMessage;
  next(): Promise<ConnectorResponseFrame>;
}

/** A minimal engine side: the upgrade route, its checks, and the sockets it accepted. */
async function fakeEngine(refuseWith?: number) {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has(SOURCE_SUBPROTOCOL) ? SOURCE_SUBPROTOCOL : false) });
  const accepted: EngineSocket[] = [];
  const waiting: Array<(s: EngineSocket) => void> = [];
  let upgrades = 0;
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades++;
    const url = new URL(req.url ?? '/', 'http://engine');
    if (refuseWith || req.headers.authorization !== `Bearer ${API_KEY}` || url.pathname !== '/v1/source/connect') {
      socket.end(`HTTP/1.1 ${refuseWith ?? 401} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const queue: ConnectorResponseFrame[] = [];
      const takers: Array<(f: ConnectorResponseFrame) => void> = [];
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as ConnectorResponseFrame;
        const take = takers.shift();
        if (take) take(frame);
        else queue.push(frame);
      });
      const entry: EngineSocket = {
        ws,
        request: req,
        next: () => new Promise((resolve) => (queue.length > 0 ? resolve(queue.shift()!) : takers.push(resolve))),
      };
      accepted.push(entry);
      waiting.shift()?.(entry);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get upgrades() {
      return upgrades;
    },
    /** The next socket accepted (one already accepted and not taken yet counts). */
    connection(index: number): Promise<EngineSocket> {
      return accepted[index] ? Promise.resolve(accepted[index]!) : new Promise((resolve) => waiting.push(resolve));
    },
    async close() {
      for (const s of accepted) s.ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function requestFrame(id: string, body: unknown, secret: string) {
  const text = JSON.stringify(body);
  return JSON.stringify({ type: 'request', id, headers: signedHeaders(text, secret), body: text });
}

describe('createSourceConnector', () => {
  test('dials with the subprotocol and bearer key, serves signed requests, and serves again after a drop', async () => {
    const engine = await fakeEngine();
    cleanups.push(() => engine.close());
    const app = createTaskApp();
    // The first load waits for the test, to be in flight when its socket drops.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let heldDone!: () => void;
    const held = new Promise<void>((resolve) => (heldDone = resolve));
    const handler = async (request: Request): Promise<Response> => {
      const holdThis = request.headers.get('x-hold') === '1';
      if (holdThis) await gate;
      const response = await app.handler(request);
      if (holdThis) setImmediate(heldDone);
      return response;
    };
    const connector = createSourceConnector({ apiKey: API_KEY, handler, baseURL: engine.url, source: 'app' });
    cleanups.push(() => connector.close());

    const first = await engine.connection(0);
    expect(first.ws.protocol).toBe(SOURCE_SUBPROTOCOL);
    expect(first.request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(new URL(first.request.url!, 'http://x').searchParams.get('source')).toBe('app');
    expect(connector.connected).toBe(false);
    first.ws.send(JSON.stringify({ type: 'ready', source: 'app' }));
    await connector.ready;
    expect(connector.connected).toBe(true);

    first.ws.send(requestFrame('r1', commitBody('tx-1', [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'Over the channel' } }]), app.secret));
    const answer = await first.next();
    expect(answer).toMatchObject({ type: 'response', id: 'r1', status: 200 });
    expect(JSON.parse(answer.body)).toEqual({ rows: [{ id: 't1', model: 'tasks', title: 'Over the channel', done: false, note: null }] });

    // A forged request over the channel is refused by the handler, as over HTTP.
    first.ws.send(JSON.stringify({ type: 'request', id: 'r-forged', headers: { 'x-app-tenant': 'acme' }, body: '{}' }));
    expect(await first.next()).toMatchObject({ id: 'r-forged', status: 401 });

    // A request in flight, then the socket drops.
    const loadText = JSON.stringify({ type: 'load', source: 'app', model: 'tasks', ids: ['t1'] });
    first.ws.send(JSON.stringify({ type: 'request', id: 'r-lost', headers: { ...signedHeaders(loadText, app.secret), 'x-hold': '1' }, body: loadText }));
    first.ws.terminate();

    const second = await engine.connection(1);
    expect(second.request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    second.ws.send(JSON.stringify({ type: 'ready', source: 'app' }));
    // The lost request's answer is ready now, but its socket is gone: it must not arrive on the new one.
    release();
    await held;
    second.ws.send(requestFrame('r2', { type: 'load', source: 'app', model: 'tasks', ids: ['t1'] }, app.secret));
    const again = await second.next();
    expect(again).toMatchObject({ type: 'response', id: 'r2', status: 200 });
    expect(JSON.parse(again.body).rows).toEqual([{ id: 't1', title: 'Over the channel', done: false, note: null }]);
    expect(connector.connected).toBe(true);

    await connector.close();
    expect(connector.connected).toBe(false);
  });

  test.each([
    [401, AbloAuthenticationError, 'invalid_api_key'],
    [403, AbloPermissionError, 'forbidden'],
  ] as const)('HTTP %i on the upgrade rejects ready with a clear error', async (status, type, code) => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const engine = await fakeEngine(status);
    cleanups.push(() => engine.close());
    const connector: SourceConnector = createSourceConnector({ apiKey: API_KEY, handler: createTaskApp().handler, baseURL: engine.url });
    cleanups.push(() => connector.close());
    const error = await connector.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ code, message: expect.stringContaining(String(status)) });
    expect(connector.connected).toBe(false);
    expect(engine.upgrades).toBe(1);
  });

  test('close() before the engine said ready rejects ready and stops dialling', async () => {
    const engine = await fakeEngine();
    cleanups.push(() => engine.close());
    // The WebSocket option takes the ws package's class as is.
    const connector = createSourceConnector({ apiKey: API_KEY, handler: createTaskApp().handler, baseURL: engine.url, WebSocket });
    await engine.connection(0);
    await connector.close();
    await expect(connector.ready).rejects.toMatchObject({ code: 'connection_closed' });
    expect(connector.connected).toBe(false);
  });

  test('a missing key or handler is refused at once', () => {
    expect(() => createSourceConnector({ apiKey: '', handler: createTaskApp().handler })).toThrow(/apiKey/);
    expect(() => createSourceConnector({ apiKey: API_KEY } as never)).toThrow(/handler/);
  });
});

describe('reconnect back-off', () => {
  test('250 ms doubling to 10 s, each between half and all of its step', () => {
    const steps = Array.from({ length: 10 }, (_, i) => Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** i));
    expect(steps.slice(0, 7)).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000]);
    steps.forEach((step, attempt) => {
      expect(backoffDelay(attempt, () => 0)).toBe(step / 2);
      expect(backoffDelay(attempt, () => 1)).toBe(step);
    });
    expect(backoffDelay(1000, () => 1)).toBe(10_000);
  });
});
