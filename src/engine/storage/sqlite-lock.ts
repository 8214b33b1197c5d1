/**
 * One engine per database file, enforced by the operating system.
 *
 * Next to the database `<file>` lives `<file>-lock`, a tiny SQLite file that
 * the engine opens with `locking_mode = EXCLUSIVE` and writes once: SQLite then
 * holds an exclusive POSIX lock on it for as long as the connection is open.
 * A second engine (another process, or another storage in this process: the
 * unix VFS tracks locks per file, so two connections of one process conflict
 * too) cannot take it and is refused at once with `database_locked`.
 *
 * The lock lives exactly as long as its holder: it is released on `close()`,
 * and by the kernel when the process dies in any way (SIGKILL, crash, power
 * loss). A stopped or busy holder keeps it. There is no timeout and no health
 * probe: nothing can decide that a live holder is stale.
 *
 * Rules that keep it sound:
 * - the lock file is never deleted (an engine opening the old inode and one
 *   creating a new file would both "hold" the lock);
 * - the holding process never opens the lock file by other means (closing any
 *   descriptor of a file drops every POSIX lock the process has on it);
 * - the path is taken after resolving symlinks of the directory, so two paths
 *   to one database meet on one lock file;
 * - the lock's connection is held in a module-level set until `release()`:
 *   better-sqlite3 closes a connection that is garbage-collected, so a storage
 *   the caller stopped referencing without closing would otherwise give the
 *   lock away while its process lives on.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { AbloServerError } from '../../errors.js';

export interface DatabaseLock {
  /** The lock file (`<database>-lock`, symlinks resolved). */
  readonly path: string;
  /** Release the lock (idempotent). */
  release(): void;
}

/** The lock file guarding `file`: `<file>-lock`, in the file's real directory. */
export function databaseLockPath(file: string): string {
  const abs = resolve(file);
  let real = abs;
  try {
    real = existsSync(abs) ? realpathSync(abs) : join(realpathSync(dirname(abs)), basename(abs));
  } catch {
    // the directory does not exist (yet): the caller will fail to create the lock
  }
  return `${real}-lock`;
}

/** Connections of locks not released yet: reachable whatever the caller keeps. */
const heldLocks = new Set<Database.Database>();

function sqliteCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/**
 * Take the exclusive lock on the database `file` (whose directory must exist),
 * or throw `database_locked` when another engine holds it.
 */
export function acquireDatabaseLock(file: string): DatabaseLock {
  const path = databaseLockPath(file);
  let db: Database.Database | null = null;
  try {
    // timeout 0: a held lock is an answer, not something to wait for.
    db = new Database(path, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    // No rollback journal file next to it: the content does not matter, the lock does.
    db.pragma('journal_mode = MEMORY');
    // The first write takes the EXCLUSIVE lock; in this locking mode it is kept until close.
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString());
    db.exec('COMMIT');
  } catch (err) {
    try {
      db?.close();
    } catch {
      // nothing to release
    }
    const code = sqliteCode(err);
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code.startsWith('SQLITE_BUSY_')) {
      throw new AbloServerError(
        `Another Ablo engine has the database ${file} open (its lock ${path} is held). Only one engine may use a database file at a time.`,
        { code: 'database_locked', file, lock: path },
      );
    }
    const reason = err instanceof Error ? err.message : String(err);
    if (code === 'SQLITE_FULL' || /ENOSPC/.test(reason)) {
      throw new AbloServerError(`No space left on the device holding ${path} (the lock of the database ${file}).`, { code: 'disk_full', file: path });
    }
    throw new AbloServerError(`Could not take the lock ${path} of the database ${file}: ${reason}`, { code: 'storage_error', file: path });
  }
  let held: Database.Database | null = db;
  heldLocks.add(db);
  return {
    path,
    release() {
      const d = held;
      held = null;
      if (!d) return;
      heldLocks.delete(d);
      d.close();
    },
  };
}
