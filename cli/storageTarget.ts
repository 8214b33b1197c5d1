/**
 * Where a command that opens the storage itself (`ablo start`, `ablo keys create --file/--database-url`)
 * finds it: a Postgres connection string or a SQLite file, exactly one of the two.
 */
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from './errors.js';

export const DATABASE_URL_VAR = 'ABLO_DATABASE_URL';

export type StorageTarget = { kind: 'postgres'; databaseUrl: string } | { kind: 'sqlite'; file: string };

export interface StorageFlags {
  databaseUrl?: string;
  file?: string;
}

/**
 * `--database-url` (else, when `env` is given, ABLO_DATABASE_URL) or `--file`: exactly one. A `--file` flag wins
 * over ABLO_DATABASE_URL from the environment (a flag beats the environment); both flags is bad usage, and so is
 * neither. `command` names the command in the messages.
 */
export function resolveStorageTarget(flags: StorageFlags, cwd: string, command: string, env?: Record<string, string | undefined>): StorageTarget {
  const flagUrl = flags.databaseUrl?.trim() || undefined;
  const file = flags.file?.trim() || undefined;
  if (flagUrl && file) {
    throw new UsageError(`${command}: pass --database-url or --file, not both`, {
      fix: `Use --database-url postgres://... for Postgres, or --file path.db for a single-process SQLite engine.`,
    });
  }
  if (file) return { kind: 'sqlite', file: isAbsolute(file) ? file : resolve(cwd, file) };
  const databaseUrl = flagUrl ?? (env?.[DATABASE_URL_VAR]?.trim() || undefined);
  if (!databaseUrl) {
    throw new UsageError(`${command} needs a database: --database-url <url>${env ? ` (or ${DATABASE_URL_VAR})` : ''} or --file <path.db>`, {
      fix: `e.g. ${command} --database-url postgres://user@db.internal/app, or ${command} --file ./data/ablo.db`,
    });
  }
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError(`${command}: the database URL must start with postgres:// or postgresql:// (got ${JSON.stringify(redactUrl(databaseUrl))})`, {
      fix: 'Pass a Postgres connection string, e.g. postgres://user:password@host:5432/db (or --file for SQLite).',
    });
  }
  return { kind: 'postgres', databaseUrl };
}

/** A connection string without its password, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
}

/** The `createEngine` options for a target. */
export function engineStorageOptions(target: StorageTarget): { databaseUrl: string } | { file: string } {
  return target.kind === 'postgres' ? { databaseUrl: target.databaseUrl } : { file: target.file };
}

/** How the target is shown in logs and messages. */
export function describeTarget(target: StorageTarget): { storage: 'postgres' | 'sqlite'; database: string } {
  return target.kind === 'postgres' ? { storage: 'postgres', database: redactUrl(target.databaseUrl) } : { storage: 'sqlite', database: target.file };
}
