/**
 * Who runs `ablo dev` on this project's database.
 *
 * The authority is the engine's own lock on the database file: the SQLite
 * storage holds an OS-level exclusive lock on `<db>-lock` for the engine's
 * whole life, released by the OS when the process dies (see
 * src/engine/storage/sqlite-lock.ts). A second engine on the same file is
 * refused whatever the first is doing (busy, stopped, slow to answer).
 *
 * `.ablo/dev.lock` is only an informational record `{ pid, url, db, startedAt }`,
 * written by the engine that holds the database (after it took the lock) so
 * that a refused `ablo dev` can say where the running one is. It never
 * decides anything: a missing, stale or garbled record changes no outcome.
 * The holder removes it on exit only while it is still its own record.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from './errors.js';
import { writeFileAtomic } from './fs.js';

export const LOCK_FILE = '.ablo/dev.lock';

export interface DevLockInfo {
  pid: number;
  url: string | null;
  db: string;
  startedAt: string;
}

export interface DevRecord {
  path: string;
  /** Remove the record, only if it is still ours (idempotent). */
  release(): void;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The record, when there is a readable one. */
export function readDevRecord(cwd: string): DevLockInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(join(cwd, LOCK_FILE), 'utf8')) as Partial<DevLockInfo>;
    if (typeof v.pid !== 'number') return undefined;
    return { pid: v.pid, url: typeof v.url === 'string' ? v.url : null, db: String(v.db ?? ''), startedAt: String(v.startedAt ?? '') };
  } catch {
    return undefined; // none, unreadable, or garbage
  }
}

/**
 * Write the record for this process (it holds the database). The temp file is
 * removed when the write fails (a full disk becomes a `disk_full` error naming
 * the directory).
 */
export async function writeDevRecord(cwd: string, info: Omit<DevLockInfo, 'pid'>): Promise<DevRecord> {
  const path = join(cwd, LOCK_FILE);
  const mine: DevLockInfo = { pid: process.pid, ...info };
  await writeFileAtomic(path, JSON.stringify(mine), LOCK_FILE, { fix: `Check that ${join(cwd, '.ablo')} is writable.` });
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      try {
        if (readDevRecord(cwd)?.pid === process.pid) unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

/**
 * The refusal `ablo dev` prints when another engine holds the database: with
 * the running one's URL and pid when the record names this database and a
 * live process, else what the lock says.
 */
export function alreadyRunningError(cwd: string, db: string, dbShown: string, cause: unknown): CliError {
  const lockShown = `${dbShown}-lock`;
  const record = readDevRecord(cwd);
  const holder = record && record.pid !== process.pid && pidAlive(record.pid) && resolve(cwd, record.db) === resolve(cwd, db) ? record : undefined;
  if (holder) {
    const where = holder.url ? `at ${holder.url}` : 'and is still starting';
    return new CliError(`ablo dev is already running for this project ${where} (pid ${holder.pid}); it holds ${dbShown}`, {
      code: 'dev_already_running',
      fix: holder.url
        ? `Use that one (set ABLO_URL=${holder.url} if needed), or stop it first (Ctrl-C in its terminal, or kill ${holder.pid}).`
        : `Wait for it, or stop it first (kill ${holder.pid}).`,
      details: { db: dbShown, lock: lockShown, pid: holder.pid, url: holder.url, startedAt: holder.startedAt },
      cause,
    });
  }
  return new CliError(`another Ablo engine has ${dbShown} open (its lock ${lockShown} is held)`, {
    code: 'database_locked',
    fix: `Stop the engine that uses ${dbShown} (another ablo dev, or a script that runs an engine on it), or give this one another database: \`ablo dev --db <file>\`.`,
    details: { db: dbShown, lock: lockShown },
    cause,
  });
}
