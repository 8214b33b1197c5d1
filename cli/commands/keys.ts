/**
 * `ablo keys create / list / revoke`: API keys of the configured engine.
 * A new key is shown once (the engine stores its hash); a revoked key gets 401.
 *
 * `create --file path.db` / `--database-url URL` writes the key straight into
 * that storage, with no engine running (the first key of a production
 * database: `ablo keys create --live --database-url ...`).
 */
import type { ApiKeyObject } from '../../src/protocol/api.js';
import { connect, maskKey, type ConnectFlags } from '../connect.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { colorsFor } from '../ui/color.js';
import { describeTarget, engineStorageOptions, resolveStorageTarget, type StorageFlags, type StorageTarget } from '../storageTarget.js';

export type { ApiKeyObject };

/**
 * A key written straight into the storage at `target` (opened, without listening beyond loopback, and closed
 * again). Refused while another engine holds a SQLite file (`database_locked`).
 */
export async function createKeyInStorage(target: StorageTarget, options: { name?: string; mode: 'test' | 'live' }): Promise<ApiKeyObject> {
  const { createEngine } = await import('../../src/engine/engine.js');
  const { createApiKey } = await import('../../src/engine/apiKeys.js');
  const { publicApiKey } = await import('../../src/engine/routes/keys.js');
  let engine;
  try {
    engine = await createEngine({ ...engineStorageOptions(target), host: '127.0.0.1', port: 0, devKey: false, log: () => {} });
  } catch (err) {
    const locked = (err as { code?: unknown })?.code === 'database_locked';
    throw new CliError(`cannot open ${describeTarget(target).database}: ${(err as Error).message}`, {
      code: 'engine_start_failed',
      fix: locked ? 'An engine has this file open: create the key through it instead (`ablo keys create --url <its URL>`).' : 'Check the database settings, or rerun with --debug.',
      cause: err,
    });
  }
  try {
    const created = await createApiKey(engine.storage, { name: options.name ?? 'default', mode: options.mode });
    return { ...publicApiKey(created.record), key: created.key };
  } finally {
    await engine.close();
  }
}

export async function create(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as ConnectFlags & StorageFlags & { name?: string; live?: boolean };
  if (flags.file !== undefined || flags.databaseUrl !== undefined) {
    if (flags.url !== undefined) throw new UsageError('ablo keys create: pass --url (an engine) or --file / --database-url (a database), not both');
    const target = resolveStorageTarget(flags, ctx.cwd, 'ablo keys create');
    const key = await createKeyInStorage(target, { ...(flags.name ? { name: flags.name } : {}), mode: flags.live ? 'live' : 'test' });
    printCreated(ctx, key, describeTarget(target).database);
    return 0;
  }
  const { client } = connect(ctx, flags);
  const key = await client.call((api) => api.createKey({ ...(flags.name ? { name: flags.name } : {}), ...(flags.live ? { mode: 'live' } : {}) }));
  printCreated(ctx, key, client.url);
  return 0;
}

function printCreated(ctx: CliContext, key: ApiKeyObject, where: string): void {
  ctx.line(`Created API key ${key.id} (name "${key.name}") on ${where}:`);
  ctx.line('');
  ctx.line(`  ${key.key}`);
  ctx.line('');
  ctx.line('It is shown only now: the engine keeps its hash. Put it where it is used, e.g. ABLO_API_KEY=... in that environment.');
  ctx.result(key);
}

export async function list(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as ConnectFlags;
  const c = colorsFor(ctx);
  const { config, client } = connect(ctx, flags);
  const { data } = await client.call((api) => api.listKeys());
  const mine = config.apiKey?.value.slice(0, 12);
  const rows = data.map((k) => [
    k.id,
    k.name,
    `${k.prefix}…`,
    k.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    k.revokedAt ? `revoked ${k.revokedAt.slice(0, 10)}` : k.prefix === mine ? 'active (this key)' : 'active',
  ]);
  const head = ['id', 'name', 'key', 'created', 'status'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  ctx.line(c.bold(fmt(head)));
  for (const r of rows) ctx.line(r[4]!.startsWith('revoked') ? c.dim(fmt(r)) : fmt(r));
  if (!rows.length) ctx.line('(no keys)');
  ctx.result({ object: 'list', data });
  return 0;
}

export async function revoke(opts: Record<string, unknown>, ctx: CliContext, args: unknown[]): Promise<number> {
  const flags = opts as ConnectFlags;
  const target = String(args[0] ?? '').trim();
  if (!target) throw new UsageError('missing the key to revoke', { fix: 'Pass its id (from `ablo keys list`), e.g. ablo keys revoke key_01J...' });
  const { config, client } = connect(ctx, flags);
  let id = target;
  if (target.startsWith('sk_')) {
    // A key or its prefix: find its id.
    const prefix = target.slice(0, 12);
    const { data } = await client.call((api) => api.listKeys());
    const match = data.filter((k) => k.prefix === prefix);
    if (match.length !== 1) {
      throw new CliError(match.length ? `${maskKey(target)} matches ${match.length} keys` : `no key of this engine starts with ${maskKey(target)}`, {
        code: 'key_not_found',
        fix: 'Pass the key id from `ablo keys list` instead.',
      });
    }
    id = match[0]!.id;
  }
  const key = await client.call((api) => api.revokeKey(id));
  ctx.line(`Revoked ${key.id} (name "${key.name}", ${key.prefix}…). Requests with it now get 401.`);
  if (config.apiKey && config.apiKey.value.slice(0, 12) === key.prefix) {
    ctx.note('note: that was the key this command used; set ABLO_API_KEY (or .env.local) to another key.');
  }
  ctx.result(key);
  return 0;
}
