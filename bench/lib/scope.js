/**
 * Parent-side plumbing for benches that run an engine child process and a
 * client child process: a temp dir per case, the children started in it, and
 * cleanup of everything (also on SIGINT/SIGTERM), plus small HTTP helpers.
 *
 *   const scope = new Scope('sdk-writes');
 *   try {
 *     const { engine, url } = await scope.startEngine();
 *     const client = scope.child(CLIENT_SCRIPT, 'clients');
 *     ...
 *   } finally {
 *     await scope.close();
 *   }
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from './proc.js';

const here = dirname(fileURLToPath(import.meta.url));
export const ENGINE_HOST = join(here, 'engine-host.js');
/** Extra Node flags for the engine process, e.g. `ABLO_BENCH_ENGINE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`. */
const ENGINE_NODE_ARGS = (process.env.ABLO_BENCH_ENGINE_ARGS ?? '').split(/\s+/).filter(Boolean);

const open = new Set();

export class Scope {
  constructor(label) {
    this.dir = mkdtempSync(join(tmpdir(), `ablo-bench-${label}-`));
    this.file = join(this.dir, 'bench.db');
    this.children = [];
    this.key = null;
    open.add(this);
  }

  child(script, name, execArgv = []) {
    const c = new Child(script, { name, execArgv });
    this.children.push(c);
    return c;
  }

  /**
   * An engine child on this scope's database file (or on the Postgres database `databaseUrl`); the first start
   * hands out the dev key, later ones are given it.
   */
  async startEngine({ databaseUrl } = {}) {
    const engine = this.child(ENGINE_HOST, 'engine', ENGINE_NODE_ARGS);
    const info = await engine.call('start', { file: this.file, ...(databaseUrl ? { databaseUrl } : {}), ...(this.key ? { devKey: this.key } : {}) }, 90_000);
    if (!this.key) this.key = info.devKey;
    if (!this.key) throw new Error('the engine did not hand out a dev key on a fresh database');
    return { engine, url: info.url, startMs: info.startMs };
  }

  async close() {
    open.delete(this);
    await Promise.all(this.children.map((c) => c.stop().catch(() => c.kill())));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Interrupted: kill the children and remove the files, synchronously. */
  abandon() {
    open.delete(this);
    for (const c of this.children) c.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Clean up every open scope on SIGINT/SIGTERM while `fn` runs, then re-raise
 * the signal. Returns what `fn` returns.
 */
export async function withSignalCleanup(tag, fn) {
  const onSignal = (signal) => {
    process.stderr.write(`[bench ${tag}] ${signal}: cleaning up ${open.size} scope(s)\n`);
    for (const scope of [...open]) scope.abandon();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function post(url, key, path, body) {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${path} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export async function getJson(url, key, path) {
  const res = await fetch(url + path, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** A commit request creating `rows` (each with its `id`) in `model`. */
export const creates = (model, rows) => ({ operations: rows.map(({ id, ...data }) => ({ op: 'create', model, id, data })) });

/** Create `total` rows through HTTP commits of `perCommit` creates, `workers` commits in flight. */
export async function seedRows(url, key, model, total, rowOf, { perCommit = 1000, workers = 2 } = {}) {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const from = next;
      next = Math.min(total, next + perCommit);
      const rows = [];
      for (let i = from; i < next; i++) rows.push(rowOf(i));
      await post(url, key, '/v1/commits', creates(model, rows));
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

/** `--name <n>` as a positive number, or `fallback`. */
export function option(args, name, fallback) {
  const i = args.indexOf(name);
  const v = i === -1 ? undefined : Number(args[i + 1]);
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}

/** `--only a,b` against the known case names; null (after printing why) when one is unknown. */
export function onlyCases(args, cases) {
  const i = args.indexOf('--only');
  const only = i === -1 ? cases : String(args[i + 1] ?? '').split(',');
  const unknown = only.filter((c) => !cases.includes(c));
  if (unknown.length) {
    process.stderr.write(`error: unknown case ${unknown.join(', ')}\nfix: --only takes a comma list of ${cases.join(', ')}\n`);
    return null;
  }
  return only;
}

/** A timeout that does not keep the process alive. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());
