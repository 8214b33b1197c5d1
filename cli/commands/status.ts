/**
 * `ablo status`: is the engine up, what does it run, and does it take our key.
 * Exit 1 when the engine cannot be reached or refuses the configured key.
 */
import { existsSync } from 'node:fs';
import { health, type EngineClient, type Health } from '../api.js';
import { describeOrigin } from '../config.js';
import { connect, maskKey, shortHash, type ConnectFlags } from '../connect.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { loadSchema } from '../loadSchema.js';
import { colorsFor } from '../ui/color.js';

async function keyAccepted(client: EngineClient): Promise<{ ok: true } | { ok: false; error: CliError }> {
  try {
    await client.call((api) => api.schema());
    return { ok: true };
  } catch (err) {
    if (err instanceof CliError && err.type === 'authentication_error') return { ok: false, error: err };
    throw err;
  }
}

/** `3d`, `24h`, `10m`, `45s`, `500ms`: the largest unit that divides it. */
export function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** What the change log still holds and how long entries and idempotency records are kept (engines that report it). */
function changeLogLine(h: Health): string {
  if (h.changeLogFloor === undefined) return 'retention not reported by this engine';
  const floor = h.changeLogFloor === 0 ? 'complete (nothing pruned yet)' : `from sync id ${h.changeLogFloor} (older entries pruned)`;
  const kept = h.retention ? `; kept ${formatDuration(h.retention.changeLogMs)}, idempotency ${formatDuration(h.retention.idempotencyMs)}` : '';
  return floor + kept;
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as ConnectFlags;
  const c = colorsFor(ctx);
  const { config, client } = connect(ctx, flags);
  const h = await health(client, 10_000);
  const rows: Array<[string, string]> = [
    ['engine', `${client.url} ${c.dim(`(from ${describeOrigin(config.url)})`)}`],
    ['version', h.version],
    ['schema', h.schemaHash ? `version ${h.schemaVersion ?? '?'}, hash ${shortHash(h.schemaHash)}` : 'none yet (run `ablo push`)'],
    ['sync id', String(h.lastSyncId)],
    ['change log', changeLogLine(h)],
    ['clients', `${h.connections ?? 0} connected`],
  ];
  let key: { state: 'accepted' | 'refused' | 'missing'; from?: string } = { state: 'missing' };
  let keyError: CliError | undefined;
  if (config.apiKey) {
    const r = await keyAccepted(client);
    key = { state: r.ok ? 'accepted' : 'refused', from: describeOrigin(config.apiKey) };
    if (!r.ok) keyError = r.error;
    rows.push(['api key', `${maskKey(config.apiKey.value)} ${r.ok ? c.green('accepted') : c.red('refused')} ${c.dim(`(from ${key.from})`)}`]);
  } else {
    rows.push(['api key', c.yellow('not set (ABLO_API_KEY, .env.local or --api-key)')]);
  }

  let local: { file: string; hash?: string; matches?: boolean; error?: string } | undefined;
  if (existsSync(config.schema.value)) {
    try {
      const loaded = await loadSchema(config.schema.value, { cwd: config.cwd });
      local = { file: loaded.file, hash: loaded.serialized.hash, matches: loaded.serialized.hash === h.schemaHash };
      rows.push(['local', `${loaded.file} ${local.matches ? c.green('matches the engine') : c.yellow('differs from the engine (see `ablo diff`)')}`]);
    } catch (err) {
      local = { file: config.schema.value, error: (err as Error).message };
      rows.push(['local', c.yellow(`schema does not load: ${(err as Error).message}`)]);
    }
  }

  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) ctx.line(`${k.padEnd(width)}  ${v}`);
  if (keyError) throw keyError;
  ctx.result({
    url: client.url,
    ok: h.ok,
    version: h.version,
    schemaHash: h.schemaHash,
    schemaVersion: h.schemaVersion ?? null,
    lastSyncId: h.lastSyncId,
    connections: h.connections ?? 0,
    ...(h.changeLogFloor !== undefined ? { changeLogFloor: h.changeLogFloor } : {}),
    ...(h.retention ? { retention: h.retention } : {}),
    apiKey: key,
    ...(local ? { local } : {}),
  });
  return 0;
}
