/**
 * `/mcp` for an engine: `createEngine({ routes: [mcpRoutes()] })` (what
 * `ablo dev` and `ablo/testing` do). Light on purpose: the MCP SDK and the
 * session host are imported on the first request to `/mcp`, so an engine
 * nobody talks MCP to never loads them.
 *
 * This module uses only the engine's public entry (types), so the engine
 * never depends on MCP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AbloNotFoundError, AbloValidationError } from '../src/errors.js';
import type { RouteMounter } from '../src/engine/index.js';
import type { McpHttpHost, McpHttpHostOptions } from './http.js';
import { engineSchemaWatch } from './schemaWatch.js';

/** The `/mcp` settings: `maxSessionsPerKey` (default 32), `maxSessions` in total (default 256), `idleMs` (default 10 minutes). */
export type McpRouteLimits = Pick<McpHttpHostOptions, 'maxSessionsPerKey' | 'maxSessions' | 'idleMs'>;

/** The session caps in effect (defaults 32 per key, 256 in total); a validation error for a bad value. */
export function sessionLimits(options: McpRouteLimits): { perKey: number; total: number } {
  const cap = (value: number | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || Number.isNaN(value) || value < 1) {
      throw new AbloValidationError(`mcp.${name} must be a number ≥ 1 (Infinity for no cap), got ${String(value)}.`, { code: 'invalid_option', field: `mcp.${name}` });
    }
    return Math.floor(value);
  };
  return { perKey: cap(options.maxSessionsPerKey, 32, 'maxSessionsPerKey'), total: cap(options.maxSessions, 256, 'maxSessions') };
}

export interface McpRoute {
  /** Handles `/mcp` (and `/mcp/`), returns false for anything else (for a server of your own). */
  route: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /** Answer one request to `/mcp`. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /**
   * Close every MCP session opened with this key (by key id, or sha256 hex of
   * the key), releasing their claims; resolves with how many were closed.
   */
  revokeKey(key: string): Promise<number>;
  /** Close every MCP session and transport. */
  close(): Promise<void>;
}

export function createMcpRoute(options: McpHttpHostOptions): McpRoute {
  sessionLimits(options); // a bad cap fails here, not on the first /mcp request
  let host: Promise<McpHttpHost> | null = null;
  let closed = false;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    host ??= import('./http.js').then((m) => m.createMcpHttpHost(options));
    await (await host).handle(req, res);
  };
  return {
    async route(req, res, url) {
      if (url.pathname.replace(/\/+$/, '') !== '/mcp' || closed) return false;
      await handle(req, res);
      return true;
    },
    handle,
    async revokeKey(key) {
      // No session was ever opened when the host is not loaded yet.
      return host ? (await host).revokeKey(key) : 0;
    },
    async close() {
      closed = true;
      if (host) await (await host).close();
    },
  };
}

/**
 * `/mcp` (every method; the host answers the ones it does not take) as an
 * engine route: each session calls the engine's own HTTP API with the
 * caller's key; a revoked key's sessions end; a schema change updates every
 * session's tools; closing the engine ends them all.
 */
export function mcpRoutes(limits: McpRouteLimits & Pick<McpHttpHostOptions, 'server' | 'maxBodyBytes'> = {}): RouteMounter {
  sessionLimits(limits); // a bad cap fails when the engine is configured
  return (engine) => {
    // Sessions follow the engine's own schema changes (pushes here or through another process on its database).
    const server = { ...limits.server, schemaWatch: engineSchemaWatch((listener) => engine.onSchemaChange(listener)) };
    const mcp = createMcpRoute({ ...limits, server, engineUrl: engine.url, authenticate: engine.authenticate, log: engine.log });
    // Their claims went with the engine's own revocation; the sessions end here.
    engine.onRevoked((e) => {
      mcp.revokeKey(e.credentialId).catch((err: unknown) => engine.log(`closing the /mcp sessions of a revoked key failed: ${(err as Error)?.message ?? String(err)}`));
    });
    let closed = false;
    return {
      routes: [
        {
          method: '*',
          path: '/mcp',
          auth: 'none',
          async handler(r) {
            // After close, `/mcp` is gone like any unknown path.
            if (closed) throw new AbloNotFoundError(`No route ${r.method} /mcp.`, { code: 'route_not_found' });
            await mcp.handle(r.req, r.res);
          },
        },
      ],
      async close() {
        closed = true;
        await mcp.close();
      },
    };
  };
}
