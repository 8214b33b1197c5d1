/**
 * Tests never run a dist/ older than the sources: the global setup and every
 * consumer of dist/ (the engine child, the spawned CLI) compare contents, so
 * a stale build fails loudly even when mtimes say it is newer, and
 * ABLO_SKIP_BUILD=1 no longer skips the check.
 *
 * Each test works on a copy of this repository's sources and built dist/ in
 * a temp dir (the real dist/ is never touched).
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { ensureDist } from './build.js';
import { assertDistFresh, distFreshness, repoRoot } from './dist-stamp.mjs';

const copies: string[] = [];
afterEach(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const LONG_AGO = new Date('2001-01-01T00:00:00Z');

/** A copy of the repo's sources, dist/ and the test fixtures, with every source older than every built file. */
function copyRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-dist-stamp-'));
  copies.push(dir);
  for (const p of ['src', 'cli', 'mcp', 'package.json', 'tsconfig.json', 'tsup.config.ts']) {
    cpSync(join(repoRoot, p), join(dir, p), { recursive: true, preserveTimestamps: false });
  }
  for (const p of ['test/fixtures/engine-child.mjs', 'test/setup/dist-stamp.mjs']) cpSync(join(repoRoot, p), join(dir, p));
  // dist/ as `npm run build` leaves it: no stamp of the test setup.
  cpSync(join(repoRoot, 'dist'), join(dir, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.ablo-build-stamp.json') });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // Sources untouched since 2001: by mtime the build is newer than every one.
  const spawned = spawnSync('find', ['src', 'cli', 'mcp', 'package.json', 'tsconfig.json', 'tsup.config.ts', '-type', 'f'], { cwd: dir, encoding: 'utf8' });
  for (const rel of spawned.stdout.trim().split('\n')) utimesSync(join(dir, rel), LONG_AGO, LONG_AGO);
  return dir;
}

/** Change a source file's content but keep its old mtime (a checkout, a copy, clock skew). */
function editKeepingMtime(dir: string, rel: string): void {
  appendFileSync(join(dir, rel), '\n// edited after the build\n');
  utimesSync(join(dir, rel), LONG_AGO, LONG_AGO);
}

/** Start the engine child of `dir`: its first stdout line (then it is stopped), or its exit code and stderr. */
function runEngineChild(dir: string): Promise<{ line: string; code: number | null; stderr: string }> {
  const schema = defineSchema({ notes: model({ text: z.string() }) });
  const child = spawn(process.execPath, [join(dir, 'test/fixtures/engine-child.mjs')], {
    env: { ...process.env, ABLO_TEST_DB: join(dir, 'child.db'), ABLO_TEST_SCHEMA: JSON.stringify(schema.serialized), ABLO_TEST_KEY: generateApiKey() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) child.kill('SIGKILL');
    });
    child.once('close', (code) => resolve({ line: out.split('\n')[0]!, code, stderr: err }));
  });
}

describe('dist/ freshness', () => {
  test('a dist/ built from the current sources is fresh (checked against its source maps, then stamped)', () => {
    const dir = copyRepo();
    expect(distFreshness(dir)).toMatchObject({ fresh: true, stamped: false });
    expect(ensureDist(dir, { ABLO_SKIP_BUILD: '1' })).toBe('fresh');
    expect(distFreshness(dir)).toMatchObject({ fresh: true, stamped: true });
    expect(() => assertDistFresh(dir)).not.toThrow();
  });

  test('a source changed after the build is caught by content though its mtime is older than dist/', () => {
    const dir = copyRepo();
    editKeepingMtime(dir, 'src/engine/claims.ts');
    const state = distFreshness(dir);
    expect(state.fresh).toBe(false);
    expect(!state.fresh && state.message).toBe('dist/ is older than the sources: run npm run build (changed since the build: src/engine/claims.ts)');
    expect(() => assertDistFresh(dir)).toThrow('dist/ is older than the sources: run npm run build');
  });

  test('with a stamp, any source change counts, type-only modules included', () => {
    const dir = copyRepo();
    ensureDist(dir, { ABLO_SKIP_BUILD: '1' }); // stamps
    editKeepingMtime(dir, 'src/engine/storage/types.ts');
    expect(() => assertDistFresh(dir)).toThrow('(changed since the build: src/engine/storage/types.ts)');
  });

  test('ABLO_SKIP_BUILD=1 with a stale dist/ fails the setup loudly instead of testing old code', () => {
    const dir = copyRepo();
    editKeepingMtime(dir, 'cli/main.ts');
    expect(() => ensureDist(dir, { ABLO_SKIP_BUILD: '1' })).toThrow(
      'ABLO_SKIP_BUILD=1, but dist/ is older than the sources: run npm run build (changed since the build: cli/main.ts)',
    );
  });

  test('the engine child refuses a stale dist/ with the fix, and starts on a fresh one', async () => {
    const dir = copyRepo();
    editKeepingMtime(dir, 'src/engine/engine.ts');
    const stale = await runEngineChild(dir);
    expect(stale).toMatchObject({ code: 1, line: '' });
    expect(stale.stderr).toContain('dist/ is older than the sources: run npm run build (changed since the build: src/engine/engine.ts)');

    const fresh = await runEngineChild(copyRepo());
    expect(JSON.parse(fresh.line).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
