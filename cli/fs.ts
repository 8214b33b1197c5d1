/**
 * File writing for commands: atomic writes (temp file in the same directory,
 * then rename) so a reader never sees half a file and an interrupted run
 * leaves the previous version in place. A failed write removes its temp file
 * and becomes a `write_failed` CliError that names the file and the reason
 * (a full disk names the directory whose disk is full).
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CliError } from './errors.js';

/** The file operations `writeFileAtomic` uses (the `node:fs/promises` ones unless a test passes others). */
export interface AtomicWriteFs {
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  writeFile(path: string, data: string, options: { encoding: 'utf8'; mode: number; flag: 'wx' }): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { force: true }): Promise<void>;
}

export interface AtomicWriteOptions {
  /** File mode of the written file, exactly (default: 0o666 less the umask). `0o600` for files that hold a secret. */
  mode?: number;
  /** What to do about a failure other than a full disk (default: the --out / permissions advice). */
  fix?: string;
  /** @internal Tests replace the file operations to make them fail. */
  fs?: AtomicWriteFs;
}

/** Is this a "the disk is full" error (no space, or over quota)? */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The error for a disk that is full under `dir`. */
export function diskFullError(what: string, dir: string, err: unknown): CliError {
  return new CliError(`cannot write ${what}: no space left on the device that holds ${dir}`, {
    code: 'disk_full',
    fix: `Free some space on that disk (\`df -h ${dir}\` shows how full it is), then run the command again.`,
    details: { file: what, dir, errno: (err as NodeJS.ErrnoException | null)?.code ?? 'ENOSPC' },
    cause: err,
  });
}

function writeError(path: string, err: unknown, shown: string, fix: string | undefined): CliError {
  if (isDiskFull(err)) return diskFullError(shown, dirname(path), err);
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'ENOTDIR' || code === 'EEXIST'
        ? 'a file is in the way where a directory is needed'
        : code === 'EISDIR'
          ? 'a directory is in the way'
          : code === 'EROFS'
            ? 'the file system is read-only'
            : (err as Error).message;
  return new CliError(`cannot write ${shown}: ${reason}`, {
    code: 'write_failed',
    fix: fix ?? 'Choose another output directory (--out) or fix the permissions of this one.',
    details: { file: path, ...(code ? { errno: code } : {}) },
    cause: err,
  });
}

/**
 * Write `content` to `path` atomically, creating parent directories. `shown` is the path printed on error.
 * The temp file (`.<name>.<pid>.<random>.tmp` next to it) is removed when anything fails.
 */
export async function writeFileAtomic(path: string, content: string, shown = path, options: AtomicWriteOptions = {}): Promise<void> {
  const fs: AtomicWriteFs = options.fs ?? (fsp as unknown as AtomicWriteFs);
  const dir = dirname(path);
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (err) {
    throw writeError(dir, err, shown, options.fix);
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const mode = options.mode ?? 0o666;
  try {
    await fs.writeFile(tmp, content, { encoding: 'utf8', mode, flag: 'wx' });
    // The mode given to open() is reduced by the umask: set it exactly (a secret must not be 0644).
    if (options.mode !== undefined) await fs.chmod(tmp, options.mode);
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw writeError(path, err, shown, options.fix);
  }
}
