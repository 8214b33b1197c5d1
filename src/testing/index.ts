/**
 * `ablo/testing`: a real engine for your own test suites, on a temp SQLite
 * file and a free port, serving `/mcp` like `ablo dev`.
 *
 *   const engine = await startTestEngine({ schema });
 *   const ablo = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url });
 *   ...
 *   await ablo.dispose();
 *   await engine.stop();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mcpRoutes, type McpRouteLimits } from '../../mcp/route.js';
import { createEngine, type Engine } from '../engine/engine.js';
import type { RetentionOptions } from '../engine/retention.js';
import type { PresenceOptions } from '../engine/presence/options.js';
import { generateApiKey } from '../engine/apiKeys.js';
import type { SerializedSchema } from '../schema/descriptor.js';
import type { SchemaLike } from '../schema/types.js';

export interface TestEngineOptions {
  schema: SchemaLike | SerializedSchema;
  /** Use this key instead of a generated one. */
  apiKey?: string;
  /** Keep the database directory after stop() (for debugging). */
  keepFiles?: boolean;
  /** Listen on this port instead of a free one (e.g. to start an engine where a client already waits). */
  port?: number;
  /** `/mcp` session caps (the engine serves `/mcp`, as `ablo dev` does). */
  mcp?: McpRouteLimits;
  /** Retention windows (e.g. a short `changeLogMs` and `engine.prune()` to test a client that comes back past the floor). */
  retention?: RetentionOptions;
  /** Presence settings (e.g. a short `ttlMs` to see a dropped member leave within a test). */
  presence?: PresenceOptions;
}

export interface TestEngine {
  /** `http://127.0.0.1:<port>` */
  url: string;
  apiKey: string;
  /** The SQLite file. */
  file: string;
  engine: Engine;
  /** Close the engine and delete its files. */
  stop(): Promise<void>;
}

export async function startTestEngine(options: TestEngineOptions): Promise<TestEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-test-'));
  const file = join(dir, 'test.db');
  const apiKey = options.apiKey ?? generateApiKey('test');
  let engine: Engine;
  try {
    engine = await createEngine({
      file,
      port: options.port ?? 0,
      schema: options.schema,
      devKey: apiKey,
      routes: [mcpRoutes(options.mcp)],
      ...(options.retention ? { retention: options.retention } : {}),
      ...(options.presence ? { presence: options.presence } : {}),
      log: () => {},
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    url: engine.url,
    apiKey,
    file,
    engine,
    async stop() {
      if (stopped) return;
      stopped = true;
      await engine.close();
      if (!options.keepFiles) rmSync(dir, { recursive: true, force: true });
    },
  };
}
