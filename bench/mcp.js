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
 * Needs the build (`npx tsup`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { waitForDist } from './lib/dist.js';
import { Child } from './lib/proc.js';
import { round, summarize } from './lib/stats.js';

export const description = 'mcp: tool-call round trip (get, update) over stdio vs the same calls over the HTTP API';

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
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    await stdioClient?.close().catch(() => {});
    await httpClient?.close().catch(() => {});
    await engine.stop().catch(() => engine.kill());
    rmSync(dir, { recursive: true, force: true });
  }
}
