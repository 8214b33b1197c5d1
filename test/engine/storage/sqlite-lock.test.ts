/**
 * One engine per database file: the SQLite storage takes an OS-level exclusive
 * lock (a sidecar `<file>-lock` SQLite file in EXCLUSIVE locking mode) when it
 * opens, holds it until close, and the OS drops it when the process dies.
 * A second open of the same file, in this process or another, is refused
 * with `database_locked`; nothing is written by the refused one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSqliteStorage } from '../../../src/engine/storage/sqlite.js';
import { AbloServerError } from '../../../src/errors.js';
import { repoRoot } from '../../helpers/tempProject.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-sqlite-lock-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('SQLite storage: one engine per database file', () => {
  it('a second open of the same file in the same process is refused until the first closes', async () => {
    const file = join(tempDir(), 'dev.db');
    const first = createSqliteStorage({ file });
    await first.open();
    onTestFinished(() => first.close());

    const second = createSqliteStorage({ file });
    const err = await second.open().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AbloServerError);
    expect(err).toMatchObject({ type: 'server_error', code: 'database_locked' });
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/another Ablo engine/i);
    // The refused storage is not open, and the first one still works.
    await expect(second.lastSyncId()).rejects.toMatchObject({ code: 'storage_closed' });
    expect(await first.lastSyncId()).toBe(0);

    // The same file reached through another path (a symlinked directory) is the same database.
    const alias = join(tempDir(), 'alias');
    symlinkSync(join(file, '..'), alias, 'dir');
    await expect(createSqliteStorage({ file: join(alias, 'dev.db') }).open()).rejects.toMatchObject({ code: 'database_locked' });

    // Once the first closes, the file is free.
    await first.close();
    await second.open();
    expect(await second.lastSyncId()).toBe(0);
    await second.close();
  });

  it('another file in the same directory is not affected', async () => {
    const dir = tempDir();
    const a = createSqliteStorage({ file: join(dir, 'a.db') });
    const b = createSqliteStorage({ file: join(dir, 'b.db') });
    await a.open();
    await b.open();
    await a.close();
    await b.close();
  });

  it('a lock held by another process is refused, and released by the OS when that process is killed', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'db'));
    const file = join(dir, 'db', 'dev.db');
    const child = await holderProcess(
      `const s = createSqliteStorage({ file: ${JSON.stringify(file)} });
       await s.open();
       process.stdout.write('ready\\n');`,
    );

    await expect(createSqliteStorage({ file }).open()).rejects.toMatchObject({ code: 'database_locked' });
    // Stopped is still alive: still refused.
    child.kill('SIGSTOP');
    await expect(createSqliteStorage({ file }).open()).rejects.toMatchObject({ code: 'database_locked' });
    // Killed (no cleanup code runs): the OS released the lock.
    await killed(child);
    const s = createSqliteStorage({ file });
    await s.open();
    expect(await s.lastSyncId()).toBe(0);
    await s.close();
  });

  it('a storage its process stopped referencing (never closed) keeps the lock through garbage collection', async () => {
    const file = join(tempDir(), 'dev.db');
    const child = await holderProcess(
      `await (async () => { await createSqliteStorage({ file: ${JSON.stringify(file)} }).open(); })();
       for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
       process.stdout.write('ready\\n');`,
      ['--expose-gc'],
    );
    await expect(createSqliteStorage({ file }).open()).rejects.toMatchObject({ code: 'database_locked' });
    await killed(child);
    const s = createSqliteStorage({ file });
    await s.open();
    await s.close();
  });
});

/**
 * A child process running `body` with `createSqliteStorage` imported from the build (vitest's loader is not
 * available there), resolved once it prints `ready`; it then idles until the test kills it (or it is killed after).
 */
async function holderProcess(body: string, nodeArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      '--input-type=module',
      '-e',
      `import { createSqliteStorage } from ${JSON.stringify(join(repoRoot, 'dist/src/engine/index.js'))};
       ${body}
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  return child;
}

/** SIGKILL (no cleanup code runs in the child) and wait for the exit. */
async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
