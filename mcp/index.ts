/**
 * `ablo/mcp`: every model of an engine's schema as MCP tools for coding
 * agents, over stdio (`ablo mcp`) or Streamable HTTP (the engine's `/mcp`).
 *
 *   import { createMcpServer } from 'ablo/mcp';
 *   import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
 *
 *   const mcp = await createMcpServer({ engineUrl: 'http://127.0.0.1:4100', apiKey: process.env.ABLO_API_KEY! });
 *   await mcp.server.connect(new StdioServerTransport());
 *   // … mcp.close() releases the session's claims.
 */
export {
  createMcpServer,
  allToolNames,
  parseParticipant,
  DEFAULT_TOKEN_BUDGET,
  DEFAULT_PARTICIPANT,
  MIN_TOKEN_BUDGET,
  MODEL_TOOL_VERBS,
  GLOBAL_TOOLS,
} from './server.js';
export type { AbloMcpServer, CreateMcpServerOptions, ModelToolVerb } from './server.js';
export { serveStdio } from './stdio.js';
export type { StdioSession } from './stdio.js';
export { createMcpHttpHost } from './http.js';
export { createMcpRoute, mcpRoutes } from './route.js';
export type { McpRoute, McpRouteLimits } from './route.js';
export type { McpHttpHost, McpHttpHostOptions } from './http.js';
export type { HeldClaim, KeptPlace } from './claims.js';
export { DEFAULT_MCP_LIST_LIMIT } from './inputs.js';
export { engineSchemaWatch, pollingSchemaWatch } from './schemaWatch.js';
export type { SchemaWatch, SchemaChangeListener, PollingSchemaWatchOptions } from './schemaWatch.js';
export { toolErrorSchema, presenceOutputSchema, type ToolError, type ToolOutput } from './outputs.js';
