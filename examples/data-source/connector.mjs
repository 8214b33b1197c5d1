#!/usr/bin/env node
/**
 * The same backend for a database inside a private network: instead of
 * serving `POST /ablo`, it dials out to the engine over one WebSocket
 * (`createSourceConnector`) and answers the engine's signed requests on it.
 * The engine is then configured with no `url` for the source.
 *
 *   ABLO_SOURCE_MODE=connector node examples/data-source/engine.mjs
 *   node examples/data-source/connector.mjs
 *
 * Imported, it gives `startConnector()` (the reverse-channel test).
 */
import { pathToFileURL } from 'node:url';
import { createSourceConnector } from 'ablo/source';
import { DEFAULT_DATABASE_URL, openTaskDatabase } from './db.mjs';
import { createTaskSource } from './source.mjs';

/** Open the database and dial the engine; answers `{ connector, pool, close() }` once the engine accepted it. */
export async function startConnector({ databaseUrl = DEFAULT_DATABASE_URL, signingSecret, apiKey, engineUrl, source = 'app', poolSize = 10 }) {
  const pool = await openTaskDatabase({ databaseUrl, poolSize });
  const connector = createSourceConnector({ apiKey, baseURL: engineUrl, source, handler: createTaskSource({ pool, signingSecret }) });
  try {
    await connector.ready;
  } catch (err) {
    await pool.end();
    throw err;
  }
  return {
    connector,
    pool,
    async close() {
      await connector.close();
      await pool.end();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { DATABASE_URL, ENGINE_URL, signingSecret, waitForEngine } = await import('./config.mjs');
  const key = await waitForEngine();
  const running = await startConnector({ databaseUrl: DATABASE_URL, signingSecret: signingSecret(), apiKey: key, engineUrl: ENGINE_URL });
  process.stdout.write(`connector: serving source "app" (database ${DATABASE_URL}) to the engine at ${ENGINE_URL}\n`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
