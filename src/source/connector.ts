/**
 * `createSourceConnector`: the reverse channel. A source inside a private
 * network dials out to the engine over one WebSocket (`ablo.source.v1`)
 * instead of exposing an endpoint; the engine sends each signed request down
 * it, and the connector runs the same `dataSource()` handler on it, so the
 * signature is verified exactly as over HTTP.
 *
 * A dropped socket is dialled again with exponential back-off and jitter. An
 * answer to a request whose socket dropped is discarded: the engine sends the
 * request again (same `webhook-id`) on the new socket, and commit dedupe by
 * `clientTxId` makes that retry safe.
 */
import { AbloAuthenticationError, AbloConnectionError, AbloPermissionError, AbloValidationError } from '../errors.js';
import { connectorReadyFrameSchema, connectorRequestFrameSchema, SOURCE_CONNECT_PATH, SOURCE_SUBPROTOCOL, type ConnectorRequestFrame, type ConnectorResponseFrame } from '../protocol/source.js';
import { CLOSE_CODES } from '../protocol/sync.js';
import { backoffDelay } from './backoff.js';
import type { SourceHandler } from './handler.js';

/**
 * The part of the `ws` package's client the connector uses. Declared here
 * rather than imported, so the published types do not need `@types/ws`.
 */
export interface SourceWebSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number): void;
  terminate(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
}

/** The `ws` package's `WebSocket` (the default), or a class with its API: browsers' WebSocket cannot send the Authorization header. */
export type WebSocketConstructor = new (url: string, protocols: string[], options: { headers: Record<string, string> }) => SourceWebSocket;

/** `readyState` values (the WebSocket standard's). */
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

export interface SourceConnectorOptions {
  /** A secret API key of the engine, allowed to serve this source. */
  apiKey: string;
  /** What `dataSource()` returned. */
  handler: SourceHandler;
  /** The engine's URL (http(s) or ws(s)); default `ABLO_URL`, else http://127.0.0.1:4100. */
  baseURL?: string;
  /** The source's name in the engine's configuration; default: the one the key is for. */
  source?: string;
  /** The WebSocket client (default: the `ws` package, loaded when first needed). */
  WebSocket?: WebSocketConstructor;
}

export interface SourceConnector {
  /** Resolves when the engine accepted the first connection; rejects on an auth refusal or `close()` before that. */
  readonly ready: Promise<void>;
  /** True while a socket is open and the engine said `ready` on it. */
  readonly connected: boolean;
  /** Stop: close the socket, dial no more. */
  close(): Promise<void>;
}

/** `ws(s)://…/v1/source/connect?source=…` from an http(s) or ws(s) base URL. */
export function connectURL(baseURL: string, source?: string): string {
  const url = new URL(SOURCE_CONNECT_PATH, baseURL.endsWith('/') ? baseURL : `${baseURL}/`);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (source !== undefined) url.searchParams.set('source', source);
  return url.toString();
}

async function loadWebSocket(given: WebSocketConstructor | undefined): Promise<WebSocketConstructor> {
  if (given) return given;
  // Loaded lazily: an app that only serves `dataSource()` over HTTP (edge runtimes included) never needs `ws`.
  const mod = (await import('ws')) as unknown as { WebSocket: WebSocketConstructor };
  return mod.WebSocket;
}

/** The error that ends the connector when the engine refuses the key. */
function refusal(status: number): Error {
  return status === 403
    ? new AbloPermissionError('The engine refused this API key for the source connection (HTTP 403): the key may not serve this source.', { code: 'forbidden' })
    : new AbloAuthenticationError(`The engine refused the source connection (HTTP ${status}): check the API key.`, { code: 'invalid_api_key' });
}

/** Run one request frame through the handler; the response frame to send. */
async function answer(handler: SourceHandler, frame: ConnectorRequestFrame): Promise<ConnectorResponseFrame> {
  try {
    const response = await handler(new Request('http://ablo-source.local/', { method: 'POST', headers: frame.headers, body: frame.body }));
    return { type: 'response', id: frame.id, status: response.status, body: await response.text() };
  } catch (error) {
    console.error('[ablo/source] the connector could not run a request:', error);
    return { type: 'response', id: frame.id, status: 500, body: JSON.stringify({ error: { code: 'source_failed', message: 'The connector could not run the request.' } }) };
  }
}

/**
 * Dial the engine and serve `handler` over the socket until `close()`.
 * See docs/data-source.md, "Reverse channel".
 */
export function createSourceConnector(options: SourceConnectorOptions): SourceConnector {
  if (!options || typeof options.apiKey !== 'string' || options.apiKey.length === 0) {
    throw new AbloValidationError('createSourceConnector(): apiKey is required (a secret API key of the engine).', { code: 'invalid_option' });
  }
  if (typeof options.handler !== 'function') {
    throw new AbloValidationError('createSourceConnector(): handler is required (what dataSource() returned).', { code: 'invalid_option' });
  }
  const url = connectURL(options.baseURL ?? process.env.ABLO_URL ?? 'http://127.0.0.1:4100', options.source);
  let socket: SourceWebSocket | undefined;
  let connected = false;
  let closed = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let settle!: { resolve: () => void; reject: (e: Error) => void; done: boolean };
  const ready = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject, done: false };
  });
  // A caller that never awaits `ready` must not crash the process with an unhandled rejection; the refusal is logged too.
  ready.catch(() => {});
  const finish = (error?: Error): void => {
    if (settle.done) return;
    settle.done = true;
    if (error) settle.reject(error);
    else settle.resolve();
  };

  const stop = (error: Error): void => {
    console.error(`[ablo/source] connector stopped: ${error.message}`);
    closed = true;
    finish(error);
  };

  const schedule = (): void => {
    if (closed) return;
    const delay = backoffDelay(attempt++);
    timer = setTimeout(() => {
      timer = undefined;
      void dial();
    }, delay);
    // Not unref'd: an app that only serves through the connector must stay up while it waits to dial back.
  };

  const onMessage = (ws: SourceWebSocket, data: unknown): void => {
    let json: unknown;
    try {
      json = JSON.parse(String(data));
    } catch {
      return;
    }
    const isReady = connectorReadyFrameSchema.safeParse(json);
    if (isReady.success) {
      connected = true;
      attempt = 0;
      finish();
      return;
    }
    const request = connectorRequestFrameSchema.safeParse(json);
    if (!request.success) return;
    void answer(options.handler, request.data).then((frame) => {
      // The socket this request came on is gone: the engine retries the request on the next one.
      if (socket === ws && ws.readyState === OPEN) ws.send(JSON.stringify(frame));
    });
  };

  const dial = async (): Promise<void> => {
    if (closed) return;
    let WebSocketImpl: WebSocketConstructor;
    try {
      WebSocketImpl = await loadWebSocket(options.WebSocket);
    } catch (error) {
      stop(new AbloConnectionError(`createSourceConnector(): cannot load the "ws" package: ${(error as Error).message}`, { code: 'no_websocket' }));
      return;
    }
    if (closed) return;
    const ws = new WebSocketImpl(url, [SOURCE_SUBPROTOCOL], { headers: { authorization: `Bearer ${options.apiKey}` } });
    socket = ws;
    ws.on('message', (data: unknown) => onMessage(ws, data));
    ws.on('unexpected-response', (_req: unknown, res: { statusCode?: number; resume(): void }) => {
      const status = res.statusCode ?? 0;
      // Before terminate: the 'close' that follows must see the connector stopped and not dial again.
      if (status === 401 || status === 403) stop(refusal(status));
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => {
      // An unreachable engine is expected while it restarts: 'close' follows and schedules the next attempt. Without this listener ws would throw.
    });
    ws.on('close', (code: number) => {
      if (socket === ws) {
        socket = undefined;
        connected = false;
      }
      if (code === CLOSE_CODES.authentication_failed) stop(refusal(401));
      schedule();
    });
  };

  void dial();

  return {
    ready,
    get connected() {
      return connected;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      finish(new AbloConnectionError('The source connector was closed before the engine accepted it.', { code: 'connection_closed' }));
      const ws = socket;
      if (!ws || ws.readyState === CLOSED) return;
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        if (ws.readyState === CONNECTING) ws.terminate();
        else ws.close(CLOSE_CODES.normal);
      });
    },
  };
}
