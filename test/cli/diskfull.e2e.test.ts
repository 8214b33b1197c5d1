/**
 * `ablo dev` on a full disk: one `error:` line naming what is full, a `fix:`,
 * exit 1, and no temp file left behind.
 *
 * A real full disk: a 1 MiB tmpfs filled with a filler file. Mounting needs
 * root (and a kernel that allows it): elsewhere these tests are skipped and
 * say why; test/cli/fs.test.ts covers the same write path by making the file
 * write fail at the CLI's own fs boundary.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'vitest';
import { repoRoot, runCli, stackLines, startCli, type RunResult } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ notes: model({ body: z.string() }) });
`;

/** A fresh 1 MiB tmpfs holding a project (schema + node_modules/ablo), unmounted after the test. */
function smallDiskProject(ctx: TestContext): string {
  if (process.platform !== 'linux') ctx.skip('a full disk is simulated with a Linux tmpfs');
  if (process.getuid?.() !== 0) ctx.skip('mounting a small tmpfs (the simulated full disk) needs root');
  const dir = mkdtempSync(join(tmpdir(), 'ablo-fulldisk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    ctx.skip(`mounting a tmpfs is not permitted here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`);
  }
  ctx.onTestFinished(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repoRoot, join(dir, 'node_modules/ablo'), 'dir');
  writeFileSync(join(dir, 'ablo.schema.ts'), SCHEMA);
  return dir;
}

/** Write a filler file until the disk is full. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    for (const size of [65536, 4096, 512, 1]) {
      const buf = Buffer.alloc(size);
      try {
        for (;;) writeSync(fd, buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Every file under `dir` whose name ends in `.tmp`. */
function tempFiles(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.name.endsWith('.tmp') && !e.parentPath.includes('node_modules')) found.push(join(e.parentPath, e.name));
  }
  return found;
}

function expectDiskFull(ctx: TestContext, r: RunResult, what: RegExp): void {
  const { expect } = ctx;
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(2);
  expect(lines[0]).toMatch(what);
  expect(lines[0]).not.toMatch(/unexpected failure/);
  expect(lines[1]).toMatch(/^fix: Free some space on that disk \(`df -h .+` shows how full it is\), then run the command again\.$/);
  expect(stackLines(r.stderr)).toEqual([]);
  expect(r.code).toBe(1);
}

describe.concurrent('ablo dev on a full disk', () => {
  it('the project disk is full (the database elsewhere): names .ablo/dev.lock and its directory, leaves no temp file, releases the database', async (ctx) => {
    const { expect } = ctx;
    const dir = smallDiskProject(ctx);
    const dbDir = mkdtempSync(join(tmpdir(), 'ablo-fulldisk-db-'));
    ctx.onTestFinished(() => rmSync(dbDir, { recursive: true, force: true }));
    const db = join(dbDir, 'dev.db');
    fill(dir);

    const r = await runCli(['dev', '--port', '0', '--db', db], dir);
    expectDiskFull(ctx, r, new RegExp(`^error: cannot write \\.ablo/dev\\.lock: no space left on the device that holds ${join(dir, '.ablo').replace(/[.]/g, '\\.')}$`));
    expect(tempFiles(dir)).toEqual([]);
    expect(readdirSync(dir)).not.toContain('.env.local');
    expect(readdirSync(join(dir, '.ablo'))).toEqual([]);

    // With space again, the same database opens at once: the failed start released it.
    rmSync(join(dir, 'filler'));
    const dev = startCli(['dev', '--port', '0', '--db', db, '--json', '--no-watch'], dir);
    ctx.onTestFinished(() => dev.stop('SIGKILL').then(() => undefined));
    await dev.waitFor(/^\{"event":"ready"/m, 20_000);
    expect(await dev.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('a new project on a full disk: names the database and its directory', async (ctx) => {
    const { expect } = ctx;
    const dir = smallDiskProject(ctx);
    fill(dir);
    const r = await runCli(['dev', '--port', '0'], dir);
    expectDiskFull(ctx, r, /^error: cannot write \.ablo\/dev\.db: no space left on the device that holds \.ablo$/);
    expect(tempFiles(dir)).toEqual([]);
    expect(readdirSync(join(dir, '.ablo')).filter((f) => !f.startsWith('dev.db'))).toEqual([]);
  }, 60_000);

  it('an existing project whose disk filled up: the same message, nothing left behind', async (ctx) => {
    const { expect } = ctx;
    const dir = smallDiskProject(ctx);
    const dev = startCli(['dev', '--port', '0', '--json', '--no-watch'], dir);
    ctx.onTestFinished(() => dev.stop('SIGKILL').then(() => undefined));
    await dev.waitFor(/^\{"event":"ready"/m, 20_000);
    expect(await dev.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const envLocal = statSync(join(dir, '.env.local'));
    fill(dir);

    const r = await runCli(['dev', '--port', '0'], dir);
    expectDiskFull(ctx, r, /^error: cannot write \.ablo\/dev\.db: no space left on the device that holds \.ablo$/);
    expect(tempFiles(dir)).toEqual([]);
    expect(readdirSync(join(dir, '.ablo'))).not.toContain('dev.lock');
    expect(statSync(join(dir, '.env.local')).mtimeMs).toBe(envLocal.mtimeMs);
  }, 60_000);
});
