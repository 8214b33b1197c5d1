#!/usr/bin/env node
/**
 * The app's backend: a Node `http` server whose `POST /ablo` is the Data
 * Source endpoint (source.mjs) over the app's Postgres.
 *
 *   node examples/data-source/backend.mjs
 *
 * Settings (config.mjs): DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/ablo_example_tasks), PORT (4200),
 * ABLO_SOURCE_APP_SECRET (default: the one kept in .data/source-secret).
 *
 * Creates the database and its tables when missing. Imported, it gives
 * `startBackend()` (the tests and demo.mjs start it on port 0).
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { toNodeHandler } from 'ablo/source';
import { DEFAULT_DATABASE_URL, openTaskDatabase } from './db.mjs';
import { createTaskSource } from './source.mjs';

/**
 * Start the backend. `port` 0 picks a free one. Answers `{ url, pool, close() }`:
 * `url` is the Data Source endpoint to give the engine.
 */
export async function startBackend({ databaseUrl = DEFAULT_DATABASE_URL, signingSecret, port = 0, host = '127.0.0.1', poolSize = 10 }) {
  if (!signingSecret) throw new Error('signingSecret is required (whsec_…, the same the engine has for this source)');
  const pool = await openTaskDatabase({ databaseUrl, poolSize });
  const ablo = toNodeHandler(createTaskSource({ pool, signingSecret }));
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/ablo') return ablo(req, res);
    if (req.method === 'GET' && req.url === '/health') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    url: `http://${host}:${address.port}/ablo`,
    pool,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { BACKEND_PORT, DATABASE_URL, signingSecret } = await import('./config.mjs');
  const backend = await startBackend({ databaseUrl: DATABASE_URL, signingSecret: signingSecret(), port: BACKEND_PORT });
  process.stdout.write(`backend: Data Source endpoint ${backend.url} (database ${DATABASE_URL})\n`);
  const stop = () => void backend.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
