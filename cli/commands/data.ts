/**
 * `ablo data export` / `ablo data import`: rows as JSONL, one file per model
 * (`<model>.jsonl`, one row per line), for seeding and backup.
 *
 * Export pages through the list API (id order, 1000 rows a page) and writes
 * every row with its system fields. It is not a point-in-time snapshot when
 * writes happen meanwhile.
 *
 * Import first validates EVERY row locally against the engine's schema (the
 * same validators the engine runs); the first bad row stops it with its file
 * and line, before anything is sent. Then it sends creates in commits of at
 * most 500 operations. `id` is kept; `createdAt`, `updatedAt`, `syncId` are
 * managed by the engine and dropped. Each commit carries an idempotency key
 * derived from its content, so rerunning an import that stopped half way does
 * not apply the same batch twice.
 *
 * Nesting: the engine refuses JSON values nested deeper than 64 levels
 * (`MAX_JSON_DEPTH`). Rows stored before that limit existed can be deeper;
 * export writes them (and warns), import refuses them unless `--allow-deep`,
 * which sends its commits with `Ablo-Restore: deep-json` (limit 2,048).
 * Reading and writing lines never recurses, so depth cannot overflow the stack.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { rowIdSchema, type CommitReceipt } from '../../src/protocol/commit.js';
import {
  JSON_ENVELOPE,
  MAX_JSON_DEPTH,
  RESTORE_DEEP_JSON,
  RESTORE_HEADER,
  RESTORE_JSON_DEPTH,
  checkJson,
  jsonDepth,
  stringifyJson,
} from '../../src/protocol/json.js';
import { compileSchema, type CompiledSchema } from '../../src/schema/compile.js';
import type { EngineClient } from '../api.js';
import { connect, type ConnectFlags } from '../connect.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, isAbloErrorLike } from '../errors.js';
import { writeFileAtomic } from '../fs.js';
import { displayPath } from '../loadSchema.js';

export const DEFAULT_DATA_DIR = 'ablo-data';
export const PAGE_SIZE = 1000;
export const MAX_OPS_PER_COMMIT = 500;
/** Keep commit bodies well under the engine's 1 MiB default. */
export const MAX_COMMIT_BYTES = 768 * 1024;
const SYSTEM_FIELDS = ['createdAt', 'updatedAt', 'syncId'];

async function engineSchema(client: EngineClient): Promise<CompiledSchema> {
  const res = await client.call((api) => api.schema());
  if (!res.schema) {
    throw new CliError(`the engine at ${client.url} has no schema yet`, { code: 'no_schema', fix: 'Push one first: `ablo push` (or run `ablo dev`).' });
  }
  return compileSchema(res.schema);
}

/** `--models a,b` → names, checked against the schema. */
export function selectModels(flag: string | undefined, schema: CompiledSchema): string[] {
  if (!flag) return [...schema.modelNames];
  const names = flag.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !schema.modelNames.includes(n));
  if (unknown.length || !names.length) {
    throw new UsageError(`--models: ${unknown.length ? `unknown model${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}` : 'no model named'}`, {
      code: 'unknown_model',
      fix: `Use names from the engine's schema: ${schema.modelNames.join(', ') || '(none)'}.`,
    });
  }
  return [...new Set(names)];
}

export async function exportData(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as ConnectFlags & { out?: string; models?: string };
  const { client } = connect(ctx, flags);
  const schema = await engineSchema(client);
  const models = selectModels(flags.models, schema);
  const outDir = resolve(ctx.cwd, flags.out ?? DEFAULT_DATA_DIR);
  const files: Array<{ model: string; file: string; rows: number; deepRows: number }> = [];
  for (const model of models) {
    const lines: string[] = [];
    let deepRows = 0;
    let deepest = 0;
    let after: string | undefined;
    for (;;) {
      const page = await client.call((api) => api.list(model, { limit: PAGE_SIZE, ...(after !== undefined ? { startingAfter: after } : {}) }));
      for (const row of page.data) {
        lines.push(stringifyJson(row));
        // Levels inside the row's field values (the row object itself is one).
        const depth = jsonDepth(row) - 1;
        if (depth > MAX_JSON_DEPTH) {
          deepRows++;
          deepest = Math.max(deepest, depth);
        }
      }
      if (!page.hasMore || page.data.length === 0) break;
      after = page.data[page.data.length - 1]!.id;
    }
    const abs = join(outDir, `${model}.jsonl`);
    const shown = displayPath(abs, ctx.cwd);
    await writeFileAtomic(abs, lines.length ? `${lines.join('\n')}\n` : '', shown);
    files.push({ model, file: shown, rows: lines.length, deepRows });
    ctx.line(`wrote ${shown} (${lines.length} row${lines.length === 1 ? '' : 's'})`);
    if (deepRows > 0) {
      ctx.note(
        `warning: ${shown}: ${deepRows} row${deepRows === 1 ? '' : 's'} nest${deepRows === 1 ? 's' : ''} JSON ${deepest} levels deep, deeper than the engine accepts today (${MAX_JSON_DEPTH}); ` +
          `they were stored before that limit. Restore this export with \`ablo data import --allow-deep\`.`,
      );
    }
  }
  ctx.result({ url: client.url, out: displayPath(outDir, ctx.cwd), files });
  return 0;
}

interface ImportRow {
  model: string;
  id?: string;
  data: Record<string, unknown>;
  file: string;
  line: number;
}

function badRow(file: string, line: number, what: string, details: Record<string, unknown> = {}): CliError {
  return new CliError(`${file}:${line}: ${what}; nothing was imported`, {
    code: 'invalid_row',
    fix: `Fix line ${line} of ${file} (or leave that file out with --models), then run the import again.`,
    details: { file, line, ...details },
  });
}

function tooDeepRow(file: string, line: number, model: string, field: string, depth: number): CliError {
  return new CliError(
    `${file}:${line}: field "${field}" nests JSON ${depth} levels deep; the engine accepts ${MAX_JSON_DEPTH} (rows this deep were stored before that limit); nothing was imported`,
    {
      code: 'invalid_json',
      fix: `To restore rows like this as they are, run the import again with --allow-deep (accepts up to ${RESTORE_JSON_DEPTH} levels); or flatten "${field}" on line ${line} of ${file}.`,
      details: { file, line, model, field, depth, maxDepth: MAX_JSON_DEPTH },
    },
  );
}

/** The `.jsonl` files to import: one file, or every `<model>.jsonl` in a directory. */
export function importFiles(path: string, cwd: string): string[] {
  const abs = resolve(cwd, path);
  if (!existsSync(abs)) {
    throw new CliError(`${path} does not exist`, { code: 'not_found', fix: 'Pass a directory written by `ablo data export`, or a <model>.jsonl file.' });
  }
  if (statSync(abs).isDirectory()) {
    const files = readdirSync(abs)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => join(abs, f));
    if (!files.length) throw new CliError(`${path} holds no .jsonl files`, { code: 'no_files', fix: 'Pass a directory written by `ablo data export` (files named <model>.jsonl).' });
    return files;
  }
  return [abs];
}

/** Read and validate every row. Throws at the first bad one, naming file and line. */
export function readImportRows(files: string[], schema: CompiledSchema, cwd: string, only?: string[], allowDeep = false): ImportRow[] {
  const rows: ImportRow[] = [];
  const seen = new Map<string, string>();
  for (const abs of files) {
    const file = displayPath(abs, cwd);
    const model = basename(abs).replace(/\.jsonl$/, '');
    if (only && !only.includes(model)) continue;
    if (!schema.modelNames.includes(model)) {
      throw new CliError(`${file}: the engine's schema has no model "${model}" (the file name names the model); nothing was imported`, {
        code: 'unknown_model',
        fix: `Rename the file to <model>.jsonl with one of: ${schema.modelNames.join(', ') || '(none)'}; or leave it out with --models.`,
        details: { file: abs, model },
      });
    }
    const m = schema.model(model);
    const text = readFileSync(abs, 'utf8');
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!.trim();
      if (!raw) continue;
      const line = i + 1;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (err) {
        throw badRow(file, line, `not valid JSON (${(err as Error).message})`, { model });
      }
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRow(file, line, 'expected a JSON object (one row per line)', { model });
      // The engine's checks (src/protocol/json.ts): lone surrogates, and nothing past the restore limit.
      try {
        checkJson(value, { what: 'the row', envelope: JSON_ENVELOPE.row, maxDepth: RESTORE_JSON_DEPTH });
      } catch (err) {
        const e = err as { message: string; field?: string };
        throw badRow(file, line, e.message.replace(/\.$/, ''), { model, ...(e.field ? { field: e.field } : {}) });
      }
      if (!allowDeep) {
        for (const [field, v] of Object.entries(value)) {
          const depth = jsonDepth(v);
          if (depth > MAX_JSON_DEPTH) throw tooDeepRow(file, line, model, field, depth);
        }
      }
      const { id, ...rest } = value as Record<string, unknown>;
      for (const f of SYSTEM_FIELDS) delete rest[f];
      if (id !== undefined) {
        const ok = rowIdSchema.safeParse(id);
        if (!ok.success) throw badRow(file, line, `id ${JSON.stringify(id)} is not a valid row id (letters, digits and _ - : . only, at most 128)`, { model, field: 'id' });
        const key = `${model}\u0000${id as string}`;
        const first = seen.get(key);
        if (first) throw badRow(file, line, `id "${id as string}" appears twice (first at ${first})`, { model, field: 'id' });
        seen.set(key, `${file}:${line}`);
      }
      // Stored rows read optional fields back as null; on create, leave them out.
      for (const [name, d] of Object.entries(m.fields)) {
        if (rest[name] === null && d.optional && !d.nullable) delete rest[name];
      }
      try {
        m.parseCreate(rest);
      } catch (err) {
        if (isAbloErrorLike(err)) {
          const e = err as { message: string; field?: string };
          throw badRow(file, line, e.message, { model, ...(e.field ? { field: e.field } : {}) });
        }
        throw err;
      }
      rows.push({ model, ...(id !== undefined ? { id: id as string } : {}), data: rest, file, line });
    }
  }
  return rows;
}

/** Split into commits of at most `MAX_OPS_PER_COMMIT` operations and about `MAX_COMMIT_BYTES`. */
export function batches(rows: ImportRow[]): ImportRow[][] {
  const out: ImportRow[][] = [];
  let current: ImportRow[] = [];
  let bytes = 0;
  for (const r of rows) {
    const size = Buffer.byteLength(stringifyJson(r.data)) + 100;
    if (current.length && (current.length >= MAX_OPS_PER_COMMIT || bytes + size > MAX_COMMIT_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}

export async function importData(opts: Record<string, unknown>, ctx: CliContext, args: unknown[]): Promise<number> {
  const flags = opts as ConnectFlags & { models?: string; allowDeep?: boolean };
  const allowDeep = flags.allowDeep === true;
  const path = String(args[0] ?? '');
  if (!path) throw new UsageError('missing what to import', { fix: 'Pass a directory written by `ablo data export` or a <model>.jsonl file.' });
  const { client } = connect(ctx, flags);
  const files = importFiles(path, ctx.cwd);
  const schema = await engineSchema(client);
  const only = flags.models ? selectModels(flags.models, schema) : undefined;
  const rows = readImportRows(files, schema, ctx.cwd, only, allowDeep);
  const groups = batches(rows);
  let done = 0;
  let replayed = 0;
  let lastSyncId = 0;
  const perModel: Record<string, number> = {};
  for (const [i, batch] of groups.entries()) {
    const operations = batch.map((r) => ({ op: 'create' as const, model: r.model, ...(r.id !== undefined ? { id: r.id } : {}), data: r.data }));
    const idempotencyKey = `import_${createHash('sha256').update(stringifyJson(operations)).digest('hex').slice(0, 40)}`;
    let receipt: CommitReceipt;
    try {
      receipt = await client.call((api) =>
        api.commit(
          { operations, idempotencyKey },
          {
            participant: { kind: 'system', id: 'import' },
            ...(allowDeep ? { headers: { [RESTORE_HEADER]: RESTORE_DEEP_JSON } } : {}),
            onHeaders: (h) => {
              if (h.get('idempotent-replayed') === 'true') replayed += batch.length;
            },
          },
        ),
      );
    } catch (err) {
      if (err instanceof CliError && typeof err.details.operationIndex === 'number') {
        const r = batch[err.details.operationIndex]!;
        throw new CliError(`${r.file}:${r.line}: the engine refused this row: ${err.message} (${done} of ${rows.length} rows were imported before it)`, {
          from: err,
          fix: err.code === 'id_exists' ? 'Import into an empty engine, or remove the rows that already exist from the file.' : `Fix line ${r.line} of ${r.file} and run the import again (imported commits are not repeated).`,
          details: { ...err.details, file: r.file, line: r.line, imported: done },
        });
      }
      if (err instanceof CliError && done > 0) {
        throw new CliError(`${err.message} (after ${done} of ${rows.length} rows were imported, commit ${i + 1} of ${groups.length})`, {
          from: err,
          ...(err.fix ? { fix: err.fix } : {}),
          details: { ...err.details, imported: done },
        });
      }
      throw err;
    }
    done += batch.length;
    lastSyncId = receipt.lastSyncId;
    for (const r of batch) perModel[r.model] = (perModel[r.model] ?? 0) + 1;
  }
  const summary = Object.entries(perModel).map(([m, n]) => `${n} into ${m}`);
  ctx.line(
    rows.length
      ? `imported ${rows.length} row${rows.length === 1 ? '' : 's'} (${summary.join(', ')}) in ${groups.length} commit${groups.length === 1 ? '' : 's'}; last sync id ${lastSyncId}`
      : 'nothing to import (the files hold no rows)',
  );
  if (replayed) {
    ctx.line(`${replayed === rows.length ? 'all' : replayed} of these rows were already imported by an earlier run of the same import; they were not written again`);
  }
  ctx.result({ url: client.url, rows: rows.length, models: perModel, commits: groups.length, lastSyncId, replayed });
  return 0;
}
