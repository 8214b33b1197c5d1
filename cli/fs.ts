/**
 * File writing for commands: atomic writes (temp file in the same directory,
 * then rename) so a reader never sees half a file and an interrupted run
 * leaves the previous version in place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CliError } from './errors.js';

function writeError(path: string, err: unknown, shown: string): CliError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'ENOTDIR' || code === 'EEXIST'
        ? 'a file is in the way where a directory is needed'
        : code === 'EISDIR'
          ? 'a directory is in the way'
          : code === 'ENOSPC'
            ? 'no space left on the device'
            : (err as Error).message;
  return new CliError(`cannot write ${shown}: ${reason}`, {
    code: 'write_failed',
    fix: 'Choose another output directory (--out) or fix the permissions of this one.',
    details: { file: path, ...(code ? { errno: code } : {}) },
    cause: err,
  });
}

/** Write `content` to `path` atomically, creating parent directories. `shown` is the path printed on error. */
export async function writeFileAtomic(path: string, content: string, shown = path): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw writeError(dir, err, shown);
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, content, 'utf8');
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw writeError(path, err, shown);
  }
}
