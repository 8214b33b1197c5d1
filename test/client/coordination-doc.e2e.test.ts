/**
 * The SDK agent in docs/coordination.md runs as written: three copies at once
 * against a real engine triage every ticket exactly once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine } from '../../src/testing/index.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ablo-agent-doc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The schema the example declares.
const schema = defineSchema({
  tickets: model({
    title: z.string().min(1),
    status: z.enum(['open', 'triaged']).default('open'),
    priority: z.enum(['low', 'normal', 'urgent']).nullable().default(null),
  }),
});

function run(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['triage-agent.mjs'], { cwd: dir, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('the SDK agent example: three copies triage every ticket exactly once', async () => {
  const doc = readFileSync(join(repo, 'docs/coordination.md'), 'utf8');
  const example = /```js\n(\/\/ triage-agent\.mjs[\s\S]*?)```/.exec(doc)![1]!;
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules/ablo'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'agent', type: 'module', private: true }));
  writeFileSync(join(dir, 'triage-agent.mjs'), example);

  const engine = await startTestEngine({ schema });
  try {
    const titles = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? `Site down ${i}` : `Question ${i}`));
    const res = await fetch(`${engine.url}/v1/commits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${engine.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operations: titles.map((title) => ({ op: 'create', model: 'tickets', data: { title } })) }),
    });
    expect(res.status).toBe(200);
    const env = { ABLO_URL: engine.url, ABLO_API_KEY: engine.apiKey };
    const results = await Promise.all([run(env), run(env), run(env)]);
    for (const r of results) expect(r.code, r.out).toBe(0);
    const total = results.reduce((n, r) => n + Number(/triaged (\d+)/.exec(r.out)![1]), 0);
    expect(total).toBe(12);

    const rows = await (await fetch(`${engine.url}/v1/models/tickets?limit=100`, { headers: { authorization: `Bearer ${engine.apiKey}` } })).json();
    expect(rows.data.every((t: any) => t.status === 'triaged')).toBe(true);
    for (const t of rows.data) expect(t.priority).toBe(t.title.startsWith('Site down') ? 'urgent' : 'normal');
    // Exactly one triage write per ticket.
    const changes = await engine.engine.storage.changesAfter(0, 1000);
    const triage = changes.filter((c) => c.action === 'update' && c.fields.includes('status'));
    expect(triage).toHaveLength(12);
    expect(new Set(triage.map((c) => c.id)).size).toBe(12);
  } finally {
    await engine.stop();
  }
});
