import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ablo-user-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the docs/testing.md example runs as a user’s own test (node --test, built package)', async () => {
  const doc = readFileSync(join(repo, 'docs/testing.md'), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(doc)![1]!;
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules/ablo'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-app', type: 'module', private: true }));
  writeFileSync(join(dir, 'tasks.test.mjs'), example);
  const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['--test', 'tasks.test.mjs'], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
  expect(result.out).toMatch(/# pass 1/);
  expect(result.out).toMatch(/# fail 0/);
  expect(result.code).toBe(0);
});
