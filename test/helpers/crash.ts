/**
 * Crash tests' two halves, shared by every storage: writers that hammer an
 * engine until it dies (each commit creates three rows tagged with the
 * commit), and the check afterwards on the reopened storage: every receipted
 * commit is present, whole, and the change log is gap-free.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';

/**
 * The built engine in a child process (test/fixtures/engine-child.mjs), with `env` (ABLO_TEST_DB,
 * ABLO_TEST_SCHEMA, ABLO_TEST_KEY, ABLO_TEST_SOURCES): its URL once it listens, and `exited`.
 */
export async function spawnEngineChild(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; exited: Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/engine-child.mjs', import.meta.url))], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]!).url);
    });
    child.once('exit', (code) => reject(new Error(`engine exited early (${code})`)));
  });
  return { child, url, exited };
}

export const crashSchema = defineSchema({ items: model({ commit: z.string(), k: z.number().int() }) });

export interface Hammer {
  /** Tags of commits the engine answered 200 for. */
  receipted: Set<string>;
  /** Stop the writers (they also stop on their own once the engine is gone) and wait for them. */
  stop(): Promise<void>;
}

/** `n` writers committing three-row commits over HTTP as fast as the engine answers. */
export function hammer(url: string, key: string, n = 8): Hammer {
  const receipted = new Set<string>();
  let stopped = false;
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; !stopped; i++) {
      const tag = `c${w}-${i}`;
      try {
        const res = await fetch(`${url}/v1/commits`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ operations: [0, 1, 2].map((k) => ({ op: 'create', model: 'items', data: { commit: tag, k } })) }),
        });
        if (res.status === 200) receipted.add(tag);
        else throw new Error(`status ${res.status}`);
      } catch {
        return; // the engine is gone
      }
    }
  };
  const writers = Array.from({ length: n }, (_, w) => writer(w));
  return {
    receipted,
    async stop() {
      stopped = true;
      await Promise.all(writers);
    },
  };
}

/** Wait until at least `count` commits were receipted. */
export async function receiptedAtLeast(h: Hammer, count: number): Promise<void> {
  while (h.receipted.size < count) await new Promise((r) => setTimeout(r, 5));
}

/** On the engine reopened after the crash: every receipted commit whole, no commit half applied, a gap-free log. */
export async function expectNothingLost(engine: Engine, receipted: Set<string>): Promise<void> {
  const rows: Array<{ commit: string; k: number }> = [];
  let after: string | null = null;
  for (;;) {
    const page = await engine.storage.scanRows('items', after, 1000);
    rows.push(...(page as never[]));
    if (page.length < 1000) break;
    after = page.at(-1)!.id;
  }
  const byCommit = new Map<string, number[]>();
  for (const r of rows) byCommit.set(r.commit, [...(byCommit.get(r.commit) ?? []), r.k]);
  for (const tag of receipted) expect(byCommit.get(tag)?.sort(), `commit ${tag} present`).toEqual([0, 1, 2]);
  for (const [tag, ks] of byCommit) expect(ks.sort(), `commit ${tag} whole`).toEqual([0, 1, 2]);
  // The change log agrees: gap-free sync ids, one change per row.
  const changes = await engine.storage.changesAfter(0, 100_000);
  expect(changes.map((c) => c.syncId)).toEqual(changes.map((_, i) => i + 1));
  expect(changes.length).toBe(rows.length);
  expect(engine.lastSyncId()).toBe(rows.length);
}
