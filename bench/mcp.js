/**
 * MCP (issue 7, "Measure"): tool-call round trips through `ablo mcp` over
 * stdio against the same operations over the engine's HTTP API, in the same
 * run.
 *
 *   npm run bench -- mcp [--runs 500] [--warmup 50] [--rows 200] [--no-http-mcp]
 *
 * Setup: an engine (the built package) in a child process on a fresh SQLite
 * file in a temp dir, `rows` tasks rows, and `node bin/ablo.js mcp` spawned
 * with the MCP SDK's own stdio client. Cases, interleaved call by call so
 * machine noise hits both sides alike:
 *
 *  - `get`: `tasks_get { id }` vs `GET /v1/models/tasks/:id`
 *  - `update`: `tasks_update { id, data: { n } }` vs `PATCH /v1/models/tasks/:id`
 *    (a different row each call, cycling, so no two calls contend)
 *
 * One JSON line per case and transport:
 *   {"bench":"mcp","case":"get","transport":"stdio","runs":500,"p50_ms":..,"p99_ms":..,"mean_ms":..,
 *    "http_p50_ms":..,"http_p99_ms":..,"ratio_p50":..,"ratio_p99":..,"overhead_p50_ms":..}
 * `ratio` = MCP latency / HTTP API latency; `overhead` = the difference.
 * Also `transport: "http"`: the engine's own `/mcp` endpoint (Streamable HTTP),
 * and a `startup` line: spawn of `ablo mcp` → initialized → tools listed.
 *
 * Structured output (issue 17): what `structuredContent` and its `outputSchema`
 * cost a call. Two servers (`createMcpServer` of the build) in this process,
 * each behind a JSON-lines stream pair — the stdio transport's framing, so
 * every message is serialized and parsed as over a pipe — with an SDK client:
 *
 *  - with: the server as shipped; the client lists the tools, so `callTool`
 *    checks each result against its `outputSchema` (ajv), as real clients do.
 *  - without: the same server with `structuredContent` removed from every
 *    result before it is sent (the tools/call handler wrapped), and a client
 *    that never lists tools (nothing to check). The engine work, the text
 *    rendering and the budget fill are the same on both sides.
 *
 * Calls interleaved, with then without: `get`, `update` and `list100` (one
 * 100-row page). One line per case:
 *   {"bench":"mcp","case":"structured_get","runs":..,"with_p50_ms":..,"without_p50_ms":..,"ratio_p50":..,
 *    "with_bytes":..,"without_bytes":..}
 * `ratio_p50` = with / without; `*_bytes` = the JSON-RPC result line of the
 * last call. Then the tokens a 100-row page hands an agent (≈ characters / 4,
 * the estimate the token budget uses):
 *   {"bench":"mcp","case":"page_tokens","rows":100,"text_tokens":..,"structured_tokens":..,"result_tokens":..}
 * `text_tokens`: the text content (what most clients show the model);
 * `structured_tokens`: `structuredContent` as JSON; `result_tokens`: the whole
 * result as JSON (text, structured content, wrapper). And what the declared
 * schemas add to tools/list (the `tasks` model's 7 tools plus 2):
 *   {"bench":"mcp","case":"tools_list","tools":9,"tokens":..,"output_schema_tokens":..}
 *
 * Needs the build (`npx tsup`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { waitForDist } from './lib/dist.js';
import { Child } from './lib/proc.js';
import { round, summarize } from './lib/stats.js';

export const description = 'mcp: tool-call round trip (get, update) over stdio vs the same calls over the HTTP API; cost of structured output; tokens per 100-row page';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const HOST = join(here, 'lib/engine-host.js');
const BIN = join(root, 'bin/ablo.js');

function option(args, name, fallback) {
  const i = args.indexOf(name);
  const v = i === -1 ? undefined : Number(args[i + 1]);
  return v !== undefined && Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'mcp', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench mcp] ${text}\n`);
}

async function http(url, key, method, path, body) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function tool(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name} failed: ${r.content?.[0]?.text}`);
  return r;
}

function line(caseName, transport, mcpMs, httpMs) {
  const m = summarize(mcpMs);
  const h = summarize(httpMs);
  emit({
    case: caseName,
    transport,
    runs: m.count,
    p50_ms: round(m.p50, 3),
    p99_ms: round(m.p99, 3),
    mean_ms: round(m.mean, 3),
    http_p50_ms: round(h.p50, 3),
    http_p99_ms: round(h.p99, 3),
    http_mean_ms: round(h.mean, 3),
    ratio_p50: round(m.p50 / h.p50, 2),
    ratio_p99: round(m.p99 / h.p99, 2),
    overhead_p50_ms: round(m.p50 - h.p50, 3),
  });
}

/** Interleaved get/update rounds: MCP call, then the same call over HTTP. */
async function measure(client, url, key, ids, runs, warmup, counter) {
  const out = { get: [], getHttp: [], update: [], updateHttp: [] };
  for (let i = 0; i < warmup + runs; i++) {
    const keep = i >= warmup;
    const id = ids[i % ids.length];
    const other = ids[(i + Math.floor(ids.length / 2)) % ids.length];
    const n = counter.next++;
    const a = await timed(() => tool(client, 'tasks_get', { id }));
    const b = await timed(() => http(url, key, 'GET', `/v1/models/tasks/${id}`));
    const c = await timed(() => tool(client, 'tasks_update', { id, data: { n } }));
    const d = await timed(() => http(url, key, 'PATCH', `/v1/models/tasks/${other}`, { data: { n } }));
    if (keep) {
      out.get.push(a);
      out.getHttp.push(b);
      out.update.push(c);
      out.updateHttp.push(d);
    }
  }
  return out;
}

/** The client end of a JSON-lines stream pair (the stdio transport's framing, without a child process). */
class StreamClientTransport {
  constructor(readable, writable) {
    this.readable = readable;
    this.writable = writable;
    this.buffer = new ReadBuffer();
  }
  async start() {
    this.readable.on('data', (chunk) => {
      this.buffer.append(chunk);
      for (let m = this.buffer.readMessage(); m; m = this.buffer.readMessage()) this.onmessage?.(m);
    });
  }
  async send(message) {
    this.writable.write(serializeMessage(message));
  }
  async close() {
    this.readable.removeAllListeners('data');
    this.onclose?.();
  }
}

/** A server of the build in this process behind a stream pair, and an SDK client on the other end; the result line sizes are recorded. */
async function streamSession(createMcpServer, url, key, { structured }) {
  const mcp = await createMcpServer({ engineUrl: url, apiKey: key, models: ['tasks'], log: () => {} });
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const sizes = { last: 0 };
  toClient.on('data', (chunk) => (sizes.last = chunk.length));
  await mcp.server.connect(new StdioServerTransport(toServer, toClient));
  if (!structured) {
    // The same handler, its results sent without structuredContent.
    const handlers = mcp.server.server._requestHandlers;
    const call = handlers.get('tools/call');
    handlers.set('tools/call', async (request, extra) => {
      const result = await call(request, extra);
      delete result.structuredContent;
      return result;
    });
  }
  const client = new Client({ name: 'ablo-bench', version: '1.0.0' });
  await client.connect(new StreamClientTransport(toClient, toServer));
  if (structured) await client.listTools(); // the client now checks every result against its outputSchema
  return {
    client,
    sizes,
    close: async () => {
      await client.close().catch(() => {});
      await mcp.close();
    },
  };
}

/** With vs without structured output, interleaved call by call; then the tokens of a 100-row page. */
async function measureStructured(url, key, ids, runs, warmup, counter) {
  const { createMcpServer } = await import(pathToFileURL(join(root, 'dist/mcp/index.js')).href);
  const withS = await streamSession(createMcpServer, url, key, { structured: true });
  const withoutS = await streamSession(createMcpServer, url, key, { structured: false });
  try {
    const cases = {
      get: (i) => ['tasks_get', { id: ids[i % ids.length] }],
      update: (i) => ['tasks_update', { id: ids[i % ids.length], data: { n: counter.next++ } }],
      list100: () => ['tasks_list', { limit: 100 }],
    };
    for (const [name, make] of Object.entries(cases)) {
      const a = [];
      const b = [];
      for (let i = 0; i < warmup + runs; i++) {
        const [tName, tArgs] = make(i);
        const x = await timed(() => tool(withS.client, tName, tArgs));
        const [uName, uArgs] = make(i);
        const y = await timed(() => tool(withoutS.client, uName, uArgs));
        if (i >= warmup) {
          a.push(x);
          b.push(y);
        }
      }
      const w = summarize(a);
      const wo = summarize(b);
      emit({
        case: `structured_${name}`,
        runs: w.count,
        with_p50_ms: round(w.p50, 3),
        without_p50_ms: round(wo.p50, 3),
        ratio_p50: round(w.p50 / wo.p50, 2),
        with_p99_ms: round(w.p99, 3),
        without_p99_ms: round(wo.p99, 3),
        with_bytes: withS.sizes.last,
        without_bytes: withoutS.sizes.last,
      });
    }
    const { tools } = await withS.client.listTools();
    const schemaChars = tools.reduce((n, t) => n + JSON.stringify(t.outputSchema ?? {}).length, 0);
    emit({ case: 'tools_list', tools: tools.length, tokens: Math.ceil(JSON.stringify(tools).length / 4), output_schema_tokens: Math.ceil(schemaChars / 4) });

    const page = await tool(withS.client, 'tasks_list', { limit: 100 });
    const text = page.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
    const tokens = (chars) => Math.ceil(chars / 4);
    emit({
      case: 'page_tokens',
      rows: page.structuredContent.count,
      text_tokens: tokens(text.length),
      structured_tokens: tokens(JSON.stringify(page.structuredContent).length),
      result_tokens: tokens(JSON.stringify(page).length),
      text_chars: text.length,
      result_chars: JSON.stringify(page).length,
    });
  } finally {
    await withS.close();
    await withoutS.close();
  }
}

export default async function run(args = []) {
  if (!(await waitForDist(['cli/main.js', 'src/engine/index.js', 'mcp/index.js'], 30_000))) {
    process.stderr.write('error: dist/ is missing; the MCP bench runs the built package.\nfix: run "npx tsup" first.\n');
    return 1;
  }
  const runs = option(args, '--runs', 500);
  const warmup = option(args, '--warmup', 50);
  const rows = option(args, '--rows', 200);
  const withHttpMcp = !args.includes('--no-http-mcp');

  const dir = mkdtempSync(join(tmpdir(), 'ablo-bench-mcp-'));
  const engine = new Child(HOST, { name: 'engine' });
  let stdioClient;
  let httpClient;
  const onSignal = () => {
    engine.kill();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  try {
    const info = await engine.call('start', { file: join(dir, 'bench.db'), mcp: true }, 90_000);
    const { url, devKey: key } = info;
    await http(url, key, 'POST', '/v1/commits', { operations: [{ op: 'create', model: 'projects', id: 'p1', data: { name: 'bench' } }] });
    const ids = Array.from({ length: rows }, (_, i) => `task-${i}`);
    await http(url, key, 'POST', '/v1/commits', {
      operations: ids.map((id, i) => ({
        op: 'create',
        model: 'tasks',
        id,
        data: { title: `Task ${i}: a title of ordinary length`, status: 'todo', projectId: 'p1', n: 0, sentAt: 0, done: false },
      })),
    });

    progress(`starting ablo mcp over stdio against ${url}`);
    const t0 = performance.now();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', '--url', url, '--api-key', key, '--models', 'tasks'],
      stderr: 'pipe',
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
    });
    stdioClient = new Client({ name: 'ablo-bench', version: '1.0.0' });
    await stdioClient.connect(transport);
    const tools = (await stdioClient.listTools()).tools.length;
    emit({ case: 'startup', transport: 'stdio', ms: round(performance.now() - t0, 1), tools });

    const counter = { next: 1 };
    progress(`stdio: ${warmup} warmup + ${runs} rounds of get and update (MCP and HTTP interleaved)`);
    const s = await measure(stdioClient, url, key, ids, runs, warmup, counter);
    line('get', 'stdio', s.get, s.getHttp);
    line('update', 'stdio', s.update, s.updateHttp);

    if (withHttpMcp) {
      progress(`http: the engine's /mcp endpoint, same rounds`);
      const ht = new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { authorization: `Bearer ${key}` } } });
      httpClient = new Client({ name: 'ablo-bench', version: '1.0.0' });
      await httpClient.connect(ht);
      const h = await measure(httpClient, url, key, ids, runs, warmup, counter);
      line('get', 'http', h.get, h.getHttp);
      line('update', 'http', h.update, h.updateHttp);
      await ht.terminateSession().catch(() => {});
    }

    progress(`structured output: ${warmup} warmup + ${runs} rounds each of get, update, list100 (with and without, interleaved)`);
    await measureStructured(url, key, ids, runs, warmup, counter);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    await stdioClient?.close().catch(() => {});
    await httpClient?.close().catch(() => {});
    await engine.stop().catch(() => engine.kill());
    rmSync(dir, { recursive: true, force: true });
  }
}
