/**
 * Mounts `/mcp` on the engine's HTTP server. Light on purpose: the MCP SDK
 * and the session host are imported on the first request to `/mcp`, so an
 * engine nobody talks MCP to never loads them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AbloValidationError } from '../src/errors.js';
import type { McpHttpHost, McpHttpHostOptions } from './http.js';

/** The `/mcp` settings an engine takes (`createEngine({ mcp })`). */
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
  /** An engine open route: handles `/mcp` (and `/mcp/`), returns false for anything else. */
  route: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /**
   * Close every MCP session opened with this key (by key id, or sha256 hex of
   * the key), releasing their claims; resolves with how many were closed.
   */
  revokeKey(key: string): Promise<number>;
  /** Close every MCP session and transport. */
  close(): Promise<void>;
}

export function createMcpRoute(options: McpHttpHostOptions): McpRoute {
  sessionLimits(options); // a bad cap fails at engine start, not on the first /mcp request
  let host: Promise<McpHttpHost> | null = null;
  let closed = false;
  return {
    async route(req, res, url) {
      if (url.pathname.replace(/\/+$/, '') !== '/mcp' || closed) return false;
      host ??= import('./http.js').then((m) => m.createMcpHttpHost(options));
      await (await host).handle(req, res);
      return true;
    },
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
