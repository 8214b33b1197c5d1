#!/usr/bin/env node
/**
 * The Ablo engine for the example: `tasks` is bound to the source "app" (the
 * backend's `/ablo` endpoint), so the app's Postgres stays canonical and the
 * engine keeps a SQLite cache of it (`.data/engine.db`).
 *
 *   node examples/data-source/engine.mjs        (after backend.mjs is up)
 *
 * The first start makes an API key and keeps it in `.data/api-key` for the
 * agent. What `ablo dev` does with `sources` in ablo.config.json, in a script.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createEngine } from 'ablo/engine';
import { apiKey, ENGINE_FILE, ENGINE_PORT, keepApiKey, signingSecret, SOURCE_URL } from './config.mjs';
import { schema } from './schema.mjs';

mkdirSync(dirname(ENGINE_FILE), { recursive: true });
const known = apiKey();
const viaConnector = process.env.ABLO_SOURCE_MODE === 'connector';
const engine = await createEngine({
  file: ENGINE_FILE,
  port: ENGINE_PORT,
  schema,
  ...(known ? { devKey: known } : {}),
  sources: {
    // Without `url`, the source dials in instead (connector.mjs).
    app: { ...(viaConnector ? {} : { url: SOURCE_URL }), models: ['tasks'], signingSecret: signingSecret(), pollIntervalMs: 1000 },
  },
});
if (engine.devKey) keepApiKey(engine.devKey);
const where = viaConnector ? 'over the reverse channel (start connector.mjs)' : `at ${SOURCE_URL}`;
process.stdout.write(`engine: ${engine.url}  (tasks → source "app" ${where}; API key in .data/api-key)\n`);
await engine.sources.ready();
process.stdout.write(`engine: source "app" ready: ${JSON.stringify(engine.sources.health().app)}\n`);

const stop = () => void engine.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
