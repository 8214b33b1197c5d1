/**
 * MCP test helpers: a real engine (ablo/testing), and real MCP clients from
 * the SDK — over stdio against the built `bin/ablo.js mcp`, over Streamable
 * HTTP against the engine's `/mcp`, or in-process.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer, type AbloMcpServer, type CreateMcpServerOptions } from '../../mcp/index.js';
import { ablobin } from '../helpers/tempProject.js';
import { assertDistFresh } from '../setup/dist-stamp.mjs';

export { startTestEngine } from '../../src/testing/index.js';
export type { TestEngine } from '../../src/testing/index.js';

export interface McpSession {
  client: Client;
  /** Everything the server wrote to stderr (stdio only). */
  stderr: () => string;
  /** Errors the client transport saw (e.g. a non-protocol line on stdout). */
  transportErrors: Error[];
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

function session(client: Client, close: () => Promise<void>, stderr: () => string, transportErrors: Error[]): McpSession {
  return {
    client,
    stderr,
    transportErrors,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    close,
  };
}

/** `node bin/ablo.js mcp --url … --api-key … ...extra` with an SDK client on its stdio. */
export async function stdioSession(url: string, apiKey: string, extra: string[] = []): Promise<McpSession> {
  assertDistFresh(); // it runs the built CLI
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [ablobin, 'mcp', '--url', url, '--api-key', apiKey, ...extra],
    stderr: 'pipe',
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const errors: Error[] = [];
  const client = new Client({ name: 'ablo-test', version: '1.0.0' });
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  return session(client, () => client.close(), () => err, errors);
}

/** A session against the engine's `/mcp` (Streamable HTTP). */
export async function httpSession(url: string, apiKey: string, headers: Record<string, string> = {}): Promise<McpSession & { transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
    requestInit: { headers: { authorization: `Bearer ${apiKey}`, ...headers } },
  });
  const errors: Error[] = [];
  const client = new Client({ name: 'ablo-test', version: '1.0.0' });
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  const s = session(
    client,
    async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
    () => '',
    errors,
  );
  return { ...s, transport };
}

/** The server in this process, connected to a client through an in-memory pair. */
export async function inProcessSession(options: CreateMcpServerOptions): Promise<McpSession & { mcp: AbloMcpServer }> {
  const mcp = await createMcpServer({ log: () => {}, ...options });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await mcp.server.connect(serverSide);
  const client = new Client({ name: 'ablo-test', version: '1.0.0' });
  await client.connect(clientSide);
  const s = session(
    client,
    async () => {
      await client.close();
      await mcp.close();
    },
    () => '',
    [],
  );
  return { ...s, mcp };
}

export function textOf(result: CallToolResult): string {
  return result.content
    .filter((c): c is { type: 'text'; text: string } => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

export function structured<T = any>(result: CallToolResult): T {
  return result.structuredContent as T;
}

/** Characters of what the result hands an agent: its text plus its structured content as JSON. */
export function resultChars(result: CallToolResult): number {
  return textOf(result).length + JSON.stringify(result.structuredContent ?? {}).length;
}

/** Create `count` rows with `make(i)` in commits of up to 1000 over the HTTP API. */
export async function seed(url: string, apiKey: string, model: string, count: number, make: (i: number) => { id?: string; data: Record<string, unknown> }): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const operations = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) operations.push({ op: 'create', model, ...make(i) });
    const res = await fetch(`${url}/v1/commits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operations }),
    });
    if (!res.ok) throw new Error(`seed failed: ${res.status} ${await res.text()}`);
  }
}

/** A plain HTTP call to the engine (as a person or another program would make it). */
export async function api(url: string, apiKey: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns true (or time out). */
export async function eventually(fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}
