/**
 * One `ablo dev` per project: `.ablo/dev.lock` holds `{ pid, url, db, startedAt }`.
 *
 * A second `ablo dev` finds the lock and checks it: the process must be alive
 * and (once it has a URL) answer `/v1/health`. A live one is reported with its
 * URL and pid; a stale lock (dead process, or a live pid that has not answered
 * for 10 s, e.g. a reused pid) is replaced. The lock is created with O_EXCL,
 * so two starting at the same moment cannot both win.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CliError } from './errors.js';

export const LOCK_FILE = '.ablo/dev.lock';
const STARTING_GRACE_MS = 10_000;

export interface DevLockInfo {
  pid: number;
  url: string | null;
  db: string;
  startedAt: string;
}

export interface DevLock {
  path: string;
  /** Record the URL once the engine listens. */
  update(url: string): void;
  /** Remove the lock (only if it is still ours). */
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

function readLock(path: string): { info?: DevLockInfo; ageMs: number } | undefined {
  let text: string;
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(path).mtimeMs;
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
  try {
    const v = JSON.parse(text) as Partial<DevLockInfo>;
    if (typeof v.pid === 'number') return { info: { pid: v.pid, url: typeof v.url === 'string' ? v.url : null, db: String(v.db ?? ''), startedAt: String(v.startedAt ?? '') }, ageMs };
  } catch {
    // half-written or garbage
  }
  return { ageMs };
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(1500) });
    const body = (await res.json()) as { ok?: boolean };
    return res.ok && body.ok === true;
  } catch {
    return false;
  }
}

/** Why the lock is held, or undefined when it is stale. */
async function liveHolder(found: { info?: DevLockInfo; ageMs: number }): Promise<DevLockInfo | undefined> {
  const { info, ageMs } = found;
  if (!info) return ageMs < 2000 ? { pid: 0, url: null, db: '', startedAt: '' } : undefined;
  if (info.pid === process.pid || !pidAlive(info.pid)) return undefined;
  if (info.url && (await answers(info.url))) return info;
  return ageMs < STARTING_GRACE_MS ? info : undefined;
}

export async function acquireDevLock(cwd: string, db: string): Promise<DevLock> {
  const path = join(cwd, LOCK_FILE);
  mkdirSync(dirname(path), { recursive: true });
  const mine: DevLockInfo = { pid: process.pid, url: null, db, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CliError(`cannot create ${LOCK_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
          code: 'lock_failed',
          fix: 'Check that the project directory is writable.',
          cause: err,
        });
      }
      const found = readLock(path);
      if (!found) continue;
      const holder = await liveHolder(found);
      if (holder) {
        const where = holder.url ? `at ${holder.url}` : 'and is still starting';
        throw new CliError(`ablo dev is already running for this project ${where}${holder.pid ? ` (pid ${holder.pid})` : ''}`, {
          code: 'dev_already_running',
          fix: holder.url
            ? `Use that one (set ABLO_URL=${holder.url} if needed), or stop it first (Ctrl-C in its terminal${holder.pid ? `, or kill ${holder.pid}` : ''}).`
            : 'Wait for it, or stop it first.',
          details: { lock: path, ...holder },
        });
      }
      try {
        unlinkSync(path);
      } catch {
        // someone else removed it; retry
      }
      continue;
    }
    writeSync(fd, JSON.stringify(mine));
    closeSync(fd);
    let released = false;
    const ours = (): boolean => readLock(path)?.info?.pid === process.pid;
    return {
      path,
      update(url) {
        mine.url = url;
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify(mine));
        renameSync(tmp, path);
      },
      release() {
        if (released) return;
        released = true;
        try {
          if (ours()) unlinkSync(path);
        } catch {
          // already gone
        }
      },
    };
  }
  throw new CliError(`cannot take ${LOCK_FILE}: another ablo dev keeps replacing it`, { code: 'lock_failed', fix: 'Stop the other ablo dev processes of this project and try again.' });
}
