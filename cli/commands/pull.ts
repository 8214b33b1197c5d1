/**
 * `ablo pull`: the schema the engine runs, as JSON (the serialized form) or as
 * an `ablo.schema.ts` that defines the same schema (same hash). Printed to
 * stdout, or written to `--out` (an existing file is replaced only after a
 * yes on a terminal, or with `--yes`).
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { schemaSource } from '../../src/codegen/schemaSource.js';
import { connect, shortHash, type ConnectFlags } from '../connect.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs.js';
import { displayPath } from '../loadSchema.js';
import { canPrompt, confirm } from '../ui/prompt.js';

export type PullFormat = 'json' | 'ts';

export function pullFormat(format: string | undefined, out: string | undefined): PullFormat {
  if (format !== undefined) {
    if (format !== 'json' && format !== 'ts') throw new UsageError(`--format must be json or ts, got ${JSON.stringify(format)}`, { fix: 'Pass --format json or --format ts.' });
    return format;
  }
  const ext = out ? extname(out).toLowerCase() : '';
  return ext === '.ts' || ext === '.mts' || ext === '.cts' ? 'ts' : 'json';
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as ConnectFlags & { out?: string; format?: string; yes?: boolean };
  const format = pullFormat(flags.format, flags.out);
  const { client } = connect(ctx, flags);
  const res = await client.call((api) => api.schema());
  if (!res.schema) {
    throw new CliError(`the engine at ${client.url} has no schema yet`, { code: 'no_schema', fix: 'Push one first: `ablo push` (or run `ablo dev`, which pushes on start).' });
  }
  const text =
    format === 'json'
      ? `${JSON.stringify(res.schema, null, 2)}\n`
      : schemaSource(res.schema, {
          header: [
            `The schema of the engine at ${client.url} (version ${res.version}, hash ${shortHash(res.schema.hash)}),`,
            'written by `ablo pull`. Field order is alphabetical; the schema is the same.',
          ],
        });
  const meta = { url: client.url, version: res.version, hash: res.schema.hash, format };
  if (!flags.out) {
    if (ctx.json) ctx.result({ ...meta, ...(format === 'json' ? { schema: res.schema } : { source: text }) });
    else ctx.io.stdout(text);
    return 0;
  }
  const abs = resolve(ctx.cwd, flags.out);
  const shown = displayPath(abs, ctx.cwd);
  if (existsSync(abs) && !flags.yes) {
    const ok = canPrompt(ctx) && (await confirm(`${shown} exists. Replace it with the engine's schema?`, false));
    if (!ok) {
      throw new CliError(`${shown} exists; it was not replaced`, {
        code: 'file_exists',
        fix: canPrompt(ctx) ? 'Pass another --out, or answer yes.' : 'Pass another --out, or --yes to replace it.',
        details: { file: abs },
      });
    }
  }
  await writeFileAtomic(abs, text, shown);
  ctx.line(`wrote ${shown} (schema version ${res.version}, hash ${shortHash(res.schema.hash)}, ${format})`);
  ctx.result({ ...meta, file: shown });
  return 0;
}
