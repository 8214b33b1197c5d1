/**
 * A real engine on an ephemeral port over a real SQLite file in a temp dir,
 * plus small HTTP and WebSocket clients for tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { mcpRoutes } from '../../mcp/route.js';
import { ClaimManager } from '../../src/engine/claims.js';
import { createEngine, type Engine, type EngineOptions } from '../../src/engine/index.js';
import type { SchemaLike } from '../../src/schema/types.js';

export interface TestEngine {
  engine: Engine;
  url: string;
  key: string;
  dir: string;
  file: string;
  http(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  socket(options?: { key?: string | null; headers?: Record<string, string> }): Promise<TestSocket>;
  stop(): Promise<void>;
}

export interface HttpResult {
  status: number;
  body: any;
  headers: Headers;
}

/**
 * Engines and clients a test file starts, put in these lists and ended after each test (clients first):
 * `const { engines, clients } = trackedEngines();` at the top of the file.
 */
export function trackedEngines(): { engines: TestEngine[]; clients: Array<{ dispose(): Promise<void> }> } {
  const engines: TestEngine[] = [];
  const clients: Array<{ dispose(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await Promise.all(engines.splice(0).map((t) => t.stop()));
  });
  return { engines, clients };
}

/** Options of the engine, plus `mcp`: caps (and server options) of the `/mcp` route every test engine mounts (as `ablo dev` does). */
export async function startTestEngine(schema: SchemaLike, options: Partial<EngineOptions> & { mcp?: Parameters<typeof mcpRoutes>[0] } = {}): Promise<TestEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-engine-'));
  const file = join(dir, 'dev.db');
  const { mcp, ...engineOptions } = options;
  let engine: Awaited<ReturnType<typeof createEngine>>;
  try {
    engine = await createEngine({ file, port: 0, schema, log: () => {}, ...engineOptions, routes: [mcpRoutes(mcp), ...(engineOptions.routes ?? [])] });
  } catch (err) {
    // Tests that expect a refusal (bad options) leave no temp dir behind.
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const key = engine.devKey!;
  const sockets: TestSocket[] = [];
  return {
    engine,
    url: engine.url,
    key,
    dir,
    file,
    async http(method, path, body, headers = {}) {
      const res = await fetch(engine.url + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // Not JSON: keep the text.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async socket(opts = {}) {
      const s = await TestSocket.open(engine.url.replace('http', 'ws') + '/v1/sync', opts.headers);
      sockets.push(s);
      return s;
    },
    async stop() {
      for (const s of sockets) s.close();
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A WebSocket client that queues frames and lets a test await the next one of a type. */
export class TestSocket {
  readonly frames: any[] = [];
  private waiters: Array<{ match: (f: any) => boolean; resolve: (f: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  closed: { code: number; reason: string } | null = null;
  private closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      const i = this.waiters.findIndex((w) => w.match(frame));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w!.timer);
        w!.resolve(frame);
      } else this.frames.push(frame);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w(this.closed);
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`socket closed (${code} ${reason.toString()}) while waiting`));
      }
      this.waiters = [];
    });
  }

  static open(url: string, headers?: Record<string, string>): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: headers ?? {} });
      const s = new TestSocket(ws);
      ws.once('open', () => resolve(s));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame matching `type` (or predicate), from the queue or as it arrives. */
  next(match: string | ((f: any) => boolean), timeoutMs = 10_000): Promise<any> {
    const fn = typeof match === 'string' ? (f: any) => f.type === match : match;
    const i = this.frames.findIndex(fn);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    if (this.closed) return Promise.reject(new Error(`socket closed (${this.closed.code}) before a matching frame`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out waiting for frame ${typeof match === 'string' ? match : 'matching predicate'}`));
      }, timeoutMs);
      this.waiters.push({ match: fn, resolve, reject, timer });
    });
  }

  /** Send hello and wait until the bootstrap/catch-up is done; returns the frames in between. */
  async hello(frame: Record<string, unknown>): Promise<{ welcome: any; frames: any[]; done: any }> {
    this.send({ type: 'hello', ...frame });
    const welcome = await this.next((f) => f.type === 'welcome' || f.type === 'error');
    if (welcome.type === 'error') throw Object.assign(new Error(welcome.error.message), { frame: welcome });
    const done = await this.next('bootstrap_done');
    const frames = this.frames.splice(0, this.frames.length);
    return { welcome, frames, done };
  }

  waitClose(): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  close(): void {
    if (!this.closed) this.ws.close();
  }
}

/** The engine's claim store as the memory store (an engine on SQLite), whose answers are synchronous. */
export function memoryClaims(engine: Engine): ClaimManager {
  if (!(engine.claims instanceof ClaimManager)) throw new Error('this engine keeps its claims in Postgres, not in memory');
  return engine.claims;
}
