/**
 * `toNodeHandler(handler)`: a `dataSource()` handler for Node's `http`
 * server and Express, which speak `(req, res)` instead of `Request` →
 * `Response`.
 *
 * The signature covers the exact bytes of the body, so they must reach the
 * handler untouched. Express's `express.raw()` keeps them (a Buffer in
 * `req.body`) and is used as is; `express.json()` has already parsed and
 * dropped them, so that case is answered with a 500 saying how to mount the
 * route, instead of every request failing as `invalid_signature`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_SOURCE_BODY_BYTES } from './body.js';
import type { SourceHandler } from './handler.js';

/** A Node request, possibly after an Express body parser ran on it. */
export type NodeSourceRequest = IncomingMessage & { body?: unknown };
export type NodeSourceHandler = (req: NodeSourceRequest, res: ServerResponse) => void;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'expect']);

class NodeBodyTooLarge extends Error {}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The raw body: Express's Buffer if a raw parser ran, else read from the stream, at most `limit` bytes. */
function rawBody(req: NodeSourceRequest, limit: number): Promise<Buffer> {
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body);
  if (typeof req.body === 'string') return Promise.resolve(Buffer.from(req.body, 'utf8'));
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new NodeBodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        req.off('data', onData);
        // Keep draining so the client can finish sending and read the 413.
        req.resume();
        reject(new NodeBodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, total)));
    req.once('error', reject);
  });
}

function toRequest(req: NodeSourceRequest, body: Buffer): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  return new Request(url, { method: req.method ?? 'POST', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : new Uint8Array(body) });
}

async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  headers['content-length'] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(body);
}

async function serve(handler: SourceHandler, req: NodeSourceRequest, res: ServerResponse): Promise<void> {
  if (req.body !== undefined && req.body !== null && !Buffer.isBuffer(req.body) && typeof req.body !== 'string') {
    console.error('[ablo/source] the request body was already parsed (express.json()?): mount express.raw({ type: "application/json" }) on this route.');
    sendJson(res, 500, {
      error: {
        code: 'source_failed',
        message:
          "The body was parsed before the Data Source handler saw it (express.json()?), so its signature cannot be checked. Mount express.raw({ type: 'application/json', limit: '8mb' }) on this route, before toNodeHandler, and no JSON parser.",
      },
    });
    return;
  }
  let body: Buffer;
  try {
    body = await rawBody(req, MAX_SOURCE_BODY_BYTES);
  } catch (error) {
    if (error instanceof NodeBodyTooLarge) {
      sendJson(res, 413, { error: { code: 'payload_too_large', message: `The request body is over ${MAX_SOURCE_BODY_BYTES} bytes.` } });
      return;
    }
    throw error;
  }
  await writeResponse(res, await handler(toRequest(req, body)));
}

/**
 * `http.createServer(toNodeHandler(handler))`, or an Express route:
 * `app.post('/ablo', express.raw({ type: 'application/json', limit: '8mb' }), toNodeHandler(handler))`.
 */
export function toNodeHandler(handler: SourceHandler): NodeSourceHandler {
  return (req, res) => {
    serve(handler, req, res).catch((error: unknown) => {
      console.error('[ablo/source] the Node adapter failed:', error);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'source_failed', message: 'The Data Source adapter failed; see the app log.' } });
      else res.destroy();
    });
  };
}
