/**
 * Several engine processes on one Postgres database (a test database of
 * their own), run the way a deployment runs them: the built CLI's
 * `ablo keys create --live --database-url` makes the key, then each process is
 * `ablo start --database-url … --port 0`, and the schema is pushed through
 * the first one's HTTP API (as `ablo push` does). `kill(i)` SIGKILLs one,
 * `stop()` drains the rest (SIGTERM) and drops the database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SerializedSchema } from '../../src/schema/descriptor.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { runCli, startCli, type Background } from './tempProject.js';

export interface ClusterNode {
  url: string;
  process: Background;
}

export interface Cluster {
  db: TestDatabase;
  key: string;
  nodes: ClusterNode[];
  readonly urls: string[];
  /** SIGKILL node `i` and wait until it is gone. */
  kill(i: number): Promise<void>;
  /** Start one more process on the same database. */
  add(): Promise<ClusterNode>;
  /** End every process still running (SIGTERM: a drain; SIGKILL after 5 s) and drop the database. */
  stop(): Promise<void>;
}

/** `n` engine processes on a fresh database with `schema` pushed, started one after another. */
export async function startCluster(n: number, schema: SerializedSchema): Promise<Cluster> {
  const db = await createTestDatabase();
  const cwd = mkdtempSync(join(tmpdir(), 'ablo-cluster-'));
  const nodes: ClusterNode[] = [];
  const add = async (): Promise<ClusterNode> => {
    const proc = startCli(['start', '--database-url', db.url, '--port', '0', '--host', '127.0.0.1'], cwd);
    try {
      const m = await proc.waitFor(/^(\{"level":"info","msg":"listening".*\})$/m, 30_000);
      const node = { url: (JSON.parse(m[1]!) as { url: string }).url, process: proc };
      nodes.push(node);
      return node;
    } catch (err) {
      await proc.stop('SIGKILL');
      throw new Error(`ablo start did not listen: ${(err as Error).message}\n${proc.stdout()}\n${proc.stderr()}`);
    }
  };
  const cluster: Cluster = {
    db,
    key: '',
    nodes,
    get urls() {
      return nodes.map((x) => x.url);
    },
    async kill(i) {
      await nodes[i]!.process.stop('SIGKILL');
    },
    add,
    async stop() {
      await Promise.all(nodes.map((node) => node.process.stop('SIGTERM', 5000)));
      rmSync(cwd, { recursive: true, force: true });
      await db.drop();
    },
  };
  try {
    const created = await runCli(['keys', 'create', '--live', '--name', 'cluster', '--database-url', db.url], cwd);
    const key = /\b(sk_live_\S+)/.exec(created.stdout)?.[1];
    if (created.code !== 0 || !key) throw new Error(`ablo keys create failed (${created.code}): ${created.stdout}${created.stderr}`);
    cluster.key = key;
    await add();
    const pushed = await fetch(`${nodes[0]!.url}/v1/schema`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ schema }),
    });
    if (pushed.status !== 200) throw new Error(`schema push failed: ${pushed.status} ${await pushed.text()}`);
    for (let i = 1; i < n; i++) await add();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** One HTTP call to a cluster node with `token` as the bearer; the status and the parsed JSON answer. */
export async function callAs(url: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}
