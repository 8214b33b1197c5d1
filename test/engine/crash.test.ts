import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { defineSchema, model, z } from '../../src/schema/index.js';

const schema = defineSchema({ items: model({ commit: z.string(), k: z.number().int() }) });
const dir = mkdtempSync(join(tmpdir(), 'ablo-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('SIGKILL with writes in flight: every receipted commit is present, none half applied', async () => {
  const file = join(dir, 'dev.db');
  const key = generateApiKey();
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/engine-child.mjs', import.meta.url))], {
    env: { ...process.env, ABLO_TEST_DB: file, ABLO_TEST_SCHEMA: JSON.stringify(schema.serialized), ABLO_TEST_KEY: key },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d) => {
        buf += d;
        const line = buf.split('\n')[0];
        if (buf.includes('\n')) resolve(JSON.parse(line!).url);
      });
      child.once('exit', (code) => reject(new Error(`engine exited early (${code})`)));
    });

    const receipted = new Set<string>();
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
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
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    // Let a good number of commits land, then kill the engine mid-stream.
    while (receipted.size < 150) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await exited;
    expect(receipted.size).toBeGreaterThanOrEqual(150);

    const engine = await createEngine({ file, port: 0, log: () => {} });
    try {
      const rows: Array<{ commit: string; k: number }> = [];
      let after: string | null = null;
      for (;;) {
        const page = await engine.storage.scanRows('items', after, 1000);
        rows.push(...(page as any));
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
    } finally {
      await engine.close();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
