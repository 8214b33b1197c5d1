/**
 * Mounts `/mcp` on the engine's HTTP server. Light on purpose: the MCP SDK
 * and the session host are imported on the first request to `/mcp`, so an
 * engine nobody talks MCP to never loads them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpHttpHost, McpHttpHostOptions } from './http.js';

export interface McpRoute {
  /** An engine open route: handles `/mcp` (and `/mcp/`), returns false for anything else. */
  route: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /** Close every MCP session and transport. */
  close(): Promise<void>;
}

export function createMcpRoute(options: McpHttpHostOptions): McpRoute {
  let host: Promise<McpHttpHost> | null = null;
  let closed = false;
  return {
    async route(req, res, url) {
      if (url.pathname.replace(/\/+$/, '') !== '/mcp' || closed) return false;
      host ??= import('./http.js').then((m) => m.createMcpHttpHost(options));
      await (await host).handle(req, res);
      return true;
    },
    async close() {
      closed = true;
      if (host) await (await host).close();
    },
  };
}
