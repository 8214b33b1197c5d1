/**
 * `ablo keys create / list / revoke`: API keys of the configured engine.
 * A new key is shown once (the engine stores its hash); a revoked key gets 401.
 */
import type { ApiKeyObject } from '../../src/protocol/api.js';
import { connect, maskKey, type ConnectFlags } from '../connect.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { colorsFor } from '../ui/color.js';

export type { ApiKeyObject };

export async function create(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as ConnectFlags & { name?: string; live?: boolean };
  const { client } = connect(ctx, flags);
  const key = await client.call((api) => api.createKey({ ...(flags.name ? { name: flags.name } : {}), ...(flags.live ? { mode: 'live' } : {}) }));
  ctx.line(`Created API key ${key.id} (name "${key.name}") on ${client.url}:`);
  ctx.line('');
  ctx.line(`  ${key.key}`);
  ctx.line('');
  ctx.line('It is shown only now: the engine keeps its hash. Put it where it is used, e.g. ABLO_API_KEY=... in that environment.');
  ctx.result(key);
  return 0;
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
