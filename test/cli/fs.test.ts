/**
 * The CLI's atomic file writes: a failed write removes its temp file and says
 * what failed (a full disk names the directory and the fix); a secret file
 * gets exactly the mode asked for, whatever the umask, also when it replaces
 * a looser file.
 *
 * The full disk is made at the CLI's own fs boundary: the real file
 * operations run, and the content write fails with ENOSPC after the temp
 * file was created (as on a disk that fills up mid-write).
 */
import * as fsp from 'node:fs/promises';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CliError } from '../../cli/errors.js';
import { writeFileAtomic, type AtomicWriteFs } from '../../cli/fs.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-cli-fs-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The real operations, except that writing content creates the file and then fails with `code`. */
function failingWrites(code: string): AtomicWriteFs {
  return {
    mkdir: (p, o) => fsp.mkdir(p, o),
    chmod: (p, m) => fsp.chmod(p, m),
    rename: (a, b) => fsp.rename(a, b),
    rm: (p, o) => fsp.rm(p, o),
    async writeFile(path, _data, options) {
      await fsp.writeFile(path, '', options);
      throw Object.assign(new Error(`${code}: simulated, write '${path}'`), { code, errno: -28, syscall: 'write', path });
    },
  };
}

describe('writeFileAtomic', () => {
  it('a full disk: disk_full naming the file and its directory, the temp file removed, the old file kept', async () => {
    const dir = tempDir();
    const target = join(dir, '.ablo', 'dev.lock');
    const err = await writeFileAtomic(target, '{"pid":1}', '.ablo/dev.lock', { fs: failingWrites('ENOSPC') }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ code: 'disk_full', exitCode: 1, details: { file: '.ablo/dev.lock', dir: join(dir, '.ablo'), errno: 'ENOSPC' } });
    expect((err as Error).message).toBe(`cannot write .ablo/dev.lock: no space left on the device that holds ${join(dir, '.ablo')}`);
    expect((err as CliError).fix).toBe(`Free some space on that disk (\`df -h ${join(dir, '.ablo')}\` shows how full it is), then run the command again.`);
    expect(readdirSync(join(dir, '.ablo'))).toEqual([]);

    // Over quota is the same thing; an existing file is left as it was.
    writeFileSync(target, 'before');
    await expect(writeFileAtomic(target, 'after', '.ablo/dev.lock', { fs: failingWrites('EDQUOT') })).rejects.toMatchObject({ code: 'disk_full' });
    expect(readFileSync(target, 'utf8')).toBe('before');
    expect(readdirSync(join(dir, '.ablo'))).toEqual(['dev.lock']);
  });

  it('other failures keep their own reason and the caller’s fix', async () => {
    const dir = tempDir();
    await expect(writeFileAtomic(join(dir, 'x.json'), '{}', 'x.json', { fs: failingWrites('EACCES'), fix: 'Check the directory.' })).rejects.toMatchObject({
      code: 'write_failed',
      message: 'cannot write x.json: permission denied',
      fix: 'Check the directory.',
    });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('mode 0600 is exact whatever the umask, and tightens a file that was 0644', async () => {
    const dir = tempDir();
    const file = join(dir, '.env.local');
    const before = process.umask(0);
    try {
      await writeFileAtomic(file, 'ABLO_API_KEY=sk_test_x\n', '.env.local', { mode: 0o600 });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      rmSync(file);
      writeFileSync(file, 'old\n', { mode: 0o644 });
      expect(statSync(file).mode & 0o777).toBe(0o644);
      await writeFileAtomic(file, 'ABLO_API_KEY=sk_test_y\n', '.env.local', { mode: 0o600 });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toBe('ABLO_API_KEY=sk_test_y\n');
    } finally {
      process.umask(before);
    }
  });
});
