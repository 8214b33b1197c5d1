/**
 * Several real engine processes on one Postgres database (a test database of
 * their own), as a deployment behind a load balancer runs them. Each is the
 * built package in a child process (test/fixtures/engine-child.mjs) on an
 * ephemeral port; `kill(i)` SIGKILLs one, `stop()` ends them all and drops
 * the database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import type { SerializedSchema } from '../../src/schema/descriptor.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export interface ClusterNode {
  url: string;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export interface Cluster {
  db: TestDatabase;
  key: string;
  nodes: ClusterNode[];
  urls: string[];
  /** SIGKILL node `i` and wait for it to be gone. */
  kill(i: number): Promise<void>;
  /** Start one more process on the same database. */
  add(): Promise<ClusterNode>;
  /** End every process still running (SIGTERM, then SIGKILL) and drop the database. */
  stop(): Promise<void>;
}

const fixture = fileURLToPath(new URL('../fixtures/engine-child.mjs', import.meta.url));

function spawnNode(databaseUrl: string, schema: SerializedSchema, key: string): Promise<ClusterNode> {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, ABLO_TEST_DATABASE_URL: databaseUrl, ABLO_TEST_SCHEMA: JSON.stringify(schema), ABLO_TEST_KEY: key },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise<ClusterNode>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve({ url: (JSON.parse(buf.slice(0, nl)) as { url: string }).url, child, exited });
    });
    child.once('exit', (code) => reject(new Error(`engine process exited before listening (code ${code})`)));
  });
}

/** `n` engine processes on a fresh database, started one after another (the first pushes the schema). */
export async function startCluster(n: number, schema: SerializedSchema): Promise<Cluster> {
  const db = await createTestDatabase();
  const key = generateApiKey();
  const nodes: ClusterNode[] = [];
  const cluster: Cluster = {
    db,
    key,
    nodes,
    get urls() {
      return nodes.map((x) => x.url);
    },
    async kill(i) {
      const node = nodes[i]!;
      node.child.kill('SIGKILL');
      await node.exited;
    },
    async add() {
      const node = await spawnNode(db.url, schema, key);
      nodes.push(node);
      return node;
    },
    async stop() {
      await Promise.all(
        nodes.map(async (node) => {
          if (node.child.exitCode !== null || node.child.signalCode !== null) return;
          node.child.kill('SIGTERM');
          const timer = setTimeout(() => node.child.kill('SIGKILL'), 5000);
          await node.exited;
          clearTimeout(timer);
        }),
      );
      await db.drop();
    },
  };
  try {
    for (let i = 0; i < n; i++) await cluster.add();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
