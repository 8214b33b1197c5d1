/**
 * `ablo keys create / list / revoke`: API keys of the configured engine.
 * A new key is shown once (the engine stores its hash); a revoked key gets 401.
 *
 * `create --restricted --groups 'board:*' --ops read,write,claim
 * [--participant agent:indexer]` makes an `rk_…` key limited to those sync
 * groups and operations (docs/auth.md, "Restricted keys").
 *
 * `create --file path.db` / `--database-url URL` writes the key straight into
 * that storage, with no engine running (the first key of a production
 * database: `ablo keys create --live --database-url ...`).
 */
import { createApiKeyBodySchema, type ApiKeyObject, type CreateApiKeyBody } from '../../src/protocol/api.js';
import { parseWire } from '../../src/protocol/parse.js';
import { connect, maskKey, type ConnectFlags } from '../connect.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { colorsFor } from '../ui/color.js';
import { describeTarget, engineStorageOptions, resolveStorageTarget, type StorageFlags, type StorageTarget } from '../storageTarget.js';

export type { ApiKeyObject };

/** `kind:id` (`agent:indexer`) as a participant; a usage error otherwise. */
export function parseParticipantFlag(value: string): { kind: 'user' | 'agent' | 'system'; id: string } {
  const colon = value.indexOf(':');
  const kind = value.slice(0, Math.max(0, colon));
  const id = value.slice(colon + 1);
  if (colon < 0 || !['user', 'agent', 'system'].includes(kind) || id.length === 0) {
    throw new UsageError(`--participant must look like kind:id with kind one of user, agent, system, got ${JSON.stringify(value)}`, {
      fix: 'e.g. --participant agent:indexer',
    });
  }
  return { kind: kind as 'user' | 'agent' | 'system', id };
}

/** A comma-separated flag value as a list (`read,write` → ['read', 'write']), blanks dropped. */
function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

export interface CreateFlags {
  name?: string;
  live?: boolean;
  restricted?: boolean;
  groups?: string;
  ops?: string;
  participant?: string;
}

/**
 * The `POST /v1/keys` body for the flags of `ablo keys create`, checked as the
 * engine checks it (so a bad flag fails before anything is sent or opened).
 */
export function createKeyBody(flags: CreateFlags): CreateApiKeyBody {
  if (!flags.restricted && (flags.groups !== undefined || flags.ops !== undefined || flags.participant !== undefined)) {
    throw new UsageError('--groups, --ops and --participant are for a restricted key', { fix: "add --restricted, e.g. ablo keys create --restricted --groups 'board:*' --ops read" });
  }
  if (flags.restricted && (flags.groups === undefined || flags.ops === undefined)) {
    throw new UsageError('a restricted key needs --groups and --ops', { fix: "e.g. ablo keys create --restricted --groups 'board:*' --ops read,write,claim" });
  }
  const body: Record<string, unknown> = {};
  if (flags.name) body.name = flags.name;
  if (flags.live) body.mode = 'live';
  if (flags.restricted) {
    body.restricted = true;
    body.syncGroups = splitList(flags.groups);
    body.operations = splitList(flags.ops);
    if (flags.participant !== undefined) body.participant = parseParticipantFlag(flags.participant);
  }
  try {
    return parseWire(createApiKeyBodySchema, body, 'key create');
  } catch (err) {
    const field = (err as { field?: string }).field ?? '';
    const flag = field.startsWith('syncGroups') ? '--groups' : field.startsWith('operations') ? '--ops' : field.startsWith('participant') ? '--participant' : '--name';
    throw new UsageError(`${flag}: ${(err as Error).message}`, {
      fix: 'groups: exact groups, prefixes ending in * (board:*) or @role; ops: read, create, update, delete, write, claim, presence, keys, schema',
    });
  }
}

/**
 * A key written straight into the storage at `target` (opened, without listening beyond loopback, and closed
 * again), with a secret key's authority. Refused while another engine holds a SQLite file (`database_locked`).
 */
export async function createKeyInStorage(target: StorageTarget, body: CreateApiKeyBody): Promise<ApiKeyObject> {
  const { createEngine } = await import('../../src/engine/engine.js');
  const { createApiKey } = await import('../../src/engine/apiKeys.js');
  const { publicApiKey } = await import('../../src/engine/routes/keys.js');
  const { resolveSyncGroups } = await import('../../src/schema/identityRoles.js');
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
    const options = { name: body.name ?? 'default', mode: body.mode ?? 'test', ...(body.participant ? { participant: body.participant } : {}) } as const;
    let created;
    if (body.restricted) {
      const { ulid } = await import('../../src/protocol/ids.js');
      const id = `key_${ulid()}`;
      const participant = body.participant ?? { kind: 'system' as const, id };
      const roles = (await engine.storage.getSchema())?.serialized.identityRoles;
      const groups = resolveSyncGroups(body.syncGroups ?? [], roles, participant);
      created = await createApiKey(engine.storage, { ...options, id, participant, restricted: { groups, operations: body.operations ?? [] } });
    } else {
      created = await createApiKey(engine.storage, options);
    }
    return { ...publicApiKey(created.record), key: created.key };
  } finally {
    await engine.close();
  }
}

export async function create(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as ConnectFlags & StorageFlags & CreateFlags;
  const body = createKeyBody(flags);
  if (flags.file !== undefined || flags.databaseUrl !== undefined) {
    if (flags.url !== undefined) throw new UsageError('ablo keys create: pass --url (an engine) or --file / --database-url (a database), not both');
    const target = resolveStorageTarget(flags, ctx.cwd, 'ablo keys create');
    const key = await createKeyInStorage(target, body);
    printCreated(ctx, key, describeTarget(target).database);
    return 0;
  }
  const { client } = connect(ctx, flags);
  const key = await client.call((api) => api.createKey(body));
  printCreated(ctx, key, client.url);
  return 0;
}

function printCreated(ctx: CliContext, key: ApiKeyObject, where: string): void {
  const kind = key.kind === 'restricted' ? 'restricted API key' : 'API key';
  ctx.line(`Created ${kind} ${key.id} (name "${key.name}") on ${where}:`);
  ctx.line('');
  ctx.line(`  ${key.key}`);
  ctx.line('');
  if (key.kind === 'restricted' && key.groups !== 'all') {
    ctx.line(`It may use sync groups ${key.groups.join(', ')} with ${key.operations.join(', ')}, acting as ${key.participant.kind}:${key.participant.id}.`);
  }
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
    k.kind === 'restricted' && k.groups !== 'all' ? `${k.groups.join(',')} ${k.operations.join(',')}` : 'everything',
    k.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    k.revokedAt ? `revoked ${k.revokedAt.slice(0, 10)}` : k.prefix === mine ? 'active (this key)' : 'active',
  ]);
  const head = ['id', 'name', 'key', 'scope', 'created', 'status'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  ctx.line(c.bold(fmt(head)));
  for (const r of rows) ctx.line(r[5]!.startsWith('revoked') ? c.dim(fmt(r)) : fmt(r));
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
  if (target.startsWith('sk_') || target.startsWith('rk_')) {
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
