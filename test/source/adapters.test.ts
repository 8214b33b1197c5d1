/**
 * One `dataSource()` handler served over real HTTP (port 0) by Node's
 * `http`, Hono and Express, each taking a request signed as the engine signs
 * it; and Express with `express.json()` (which loses the raw body) refused
 * with a message saying how to mount the route.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { toNodeHandler } from '../../src/source/index.js';
import { commitBody, createTaskApp, signedHeaders, type TaskApp } from '../helpers/source.js';

const servers: Server[] = [];
let app: TaskApp;

beforeEach(() => {
  app = createTaskApp();
  vi.spyOn(console, 'error').mockImplementation(() => {});
});
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

function listen(server: Server): Promise<string> {
  servers.push(server);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

/** How each framework mounts the handler at POST /ablo. */
const mounts: Record<string, (handler: TaskApp['handler']) => Promise<string>> = {
  'node http': (handler) => listen(createServer(toNodeHandler(handler))),
  hono: (handler) => {
    const hono = new Hono();
    hono.post('/ablo', (c) => handler(c.req.raw));
    return new Promise((resolve) => {
      const server = serve({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(`http://127.0.0.1:${info.port}`)) as Server;
      servers.push(server);
    });
  },
  'express (express.raw)': (handler) => {
    const ex = express();
    ex.post('/ablo', express.raw({ type: 'application/json', limit: '8mb' }), toNodeHandler(handler));
    return listen(createServer(ex));
  },
};

async function post(url: string, body: unknown, secret: string): Promise<{ status: number; json: any }> {
  const text = JSON.stringify(body);
  const response = await fetch(url, { method: 'POST', headers: signedHeaders(text, secret), body: text });
  return { status: response.status, json: await response.json() };
}

describe.each(Object.keys(mounts))('%s', (name) => {
  test('answers a signed commit, then a load of what it wrote', async () => {
    const base = await mounts[name]!(app.handler);
    const commit = await post(`${base}/ablo`, commitBody('tx-1', [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'Über ✓' } }]), app.secret);
    expect(commit).toEqual({ status: 200, json: { rows: [{ id: 't1', model: 'tasks', title: 'Über ✓', done: false, note: null }] } });
    const load = await post(`${base}/ablo`, { type: 'load', source: 'app', model: 'tasks', ids: ['t1'] }, app.secret);
    expect(load).toEqual({ status: 200, json: { rows: [{ id: 't1', title: 'Über ✓', done: false, note: null }] } });
  });

  test('refuses a body changed after signing (401), so the raw bytes reached the check', async () => {
    const base = await mounts[name]!(app.handler);
    const text = JSON.stringify({ type: 'load', source: 'app', model: 'tasks', ids: ['t1'] });
    // Same JSON value, different bytes: a framework that re-serialized the body would let this through.
    const spaced = text.replace(',', ', ');
    const response = await fetch(`${base}/ablo`, { method: 'POST', headers: signedHeaders(text, app.secret), body: spaced });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_signature', reason: 'bad_signature' } });
  });
});

test('node http: a body over 8 MiB is 413', async () => {
  const base = await mounts['node http']!(app.handler);
  const text = JSON.stringify({ type: 'events', source: 'app', cursor: 'x'.repeat(8 * 1024 * 1024 + 1), limit: 1 });
  const response = await fetch(base, { method: 'POST', headers: signedHeaders(text, app.secret), body: text });
  expect(response.status).toBe(413);
  expect(await response.json()).toMatchObject({ error: { code: 'payload_too_large' } });
});

test('express.json() on the route: a clear 500 telling to mount express.raw', async () => {
  const ex = express();
  ex.post('/ablo', express.json(), toNodeHandler(app.handler));
  const base = await listen(createServer(ex));
  const { status, json } = await post(`${base}/ablo`, { type: 'load', source: 'app', model: 'tasks', ids: ['t1'] }, app.secret);
  expect(status).toBe(500);
  expect(json.error.code).toBe('source_failed');
  expect(json.error.message).toContain("express.raw({ type: 'application/json'");
  expect(app.calls.authorize).toBe(0);
});
