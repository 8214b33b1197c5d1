/**
 * Browsers: CORS and the WebSocket `Origin` check allow only the configured
 * origins (EngineOptions.cors). A real engine on port 0, real HTTP requests
 * and real WebSocket upgrades, each with or without an `Origin` header.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createEngine } from '../../src/engine/index.js';
import { LOCAL_DEV_ORIGINS, originPatternProblem, originPolicy } from '../../src/http/origins.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({ notes: model({ body: z.string() }) });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engine(origins?: string[]): Promise<TestEngine> {
  const t = await startTestEngine(schema, origins ? { cors: { origins } } : {});
  cleanups.push(() => t.stop());
  return t;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly these headers (fetch would treat Origin as its own). */
function send(url: string, method: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const PREFLIGHT = { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' };

/** Open a socket to /v1/sync: 'open', or the HTTP status the upgrade was refused with. */
function upgrade(t: TestEngine, origin?: string): Promise<{ opened: true } | { opened: false; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/sync`, origin ? { origin } : {});
    ws.on('open', () => {
      ws.close();
      resolve({ opened: true });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ opened: false, status: res.statusCode!, body }));
    });
    ws.on('error', (err) => reject(err));
  });
}

describe('HTTP CORS', () => {
  test('an allowed origin gets its own origin echoed and vary: origin, on requests and preflights', async () => {
    const t = await engine(['https://app.example.com', 'http://localhost:*']);
    const get = await send(`${t.url}/v1/health`, 'GET', { origin: 'https://app.example.com' });
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(get.headers.vary).toMatch(/origin/i);

    const pre = await send(`${t.url}/v1/commits`, 'OPTIONS', { origin: 'http://localhost:5173', ...PREFLIGHT });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(pre.headers['access-control-allow-headers']).toContain('authorization');
    expect(pre.headers.vary).toMatch(/origin/i);
  });

  test('an origin not allowed gets no CORS headers, and its preflight a typed 403', async () => {
    const t = await engine(['https://app.example.com']);
    const get = await send(`${t.url}/v1/health`, 'GET', { origin: 'https://evil.example' });
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();

    const pre = await send(`${t.url}/v1/commits`, 'OPTIONS', { origin: 'https://evil.example', ...PREFLIGHT });
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.headers['access-control-allow-methods']).toBeUndefined();
    expect(JSON.parse(pre.body)).toMatchObject({ error: { type: 'permission_error', code: 'origin_not_allowed' } });

    // Same host, other scheme or port: not the same origin.
    for (const other of ['http://app.example.com', 'https://app.example.com:8443']) {
      expect((await send(`${t.url}/v1/commits`, 'OPTIONS', { origin: other, ...PREFLIGHT })).status).toBe(403);
    }
  });

  test('by default no origin is allowed; requests without Origin are answered as before', async () => {
    const t = await engine();
    const pre = await send(`${t.url}/v1/commits`, 'OPTIONS', { origin: 'http://localhost:5173', ...PREFLIGHT });
    expect(pre.status).toBe(403);
    const plain = await send(`${t.url}/v1/health`, 'GET', {});
    expect(plain.status).toBe(200);
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
  });

  test("'*' given explicitly allows every origin with access-control-allow-origin: *", async () => {
    const t = await engine(['*']);
    const pre = await send(`${t.url}/v1/commits`, 'OPTIONS', { origin: 'https://anywhere.example', ...PREFLIGHT });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('WebSocket Origin check', () => {
  test('an upgrade from an origin not allowed is refused with 403 before the socket opens, and counted', async () => {
    const t = await engine(['https://app.example.com']);
    const refused = await upgrade(t, 'https://evil.example');
    expect(refused).toMatchObject({ opened: false, status: 403 });
    expect(JSON.parse((refused as { body: string }).body)).toMatchObject({ error: { code: 'origin_not_allowed' } });
    expect(t.engine.connections()).toBe(0);
    expect(t.engine.stats().originsRefused).toBe(1);
  });

  test('an allowed origin and no Origin at all (servers, Node clients) are accepted', async () => {
    const t = await engine(['https://app.example.com']);
    expect(await upgrade(t, 'https://app.example.com')).toEqual({ opened: true });
    expect(await upgrade(t)).toEqual({ opened: true });
    expect(t.engine.stats().originsRefused).toBe(0);
  });
});

describe('origin patterns', () => {
  test('exact origins, port wildcards and * are accepted; anything else says why', () => {
    for (const ok of ['https://app.example.com', 'http://localhost:5173', 'http://localhost:*', 'http://[::1]:*', '*']) expect(originPatternProblem(ok), ok).toBeUndefined();
    expect(originPatternProblem('app.example.com')).toMatch(/not an origin/);
    expect(originPatternProblem('https://app.example.com/path')).toMatch(/no path/);
    expect(originPatternProblem('https://app.example.com/')).toMatch(/no path/);
    expect(originPatternProblem('ftp://example.com')).toMatch(/http or https/);
    expect(originPatternProblem('https://*.example.com')).toMatch(/only the port/);
    expect(originPatternProblem('http://localhost:5173:*')).toBeDefined();
    expect(originPatternProblem(42)).toMatch(/string/);
  });

  test('a port wildcard matches that scheme and host on any port only', () => {
    const p = originPolicy(['http://localhost:*']);
    expect(p.allows('http://localhost:5173')).toBe(true);
    expect(p.allows('http://localhost')).toBe(true);
    expect(p.allows('https://localhost:5173')).toBe(false);
    expect(p.allows('http://localhost.evil.example:5173')).toBe(false);
    expect(p.allows('null')).toBe(false);
    expect(p.allows(undefined)).toBe(true);
  });

  test('the local development list covers localhost, 127.0.0.1 and [::1] on any port, nothing else', () => {
    const p = originPolicy(LOCAL_DEV_ORIGINS);
    for (const o of ['http://localhost:5173', 'http://127.0.0.1:3000', 'http://[::1]:8080']) expect(p.allows(o), o).toBe(true);
    expect(p.allows('https://evil.example')).toBe(false);
  });

  test('createEngine refuses a bad origin with invalid_option', async () => {
    await expect(createEngine({ port: 0, file: ':memory:', cors: { origins: ['https://*.example.com'] }, log: () => {} })).rejects.toMatchObject({
      code: 'invalid_option',
    });
  });
});
